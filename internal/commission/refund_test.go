package commission_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

func TestRefundedAfter(t *testing.T) {
	tests := []struct {
		name                          string
		sale, refunded, amount, total int64
		want                          int64
	}{
		{"full", 10000, 0, 0, 0, 10000},
		{"the rest", 10000, 3000, 0, 0, 10000},
		{"partial", 10000, 0, 2500, 0, 2500},
		{"partial adds up", 10000, 2500, 2500, 0, 5000},
		{"capped at the sale", 10000, 9000, 5000, 0, 10000},
		{"when all is refunded", 10000, 10000, 100, 0, 10000},
		{"largest amount", money.MaxSaleCents, money.MaxSaleCents - 1, money.MaxSaleCents, 0, money.MaxSaleCents},
		{"total", 10000, 0, 0, 3000, 3000},
		{"total repeated", 10000, 3000, 0, 3000, 3000},
		{"older total arriving late", 10000, 5000, 0, 3000, 5000},
		{"total above the sale", 10000, 0, 0, 12000, 10000},
		{"total wins over amount", 10000, 1000, 500, 4000, 4000},
	}
	for _, tc := range tests {
		if got := commission.RefundedAfter(tc.sale, tc.refunded, tc.amount, tc.total); got != tc.want {
			t.Errorf("%s: RefundedAfter(%d, %d, %d, %d) = %d, want %d", tc.name, tc.sale, tc.refunded, tc.amount, tc.total, got, tc.want)
		}
	}
}

func TestPlanRefund(t *testing.T) {
	payout := "po_1"
	orig := func(status string, inPayout bool) store.Commission {
		c := store.Commission{ID: "cm_o", Status: status, AmountCents: 1000}
		if inPayout {
			c.PayoutID = &payout
		}
		return c
	}
	adj := func(id, status string, amount int64, inPayout bool) store.Commission {
		o := "cm_o"
		c := store.Commission{ID: id, AdjustsID: &o, Status: status, AmountCents: amount}
		if inPayout {
			c.PayoutID = &payout
		}
		return c
	}
	tests := []struct {
		name          string
		original      store.Commission
		adjustments   []store.Commission
		before, after int64 // of a 10,000 sale
		want          commission.RefundPlan
	}{
		{"full, pending", orig("pending", false), nil, 0, 10000,
			commission.RefundPlan{ClawBack: []string{"cm_o"}}},
		{"full, approved", orig("approved", false), nil, 0, 10000,
			commission.RefundPlan{ClawBack: []string{"cm_o"}}},
		{"full, paid", orig("paid", false), nil, 0, 10000,
			commission.RefundPlan{TakeCents: 1000, AdjustmentStatus: "approved"}},
		{"full, in a pending payout", orig("approved", true), nil, 0, 10000,
			commission.RefundPlan{TakeCents: 1000, AdjustmentStatus: "approved"}},
		{"full, clawed back by hand", orig("clawed_back", false), nil, 0, 10000, commission.RefundPlan{}},
		{"partial, pending", orig("pending", false), nil, 0, 2500,
			commission.RefundPlan{TakeCents: 250, AdjustmentStatus: "pending"}},
		{"partial, approved", orig("approved", false), nil, 0, 2500,
			commission.RefundPlan{TakeCents: 250, AdjustmentStatus: "approved"}},
		{"partial, paid", orig("paid", false), nil, 0, 2500,
			commission.RefundPlan{TakeCents: 250, AdjustmentStatus: "approved"}},
		{"partial, clawed back by hand", orig("clawed_back", false), nil, 0, 2500, commission.RefundPlan{}},
		{"second partial: from the totals, not the step", orig("pending", false),
			[]store.Commission{adj("cm_a", "pending", -333, false)}, 3333, 6666,
			commission.RefundPlan{TakeCents: 334, AdjustmentStatus: "pending"}},
		{"rest after a partial, pending: original and adjustment clawed back", orig("pending", false),
			[]store.Commission{adj("cm_a", "pending", -250, false)}, 2500, 10000,
			commission.RefundPlan{ClawBack: []string{"cm_o", "cm_a"}}},
		{"rest after a partial, paid: what is left", orig("paid", false),
			[]store.Commission{adj("cm_a", "approved", -250, false)}, 2500, 10000,
			commission.RefundPlan{TakeCents: 750, AdjustmentStatus: "approved"}},
		{"rest with an adjustment in a payout: what is left", orig("approved", false),
			[]store.Commission{adj("cm_a", "approved", -250, true)}, 2500, 10000,
			commission.RefundPlan{TakeCents: 750, AdjustmentStatus: "approved"}},
		{"rest of a paid commission clawed back after payout", orig("paid", false),
			[]store.Commission{adj("cm_a", "approved", -1000, false)}, 2500, 10000,
			commission.RefundPlan{}},
		{"no change", orig("pending", false), nil, 2500, 2500, commission.RefundPlan{}},
		{"a tiny refund that rounds to nothing", orig("pending", false), nil, 0, 4, commission.RefundPlan{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := commission.PlanRefund(tc.original, tc.adjustments, 10000, tc.before, tc.after)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("PlanRefund = %+v, want %+v", got, tc.want)
			}
		})
	}
}

