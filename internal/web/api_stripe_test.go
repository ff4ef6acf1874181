package web_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
)

// Stripe deliveries as Stripe makes them: an event envelope around the
// object, signed with webhook.GenerateTestSignedPayload.

const stripeConnectSecret = "whsec_connect_test_secret"

// stripeEvent is an event of type around object; account is set for
// Connect events.
func stripeEvent(typ, account string, object map[string]any) map[string]any {
	ev := map[string]any{
		"id": "evt_" + ids.Random(10), "object": "event", "api_version": "2026-03-25.dahlia",
		"created": time.Now().Unix(), "livemode": false, "pending_webhooks": 1, "type": typ,
		"data": map[string]any{"object": object},
	}
	if account != "" {
		ev["account"] = account
	}
	return ev
}

// deliver posts ev to path signed with secret and returns the reply.
func (e *env) deliver(t testing.TB, path, secret string, ev map[string]any) reply {
	t.Helper()
	payload, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret})
	return e.callWith("POST", path, "", payload, http.Header{"Stripe-Signature": {signed.Header}})
}

// stripeSetup connects e's workspace's own Stripe endpoint and returns its
// path and secret.
func (e *env) stripeSetup(t testing.TB) (string, string) {
	t.Helper()
	secret := "whsec_" + ids.Random(16)
	r := e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"webhookSecret": secret}).must(t, http.StatusOK).Map(t)
	want := e.Cfg.BaseURL + "/api/stripe/webhook/" + e.WS.Workspace.ID
	if got := str(r, "webhookUrl"); got != want {
		t.Fatalf("webhookUrl %q, want %q", got, want)
	}
	return strings.TrimPrefix(want, e.Cfg.BaseURL), secret
}

type stripeReply struct {
	Received  bool   `json:"received"`
	EventID   string `json:"eventId"`
	Duplicate bool   `json:"duplicate"`
	Outcome   string `json:"outcome"`
}

func (r reply) stripe(t testing.TB) stripeReply {
	t.Helper()
	var s stripeReply
	r.must(t, http.StatusOK).JSON(t, &s)
	if !s.Received {
		t.Fatalf("not received: %s", r.Body)
	}
	return s
}

func paidSession(id, clickID string, amount int64, extra map[string]any) map[string]any {
	s := map[string]any{
		"id": id, "object": "checkout.session", "mode": "payment", "status": "complete", "payment_status": "paid",
		"amount_total": amount, "amount_subtotal": amount, "currency": "eur", "customer": "cus_" + ids.Random(8),
		"customer_details": map[string]any{"email": "buyer@example.com"}, "client_reference_id": clickID,
		"invoice": nil, "payment_intent": "pi_" + ids.Random(10), "metadata": map[string]any{},
	}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

// saleRow is what the database holds of a sale.
type saleRow struct {
	ID       string `db:"id"`
	Amount   int64  `db:"amount_cents"`
	Refunded int64  `db:"refunded_cents"`
	Currency string `db:"currency"`
	Customer string `db:"customer"`
}

func (e *env) saleRow(t testing.TB, externalID string) *saleRow {
	t.Helper()
	var rows []saleRow
	err := e.DB.Select(&rows, `SELECT e.id, e.amount_cents, e.refunded_cents, e.currency, cu.external_id AS customer
		FROM events e JOIN customers cu ON cu.workspace_id = e.workspace_id AND cu.id = e.customer_id
		WHERE e.kind = 'sale' AND e.external_id = $1`, externalID)
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) == 0 {
		return nil
	}
	return &rows[0]
}

