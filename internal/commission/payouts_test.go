package commission_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

func TestCheckPayable(t *testing.T) {
	tests := []struct {
		name             string
		balance, minimum int64
		want             error // nil: payable
	}{
		{"positive, no minimum", 1, 0, nil},
		{"exactly the minimum", 5000, 5000, nil},
		{"above the minimum", 5001, 5000, nil},
		{"below the minimum", 4999, 5000, commission.ErrBelowMinimum},
		{"zero", 0, 0, commission.ErrNothingToPay},
		{"zero with a minimum", 0, 100, commission.ErrNothingToPay},
		{"negative", -1, 0, commission.ErrBelowMinimum},
		{"negative with a minimum", -2500, 1000, commission.ErrBelowMinimum},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := commission.CheckPayable(tc.balance, "USD", tc.minimum, "USD")
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckPayable(%d, %d) = %v, want nil", tc.balance, tc.minimum, err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !errors.Is(err, commission.ErrPayoutRefused) || !commission.IsPayoutRefusal(err) {
				t.Fatalf("CheckPayable(%d, %d) = %v, want %v (a payout refusal)", tc.balance, tc.minimum, err, tc.want)
			}
			if msg := commission.Explain(err); msg == "" || strings.HasPrefix(msg, "payout refused") {
				t.Fatalf("Explain = %q, want the reason in words", msg)
			}
		})
	}
	if got := commission.Explain(commission.CheckPayable(-2500, "USD", 0, "USD")); !strings.Contains(got, "-$25.00") || !strings.Contains(got, "carries forward") {
		t.Fatalf("a negative balance is explained as %q", got)
	}
	if got := commission.Explain(commission.CheckPayable(3000, "EUR", 5000, "EUR")); !strings.Contains(got, "€30.00") || !strings.Contains(got, "€50.00") {
		t.Fatalf("a balance below the minimum is explained as %q", got)
	}
}

func TestPayoutThreshold(t *testing.T) {
	for _, tc := range []struct {
		currency string
		min      int64
		want     int64
	}{{"USD", 0, 1}, {"USD", 1, 1}, {"USD", 2500, 2500}, {"EUR", 5000, 1}, {"JPY", 5000, 1}} {
		if got := commission.PayoutThreshold(tc.currency, tc.min, "USD"); got != tc.want {
			t.Errorf("PayoutThreshold(%s, %d USD) = %d, want %d", tc.currency, tc.min, got, tc.want)
		}
	}
}

// A program's minimum is an amount of its currency: a balance in another
// currency is never compared with it as if the units were the same (issue
// 11, item 18: a $50 minimum was shown, and applied, as €50.00).
func TestMinimumOnlyInItsCurrency(t *testing.T) {
	if err := commission.CheckPayable(3000, "EUR", 5000, "USD"); err != nil {
		t.Fatalf("€30 against a $50 minimum: %v, want payable (the minimum is in dollars)", err)
	}
	err := commission.CheckPayable(3000, "USD", 5000, "USD")
	if !errors.Is(err, commission.ErrBelowMinimum) || !strings.Contains(commission.Explain(err), "$50.00") {
		t.Fatalf("$30 against a $50 minimum: %v", err)
	}
	if commission.MinimumApplies("EUR", "USD") || !commission.MinimumApplies("USD", "USD") {
		t.Fatal("MinimumApplies")
	}
}

