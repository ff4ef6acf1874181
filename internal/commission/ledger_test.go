package commission_test

import (
	"context"
	"database/sql"
	"errors"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

func TestLedgerEntry(t *testing.T) {
	payout, orig := "po_1", "cm_orig"
	c := func(status string, amount int64, mod ...func(*store.Commission)) *store.Commission {
		cm := &store.Commission{ID: "cm_1", WorkspaceID: "ws", PartnerID: "ptn", ProgramID: "prog", Currency: "USD",
			Status: status, AmountCents: amount}
		for _, m := range mod {
			m(cm)
		}
		return cm
	}
	inPayout := func(cm *store.Commission) { cm.PayoutID = &payout }
	adjustment := func(cm *store.Commission) { cm.AdjustsID = &orig }
	tests := []struct {
		name          string
		before, after *store.Commission
		kind          string // "" for no entry
		amount, n     int64
		adjustment    int64
	}{
		{"approved", c("pending", 500), c("approved", 500), commission.LedgerApproval, 500, 1, 0},
		{"new pending", nil, c("pending", 500), "", 0, 0, 0},
		{"new approved adjustment", nil, c("approved", -300, adjustment), commission.LedgerAdjustment, -300, 1, -300},
		{"pending adjustment approved", c("pending", -300, adjustment), c("approved", -300, adjustment), commission.LedgerAdjustment, -300, 1, -300},
		{"pending clawed back", c("pending", 500), c("clawed_back", 500), "", 0, 0, 0},
		{"approved clawed back", c("approved", 500), c("clawed_back", 500), commission.LedgerClawback, -500, -1, 0},
		{"approved adjustment clawed back", c("approved", -300, adjustment), c("clawed_back", -300, adjustment), commission.LedgerClawback, 300, -1, 300},
		{"approved paid by hand", c("approved", 500), c("paid", 500), commission.LedgerPaidOutside, -500, -1, 0},
		{"paid with its payout", c("approved", 500, inPayout), c("paid", 500, inPayout), "", 0, 0, 0},
		{"put in a payout", c("approved", 500), c("approved", 500, inPayout), "", 0, 0, 0},
		{"released by a payout", c("approved", 500, inPayout), c("approved", 500), "", 0, 0, 0},
		{"paid clawed back (the original is untouched)", c("paid", 500), c("paid", 500), "", 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := commission.LedgerEntry(tc.before, tc.after)
			if tc.kind == "" {
				if ok {
					t.Fatalf("entry %+v, want none", e)
				}
				return
			}
			if !ok || e.Kind != tc.kind || e.AmountCents != tc.amount || e.Commissions != tc.n || e.AdjustmentCents != tc.adjustment ||
				e.CommissionID == nil || *e.CommissionID != "cm_1" || e.PayoutID != nil || e.PartnerID != "ptn" || e.Currency != "USD" {
				t.Fatalf("entry %+v (%v), want %s of %d, %d commissions, %d of adjustments", e, ok, tc.kind, tc.amount, tc.n, tc.adjustment)
			}
		})
	}
	p := &store.Payout{ID: "po_1", WorkspaceID: "ws", PartnerID: "ptn", ProgramID: "prog", Currency: "USD",
		AmountCents: 2500, CommissionCount: 3, AdjustmentCents: -500, Claim: 2}
	if e := commission.PayoutEntry(p, commission.LedgerPayout); e.AmountCents != -2500 || e.Commissions != -3 ||
		e.AdjustmentCents != 500 || *e.PayoutID != "po_1" || *e.Claim != 2 || e.CommissionID != nil {
		t.Fatalf("payout entry %+v", e)
	}
	if e := commission.PayoutEntry(p, commission.LedgerPayoutFailed); e.AmountCents != 2500 || e.Commissions != 3 || e.AdjustmentCents != -500 {
		t.Fatalf("failed payout entry %+v", e)
	}
}

