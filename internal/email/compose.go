package email

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/mail"
)

// Message is one mail, ready to send.
type Message struct {
	// ID is the outbox row's id; the Message-ID is made from it, so every
	// attempt at one row sends the same Message-ID.
	ID string
	// FromName is the sender's display name: the program's name for mail
	// about a program (to its partners), the workspace's for a teammate's
	// invitation, else "" (PARTLI_MAIL_FROM's own).
	FromName   string
	To, ToName string
	Subject    string
	Text, HTML string
	// Unsubscribe is the one-click unsubscribe address (List-Unsubscribe);
	// "" for the mails of an account.
	Unsubscribe string
}

// Header limits: a subject or a display name longer than this is cut (with
// an ellipsis), so a very long name cannot make a header unreadable.
const (
	maxSubject = 150
	maxName    = 80
)

// Compose renders an outbox row: subject, plain text and HTML from its kind
// and data, links from l.
func (l Links) Compose(row store.MailRow) (*Message, error) {
	c, from, err := l.content(row)
	if err != nil {
		return nil, fmt.Errorf("email: %s %s: %w", row.Kind, row.ID, err)
	}
	c.Subject = oneLine(c.Subject, maxSubject)
	m := &Message{ID: row.ID, FromName: oneLine(from, maxName), To: row.Recipient, ToName: oneLine(row.RecipientName, maxName),
		Subject: c.Subject, Unsubscribe: c.Unsubscribe}
	var html bytes.Buffer
	if err := mail.HTML(c).Render(context.Background(), &html); err != nil {
		return nil, fmt.Errorf("email: %s %s: %w", row.Kind, row.ID, err)
	}
	m.HTML, m.Text = html.String(), mail.Text(c)
	return m, nil
}

// Subject is the subject a row's mail has (or will have), for the log.
func (l Links) Subject(row store.MailRow) string {
	if row.Subject != "" {
		return row.Subject
	}
	c, _, err := l.content(row)
	if err != nil {
		return "(" + row.Kind + ")"
	}
	return oneLine(c.Subject, maxSubject)
}

func date(t time.Time) string { return t.UTC().Format("Jan 2, 2006") }

