package web_test

import (
	"net/http"
	"strings"
	"testing"
)

// refundReply is POST /api/track/refund's reply, decoded.
type refundReply struct {
	Sale struct {
		ID            string `json:"id"`
		ExternalID    string `json:"externalId"`
		AmountCents   int64  `json:"amountCents"`
		RefundedCents int64  `json:"refundedCents"`
	} `json:"sale"`
	Commissions []struct {
		ID          string  `json:"id"`
		AdjustsID   *string `json:"adjustsId"`
		AmountCents int64   `json:"amountCents"`
		Status      string  `json:"status"`
	} `json:"commissions"`
}

func (e *env) refund(t testing.TB, key string, body map[string]any) refundReply {
	t.Helper()
	var r refundReply
	e.call("POST", "/api/track/refund", key, body).must(t, http.StatusOK).JSON(t, &r)
	return r
}

// liveCents adds up the commissions that are not clawed back.
func (r refundReply) liveCents() int64 {
	var sum int64
	for _, c := range r.Commissions {
		if c.Status != "clawed_back" {
			sum += c.AmountCents
		}
	}
	return sum
}

func TestTrackRefundPartialThenFull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	ext := uniq("order")
	sale := e.sale(t, e.Key, map[string]any{"externalId": ext, "clickId": s.ClickID, "amountCents": 10000})
	commissionID := str(obj(sale, "commission"), "id")

	r := e.refund(t, e.Key, map[string]any{"externalId": ext, "amountCents": 2500, "reason": "one item returned"})
	if r.Sale.RefundedCents != 2500 || r.Sale.AmountCents != 10000 {
		t.Fatalf("sale after a partial refund: %+v", r.Sale)
	}
	if len(r.Commissions) != 2 || r.Commissions[0].ID != commissionID || r.Commissions[0].AmountCents != 1000 ||
		r.Commissions[1].AdjustsID == nil || *r.Commissions[1].AdjustsID != commissionID ||
		r.Commissions[1].AmountCents != -250 || r.Commissions[1].Status != "pending" {
		t.Fatalf("commissions after a partial refund: %+v", r.Commissions)
	}
	if r.liveCents() != 750 {
		t.Fatalf("live commissions %d, want 750", r.liveCents())
	}
	// The history says why, and who.
	detail := e.call("GET", "/api/commissions/"+r.Commissions[1].ID, e.Key, nil).must(t, http.StatusOK).Map(t)
	history, _ := detail["history"].([]any)
	if len(history) != 1 || !strings.Contains(str(history[0].(map[string]any), "reason"), "reason: one item returned") ||
		!strings.HasPrefix(str(history[0].(map[string]any), "actor"), "api key ") {
		t.Fatalf("adjustment history: %v", history)
	}

	// The rest: everything clawed back; then a repeat changes nothing.
	r = e.refund(t, e.Key, map[string]any{"externalId": ext})
	if r.Sale.RefundedCents != 10000 || r.liveCents() != 0 {
		t.Fatalf("after the rest is refunded: %+v", r)
	}
	for _, c := range r.Commissions {
		if c.Status != "clawed_back" {
			t.Fatalf("%s is %s after a full refund", c.ID, c.Status)
		}
	}
	again := e.refund(t, e.Key, map[string]any{"externalId": ext})
	if again.Sale.RefundedCents != 10000 || len(again.Commissions) != 2 || again.liveCents() != 0 {
		t.Fatalf("a refund of a refunded sale: %+v", again)
	}
	if r := e.call("POST", "/api/track/refund", e.Key, map[string]any{"externalId": ext, "amountCents": 100}); r.Status != http.StatusConflict {
		t.Fatalf("a partial refund of a refunded sale: %d %s, want 409", r.Status, r.Body)
	}
	if n := e.count(t, `SELECT count(*) FROM commission_history WHERE workspace_id = $1 AND to_status = 'clawed_back'`, e.WS.Workspace.ID); n != 2 {
		t.Fatalf("%d clawbacks in the history, want 2", n)
	}
}

func TestTrackRefundPaidCommission(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	ext := uniq("order")
	id := str(obj(e.sale(t, e.Key, map[string]any{"externalId": ext, "clickId": s.ClickID, "amountCents": 20000}), "commission"), "id")
	for _, st := range []string{"approved", "paid"} {
		e.call("PATCH", "/api/commissions/"+id, e.Key, map[string]any{"status": st}).must(t, http.StatusOK)
	}
	r := e.refund(t, e.Key, map[string]any{"externalId": ext, "reason": "chargeback"})
	if len(r.Commissions) != 2 || r.Commissions[0].Status != "paid" || r.Commissions[0].AmountCents != 2000 ||
		r.Commissions[1].AmountCents != -2000 || r.Commissions[1].Status != "approved" || r.liveCents() != 0 {
		t.Fatalf("full refund of a paid commission: %+v", r.Commissions)
	}
	list := e.call("GET", "/api/commissions?status=approved", e.Key, nil).must(t, http.StatusOK).Map(t)
	if data, _ := list["data"].([]any); len(data) != 1 || str(data[0].(map[string]any), "adjustsId") != id {
		t.Fatalf("the adjustment is not listed as approved: %v", list)
	}
}

func TestTrackRefundBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	ext := uniq("order")
	e.sale(t, e.Key, map[string]any{"externalId": ext, "clickId": s.ClickID})

	for _, tc := range []struct {
		name   string
		body   any
		status int
		code   string
		field  string
	}{
		{"no externalId", map[string]any{"amountCents": 100}, 400, "validation_failed", "externalId"},
		{"empty externalId", map[string]any{"externalId": " "}, 400, "validation_failed", "externalId"},
		{"zero amount", map[string]any{"externalId": ext, "amountCents": 0}, 400, "validation_failed", "amountCents"},
		{"fractional amount", map[string]any{"externalId": ext, "amountCents": 10.5}, 400, "validation_failed", "amountCents"},
		{"amount as text", map[string]any{"externalId": ext, "amountCents": "100"}, 400, "validation_failed", "amountCents"},
		{"reason not text", map[string]any{"externalId": ext, "reason": 3}, 400, "validation_failed", "reason"},
		{"not JSON", "{", 400, "invalid_json", ""},
		{"unknown sale", map[string]any{"externalId": "no-such-order"}, 404, "not_found", "externalId"},
	} {
		r := e.call("POST", "/api/track/refund", e.Key, tc.body)
		if r.Status != tc.status || r.ErrorCode(t) != tc.code {
			t.Errorf("%s: %d %s, want %d %s: %s", tc.name, r.Status, r.ErrorCode(t), tc.status, tc.code, r.Body)
			continue
		}
		if _, ok := r.ErrorFields(t)[tc.field]; tc.field != "" && !ok {
			t.Errorf("%s: no message for %s: %s", tc.name, tc.field, r.Body)
		}
	}
	if r := e.call("POST", "/api/track/refund", "", map[string]any{"externalId": ext}); r.Status != http.StatusUnauthorized {
		t.Fatalf("without a key: %d", r.Status)
	}
	// Another workspace's sale is unknown.
	_, otherKey := e.newWorkspace("Other")
	if r := e.call("POST", "/api/track/refund", otherKey, map[string]any{"externalId": ext}); r.Status != http.StatusNotFound {
		t.Fatalf("another workspace's sale: %d %s", r.Status, r.Body)
	}
	if n := e.count(t, `SELECT count(*) FROM events WHERE refunded_cents > 0`); n != 0 {
		t.Fatalf("bad input refunded %d sales", n)
	}
}

func TestRefundIDMakesPartialRefundRetriesSafe(t *testing.T) {
	e := newEnv(t)
	st := e.setup(t)
	e.sale(t, e.Key, map[string]any{"externalId": "inv-rid", "amountCents": 10000, "clickId": st.ClickID})
	body := map[string]any{"externalId": "inv-rid", "amountCents": 2500, "refundId": "re_1"}
	for range 3 { // the merchant's retries of one partial refund
		e.call(http.MethodPost, "/api/track/refund", e.Key, body).must(t, http.StatusOK)
	}
	if n := e.count(t, `SELECT refunded_cents FROM events WHERE external_id = 'inv-rid'`); n != 2500 {
		t.Fatalf("refunded %d cents after three posts of one refundId, want 2500", n)
	}
	// Another refund id is another refund.
	e.call(http.MethodPost, "/api/track/refund", e.Key, map[string]any{"externalId": "inv-rid", "amountCents": 2500, "refundId": "re_2"}).must(t, 200)
	if n := e.count(t, `SELECT refunded_cents FROM events WHERE external_id = 'inv-rid'`); n != 5000 {
		t.Fatalf("refunded %d cents after a second refund id, want 5000", n)
	}
	// The commission (10% of 100.00) is reduced by half: 1000 − 500.
	if n := e.count(t, `SELECT sum(c.amount_cents) FROM commissions c JOIN events ev ON ev.workspace_id = c.workspace_id AND ev.id = c.event_id
		WHERE ev.external_id = 'inv-rid' AND c.status <> 'clawed_back'`); n != 500 {
		t.Fatalf("live commissions %d, want 500", n)
	}
}

// A refund larger than what is left of the sale is 409 conflict naming
// amountCents, and changes nothing (as Stripe refuses it).
func TestTrackRefundLargerThanLeftIsConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	ext := uniq("order")
	e.sale(t, e.Key, map[string]any{"externalId": ext, "clickId": s.ClickID, "amountCents": 10000})
	e.refund(t, e.Key, map[string]any{"externalId": ext, "amountCents": 2500})
	state := func() string {
		var v string
		if err := e.DB.Get(&v, `SELECT (SELECT refunded_cents FROM events WHERE external_id = $1)::text || '/' ||
			(SELECT count(*) FROM commissions) || '/' || (SELECT count(*) FROM commission_history) || '/' ||
			(SELECT count(*) FROM refund_keys) || '/' || (SELECT count(*) FROM webhook_events)`, ext); err != nil {
			t.Fatal(err)
		}
		return v
	}
	before := state()
	for _, body := range []map[string]any{
		{"externalId": ext, "amountCents": 7501},
		{"externalId": ext, "amountCents": 10000, "refundId": "re_big"},
		{"externalId": ext, "amountCents": 1000000000000},
	} {
		r := e.call("POST", "/api/track/refund", e.Key, body)
		if r.Status != http.StatusConflict || r.ErrorCode(t) != "conflict" || !strings.Contains(r.ErrorFields(t)["amountCents"], "$75.00") {
			t.Fatalf("refund %v with $75.00 left: %d %s, want 409 conflict naming amountCents and what is left", body, r.Status, r.Body)
		}
	}
	if after := state(); after != before {
		t.Fatalf("refused refunds changed refunded/commissions/history/keys/events from %s to %s", before, after)
	}
	// What is left, exactly, is refunded; the refund id refused above is free.
	r := e.refund(t, e.Key, map[string]any{"externalId": ext, "amountCents": 7500, "refundId": "re_big"})
	if r.Sale.RefundedCents != 10000 || r.liveCents() != 0 {
		t.Fatalf("refunding what is left: %+v", r)
	}
}
