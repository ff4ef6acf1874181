package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/browsertest"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// ---- helpers of the Stripe dashboard tests (prefixed stripeDash) ----

const (
	stripeDashClientID = "ca_test_partli"
	stripeDashKey      = "sk_test_platform"
)

// stripeDashFake stands in for connect.stripe.com: /oauth/token connects
// the account of a code it issued (once), /oauth/deauthorize disconnects.
type stripeDashFake struct {
	*httptest.Server
	mu        sync.Mutex
	codes     map[string]string
	connected map[string]bool
	deauth    []url.Values
	// back is where the authorize page sends the browser (the test
	// server's callback: BaseURL is not reachable) with a code for account.
	back, account string
}

func stripeDashNewFake(t testing.TB) *stripeDashFake {
	f := &stripeDashFake{codes: map[string]string{}, connected: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(body))
		f.mu.Lock()
		defer f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		refuse := func(status int, code, desc string) {
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
		}
		if r.URL.Path == "/oauth/authorize" { // the merchant approves at once
			c := "ac_" + ids.Random(8)
			f.codes[c] = f.account
			q := url.Values{"code": {c}, "state": {r.URL.Query().Get("state")}, "scope": {"read_write"}}
			http.Redirect(w, r, f.back+"?"+q.Encode(), http.StatusFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer "+stripeDashKey {
			refuse(http.StatusUnauthorized, "invalid_client", "bad key")
			return
		}
		switch r.URL.Path {
		case "/oauth/token":
			acct, ok := f.codes[form.Get("code")]
			if !ok || form.Get("grant_type") != "authorization_code" {
				refuse(http.StatusBadRequest, "invalid_grant", "Authorization code does not exist: "+form.Get("code"))
				return
			}
			delete(f.codes, form.Get("code"))
			f.connected[acct] = true
			json.NewEncoder(w).Encode(map[string]any{"access_token": "sk_test_acc", "livemode": false, "scope": "read_write",
				"stripe_user_id": acct, "token_type": "bearer", "stripe_publishable_key": "pk_test_x", "refresh_token": "rt"})
		case "/oauth/deauthorize":
			f.deauth = append(f.deauth, form)
			acct := form.Get("stripe_user_id")
			if form.Get("client_id") != stripeDashClientID || !f.connected[acct] {
				refuse(http.StatusUnauthorized, "invalid_client", "This application is not connected to stripe account "+acct+", or that account does not exist.")
				return
			}
			delete(f.connected, acct)
			json.NewEncoder(w).Encode(map[string]string{"stripe_user_id": acct})
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *stripeDashFake) code(acct string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := "ac_" + ids.Random(8)
	f.codes[c] = acct
	return c
}

func (f *stripeDashFake) deauthorized() []url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]url.Values(nil), f.deauth...)
}

// stripeDashEnv is an env whose Partli is set up for Stripe Connect
// against the fake.
func stripeDashEnv(t *testing.T) (*env, *stripeDashFake) {
	t.Helper()
	fake := stripeDashNewFake(t)
	e := newEnv(t, func(c *config.Config) {
		c.StripeClientID, c.StripeSecretKey = stripeDashClientID, stripeDashKey
		c.StripeConnectBase, c.StripeAPIBase = fake.URL, fake.URL
		c.StripeConnectWebhookSecret = stripeConnectSecret
	})
	return e, fake
}

// stripeDashStart follows "Connect Stripe" and returns the state Partli
// sent to Stripe, checking the authorize URL on the way.
func stripeDashStart(t *testing.T, e *env, fake *stripeDashFake, s *session) string {
	t.Helper()
	r := s.get("/integrations/stripe/connect")
	if r.Status != http.StatusFound {
		t.Fatalf("connect: %d %s", r.Status, r.Body)
	}
	u, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != fake.URL+"/oauth/authorize" {
		t.Fatalf("authorize at %s", got)
	}
	q := u.Query()
	if q.Get("client_id") != stripeDashClientID || q.Get("scope") != "read_write" || q.Get("response_type") != "code" ||
		q.Get("redirect_uri") != e.Cfg.BaseURL+"/integrations/stripe/callback" || len(q.Get("state")) < 32 {
		t.Fatalf("authorize query %v", q)
	}
	return q.Get("state")
}