// liveCommissions adds up a sale's commissions that are not clawed back.
func (e *env) liveCommissions(t testing.TB, saleID string) int64 {
	t.Helper()
	var sum int64
	if err := e.DB.Get(&sum, `SELECT coalesce(sum(amount_cents), 0) FROM commissions
		WHERE event_id = $1 AND status <> 'clawed_back'`, saleID); err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestStripeIntegrationPut(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.stripeSetup(t)
	for _, body := range []map[string]any{{}, {"webhookSecret": "sk_live_nope"}, {"webhookSecret": 5}, {"webhookSecret": "whsec_a b"}, {"webhookSecret": "whsec_café"}} {
		r := e.call("PUT", "/api/integrations/stripe", e.Key, body)
		if r.Status != http.StatusBadRequest || r.ErrorFields(t)["webhookSecret"] == "" {
			t.Errorf("PUT %v: %d %s", body, r.Status, r.Body)
		}
	}
	if r := e.call("PUT", "/api/integrations/stripe", "", map[string]any{"webhookSecret": "whsec_x"}); r.Status != http.StatusUnauthorized {
		t.Fatalf("without a key: %d", r.Status)
	}
	// A second PUT replaces the secret: the old one no longer verifies.
	path, old := e.stripeSetup(t)
	_, secret := e.stripeSetup(t)
	ev := stripeEvent("customer.created", "", map[string]any{"id": "cus_1", "object": "customer"})
	if r := e.deliver(t, path, old, ev); r.Status != http.StatusBadRequest {
		t.Fatalf("the replaced secret: %d %s", r.Status, r.Body)
	}
	e.deliver(t, path, secret, ev).stripe(t)
}

func TestStripeCheckoutSessionBecomesSale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	path, secret := e.stripeSetup(t)

	session := paidSession("cs_test_"+ids.Random(8), s.ClickID, 4900, nil)
	ev := stripeEvent("checkout.session.completed", "", session)
	r := e.deliver(t, path, secret, ev).stripe(t)
	if r.Duplicate || !strings.Contains(r.Outcome, "recorded") || !strings.Contains(r.Outcome, "commission") {
		t.Fatalf("first delivery: %+v", r)
	}
	row := e.saleRow(t, session["id"].(string))
	if row == nil || row.Amount != 4900 || row.Currency != "EUR" || row.Customer != session["customer"] {
		t.Fatalf("sale %+v from session %v", row, session)
	}
	if got := e.liveCommissions(t, row.ID); got != 490 {
		t.Fatalf("commission %d, want 490", got)
	}
	// Stripe retries: processed once.
	again := e.deliver(t, path, secret, ev).stripe(t)
	if !again.Duplicate || !strings.HasPrefix(again.Outcome, "already processed: ") {
		t.Fatalf("redelivery: %+v", again)
	}
	if n := e.count(t, `SELECT count(*) FROM events WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d events after a redelivery", n)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d stripe events recorded", n)
	}

	// Metadata carries the click id when client_reference_id is taken.
	other := paidSession("cs_test_"+ids.Random(8), "order-42", 1000, map[string]any{
		"metadata": map[string]any{"partli_click_id": e.click(t, s.Slug)}, "customer": nil})
	e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", other)).stripe(t)
	if row := e.saleRow(t, other["id"].(string)); row == nil || row.Customer != "buyer@example.com" {
		t.Fatalf("sale from metadata click id, guest customer: %+v", row)
	}

	// Unpaid sessions (a bank transfer on its way) and sessions without a click are no sale.
	unpaid := paidSession("cs_test_"+ids.Random(8), s.ClickID, 1000, map[string]any{"payment_status": "unpaid"})
	if r := e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", unpaid)).stripe(t); !strings.HasPrefix(r.Outcome, "ignored: ") {
		t.Fatalf("unpaid session: %+v", r)
	}
	direct := paidSession("cs_test_"+ids.Random(8), "", 1000, nil)
	if r := e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", direct)).stripe(t); !strings.HasPrefix(r.Outcome, "no attribution") {
		t.Fatalf("session without click: %+v", r)
	}
	if e.saleRow(t, unpaid["id"].(string)) != nil || e.saleRow(t, direct["id"].(string)) != nil {
		t.Fatal("an unpaid or unattributed session became a sale")
	}
}

func TestStripeSubscriptionInvoices(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, nil)
	pid := str(p, "id")
	e.reward(t, pid, map[string]any{"interval": "recurring", "percent": 20})
	slug := str(e.partner(t, pid, nil), "slug")
	click := e.click(t, slug)
	path, secret := e.stripeSetup(t)
	customer := "cus_" + ids.Random(8)

	// The first invoice is paid before Checkout's event arrives: the customer
	// is not known yet and the invoice carries no click id, so nothing is recorded ...
	first := "in_" + ids.Random(10)
	inv := func(id string, amount int64, extra map[string]any) map[string]any {
		m := map[string]any{"id": id, "object": "invoice", "amount_paid": amount, "currency": "usd", "customer": customer,
			"status": "paid", "billing_reason": "subscription_cycle", "metadata": map[string]any{},
			"parent": map[string]any{"type": "subscription_details", "subscription_details": map[string]any{
				"metadata": map[string]any{}, "subscription": "sub_1"}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	r := e.deliver(t, path, secret, stripeEvent("invoice.paid", "", inv(first, 2900, nil))).stripe(t)
	if !strings.HasPrefix(r.Outcome, "no attribution") {
		t.Fatalf("first invoice before checkout: %+v", r)
	}
	// ... then Checkout's event names the click: the sale is the invoice.
	session := paidSession("cs_test_"+ids.Random(8), click, 2900, map[string]any{"mode": "subscription",
		"invoice": first, "payment_intent": nil, "customer": customer, "currency": "usd"})
	e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", session)).stripe(t)
	row := e.saleRow(t, first)
	if row == nil || row.Amount != 2900 {
		t.Fatalf("first invoice's sale: %+v", row)
	}
	// The invoice's own event, redelivered by Stripe later: the same sale.
	if r := e.deliver(t, path, secret, stripeEvent("invoice.paid", "", inv(first, 2900, nil))).stripe(t); !strings.Contains(r.Outcome, "recorded already") {
		t.Fatalf("first invoice again: %+v", r)
	}
	// A renewal has no click id; the customer attributes it.
	renewal := "in_" + ids.Random(10)
	e.deliver(t, path, secret, stripeEvent("invoice.paid", "", inv(renewal, 2900, nil))).stripe(t)
	if row := e.saleRow(t, renewal); row == nil || e.liveCommissions(t, row.ID) != 580 {
		t.Fatalf("renewal: %+v", row)
	}
	// A $0 invoice (a trial) is no sale.
	trial := "in_" + ids.Random(10)
	if r := e.deliver(t, path, secret, stripeEvent("invoice.paid", "", inv(trial, 0, nil))).stripe(t); !strings.Contains(r.Outcome, "paid nothing") {
		t.Fatalf("trial invoice: %+v", r)
	}
	// A new subscriber whose subscription metadata carries the click id.
	other := "in_" + ids.Random(10)
	e.deliver(t, path, secret, stripeEvent("invoice.paid", "", inv(other, 1000, map[string]any{
		"customer": "cus_" + ids.Random(8),
		"parent":   map[string]any{"subscription_details": map[string]any{"metadata": map[string]any{"partli_click_id": e.click(t, slug)}}},
	}))).stripe(t)
	if e.saleRow(t, other) == nil {
		t.Fatal("an invoice with the click id in its subscription's metadata is no sale")
	}

	// Refunds of invoices: in API versions that name the invoice on the
	// charge, directly; in newer ones through invoice_payment.paid.
	e.deliver(t, path, secret, stripeEvent("charge.refunded", "", map[string]any{"id": "ch_" + ids.Random(8), "object": "charge",
		"amount": 2900, "amount_refunded": 2900, "refunded": true, "invoice": renewal, "payment_intent": nil})).stripe(t)
	if row := e.saleRow(t, renewal); row.Refunded != 2900 || e.liveCommissions(t, row.ID) != 0 {
		t.Fatalf("renewal after its charge was refunded: %+v", row)
	}
	pi := "pi_" + ids.Random(10)
	if r := e.deliver(t, path, secret, stripeEvent("invoice_payment.paid", "", map[string]any{"id": "inpay_1", "object": "invoice_payment",
		"invoice": first, "status": "paid", "payment": map[string]any{"type": "payment_intent", "payment_intent": pi}})).stripe(t); !strings.Contains(r.Outcome, pi) {
		t.Fatalf("invoice payment: %+v", r)
	}
	out := e.deliver(t, path, secret, stripeEvent("charge.refunded", "", map[string]any{"id": "ch_" + ids.Random(8), "object": "charge",
		"amount": 2900, "amount_refunded": 1450, "refunded": false, "payment_intent": pi})).stripe(t)
	if !strings.Contains(out.Outcome, "refunded") {
		t.Fatalf("refund through the invoice payment: %+v", out)
	}
	if row := e.saleRow(t, first); row.Refunded != 1450 || e.liveCommissions(t, row.ID) != 290 {
		t.Fatalf("first invoice after half was refunded: %+v, commissions %d", row, e.liveCommissions(t, row.ID))
	}
}

func TestStripeRefundsAndDisputes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	path, secret := e.stripeSetup(t)

	session := paidSession("cs_test_"+ids.Random(8), s.ClickID, 10000, nil)
	e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", session)).stripe(t)
	row := e.saleRow(t, session["id"].(string))
	pi, ch := session["payment_intent"].(string), "ch_"+ids.Random(8)
	charge := func(refunded int64, full bool) map[string]any {
		return map[string]any{"id": ch, "object": "charge", "amount": 10000, "amount_refunded": refunded, "refunded": full,
			"payment_intent": pi, "refunds": map[string]any{"object": "list", "data": []any{
				map[string]any{"id": "re_1", "amount": refunded, "reason": "requested_by_customer"}}}}
	}
	first := stripeEvent("charge.refunded", "", charge(3000, false))
	r := e.deliver(t, path, secret, first).stripe(t)
	if !strings.Contains(r.Outcome, "€30.00 refunded") {
		t.Fatalf("partial refund: %+v", r)
	}
	if got := e.saleRow(t, session["id"].(string)); got.Refunded != 3000 || e.liveCommissions(t, row.ID) != 700 {
		t.Fatalf("after a 30 %% refund: %+v, commissions %d", got, e.liveCommissions(t, row.ID))
	}
	var reason string
	if err := e.DB.Get(&reason, `SELECT reason FROM commission_history WHERE workspace_id = $1 AND commission_id IN
		(SELECT id FROM commissions WHERE event_id = $2 AND adjusts_id IS NOT NULL)`, e.WS.Workspace.ID, row.ID); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(reason, "by Stripe charge "+ch) || !strings.Contains(reason, "reason: requested_by_customer") {
		t.Fatalf("history reason %q", reason)
	}
	// A retry of the same event, and an event with the same cumulative
	// total, change nothing.
	if again := e.deliver(t, path, secret, first).stripe(t); !again.Duplicate {
		t.Fatalf("retry: %+v", again)
	}
	if same := e.deliver(t, path, secret, stripeEvent("charge.refunded", "", charge(3000, false))).stripe(t); !strings.Contains(same.Outcome, "nothing more to refund") {
		t.Fatalf("same total in another event: %+v", same)
	}
	// A dispute takes back the disputed rest.
	d := e.deliver(t, path, secret, stripeEvent("charge.dispute.created", "", map[string]any{"id": "dp_1", "object": "dispute",
		"amount": 7000, "charge": ch, "payment_intent": pi, "reason": "fraudulent", "status": "needs_response", "currency": "eur"})).stripe(t)
	if !strings.Contains(d.Outcome, "€70.00 refunded") {
		t.Fatalf("dispute: %+v", d)
	}
	if got := e.saleRow(t, session["id"].(string)); got.Refunded != 10000 || e.liveCommissions(t, row.ID) != 0 {
		t.Fatalf("after the dispute: %+v", got)
	}
	if n := e.count(t, `SELECT count(*) FROM commission_history WHERE workspace_id = $1 AND to_status = 'clawed_back'
		AND reason LIKE '%Stripe dispute dp_1; reason: dispute (fraudulent)'`, e.WS.Workspace.ID); n != 2 {
		t.Fatalf("%d clawbacks naming the dispute, want 2 (the commission and its adjustment)", n)
	}

	// A refund of a charge no sale came from: acknowledged, nothing changed.
	before := e.count(t, `SELECT count(*) FROM commissions WHERE workspace_id = $1`, e.WS.Workspace.ID)
	unknown := e.deliver(t, path, secret, stripeEvent("charge.refunded", "", map[string]any{"id": "ch_unknown", "object": "charge",
		"amount": 500, "amount_refunded": 500, "refunded": true, "payment_intent": "pi_unknown"})).stripe(t)
	if !strings.HasPrefix(unknown.Outcome, "ignored: no sale") {
		t.Fatalf("refund of an unknown charge: %+v", unknown)
	}
	if after := e.count(t, `SELECT count(*) FROM commissions WHERE workspace_id = $1`, e.WS.Workspace.ID); after != before {
		t.Fatalf("an unknown refund changed commissions: %d → %d", before, after)
	}
}

func TestStripeBadDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	path, secret := e.stripeSetup(t)
	ev := stripeEvent("checkout.session.completed", "", paidSession("cs_test_"+ids.Random(8), s.ClickID, 4900, nil))
	payload, _ := json.Marshal(ev)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret})
	tampered := []byte(strings.Replace(string(payload), `"amount_total":4900`, `"amount_total":490000`, 1))
	old := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret,
		Timestamp: time.Now().Add(-time.Hour)})

	for _, tc := range []struct {
		name, path string
		body       []byte
		header     string
	}{
		{"wrong secret", path, payload, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_wrong"}).Header},
		{"no signature", path, payload, ""},
		{"garbage signature", path, payload, "t=1,v1=deadbeef"},
		{"tampered body", path, tampered, signed.Header},
		{"signature too old", path, payload, old.Header},
		{"unknown workspace", "/api/stripe/webhook/ws_nope", payload, signed.Header},
		{"workspace without secret", "/api/stripe/webhook/" + e.newWorkspaceID(t), payload, signed.Header},
		{"connect without secret configured", "/api/stripe/webhook", payload, signed.Header},
	} {
		h := http.Header{}
		if tc.header != "" {
			h.Set("Stripe-Signature", tc.header)
		}
		r := e.callWith("POST", tc.path, "", tc.body, h)
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_signature" {
			t.Errorf("%s: %d %s", tc.name, r.Status, r.Body)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events`); n != 0 {
		t.Fatalf("%d stripe events stored from bad deliveries", n)
	}
	if n := e.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("%d sales stored from bad deliveries", n)
	}

	// Unknown event types are acknowledged and ignored, nothing stored.
	r := e.deliver(t, path, secret, stripeEvent("customer.subscription.updated", "", map[string]any{"id": "sub_1", "object": "subscription"})).stripe(t)
	if !strings.HasPrefix(r.Outcome, "ignored: ") {
		t.Fatalf("unknown type: %+v", r)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events`); n != 0 {
		t.Fatalf("an unknown event type was stored")
	}
	// The genuine delivery still works.
	e.callWith("POST", path, "", payload, http.Header{"Stripe-Signature": {signed.Header}}).stripe(t)
}

// newWorkspaceID makes another workspace, without Stripe, and returns its id.
func (e *env) newWorkspaceID(t testing.TB) string {
	t.Helper()
	ws, _ := e.newWorkspace("NoStripe")
	return ws.Workspace.ID
}

func TestStripeConnectEvents(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.StripeConnectWebhookSecret = stripeConnectSecret })
	s := e.setup(t)
	account := "acct_" + ids.Random(8)
	// Connect OAuth stores the account; here the store is called directly.
	if err := e.Store.ConnectStripeAccount(context.Background(), e.WS.Workspace.ID, account, false); err != nil {
		t.Fatal(err)
	}
	session := paidSession("cs_test_"+ids.Random(8), s.ClickID, 5000, nil)
	r := e.deliver(t, "/api/stripe/webhook", stripeConnectSecret, stripeEvent("checkout.session.completed", account, session)).stripe(t)
	if !strings.Contains(r.Outcome, "recorded") || e.saleRow(t, session["id"].(string)) == nil {
		t.Fatalf("connect event: %+v", r)
	}
	// An account nobody connected: acknowledged, nothing stored.
	stray := paidSession("cs_test_"+ids.Random(8), s.ClickID, 5000, nil)
	r = e.deliver(t, "/api/stripe/webhook", stripeConnectSecret, stripeEvent("checkout.session.completed", "acct_unknown", stray)).stripe(t)
	if !strings.HasPrefix(r.Outcome, "ignored: no workspace") || e.saleRow(t, stray["id"].(string)) != nil {
		t.Fatalf("unknown account: %+v", r)
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events`); n != 1 {
		t.Fatalf("%d stripe events stored, want 1", n)
	}
	// Signed with a workspace's secret instead of the platform's: refused.
	_, secret := e.stripeSetup(t)
	if r := e.deliver(t, "/api/stripe/webhook", secret, stripeEvent("checkout.session.completed", account, stray)); r.Status != http.StatusBadRequest {
		t.Fatalf("platform endpoint with a workspace's secret: %d", r.Status)
	}
}

