// Package export holds what every CSV file Partli writes shares: the
// guard that keeps spreadsheet programs from running text that people
// typed as a formula. Amounts in major units are money.Decimal.
package export

import "strings"

// Text keeps spreadsheet programs from running a cell as a formula (names
// and references are typed by people): text starting with = + - @ or a
// tab or carriage return gets a leading apostrophe.
func Text(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
