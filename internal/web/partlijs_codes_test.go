package web_test

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/browsertest"
)

// codePage is a merchant's page with partli.js, a Stripe Payment Link, one
// the merchant gave a promotion code of its own, a hosted Checkout link and
// a Payment Link added after load.
const codePage = `<!doctype html>
<html><head><meta charset="utf-8"><title>Acme Shop</title>
<script src="%[1]s/static/partli.js" data-cookie-days="30" data-api="%[1]s"></script>
<style>body{font:16px system-ui;margin:40px} a{display:block;margin:12px 0}</style>
</head><body>
<h1>Acme Shop</h1>
<a id="pay" href="https://buy.stripe.com/test_123">Buy the starter plan</a>
<a id="own" href="https://buy.stripe.com/test_own?prefilled_promo_code=SPRING">Spring sale</a>
<a id="checkout" href="https://checkout.stripe.com/c/pay/cs_test_1">Checkout</a>
<script>
setTimeout(function () {
  var a = document.createElement("a");
  a.id = "late"; a.href = "https://buy.stripe.com/test_late"; a.textContent = "A link added later";
  document.body.appendChild(a);
}, 50);
</script>
</body></html>`

// A visitor who came through a partner with a code gets Payment Links that
// carry the click id and the code (prefilled_promo_code): the attribution
// and the discount in one link. A later click of a partner without a code
// forgets it.
func TestPartliJSStampsPartnerCode(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	partli := strings.Replace(e.URL, "127.0.0.1", "localhost", 1)
	shop := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, codePage, partli)
	}))
	t.Cleanup(shop.Close)
	shopURL := shop.URL + "/pricing"

	p := e.program(t, map[string]any{"destinationUrl": shopURL, "cookieDays": 30})
	pid := str(p, "id")
	e.reward(t, pid, nil)
	maya := e.partner(t, pid, nil)
	e.code(t, str(maya, "id"), "MAYA20")
	plain := e.partner(t, pid, nil)
	lastClick := func(partnerID string) string {
		var id string
		if err := e.DB.Get(&id, `SELECT id FROM clicks WHERE partner_id = $1 ORDER BY created_at DESC LIMIT 1`, partnerID); err != nil {
			t.Fatal(err)
		}
		return id
	}
	tab := browsertest.New(t, browsertest.Session)
	str2 := func(js string) string {
		t.Helper()
		v, err := chromedp.Run(tab, chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return v
	}

	// Through the referral link: the redirect carries the code.
	if err := chromedp.Do(tab, chromedp.Navigate(partli+"/r/"+str(maya, "slug"))); err != nil {
		t.Fatal(err)
	}
	cid := lastClick(str(maya, "id"))
	if loc := str2("location.href"); !strings.Contains(loc, "pref_cid="+cid) || !strings.Contains(loc, "pref_code=MAYA20") {
		t.Fatalf("landed on %s", loc)
	}
	if got := str2(`document.getElementById("pay").href`); got != "https://buy.stripe.com/test_123?client_reference_id="+cid+"&prefilled_promo_code=MAYA20" {
		t.Fatalf("Payment Link %s", got)
	}
	// The merchant's own promotion code stays; hosted Checkout takes no code.
	if got := str2(`document.getElementById("own").href`); got != "https://buy.stripe.com/test_own?prefilled_promo_code=SPRING&client_reference_id="+cid {
		t.Fatalf("the merchant's own code was replaced: %s", got)
	}
	if got := str2(`document.getElementById("checkout").href`); got != "https://checkout.stripe.com/c/pay/cs_test_1?client_reference_id="+cid {
		t.Fatalf("Checkout link %s", got)
	}
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`document.getElementById("late") !== null &&
		document.getElementById("late").href.indexOf("prefilled_promo_code=MAYA20") > 0`, chromedp.WithPollingTimeout(browsertest.Wait))); err != nil {
		t.Fatalf("a Payment Link added after load has no code: %v", err)
	}
	if got := str2("window.Partli.getCode()"); got != "MAYA20" {
		t.Fatalf("Partli.getCode() = %q", got)
	}
	// The code is kept like the click id: the merchant's cookie, as long.
	cookies, err := chromedp.Call(tab, network.GetCookies, network.GetCookiesParams{URLs: []string{shopURL}})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*network.Cookie{}
	for _, c := range cookies.Cookies {
		byName[c.Name] = c
	}
	code, click := byName["pref_code"], byName["pref_cid"]
	if code == nil || click == nil || code.Value != "MAYA20" || code.SameSite != network.CookieSameSiteLax || code.Domain != click.Domain ||
		math.Abs(code.Expires-click.Expires) > 5 {
		t.Fatalf("cookies %+v %+v", code, click)
	}
	browsertest.Screenshot(t, tab, "partlijs-code")

	// A later deep link of a partner without a code: the code is forgotten.
	if err := chromedp.Do(tab, chromedp.Navigate(shopURL+"?via="+str(plain, "slug"))); err != nil {
		t.Fatal(err)
	}
	viaID, err := chromedp.Run(tab, chromedp.Evaluate[string]("window.Partli.ready", chromedp.EvalAwaitPromise))
	if err != nil || viaID != lastClick(str(plain, "id")) {
		t.Fatalf("via click %q (%v)", viaID, err)
	}
	if got := str2(`document.getElementById("pay").href`); got != "https://buy.stripe.com/test_123?client_reference_id="+viaID {
		t.Fatalf("Payment Link after a partner without a code: %s", got)
	}
	if got, err := chromedp.Run(tab, chromedp.Evaluate[any]("window.Partli.getCode()")); err != nil || got != nil {
		t.Fatalf("Partli.getCode() = %v (%v), want null", got, err)
	}

	// A deep link of the partner with a code: the click API gives it.
	if err := chromedp.Do(tab, chromedp.Navigate(shopURL+"?via="+str(maya, "slug"))); err != nil {
		t.Fatal(err)
	}
	viaID, err = chromedp.Run(tab, chromedp.Evaluate[string]("window.Partli.ready", chromedp.EvalAwaitPromise))
	if err != nil || viaID != lastClick(str(maya, "id")) {
		t.Fatalf("via click %q (%v)", viaID, err)
	}
	if got := str2(`document.getElementById("pay").href`); got != "https://buy.stripe.com/test_123?client_reference_id="+viaID+"&prefilled_promo_code=MAYA20" {
		t.Fatalf("Payment Link after ?via= of the partner with a code: %s", got)
	}

	// The sale that link brings, reported by Stripe with the click id and
	// the code, is the partner's and records the code.
	sale := e.sale(t, e.Key, map[string]any{"clickId": viaID, "couponCode": "MAYA20", "customerExternalId": "cus-link"})
	if sale["attributed"] != true {
		t.Fatalf("%v", sale)
	}
}