// Two replicas, or Stripe's retries, deliver one event at once: one sale,
// one record, one refund.
func TestStripeConcurrentDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	path, secret := e.stripeSetup(t)
	session := paidSession("cs_test_"+ids.Random(8), s.ClickID, 10000, nil)
	sale := stripeEvent("checkout.session.completed", "", session)
	refund := stripeEvent("charge.dispute.created", "", map[string]any{"id": "dp_" + ids.Random(6), "object": "dispute",
		"amount": 2000, "charge": "ch_x", "payment_intent": session["payment_intent"], "reason": "general"})
	for _, ev := range []map[string]any{sale, refund} {
		payload, _ := json.Marshal(ev)
		header := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret}).Header
		var wg sync.WaitGroup
		replies := make(chan reply, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", e.URL+path, strings.NewReader(string(payload)))
				req.Header.Set("Stripe-Signature", header)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Errorf("deliver: %v", err)
					return
				}
				resp.Body.Close()
				replies <- reply{Status: resp.StatusCode}
			}()
		}
		wg.Wait()
		close(replies)
		for r := range replies {
			if r.Status != http.StatusOK {
				t.Fatalf("%s delivered at once: status %d", ev["type"], r.Status)
			}
		}
	}
	if n := e.count(t, `SELECT count(*) FROM stripe_events`); n != 2 {
		t.Fatalf("%d stripe events recorded, want 2", n)
	}
	row := e.saleRow(t, session["id"].(string))
	if row.Refunded != 2000 || e.liveCommissions(t, row.ID) != 800 {
		t.Fatalf("after eight deliveries of a 20 %% dispute: %+v, commissions %d", row, e.liveCommissions(t, row.ID))
	}
	if n := e.count(t, `SELECT count(*) FROM commissions WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 2 {
		t.Fatalf("%d commissions, want the original and one adjustment", n)
	}
}
