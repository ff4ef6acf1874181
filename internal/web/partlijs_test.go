package web_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/browsertest"
)

// merchantPage is a merchant's page on its own origin, with partli.js from
// Partli, a Stripe Payment Link, a Buy Button, a link added after load and
// a stand-in for Stripe.js (loaded after partli.js, as sites do).
const merchantPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Acme Shop</title>
<script src="%[1]s/static/partli.js" data-cookie-days="30" data-api="%[1]s"></script>
<style>body{font:16px system-ui;margin:40px} a{display:block;margin:12px 0}</style>
</head><body>
<h1>Acme Shop</h1>
<a id="pay" href="https://buy.stripe.com/test_123">Buy the starter plan</a>
<a id="about" href="https://example.com/about">About us</a>
<stripe-buy-button id="bb" buy-button-id="buy_btn_1" publishable-key="pk_test_1"></stripe-buy-button>
<p id="cid"></p>
<script>
window.Stripe = function (key) {
  return { redirectToCheckout: function (options) { window.checkoutOptions = options; return Promise.resolve({}); } };
};
setTimeout(function () {
  var a = document.createElement("a");
  a.id = "late"; a.href = "https://buy.stripe.com/test_late"; a.textContent = "A link added later";
  document.body.appendChild(a);
}, 50);
Partli.ready.then(function (id) { document.getElementById("cid").textContent = "click id: " + id; });
</script>
</body></html>`

func TestPartliJS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// Two origins on two host names: Partli on localhost, the merchant on
	// 127.0.0.1. Cookies do not tell ports apart, host names they do: the
	// cookie partli.js sets is the merchant's own, not Partli's redirect cookie.
	partli := strings.Replace(e.URL, "127.0.0.1", "localhost", 1)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, merchantPage, partli)
	}))
	t.Cleanup(shop.Close)
	shopURL := shop.URL + "/pricing"

	p := e.program(t, map[string]any{"destinationUrl": shopURL, "cookieDays": 30})
	pid := str(p, "id")
	e.reward(t, pid, nil)
	partner := e.partner(t, pid, nil)
	slug, partnerID := str(partner, "slug"), str(partner, "id")
	lastClick := func() string {
		var id string
		if err := e.DB.Get(&id, `SELECT id FROM clicks WHERE partner_id = $1 ORDER BY created_at DESC LIMIT 1`, partnerID); err != nil {
			t.Fatal(err)
		}
		return id
	}

	tab := browsertest.New(t, browsertest.Session)

	// A real click: Partli's redirect lands on the merchant's page with ?pref_cid=.
	if err := chromedp.Do(tab, chromedp.Navigate(partli+"/r/"+slug)); err != nil {
		t.Fatalf("open the referral link: %v", err)
	}
	clickID := lastClick()
	loc, err := chromedp.Run(tab, chromedp.Evaluate[string]("location.href"))
	if err != nil || !strings.HasPrefix(loc, shopURL+"?") || !strings.Contains(loc, "pref_cid="+clickID) {
		t.Fatalf("landed on %q (%v), want %s with pref_cid=%s", loc, err, shopURL, clickID)
	}
	cookies, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{shopURL}})
	if err != nil {
		t.Fatal(err)
	}
	var cookie *network.Cookie
	for _, c := range cookies.Cookies {
		if c.Name == "pref_cid" {
			cookie = c
		}
	}
	if cookie == nil || cookie.Value != clickID || cookie.Domain != "127.0.0.1" || cookie.SameSite != network.CookieSameSiteLax {
		t.Fatalf("merchant cookie %+v, want pref_cid=%s on 127.0.0.1, SameSite=Lax", cookie, clickID)
	}
	if days := (cookie.Expires - float64(time.Now().Unix())) / 86400; math.Abs(days-30) > 0.1 {
		t.Fatalf("the cookie lasts %.2f days, want the program's 30", days)
	}
	if got, err := chromedp.Run(tab, chromedp.Evaluate[string]("document.cookie")); err != nil || !strings.Contains(got, "pref_cid="+clickID) {
		t.Fatalf("document.cookie %q (%v)", got, err)
	}
	if got, err := chromedp.Run(tab, chromedp.Evaluate[string]("window.Partli.getClickId()")); err != nil || got != clickID {
		t.Fatalf("Partli.getClickId() = %q (%v), want %s", got, err, clickID)
	}
	// Stripe gets the click id as client_reference_id; other links are left alone.
	if href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("pay").href`)); err != nil ||
		href != "https://buy.stripe.com/test_123?client_reference_id="+clickID {
		t.Fatalf("Payment Link %q (%v)", href, err)
	}
	if href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("about").href`)); err != nil || href != "https://example.com/about" {
		t.Fatalf("other link %q (%v)", href, err)
	}
	if v, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("bb").getAttribute("client-reference-id")`)); err != nil || v != clickID {
		t.Fatalf("Buy Button client-reference-id %q (%v)", v, err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.getElementById("late") !== null &&
		document.getElementById("late").href.indexOf("client_reference_id=`+clickID+`") > 0`, chromedp.WithPollingTimeout(browsertest.Wait))); err != nil {
		t.Fatalf("a Payment Link added after load is not stamped: %v", err)
	}
	opts, err := chromedp.Run(tab, chromedp.Evaluate[map[string]any](`Stripe("pk_test_1").redirectToCheckout({lineItems: [{price: "price_1", quantity: 1}], mode: "payment"}),
		window.checkoutOptions`))
	if err != nil || opts["clientReferenceId"] != clickID || opts["mode"] != "payment" {
		t.Fatalf("redirectToCheckout options %v (%v), want clientReferenceId %s", opts, err, clickID)
	}
	if n := e.count(t, `SELECT count(*) FROM clicks WHERE partner_id = $1`, partnerID); n != 1 {
		t.Fatalf("%d clicks after the redirect, want 1 (partli.js must not record it again)", n)
	}
	browsertest.Screenshot(t, tab, "partlijs-redirect")

	// A deep link to the merchant's site, ?via=<slug>: partli.js records the click (CORS) and keeps its id.
	viaURL := shopURL + "?via=" + slug
	if err := chromedp.Do(tab, chromedp.Navigate(viaURL)); err != nil {
		t.Fatal(err)
	}
	viaID, err := chromedp.Run(tab, chromedp.Evaluate[string]("window.Partli.ready", chromedp.EvalAwaitPromise))
	if err != nil || !strings.HasPrefix(viaID, "c_") || viaID == clickID {
		t.Fatalf("click id after ?via= is %q (%v), want a new one", viaID, err)
	}
	if viaID != lastClick() {
		t.Fatalf("partli.js keeps %s, Partli recorded %s", viaID, lastClick())
	}
	var pageURL string
	if err := e.DB.Get(&pageURL, `SELECT url FROM clicks WHERE id = $1`, viaID); err != nil || pageURL != viaURL {
		t.Fatalf("the click records page %q (%v), want %s", pageURL, err, viaURL)
	}
	if got, err := chromedp.Run(tab, chromedp.Evaluate[string]("window.Partli.getClickId()")); err != nil || got != viaID {
		t.Fatalf("Partli.getClickId() = %q (%v), want %s", got, err, viaID)
	}
	if href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("pay").href`)); err != nil ||
		href != "https://buy.stripe.com/test_123?client_reference_id="+viaID {
		t.Fatalf("Payment Link after ?via= %q (%v)", href, err)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.getElementById("cid").textContent === "click id: `+viaID+`"`,
		chromedp.WithPollingTimeout(browsertest.Wait))); err != nil {
		t.Fatal(err)
	}
	browsertest.Screenshot(t, tab, "partlijs-via")

	// Reloading the same deep link is not another click.
	if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	if got, err := chromedp.Run(tab, chromedp.Evaluate[string]("window.Partli.ready", chromedp.EvalAwaitPromise)); err != nil || got != viaID {
		t.Fatalf("after a reload: %q (%v)", got, err)
	}
	if n := e.count(t, `SELECT count(*) FROM clicks WHERE partner_id = $1`, partnerID); n != 2 {
		t.Fatalf("%d clicks, want 2", n)
	}

	// The cookie's click id is what the merchant's backend reports with the sale.
	sale := e.sale(t, e.Key, map[string]any{"clickId": viaID})
	if sale["attributed"] != true {
		t.Fatalf("a sale with the cookie's click id: %v", sale)
	}
}
