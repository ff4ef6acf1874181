package tracking_test

import (
	"testing"
	"time"

	"github.com/partli/partli/internal/tracking"
)

func intp(n int) *int { return &n }

func TestResolveReward(t *testing.T) {
	group := &tracking.Reward{ID: "rwd_group", Type: tracking.Percentage, PercentBP: 3000, Interval: tracking.OneTime}
	program := &tracking.Reward{ID: "rwd_program", Type: tracking.Percentage, PercentBP: 1000, Interval: tracking.OneTime}
	tests := []struct {
		name           string
		group, program *tracking.Reward
		want           *tracking.Reward
	}{
		{"group beats program", group, program, group},
		{"group alone", group, nil, group},
		{"program default when the group has none", nil, program, program},
		{"none", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tracking.ResolveReward(tt.group, tt.program); got != tt.want {
				t.Fatalf("ResolveReward = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestHoldingDays(t *testing.T) {
	tests := []struct {
		name    string
		group   *int
		program int
		want    int
	}{
		{"group sets days", intp(7), 30, 7},
		{"group 0 days is a real value", intp(0), 30, 0},
		{"group longer than program", intp(60), 30, 60},
		{"nil falls back to the program", nil, 30, 30},
		{"nil falls back to a program of 0", nil, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tracking.HoldingDays(tt.group, tt.program); got != tt.want {
				t.Fatalf("HoldingDays = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestAddMonths(t *testing.T) {
	d := func(y int, m time.Month, day, h, min, s, ns int) time.Time {
		return time.Date(y, m, day, h, min, s, ns, time.UTC)
	}
	tests := []struct {
		name   string
		t      time.Time
		months int
		want   time.Time
	}{
		{"zero months", d(2025, 5, 17, 10, 0, 0, 0), 0, d(2025, 5, 17, 10, 0, 0, 0)},
		{"mid-month", d(2025, 1, 15, 0, 0, 0, 0), 1, d(2025, 2, 15, 0, 0, 0, 0)},
		{"Jan 31 + 1, common year", d(2025, 1, 31, 0, 0, 0, 0), 1, d(2025, 2, 28, 0, 0, 0, 0)},
		{"Jan 31 + 1, leap year", d(2024, 1, 31, 0, 0, 0, 0), 1, d(2024, 2, 29, 0, 0, 0, 0)},
		{"Jan 31 + 1, 1900 is not leap", d(1900, 1, 31, 0, 0, 0, 0), 1, d(1900, 2, 28, 0, 0, 0, 0)},
		{"Jan 31 + 1, 2000 is leap", d(2000, 1, 31, 0, 0, 0, 0), 1, d(2000, 2, 29, 0, 0, 0, 0)},
		{"Jan 30 + 1, common year", d(2025, 1, 30, 0, 0, 0, 0), 1, d(2025, 2, 28, 0, 0, 0, 0)},
		{"Jan 29 + 1, leap year keeps the day", d(2024, 1, 29, 0, 0, 0, 0), 1, d(2024, 2, 29, 0, 0, 0, 0)},
		{"Mar 31 + 1", d(2025, 3, 31, 0, 0, 0, 0), 1, d(2025, 4, 30, 0, 0, 0, 0)},
		{"Aug 31 + 1", d(2025, 8, 31, 0, 0, 0, 0), 1, d(2025, 9, 30, 0, 0, 0, 0)},
		{"Feb 29 + 12", d(2024, 2, 29, 0, 0, 0, 0), 12, d(2025, 2, 28, 0, 0, 0, 0)},
		{"Feb 29 + 48", d(2024, 2, 29, 0, 0, 0, 0), 48, d(2028, 2, 29, 0, 0, 0, 0)},
		{"Feb 28 + 1 is Mar 28, not month end", d(2025, 2, 28, 0, 0, 0, 0), 1, d(2025, 3, 28, 0, 0, 0, 0)},
		{"across the year, into a leap February", d(2023, 12, 31, 0, 0, 0, 0), 2, d(2024, 2, 29, 0, 0, 0, 0)},
		{"Nov 30 + 3", d(2025, 11, 30, 0, 0, 0, 0), 3, d(2026, 2, 28, 0, 0, 0, 0)},
		{"Dec 15 + 1 crosses the year", d(2025, 12, 15, 0, 0, 0, 0), 1, d(2026, 1, 15, 0, 0, 0, 0)},
		{"12 months", d(2025, 7, 4, 0, 0, 0, 0), 12, d(2026, 7, 4, 0, 0, 0, 0)},
		{"25 months", d(2025, 1, 31, 0, 0, 0, 0), 25, d(2027, 2, 28, 0, 0, 0, 0)},
		{"time of day kept", d(2025, 1, 31, 23, 59, 59, 999_999_000), 1, d(2025, 2, 28, 23, 59, 59, 999_999_000)},
		{"negative months clamp too", d(2025, 3, 31, 12, 0, 0, 0), -1, d(2025, 2, 28, 12, 0, 0, 0)},
		{"minus 12 from a leap day", d(2024, 2, 29, 0, 0, 0, 0), -12, d(2023, 2, 28, 0, 0, 0, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tracking.AddMonths(tt.t, tt.months); !got.Equal(tt.want) {
				t.Fatalf("AddMonths(%s, %d) = %s, want %s", tt.t, tt.months, got, tt.want)
			}
		})
	}
}

func TestAddMonthsKeepsLocation(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	got := tracking.AddMonths(time.Date(2025, 1, 31, 1, 0, 0, 0, loc), 1)
	if want := time.Date(2025, 2, 28, 1, 0, 0, 0, loc); !got.Equal(want) || got.Location() != loc {
		t.Fatalf("AddMonths = %s, want %s", got, want)
	}
}

func TestDecideSale(t *testing.T) {
	first := time.Date(2025, 1, 31, 10, 0, 0, 0, time.UTC)
	capAt := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC) // first + 12 months
	pct := func(bp int64, interval string, months *int) *tracking.Reward {
		return &tracking.Reward{ID: "rwd_p", Type: tracking.Percentage, PercentBP: bp, Interval: interval, DurationMonths: months}
	}
	flat := func(cents int64, interval string) *tracking.Reward {
		return &tracking.Reward{ID: "rwd_f", Type: tracking.Flat, AmountCents: cents, Interval: interval}
	}
	tests := []struct {
		name string
		f    tracking.SaleFacts
		pay  bool
		amt  int64
		cur  string
	}{
		{"no reward → no commission",
			tracking.SaleFacts{AmountCents: 10000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: first}, false, 0, ""},
		{"percentage in the sale currency",
			tracking.SaleFacts{Reward: pct(2000, tracking.OneTime, nil), AmountCents: 10000, Currency: "EUR", ProgramCurrency: "USD", OccurredAt: first}, true, 2000, "EUR"},
		{"12.5% of 4999 rounds half up to 625",
			tracking.SaleFacts{Reward: pct(1250, tracking.OneTime, nil), AmountCents: 4999, Currency: "USD", ProgramCurrency: "USD", OccurredAt: first}, true, 625, "USD"},
		{"zero-decimal currency stays in minor units",
			tracking.SaleFacts{Reward: pct(1000, tracking.OneTime, nil), AmountCents: 12345, Currency: "JPY", ProgramCurrency: "USD", OccurredAt: first}, true, 1235, "JPY"},
		{"flat in the program currency regardless of the sale's",
			tracking.SaleFacts{Reward: flat(1500, tracking.OneTime), AmountCents: 99, Currency: "EUR", ProgramCurrency: "USD", OccurredAt: first}, true, 1500, "USD"},
		{"flat larger than the sale is still paid in full",
			tracking.SaleFacts{Reward: flat(5000, tracking.Recurring), AmountCents: 1, Currency: "JPY", ProgramCurrency: "GBP", OccurredAt: first}, true, 5000, "GBP"},
		{"1 cent at 10% rounds to zero → no commission",
			tracking.SaleFacts{Reward: pct(1000, tracking.OneTime, nil), AmountCents: 1, Currency: "USD", ProgramCurrency: "USD", OccurredAt: first}, false, 0, ""},
		{"one_time, first sale",
			tracking.SaleFacts{Reward: pct(1000, tracking.OneTime, nil), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: first}, true, 100, "USD"},
		{"one_time with a prior live commission → none",
			tracking.SaleFacts{Reward: pct(1000, tracking.OneTime, nil), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt,
				PriorCommission: true, FirstCommissionedAt: &first}, false, 0, ""},
		{"one_time, flat, with a prior live commission → none",
			tracking.SaleFacts{Reward: flat(500, tracking.OneTime), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt,
				PriorCommission: true, FirstCommissionedAt: &first}, false, 0, ""},
		// Only clawed-back earlier commissions: the store reports no live prior
		// commission (PriorCommission false, FirstCommissionedAt nil), so the
		// reward is earned again. The DB test covers the store's side.
		{"one_time with only a clawed-back earlier commission → commission",
			tracking.SaleFacts{Reward: pct(1000, tracking.OneTime, nil), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt}, true, 100, "USD"},
		{"recurring, first sale",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(12)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: first}, true, 100, "USD"},
		{"recurring ignores PriorCommission",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, nil), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt,
				PriorCommission: true, FirstCommissionedAt: &first}, true, 100, "USD"},
		{"recurring cap 12: exactly first + 12 months → none",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(12)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt,
				PriorCommission: true, FirstCommissionedAt: &first}, false, 0, ""},
		{"recurring cap 12: one second before → commission",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(12)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt.Add(-time.Second),
				PriorCommission: true, FirstCommissionedAt: &first}, true, 100, "USD"},
		{"recurring cap 12: one nanosecond before → commission",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(12)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt.Add(-time.Nanosecond),
				PriorCommission: true, FirstCommissionedAt: &first}, true, 100, "USD"},
		{"recurring cap 12: after the cap → none",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(12)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt.AddDate(1, 0, 0),
				PriorCommission: true, FirstCommissionedAt: &first}, false, 0, ""},
		{"recurring cap 1 from Jan 31: Feb 28 (clamped) → none",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(1)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD",
				OccurredAt: time.Date(2025, 2, 28, 10, 0, 0, 0, time.UTC), PriorCommission: true, FirstCommissionedAt: &first}, false, 0, ""},
		{"recurring cap 1 from Jan 31: Feb 28 one second before → commission",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(1)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD",
				OccurredAt: time.Date(2025, 2, 28, 9, 59, 59, 0, time.UTC), PriorCommission: true, FirstCommissionedAt: &first}, true, 100, "USD"},
		{"recurring cap, same instant in another zone → none",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(12)), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD",
				OccurredAt: capAt.In(time.FixedZone("UTC-5", -5*3600)), PriorCommission: true, FirstCommissionedAt: &first}, false, 0, ""},
		{"recurring nil cap: always, even years later",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, nil), AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: capAt.AddDate(30, 0, 0),
				PriorCommission: true, FirstCommissionedAt: &first}, true, 100, "USD"},
		{"recurring cap, flat reward, past the cap → none",
			tracking.SaleFacts{Reward: &tracking.Reward{ID: "rwd_f", Type: tracking.Flat, AmountCents: 700, Interval: tracking.Recurring, DurationMonths: intp(12)},
				AmountCents: 1000, Currency: "EUR", ProgramCurrency: "USD", OccurredAt: capAt, PriorCommission: true, FirstCommissionedAt: &first}, false, 0, ""},
		{"recurring cap, zero result still → none",
			tracking.SaleFacts{Reward: pct(1000, tracking.Recurring, intp(12)), AmountCents: 4, Currency: "USD", ProgramCurrency: "USD", OccurredAt: first}, false, 0, ""},
		{"100% of the maximum sale",
			tracking.SaleFacts{Reward: pct(10000, tracking.OneTime, nil), AmountCents: 1_000_000_000_000, Currency: "USD", ProgramCurrency: "USD", OccurredAt: first}, true, 1_000_000_000_000, "USD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tracking.DecideSale(tt.f)
			if got.Pay != tt.pay || got.AmountCents != tt.amt || got.Currency != tt.cur {
				t.Fatalf("DecideSale = %+v, want Pay=%v AmountCents=%d Currency=%q", got, tt.pay, tt.amt, tt.cur)
			}
			if !got.Pay && got.Why == "" {
				t.Fatalf("DecideSale = %+v: no commission but Why is empty", got)
			}
			if got.Pay && got.Why != "" {
				t.Fatalf("DecideSale = %+v: commission with a Why", got)
			}
		})
	}
}

