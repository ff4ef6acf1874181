package money

import (
	"math"
	"math/big"
	"testing"
)

// The fuzz targets below check the money rules against exact rational
// arithmetic (math/big) over their whole domain. `make fuzz-short` runs each
// for a few seconds in CI, `make fuzz` for longer; the seed corpus is in
// testdata/fuzz/<FuzzName>/ as well as in the f.Add calls.

// into maps any int64 onto [lo, hi], so that every fuzzer input is useful
// instead of most being thrown away as out of range.
func into(v, lo, hi int64) int64 {
	span := uint64(hi - lo + 1)
	return lo + int64(uint64(v)%span)
}

// roundHalfUp rounds the non-negative rational r to an integer, halves up.
func roundHalfUp(r *big.Rat) *big.Int {
	if r.Sign() < 0 {
		panic("roundHalfUp of a negative number")
	}
	half := new(big.Rat).Add(r, big.NewRat(1, 2))
	return new(big.Int).Quo(half.Num(), half.Denom()) // floor: both are non-negative
}

// exactPercentOf is amount × bp / 10000 rounded half away from zero, in big.Rat.
func exactPercentOf(amount, bp int64) int64 {
	r := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(amount), big.NewInt(bp)), big.NewInt(10000))
	neg := r.Sign() < 0
	r.Abs(r)
	n := roundHalfUp(r)
	if neg {
		n.Neg(n)
	}
	if !n.IsInt64() {
		panic("exact result does not fit in int64")
	}
	return n.Int64()
}

func FuzzPercentOf(f *testing.F) {
	for _, s := range [][2]int64{
		{4999, 1250}, {1, 5000}, {3, 5000}, {4999, 1}, {5001, 1}, {1, 3333}, {2, 3333},
		{MaxSaleCents, 10000}, {MaxSaleCents - 1, 3333}, {0, 1250}, {-4999, 1250}, {-1, 5000},
		{-MaxSaleCents, 10000}, {math.MaxInt64, math.MinInt64}, {math.MinInt64, -1},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, rawAmount, rawBP int64) {
		// The domain: a sale or refund of at most MaxSaleCents either way, and
		// a percentage 0…100 % in basis points.
		amount := into(rawAmount, -MaxSaleCents, MaxSaleCents)
		bp := into(rawBP, 0, 10000)

		got := PercentOf(amount, bp)
		if want := exactPercentOf(amount, bp); got != want {
			t.Fatalf("PercentOf(%d, %d) = %d, exact rounding half up gives %d", amount, bp, got, want)
		}
		if again := PercentOf(amount, bp); again != got {
			t.Fatalf("PercentOf(%d, %d) is not deterministic: %d then %d", amount, bp, got, again)
		}
		if neg := PercentOf(-amount, bp); neg != -got {
			t.Fatalf("PercentOf(%d, %d) = %d does not mirror PercentOf(%d, %d) = %d", -amount, bp, neg, amount, bp, got)
		}
		a := abs(amount)
		g := abs(got)
		if (amount >= 0 && got < 0) || (amount <= 0 && got > 0) {
			t.Fatalf("PercentOf(%d, %d) = %d has the wrong sign", amount, bp, got)
		}
		if g > a {
			t.Fatalf("PercentOf(%d, %d) = %d is more than the amount (%d %% ≤ 100 %%)", amount, bp, got, bp)
		}
		if bp == 10000 && got != amount {
			t.Fatalf("PercentOf(%d, 10000) = %d, want the whole amount", amount, got)
		}
		if bp == 0 && got != 0 {
			t.Fatalf("PercentOf(%d, 0) = %d, want 0", amount, got)
		}
		// Monotonic: a larger sale or a larger percentage never pays less.
		if a < MaxSaleCents {
			if next := abs(PercentOf(a+1, bp)); next < g {
				t.Fatalf("PercentOf(%d, %d) = %d < PercentOf(%d, %d) = %d", a+1, bp, next, a, bp, g)
			}
		}
		if bp < 10000 {
			if next := abs(PercentOf(a, bp+1)); next < g {
				t.Fatalf("PercentOf(%d, %d) = %d < PercentOf(%d, %d) = %d", a, bp+1, next, a, bp, g)
			}
		}
	})
}

func FuzzProRata(f *testing.F) {
	for _, s := range [][3]int64{
		{625, 4999, 4999}, {625, 0, 4999}, {625, 1, 2}, {1, 1, 2}, {625, 2, 3}, {1, 4999, 10000},
		{625, 1000, 4999}, {MaxSaleCents, MaxSaleCents, MaxSaleCents}, {999_999_999_999, 999_999_999_999, MaxSaleCents},
		{123_456_789_012, 987_654_321_098, MaxSaleCents}, {0, 0, 1}, {math.MaxInt64, math.MinInt64, 0},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, rawPart, rawNum, rawDen int64) {
		// The domain of a partial refund: a commission of at most a whole
		// sale, and a refunded share num/den of it with 0 ≤ num ≤ den.
		part := into(rawPart, 0, MaxSaleCents)
		den := into(rawDen, 1, MaxSaleCents)
		num := into(rawNum, 0, den)

		got := ProRata(part, num, den)
		r := new(big.Rat).SetFrac(new(big.Int).Mul(big.NewInt(part), big.NewInt(num)), big.NewInt(den))
		if want := roundHalfUp(r); !want.IsInt64() || got != want.Int64() {
			t.Fatalf("ProRata(%d, %d, %d) = %d, exact rounding half up gives %s", part, num, den, got, want)
		}
		if again := ProRata(part, num, den); again != got {
			t.Fatalf("ProRata(%d, %d, %d) is not deterministic: %d then %d", part, num, den, got, again)
		}
		if got < 0 || got > part {
			t.Fatalf("ProRata(%d, %d, %d) = %d is outside 0…%d", part, num, den, got, part)
		}
		if num == den && got != part {
			t.Fatalf("ProRata(%d, %d, %d) = %d, want the whole part", part, num, den, got)
		}
		if num == 0 && got != 0 {
			t.Fatalf("ProRata(%d, 0, %d) = %d, want 0", part, den, got)
		}
		// Monotonic in the refunded amount and in the part.
		if num < den {
			if next := ProRata(part, num+1, den); next < got {
				t.Fatalf("ProRata(%d, %d, %d) = %d < ProRata(%d, %d, %d) = %d", part, num+1, den, next, part, num, den, got)
			}
		}
		if part < MaxSaleCents {
			if next := ProRata(part+1, num, den); next < got {
				t.Fatalf("ProRata(%d, %d, %d) = %d < ProRata(%d, %d, %d) = %d", part+1, num, den, next, part, num, den, got)
			}
		}
		// Two refunds that make up the whole sale take back the whole part,
		// or one unit more when both shares end in exactly one half.
		rest := ProRata(part, den-num, den)
		if sum := got + rest; sum != part && sum != part+1 {
			t.Fatalf("ProRata(%d, %d, %d) + ProRata(%d, %d, %d) = %d + %d, want %d (or one more)",
				part, num, den, part, den-num, den, got, rest, part)
		}
	})
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}
