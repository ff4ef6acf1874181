package validator

import (
	"reflect"
	"strings"
	"testing"

	"github.com/partli/partli/internal/money"
)

func TestText(t *testing.T) {
	for _, tc := range []struct {
		s        string
		required bool
		max      int
		want     string
	}{
		{"Jane", true, 200, CodeOK},
		{"", true, 200, CodeMissing},
		{"", false, 200, CodeOK},
		{strings.Repeat("a", 200), true, 200, CodeOK},
		{strings.Repeat("a", 201), true, 200, CodeTooLong},
		// Characters, not bytes: 200 two-byte letters fit, 201 do not.
		{strings.Repeat("é", 200), true, 200, CodeOK},
		{strings.Repeat("é", 201), true, 200, CodeTooLong},
		{strings.Repeat("🎉", 100), false, 100, CodeOK},
		{strings.Repeat("🎉", 101), false, 100, CodeTooLong},
	} {
		if got := Text(tc.s, tc.required, tc.max); got != tc.want {
			t.Errorf("Text(%.20q…, %v, %d) = %q, want %q", tc.s, tc.required, tc.max, got, tc.want)
		}
	}
	if Name("", NameMax) != CodeMissing || Name("Zoë", NameMax) != CodeOK || Name(strings.Repeat("ö", NameMax+1), NameMax) != CodeTooLong {
		t.Error("Name does not require a name of at most NameMax characters")
	}
}

func TestSlugs(t *testing.T) {
	for _, tc := range []struct {
		s             string
		slug, partner string
	}{
		{"summer-2026", CodeOK, CodeOK},
		{"a", CodeOK, CodeOK},
		{"0day", CodeOK, CodeOK},
		{strings.Repeat("a", 63), CodeOK, CodeOK},
		{strings.Repeat("a", 64), CodeInvalid, CodeInvalid},
		{"jane_doe", CodeInvalid, CodeOK},
		{"", CodeMissing, CodeMissing},
		{"-jane", CodeInvalid, CodeInvalid},
		{"_jane", CodeInvalid, CodeInvalid},
		{"Jane", CodeInvalid, CodeInvalid},
		{"jane doe", CodeInvalid, CodeInvalid},
		{"zoë", CodeInvalid, CodeInvalid},
		{"jane/doe", CodeInvalid, CodeInvalid},
		{"jane\n", CodeInvalid, CodeInvalid},
	} {
		if got := Slug(tc.s); got != tc.slug {
			t.Errorf("Slug(%q) = %q, want %q", tc.s, got, tc.slug)
		}
		if got := PartnerSlug(tc.s); got != tc.partner {
			t.Errorf("PartnerSlug(%q) = %q, want %q", tc.s, got, tc.partner)
		}
	}
}

func TestEmail(t *testing.T) {
	long := strings.Repeat("a", 64) + "@" + strings.Repeat("b", 185) + ".com" // 254 bytes
	for _, tc := range []struct{ s, want string }{
		{"jane@example.com", CodeOK},
		{"jane.doe+promo@mail.example.co.uk", CodeOK},
		{long, CodeOK},
		{"a" + long, CodeInvalid},
		{"", CodeMissing},
		{"jane", CodeInvalid},
		{"jane@localhost", CodeInvalid},
		{"jane@example", CodeInvalid},
		{"Jane <jane@example.com>", CodeInvalid},
		{"<jane@example.com>", CodeInvalid},
		{" jane@example.com", CodeInvalid},
		{"jane@@example.com", CodeInvalid},
		{"jane@exa mple.com", CodeInvalid},
	} {
		if got := Email(tc.s); got != tc.want {
			t.Errorf("Email(%q) = %q, want %q", tc.s, got, tc.want)
		}
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		s    string
		max  int
		want string
	}{
		{"https://shop.example.com/", URLMax, CodeOK},
		{"http://localhost:8080/landing?x=1", URLMax, CodeOK},
		{"", URLMax, CodeMissing},
		{"shop.example.com", URLMax, CodeInvalid},
		{"ftp://shop.example.com/", URLMax, CodeInvalid},
		{"https:///path", URLMax, CodeInvalid},
		{"javascript:alert(1)", URLMax, CodeInvalid},
		{"https://exa mple.com/", URLMax, CodeInvalid},
		{"https://example.com/" + strings.Repeat("a", 480), WebsiteMax, CodeOK},
		{"https://example.com/" + strings.Repeat("a", 481), WebsiteMax, CodeTooLong},
	} {
		if got := URL(tc.s, tc.max); got != tc.want {
			t.Errorf("URL(%.40q, %d) = %q, want %q", tc.s, tc.max, got, tc.want)
		}
	}
}