// refundWorld is one refund test's workspace: a USD program without holding
// period, a 10 % recurring sale reward and an approved partner with a click.
type refundWorld struct {
	t     *testing.T
	ctx   context.Context
	db    *sqlx.DB
	st    *store.Store
	cs    *commission.Service
	ws    string
	click string
}

func newRefundWorld(t *testing.T, db *sqlx.DB) *refundWorld {
	t.Helper()
	ctx := context.Background()
	st := store.New(db)
	created, err := accounts.CreateWorkspace(ctx, st, accounts.NewWorkspace{
		Name: "Refunds " + ids.Random(4), OwnerEmail: "owner-" + ids.Random(5) + "@example.com", OwnerPassword: "correct horse battery"})
	if err != nil {
		t.Fatalf("create workspace: %v", err)
	}
	w := &refundWorld{t: t, ctx: ctx, db: db, st: st, cs: commission.New(st), ws: created.Workspace.ID}
	program := &store.Program{ID: ids.New(ids.Program), WorkspaceID: w.ws, Name: "Program", Slug: "p-" + ids.Random(5),
		DestinationURL: "https://shop.example.com/", Currency: "USD", CookieDays: 30}
	if err := st.CreateProgram(ctx, program); err != nil {
		t.Fatalf("create program: %v", err)
	}
	bp := int64(1000)
	if err := st.CreateReward(ctx, &store.Reward{ID: ids.New(ids.Reward), WorkspaceID: w.ws, ProgramID: program.ID,
		Event: "sale", Type: tracking.Percentage, PercentBP: &bp, Interval: tracking.Recurring}); err != nil {
		t.Fatalf("create reward: %v", err)
	}
	slug := "rf-" + ids.Random(6)
	partner := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: w.ws, ProgramID: program.ID,
		Email: slug + "@partners.example.com", Name: "Partner " + slug, Slug: slug, Status: "approved"}
	if err := st.CreatePartner(ctx, partner); err != nil {
		t.Fatalf("create partner: %v", err)
	}
	cl := &store.Click{ID: ids.New(ids.Click), IPHash: []byte(ids.Random(8)), Flags: pq.StringArray{}}
	if _, err := st.HotPath().RecordClick(ctx, slug, cl, time.Minute, 1000); err != nil {
		t.Fatalf("insert click: %v", err)
	}
	w.click = cl.ID
	return w
}

