package web_test

import (
	"bytes"
	"encoding/csv"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/stripetest"
)

// The payouts API (the OpenAPI document's /api/payouts paths), against stripe-mock behind a
// recording proxy; every /api exchange is checked against the OpenAPI
// document.

const payoutsKey = "sk_test_merchantplatform42"

// payoutEnv is an env whose Stripe (PARTLI_STRIPE_API_BASE) is a recording
// proxy in front of stripe-mock, with the Connect webhook secret set.
func payoutEnv(t *testing.T) (*env, *stripetest.Proxy) {
	t.Helper()
	proxy := stripetest.NewProxy(t, stripetest.Mock(t))
	e := newEnv(t, func(c *config.Config) {
		c.StripeAPIBase = proxy.URL
		c.StripeConnectWebhookSecret = stripeConnectSecret
	})
	return e, proxy
}

// earn records a sale of amount for the partner of s (a new customer each
// time) and approves its commission; it returns the commission id.
func (e *env) earn(t testing.TB, s setup, amount int64, currency string) string {
	t.Helper()
	r := e.sale(t, e.Key, map[string]any{"clickId": e.click(t, s.Slug), "customerExternalId": uniq("cus"),
		"amountCents": amount, "currency": currency})
	id := str(obj(r, "commission"), "id")
	e.call("PATCH", "/api/commissions/"+id, e.Key, map[string]any{"status": "approved"}).must(t, http.StatusOK)
	return id
}

// onboard sets the workspace's Stripe key, onboards the partner with Stripe
// and has Stripe report the account ready (account.updated at the platform
// endpoint); it returns the partner's account.
func (e *env) onboard(t testing.TB, proxy *stripetest.Proxy, partnerID string) string {
	t.Helper()
	e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK)
	r := e.call("POST", "/api/partners/"+partnerID+"/stripe-onboarding", e.Key, nil).must(t, http.StatusOK).Map(t)
	if !strings.HasPrefix(str(r, "url"), "https://") {
		t.Fatalf("onboarding url %v", r)
	}
	var acct string
	if err := e.DB.Get(&acct, `SELECT stripe_account_id FROM partner_payout_methods WHERE partner_id = $1`, partnerID); err != nil {
		t.Fatal(err)
	}
	ev := stripeEvent("account.updated", acct, map[string]any{"id": acct, "object": "account", "payouts_enabled": true,
		"details_submitted": true, "requirements": map[string]any{"currently_due": []string{}, "disabled_reason": nil}})
	out := e.deliver(t, "/api/stripe/webhook", stripeConnectSecret, ev).must(t, http.StatusOK).stripe(t)
	if !strings.Contains(out.Outcome, "enabled") {
		t.Fatalf("account.updated: %+v", out)
	}
	return acct
}