func stripeDashCallback(s *session, code, state string) reply {
	s.t.Helper()
	return s.get("/integrations/stripe/callback?" + url.Values{"code": {code}, "state": {state}, "scope": {"read_write"}}.Encode())
}

func stripeDashConn(t *testing.T, e *env, ws string) *store.StripeConnection {
	t.Helper()
	c, err := e.Store.StripeConnection(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// stripeDashCard fetches the settings page's Stripe card as HTMX does.
func stripeDashCard(t *testing.T, s *session) reply {
	t.Helper()
	r := s.htmx("GET", "/integrations/stripe/card", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("card: %d %s", r.Status, r.Body)
	}
	return r
}

func stripeDashFinance(t *testing.T, e *env) *session {
	t.Helper()
	hash, _ := accounts.HashPassword("finance password")
	email := uniq("stripefin") + "@example.com"
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID, Email: email, PasswordHash: hash, Role: "finance"}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return e.signInAs(t, email, "finance password")
}

// ---- tests ----

func TestStripeDashConnectFlow(t *testing.T) {
	t.Parallel()
	e, fake := stripeDashEnv(t)
	ws := e.WS.Workspace.ID
	s := e.signIn(t)

	// The settings page loads the card; the card offers to connect.
	if testid(s.page("/settings"), "stripe-card-slot").Length() != 1 {
		t.Fatal("no Stripe card on the settings page")
	}
	card := stripeDashCard(t, s).Doc(t)
	if got := strings.TrimSpace(testid(card, "stripe-status").Text()); got != "not connected" {
		t.Fatalf("status %q", got)
	}
	if testid(card, "stripe-connect").AttrOr("href", "") != "/integrations/stripe/connect" || testid(card, "stripe-operator-note").Length() != 0 {
		t.Fatal("no Connect button")
	}
	if got := testid(card, "stripe-webhook-url").Text(); got != e.Cfg.BaseURL+"/api/stripe/webhook/"+ws {
		t.Fatalf("webhook URL %q", got)
	}
	if ev := testid(card, "stripe-events").Text(); !strings.Contains(ev, "checkout.session.completed") || !strings.Contains(ev, "charge.refunded") {
		t.Fatalf("events %q", ev)
	}

	// A state that is not the session's: 400, nothing stored, and the
	// pending state is used up.
	state := stripeDashStart(t, e, fake, s)
	acct := "acct_" + ids.Random(8)
	if r := stripeDashCallback(s, fake.code(acct), "forged"); r.Status != http.StatusBadRequest ||
		!strings.Contains(testid(r.Doc(t), "flash-error").Text(), "not started from this browser") {
		t.Fatalf("forged state: %d %s", r.Status, r.Body)
	}
	if r := stripeDashCallback(s, fake.code(acct), state); r.Status != http.StatusBadRequest {
		t.Fatalf("state after a failed callback: %d", r.Status)
	}
	// The right state in another session (another browser, or an attacker
	// who sends the victim there): refused.
	state = stripeDashStart(t, e, fake, s)
	if r := stripeDashCallback(e.signIn(t), fake.code(acct), state); r.Status != http.StatusBadRequest {
		t.Fatalf("state of another session: %d", r.Status)
	}
	if stripeDashConn(t, e, ws).Connected() {
		t.Fatal("a refused callback connected an account")
	}

	// The real thing.
	r := stripeDashCallback(s, fake.code(acct), state)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/integrations/stripe?done=connected" {
		t.Fatalf("callback: %d %s %s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if c := stripeDashConn(t, e, ws); !c.Connected() || *c.AccountID != acct || c.Livemode || c.ConnectedAt == nil {
		t.Fatalf("stored %+v", c)
	}
	page := s.page("/integrations/stripe?done=connected")
	if testid(page, "stripe-account").Text() != acct || testid(page, "stripe-mode").Text() != "test mode" ||
		!strings.Contains(testid(page, "flash").Text(), "Stripe connected") || testid(page, "stripe-disconnect").Length() != 1 {
		t.Fatalf("connected page:\n%s", page.Text())
	}
	// A replayed callback: the state is gone.
	if r := stripeDashCallback(s, fake.code(acct), state); r.Status != http.StatusBadRequest {
		t.Fatalf("replayed callback: %d", r.Status)
	}

	// The account's events arrive on the platform endpoint and go to this
	// workspace; a test-mode payment verifies the program.
	set := e.setup(t)
	session := paidSession("cs_test_"+ids.Random(8), set.ClickID, 5000, nil)
	if out := e.deliver(t, "/api/stripe/webhook", stripeConnectSecret, stripeEvent("checkout.session.completed", acct, session)).stripe(t); !strings.Contains(out.Outcome, "recorded") {
		t.Fatalf("connect event: %+v", out)
	}
	if p := e.call("GET", "/api/programs/"+set.ProgramID, e.Key, nil).must(t, http.StatusOK).Map(t); p["status"] != "active" || p["verifiedAt"] == nil {
		t.Fatalf("program after a Stripe test payment: %v", p)
	}

	// Disconnect: Stripe is told, the account is forgotten, its events no
	// longer land here.
	r = s.post("/integrations/stripe/disconnect", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/integrations/stripe?done=disconnected" {
		t.Fatalf("disconnect: %d %s", r.Status, r.Body)
	}
	if d := fake.deauthorized(); len(d) != 1 || d[0].Get("stripe_user_id") != acct || d[0].Get("client_id") != stripeDashClientID {
		t.Fatalf("deauthorize requests %v", d)
	}
	if stripeDashConn(t, e, ws).Connected() {
		t.Fatal("still connected")
	}
	stray := paidSession("cs_test_"+ids.Random(8), set.ClickID, 5000, nil)
	if out := e.deliver(t, "/api/stripe/webhook", stripeConnectSecret, stripeEvent("checkout.session.completed", acct, stray)).stripe(t); !strings.HasPrefix(out.Outcome, "ignored: no workspace") {
		t.Fatalf("event after disconnecting: %+v", out)
	}
	if got := strings.TrimSpace(testid(stripeDashCard(t, s).Doc(t), "stripe-status").Text()); got != "not connected" {
		t.Fatalf("status after disconnecting %q", got)
	}
}

func TestStripeDashCallbackErrors(t *testing.T) {
	t.Parallel()
	e, fake := stripeDashEnv(t)
	s := e.signIn(t)

	// The merchant clicks Cancel at Stripe.
	state := stripeDashStart(t, e, fake, s)
	r := s.get("/integrations/stripe/callback?" + url.Values{"error": {"access_denied"},
		"error_description": {"The user denied your request"}, "state": {state}}.Encode())
	if r.Status != http.StatusOK || !strings.Contains(testid(r.Doc(t), "flash-error").Text(), "You cancelled connecting Stripe") {
		t.Fatalf("access denied: %d %s", r.Status, r.Body)
	}

	// A made-up link carrying ?error text, without this session's state:
	// the text is not shown.
	r = s.get("/integrations/stripe/callback?" + url.Values{"error": {"invalid_request"},
		"error_description": {"Call +1 555 0100 to fix your account"}, "state": {"forged"}}.Encode())
	if r.Status != http.StatusBadRequest || strings.Contains(string(r.Body), "555 0100") ||
		!strings.Contains(testid(r.Doc(t), "flash-error").Text(), "not started from this browser session") {
		t.Fatalf("forged error link: %d %s", r.Status, r.Body)
	}

	// A code Stripe does not accept (expired, used).
	state = stripeDashStart(t, e, fake, s)
	if r := stripeDashCallback(s, "ac_expired", state); r.Status != http.StatusBadRequest ||
		!strings.Contains(testid(r.Doc(t), "flash-error").Text(), "expired") {
		t.Fatalf("bad code: %d %s", r.Status, r.Body)
	}

	// An account another workspace has connected: a clear refusal.
	acct := "acct_" + ids.Random(8)
	other, _ := e.newWorkspace("Other")
	if err := e.Store.ConnectStripeAccount(context.Background(), other.Workspace.ID, acct, true); err != nil {
		t.Fatal(err)
	}
	state = stripeDashStart(t, e, fake, s)
	r = stripeDashCallback(s, fake.code(acct), state)
	if r.Status != http.StatusConflict || !strings.Contains(testid(r.Doc(t), "flash-error").Text(), "already connected to another Partli workspace") {
		t.Fatalf("taken account: %d %s", r.Status, r.Body)
	}
	if stripeDashConn(t, e, e.WS.Workspace.ID).Connected() || *stripeDashConn(t, e, other.Workspace.ID).AccountID != acct || len(fake.deauthorized()) != 0 {
		t.Fatal("a taken account moved, or was deauthorized")
	}
}

// Stripe tells the platform the merchant removed Partli (in their Stripe
// dashboard): the workspace forgets the account and says so.
func TestStripeDashDeauthorizedInStripe(t *testing.T) {
	t.Parallel()
	e, fake := stripeDashEnv(t)
	s := e.signIn(t)
	acct := "acct_" + ids.Random(8)
	if r := stripeDashCallback(s, fake.code(acct), stripeDashStart(t, e, fake, s)); r.Status != http.StatusSeeOther {
		t.Fatalf("callback: %d %s", r.Status, r.Body)
	}
	ev := stripeEvent("account.application.deauthorized", acct, map[string]any{"id": stripeDashClientID, "object": "application", "name": "Partli"})
	ev["created"] = time.Now().Add(time.Second).Unix()
	if out := e.deliver(t, "/api/stripe/webhook", stripeConnectSecret, ev).stripe(t); !strings.Contains(out.Outcome, "disconnected") {
		t.Fatalf("deauthorized: %+v", out)
	}
	if got := strings.TrimSpace(testid(stripeDashCard(t, s).Doc(t), "stripe-status").Text()); got != "not connected" {
		t.Fatalf("status %q", got)
	}
	// Disconnecting now has nothing to do.
	if r := s.post("/integrations/stripe/disconnect", nil); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/integrations/stripe" {
		t.Fatalf("disconnect of nothing: %d %s", r.Status, r.Header.Get("Location"))
	}
}

