package validator

// What can be wrong with a partner code ("MAYA20").
const (
	CodeOK         = ""
	CodeMissing    = "missing"    // empty
	CodeLength     = "length"     // fewer than CodeMin or more than CodeMax characters
	CodeCharacters = "characters" // a character other than a letter, a digit, - or _
)

// A code's length bounds, in characters.
const (
	CodeMin = 3
	CodeMax = 32
)

// Code says what is wrong with a partner code: it is 3 to 32 ASCII
// letters, digits, dashes or underscores (a customer types it at checkout,
// so nothing that looks alike, no spaces), compared in any case.
func Code(s string) string {
	if s == "" {
		return CodeMissing
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return CodeCharacters
		}
	}
	if len(s) < CodeMin || len(s) > CodeMax {
		return CodeLength
	}
	return CodeOK
}
