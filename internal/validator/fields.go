package validator

import (
	"errors"
	"net/mail"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/partli/partli/internal/money"
)

// What can be wrong with a field, besides the codes of Code. A rule
// returns one of them, CodeOK when the value is acceptable; the surface
// that asked words it for its readers, naming the field.
const (
	CodeTooLong  = "too_long" // more characters than the field takes
	CodeInvalid  = "invalid"  // not the shape the field takes (an email address, a URL, a slug, a number)
	CodeDecimals = "decimals" // more decimals than the currency (or a percentage) has
	CodeRange    = "range"    // a number outside the field's bounds
	// The lead-reward rules (LeadReward).
	CodeLeadNeedsGroup = "lead_needs_group" // a lead reward belongs to a group
	CodeLeadFlat       = "lead_flat"        // a lead reward is a flat amount
	CodeLeadOneTime    = "lead_one_time"    // a lead reward is one-time
)

// Bounds of the fields, in characters (runes) for text.
const (
	NameMax      = 200  // a program's, a partner's, a workspace's name
	GroupNameMax = 100  // a partner group's name
	URLMax       = 2048 // a program's destination URL
	WebsiteMax   = 500  // a partner's website, on their application
	CountryMax   = 100  // a partner's country, on their application
	PitchMax     = 2000 // a partner's pitch, on their application
	EmailMax     = 254  // an email address (RFC 5321's path limit)

	HoldingDaysMin    = 0 // a program's or a group's holding period, in days
	HoldingDaysMax    = 3650
	CookieDaysMin     = 1 // a program's cookie window, in days
	CookieDaysMax     = 3650
	DurationMonthsMin = 1 // a recurring reward's cap, in months
	DurationMonthsMax = 1200
)

// Error is a field a rule refused: Field names it as the JSON API does
// ("destinationUrl"), Code says what is wrong (Code* constants).
type Error struct {
	Field, Code string
}

func (e *Error) Error() string { return "validator: " + e.Field + ": " + e.Code }

// Text checks text of at most max characters (runes, not bytes; the
// caller trims it): CodeMissing when required and empty, CodeTooLong.
func Text(s string, required bool, max int) string {
	switch n := utf8.RuneCountInString(s); {
	case n == 0 && required:
		return CodeMissing
	case n > max:
		return CodeTooLong
	}
	return CodeOK
}

// Name checks a required name of at most max characters.
func Name(s string, max int) string { return Text(s, true, max) }

var (
	// slugRe is a program's or a workspace's slug: part of a URL path.
	slugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	// partnerSlugRe is a referral link's slug (/r/{slug}), which may also
	// hold underscores.
	partnerSlugRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
)

// Slug checks a program's or a workspace's slug: 1 to 63 lower-case ASCII
// letters, digits or dashes, starting with a letter or digit.
func Slug(s string) string { return match(slugRe, s) }

// PartnerSlug checks a referral link's slug: as Slug, underscores allowed.
func PartnerSlug(s string) string { return match(partnerSlugRe, s) }

func match(re *regexp.Regexp, s string) string {
	switch {
	case s == "":
		return CodeMissing
	case !re.MatchString(s):
		return CodeInvalid
	}
	return CodeOK
}

// Email checks an email address as people type it: a bare address (no
// display name, no angle brackets) of at most EmailMax bytes whose domain
// has a dot.
func Email(s string) string {
	if s == "" {
		return CodeMissing
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || len(s) > EmailMax || !strings.Contains(s[strings.LastIndex(s, "@"):], ".") {
		return CodeInvalid
	}
	return CodeOK
}

// URL checks an absolute http or https URL with a host, of at most max
// characters.
func URL(s string, max int) string {
	if code := Text(s, true, max); code != CodeOK {
		return code
	}
	if u, err := url.Parse(s); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return CodeInvalid
	}
	return CodeOK
}