func TestStripeDashOwnerOnly(t *testing.T) {
	t.Parallel()
	e, _ := stripeDashEnv(t)
	fin := stripeDashFinance(t, e)
	card := stripeDashCard(t, fin).Doc(t)
	if testid(card, "stripe-connect").Length() != 0 || testid(card, "stripe-secret-form").Length() != 0 || testid(card, "stripe-owner-note").Length() != 1 {
		t.Fatal("finance staff are offered to change the Stripe connection")
	}
	for _, r := range []reply{
		fin.get("/integrations/stripe/connect"),
		fin.get("/integrations/stripe/callback?code=ac_x&state=x"),
		fin.post("/integrations/stripe/disconnect", nil),
		fin.post("/integrations/stripe/webhook-secret", url.Values{"webhookSecret": {"whsec_x"}}),
	} {
		if r.Status != http.StatusForbidden {
			t.Fatalf("finance: %d %s", r.Status, r.Body)
		}
	}
}

func TestStripeDashNotConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.signIn(t)
	card := stripeDashCard(t, s).Doc(t)
	if testid(card, "stripe-connect").Length() != 0 || !strings.Contains(testid(card, "stripe-operator-note").Text(), "PARTLI_STRIPE_CLIENT_ID") {
		t.Fatal("no operator note without a client id")
	}
	if r := s.get("/integrations/stripe/connect"); r.Status != http.StatusConflict ||
		!strings.Contains(testid(r.Doc(t), "flash-error").Text(), "not set up") {
		t.Fatalf("connect without a client id: %d %s", r.Status, r.Body)
	}
}

