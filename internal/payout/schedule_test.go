package payout_test

import (
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
)

func TestPeriod(t *testing.T) {
	day := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	tests := []struct {
		schedule string
		day      int
		now      string
		name     string
		due      string
	}{
		// Thursday 3 December 2026 is in ISO week 49; its Monday is the 30th of November.
		{"weekly", 1, "2026-12-03T15:00:00Z", "2026-W49", "2026-11-30T00:00:00Z"},
		{"weekly", 4, "2026-12-03T15:00:00Z", "2026-W49", "2026-12-03T00:00:00Z"},
		{"weekly", 5, "2026-12-03T15:00:00Z", "2026-W49", "2026-12-04T00:00:00Z"}, // not due yet
		{"weekly", 7, "2026-12-06T23:59:59Z", "2026-W49", "2026-12-06T00:00:00Z"}, // Sunday
		{"weekly", 1, "2026-12-07T00:00:00Z", "2026-W50", "2026-12-07T00:00:00Z"},
		{"weekly", 1, "2027-01-01T12:00:00Z", "2026-W53", "2026-12-28T00:00:00Z"}, // ISO year of the week
		{"weekly", 2, "2026-12-03T15:00:00+09:00", "2026-W49", "2026-12-01T00:00:00Z"},
		{"monthly", 1, "2026-12-03T15:00:00Z", "2026-12", "2026-12-01T00:00:00Z"},
		{"monthly", 15, "2026-12-03T15:00:00Z", "2026-12", "2026-12-15T00:00:00Z"},
		{"monthly", 28, "2027-02-28T01:00:00Z", "2027-02", "2027-02-28T00:00:00Z"},
	}
	for _, tc := range tests {
		name, due, ok := payout.Period(tc.schedule, tc.day, day(tc.now))
		if !ok || name != tc.name || !due.Equal(day(tc.due)) {
			t.Errorf("Period(%s, %d, %s) = %s %s %v; want %s %s", tc.schedule, tc.day, tc.now, name, due, ok, tc.name, tc.due)
		}
	}
	if _, _, ok := payout.Period("manual", 0, time.Now()); ok {
		t.Error("a manual schedule has a period")
	}
	one, eight, zero, twentyNine := 1, 8, 0, 29
	for _, tc := range []struct {
		schedule string
		day      *int
		ok       bool
	}{{"manual", nil, true}, {"manual", &one, false}, {"weekly", &one, true}, {"weekly", &eight, false},
		{"weekly", nil, false}, {"monthly", &zero, false}, {"monthly", &twentyNine, false}, {"daily", &one, false}} {
		if _, problem := payout.CheckSchedule(tc.schedule, tc.day); (problem == "") != tc.ok {
			t.Errorf("CheckSchedule(%s, %v) = %q", tc.schedule, tc.day, problem)
		}
	}
}

