package email

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/partli/partli/internal/store"
)

func TestOneLine(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"Plain subject", "Plain subject"},
		{"Evil\r\nBcc: victim@example.com", "Evil Bcc: victim@example.com"},
		{"Evil\nX-Injected: 1", "Evil X-Injected: 1"},
		{"tab\tand\u2028line\u2029sep\u0085nel", "tab and line sep nel"},
		{"bidi \u202egnp.exe", "bidi gnp.exe"},
		{"  leading and trailing  ", "leading and trailing"},
		{"Zoë 名前 🎉", "Zoë 名前 🎉"},
		{"nul\x00byte", "nul byte"},
	} {
		if got := oneLine(c.in, 100); got != c.want {
			t.Errorf("oneLine(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	long := strings.Repeat("é", 10000)
	got := oneLine(long, 80)
	if utf8.RuneCountInString(got) != 80 || !strings.HasSuffix(got, "…") || !utf8.ValidString(got) {
		t.Errorf("a 10,000-character name became %d runes: %q", utf8.RuneCountInString(got), got)
	}
}

func TestTokensAreDerivedAndUnsubscribeIsSigned(t *testing.T) {
	l := NewLinks("https://partli.example/", "one secret one secret one secret")
	other := NewLinks("https://partli.example", "another secret another secret")
	a, b := l.Token(PurposePasswordReset, "tok_1"), l.Token(PurposePasswordReset, "tok_2")
	if a == b || a == l.Token(PurposeEmailVerification, "tok_1") || a == other.Token(PurposePasswordReset, "tok_1") {
		t.Fatal("tokens must differ by id, purpose and key")
	}
	if a != l.Token(PurposePasswordReset, "tok_1") || len(a) < 40 {
		t.Fatalf("token %q is not stable or too short", a)
	}
	if l.Base != "https://partli.example" {
		t.Fatalf("base %q", l.Base)
	}

	tok := l.UnsubscribeToken(store.MailCommissionCreated, "Jane@Example.com")
	kind, addr, ok := l.ParseUnsubscribe(tok)
	if !ok || kind != store.MailCommissionCreated || addr != "jane@example.com" {
		t.Fatalf("parse %q: %q %q %v", tok, kind, addr, ok)
	}
	payload, sig, _ := strings.Cut(tok, ".")
	forged := NewLinks("https://partli.example", "one secret one secret one secret").UnsubscribeToken(store.MailPayoutSent, "jane@example.com")
	for name, bad := range map[string]string{
		"another key":      other.UnsubscribeToken(store.MailCommissionCreated, "jane@example.com"),
		"another kind":     strings.Split(forged, ".")[0] + "." + sig,
		"another address":  strings.Replace(tok, payload, strings.Split(l.UnsubscribeToken(store.MailCommissionCreated, "x@example.com"), ".")[0], 1),
		"no signature":     payload,
		"empty signature":  payload + ".",
		"garbage":          "!!!.???",
		"account mail":     l.UnsubscribeToken(store.MailPasswordReset, "jane@example.com"),
		"very long":        strings.Repeat("a", 5000) + "." + sig,
		"truncated mac":    payload + "." + sig[:len(sig)-2],
		"digest not alone": l.UnsubscribeToken(store.MailCommissionDigest, "jane@example.com"),
	} {
		if _, _, ok := l.ParseUnsubscribe(bad); ok {
			t.Errorf("%s: accepted", name)
		}
	}
}

// Every kind renders a subject, a plain-text part and an HTML part with the
// same link, from PARTLI_BASE_URL, and the notifications an unsubscribe
// address; no part loads anything from elsewhere.
func TestComposeEveryKind(t *testing.T) {
	l := NewLinks("https://partli.example", "secret secret secret secret secret")
	payable := time.Date(2027, 1, 15, 10, 0, 0, 0, time.UTC)
	pm := func(extra store.PartnerMail) store.PartnerMail {
		extra.PartnerID, extra.ProgramName, extra.WorkspaceName = "ptn_1", "Acme Pro", "Acme"
		return extra
	}
	for _, c := range []struct {
		kind, link, subject string
		data                any
		notification        bool
	}{
		{store.MailPasswordReset, "/password/reset/" + l.Token(PurposePasswordReset, "tok_1"), "Reset your Partli password",
			store.TokenMail{TokenID: "tok_1"}, false},
		{store.MailPasswordReset, "/partner/password/reset/" + l.Token(PurposePasswordReset, "tok_2"), "Reset your Partli password",
			store.TokenMail{TokenID: "tok_2", Portal: true}, false},
		{store.MailEmailVerification, "/partner/verify/" + l.Token(PurposeEmailVerification, "tok_3"), "Confirm your email address for Acme Pro",
			store.TokenMail{TokenID: "tok_3", Portal: true, ProgramName: "Acme Pro"}, false},
		{store.MailPartnerInvite, "/partner/invite/" + l.Token(PurposePartnerInvite, "inv_1"), "You're invited to join Acme Pro",
			store.PartnerInviteMail{InviteID: "inv_1", ProgramName: "Acme Pro", WorkspaceName: "Acme", ExpiresAt: payable}, false},
		{store.MailTeammateInvite, "/invite/" + l.Token(PurposeTeammateInvite, "uinv_1"), "Join Acme on Partli",
			store.TeammateInviteMail{InviteID: "uinv_1", WorkspaceName: "Acme", Role: "finance", InvitedBy: "Olga", ExpiresAt: payable}, false},
		{store.MailApplicationApproved, "/partner/programs/ptn_1", "You're approved: Acme Pro", pm(store.PartnerMail{}), true},
		{store.MailApplicationRejected, "", "Your application to Acme Pro", pm(store.PartnerMail{}), true},
		{store.MailCommissionCreated, "/partner/programs/ptn_1", "New commission: $12.34 from Acme Pro",
			pm(store.PartnerMail{AmountCents: 1234, Currency: "USD", PayableAt: &payable}), true},
		{store.MailCommissionClawedBack, "/partner/programs/ptn_1", "Commission clawed back: €5.00 from Acme Pro",
			pm(store.PartnerMail{AmountCents: 500, Currency: "EUR", Reason: "Refunded within 14 days"}), true},
		{store.MailPayoutSent, "/partner/programs/ptn_1", "Payout sent: $99.00 from Acme Pro",
			pm(store.PartnerMail{AmountCents: 9900, Currency: "USD", Method: "paypal", Reference: "PP-123"}), true},
		{store.MailCommissionDigest, "/partner", "Your day on Partli: 2 new commissions",
			store.DigestMail{Count: 2, Items: []store.DigestItem{{PartnerID: "ptn_1", ProgramName: "Acme Pro", AmountCents: 100, Currency: "USD", PayableAt: payable},
				{PartnerID: "ptn_2", ProgramName: "Other", AmountCents: 250, Currency: "USD", PayableAt: payable}}, Totals: map[string]int64{"USD": 350}}, true},
		{store.MailApplicationReceived, "/partners/ptn_1", "New application to Acme Pro: Maya",
			store.OwnerMail{WorkspaceName: "Acme", PartnerID: "ptn_1", PartnerName: "Maya", PartnerEmail: "maya@example.com", ProgramName: "Acme Pro"}, true},
		{store.MailWebhookDisabled, "/webhooks/we_1", "Webhook endpoint disabled: https://hooks.example.com/x",
			store.OwnerMail{WorkspaceName: "Acme", EndpointID: "we_1", URL: "https://hooks.example.com/x", Reason: "410 Gone"}, true},
	} {
		raw, _ := json.Marshal(c.data)
		m, err := l.Compose(store.MailRow{ID: "mail_1", Kind: c.kind, Recipient: "jane@example.com", RecipientName: "Jane", Data: raw})
		if err != nil {
			t.Errorf("%s: %v", c.kind, err)
			continue
		}
		if m.Subject != c.subject {
			t.Errorf("%s: subject %q, want %q", c.kind, m.Subject, c.subject)
		}
		if c.link != "" && (!strings.Contains(m.Text, "https://partli.example"+c.link) || !strings.Contains(m.HTML, `href="https://partli.example`+c.link+`"`)) {
			t.Errorf("%s: the link %s is not in both parts:\n%s", c.kind, c.link, m.Text)
		}
		if (m.Unsubscribe != "") != c.notification || (c.notification && !strings.Contains(m.Text, m.Unsubscribe)) {
			t.Errorf("%s: unsubscribe %q", c.kind, m.Unsubscribe)
		}
		for _, banned := range []string{"<img", "<link", "<script", "url(", "@import"} {
			if strings.Contains(m.HTML, banned) {
				t.Errorf("%s: the HTML holds %q (nothing may load when the mail is opened)", c.kind, banned)
			}
		}
		if !strings.Contains(m.HTML, "style=") || strings.Contains(m.HTML, "<style") {
			t.Errorf("%s: the HTML is not styled inline", c.kind)
		}
	}
	// The program is the sender's display name of a program's mail.
	raw, _ := json.Marshal(pm(store.PartnerMail{AmountCents: 1, Currency: "USD"}))
	if m, _ := l.Compose(store.MailRow{Kind: store.MailCommissionCreated, Recipient: "a@example.com", Data: raw}); m.FromName != "Acme Pro" {
		t.Errorf("sender's name %q, want the program's", m.FromName)
	}
	if _, err := l.Compose(store.MailRow{Kind: "nonsense", Data: []byte(`{}`)}); err == nil {
		t.Error("an unknown kind composed")
	}
	// Header injection through the data: the subject stays one line.
	raw, _ = json.Marshal(store.PartnerInviteMail{InviteID: "inv", ProgramName: "Evil\r\nBcc: victim@example.com", WorkspaceName: "W"})
	m, err := l.Compose(store.MailRow{Kind: store.MailPartnerInvite, Recipient: "a@example.com", RecipientName: "Eve\r\nX-Evil: 1", Data: raw})
	if err != nil || strings.ContainsAny(m.Subject+m.FromName+m.ToName, "\r\n") {
		t.Errorf("injected names: %q %q %q (%v)", m.Subject, m.FromName, m.ToName, err)
	}
}

func TestParseSMTPURL(t *testing.T) {
	for _, ok := range []string{"smtp://localhost:1025", "smtp://user:p%40ss@mail.example.com:587", "smtps://mail.example.com",
		"smtp://mail.example.com?auth=plain", "smtp://[::1]:25"} {
		if err := ParseSMTPURL(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"http://mail.example.com", "smtp://", "smtp://host:0", "smtp://host:99999", "smtp://host/path",
		"smtp://host?auth=magic", "mail.example.com:25", "smtp://host:abc"} {
		if err := ParseSMTPURL(bad); err == nil {
			t.Errorf("%s: accepted", bad)
		} else if strings.Contains(err.Error(), "p@ss") {
			t.Errorf("%s: the error shows the password: %v", bad, err)
		}
	}
	s, _ := NewSMTP("smtp://u:secret@mail.example.com", nil, SMTPOptions{})
	if s.port != 25 || s.implicit || s.Describe() != "smtp://mail.example.com:25" {
		t.Errorf("smtp defaults: %d %v %s", s.port, s.implicit, s.Describe())
	}
	s, _ = NewSMTP("smtps://mail.example.com", nil, SMTPOptions{})
	if s.port != 465 || !s.implicit {
		t.Errorf("smtps defaults: %d %v", s.port, s.implicit)
	}
}

func TestASCIIAddress(t *testing.T) {
	for in, want := range map[string]string{
		"jane@example.com":        "jane@example.com",
		"jörg@bücher.example":     "jörg@xn--bcher-kva.example",
		"ana@ñandú.example":       "ana@xn--and-6ma2c.example",
		"user@EXAMPLE.com":        "user@example.com",
		"名前@例え.テスト":               "名前@xn--r8jz45g.xn--zckzah",
		"x+tag@sub.domain.test":   "x+tag@sub.domain.test",
		"o'brien@example.example": "o'brien@example.example",
	} {
		got, err := asciiAddress(in)
		if err != nil || got != want {
			t.Errorf("asciiAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"jane@example.com\r\nRCPT TO:<x@y>", "Jane <jane@example.com>", "not an address", "a@-bad-.example"} {
		if _, err := asciiAddress(bad); err == nil {
			t.Errorf("asciiAddress(%q): accepted", bad)
		}
	}
}