// content is what a row's mail says, and the sender's display name.
func (l Links) content(row store.MailRow) (mail.Content, string, error) {
	var c mail.Content
	host := l.Base
	if u, err := url.Parse(l.Base); err == nil && u.Host != "" {
		host = u.Host
	}
	decode := func(v any) error { return json.Unmarshal(row.Data, v) }
	switch row.Kind {
	case store.MailPasswordReset:
		var d store.TokenMail
		if err := decode(&d); err != nil {
			return c, "", err
		}
		path, what := "/password/reset/", "Partli account"
		if d.Portal {
			path, what = "/partner/password/reset/", "Partli partner account"
		}
		c = mail.Content{
			Subject: "Reset your Partli password", Brand: "Partli", Heading: "Reset your password",
			Preheader:  "The link works once, for one hour.",
			Paragraphs: []string{"Someone asked to reset the password of the " + what + " of " + row.Recipient + ". If it was you, choose a new password:"},
			Button:     &mail.Button{Label: "Choose a new password", URL: l.Base + path + l.Token(PurposePasswordReset, d.TokenID)},
			Notes: []string{"The link works once, for one hour. Using it signs you out everywhere else.",
				"If you did not ask for it, ignore this mail: your password stays as it is."},
			Footer: "You get this mail because a password reset was asked for at " + host + ".",
		}
		return c, "", nil
	case store.MailEmailVerification:
		var d store.TokenMail
		if err := decode(&d); err != nil {
			return c, "", err
		}
		c = mail.Content{
			Subject: "Confirm your email address", Brand: "Partli", Heading: "Confirm your email address",
			Preheader:  "One click, and you can sign in to the partner portal.",
			Paragraphs: []string{"Confirm that " + row.Recipient + " is yours to finish setting up your partner account. You can sign in to the partner portal once it is confirmed."},
			Button:     &mail.Button{Label: "Confirm my email address", URL: l.Base + "/partner/verify/" + l.Token(PurposeEmailVerification, d.TokenID)},
			Notes:      []string{"The link works for 3 days. If you did not apply, ignore this mail."},
			Footer:     "You get this mail because this address was given on a partner application at " + host + ".",
		}
		if d.ProgramName != "" {
			c.Subject = "Confirm your email address for " + d.ProgramName
			c.Brand = d.ProgramName
			c.Paragraphs = append([]string{"Thanks for applying to " + d.ProgramName + "."}, c.Paragraphs...)
		}
		return c, d.ProgramName, nil
	case store.MailPartnerInvite:
		var d store.PartnerInviteMail
		if err := decode(&d); err != nil {
			return c, "", err
		}
		c = mail.Content{
			Subject: "You're invited to join " + d.ProgramName, Brand: d.ProgramName, Heading: "Join " + d.ProgramName,
			Preheader:  "Choose a password to see your referral link and earnings.",
			Paragraphs: []string{d.WorkspaceName + " invites you to its partner program " + d.ProgramName + ". Choose a password to see your referral link, your clicks and your earnings in the partner portal."},
			Button:     &mail.Button{Label: "Accept the invitation", URL: l.Base + "/partner/invite/" + l.Token(PurposePartnerInvite, d.InviteID)},
			Notes:      []string{"The link works once and expires on " + date(d.ExpiresAt) + "."},
			Footer:     "You get this mail because " + d.WorkspaceName + " invited " + row.Recipient + " to its partner program on " + host + ".",
		}
		return c, d.ProgramName, nil
	case store.MailTeammateInvite:
		var d store.TeammateInviteMail
		if err := decode(&d); err != nil {
			return c, "", err
		}
		role := "an owner: you can change everything"
		if d.Role == "finance" {
			role = "finance staff: you work with sales, commissions, payouts and exports"
		}
		by := "The owners"
		if d.InvitedBy != "" {
			by = d.InvitedBy
		}
		c = mail.Content{
			Subject: "Join " + d.WorkspaceName + " on Partli", Brand: d.WorkspaceName, Heading: "Join " + d.WorkspaceName + " on Partli",
			Preheader:  "Choose your password to sign in to the dashboard.",
			Paragraphs: []string{by + " invites you to the Partli dashboard of " + d.WorkspaceName + " as " + role + ".", "Choose your name and password to accept:"},
			Button:     &mail.Button{Label: "Accept the invitation", URL: l.Base + "/invite/" + l.Token(PurposeTeammateInvite, d.InviteID)},
			Notes:      []string{"The link works once and expires on " + date(d.ExpiresAt) + "."},
			Footer:     "You get this mail because " + row.Recipient + " was invited to " + d.WorkspaceName + " at " + host + ".",
		}
		return c, d.WorkspaceName, nil
	case store.MailCommissionDigest:
		var d store.DigestMail
		if err := decode(&d); err != nil {
			return c, "", err
		}
		c = mail.Content{
			Subject: digestSubject(d.Count), Brand: "Partli", Heading: digestSubject(d.Count),
			Preheader:  "Your commissions from " + date(d.From) + " to " + date(d.To) + ".",
			Paragraphs: []string{"Customers you referred paid. Here is what you earned since your last digest, pending until its payable date:"},
			Button:     &mail.Button{Label: "See your earnings", URL: l.Base + "/partner"},
			Footer:     "You get this daily digest because you chose it for new commissions in the partner portal.",
		}
		for _, it := range d.Items {
			c.Facts = append(c.Facts, mail.Fact{Label: it.ProgramName + " · payable " + date(it.PayableAt), Value: money.Format(it.AmountCents, it.Currency)})
		}
		for _, cur := range slices.Sorted(maps.Keys(d.Totals)) {
			c.Facts = append(c.Facts, mail.Fact{Label: "Total in " + cur, Value: money.Format(d.Totals[cur], cur)})
		}
		if d.Count > len(d.Items) {
			c.Notes = []string{strconv.Itoa(d.Count-len(d.Items)) + " more are in the partner portal."}
		}
		c.Unsubscribe = l.Unsubscribe(store.MailCommissionCreated, row.Recipient)
		return c, "", nil
	case store.MailApplicationReceived, store.MailWebhookDisabled:
		return l.ownerContent(row, host)
	}
	return l.partnerContent(row)
}

func digestSubject(n int) string {
	if n == 1 {
		return "Your day on Partli: 1 new commission"
	}
	return "Your day on Partli: " + strconv.Itoa(n) + " new commissions"
}