func TestCheckChange(t *testing.T) {
	payout, orig := "po_x", "cm_orig"
	c := func(status string, mod func(*store.Commission)) *store.Commission {
		cm := &store.Commission{ID: "cm_1", Status: status, AmountCents: 100}
		if mod != nil {
			mod(cm)
		}
		return cm
	}
	inPayout := func(cm *store.Commission) { cm.PayoutID = &payout }
	adjustment := func(cm *store.Commission) { cm.AdjustsID = &orig; cm.AmountCents = -100 }
	tests := []struct {
		name       string
		c          *store.Commission
		to, reason string
		want       error
		says       string
	}{
		{"approve pending", c("pending", nil), commission.Approved, "", nil, ""},
		{"pay approved", c("approved", nil), commission.Paid, "", nil, ""},
		{"claw back pending", c("pending", nil), commission.ClawedBack, "refund", nil, ""},
		{"claw back paid", c("paid", nil), commission.ClawedBack, "refund", nil, ""},
		{"claw back paid without reason", c("paid", nil), commission.ClawedBack, " ", commission.ErrReasonRequired, "reason"},
		{"claw back approved without reason", c("approved", nil), commission.ClawedBack, "", commission.ErrReasonRequired, "reason"},
		{"approve paid", c("paid", nil), commission.Approved, "", commission.ErrInvalidTransition, "a paid commission cannot become approved"},
		{"approve clawed back", c("clawed_back", nil), commission.Approved, "", commission.ErrInvalidTransition, "a clawed back commission cannot become approved"},
		{"pay in payout", c("approved", inPayout), commission.Paid, "", commission.ErrInvalidTransition, "mark that payout paid instead"},
		{"claw back in payout", c("approved", inPayout), commission.ClawedBack, "refund", commission.ErrInvalidTransition, "cancel that payout first"},
		{"change an adjustment", c("approved", adjustment), commission.ClawedBack, "oops", commission.ErrInvalidTransition, "is a negative adjustment"},
		{"pay an adjustment", c("approved", adjustment), commission.Paid, "", commission.ErrInvalidTransition, "is a negative adjustment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := commission.CheckChange(tc.c, tc.to, tc.reason)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("CheckChange = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tc.want) || !commission.IsRefusal(err) {
				t.Fatalf("CheckChange = %v, want %v", err, tc.want)
			}
			if got := commission.Explain(err); !strings.Contains(got, tc.says) {
				t.Fatalf("Explain = %q, want it to contain %q", got, tc.says)
			}
		})
	}
}

// world is one test's workspace: a USD program without holding period, a
// 10 % recurring sale reward and one approved partner with a click.
type world struct {
	t       *testing.T
	ctx     context.Context
	db      *sqlx.DB
	st      *store.Store
	cs      *commission.Service
	ws      string
	program *store.Program
	partner *store.Partner
	click   string
}

func newWorld(t *testing.T, db *sqlx.DB, minPayoutCents int64) *world {
	t.Helper()
	ctx := context.Background()
	st := store.New(db)
	created, err := accounts.CreateWorkspace(ctx, st, accounts.NewWorkspace{
		Name: "Acme " + ids.Random(4), OwnerEmail: "owner-" + ids.Random(4) + "@example.com", OwnerPassword: "correct horse battery"})
	if err != nil {
		t.Fatalf("create workspace: %v", err)
	}
	w := &world{t: t, ctx: ctx, db: db, st: st, cs: commission.New(st), ws: created.Workspace.ID}
	w.program = &store.Program{ID: ids.New(ids.Program), WorkspaceID: w.ws, Name: "Program", Slug: "p-" + ids.Random(5),
		DestinationURL: "https://shop.example.com/", Currency: "USD", HoldingPeriodDays: 0, CookieDays: 30, MinPayoutCents: minPayoutCents}
	if err := st.CreateProgram(ctx, w.program); err != nil {
		t.Fatalf("create program: %v", err)
	}
	bp := int64(1000)
	if err := st.CreateReward(ctx, &store.Reward{ID: ids.New(ids.Reward), WorkspaceID: w.ws, ProgramID: w.program.ID,
		Event: "sale", Type: tracking.Percentage, PercentBP: &bp, Interval: tracking.Recurring}); err != nil {
		t.Fatalf("create reward: %v", err)
	}
	slug := "pt-" + ids.Random(6)
	w.partner = &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: w.ws, ProgramID: w.program.ID,
		Email: slug + "@partners.example.com", Name: "Partner " + slug, Slug: slug, Status: "approved"}
	if err := st.CreatePartner(ctx, w.partner); err != nil {
		t.Fatalf("create partner: %v", err)
	}
	cl := &store.Click{ID: ids.New(ids.Click), IPHash: []byte(ids.Random(8)), Flags: pq.StringArray{}}
	if _, err := st.HotPath().RecordClick(ctx, slug, cl, time.Minute, 1000); err != nil {
		t.Fatalf("insert click: %v", err)
	}
	w.click = cl.ID
	return w
}