func TestPayoutTransition(t *testing.T) {
	tests := []struct {
		from, action, to string
		says             string // for a refusal
	}{
		{"pending", commission.PayoutSend, "processing", ""},
		{"pending", commission.PayoutMarkPaid, "paid", ""},
		{"pending", commission.PayoutCancel, "canceled", ""},
		{"pending", commission.PayoutSucceed, "", "has not been sent"},
		{"processing", commission.PayoutSucceed, "paid", ""},
		{"processing", commission.PayoutFail, "failed", ""},
		{"processing", commission.PayoutSend, "", "under way"},
		{"processing", commission.PayoutCancel, "", "under way"},
		{"processing", commission.PayoutMarkPaid, "", "under way"},
		{"failed", commission.PayoutSend, "processing", ""},
		{"failed", commission.PayoutCancel, "canceled", ""},
		{"failed", commission.PayoutMarkPaid, "", "send it again, or cancel it"},
		{"paid", commission.PayoutSend, "", "paid already"},
		{"paid", commission.PayoutCancel, "", "paid already"},
		{"paid", commission.PayoutMarkPaid, "", "paid already"},
		{"canceled", commission.PayoutSend, "", "was canceled"},
		{"canceled", commission.PayoutMarkPaid, "", "was canceled"},
		{"canceled", commission.PayoutCancel, "", "was canceled"},
	}
	for _, tc := range tests {
		t.Run(tc.from+" "+tc.action, func(t *testing.T) {
			to, err := commission.PayoutTransition("po_1", tc.from, tc.action)
			if tc.to != "" {
				if err != nil || to != tc.to {
					t.Fatalf("= %q, %v; want %q", to, err, tc.to)
				}
				return
			}
			if !errors.Is(err, commission.ErrPayoutTransition) || !commission.IsPayoutRefusal(err) {
				t.Fatalf("= %q, %v; want a refusal", to, err)
			}
			if got := commission.Explain(err); !strings.Contains(got, tc.says) || !strings.Contains(got, "po_1") {
				t.Fatalf("explained as %q, want it to say %q", got, tc.says)
			}
			if errors.Is(err, commission.ErrPayoutInFlight) != (tc.from == "processing") {
				t.Fatalf("ErrPayoutInFlight: %v", err)
			}
		})
	}
}

func TestIdempotencyKey(t *testing.T) {
	k1, k2 := commission.IdempotencyKey("po_abc", 1), commission.IdempotencyKey("po_abc", 2)
	if k1 != "partli-payout-po_abc-1" || k1 == k2 || commission.IdempotencyKey("po_abc", 1) != k1 ||
		commission.IdempotencyKey("po_abd", 1) == k1 {
		t.Fatalf("keys %q %q: one per payout and attempt, the same every time", k1, k2)
	}
}

func TestCheckStripeAmount(t *testing.T) {
	for _, tc := range []struct {
		amount   int64
		currency string
		ok       bool
	}{{50, "USD", true}, {49, "USD", false}, {30, "GBP", true}, {29, "GBP", false}, {50, "JPY", true}, {49, "JPY", false},
		{1, "XYZ", true}, {17499, "HUF", false}} {
		err := commission.CheckStripeAmount(tc.amount, tc.currency)
		if (err == nil) != tc.ok || (err != nil && !errors.Is(err, commission.ErrBelowStripeMinimum)) {
			t.Errorf("CheckStripeAmount(%d %s) = %v", tc.amount, tc.currency, err)
		}
	}
	if got := commission.Explain(commission.CheckStripeAmount(30, "USD")); !strings.Contains(got, "$0.30") || !strings.Contains(got, "$0.50") {
		t.Errorf("explained as %q", got)
	}
}

// ledgerWorld is a world with several partners and the sales made, for the
// randomized ledger test.
type ledgerWorld struct {
	*world
	mu       sync.Mutex
	clicks   []string
	partners []string
	sales    []string // external ids
}

func (w *ledgerWorld) addPartner() {
	slug := "lp-" + ids.Random(6)
	p := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: w.ws, ProgramID: w.program.ID,
		Email: slug + "@partners.example.com", Name: "Partner " + slug, Slug: slug, Status: "approved"}
	if err := w.st.CreatePartner(w.ctx, p); err != nil {
		w.t.Fatalf("create partner: %v", err)
	}
	cl := &store.Click{ID: ids.New(ids.Click), IPHash: []byte(ids.Random(8)), Flags: pq.StringArray{}}
	if _, err := w.st.HotPath().RecordClick(w.ctx, slug, cl, time.Minute, 1000); err != nil {
		w.t.Fatalf("insert click: %v", err)
	}
	w.clicks, w.partners = append(w.clicks, cl.ID), append(w.partners, p.ID)
}

// pick returns a random id the query ($1 the workspace) finds, or "".
func (w *ledgerWorld) pick(query string) string {
	var id string
	err := w.db.GetContext(w.ctx, &id, query+` ORDER BY random() LIMIT 1`, w.ws)
	if errors.Is(err, sql.ErrNoRows) {
		return ""
	}
	if err != nil {
		w.t.Errorf("%s: %v", query, err)
	}
	return id
}