// sale records a sale of amount cents and returns its external id and its
// 10 % commission, taken to status ("pending", "approved", "paid", or
// "payout": approved and in a pending payout).
func (w *refundWorld) sale(amount int64, status string) (string, *store.Commission) {
	w.t.Helper()
	ext := "o-" + ids.Random(6)
	res, err := tracking.New(w.st).TrackSale(w.ctx, w.ws, tracking.SaleInput{ExternalID: ext,
		CustomerExternalID: "cus-" + ids.Random(6), AmountCents: amount, Currency: "USD", ClickID: w.click,
		EventName: "sale", OccurredAt: time.Now()})
	if err != nil || res.Commission == nil {
		w.t.Fatalf("track sale: %v %+v", err, res)
	}
	c := res.Commission
	to := []string{}
	switch status {
	case "approved", "payout":
		to = []string{commission.Approved}
	case "paid":
		to = []string{commission.Approved, commission.Paid}
	}
	for _, s := range to {
		if c, _, err = w.cs.SetStatus(w.ctx, w.ws, c.ID, s, "", "user:finance@example.com"); err != nil {
			w.t.Fatalf("set %s: %v", s, err)
		}
	}
	if status == "payout" {
		if _, err := w.cs.CreatePayout(w.ctx, w.ws, c.PartnerID, "USD", "user:finance@example.com"); err != nil {
			w.t.Fatalf("create payout: %v", err)
		}
	}
	return ext, c
}

func (w *refundWorld) refund(r commission.Refund) *commission.RefundResult {
	w.t.Helper()
	if r.Actor == "" {
		r.Actor = "test"
	}
	res, err := w.cs.Refund(w.ctx, w.ws, r)
	if err != nil {
		w.t.Fatalf("refund %+v: %v", r, err)
	}
	return res
}

// live adds up a sale's commissions that are not clawed back.
func live(cs []store.Commission) int64 {
	var sum int64
	for _, c := range cs {
		if c.Status != commission.ClawedBack {
			sum += c.AmountCents
		}
	}
	return sum
}

// checkInvariant: the live commissions of a sale add up to the commission
// on its part that is not refunded.
func (w *refundWorld) checkInvariant(res *commission.RefundResult, original int64) {
	w.t.Helper()
	want := original - money.ProRata(original, res.Sale.RefundedCents, res.Sale.AmountCents)
	if got := live(res.Commissions); got != want {
		w.t.Fatalf("live commissions add up to %d after %d of %d refunded, want %d: %+v",
			got, res.Sale.RefundedCents, res.Sale.AmountCents, want, res.Commissions)
	}
	stored, err := w.st.CommissionsOfEvent(w.ctx, w.ws, res.Sale.ID)
	if err != nil {
		w.t.Fatal(err)
	}
	if got := live(stored); got != want {
		w.t.Fatalf("stored live commissions add up to %d, want %d", got, want)
	}
}

func (w *refundWorld) history(id string) string {
	w.t.Helper()
	h, err := w.st.History(w.ctx, w.ws, id)
	if err != nil {
		w.t.Fatal(err)
	}
	var b strings.Builder
	for _, e := range h {
		from := "nil"
		if e.From != nil {
			from = *e.From
		}
		fmt.Fprintf(&b, "%s→%s %s [%s]\n", from, e.To, e.Reason, e.Actor)
	}
	return b.String()
}

func (w *refundWorld) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.GetContext(w.ctx, &n, query, append([]any{w.ws}, args...)...); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestRefunds runs the database cases in one database, each in a workspace of its own.
func TestRefunds(t *testing.T) {
	db, _ := testdb.New(t)
	db.SetMaxOpenConns(40)
	for _, tc := range []struct {
		name string
		run  func(*testing.T, *refundWorld)
	}{
		{"RefundSequencesKeepInvariant", testRefundSequences},
		{"RefundFullPendingClawsBack", testRefundFullPending},
		{"RefundFullPaidAddsAdjustment", testRefundFullPaid},
		{"RefundPartialThenApproval", testRefundPartialThenApproval},
		{"RefundRepeatChangesNothing", testRefundRepeat},
		{"RefundUnknownSale", testRefundUnknownSale},
		{"RefundWithoutCommission", testRefundWithoutCommission},
		{"RefundConcurrent", testRefundConcurrent},
		{"RefundLargerThanLeftChangesNothing", testRefundTooLarge},
		{"RefundAdjustmentsFollowTheirCommission", testRefundAdjustmentsFollow},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newRefundWorld(t, db))
		})
	}
}

