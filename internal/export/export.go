// Package export holds what every CSV file Partli writes shares: amounts
// in major units of their currency, and the guard that keeps spreadsheet
// programs from running text that people typed as a formula.
package export

import (
	"strconv"
	"strings"

	"github.com/partli/partli/internal/money"
)

// Decimal writes minor units as a plain decimal in major units, with the
// currency's number of decimals: 123456 USD → "1234.56", -500 → "-5.00",
// 500 JPY → "500".
func Decimal(cents int64, currency string) string {
	exp := money.Exponent(currency)
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	s := strconv.FormatInt(cents, 10)
	if exp == 0 {
		return sign + s
	}
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	return sign + s[:len(s)-exp] + "." + s[len(s)-exp:]
}

// Text keeps spreadsheet programs from running a cell as a formula (names
// and references are typed by people): text starting with = + - @ or a
// tab or carriage return gets a leading apostrophe.
func Text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