// step does one random thing to the world's money and reports what.
func (w *ledgerWorld) step(r *rand.Rand) (string, error) {
	ctx, actor := w.ctx, "user:finance@example.com"
	change := func(q, to, reason string) (string, error) {
		id := w.pick(q)
		if id == "" {
			return "nothing to " + to, nil
		}
		_, err := w.cs.Change(ctx, w.ws, id, to, reason, actor)
		if commission.IsRefusal(err) {
			return to + " refused " + id, nil
		}
		return to + " " + id, err
	}
	switch r.IntN(14) {
	case 0, 1, 2:
		w.mu.Lock()
		i := r.IntN(len(w.clicks))
		click := w.clicks[i]
		w.mu.Unlock()
		currency := "USD"
		if r.IntN(4) == 0 {
			currency = "EUR" // a percentage reward pays in the sale's currency
		}
		ext := "o-" + ids.Random(6)
		_, err := tracking.New(w.st).TrackSale(ctx, w.ws, tracking.SaleInput{ExternalID: ext, CustomerExternalID: "cus-" + ids.Random(6),
			AmountCents: int64(1000 + r.IntN(50000)), Currency: currency, ClickID: click, EventName: "sale", OccurredAt: time.Now()})
		if err == nil {
			w.mu.Lock()
			w.sales = append(w.sales, ext)
			w.mu.Unlock()
		}
		return "sale " + ext + " " + currency, err
	case 3, 4:
		return change(`SELECT id FROM commissions WHERE workspace_id = $1 AND status = 'pending' AND adjusts_id IS NULL`, commission.Approved, "")
	case 5:
		return change(`SELECT id FROM commissions WHERE workspace_id = $1 AND status IN ('pending', 'approved') AND adjusts_id IS NULL AND payout_id IS NULL`,
			commission.ClawedBack, "fraud")
	case 6:
		return change(`SELECT id FROM commissions WHERE workspace_id = $1 AND status = 'approved' AND adjusts_id IS NULL AND payout_id IS NULL`,
			commission.Paid, "")
	case 7:
		return change(`SELECT id FROM commissions WHERE workspace_id = $1 AND status = 'paid' AND adjusts_id IS NULL`, commission.ClawedBack, "chargeback")
	case 8:
		w.mu.Lock()
		if len(w.sales) == 0 {
			w.mu.Unlock()
			return "no sale to refund", nil
		}
		ext := w.sales[r.IntN(len(w.sales))]
		w.mu.Unlock()
		amount := int64(0) // full
		if r.IntN(3) > 0 {
			amount = int64(1 + r.IntN(20000)) // partial, capped at what is left
		}
		_, err := w.cs.Refund(ctx, w.ws, commission.Refund{ExternalID: ext, AmountCents: amount, Capped: true, Source: "the test", Actor: actor})
		return "refund " + ext, err
	case 9, 10:
		w.mu.Lock()
		partner := w.partners[r.IntN(len(w.partners))]
		w.mu.Unlock()
		currency := []string{"USD", "EUR"}[r.IntN(2)]
		p, err := w.cs.CreatePayout(ctx, w.ws, partner, currency, actor)
		if commission.IsPayoutRefusal(err) {
			return "no payout for " + partner + " " + currency, nil
		}
		if err != nil {
			return "create payout", err
		}
		return "payout " + p.ID, nil
	case 11:
		id := w.pick(`SELECT id FROM payouts WHERE workspace_id = $1 AND status = 'pending'`)
		if id == "" {
			return "no payout to mark paid", nil
		}
		_, err := w.cs.MarkPayoutPaid(ctx, w.ws, id, "REF-"+ids.Random(3), actor)
		return "mark paid " + id, refusalIsFine(err)
	case 12:
		id := w.pick(`SELECT id FROM payouts WHERE workspace_id = $1 AND status IN ('pending', 'failed')`)
		if id == "" {
			return "no payout to cancel", nil
		}
		_, err := w.cs.CancelPayout(ctx, w.ws, id)
		return "cancel " + id, refusalIsFine(err)
	default:
		// A Stripe transfer: begun (processing), then Stripe's answer,
		// a transfer or a refusal; a failed payout is sent again.
		id := w.pick(`SELECT id FROM payouts WHERE workspace_id = $1 AND status IN ('pending', 'failed')`)
		if id == "" {
			return "no payout to send", nil
		}
		tr, err := w.cs.BeginTransfer(ctx, w.ws, id, "acct_test", time.Minute, func(*store.Payout) error { return nil })
		if commission.IsPayoutRefusal(err) {
			return "send refused " + id, nil
		}
		if err != nil {
			return "begin transfer " + id, err
		}
		if r.IntN(2) == 0 {
			_, err = w.cs.FailTransfer(ctx, tr.Attempt, "Insufficient funds in Stripe account.")
			return "transfer failed " + id, err
		}
		_, err = w.cs.FinishTransfer(ctx, tr.Attempt, "tr_"+ids.Random(6))
		return "transfer made " + id, err
	}
}