// Every status the original may have, every way of splitting refunds: after
// each step the live commissions are the commission on what is not refunded.
func testRefundSequences(t *testing.T, w *refundWorld) {
	sequences := map[string][]int64{ // amounts; 0 = the rest
		"one full":              {0},
		"thirds":                {3333, 3333, 0},
		"partials to the end":   {2500, 2500, 2500, 2500},
		"many small":            {1, 2, 3, 997, 3, 1000, 0},
		"partial then too much": {7000, 7000}, // capped: what is left
	}
	for _, status := range []string{"pending", "approved", "paid", "payout"} {
		for name, amounts := range sequences {
			// A partner of its own: a payout takes all of a partner's balance.
			w := newRefundWorld(t, w.db)
			ext, c := w.sale(10000, status) // a 1,000 commission
			for i, a := range amounts {
				res := w.refund(commission.Refund{ExternalID: ext, AmountCents: a, Capped: true, Reason: "test " + name, Source: "the test"})
				w.checkInvariant(res, c.AmountCents)
				if i == len(amounts)-1 && res.Sale.RefundedCents != res.Sale.AmountCents {
					t.Fatalf("%s/%s: %d of %d refunded at the end", status, name, res.Sale.RefundedCents, res.Sale.AmountCents)
				}
			}
			// Past the end, nothing changes: refused, or capped to nothing.
			if _, err := w.cs.Refund(w.ctx, w.ws, commission.Refund{ExternalID: ext, AmountCents: 5, Actor: "test"}); !errors.Is(err, commission.ErrRefundTooLarge) {
				t.Fatalf("%s/%s: a refund of a refunded sale: %v, want ErrRefundTooLarge", status, name, err)
			}
			res := w.refund(commission.Refund{ExternalID: ext, AmountCents: 5, Capped: true})
			if res.RefundedCents != 0 {
				t.Fatalf("%s/%s: a refund of a refunded sale took %d", status, name, res.RefundedCents)
			}
			w.checkInvariant(res, c.AmountCents)
		}
	}
}

func testRefundFullPending(t *testing.T, w *refundWorld) {
	ext, c := w.sale(10000, "pending")
	res := w.refund(commission.Refund{ExternalID: ext, AmountCents: 2500, Reason: "damaged", Source: "the API", Actor: "api key k1"})
	if len(res.Commissions) != 2 {
		t.Fatalf("a partial refund gives %d commissions, want the original and one adjustment", len(res.Commissions))
	}
	adj := res.Commissions[1]
	if adj.AdjustsID == nil || *adj.AdjustsID != c.ID || adj.AmountCents != -250 || adj.Status != commission.Pending ||
		!adj.PayableAt.Equal(c.PayableAt) {
		t.Fatalf("adjustment %+v, want -250 pending of %s payable with it", adj, c.ID)
	}
	if res.Commissions[0].AmountCents != 1000 || res.Commissions[0].Status != commission.Pending {
		t.Fatalf("a partial refund changed the original: %+v", res.Commissions[0])
	}
	if h := w.history(adj.ID); !strings.Contains(h, "$25.00 of sale "+ext+" refunded ($25.00 of $100.00 in all) by the API; reason: damaged") ||
		!strings.Contains(h, "takes back -$2.50 of commission "+c.ID+" pro rata") || !strings.Contains(h, "[api key k1]") {
		t.Fatalf("adjustment history does not say why:\n%s", h)
	}
	if h := w.history(c.ID); !strings.Contains(h, "adjustment "+adj.ID+" of -$2.50") {
		t.Fatalf("original's history does not name the adjustment:\n%s", h)
	}

	res = w.refund(commission.Refund{ExternalID: ext, Reason: "customer left", Source: "the API"})
	for _, cm := range res.Commissions {
		if cm.Status != commission.ClawedBack {
			t.Fatalf("after a full refund %s is %s, want clawed_back", cm.ID, cm.Status)
		}
	}
	if h := w.history(c.ID); !strings.Contains(h, "pending→clawed_back refund: the rest of sale "+ext+" refunded ($75.00; $100.00 in all) by the API; reason: customer left") {
		t.Fatalf("clawback history:\n%s", h)
	}
	if n := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'commission.updated'
		AND payload->'data'->>'status' = 'clawed_back'`); n != 2 {
		t.Fatalf("%d commission.updated events to clawed_back, want 2 (original and adjustment)", n)
	}
	if n := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'commission.created'
		AND (payload->'data'->>'amountCents')::bigint < 0`); n != 1 {
		t.Fatalf("%d commission.created events for adjustments, want 1", n)
	}
}