// partnerContent is a notification to a partner.
func (l Links) partnerContent(row store.MailRow) (mail.Content, string, error) {
	var d store.PartnerMail
	if err := json.Unmarshal(row.Data, &d); err != nil {
		return mail.Content{}, "", err
	}
	program := l.Base + "/partner/programs/" + d.PartnerID
	amount := money.Format(d.AmountCents, d.Currency)
	c := mail.Content{Brand: d.ProgramName,
		Footer:      "You get this mail because you are a partner of " + d.ProgramName + ".",
		Unsubscribe: l.Unsubscribe(row.Kind, row.Recipient)}
	switch row.Kind {
	case store.MailApplicationApproved:
		c.Subject, c.Heading = "You're approved: "+d.ProgramName, "Welcome to "+d.ProgramName
		c.Preheader = "Your referral link is ready."
		c.Paragraphs = []string{d.WorkspaceName + " approved your application to " + d.ProgramName + ". Your referral link is ready in the partner portal: share it, and every customer it brings earns you a commission."}
		c.Button = &mail.Button{Label: "Get your referral link", URL: program}
	case store.MailApplicationRejected:
		c.Subject, c.Heading = "Your application to "+d.ProgramName, "About your application"
		c.Paragraphs = []string{d.WorkspaceName + " reviewed your application to " + d.ProgramName + " and decided not to approve it."}
		c.Footer = "You get this mail because you applied to " + d.ProgramName + "."
	case store.MailCommissionCreated:
		c.Subject, c.Heading = "New commission: "+amount+" from "+d.ProgramName, "You earned "+amount
		c.Preheader = "A customer you referred paid."
		c.Paragraphs = []string{"A customer you referred to " + d.ProgramName + " paid, and you earned a commission."}
		c.Facts = []mail.Fact{{Label: "Commission", Value: amount}, {Label: "Program", Value: d.ProgramName}}
		if d.PayableAt != nil {
			c.Facts = append(c.Facts, mail.Fact{Label: "Payable from", Value: date(*d.PayableAt)})
			c.Notes = []string{"It is pending until " + date(*d.PayableAt) + ": a refund before then takes it back."}
		}
		c.Button = &mail.Button{Label: "See your earnings", URL: program}
	case store.MailCommissionClawedBack:
		c.Subject, c.Heading = "Commission clawed back: "+amount+" from "+d.ProgramName, "A commission was clawed back"
		c.Paragraphs = []string{d.WorkspaceName + " took back " + amount + " of your commissions from " + d.ProgramName + "."}
		c.Facts = []mail.Fact{{Label: "Taken back", Value: amount}, {Label: "Program", Value: d.ProgramName}}
		if d.Reason != "" {
			c.Facts = append(c.Facts, mail.Fact{Label: "Reason", Value: d.Reason})
		}
		c.Button = &mail.Button{Label: "See your earnings", URL: program}
	case store.MailPayoutSent:
		c.Subject, c.Heading = "Payout sent: "+amount+" from "+d.ProgramName, "You were paid "+amount
		c.Paragraphs = []string{d.WorkspaceName + " sent you a payout of " + amount + " for your commissions from " + d.ProgramName + "."}
		c.Facts = []mail.Fact{{Label: "Amount", Value: amount}, {Label: "Method", Value: payoutMethod(d.Method)}}
		if d.Reference != "" {
			c.Facts = append(c.Facts, mail.Fact{Label: "Reference", Value: d.Reference})
		}
		c.Button = &mail.Button{Label: "See your payouts", URL: program}
	default:
		return c, "", fmt.Errorf("unknown kind of mail")
	}
	return c, d.ProgramName, nil
}

func payoutMethod(m string) string {
	switch m {
	case "stripe":
		return "Stripe"
	case "paypal":
		return "PayPal"
	case "wise":
		return "Wise"
	case "manual", "":
		return "Paid by the program's owner"
	}
	return m
}

// ownerContent is a notification to a workspace's owners.
func (l Links) ownerContent(row store.MailRow, host string) (mail.Content, string, error) {
	var d store.OwnerMail
	if err := json.Unmarshal(row.Data, &d); err != nil {
		return mail.Content{}, "", err
	}
	c := mail.Content{Brand: d.WorkspaceName,
		Footer:      "You get this mail because you are an owner of " + d.WorkspaceName + " on " + host + ".",
		Unsubscribe: l.Unsubscribe(row.Kind, row.Recipient)}
	if row.Kind == store.MailApplicationReceived {
		c.Subject, c.Heading = "New application to "+d.ProgramName+": "+d.PartnerName, "New application to "+d.ProgramName
		c.Preheader = d.PartnerName + " wants to promote " + d.ProgramName + "."
		c.Paragraphs = []string{d.PartnerName + " (" + d.PartnerEmail + ") applied to become a partner of " + d.ProgramName + "."}
		c.Button = &mail.Button{Label: "Review the application", URL: l.Base + "/partners/" + d.PartnerID}
		return c, "", nil
	}
	c.Subject, c.Heading = "Webhook endpoint disabled: "+d.URL, "A webhook endpoint was disabled"
	c.Paragraphs = []string{"Partli stopped sending events to " + d.URL + " after its deliveries kept failing. Events written meanwhile are not delivered to it."}
	c.Facts = []mail.Fact{{Label: "Endpoint", Value: d.URL}, {Label: "Why", Value: d.Reason}}
	c.Button = &mail.Button{Label: "Open the endpoint", URL: l.Base + "/webhooks/" + d.EndpointID}
	c.Notes = []string{"Enable it again once it answers; failed deliveries can be resent from its delivery log."}
	return c, "", nil
}