func refusalIsFine(err error) error {
	if commission.IsPayoutRefusal(err) {
		return nil
	}
	return err
}

// The ledger invariant: after any mix of approvals, clawbacks (before and
// after payout), partial and full refunds, payouts made, paid, canceled,
// failed and sent again — some of them at the same time — every balance
// equals its ledger entries and the commissions minus the payouts
// (store.CheckLedger, which `partli ledger check` runs).
func TestLedgerInvariantRandom(t *testing.T) {
	db, _ := testdb.New(t)
	db.SetMaxOpenConns(20)
	w := &ledgerWorld{world: newWorld(t, db, 1000)}
	w.clicks, w.partners = []string{w.world.click}, []string{w.partner.ID}
	w.addPartner()
	w.addPartner()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	check := func(after string) {
		t.Helper()
		problems, err := w.st.CheckLedger(context.Background(), w.ws)
		if err != nil {
			t.Fatalf("check ledger: %v", err)
		}
		for _, p := range problems {
			t.Errorf("after %s: %s", after, p)
		}
		if len(problems) > 0 {
			t.FailNow()
		}
	}
	// Sequentially, checking after every step.
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range 150 {
		what, err := w.step(r)
		if err != nil {
			t.Fatalf("step %d (%s): %v", i, what, err)
		}
		check(what)
	}
	// Then four at a time.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(g+2)))
			for i := range 40 {
				if what, err := w.step(r); err != nil {
					t.Errorf("worker %d step %d (%s): %v", g, i, what, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	check("the concurrent steps")
	var kinds []string
	if err := db.Select(&kinds, `SELECT DISTINCT kind FROM ledger_entries WHERE workspace_id = $1 ORDER BY kind`, w.ws); err != nil {
		t.Fatal(err)
	}
	t.Logf("ledger entry kinds exercised: %v", kinds)
	if len(kinds) < 6 {
		t.Errorf("only %v exercised", kinds)
	}
}

// The reconciliation finds a balance that does not match, whichever way it
// went wrong.
func TestCheckLedgerFindsDisagreements(t *testing.T) {
	db, _ := testdb.New(t)
	w := newWorld(t, db, 0)
	w.approved(20000)
	p := w.approved(30000)
	if problems, err := w.st.CheckLedger(w.ctx, w.ws); err != nil || len(problems) != 0 {
		t.Fatalf("a consistent ledger: %v %v", problems, err)
	}
	mustExec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// A commission approved behind the ledger's back (SQL by hand).
	mustExec(`UPDATE commissions SET status = 'pending' WHERE id = $1`, p.ID)
	problems, err := w.st.CheckLedger(w.ctx, w.ws)
	if err != nil || len(problems) != 1 || !strings.Contains(problems[0].String(), "balance 5000 (2 commissions") ||
		!strings.Contains(problems[0].String(), "commissions minus payouts give 2000 (1,") {
		t.Fatalf("problems %v %v", problems, err)
	}
	mustExec(`UPDATE commissions SET status = 'approved' WHERE id = $1`, p.ID)
	// A payout whose amount is not its commissions'.
	po, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u")
	if err != nil {
		t.Fatal(err)
	}
	mustExec(`UPDATE payouts SET amount_cents = amount_cents + 1 WHERE id = $1`, po.ID)
	problems, err = w.st.CheckLedger(w.ctx, w.ws)
	if err != nil || len(problems) != 2 {
		t.Fatalf("problems %v %v", problems, err)
	}
	var sawPayout bool
	for _, pr := range problems {
		sawPayout = sawPayout || (pr.PayoutID == po.ID && strings.Contains(pr.String(), "pending payout of 5001"))
	}
	if !sawPayout {
		t.Fatalf("the payout's disagreement is not reported: %v", problems)
	}
}
