// Package validator holds Partli's field rules once: each surface (the JSON
// API, the dashboard's forms, the partner portal) asks it whether a value
// is acceptable and words the answer its own way.
package validator

import (
	"strings"
	"unicode"

	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// letters that do not decompose into a base letter and marks, spelled as
// their usual Latin transliteration.
var letters = strings.NewReplacer(
	"ß", "ss", "ẞ", "ss", "æ", "ae", "Æ", "ae", "œ", "oe", "Œ", "oe", "ø", "o", "Ø", "o",
	"đ", "d", "Đ", "d", "ð", "d", "Ð", "d", "þ", "th", "Þ", "th", "ł", "l", "Ł", "l", "ı", "i",
	"&", " and ",
)

// Slugify makes a URL slug from a name, at most max bytes: lower-case ASCII
// letters and digits joined by single dashes. Accented letters keep their
// base letter ("Zoë Brontë" → "zoe-bronte", "Łódź" → "lodz"); other
// characters separate words. A name with nothing to keep gives "p".
func Slugify(name string, max int) string {
	plain, _, err := transform.String(transform.Chain(norm.NFKD, runes.Remove(runes.In(unicode.Mn)), norm.NFC), letters.Replace(name))
	if err != nil {
		plain = name
	}
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(plain) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
		default:
			dash = true
		}
	}
	s := b.String()
	if len(s) > max {
		s = strings.TrimRight(s[:max], "-")
	}
	if s == "" {
		s = "p"
	}
	return s
}