func TestAPIPayoutsStripe(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	e.call("PATCH", "/api/programs/"+s.ProgramID, e.Key, map[string]any{"minPayoutCents": 1000}).must(t, http.StatusOK)

	// Partner without a method: null; onboarding makes Stripe the method, not ready yet.
	if m := e.call("GET", "/api/partners/"+s.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t); m["payoutMethod"] != nil {
		t.Fatalf("payoutMethod %v, want null", m["payoutMethod"])
	}
	r := e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK).Map(t)
	if r["secretKeySet"] != true || strings.Contains(string(e.call("PUT", "/api/integrations/stripe", e.Key,
		map[string]any{"secretKey": payoutsKey}).Body), payoutsKey) {
		t.Fatalf("put key: %v", r)
	}
	if got := e.opened(t, `SELECT secret_key FROM stripe_connections WHERE workspace_id = $1`, e.WS.Workspace.ID); got != payoutsKey {
		t.Fatalf("stored key opens to %q", got)
	}
	e.call("POST", "/api/partners/"+s.PartnerID+"/stripe-onboarding", e.Key, nil).must(t, http.StatusOK)
	pm := obj(e.call("GET", "/api/partners/"+s.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t), "payoutMethod")
	if str(pm, "type") != "stripe" || pm["ready"] != false || !strings.Contains(str(pm, "reason"), "onboarding") {
		t.Fatalf("payoutMethod before Stripe says so: %v", pm)
	}
	acct := e.onboard(t, proxy, s.PartnerID)
	pm = obj(e.call("GET", "/api/partners/"+s.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t), "payoutMethod")
	if pm["ready"] != true || pm["reason"] != nil {
		t.Fatalf("payoutMethod after account.updated: %v", pm)
	}

	c1 := e.earn(t, s, 20000, "USD") // $20.00
	e.earn(t, s, 15000, "USD")       // $15.00
	created := e.call("POST", "/api/payouts", e.Key, map[string]any{"programId": s.ProgramID}).must(t, http.StatusCreated).Map(t)
	list, _ := created["data"].([]any)
	if len(list) != 1 {
		t.Fatalf("created %v", created)
	}
	po := list[0].(map[string]any)
	id := str(po, "id")
	if po["amountCents"] != float64(3500) || str(po, "status") != "pending" || str(po, "method") != "stripe" || po["failureReason"] != nil {
		t.Fatalf("payout %v", po)
	}
	// Nothing left: a second call creates none.
	if again := e.call("POST", "/api/payouts", e.Key, map[string]any{"programId": s.ProgramID}).must(t, http.StatusCreated).Map(t); len(again["data"].([]any)) != 0 {
		t.Fatalf("second creation %v", again)
	}

	sent := e.call("POST", "/api/payouts/"+id+"/send", e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(sent, "status") != "paid" || !strings.HasPrefix(str(sent, "reference"), "tr_") || sent["paidAt"] == nil {
		t.Fatalf("sent %v", sent)
	}
	reqs := proxy.Requests("/v1/transfers")
	if len(reqs) != 1 {
		t.Fatalf("%d transfers", len(reqs))
	}
	tr := reqs[0]
	if tr.Form.Get("amount") != "3500" || tr.Form.Get("currency") != "usd" || tr.Form.Get("destination") != acct ||
		tr.IdempotencyKey != "partli-payout-"+id+"-1" || tr.Key != payoutsKey {
		t.Fatalf("transfer %+v", tr)
	}
	if got := e.call("GET", "/api/payouts/"+id, e.Key, nil).must(t, http.StatusOK).Map(t); str(got, "status") != "paid" {
		t.Fatalf("get %v", got)
	}
	cm := e.call("GET", "/api/commissions/"+c1, e.Key, nil).must(t, http.StatusOK).Map(t)
	history, _ := cm["history"].([]any)
	last := history[len(history)-1].(map[string]any)
	if str(cm, "status") != "paid" || !strings.Contains(str(last, "reason"), id) {
		t.Fatalf("commission %v", cm)
	}
	for _, typ := range []string{"payout.created", "payout.paid"} {
		if n := e.count(t, `SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = $2 AND payload->'data'->>'id' = $3`,
			e.WS.Workspace.ID, typ, id); n != 1 {
			t.Errorf("%d %s events", n, typ)
		}
	}
	// Paid: sending again is refused, and nothing is sent.
	r2 := e.call("POST", "/api/payouts/"+id+"/send", e.Key, nil).must(t, http.StatusConflict)
	if r2.ErrorCode(t) != "invalid_transition" || !strings.Contains(string(r2.Body), "paid already") {
		t.Fatalf("send a paid payout: %s", r2.Body)
	}
	if len(proxy.Requests("/v1/transfers")) != 1 {
		t.Fatal("a paid payout was sent again")
	}
	lp := e.call("GET", "/api/payouts?status=paid&partnerId="+s.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if data, _ := lp["data"].([]any); len(data) != 1 {
		t.Fatalf("list %v", lp)
	}
}

func TestAPIPayoutSendOutcomes(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	e.onboard(t, proxy, s.PartnerID)
	create := func() string {
		t.Helper()
		m := e.call("POST", "/api/payouts", e.Key, map[string]any{"programId": s.ProgramID}).must(t, http.StatusCreated).Map(t)
		data, _ := m["data"].([]any)
		if len(data) != 1 {
			t.Fatalf("created %v", m)
		}
		return str(data[0].(map[string]any), "id")
	}

	// Stripe refuses: failed with Stripe's message; the commissions are back in the balance.
	e.earn(t, s, 30000, "USD")
	failed := create()
	proxy.Fail("/v1/transfers", 400, "invalid_request_error", "balance_insufficient", "You have insufficient funds in your Stripe account.")
	r := e.call("POST", "/api/payouts/"+failed+"/send", e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(r, "status") != "failed" || str(r, "failureReason") != "You have insufficient funds in your Stripe account." {
		t.Fatalf("refused transfer: %v", r)
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'payout.failed'`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d payout.failed events", n)
	}
	// The balance is payable again: a new payout takes it, and the failed one is canceled.
	replacement := create()
	if r := e.call("GET", "/api/payouts/"+replacement, e.Key, nil).must(t, http.StatusOK).Map(t); r["amountCents"] != float64(3000) {
		t.Fatalf("replacement %v", r)
	}
	e.call("POST", "/api/payouts/"+failed+"/cancel", e.Key, nil).must(t, http.StatusOK)

	// The first answer is lost: sent again with the same key, paid once.
	proxy.Respond("/v1/transfers")
	proxy.DropReplies("/v1/transfers", 1)
	r = e.call("POST", "/api/payouts/"+replacement+"/send", e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(r, "status") != "paid" {
		t.Fatalf("after a lost answer: %v", r)
	}
	var keys []string
	for _, q := range proxy.Requests("/v1/transfers") {
		if strings.Contains(q.IdempotencyKey, replacement) {
			keys = append(keys, q.IdempotencyKey)
		}
	}
	if len(keys) != 2 || keys[0] != keys[1] || keys[0] != "partli-payout-"+replacement+"-1" {
		t.Fatalf("keys %v", keys)
	}

	// No answer at all: 202, still processing, and a second send waits.
	e.earn(t, s, 30000, "USD")
	unanswered := create()
	proxy.DropReplies("/v1/transfers", 100)
	r = e.call("POST", "/api/payouts/"+unanswered+"/send", e.Key, nil).must(t, http.StatusAccepted).Map(t)
	if str(r, "status") != "processing" {
		t.Fatalf("unanswered: %v", r)
	}
	if r := e.call("POST", "/api/payouts/"+unanswered+"/send", e.Key, nil).must(t, http.StatusConflict); r.ErrorCode(t) != "invalid_transition" {
		t.Fatalf("send while processing: %s", r.Body)
	}
	e.call("POST", "/api/payouts/"+unanswered+"/cancel", e.Key, nil).must(t, http.StatusConflict)
	e.call("POST", "/api/payouts/"+unanswered+"/mark-paid", e.Key, map[string]any{"reference": "x"}).must(t, http.StatusConflict)
	// Its sender's lease runs out (a crash): the next send asks again, same key.
	proxy.KeepAnswering("/v1/transfers")
	if _, err := e.DB.Exec(`UPDATE payouts SET lease_until = now() - interval '1 second' WHERE id = $1`, unanswered); err != nil {
		t.Fatal(err)
	}
	r = e.call("POST", "/api/payouts/"+unanswered+"/send", e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(r, "status") != "paid" {
		t.Fatalf("resumed: %v", r)
	}
	if n := e.count(t, `SELECT count(DISTINCT idempotency_key) FROM payout_attempts WHERE payout_id = $1`, unanswered); n != 1 {
		t.Fatalf("%d keys for the unanswered payout", n)
	}
	checkLedgerOf(t, e)
}

func checkLedgerOf(t *testing.T, e *env) {
	t.Helper()
	problems, err := e.Store.CheckLedger(t.Context(), e.WS.Workspace.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("ledger: %s", p)
	}
}

// A double click or two replicas: concurrent sends of one payout make one
// transfer, and concurrent creations one payout per balance.
func TestAPIPayoutConcurrency(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	e.onboard(t, proxy, s.PartnerID)
	e.earn(t, s, 30000, "USD")
	e.earn(t, s, 30000, "EUR")

	var wg sync.WaitGroup
	var mu sync.Mutex
	var ids []string
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.do(t, nil, "POST", "/api/payouts", e.Key, map[string]any{"programId": s.ProgramID})
			if err != nil || r.Status != http.StatusCreated {
				t.Errorf("create: %v %d %s", err, r.Status, r.Body)
				return
			}
			var m struct {
				Data []struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			r.JSON(t, &m)
			mu.Lock()
			for _, p := range m.Data {
				ids = append(ids, p.ID)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 2 {
		t.Fatalf("%d payouts from concurrent creations, want 2 (USD and EUR)", len(ids))
	}

	release := proxy.Block("/v1/transfers")
	statuses := make([]int, 6)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.do(t, nil, "POST", "/api/payouts/"+ids[0]+"/send", e.Key, nil)
			if err != nil {
				t.Errorf("send: %v", err)
				return
			}
			mu.Lock()
			statuses[i] = r.Status
			mu.Unlock()
		}()
	}
	waitFor(t, "the other sends to be refused", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range statuses {
			if s == http.StatusConflict {
				n++
			}
		}
		return n == 5
	})
	release()
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		if st == http.StatusOK {
			ok++
		}
	}
	if ok != 1 || len(proxy.Requests("/v1/transfers")) != 1 {
		t.Fatalf("statuses %v, %d transfers; want one 200 and one transfer", statuses, len(proxy.Requests("/v1/transfers")))
	}
	checkLedgerOf(t, e)
}

func TestAPIPayoutRefusals(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	create := func() string {
		t.Helper()
		m := e.call("POST", "/api/payouts", e.Key, map[string]any{"programId": s.ProgramID}).must(t, http.StatusCreated).Map(t)
		data, _ := m["data"].([]any)
		if len(data) != 1 {
			t.Fatalf("created %v", m)
		}
		return str(data[0].(map[string]any), "id")
	}
	conflict := func(path string, body any, says string) {
		t.Helper()
		r := e.call("POST", path, e.Key, body).must(t, http.StatusConflict)
		if !strings.Contains(string(r.Body), says) {
			t.Fatalf("POST %s: %s, want it to say %q", path, r.Body, says)
		}
	}

	// No method: paid by hand, not sent.
	e.earn(t, s, 30000, "USD")
	manual := create()
	conflict("/api/payouts/"+manual+"/send", nil, "has not chosen a payout method")
	r := e.call("POST", "/api/payouts/"+manual+"/mark-paid", e.Key, map[string]any{}).must(t, http.StatusBadRequest)
	if r.ErrorFields(t)["reference"] == "" {
		t.Fatalf("mark paid without reference: %s", r.Body)
	}
	e.call("POST", "/api/payouts/"+manual+"/cancel", e.Key, nil).must(t, http.StatusOK)
	conflict("/api/payouts/"+manual+"/send", nil, "canceled")
	conflict("/api/payouts/"+manual+"/cancel", nil, "canceled")

	// Stripe, not onboarded: 409 naming why.
	e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK)
	e.call("POST", "/api/partners/"+s.PartnerID+"/stripe-onboarding", e.Key, nil).must(t, http.StatusOK)
	notReady := create()
	conflict("/api/payouts/"+notReady+"/send", nil, "onboarding with Stripe is not finished")
	if n := len(proxy.Requests("/v1/transfers")); n != 0 {
		t.Fatalf("%d transfers", n)
	}
	e.call("POST", "/api/payouts/"+notReady+"/cancel", e.Key, nil).must(t, http.StatusOK)

	// Below Stripe's minimum for the currency.
	e.onboard(t, proxy, s.PartnerID)
	small := setup{ProgramID: s.ProgramID, PartnerID: s.PartnerID, Slug: s.Slug}
	e.earn(t, small, 300, "GBP") // £0.30: Stripe's minimum exactly
	e.earn(t, small, 200, "EUR") // €0.20: below Stripe's €0.50
	m := e.call("POST", "/api/payouts", e.Key, map[string]any{"programId": s.ProgramID}).must(t, http.StatusCreated).Map(t)
	for _, p := range m["data"].([]any) {
		po := p.(map[string]any)
		switch str(po, "currency") {
		case "EUR":
			conflict("/api/payouts/"+str(po, "id")+"/send", nil, "below Stripe's minimum of €0.50")
		case "GBP":
			e.call("POST", "/api/payouts/"+str(po, "id")+"/send", e.Key, nil).must(t, http.StatusOK)
		}
	}

	// PayPal: paid with the file.
	e.call("PUT", "/api/partners/"+s.PartnerID+"/payout-method", e.Key, map[string]any{"type": "paypal", "email": "jane@paypal.example.com"}).must(t, http.StatusOK)
	e.earn(t, s, 30000, "USD")
	pp := create()
	conflict("/api/payouts/"+pp+"/send", nil, "paypal batch file")

	// Bad bodies and queries.
	for _, tc := range []struct {
		method, path string
		body         any
		field        string
		status       int
	}{
		{"POST", "/api/payouts", map[string]any{}, "programId", 400},
		{"POST", "/api/payouts", map[string]any{"programId": "prog_nope"}, "programId", 404},
		{"POST", "/api/payouts", map[string]any{"programId": s.ProgramID, "partnerIds": "all"}, "partnerIds", 400},
		{"POST", "/api/payouts", map[string]any{"programId": s.ProgramID, "partnerIds": []string{"ptn_other"}}, "partnerIds", 400},
		{"PUT", "/api/partners/" + s.PartnerID + "/payout-method", map[string]any{"type": "stripe"}, "type", 400},
		{"PUT", "/api/partners/" + s.PartnerID + "/payout-method", map[string]any{"type": "venmo"}, "type", 400},
		{"PUT", "/api/partners/" + s.PartnerID + "/payout-method", map[string]any{"type": "paypal"}, "email", 400},
		{"PUT", "/api/partners/" + s.PartnerID + "/payout-method", map[string]any{"type": "wise", "email": "not an email"}, "email", 400},
		{"PUT", "/api/partners/" + s.PartnerID + "/payout-method", map[string]any{"type": "manual", "email": "a@b.co"}, "email", 400},
		{"PUT", "/api/integrations/stripe", map[string]any{"secretKey": "pk_live_publishable"}, "secretKey", 400},
		{"GET", "/api/payouts?status=cancelled", nil, "status", 400},
		{"GET", "/api/payouts/export?format=xlsx", nil, "format", 400},
	} {
		r := e.call(tc.method, tc.path, e.Key, tc.body)
		if r.Status != tc.status || (tc.status == 400 && r.ErrorFields(t)[tc.field] == "") {
			t.Errorf("%s %s %v: %d %s, want %d naming %s", tc.method, tc.path, tc.body, r.Status, r.Body, tc.status, tc.field)
		}
	}
	e.call("GET", "/api/payouts/po_nope", e.Key, nil).must(t, http.StatusNotFound)
	e.call("POST", "/api/payouts/po_nope/send", e.Key, nil).must(t, http.StatusNotFound)
	checkLedgerOf(t, e)
}

// The batch files: PayPal Payouts' (no header, one currency per file) and
// Wise's, amounts in major units of the payout's currency.
func TestAPIPayoutExports(t *testing.T) {
	t.Parallel()
	e, _ := payoutEnv(t)
	s := e.setup(t)
	jpy := e.partner(t, s.ProgramID, map[string]any{"name": "=Yuki"})
	wise := e.partner(t, s.ProgramID, map[string]any{"name": "Wise Partner"})
	e.call("PUT", "/api/partners/"+s.PartnerID+"/payout-method", e.Key, map[string]any{"type": "paypal", "email": "jane@paypal.example.com"}).must(t, http.StatusOK)
	e.call("PUT", "/api/partners/"+str(jpy, "id")+"/payout-method", e.Key, map[string]any{"type": "paypal", "email": "yuki@paypal.example.com"}).must(t, http.StatusOK)
	e.call("PUT", "/api/partners/"+str(wise, "id")+"/payout-method", e.Key, map[string]any{"type": "wise", "email": "w@wise.example.com"}).must(t, http.StatusOK)
	e.earn(t, s, 123456, "USD") // $123.46
	e.earn(t, setup{ProgramID: s.ProgramID, PartnerID: str(jpy, "id"), Slug: str(jpy, "slug")}, 50000, "JPY")
	e.earn(t, setup{ProgramID: s.ProgramID, PartnerID: str(wise, "id"), Slug: str(wise, "slug")}, 99900, "EUR")
	m := e.call("POST", "/api/payouts", e.Key, map[string]any{"programId": s.ProgramID}).must(t, http.StatusCreated).Map(t)
	byCurrency := map[string]string{}
	for _, p := range m["data"].([]any) {
		byCurrency[str(p.(map[string]any), "currency")] = str(p.(map[string]any), "id")
	}
	get := func(path string, status int) [][]string {
		t.Helper()
		r := e.call("GET", path, e.Key, nil).must(t, status)
		if status != http.StatusOK {
			return nil
		}
		if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("%s: content type %q", path, r.Header.Get("Content-Type"))
		}
		recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v\n%s", path, err, r.Body)
		}
		return recs
	}
	// PayPal takes one currency per file: which one must be said.
	if r := e.call("GET", "/api/payouts/export?format=paypal", e.Key, nil).must(t, http.StatusBadRequest); !strings.Contains(r.ErrorFields(t)["currency"], "JPY, USD") {
		t.Fatalf("paypal without currency: %s", r.Body)
	}
	usd := get("/api/payouts/export?format=paypal&currency=usd&status=pending", http.StatusOK)
	want := []string{"jane@paypal.example.com", "123.46", "USD", byCurrency["USD"], "", "PAYPAL"}
	if len(usd) != 1 || len(usd[0]) != 6 || usd[0][0] != want[0] || usd[0][1] != want[1] || usd[0][2] != want[2] || usd[0][3] != want[3] || usd[0][5] != "PAYPAL" ||
		!strings.Contains(usd[0][4], byCurrency["USD"]) {
		t.Fatalf("PayPal file %v, want one row like %v", usd, want)
	}
	if yen := get("/api/payouts/export?format=paypal&currency=JPY", http.StatusOK); len(yen) != 1 || yen[0][1] != "5000" || yen[0][2] != "JPY" {
		t.Fatalf("PayPal JPY file %v (zero-decimal: ¥5000)", yen)
	}
	w := get("/api/payouts/export?format=wise", http.StatusOK)
	if len(w) != 2 || strings.Join(w[0], ",") != "name,recipientEmail,paymentReference,receiverType,amountCurrency,amount,sourceCurrency,targetCurrency" ||
		strings.Join(w[1], ",") != "Wise Partner,w@wise.example.com,"+byCurrency["EUR"]+",PERSON,target,99.90,EUR,EUR" {
		t.Fatalf("Wise file %v", w)
	}
	all := get("/api/payouts/export", http.StatusOK)
	if len(all) != 4 || all[0][0] != "payout_id" {
		t.Fatalf("csv %v", all)
	}
	for _, rec := range all[1:] {
		if rec[1] == "=Yuki" {
			t.Fatal("a formula name was exported as a formula")
		}
	}
	// Once paid (a reference for the whole batch), the pending files are empty.
	for _, id := range byCurrency {
		e.call("POST", "/api/payouts/"+id+"/mark-paid", e.Key, map[string]any{"reference": "BATCH-2026-12"}).must(t, http.StatusOK)
	}
	if rest := get("/api/payouts/export?format=wise", http.StatusOK); len(rest) != 1 {
		t.Fatalf("Wise file after paying: %v", rest)
	}
	checkLedgerOf(t, e)
}

func TestAPIProgramPayoutSchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, map[string]any{"payoutSchedule": "weekly", "payoutDay": 5})
	if str(p, "payoutSchedule") != "weekly" || p["payoutDay"] != float64(5) {
		t.Fatalf("program %v", p)
	}
	if q := e.program(t, nil); str(q, "payoutSchedule") != "manual" || q["payoutDay"] != nil {
		t.Fatalf("default schedule %v", q)
	}
	id := str(p, "id")
	m := e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"payoutSchedule": "monthly"}).must(t, http.StatusOK).Map(t)
	if str(m, "payoutSchedule") != "monthly" || m["payoutDay"] != float64(1) {
		t.Fatalf("monthly without a day: %v", m)
	}
	m = e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"payoutDay": 28}).must(t, http.StatusOK).Map(t)
	if m["payoutDay"] != float64(28) {
		t.Fatalf("day: %v", m)
	}
	for _, body := range []map[string]any{{"payoutDay": 29}, {"payoutSchedule": "weekly", "payoutDay": 8}, {"payoutSchedule": "daily"},
		{"payoutSchedule": "manual", "payoutDay": 3}, {"payoutSchedule": nil}} {
		r := e.call("PATCH", "/api/programs/"+id, e.Key, body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("PATCH %v: %d %s", body, r.Status, r.Body)
		}
	}
	m = e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"payoutSchedule": "manual"}).must(t, http.StatusOK).Map(t)
	if m["payoutDay"] != nil {
		t.Fatalf("manual: %v", m)
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// bound (the machine is shared).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
