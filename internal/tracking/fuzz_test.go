package tracking_test

import (
	"testing"
	"time"

	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/tracking"
)

// Fuzz targets for the money rules of the sale pipeline. `make fuzz-short`
// runs each for a few seconds in CI, `make fuzz` for longer; the seed corpus
// is in testdata/fuzz/<FuzzName>/ as well as in the f.Add calls.

// into maps any int64 onto [lo, hi], so that every fuzzer input is useful.
func into(v, lo, hi int64) int64 {
	span := uint64(hi - lo + 1)
	return lo + int64(uint64(v)%span)
}

func FuzzAmount(f *testing.F) {
	f.Add(int64(4999), int64(1250), int64(500), false)
	f.Add(int64(1), int64(5000), int64(1), false)
	f.Add(int64(1), int64(1), int64(1), false)
	f.Add(money.MaxSaleCents, int64(10000), money.MaxSaleCents, false)
	f.Add(int64(10000), int64(1000), int64(2500), true)
	f.Add(int64(-1), int64(-1), int64(-1), true)
	f.Fuzz(func(t *testing.T, rawSale, rawBP, rawFlat int64, flat bool) {
		sale := into(rawSale, 1, money.MaxSaleCents) // what POST /api/track/sale accepts
		bp := into(rawBP, 1, 10000)                  // 0 < percent ≤ 100, two decimals
		flatCents := into(rawFlat, 1, money.MaxSaleCents)
		r := &tracking.Reward{ID: "rwd_fuzz", Type: tracking.Percentage, PercentBP: bp, Interval: tracking.OneTime}
		if flat {
			r = &tracking.Reward{ID: "rwd_fuzz", Type: tracking.Flat, AmountCents: flatCents, Interval: tracking.OneTime}
		}

		got, cur := tracking.Amount(r, sale, "JPY", "EUR")
		if got2, cur2 := tracking.Amount(r, sale, "JPY", "EUR"); got2 != got || cur2 != cur {
			t.Fatalf("Amount is not deterministic: %d %s then %d %s", got, cur, got2, cur2)
		}
		if got < 0 {
			t.Fatalf("Amount(%+v, %d) = %d is negative", r, sale, got)
		}
		if flat {
			if got != flatCents || cur != "EUR" {
				t.Fatalf("flat Amount = %d %s, want %d EUR (the reward's, in the program's currency)", got, cur, flatCents)
			}
			return
		}
		if cur != "JPY" {
			t.Fatalf("percentage Amount in %s, want the sale's currency JPY", cur)
		}
		if got > sale {
			t.Fatalf("Amount(%d bp of %d) = %d is more than the sale", bp, sale, got)
		}
		if want := money.PercentOf(sale, bp); got != want {
			t.Fatalf("Amount(%d bp of %d) = %d, PercentOf gives %d", bp, sale, got, want)
		}
		if sale < money.MaxSaleCents {
			if next, _ := tracking.Amount(r, sale+1, "JPY", "EUR"); next < got {
				t.Fatalf("Amount(%d bp of %d) = %d < Amount(%d bp of %d) = %d", bp, sale+1, next, bp, sale, got)
			}
		}
	})
}