func TestStripeDashWebhookSecretForm(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.signIn(t)
	r := s.post("/integrations/stripe/webhook-secret", url.Values{"webhookSecret": {"sk_live_oops"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad secret: %d", r.Status)
	}
	doc := r.Doc(t)
	if !strings.Contains(doc.Find(".field-error").Text(), "whsec_") || testid(doc, "stripe-secret-input").AttrOr("value", "") != "sk_live_oops" {
		t.Fatalf("form error:\n%s", r.Body)
	}
	// What the database would refuse is a field error too, the API's rule.
	for _, bad := range []string{"whsec_a\x00b", "whsec_caf\xc3\xa9", "whsec_" + strings.Repeat("x", 250)} {
		r := s.post("/integrations/stripe/webhook-secret", url.Values{"webhookSecret": {bad}})
		if r.Status != http.StatusUnprocessableEntity || r.Doc(t).Find(".field-error").Text() == "" {
			t.Fatalf("secret %q: %d, want 422 with a field error", bad, r.Status)
		}
	}
	secret := "whsec_" + ids.Random(16)
	if r := s.post("/integrations/stripe/webhook-secret", url.Values{"webhookSecret": {secret}}); r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", r.Status, r.Body)
	}
	card := stripeDashCard(t, s).Doc(t)
	if testid(card, "stripe-secret-status").Text() != "set" || strings.Contains(string(stripeDashCard(t, s).Body), secret) {
		t.Fatal("secret not set, or shown back")
	}
	// Stripe's deliveries to the workspace's endpoint verify with it.
	set := e.setup(t)
	ev := stripeEvent("checkout.session.completed", "", paidSession("cs_test_"+ids.Random(8), set.ClickID, 5000, nil))
	if out := e.deliver(t, "/api/stripe/webhook/"+e.WS.Workspace.ID, secret, ev).stripe(t); !strings.Contains(out.Outcome, "recorded") {
		t.Fatalf("delivery: %+v", out)
	}
}

// In a browser: the settings page loads the Stripe card, Connect goes to
// Stripe and back, and the program page's checklist turns the program
// active by itself when the test sale arrives.
func TestStripeDashBrowser(t *testing.T) {
	e, fake := stripeDashEnv(t)
	acct := "acct_" + ids.Random(8)
	fake.mu.Lock()
	fake.back, fake.account = e.URL+"/integrations/stripe/callback", acct
	fake.mu.Unlock()
	tab := dashbTab(t)
	dashbSignIn(t, tab, e)

	navigate(t, tab, e.URL+"/settings")
	dashbWait(t, tab, "the Stripe card", `!!document.querySelector('[data-testid="stripe-connect"]')`)
	browsertest.Screenshot(t, tab, "dash-settings-stripe")
	if _, err := chromedp.Run(tab, chromedp.Click(chromedp.CSS(`[data-testid="stripe-connect"]`))); err != nil {
		t.Fatal(err)
	}
	stripeDashEventually(t, tab, "the connected account", `document.querySelector('[data-testid="stripe-account"]')?.textContent === '`+acct+`'`)
	if got := dashbLocation(t, tab); got.Path != "/integrations/stripe" || got.Query().Get("done") != "connected" {
		t.Fatalf("back at %s", got)
	}
	dashbOpen(t, tab, e, "/integrations/stripe", "Stripe", "dash-stripe-connected")

	p := e.program(t, map[string]any{"name": "Acme Pro"})
	pid := str(p, "id")
	e.reward(t, pid, nil)
	partner := e.partner(t, pid, map[string]any{"name": "Test Partner"})
	navigate(t, tab, e.URL+"/programs/"+pid)
	dashbWait(t, tab, "the checklist", `!!document.querySelector('[data-testid="go-live"][data-status="draft"]')`)
	browsertest.Screenshot(t, tab, "dash-program-go-live-draft")

	e.sale(t, e.Key, map[string]any{"clickId": e.click(t, str(partner, "slug")), "customerExternalId": "test-customer-1"})
	// The checklist refreshes every 10 s while the program is a draft.
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](`!!document.querySelector('[data-testid="go-live"][data-status="active"]') &&
		document.querySelector('#program-status').textContent.trim() === 'active'`, chromedp.WithPollingTimeout(browsertest.Wait))); err != nil {
		t.Fatalf("the checklist did not turn active: %v", err)
	}
	if _, err := chromedp.Run(tab, chromedp.Click(chromedp.CSS(`[data-testid="go-live"] summary`))); err != nil {
		t.Fatal(err)
	}
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="go-live-step"][data-done="true"]').length`))
	if err != nil || n != 4 {
		t.Fatalf("%d steps done (%v)", n, err)
	}
	browsertest.Screenshot(t, tab, "dash-program-go-live-active")
}

// stripeDashEventually waits until expr is true, across the navigations of
// a redirect chain (during which the page cannot be asked).
func stripeDashEventually(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](expr))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s (%s): %v", what, expr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
