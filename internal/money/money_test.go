package money

import (
	"math"
	"testing"
)

func TestPercentOf(t *testing.T) {
	tests := []struct {
		name        string
		amount, bp  int64
		want        int64
		description string
	}{
		{"12.5% of 49.99 rounds .875 up", 4999, 1250, 625, "624.875"},
		{"exact half rounds up", 1, 5000, 1, "0.5"},
		{"exact half rounds up, larger", 5, 1000, 1, "0.5"},
		{"half of 3 cents", 3, 5000, 2, "1.5"},
		{"just below half rounds down", 4999, 1, 0, "0.4999"},
		{"just above half rounds up", 5001, 1, 1, "0.5001"},
		{"1 cent at 10% is zero", 1, 1000, 0, "0.1"},
		{"0.01% of 1 cent", 1, 1, 0, "0.0001"},
		{"smallest percent of a large sale", 1_000_000, 1, 100, "100"},
		{"100%", 4999, 10000, 4999, "4999"},
		{"20% exact", 10000, 2000, 2000, "2000"},
		{"12.34%", 10000, 1234, 1234, "1234"},
		{"33.33% of 1 cent", 1, 3333, 0, "0.3333"},
		{"33.33% of 2 cents", 2, 3333, 1, "0.6666"},
		{"max sale at 100% does not overflow", MaxSaleCents, 10000, MaxSaleCents, "1e12"},
		{"max sale at 12.5%", MaxSaleCents, 1250, 125_000_000_000, "1.25e11"},
		{"max sale at 0.01%", MaxSaleCents, 1, 100_000_000, "1e8"},
		{"max sale minus one at 33.33%", MaxSaleCents - 1, 3333, 333_300_000_000, "333299999999.6667"},
		{"zero amount", 0, 1250, 0, "0"},
		// Negative amounts mirror their positive counterparts (half away from zero).
		{"negative 4999 at 12.5%", -4999, 1250, -625, "-624.875"},
		{"negative exact half", -1, 5000, -1, "-0.5"},
		{"negative just below half", -4999, 1, 0, "-0.4999"},
		{"negative max sale at 100%", -MaxSaleCents, 10000, -MaxSaleCents, "-1e12"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := PercentOf(tt.amount, tt.bp); got != tt.want {
				t.Errorf("PercentOf(%d, %d) = %d, want %d (exact value %s)", tt.amount, tt.bp, got, tt.want, tt.description)
			}
		})
	}
}

func TestPercentOfMirrorsNegatives(t *testing.T) {
	for _, amount := range []int64{1, 2, 3, 5, 7, 99, 4999, 12345, 999_999, MaxSaleCents} {
		for _, bp := range []int64{1, 333, 1250, 3333, 5000, 6667, 9999, 10000} {
			pos, neg := PercentOf(amount, bp), PercentOf(-amount, bp)
			if neg != -pos {
				t.Errorf("PercentOf(-%d, %d) = %d, want -PercentOf(%d, %d) = %d", amount, bp, neg, amount, bp, -pos)
			}
		}
	}
}

func TestProRata(t *testing.T) {
	tests := []struct {
		name           string
		part, num, den int64
		want           int64
	}{
		{"whole", 625, 4999, 4999, 625},
		{"none", 625, 0, 4999, 0},
		{"half, exact", 624, 1, 2, 312},
		{"half of odd rounds up", 625, 1, 2, 313},
		{"half of 1 cent rounds up", 1, 1, 2, 1},
		{"a third rounds down", 625, 1, 3, 208},
		{"two thirds rounds up", 625, 2, 3, 417},
		{"just below half rounds down", 1, 4999, 10000, 0},
		{"just above half rounds up", 1, 5001, 10000, 1},
		{"partial refund of a sale", 625, 1000, 4999, 125}, // 125.025
		{"max × max / max overflows int64 in the product", MaxSaleCents, MaxSaleCents, MaxSaleCents, MaxSaleCents},
		{"near-max product rounds", 999_999_999_999, 999_999_999_999, MaxSaleCents, 999_999_999_998}, // …998.000000000001
		{"large product, fraction", 123_456_789_012, 987_654_321_098, MaxSaleCents, 121_932_631_137},
		{"product far beyond int64", math.MaxInt64 / 2, 3, 4, 3_458_764_513_820_540_927}, // (2⁶²−1)·3/4 = …927.25
		{"a third of max", MaxSaleCents, 1, 3, 333_333_333_333},
		{"two thirds of max", MaxSaleCents, 2, 3, 666_666_666_667},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ProRata(tt.part, tt.num, tt.den); got != tt.want {
				t.Errorf("ProRata(%d, %d, %d) = %d, want %d", tt.part, tt.num, tt.den, got, tt.want)
			}
		})
	}
}

func TestNormalizeCurrency(t *testing.T) {
	tests := []struct {
		in     string
		want   string
		wantOK bool
	}{
		{"USD", "USD", true},
		{"usd", "USD", true},
		{"Eur", "EUR", true},
		{"JPY", "JPY", true},
		{"jpy", "JPY", true},
		{"KRW", "KRW", true},
		{" gbp ", "GBP", true},
		{"US", "", false},
		{"XXX1", "", false},
		{"USDD", "", false},
		{"ABC", "", false},
		{"", "", false},
		{"   ", "", false},
		{"U$D", "", false},
		{"123", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := NormalizeCurrency(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("NormalizeCurrency(%q) = (%q, %v), want (%q, %v)", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
