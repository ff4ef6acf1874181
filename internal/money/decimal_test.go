package money

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"testing"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		raw, currency string
		want          int64
		err           error
	}{
		{"49.00", "USD", 4900, nil},
		{"49.5", "USD", 4950, nil},
		{"49", "USD", 4900, nil},
		{"0", "USD", 0, nil},
		{"0.01", "USD", 1, nil},
		{"007.10", "EUR", 710, nil},
		{"10000000000", "USD", MaxSaleCents, nil},
		{"9999999999.99", "USD", MaxSaleCents - 1, nil},
		{"10000000000.01", "USD", 0, ErrRange},
		{"9999999999999", "USD", 0, ErrRange},
		{"99999999999999", "USD", 0, ErrSyntax}, // more whole digits than any amount has
		{"1.234", "USD", 0, ErrDecimals},
		{"1.00000", "USD", 0, ErrDecimals},
		// Zero-decimal currencies: whole amounts only.
		{"1500", "JPY", 1500, nil},
		{"1500.", "JPY", 0, ErrSyntax},
		{"1500.0", "JPY", 0, ErrDecimals},
		{"1500.5", "JPY", 0, ErrDecimals},
		{"1000000000000", "JPY", MaxSaleCents, nil},
		{"1000000000001", "JPY", 0, ErrRange},
		// Three-decimal currencies.
		{"1.234", "KWD", 1234, nil},
		{"1.2", "KWD", 1200, nil},
		{"0.001", "KWD", 1, nil},
		{"1.2345", "KWD", 0, ErrDecimals},
		// Four decimals (CLF).
		{"1.2345", "CLF", 12345, nil},
		{"1.23456", "CLF", 0, ErrDecimals},
		// Not a plain decimal.
		{"", "USD", 0, ErrSyntax},
		{".5", "USD", 0, ErrSyntax},
		{"5.", "USD", 0, ErrSyntax},
		{"-5", "USD", 0, ErrSyntax},
		{"+5", "USD", 0, ErrSyntax},
		{" 5", "USD", 0, ErrSyntax},
		{"1,000.00", "USD", 0, ErrSyntax},
		{"1.000,00", "EUR", 0, ErrSyntax},
		{"1e3", "USD", 0, ErrSyntax},
		{"1.2.3", "USD", 0, ErrSyntax},
		{"٣", "USD", 0, ErrSyntax}, // an Arabic-Indic digit
		{"0x10", "USD", 0, ErrSyntax},
	}
	for _, tc := range tests {
		got, err := ParseDecimal(tc.raw, tc.currency)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("ParseDecimal(%q, %s) = %d, %v; want %d, %v", tc.raw, tc.currency, got, err, tc.want, tc.err)
		}
	}
}

func TestDecimal(t *testing.T) {
	tests := []struct {
		cents    int64
		currency string
		want     string
	}{
		{4900, "USD", "49.00"},
		{4950, "USD", "49.50"},
		{5, "USD", "0.05"},
		{0, "USD", "0.00"},
		{-500, "EUR", "-5.00"},
		{-1, "EUR", "-0.01"},
		{5000, "JPY", "5000"},
		{-5000, "JPY", "-5000"},
		{0, "JPY", "0"},
		{1234, "KWD", "1.234"},
		{1, "KWD", "0.001"},
		{12345, "CLF", "1.2345"},
		{MaxSaleCents, "USD", "10000000000.00"},
		{math.MinInt64, "USD", "-92233720368547758.08"},
	}
	for _, tc := range tests {
		if got := Decimal(tc.cents, tc.currency); got != tc.want {
			t.Errorf("Decimal(%d, %s) = %q, want %q", tc.cents, tc.currency, got, tc.want)
		}
	}
}

func TestFromMajor(t *testing.T) {
	for _, tc := range []struct {
		currency string
		want     int64
	}{{"USD", 4900}, {"JPY", 49}, {"KWD", 49000}, {"CLF", 490000}} {
		if got := FromMajor(49, tc.currency); got != tc.want {
			t.Errorf("FromMajor(49, %s) = %d, want %d", tc.currency, got, tc.want)
		}
	}
}

func TestParsePercent(t *testing.T) {
	tests := []struct {
		raw  string
		want int64
		err  error
	}{
		{"12.5", 1250, nil},
		{"12.50", 1250, nil},
		{"12.05", 1205, nil},
		{"20", 2000, nil},
		{"100", 10000, nil},
		{"100.00", 10000, nil},
		{"0.01", 1, nil},
		{"0100", 10000, nil},
		{"000000000000000000000000012", 1200, nil},
		{"0", 0, ErrRange},
		{"0.00", 0, ErrRange},
		{"100.01", 0, ErrRange},
		{"101", 0, ErrRange},
		{"99999999999999999999999", 0, ErrRange},
		{"12.345", 0, ErrDecimals},
		{"", 0, ErrSyntax},
		{".5", 0, ErrSyntax},
		{"5.", 0, ErrSyntax},
		{"-5", 0, ErrSyntax},
		{"12,5", 0, ErrSyntax},
		{"12.5%", 0, ErrSyntax},
		{" 12", 0, ErrSyntax},
		{"1e2", 0, ErrSyntax},
	}
	for _, tc := range tests {
		got, err := ParsePercent(tc.raw)
		if got != tc.want || !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
			t.Errorf("ParsePercent(%q) = %d, %v; want %d, %v", tc.raw, got, err, tc.want, tc.err)
		}
	}
}

