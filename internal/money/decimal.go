package money

import (
	"errors"
	"strconv"
	"strings"
)

// Why an amount or a percentage typed as a decimal was refused. Each
// surface words them its own way (internal/validator turns them into
// field codes).
var (
	// ErrSyntax is text that is not a plain decimal: digits, at most one
	// dot with digits after it, no sign, no spaces, no thousands separators.
	ErrSyntax = errors.New("money: not a plain decimal")
	// ErrDecimals is an amount with more decimals than its currency's minor
	// unit has ("1.5" JPY, "1.2345" KWD), or a percentage with more than two.
	ErrDecimals = errors.New("money: too many decimals")
	// ErrRange is an amount above MaxSaleCents, or a percentage outside
	// 0 < p ≤ 100.
	ErrRange = errors.New("money: out of range")
)

// maxWholeDigits bounds the whole part of a typed amount: MaxSaleCents is
// 1e12 minor units, so 13 digits is more than any currency accepts, and
// keeps w × 10^exp far below the int64 limit.
const maxWholeDigits = 13

// ParseDecimal turns an amount typed in major units into exact minor units
// of currency: "49.00" or "49.5" USD = 4900 or 4950, "1500" JPY = 1500,
// "1.234" KWD = 1234. It refuses more decimals than the currency has
// (ErrDecimals), anything but digits and one dot (ErrSyntax) and amounts
// above MaxSaleCents (ErrRange). No floating point.
func ParseDecimal(raw, currency string) (int64, error) {
	whole, frac, dot := strings.Cut(raw, ".")
	if !digits(whole, maxWholeDigits) || (dot && !digits(frac, 0)) {
		return 0, ErrSyntax
	}
	exp := Exponent(currency)
	if len(frac) > exp {
		return 0, ErrDecimals
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return 0, ErrSyntax
	}
	n := w * pow10(exp) // w < 1e13, exp ≤ 4: far below the int64 limit
	if frac != "" {
		f, err := strconv.ParseInt(frac+strings.Repeat("0", exp-len(frac)), 10, 64)
		if err != nil {
			return 0, ErrSyntax
		}
		n += f
	}
	if n > MaxSaleCents {
		return 0, ErrRange
	}
	return n, nil
}

// digits reports whether s is 1 to max ASCII digits (any number when max is 0).
func digits(s string, max int) bool {
	if s == "" || (max > 0 && len(s) > max) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Decimal writes minor units as a plain decimal in major units, as a form
// field or a spreadsheet cell wants it: 4900 USD → "49.00", 5 USD → "0.05",
// 5000 JPY → "5000", 1234 KWD → "1.234", -500 EUR → "-5.00". ParseDecimal
// reads it back.
func Decimal(cents int64, currency string) string {
	exp := Exponent(currency)
	sign := ""
	u := uint64(cents)
	if cents < 0 {
		sign, u = "-", uint64(-cents) // two's complement: right for math.MinInt64 too
	}
	s := strconv.FormatUint(u, 10)
	if exp == 0 {
		return sign + s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return sign + s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// FromMajor is whole major units in minor units of currency: 49 USD → 4900,
// 49 JPY → 49, 49 KWD → 49000.
func FromMajor(whole int64, currency string) int64 { return whole * pow10(Exponent(currency)) }

func pow10(exp int) int64 {
	n := int64(1)
	for range exp {
		n *= 10
	}
	return n
}

// ParsePercent turns a percentage typed as a decimal into basis points:
// "12.5" → 1250, "100" → 10000, "0.01" → 1. It refuses more than two
// decimals (ErrDecimals), anything but digits and one dot (ErrSyntax), and
// 0 or more than 100 (ErrRange).
func ParsePercent(raw string) (int64, error) {
	whole, frac, dot := strings.Cut(raw, ".")
	if !digits(whole, 0) || (dot && !digits(frac, 0)) {
		return 0, ErrSyntax
	}
	if len(frac) > 2 {
		return 0, ErrDecimals
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 3 {
		return 0, ErrRange
	}
	w, _ := strconv.ParseInt("0"+whole, 10, 64) // at most three digits
	f, _ := strconv.ParseInt((frac + "00")[:2], 10, 64)
	bp := w*100 + f
	if bp <= 0 || bp > 10000 {
		return 0, ErrRange
	}
	return bp, nil
}

// FormatPercent writes basis points as a plain decimal, the way
// ParsePercent reads it: 1250 → "12.5", 2000 → "20", 1205 → "12.05".
func FormatPercent(bp int64) string {
	sign := ""
	u := uint64(bp)
	if bp < 0 {
		sign, u = "-", uint64(-bp)
	}
	s := sign + strconv.FormatUint(u/100, 10)
	if frac := u % 100; frac != 0 {
		f := strconv.FormatUint(100+frac, 10)[1:]
		if f[1] == '0' {
			f = f[:1]
		}
		s += "." + f
	}
	return s
}