// sale records a sale of amount cents for a new customer and returns its
// (pending) commission of 10 %.
func (w *world) sale(amount int64) *store.Commission {
	w.t.Helper()
	res, err := tracking.New(w.st).TrackSale(w.ctx, w.ws, tracking.SaleInput{ExternalID: "o-" + ids.Random(6),
		CustomerExternalID: "cus-" + ids.Random(6), AmountCents: amount, Currency: "USD", ClickID: w.click,
		EventName: "sale", OccurredAt: time.Now()})
	if err != nil || res.Commission == nil {
		w.t.Fatalf("track sale: %v %+v", err, res)
	}
	return res.Commission
}

// change applies a change that must succeed.
func (w *world) change(id, to, reason string) *commission.Outcome {
	w.t.Helper()
	out, err := w.cs.Change(w.ctx, w.ws, id, to, reason, "user:finance@example.com")
	if err != nil {
		w.t.Fatalf("change %s to %s: %v", id, to, err)
	}
	return out
}

// paid records a sale and takes its commission to paid.
func (w *world) paid(amount int64) *store.Commission {
	w.t.Helper()
	c := w.sale(amount)
	w.change(c.ID, commission.Approved, "")
	return w.change(c.ID, commission.Paid, "").Commission
}

func (w *world) approved(amount int64) *store.Commission {
	w.t.Helper()
	c := w.sale(amount)
	return w.change(c.ID, commission.Approved, "").Commission
}

func (w *world) count(query string, args ...any) int {
	w.t.Helper()
	var n int
	if err := w.db.GetContext(w.ctx, &n, query, append([]any{w.ws}, args...)...); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (w *world) commission(id string) *store.Commission {
	w.t.Helper()
	c, err := w.st.Commission(w.ctx, w.ws, id)
	if err != nil {
		w.t.Fatalf("commission %s: %v", id, err)
	}
	return c
}

// TestPayouts runs the database cases in one database, each in a workspace of its own.
func TestPayouts(t *testing.T) {
	db, _ := testdb.New(t)
	db.SetMaxOpenConns(40)
	for _, tc := range []struct {
		name string
		min  int64
		run  func(*testing.T, *world)
	}{
		{"ClawBackPaidMakesAdjustment", 0, testClawBackPaid},
		{"ConcurrentClawBackOfPaid", 0, testConcurrentClawBack},
		{"ClawBackPendingAndApproved", 0, testClawBackUnpaid},
		{"PayoutNetsAdjustment", 0, testPayoutNetsAdjustment},
		{"NegativeBalanceCarriesForward", 0, testNegativeBalance},
		{"MinimumPayout", 5000, testMinimumPayout},
		{"ConcurrentCreatePayout", 0, testConcurrentCreatePayout},
		{"CommissionsInPendingPayout", 0, testInPendingPayout},
		{"CancelPayout", 0, testCancelPayout},
		{"AdjustmentsFollowTheirCommission", 0, testAdjustmentsFollow},
		{"ClawBackPaidTakesWhatIsLeft", 0, testClawBackWhatIsLeft},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newWorld(t, db, tc.min))
		})
	}
}