func TestCurrency(t *testing.T) {
	for _, tc := range []struct{ s, cur, want string }{
		{"USD", "USD", CodeOK},
		{"jpy", "JPY", CodeOK},
		{" kwd ", "KWD", CodeOK},
		{"", "", CodeMissing},
		{"  ", "", CodeMissing},
		{"XYZ", "", CodeInvalid},
		{"US", "", CodeInvalid},
		{"dollars", "", CodeInvalid},
	} {
		if cur, got := Currency(tc.s); cur != tc.cur || got != tc.want {
			t.Errorf("Currency(%q) = %q, %q; want %q, %q", tc.s, cur, got, tc.cur, tc.want)
		}
	}
}

func TestAmount(t *testing.T) {
	for _, tc := range []struct {
		raw, currency string
		min           int64
		n             int64
		want          string
	}{
		{"49.00", "USD", 1, 4900, CodeOK},
		{"0", "USD", 0, 0, CodeOK},
		{"0", "USD", 1, 0, CodeRange},
		{"0.00", "EUR", 1, 0, CodeRange},
		{"1500", "JPY", 1, 1500, CodeOK},
		{"1500.5", "JPY", 1, 0, CodeDecimals},
		{"1.234", "KWD", 1, 1234, CodeOK},
		{"1.2345", "KWD", 1, 0, CodeDecimals},
		{"1.234", "USD", 1, 0, CodeDecimals},
		{"10000000000.01", "USD", 0, 0, CodeRange},
		{"", "USD", 0, 0, CodeMissing},
		{"1,000", "USD", 0, 0, CodeInvalid},
		{"-5", "USD", 0, 0, CodeInvalid},
		{"abc", "USD", 0, 0, CodeInvalid},
	} {
		if n, got := Amount(tc.raw, tc.currency, tc.min); n != tc.n || got != tc.want {
			t.Errorf("Amount(%q, %s, %d) = %d, %q; want %d, %q", tc.raw, tc.currency, tc.min, n, got, tc.n, tc.want)
		}
	}
	if n, code := Amount("10000000000", "USD", 0); n != money.MaxSaleCents || code != CodeOK {
		t.Errorf("the largest amount: %d, %q", n, code)
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		raw  string
		bp   int64
		want string
	}{
		{"12.5", 1250, CodeOK},
		{"100", 10000, CodeOK},
		{"0.01", 1, CodeOK},
		{"0", 0, CodeRange},
		{"100.01", 0, CodeRange},
		{"12.345", 0, CodeDecimals},
		{"", 0, CodeMissing},
		{"12%", 0, CodeInvalid},
		{"twelve", 0, CodeInvalid},
	} {
		if bp, got := Percent(tc.raw); bp != tc.bp || got != tc.want {
			t.Errorf("Percent(%q) = %d, %q; want %d, %q", tc.raw, bp, got, tc.bp, tc.want)
		}
	}
}