// Currency checks an ISO 4217 currency code in any case and returns it
// upper-cased.
func Currency(s string) (string, string) {
	if strings.TrimSpace(s) == "" {
		return "", CodeMissing
	}
	c, ok := money.NormalizeCurrency(s)
	if !ok {
		return "", CodeInvalid
	}
	return c, CodeOK
}

// Amount reads an amount typed in major units of currency into minor
// units (money.ParseDecimal): CodeMissing, CodeInvalid (not a plain
// decimal), CodeDecimals (more decimals than the currency has) or
// CodeRange (below min, or above money.MaxSaleCents).
func Amount(raw, currency string, min int64) (int64, string) {
	if raw == "" {
		return 0, CodeMissing
	}
	n, err := money.ParseDecimal(raw, currency)
	if err != nil {
		return 0, moneyCode(err)
	}
	if n < min {
		return 0, CodeRange
	}
	return n, CodeOK
}

// moneyCode is the field code of a refusal by the money package.
func moneyCode(err error) string {
	switch {
	case errors.Is(err, money.ErrDecimals):
		return CodeDecimals
	case errors.Is(err, money.ErrRange):
		return CodeRange
	}
	return CodeInvalid
}

// Percent reads a percentage above 0 and at most 100 with at most two
// decimals ("12.5") into basis points (money.ParsePercent).
func Percent(raw string) (int64, string) {
	if raw == "" {
		return 0, CodeMissing
	}
	bp, err := money.ParsePercent(raw)
	if err != nil {
		return 0, moneyCode(err)
	}
	return bp, CodeOK
}

// Whole reads a whole number typed in a form, within [min, max]:
// CodeMissing, CodeInvalid (not a whole number) or CodeRange.
func Whole(raw string, min, max int) (int, string) {
	if raw == "" {
		return 0, CodeMissing
	}
	n, err := strconv.Atoi(raw)
	switch {
	case err != nil && errors.Is(err, strconv.ErrRange):
		return 0, CodeRange
	case err != nil:
		return 0, CodeInvalid
	case n < min || n > max:
		return 0, CodeRange
	}
	return n, CodeOK
}

// InRange checks a number the JSON API read against [min, max].
func InRange(n, min, max int64) string {
	if n < min || n > max {
		return CodeRange
	}
	return CodeOK
}

// HoldingPeriod checks a holding period typed in days.
func HoldingPeriod(raw string) (int, string) { return Whole(raw, HoldingDaysMin, HoldingDaysMax) }

// CookieWindow checks a cookie window typed in days.
func CookieWindow(raw string) (int, string) { return Whole(raw, CookieDaysMin, CookieDaysMax) }

// LeadReward checks the rules of a lead reward: it belongs to a group
// (there is no program-level lead reward), it is a flat amount, and it is
// one-time (one lead commission per customer). It returns the refused
// fields (groupId, type, interval), none when the reward is acceptable.
func LeadReward(hasGroup, flat, oneTime bool) []Error {
	var errs []Error
	if !hasGroup {
		errs = append(errs, Error{Field: "groupId", Code: CodeLeadNeedsGroup})
	}
	if !flat {
		errs = append(errs, Error{Field: "type", Code: CodeLeadFlat})
	}
	if !oneTime {
		errs = append(errs, Error{Field: "interval", Code: CodeLeadOneTime})
	}
	return errs
}

// Partner checks what every surface asks of a new partner (the API, the
// dashboard's form, the portal's application): a name, an email address
// and, when given, a link slug.
func Partner(name, email, slug string) []Error {
	var errs []Error
	if code := Name(name, NameMax); code != CodeOK {
		errs = append(errs, Error{Field: "name", Code: code})
	}
	if code := Email(email); code != CodeOK {
		errs = append(errs, Error{Field: "email", Code: code})
	}
	if slug != "" {
		if code := PartnerSlug(slug); code != CodeOK {
			errs = append(errs, Error{Field: "slug", Code: code})
		}
	}
	return errs
}