func FuzzDecideSale(f *testing.F) {
	f.Add(int64(4999), int64(1250), int64(0), uint8(0), false, int16(0), int64(0), false)
	f.Add(int64(1), int64(1), int64(0), uint8(0), false, int16(0), int64(0), false)        // rounds to zero
	f.Add(int64(10000), int64(1000), int64(0), uint8(0), true, int16(0), int64(0), false)  // one-time, already earned
	f.Add(int64(10000), int64(1000), int64(0), uint8(1), false, int16(12), int64(0), true) // recurring at the cap
	f.Add(int64(10000), int64(1000), int64(0), uint8(1), false, int16(12), int64(-1), true)
	f.Add(int64(10000), int64(1000), int64(0), uint8(1), false, int16(-1), int64(1e15), true) // lifetime
	f.Add(int64(10000), int64(0), int64(700), uint8(2), false, int16(0), int64(0), false)     // flat
	f.Add(int64(10000), int64(0), int64(0), uint8(3), false, int16(0), int64(0), false)       // no reward
	f.Fuzz(func(t *testing.T, rawSale, rawBP, rawFlat int64, kind uint8, prior bool, months int16, offsetSec int64, hasFirst bool) {
		sale := into(rawSale, 1, money.MaxSaleCents)
		first := time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC)
		occurred := first.Add(time.Duration(into(offsetSec, -20*365*86400, 20*365*86400)) * time.Second)
		var duration *int
		if months >= 0 {
			d := int(months % 241) // 0…20 years
			duration = &d
		}
		var r *tracking.Reward
		switch kind % 4 {
		case 0:
			r = &tracking.Reward{Type: tracking.Percentage, PercentBP: into(rawBP, 1, 10000), Interval: tracking.OneTime}
		case 1:
			r = &tracking.Reward{Type: tracking.Percentage, PercentBP: into(rawBP, 1, 10000), Interval: tracking.Recurring,
				DurationMonths: duration}
		case 2:
			r = &tracking.Reward{Type: tracking.Flat, AmountCents: into(rawFlat, 1, money.MaxSaleCents), Interval: tracking.OneTime}
		}
		facts := tracking.SaleFacts{Reward: r, AmountCents: sale, Currency: "USD", ProgramCurrency: "EUR",
			OccurredAt: occurred, PriorCommission: prior}
		if hasFirst {
			facts.FirstCommissionedAt = &first
		}

		d := tracking.DecideSale(facts)
		if d2 := tracking.DecideSale(facts); d2 != d {
			t.Fatalf("DecideSale is not deterministic: %+v then %+v", d, d2)
		}
		if !d.Pay {
			if d.AmountCents != 0 || d.Why == "" {
				t.Fatalf("no commission but %+v (want amount 0 and a reason)", d)
			}
		} else if d.AmountCents <= 0 {
			t.Fatalf("commission of %d: a paid commission is positive", d.AmountCents)
		}

		// When a commission is due, and how much.
		wantPay := r != nil
		if r != nil && r.Interval == tracking.OneTime && prior {
			wantPay = false
		}
		if r != nil && r.Interval == tracking.Recurring && duration != nil && hasFirst &&
			!occurred.Before(tracking.AddMonths(first, *duration)) {
			wantPay = false
		}
		var wantAmount int64
		wantCurrency := ""
		if wantPay {
			wantAmount, wantCurrency = tracking.Amount(r, sale, "USD", "EUR")
			wantPay = wantAmount > 0
		}
		if d.Pay != wantPay {
			t.Fatalf("DecideSale(%+v, reward %+v) = %+v, want pay=%v", facts, r, d, wantPay)
		}
		if d.Pay && (d.AmountCents != wantAmount || d.Currency != wantCurrency) {
			t.Fatalf("DecideSale pays %d %s, want %d %s", d.AmountCents, d.Currency, wantAmount, wantCurrency)
		}
		if d.Pay && r.Type == tracking.Percentage && d.AmountCents > sale {
			t.Fatalf("commission %d is more than the sale %d", d.AmountCents, sale)
		}
	})
}

func FuzzAddMonths(f *testing.F) {
	f.Add(time.Date(2026, 1, 31, 10, 0, 0, 0, time.UTC).Unix(), int16(1))
	f.Add(time.Date(2024, 1, 31, 23, 59, 59, 0, time.UTC).Unix(), int16(1)) // leap year
	f.Add(time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC).Unix(), int16(-1))
	f.Add(time.Date(2025, 12, 15, 12, 0, 0, 0, time.UTC).Unix(), int16(12))
	f.Add(int64(0), int16(0))
	f.Fuzz(func(t *testing.T, rawUnix int64, rawMonths int16) {
		from := time.Unix(into(rawUnix, 0, 7258118400), into(rawUnix>>7, 0, 999_999_999)).UTC() // 1970…2200
		months := int(into(int64(rawMonths), 0, 1200))

		got := tracking.AddMonths(from, months)
		total := from.Year()*12 + int(from.Month()) - 1 + months
		wantYear, wantMonth := total/12, time.Month(total%12+1)
		lastDay := time.Date(wantYear, wantMonth+1, 0, 0, 0, 0, 0, time.UTC).Day()
		wantDay := min(from.Day(), lastDay)
		if got.Year() != wantYear || got.Month() != wantMonth || got.Day() != wantDay {
			t.Fatalf("AddMonths(%s, %d) = %s, want %d-%02d-%02d", from, months, got, wantYear, wantMonth, wantDay)
		}
		if got.Hour() != from.Hour() || got.Minute() != from.Minute() || got.Second() != from.Second() ||
			got.Nanosecond() != from.Nanosecond() {
			t.Fatalf("AddMonths(%s, %d) = %s changed the time of day", from, months, got)
		}
		if next := tracking.AddMonths(from, months+1); !next.After(got) {
			t.Fatalf("AddMonths(%s, %d) = %s is not after AddMonths(…, %d) = %s", from, months+1, next, months, got)
		}
	})
}