func testRefundFullPaid(t *testing.T, w *refundWorld) {
	ext, c := w.sale(20000, "paid") // 2,000
	res := w.refund(commission.Refund{ExternalID: ext, AmountCents: 5000, Source: "Stripe charge ch_1"})
	if adj := res.Commissions[1]; adj.AmountCents != -500 || adj.Status != commission.Approved {
		t.Fatalf("partial refund of a paid commission: %+v, want an approved -500", adj)
	}
	res = w.refund(commission.Refund{ExternalID: ext, Reason: "chargeback", Source: "Stripe dispute dp_1"})
	if len(res.Commissions) != 3 {
		t.Fatalf("%d commissions, want the paid original and two adjustments", len(res.Commissions))
	}
	if o := res.Commissions[0]; o.Status != commission.Paid || o.AmountCents != 2000 {
		t.Fatalf("a paid commission was edited: %+v", o)
	}
	if adj := res.Commissions[2]; adj.AmountCents != -1500 || adj.Status != commission.Approved {
		t.Fatalf("full refund of a paid commission: %+v, want an approved -1500 (what is left)", adj)
	}
	w.checkInvariant(res, c.AmountCents)
	if h := w.history(c.ID); !strings.Contains(h, "clawed back after payout") || !strings.Contains(h, "reason: chargeback") {
		t.Fatalf("paid commission's history:\n%s", h)
	}
	// A clawback by hand now finds nothing left.
	if _, err := w.cs.Change(w.ctx, w.ws, c.ID, commission.ClawedBack, "again", "user:x"); !errors.Is(err, commission.ErrAlreadyClawedBack) {
		t.Fatalf("clawing back a refunded paid commission by hand: %v, want ErrAlreadyClawedBack", err)
	}
}

// A pending adjustment becomes payable, and approved, with its original;
// a payout then pays the net.
func testRefundPartialThenApproval(t *testing.T, w *refundWorld) {
	ext, c := w.sale(10000, "pending")
	w.refund(commission.Refund{ExternalID: ext, AmountCents: 4000})
	if _, err := w.cs.ApproveDue(w.ctx, 100); err != nil {
		t.Fatal(err)
	}
	cs, err := w.st.CommissionsOfEvent(w.ctx, w.ws, mustSaleID(t, w, ext))
	if err != nil {
		t.Fatal(err)
	}
	for _, cm := range cs {
		if cm.Status != commission.Approved {
			t.Fatalf("after approval %s is %s", cm.ID, cm.Status)
		}
	}
	p, err := w.cs.CreatePayout(w.ctx, w.ws, c.PartnerID, "USD", "user:finance@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if p.AmountCents != 600 {
		t.Fatalf("payout of %d, want 600 (1,000 less 400 refunded)", p.AmountCents)
	}
}

func mustSaleID(t *testing.T, w *refundWorld, ext string) string {
	t.Helper()
	ref, err := w.st.EventByExternalID(w.ctx, w.ws, "sale", ext)
	if err != nil {
		t.Fatal(err)
	}
	return ref.ID
}