// A weekly schedule, run by two replicas at once: the period runs once. It
// creates the payouts of partners whose method is ready and whose balance
// reaches the minimum, sends the Stripe ones, carries the small balances
// forward and reports the partners without a ready method; later ticks in
// the same period do nothing, the next period runs again.
func TestScheduledRun(t *testing.T) {
	f := newFx(t, 2000) // $20.00 minimum
	day := 4
	f.program.PayoutSchedule, f.program.PayoutDay = payout.ScheduleWeekly, &day
	if err := f.st.SetPayoutSchedule(f.ctx, f.program, payout.ScheduleWeekly, &day); err != nil {
		t.Fatal(err)
	}
	viaStripe, viaPayPal, small, noMethod, notOnboarded := f.partner(), f.partner(), f.partner(), f.partner(), f.partner()
	f.stripeReady(viaStripe)
	for _, p := range []partner{viaPayPal, small} {
		if _, err := f.st.SetPayoutMethod(f.ctx, f.ws, p.ID, payout.PayPal, p.Email); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.st.UseStripeAccount(f.ctx, f.ws, notOnboarded.ID, "acct_pending"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []partner{viaStripe, viaPayPal, noMethod, notOnboarded} {
		f.earn(p, 50000, "USD") // $50.00
	}
	f.earn(small, 10000, "USD") // $10.00

	thursday := time.Date(2026, 12, 3, 9, 0, 0, 0, time.UTC)
	replica := func(now time.Time) *payout.Service {
		return payout.New(f.st, f.cs, payout.Config{Now: func() time.Time { return now },
			Stripe: stripe.NewPayments(stripe.PaymentsConfig{APIBase: f.proxy.URL})}, slog.New(slog.DiscardHandler))
	}
	// Wednesday: not due.
	if n, err := replica(thursday.AddDate(0, 0, -1)).RunSchedules(f.ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("Wednesday: %d runs, %v", n, err)
	}
	var wg sync.WaitGroup
	runs := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := replica(thursday).RunSchedules(f.ctx, time.Minute)
			if err != nil {
				t.Errorf("replica %d: %v", i, err)
			}
			runs[i] = n
		}()
	}
	wg.Wait()
	if runs[0]+runs[1] != 1 {
		t.Fatalf("runs %v, want one between the replicas", runs)
	}
	ps, _, err := f.st.ListPayoutRows(f.ctx, f.ws, store.PayoutFilter{}, store.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	byPartner := map[string]store.PayoutRow{}
	for _, p := range ps {
		byPartner[p.PartnerID] = p
	}
	if len(ps) != 2 || byPartner[viaStripe.ID].Status != commission.PayoutPaid || byPartner[viaPayPal.ID].Status != commission.PayoutPending ||
		byPartner[viaStripe.ID].CreatedBy != "schedule:2026-W49" {
		t.Fatalf("payouts %+v", ps)
	}
	if n := len(f.proxy.Requests("/v1/transfers")); n != 1 {
		t.Fatalf("%d transfers, want 1", n)
	}
	if f.balance(small, "USD") != 1000 || f.balance(noMethod, "USD") != 5000 || f.balance(notOnboarded, "USD") != 5000 {
		t.Fatal("balances skipped were not left as they were")
	}
	rs, err := f.st.RecentPayoutRuns(f.ctx, f.ws, 5)
	if err != nil || len(rs) != 1 {
		t.Fatalf("runs %+v %v", rs, err)
	}
	r := rs[0]
	var rep payout.RunReport
	if err := json.Unmarshal(r.Report, &rep); err != nil {
		t.Fatal(err)
	}
	if r.Period != "2026-W49" || r.Status != "done" || r.Created != 2 || r.Sent != 1 || r.BelowMinimum != 1 || r.NotReady != 2 ||
		len(rep.NotReady) != 2 || len(rep.BelowMinimum) != 1 || rep.BelowMinimum[0].PartnerID != small.ID {
		t.Fatalf("run %+v, report %+v", r, rep)
	}
	for _, s := range rep.NotReady {
		if s.Why == "" || (s.PartnerID != noMethod.ID && s.PartnerID != notOnboarded.ID) {
			t.Fatalf("not ready %+v", s)
		}
	}
	// Later the same week: done already.
	if n, err := replica(thursday.Add(48*time.Hour)).RunSchedules(f.ctx, time.Minute); err != nil || n != 0 {
		t.Fatalf("Saturday: %d runs, %v", n, err)
	}
	// A replica that stopped halfway (its lease ran out, the run still
	// running) is taken over once, in the next week.
	next := thursday.AddDate(0, 0, 7)
	f.earn(small, 20000, "USD") // now $30.00: over the minimum
	if _, ok, err := f.st.ClaimPayoutRun(f.ctx, f.ws, f.program.ID, "2026-W50", -time.Hour); err != nil || !ok {
		t.Fatalf("claim: %v %v", ok, err)
	}
	if n, err := replica(next).RunSchedules(f.ctx, time.Minute); err != nil || n != 1 {
		t.Fatalf("taking over an abandoned run: %d %v", n, err)
	}
	if f.balance(small, "USD") != 0 {
		t.Fatal("the carried-forward balance was not paid once over the minimum")
	}
	f.checkLedger()
}
