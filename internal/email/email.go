// Package email is Partli's mail: the kinds of message and what they say
// (Compose, from an outbox row; the layout is views/mail), the links they
// carry and the tokens of those links (Links), the SMTP sender (SMTP), and
// the worker that sends the outbox (Worker).
//
// Mail is written to an outbox (store.QueueMail and friends, mail_outbox)
// in the transaction of what it reports, so a rolled-back sale mails
// nothing, and sent after commit by a worker on every replica, which claims
// due rows with FOR UPDATE SKIP LOCKED and leases them while it sends, so
// two workers never send one row. Delivery is at least once: a worker that
// dies between the SMTP server's acceptance and recording it leaves the row
// due again when its lease ends, and the message is sent a second time (with
// the same Message-ID).
package email

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/partli/partli/internal/store"
)

// Kind describes one kind of notification: who gets it and how it is
// named where its recipient switches it.
type Kind struct {
	Name  string
	Label string
	// Owners: mailed to a workspace's owners (else to a partner).
	Owners bool
}

// PartnerKinds are the notifications a partner can switch (in the portal's
// settings or by unsubscribing).
var PartnerKinds = []Kind{
	{Name: store.MailApplicationApproved, Label: "Application approved"},
	{Name: store.MailApplicationRejected, Label: "Application not approved"},
	{Name: store.MailCommissionCreated, Label: "New commission"},
	{Name: store.MailCommissionClawedBack, Label: "Commission clawed back"},
	{Name: store.MailPayoutSent, Label: "Payout sent"},
}

// OwnerKinds are the notifications an owner can switch (in the dashboard's
// settings or by unsubscribing).
var OwnerKinds = []Kind{
	{Name: store.MailApplicationReceived, Label: "New application", Owners: true},
	{Name: store.MailWebhookDisabled, Label: "Webhook endpoint disabled", Owners: true},
}

// Notification returns the kind whose preference governs mail of kind
// name (the digest follows the new commission's), and false for the mails
// of an account (password resets, verification, invitations), which no
// preference stops.
func Notification(name string) (Kind, bool) {
	if name == store.MailCommissionDigest {
		name = store.MailCommissionCreated
	}
	for _, ks := range [][]Kind{PartnerKinds, OwnerKinds} {
		for _, k := range ks {
			if k.Name == name {
				return k, true
			}
		}
	}
	return Kind{}, false
}

// oneLine makes s safe for a header (a subject, a display name): control
// characters (CR and LF above all, which would start a header of their
// own), Unicode line and paragraph separators and bidirectional controls
// (which reorder what a reader sees) become spaces, runs of spaces one, and
// at most max runes are kept (an ellipsis marks the cut).
func oneLine(s string, max int) string {
	var b strings.Builder
	space := false
	for _, r := range s {
		if r == utf8.RuneError || unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Bidi_Control, r) || r == '\u2028' || r == '\u2029' {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteRune(r)
	}
	out := b.String()
	if utf8.RuneCountInString(out) > max {
		rs := []rune(out)
		out = strings.TrimSpace(string(rs[:max-1])) + "…"
	}
	return out
}