func testRefundRepeat(t *testing.T, w *refundWorld) {
	ext, _ := w.sale(10000, "approved")
	first := w.refund(commission.Refund{ExternalID: ext})
	history := w.count(`SELECT count(*) FROM commission_history WHERE workspace_id = $1`)
	events := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1`)
	again := w.refund(commission.Refund{ExternalID: ext})
	if again.RefundedCents != 0 || summary(again.Commissions) != summary(first.Commissions) {
		t.Fatalf("a repeated full refund changed something: %+v", again)
	}
	if h, e := w.count(`SELECT count(*) FROM commission_history WHERE workspace_id = $1`),
		w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1`); h != history || e != events {
		t.Fatalf("a repeated full refund wrote history (%d→%d) or events (%d→%d)", history, h, events, e)
	}
	// Cumulative totals (Stripe's): the same or an older total changes nothing.
	ext2, _ := w.sale(10000, "approved")
	w.refund(commission.Refund{ExternalID: ext2, TotalCents: 3000})
	history = w.count(`SELECT count(*) FROM commission_history WHERE workspace_id = $1`)
	events = w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1`)
	for _, total := range []int64{3000, 2000} {
		if res := w.refund(commission.Refund{ExternalID: ext2, TotalCents: total}); res.RefundedCents != 0 || res.Sale.RefundedCents != 3000 {
			t.Fatalf("total %d again: %+v", total, res)
		}
	}
	if h, e := w.count(`SELECT count(*) FROM commission_history WHERE workspace_id = $1`),
		w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1`); h != history || e != events {
		t.Fatalf("repeats wrote history (%d→%d) or events (%d→%d)", history, h, events, e)
	}
}

// summary is a sale's commissions in words, to compare two replies.
func summary(cs []store.Commission) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%s %s %d %s;", c.ID, c.Status, c.AmountCents, c.UpdatedAt)
	}
	return b.String()
}

func testRefundUnknownSale(t *testing.T, w *refundWorld) {
	_, err := w.cs.Refund(w.ctx, w.ws, commission.Refund{ExternalID: "no-such-order", Actor: "test"})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refund of an unknown sale: %v, want ErrNotFound", err)
	}
	// Another workspace's sale is unknown too.
	ext, _ := w.sale(10000, "pending")
	other := newRefundWorld(t, w.db)
	if _, err := other.cs.Refund(other.ctx, other.ws, commission.Refund{ExternalID: ext, Actor: "test"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refund of another workspace's sale: %v, want ErrNotFound", err)
	}
	if n := w.count(`SELECT count(*) FROM events WHERE workspace_id = $1 AND refunded_cents > 0`); n != 0 {
		t.Fatalf("%d sales refunded", n)
	}
}

// A sale without commission (a partner who is not approved earns none) is
// still refunded.
func testRefundWithoutCommission(t *testing.T, w *refundWorld) {
	ext, c := w.sale(10000, "pending")
	if _, err := w.db.ExecContext(w.ctx, `UPDATE partners SET status = 'suspended' WHERE workspace_id = $1 AND id = $2`, w.ws, c.PartnerID); err != nil {
		t.Fatal(err)
	}
	res, err := tracking.New(w.st).TrackSale(w.ctx, w.ws, tracking.SaleInput{ExternalID: ext + "-2",
		CustomerExternalID: "cus-" + ids.Random(6), AmountCents: 5000, Currency: "USD", ClickID: w.click,
		EventName: "sale", OccurredAt: time.Now()})
	if err != nil || res.Commission != nil {
		t.Fatalf("sale of a suspended partner: %v %+v", err, res)
	}
	r := w.refund(commission.Refund{ExternalID: ext + "-2", AmountCents: 1000})
	if r.Sale.RefundedCents != 1000 || len(r.Commissions) != 0 {
		t.Fatalf("refund of a sale without commission: %+v", r)
	}
}

func testRefundConcurrent(t *testing.T, w *refundWorld) {
	// Eight full refunds at once: one clawback.
	ext, c := w.sale(10000, "approved")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.cs.Refund(w.ctx, w.ws, commission.Refund{ExternalID: ext, Actor: "test"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent refund: %v", err)
		}
	}
	if n := w.count(`SELECT count(*) FROM commission_history WHERE workspace_id = $1 AND commission_id = $2 AND to_status = 'clawed_back'`, c.ID); n != 1 {
		t.Fatalf("%d clawbacks, want 1", n)
	}
	// Ten partial refunds of 10 % at once, on a paid commission: all of them, each once.
	ext2, c2 := w.sale(10000, "paid")
	errs = make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.cs.Refund(w.ctx, w.ws, commission.Refund{ExternalID: ext2, AmountCents: 1000, Actor: "test"})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent refund: %v", err)
		}
	}
	res := w.refund(commission.Refund{ExternalID: ext2}) // the rest: nothing
	if res.Sale.RefundedCents != 10000 || res.RefundedCents != 0 {
		t.Fatalf("after ten 10 %% refunds: %+v", res.Sale)
	}
	w.checkInvariant(res, c2.AmountCents)
	if n := w.count(`SELECT count(*) FROM commissions WHERE workspace_id = $1 AND adjusts_id = $2`, c2.ID); n != 10 {
		t.Fatalf("%d adjustments, want 10", n)
	}
}