func TestAmount(t *testing.T) {
	tests := []struct {
		name    string
		r       tracking.Reward
		sale    int64
		saleCur string
		progCur string
		want    int64
		wantCur string
	}{
		{"percentage → sale currency", tracking.Reward{Type: tracking.Percentage, PercentBP: 1250}, 4999, "EUR", "USD", 625, "EUR"},
		{"percentage rounds down below half", tracking.Reward{Type: tracking.Percentage, PercentBP: 1250}, 4995, "USD", "USD", 624, "USD"}, // 624.375
		{"flat → program currency", tracking.Reward{Type: tracking.Flat, AmountCents: 2500}, 100_000, "EUR", "USD", 2500, "USD"},
		{"flat ignores the sale amount", tracking.Reward{Type: tracking.Flat, AmountCents: 2500}, 1, "JPY", "CHF", 2500, "CHF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, cur := tracking.Amount(&tt.r, tt.sale, tt.saleCur, tt.progCur)
			if got != tt.want || cur != tt.wantCur {
				t.Fatalf("Amount = (%d, %q), want (%d, %q)", got, cur, tt.want, tt.wantCur)
			}
		})
	}
}

// TestDecideSaleCapIgnoresLocation: the cap depends on instants only, counted
// in UTC calendar months, whatever zone the database session hands the first
// sale's time back in. 2025-01-30 23:00 UTC is Jan 31 in UTC+2: counted in
// UTC+2, one month later is Feb 27 23:00 UTC; counted in UTC, Feb 28 23:00 UTC.
func TestDecideSaleCapIgnoresLocation(t *testing.T) {
	firstUTC := time.Date(2025, 1, 30, 23, 0, 0, 0, time.UTC)
	reward := &tracking.Reward{ID: "rwd", Type: tracking.Percentage, PercentBP: 1000, Interval: tracking.Recurring, DurationMonths: intp(1)}
	for _, loc := range []*time.Location{time.UTC, time.FixedZone("UTC+2", 2*3600), time.FixedZone("UTC-8", -8*3600)} {
		first := firstUTC.In(loc)
		for _, tt := range []struct {
			at  time.Time
			pay bool
		}{
			{time.Date(2025, 2, 28, 10, 0, 0, 0, time.UTC), true},
			{time.Date(2025, 2, 28, 22, 59, 59, 0, time.UTC), true},
			{time.Date(2025, 2, 28, 23, 0, 0, 0, time.UTC), false},
		} {
			got := tracking.DecideSale(tracking.SaleFacts{Reward: reward, AmountCents: 1000, Currency: "USD", ProgramCurrency: "USD",
				OccurredAt: tt.at.In(loc), PriorCommission: true, FirstCommissionedAt: &first})
			if got.Pay != tt.pay {
				t.Errorf("first sale %s, sale at %s: Pay = %v, want %v", first, tt.at, got.Pay, tt.pay)
			}
		}
	}
}