func testClawBackPaid(t *testing.T, w *world) {
	c := w.paid(25000) // a 2,500 commission
	before := w.commission(c.ID)
	events := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1`)

	out, err := w.cs.Change(w.ctx, w.ws, c.ID, commission.ClawedBack, "  chargeback  ", "user:finance@example.com")
	if err != nil {
		t.Fatalf("claw back a paid commission: %v", err)
	}
	adj := out.Adjustment
	if adj == nil {
		t.Fatal("no adjustment")
	}
	if adj.AmountCents != -2500 || adj.Status != commission.Approved || adj.AdjustsID == nil || *adj.AdjustsID != c.ID ||
		adj.PartnerID != c.PartnerID || adj.ProgramID != c.ProgramID || adj.Currency != "USD" || adj.EventID != c.EventID ||
		adj.CustomerID == nil || *adj.CustomerID != *c.CustomerID || adj.PayoutID != nil {
		t.Fatalf("adjustment %+v", adj)
	}
	if adj.RewardType == nil || *adj.RewardType != "percentage" || adj.RewardPercentBP == nil || *adj.RewardPercentBP != 1000 {
		t.Fatalf("the reward snapshot was not copied: %+v", adj)
	}
	if time.Since(adj.PayableAt) > time.Minute || adj.PayableAt.After(time.Now().Add(time.Second)) {
		t.Fatalf("adjustment payable at %v, want now", adj.PayableAt)
	}

	after := w.commission(c.ID)
	if after.Status != commission.Paid || after.AmountCents != before.AmountCents || !after.UpdatedAt.Equal(before.UpdatedAt) {
		t.Fatalf("the paid commission was edited: before %+v after %+v", before, after)
	}
	h, _ := w.st.History(w.ctx, w.ws, c.ID)
	last := h[len(h)-1]
	if last.From == nil || *last.From != "paid" || last.To != "paid" || last.Actor != "user:finance@example.com" ||
		last.Reason != "clawed back after payout: adjustment "+adj.ID+" of -$25.00 nets against the next payout; reason: chargeback" {
		t.Fatalf("history note on the original: %+v", last)
	}
	ah, _ := w.st.History(w.ctx, w.ws, adj.ID)
	if len(ah) != 1 || ah[0].From != nil || ah[0].To != "approved" || ah[0].Actor != "user:finance@example.com" ||
		ah[0].Reason != "created: clawback of paid commission "+c.ID+"; reason: chargeback" {
		t.Fatalf("history of the adjustment: %+v", ah)
	}
	if n := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1`); n != events+1 {
		t.Fatalf("%d new outbox events, want 1", n-events)
	}
	if n := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'commission.created'
		AND payload->'data'->>'id' = $2 AND (payload->'data'->>'amountCents')::int = -2500`, adj.ID); n != 1 {
		t.Fatal("no commission.created event for the adjustment")
	}

	// Only once.
	_, err = w.cs.Change(w.ctx, w.ws, c.ID, commission.ClawedBack, "again", "user:finance@example.com")
	if !errors.Is(err, commission.ErrAlreadyClawedBack) || !commission.IsRefusal(err) {
		t.Fatalf("second clawback: %v, want ErrAlreadyClawedBack", err)
	}
	if !strings.Contains(commission.Explain(err), "already clawed back") || !strings.Contains(commission.Explain(err), adj.ID) {
		t.Fatalf("second clawback explained as %q", commission.Explain(err))
	}
	// Nor may the adjustment itself be changed by hand.
	for _, to := range []string{commission.Paid, commission.ClawedBack} {
		if _, err := w.cs.Change(w.ctx, w.ws, adj.ID, to, "x", "user:finance@example.com"); !commission.IsRefusal(err) {
			t.Fatalf("change the adjustment to %s: %v, want a refusal", to, err)
		}
	}
	if n := w.count(`SELECT count(*) FROM commissions WHERE workspace_id = $1 AND adjusts_id = $2`, c.ID); n != 1 {
		t.Fatalf("%d adjustments, want 1", n)
	}
	// Without a reason nothing happens.
	c2 := w.paid(1000)
	if _, err := w.cs.Change(w.ctx, w.ws, c2.ID, commission.ClawedBack, " ", "u"); !errors.Is(err, commission.ErrReasonRequired) {
		t.Fatalf("clawback without reason: %v", err)
	}
	if n := w.count(`SELECT count(*) FROM commissions WHERE workspace_id = $1 AND adjusts_id = $2`, c2.ID); n != 0 {
		t.Fatal("an adjustment was made without a reason")
	}
}

func testConcurrentClawBack(t *testing.T, w *world) {
	c := w.paid(10000)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, refused := 0, 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := w.cs.Change(w.ctx, w.ws, c.ID, commission.ClawedBack, "refund", "user:a@example.com")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, commission.ErrAlreadyClawedBack):
				refused++
			default:
				t.Errorf("clawback: %v", err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 || refused != 7 {
		t.Fatalf("%d clawbacks succeeded and %d were refused, want 1 and 7", ok, refused)
	}
	if n := w.count(`SELECT count(*) FROM commissions WHERE workspace_id = $1 AND adjusts_id = $2`, c.ID); n != 1 {
		t.Fatalf("%d adjustments, want 1", n)
	}
}

func testClawBackUnpaid(t *testing.T, w *world) {
	pending := w.sale(5000)
	approved := w.approved(7000)
	for _, c := range []*store.Commission{pending, approved} {
		out := w.change(c.ID, commission.ClawedBack, "refund")
		if out.Adjustment != nil || out.Commission.Status != commission.ClawedBack {
			t.Fatalf("clawback of a %s commission: %+v", c.Status, out)
		}
		h, _ := w.st.History(w.ctx, w.ws, c.ID)
		if last := h[len(h)-1]; last.To != commission.ClawedBack || last.Reason != "refund" || last.Actor != "user:finance@example.com" {
			t.Fatalf("history %+v", last)
		}
	}
	_, err := w.cs.Change(w.ctx, w.ws, pending.ID, commission.Approved, "", "u")
	if !errors.Is(err, commission.ErrInvalidTransition) || commission.Explain(err) != "a clawed back commission cannot become approved" {
		t.Fatalf("approve a clawed back commission: %v (%q)", err, commission.Explain(err))
	}
	if _, err := w.cs.Change(w.ctx, w.ws, "cm_nope", commission.Approved, "", "u"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown commission: %v", err)
	}
}

func testPayoutNetsAdjustment(t *testing.T, w *world) {
	old := w.paid(10000)                                                // 1,000, paid in an earlier payout
	adj := w.change(old.ID, commission.ClawedBack, "refund").Adjustment // -1,000
	a1 := w.approved(20000)                                             // 2,000
	a2 := w.approved(15000)                                             // 1,500
	w.sale(99900)                                                       // pending: not in the payout

	bs, _, err := w.st.ReadyToPay(w.ctx, w.ws, "", nil, 50)
	if err != nil || len(bs) != 1 {
		t.Fatalf("ready to pay: %v %+v", err, bs)
	}
	if b := bs[0]; b.Cents != 2500 || b.Count != 3 || b.AdjustmentCents != -1000 || b.Currency != "USD" || b.PartnerID != w.partner.ID {
		t.Fatalf("balance %+v, want 2,500 of 3 commissions with -1,000 of adjustments", b)
	}

	p, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "usd", "user:finance@example.com")
	if err != nil {
		t.Fatalf("create payout: %v", err)
	}
	if p.AmountCents != 2500 || p.Status != commission.PayoutPending || p.Currency != "USD" || p.CreatedBy != "user:finance@example.com" {
		t.Fatalf("payout %+v", p)
	}
	for _, id := range []string{adj.ID, a1.ID, a2.ID} {
		if c := w.commission(id); c.PayoutID == nil || *c.PayoutID != p.ID || c.Status != commission.Approved {
			t.Fatalf("commission %s after create payout: %+v", id, c)
		}
	}
	if bs, _, _ := w.st.ReadyToPay(w.ctx, w.ws, "", nil, 50); len(bs) != 0 {
		t.Fatalf("balances left after the payout: %+v", bs)
	}

	if _, err := w.cs.MarkPayoutPaid(w.ctx, w.ws, p.ID, "  ", "u"); !errors.Is(err, commission.ErrReferenceRequired) {
		t.Fatalf("mark paid without reference: %v", err)
	}
	events := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'commission.updated'`)
	paid, err := w.cs.MarkPayoutPaid(w.ctx, w.ws, p.ID, "SEPA-42", "user:finance@example.com")
	if err != nil {
		t.Fatalf("mark paid: %v", err)
	}
	if paid.Status != commission.PayoutPaid || paid.Reference != "SEPA-42" || paid.PaidAt == nil {
		t.Fatalf("paid payout %+v", paid)
	}
	for _, id := range []string{adj.ID, a1.ID, a2.ID} {
		if c := w.commission(id); c.Status != commission.Paid {
			t.Fatalf("commission %s is %s after the payout was paid", id, c.Status)
		}
		h, _ := w.st.History(w.ctx, w.ws, id)
		if last := h[len(h)-1]; last.To != "paid" || last.Actor != "user:finance@example.com" || !strings.Contains(last.Reason, p.ID) || !strings.Contains(last.Reason, "SEPA-42") {
			t.Fatalf("history of %s: %+v", id, last)
		}
	}
	if n := w.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'commission.updated'`); n != events+3 {
		t.Fatalf("%d commission.updated events, want 3", n-events)
	}
	if _, err := w.cs.MarkPayoutPaid(w.ctx, w.ws, p.ID, "again", "u"); !errors.Is(err, commission.ErrPayoutTransition) {
		t.Fatalf("mark a paid payout paid again: %v", err)
	}
	if _, err := w.cs.CancelPayout(w.ctx, w.ws, p.ID); !errors.Is(err, commission.ErrPayoutTransition) {
		t.Fatalf("cancel a paid payout: %v", err)
	}
}

func testNegativeBalance(t *testing.T, w *world) {
	old := w.paid(30000)
	w.change(old.ID, commission.ClawedBack, "chargeback") // -3,000
	w.approved(10000)                                     // +1,000 → balance -2,000

	_, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u")
	if !errors.Is(err, commission.ErrBelowMinimum) || !strings.Contains(commission.Explain(err), "-$20.00") {
		t.Fatalf("payout of a negative balance: %v (%q)", err, commission.Explain(err))
	}
	if n := w.count(`SELECT count(*) FROM payouts WHERE workspace_id = $1`); n != 0 {
		t.Fatalf("%d payouts made", n)
	}
	// It carries forward: later commissions lift it.
	w.approved(25000) // +2,500 → 500
	p, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u")
	if err != nil || p.AmountCents != 500 {
		t.Fatalf("payout once the balance is positive: %v %+v", err, p)
	}
	if n := w.count(`SELECT count(*) FROM commissions WHERE workspace_id = $1 AND payout_id = $2`, p.ID); n != 3 {
		t.Fatalf("%d commissions in the payout, want 3 (the adjustment consumed)", n)
	}
}

func testMinimumPayout(t *testing.T, w *world) {
	w.approved(30000) // 3,000 < 5,000
	_, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u")
	if !errors.Is(err, commission.ErrBelowMinimum) || !strings.Contains(commission.Explain(err), "minimum payout of $50.00") {
		t.Fatalf("payout below the minimum: %v (%q)", err, commission.Explain(err))
	}
	if _, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "EUR", "u"); !errors.Is(err, commission.ErrNothingToPay) {
		t.Fatalf("payout in a currency without commissions: %v", err)
	}
	if _, err := w.cs.CreatePayout(w.ctx, w.ws, "ptn_nope", "USD", "u"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("payout for an unknown partner: %v", err)
	}
	w.approved(20000) // 5,000: exactly the minimum
	if p, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u"); err != nil || p.AmountCents != 5000 {
		t.Fatalf("payout at the minimum: %v %+v", err, p)
	}
}

func testConcurrentCreatePayout(t *testing.T, w *world) {
	for range 5 {
		w.approved(10000)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	made, nothing := 0, 0
	start := make(chan struct{})
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				made++
			case errors.Is(err, commission.ErrNothingToPay):
				nothing++
			default:
				t.Errorf("create payout: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if made != 1 || nothing != 9 {
		t.Fatalf("%d payouts made and %d refused, want 1 and 9", made, nothing)
	}
	var amounts []int64
	if err := w.db.SelectContext(w.ctx, &amounts, `SELECT amount_cents FROM payouts WHERE workspace_id = $1`, w.ws); err != nil {
		t.Fatal(err)
	}
	if len(amounts) != 1 || amounts[0] != 5000 {
		t.Fatalf("payouts %v, want one of 5,000", amounts)
	}
}

func testInPendingPayout(t *testing.T, w *world) {
	c := w.approved(10000)
	p, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u")
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.cs.Change(w.ctx, w.ws, c.ID, commission.Paid, "", "u")
	if !errors.Is(err, commission.ErrInvalidTransition) || !strings.Contains(commission.Explain(err), p.ID) {
		t.Fatalf("pay a commission of a pending payout: %v", err)
	}
	_, err = w.cs.Change(w.ctx, w.ws, c.ID, commission.ClawedBack, "refund", "u")
	if !errors.Is(err, commission.ErrInvalidTransition) || !strings.Contains(commission.Explain(err), "cancel that payout first") {
		t.Fatalf("claw back a commission of a pending payout: %v", err)
	}
	if got := w.commission(c.ID); got.Status != commission.Approved {
		t.Fatalf("status %s", got.Status)
	}
}

func testCancelPayout(t *testing.T, w *world) {
	c := w.approved(10000)
	p, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u")
	if err != nil {
		t.Fatal(err)
	}
	cancelled, err := w.cs.CancelPayout(w.ctx, w.ws, p.ID)
	if err != nil || cancelled.Status != commission.PayoutCanceled || cancelled.CanceledAt == nil {
		t.Fatalf("cancel: %v %+v", err, cancelled)
	}
	if got := w.commission(c.ID); got.PayoutID != nil || got.Status != commission.Approved {
		t.Fatalf("commission after cancel: %+v", got)
	}
	if _, err := w.cs.MarkPayoutPaid(w.ctx, w.ws, p.ID, "ref", "u"); !errors.Is(err, commission.ErrPayoutTransition) {
		t.Fatalf("mark a cancelled payout paid: %v", err)
	}
	// Back in the balance: it can be clawed back now, or paid out again.
	w.change(c.ID, commission.ClawedBack, "refund")
	if _, err := w.cs.CreatePayout(w.ctx, w.ws, w.partner.ID, "USD", "u"); !errors.Is(err, commission.ErrNothingToPay) {
		t.Fatalf("payout after the clawback: %v", err)
	}
	if _, err := w.cs.CancelPayout(w.ctx, w.ws, "po_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("cancel an unknown payout: %v", err)
	}
}

func TestAdjustmentsFollowing(t *testing.T) {
	orig := &store.Commission{ID: "cm_o", Status: commission.Pending, AmountCents: 1000}
	payout := "po_1"
	adj := func(id, status string, inPayout bool) store.Commission {
		a := store.Commission{ID: id, Status: status, AmountCents: -100, AdjustsID: &orig.ID}
		if inPayout {
			a.PayoutID = &payout
		}
		return a
	}
	ids := func(cs []*store.Commission) string {
		var out []string
		for _, c := range cs {
			out = append(out, c.ID)
		}
		return strings.Join(out, ",")
	}
	tests := []struct {
		name    string
		adjs    []store.Commission
		to      string
		want    string
		refused bool
	}{
		{"approve takes pending ones", []store.Commission{adj("a1", "pending", false), adj("a2", "approved", false), adj("a3", "clawed_back", false)}, commission.Approved, "a1", false},
		{"pay takes none", []store.Commission{adj("a1", "pending", false), adj("a2", "approved", false)}, commission.Paid, "", false},
		{"claw back takes live ones", []store.Commission{adj("a1", "pending", false), adj("a2", "approved", false), adj("a3", "clawed_back", false)}, commission.ClawedBack, "a1,a2", false},
		{"claw back refused with a paid one", []store.Commission{adj("a1", "pending", false), adj("a2", "paid", false)}, commission.ClawedBack, "", true},
		{"claw back refused with one in a payout", []store.Commission{adj("a1", "approved", true)}, commission.ClawedBack, "", true},
		{"nothing to follow", nil, commission.ClawedBack, "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := commission.AdjustmentsFollowing(orig, tc.adjs, tc.to)
			if tc.refused {
				if !errors.Is(err, commission.ErrInvalidTransition) || !strings.Contains(commission.Explain(err), "a2") && !strings.Contains(commission.Explain(err), "a1") {
					t.Fatalf("err %v, want a refusal naming the adjustment", err)
				}
				return
			}
			if err != nil || ids(got) != tc.want {
				t.Fatalf("AdjustmentsFollowing = %q, %v; want %q", ids(got), err, tc.want)
			}
		})
	}
}

// adjust adds a negative adjustment of amount to c, as a refund does.
func (w *world) adjust(c *store.Commission, amount int64, status string) *store.Commission {
	w.t.Helper()
	a := *c
	a.ID, a.AdjustsID, a.AmountCents, a.Status, a.PayoutID = ids.New(ids.Commission), &c.ID, amount, status, nil
	err := w.st.InTx(w.ctx, func(tx *store.Tx) error {
		if err := tx.InsertAdjustment(w.ctx, &a, "partial refund", "test"); err != nil {
			return err
		}
		if e, ok := commission.LedgerEntry(nil, &a); ok {
			tx.QueueLedger(e)
		}
		return nil
	})
	if err != nil {
		w.t.Fatalf("insert adjustment: %v", err)
	}
	return &a
}

func testAdjustmentsFollow(t *testing.T, w *world) {
	// Approving a pending commission approves its pending adjustment with it.
	c := w.sale(10000)
	a := w.adjust(c, -300, commission.Pending)
	w.change(c.ID, commission.Approved, "")
	if got := w.commission(a.ID); got.Status != commission.Approved {
		t.Fatalf("adjustment %s after approving its commission", got.Status)
	}
	h, _ := w.st.History(w.ctx, w.ws, a.ID)
	if last := h[len(h)-1]; last.Reason != "approved with commission "+c.ID || last.Actor != "user:finance@example.com" {
		t.Fatalf("adjustment history %+v", last)
	}
	// Clawing it back takes the adjustment along: nothing is left to net.
	w.change(c.ID, commission.ClawedBack, "fraud")
	if got := w.commission(a.ID); got.Status != commission.ClawedBack {
		t.Fatalf("adjustment %s after clawing back its commission", got.Status)
	}
	if bs, _, _ := w.st.ReadyToPay(w.ctx, w.ws, "", nil, 50); len(bs) != 0 {
		t.Fatalf("balances left: %+v", bs)
	}
	// An adjustment already paid blocks a clawback of its approved commission.
	c2 := w.approved(10000)
	a2 := w.adjust(c2, -200, commission.Paid)
	_, err := w.cs.Change(w.ctx, w.ws, c2.ID, commission.ClawedBack, "refund", "u")
	if !errors.Is(err, commission.ErrInvalidTransition) || !strings.Contains(commission.Explain(err), a2.ID) {
		t.Fatalf("clawback with a paid adjustment: %v", err)
	}
	if got := w.commission(c2.ID); got.Status != commission.Approved {
		t.Fatalf("status %s after a refused clawback", got.Status)
	}
}

func testClawBackWhatIsLeft(t *testing.T, w *world) {
	c := w.paid(10000) // 1,000
	w.adjust(c, -300, commission.Approved)
	w.adjust(c, -500, commission.ClawedBack) // undone: does not count
	out := w.change(c.ID, commission.ClawedBack, "chargeback")
	if out.Adjustment == nil || out.Adjustment.AmountCents != -700 {
		t.Fatalf("clawback adjustment %+v, want -700 (what is left)", out.Adjustment)
	}
	if _, err := w.cs.Change(w.ctx, w.ws, c.ID, commission.ClawedBack, "again", "u"); !errors.Is(err, commission.ErrAlreadyClawedBack) {
		t.Fatalf("second clawback: %v", err)
	}
}