func TestWholeAndPeriods(t *testing.T) {
	for _, tc := range []struct {
		raw      string
		min, max int
		n        int
		want     string
	}{
		{"30", 0, 3650, 30, CodeOK},
		{"0", 0, 3650, 0, CodeOK},
		{"3650", 0, 3650, 3650, CodeOK},
		{"3651", 0, 3650, 0, CodeRange},
		{"-1", 0, 3650, 0, CodeRange},
		{"99999999999999999999", 0, 3650, 0, CodeRange},
		{"", 0, 3650, 0, CodeMissing},
		{"1.5", 0, 3650, 0, CodeInvalid},
		{"thirty", 0, 3650, 0, CodeInvalid},
		{" 30", 0, 3650, 0, CodeInvalid},
	} {
		if n, got := Whole(tc.raw, tc.min, tc.max); n != tc.n || got != tc.want {
			t.Errorf("Whole(%q, %d, %d) = %d, %q; want %d, %q", tc.raw, tc.min, tc.max, n, got, tc.n, tc.want)
		}
	}
	for _, tc := range []struct {
		raw             string
		holding, cookie string
	}{
		{"0", CodeOK, CodeRange}, {"1", CodeOK, CodeOK}, {"3650", CodeOK, CodeOK}, {"3651", CodeRange, CodeRange}, {"x", CodeInvalid, CodeInvalid},
	} {
		if _, got := HoldingPeriod(tc.raw); got != tc.holding {
			t.Errorf("HoldingPeriod(%q) = %q, want %q", tc.raw, got, tc.holding)
		}
		if _, got := CookieWindow(tc.raw); got != tc.cookie {
			t.Errorf("CookieWindow(%q) = %q, want %q", tc.raw, got, tc.cookie)
		}
	}
	for _, tc := range []struct {
		n, min, max int64
		want        string
	}{{0, 0, 3650, CodeOK}, {3650, 0, 3650, CodeOK}, {3651, 0, 3650, CodeRange}, {0, 1, 1200, CodeRange}} {
		if got := InRange(tc.n, tc.min, tc.max); got != tc.want {
			t.Errorf("InRange(%d, %d, %d) = %q, want %q", tc.n, tc.min, tc.max, got, tc.want)
		}
	}
}

func TestLeadReward(t *testing.T) {
	for _, tc := range []struct {
		group, flat, oneTime bool
		want                 []Error
	}{
		{true, true, true, nil},
		{false, true, true, []Error{{"groupId", CodeLeadNeedsGroup}}},
		{true, false, true, []Error{{"type", CodeLeadFlat}}},
		{true, true, false, []Error{{"interval", CodeLeadOneTime}}},
		{false, false, false, []Error{{"groupId", CodeLeadNeedsGroup}, {"type", CodeLeadFlat}, {"interval", CodeLeadOneTime}}},
	} {
		if got := LeadReward(tc.group, tc.flat, tc.oneTime); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("LeadReward(%v, %v, %v) = %v, want %v", tc.group, tc.flat, tc.oneTime, got, tc.want)
		}
	}
}

func TestPartner(t *testing.T) {
	for _, tc := range []struct {
		name, email, slug string
		want              []Error
	}{
		{"Jane Doe", "jane@example.com", "", nil},
		{"Jane Doe", "jane@example.com", "jane_doe", nil},
		{"", "", "", []Error{{"name", CodeMissing}, {"email", CodeMissing}}},
		{strings.Repeat("ж", NameMax), "jane@example.com", "", nil},
		{strings.Repeat("ж", NameMax+1), "jane", "Jane", []Error{{"name", CodeTooLong}, {"email", CodeInvalid}, {"slug", CodeInvalid}}},
	} {
		if got := Partner(tc.name, tc.email, tc.slug); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Partner(%.10q, %q, %q) = %v, want %v", tc.name, tc.email, tc.slug, got, tc.want)
		}
	}
	if got := (&Error{Field: "email", Code: CodeInvalid}).Error(); got != "validator: email: invalid" {
		t.Errorf("Error() = %q", got)
	}
}