func TestFormatPercent(t *testing.T) {
	for _, tc := range []struct {
		bp   int64
		want string
	}{
		{1250, "12.5"}, {2000, "20"}, {1205, "12.05"}, {1, "0.01"}, {10, "0.1"}, {10000, "100"}, {0, "0"},
		{3333, "33.33"}, {-1250, "-12.5"},
	} {
		if got := FormatPercent(tc.bp); got != tc.want {
			t.Errorf("FormatPercent(%d) = %q, want %q", tc.bp, got, tc.want)
		}
	}
}

// fuzzCurrencies are currencies of every exponent.
var fuzzCurrencies = []string{"USD", "JPY", "KWD", "CLF", "EUR", "BHD", "KRW"}

// plainDecimal is the syntax ParseDecimal and ParsePercent accept.
var plainDecimal = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

// exactMinor is raw (a plain decimal) × 10^exp in big.Rat, and whether that is whole.
func exactMinor(raw string, exp int) (*big.Int, bool) {
	r, ok := new(big.Rat).SetString(raw)
	if !ok {
		panic("not a decimal: " + raw)
	}
	r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(exp)), nil)))
	return r.Num(), r.IsInt()
}

func FuzzParseDecimal(f *testing.F) {
	for _, s := range []struct {
		raw string
		cur uint8
	}{{"49.00", 0}, {"1500", 1}, {"1.234", 2}, {"1.2345", 3}, {"1500.5", 1}, {"10000000000.01", 0}, {"007.1", 4}, {"1,5", 0}, {"", 0}} {
		f.Add(s.raw, s.cur)
	}
	f.Fuzz(func(t *testing.T, raw string, rawCur uint8) {
		cur := fuzzCurrencies[int(rawCur)%len(fuzzCurrencies)]
		exp := Exponent(cur)
		got, err := ParseDecimal(raw, cur)
		_, frac, _ := cutDot(raw)
		// What the exact arithmetic says the answer is.
		var want error
		switch {
		case !plainDecimal.MatchString(raw) || len(wholeOf(raw)) > maxWholeDigits:
			want = ErrSyntax
		case len(frac) > exp:
			want = ErrDecimals
		default:
			n, whole := exactMinor(raw, exp)
			if !whole {
				t.Fatalf("%q × 10^%d is not whole with %d ≤ %d decimals", raw, exp, len(frac), exp)
			}
			if n.Cmp(big.NewInt(MaxSaleCents)) > 0 {
				want = ErrRange
			} else if got != n.Int64() || err != nil {
				t.Fatalf("ParseDecimal(%q, %s) = %d, %v; exact arithmetic gives %s", raw, cur, got, err, n)
			}
		}
		if !errors.Is(err, want) || (want == nil) != (err == nil) || (err != nil && got != 0) {
			t.Fatalf("ParseDecimal(%q, %s) = %d, %v; want %v", raw, cur, got, err, want)
		}
		if err == nil {
			if back, err := ParseDecimal(Decimal(got, cur), cur); err != nil || back != got {
				t.Fatalf("Decimal(%d, %s) = %q reads back as %d, %v", got, cur, Decimal(got, cur), back, err)
			}
		}
	})
}

func FuzzDecimal(f *testing.F) {
	for _, s := range []int64{0, 1, 5, 4900, MaxSaleCents, -500, math.MinInt64, math.MaxInt64} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(1))
		f.Add(s, uint8(2))
	}
	f.Fuzz(func(t *testing.T, rawCents int64, rawCur uint8) {
		cur := fuzzCurrencies[int(rawCur)%len(fuzzCurrencies)]
		cents := into(rawCents, -MaxSaleCents, MaxSaleCents)
		s := Decimal(cents, cur)
		// The text is the exact value: as a rational it is cents / 10^exp.
		r, ok := new(big.Rat).SetString(s)
		want := new(big.Rat).SetFrac(big.NewInt(cents), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(Exponent(cur))), nil))
		if !ok || r.Cmp(want) != 0 {
			t.Fatalf("Decimal(%d, %s) = %q, not %s", cents, cur, s, want.FloatString(Exponent(cur)))
		}
		if _, frac, _ := cutDot(s); len(frac) != Exponent(cur) {
			t.Fatalf("Decimal(%d, %s) = %q has %d decimals, want %d", cents, cur, s, len(frac), Exponent(cur))
		}
		if cents >= 0 {
			if back, err := ParseDecimal(s, cur); err != nil || back != cents {
				t.Fatalf("ParseDecimal(Decimal(%d, %s) = %q) = %d, %v", cents, cur, s, back, err)
			}
		}
	})
}

func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"12.5", "100", "100.01", "0", "0.01", "12.345", "0100", "1e2", "", "99999999999999999999"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := ParsePercent(raw)
		_, frac, _ := cutDot(raw)
		var want error
		switch {
		case !plainDecimal.MatchString(raw):
			want = ErrSyntax
		case len(frac) > 2:
			want = ErrDecimals
		default:
			n, _ := exactMinor(raw, 2)
			if n.Sign() <= 0 || n.Cmp(big.NewInt(10000)) > 0 {
				want = ErrRange
			} else if got != n.Int64() || err != nil {
				t.Fatalf("ParsePercent(%q) = %d, %v; exact arithmetic gives %s", raw, got, err, n)
			}
		}
		if !errors.Is(err, want) || (want == nil) != (err == nil) || (err != nil && got != 0) {
			t.Fatalf("ParsePercent(%q) = %d, %v; want %v", raw, got, err, want)
		}
		if err == nil {
			if back, err := ParsePercent(FormatPercent(got)); err != nil || back != got {
				t.Fatalf("FormatPercent(%d) = %q reads back as %d, %v", got, FormatPercent(got), back, err)
			}
		}
	})
}

func cutDot(s string) (whole, frac string, dot bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}

func wholeOf(s string) string { w, _, _ := cutDot(s); return w }
