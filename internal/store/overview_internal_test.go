package store

import (
	"math/rand/v2"
	"testing"
	"time"
)

// earningsParts must cover every day of the range once and no day outside
// it, with at most about a month of daily rows, for any range.
func TestEarningsPartsCoverTheRangeExactly(t *testing.T) {
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	check := func(from, to time.Time) {
		t.Helper()
		net := map[time.Time]int{}
		daily := 0
		for _, p := range earningsParts(from, to) {
			for d := p.From; d.Before(p.To); {
				next := d.AddDate(0, 0, 1)
				if p.Months {
					next = d.AddDate(0, 1, 0)
					for x := d; x.Before(next); x = x.AddDate(0, 0, 1) {
						net[x] += p.Sign
					}
				} else {
					net[d] += p.Sign
					daily++
				}
				d = next
			}
		}
		for d, n := range net {
			in := !d.Before(from) && d.Before(to)
			if (in && n != 1) || (!in && n != 0) {
				t.Fatalf("[%s, %s): day %s counted %d times", from.Format(time.DateOnly), to.Format(time.DateOnly), d.Format(time.DateOnly), n)
			}
		}
		for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
			if net[d] != 1 {
				t.Fatalf("[%s, %s): day %s counted %d times", from.Format(time.DateOnly), to.Format(time.DateOnly), d.Format(time.DateOnly), net[d])
			}
		}
		if daily > 32 {
			t.Fatalf("[%s, %s) reads %d daily rows per partner, want at most about a month", from.Format(time.DateOnly), to.Format(time.DateOnly), daily)
		}
	}
	for _, r := range [][2]time.Time{
		{day(2026, 2, 3), day(2026, 3, 30)}, // Feb 3 – Mar 29
		{day(2026, 1, 1), day(2026, 2, 1)},  // one whole month
		{day(2026, 1, 5), day(2026, 1, 6)},  // one day
		{day(2026, 1, 2), day(2026, 1, 31)}, // most of a month
		{day(2025, 12, 4), day(2026, 12, 4)},
		{day(2024, 2, 28), day(2024, 3, 2)}, // over a leap day
		{day(2026, 12, 31), day(2027, 1, 1)},
	} {
		check(r[0], r[1])
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		from := day(2024, 1, 1).AddDate(0, 0, rnd.IntN(1000))
		check(from, from.AddDate(0, 0, 1+rnd.IntN(800)))
	}
	if earningsParts(day(2026, 1, 2), day(2026, 1, 2)) != nil {
		t.Fatal("an empty range has parts")
	}
}