// A refund's adjustments change with their commission when people change
// it by hand, so nothing is counted twice; a later refund finds nothing left.
func testRefundAdjustmentsFollow(t *testing.T, w *refundWorld) {
	ext, c := w.sale(10000, "pending")
	w.refund(commission.Refund{ExternalID: ext, AmountCents: 5000})
	if _, err := w.cs.Change(w.ctx, w.ws, c.ID, commission.ClawedBack, "fraud", "user:finance@example.com"); err != nil {
		t.Fatal(err)
	}
	res := w.refund(commission.Refund{ExternalID: ext})
	if live(res.Commissions) != 0 || len(res.Commissions) != 2 {
		t.Fatalf("after a clawback by hand and a full refund: %+v", res.Commissions)
	}
	// Approving by hand takes a pending adjustment along.
	ext2, c2 := w.sale(10000, "pending")
	w.refund(commission.Refund{ExternalID: ext2, AmountCents: 2000})
	if _, err := w.cs.Change(w.ctx, w.ws, c2.ID, commission.Approved, "", "user:finance@example.com"); err != nil {
		t.Fatal(err)
	}
	res = w.refund(commission.Refund{ExternalID: ext2, AmountCents: 1000})
	for _, cm := range res.Commissions {
		if cm.Status != commission.Approved {
			t.Fatalf("%s is %s after its commission was approved", cm.ID, cm.Status)
		}
	}
	w.checkInvariant(res, c2.AmountCents)
}

// A refund of more than is left of the sale is refused and changes nothing,
// its refund id included; a retry of a refund id applied before is still a
// no-op, whatever is left.
func testRefundTooLarge(t *testing.T, w *refundWorld) {
	ext, c := w.sale(10000, "pending")
	w.refund(commission.Refund{ExternalID: ext, AmountCents: 6000, RefundID: "re_a"})
	history := w.history(c.ID)
	for _, r := range []commission.Refund{
		{ExternalID: ext, AmountCents: 4001, Actor: "test"},
		{ExternalID: ext, AmountCents: 6000, RefundID: "re_b", Actor: "test"},
	} {
		_, err := w.cs.Refund(w.ctx, w.ws, r)
		var tooLarge *commission.RefundTooLargeError
		if !errors.As(err, &tooLarge) || tooLarge.LeftCents != 4000 || tooLarge.SaleCents != 10000 {
			t.Fatalf("refund %+v of a sale with 4,000 left: %v, want RefundTooLargeError with 4000 left", r, err)
		}
	}
	if n := w.count(`SELECT refunded_cents FROM events WHERE workspace_id = $1 AND external_id = $2`, ext); n != 6000 {
		t.Fatalf("refunded %d after refused refunds, want 6000", n)
	}
	if n := w.count(`SELECT count(*) FROM refund_keys WHERE workspace_id = $1`); n != 1 {
		t.Fatalf("%d refund keys after a refused refund with one, want 1", n)
	}
	if got := w.history(c.ID); got != history {
		t.Fatalf("a refused refund wrote history:\n%s\nwas:\n%s", got, history)
	}
	res := w.refund(commission.Refund{ExternalID: ext, AmountCents: 6000, RefundID: "re_a"}) // a retry
	if res.RefundedCents != 0 || res.Sale.RefundedCents != 6000 {
		t.Fatalf("a retried refund id: %+v", res)
	}
	res = w.refund(commission.Refund{ExternalID: ext, AmountCents: 4000, RefundID: "re_b"}) // exactly what is left
	if res.Sale.RefundedCents != 10000 {
		t.Fatalf("refunding what is left: %+v", res.Sale)
	}
	w.checkInvariant(res, c.AmountCents)
}
