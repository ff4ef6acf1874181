package dashboard

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/webhook"
	"github.com/partli/partli/views/components"
)

// WebhooksView is the webhooks page: the workspace's endpoints, the form
// that adds one, and a signing secret shown this once.
type WebhooksView struct {
	CSRF      string
	CanEdit   bool
	Flash     string
	Endpoints []store.WebhookEndpoint
	NextHref  string
	Form      WebhookForm
	// NewSecret is the secret of an endpoint just created or rotated, shown
	// once: carried from the POST in the session (sealed) and taken from it,
	// never put in a URL or a cookie.
	NewSecret *WebhookNewSecret
}

// WebhookNewSecret is a signing secret to show once.
type WebhookNewSecret struct {
	EndpointID string
	URL        string
	Secret     string
	Rotated    bool
}

// WebhookForm is the URL and event types of an endpoint, as typed.
type WebhookForm struct {
	URL    string
	Events map[string]bool
	Types  []string // every event type, in order
	Errors map[string]string
}

// Err is the message of a field ("" when it is fine).
func (f WebhookForm) Err(field string) string { return f.Errors[field] }

// WebhookDetailView is one endpoint's page: what it receives, its actions,
// and its delivery log (deliveries and every attempt), newest first.
type WebhookDetailView struct {
	CSRF       string
	CanEdit    bool
	Flash      string
	FlashError string
	Endpoint   store.WebhookEndpoint
	NewSecret  *WebhookNewSecret
	Form       WebhookForm
	EditOpen   bool // the edit form had errors: show it open

	Status         string // the deliveries' status filter ("" for all)
	Deliveries     []store.WebhookDelivery
	DeliveriesNext string
	Attempts       []store.WebhookAttempt
	AttemptsNext   string
	// RefreshHref, while a delivery shown is pending, is what the log
	// reloads itself from every few seconds.
	RefreshHref string
	Now         time.Time
}

// WebhookDeliveryView is one delivery: the event it sends and its attempts.
type WebhookDeliveryView struct {
	CSRF         string
	CanEdit      bool
	Flash        string
	FlashError   string
	Endpoint     store.WebhookEndpoint
	Delivery     store.WebhookDelivery
	Payload      string // the body sent, compact JSON
	Attempts     []store.WebhookAttempt
	AttemptsNext string
	Now          time.Time
}

// WebhookStatusFilters are the deliveries' status filter choices.
var WebhookStatusFilters = []Option{
	{Value: "", Label: "All"},
	{Value: store.DeliveryPending, Label: "Pending"},
	{Value: store.DeliverySucceeded, Label: "Succeeded"},
	{Value: store.DeliveryFailed, Label: "Failed"},
}

// webhookEventHelp says when an event type is sent.
func webhookEventHelp(t string) string {
	switch t {
	case "sale.created":
		return "A sale is tracked and attributed to a partner."
	case "lead.created":
		return "A lead (sign-up) is tracked and attributed to a partner."
	case "commission.created":
		return "A commission is earned on a sale or a lead."
	case "commission.updated":
		return "A commission changes status: approved, paid or clawed back."
	case "payout.created":
		return "A payout is created for a partner's approved commissions."
	case "payout.paid":
		return "A payout is paid: sent through Stripe, or marked paid after a PayPal or Wise file."
	case "payout.failed":
		return "Stripe refuses a payout's transfer; its commissions are back in the partner's balance."
	case webhook.TestEvent:
		return "A test event sent with “Send test event”."
	}
	return ""
}

// WebhookAutoDisabled reports whether Partli itself disabled the endpoint
// (repeated failures, or 410 Gone), as opposed to a person.
func WebhookAutoDisabled(e store.WebhookEndpoint) bool {
	return !e.Enabled && e.DisabledReason != "" && e.DisabledReason != webhook.ManualDisableReason
}

// webhookDisabledHeadline is the notice's first sentence.
func webhookDisabledHeadline(e store.WebhookEndpoint) string {
	if strings.Contains(e.DisabledReason, "410") {
		return "This endpoint was disabled because it answered 410 Gone."
	}
	return "This endpoint was disabled after 20 failed deliveries in a row."
}

func webhookDisabledSince(e store.WebhookEndpoint) string {
	if e.DisabledAt == nil {
		return ""
	}
	return "Since " + components.DateTime(*e.DisabledAt) + "."
}

func webhookStateClass(e store.WebhookEndpoint) string {
	switch {
	case e.Enabled:
		return "badge badge-green"
	case WebhookAutoDisabled(e):
		return "badge badge-red"
	}
	return "badge badge-gray"
}

func webhookState(e store.WebhookEndpoint) string {
	if e.Enabled {
		return "enabled"
	}
	return "disabled"
}

// webhookDeliveryState is a delivery's status for people: "sending" while a
// worker holds it.
func webhookDeliveryState(d store.WebhookDelivery, now time.Time) string {
	if d.Status == store.DeliveryPending && d.InFlight(now) {
		return "sending"
	}
	return d.Status
}

func webhookDeliveryClass(d store.WebhookDelivery, now time.Time) string {
	if webhookDeliveryState(d, now) == "sending" {
		return "badge badge-gray"
	}
	return components.StatusClass(d.Status)
}

// webhookNext is when a pending delivery is tried next.
func webhookNext(d store.WebhookDelivery, now time.Time) string {
	switch {
	case d.Status != store.DeliveryPending:
		return "—"
	case d.InFlight(now):
		return "now"
	case !d.NextAttemptAt.After(now):
		return "due now"
	}
	return "in " + webhookDuration(d.NextAttemptAt.Sub(now))
}

// webhookDuration is a wait in words: "25 s", "4 min", "3 h", "2 d".
func webhookDuration(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d.Seconds())+1) + " s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + " min"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + " h"
	}
	return strconv.Itoa(int(d.Hours()/24)) + " d"
}

// webhookCode is an attempt's HTTP status, or what happened instead.
func webhookCode(code *int) string {
	if code == nil {
		return "no reply"
	}
	return strconv.Itoa(*code)
}

func webhookCodeClass(code *int) string {
	switch {
	case code == nil:
		return "badge badge-red"
	case *code >= 200 && *code < 300:
		return "badge badge-green"
	case *code >= 300 && *code < 500:
		return "badge badge-amber"
	}
	return "badge badge-red"
}

// webhookTime is a time to the second: retries can be seconds apart.
func webhookTime(t time.Time) string { return t.UTC().Format("Jan 2, 2006 15:04:05 UTC") }

func webhookLatency(ms int) string { return strconv.Itoa(ms) + " ms" }

// webhookSnippetLen is how much of a reply the log shows in a row.
const webhookSnippetLen = 120

// webhookSnippet is the first characters of a reply on one line, and
// whether there is more of it.
func webhookSnippet(s string) (string, bool) {
	one := strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(one) <= webhookSnippetLen {
		return one, one != s && strings.ContainsAny(s, "\n\t")
	}
	r := []rune(one)
	return string(r[:webhookSnippetLen]) + "…", true
}

func webhookSnippetText(s string) string { t, _ := webhookSnippet(s); return t }
func webhookSnippetMore(s string) bool   { _, more := webhookSnippet(s); return more }

// webhookLastReply summarizes a delivery's latest attempt.
func webhookLastReply(d store.WebhookDelivery) string {
	switch {
	case d.LastAttemptAt == nil:
		return "not tried yet"
	case d.LastStatusCode != nil:
		return "HTTP " + strconv.Itoa(*d.LastStatusCode)
	case d.LastError != "":
		t, _ := webhookSnippet(d.LastError)
		return t
	}
	return "no reply"
}

func webhookAttemptCount(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}

// webhookCanResend: the endpoint takes deliveries and no worker is sending this one.
func webhookCanResend(e store.WebhookEndpoint, d store.WebhookDelivery, now time.Time) bool {
	return e.Enabled && !d.InFlight(now)
}

func webhookResendLabel(d store.WebhookDelivery) string {
	if d.Status == store.DeliveryPending {
		return "Retry now"
	}
	return "Resend"
}

func webhookFailuresNote(e store.WebhookEndpoint) string {
	return fmt.Sprintf("%d failed attempts in a row. Partli disables an endpoint after 20; a successful reply resets the count.",
		e.ConsecutiveFailures)
}

func webhookHref(e store.WebhookEndpoint) string { return "/webhooks/" + e.ID }

func webhookDeliveryHref(d store.WebhookDelivery) string {
	return "/webhooks/" + d.EndpointID + "/deliveries/" + d.ID
}

func webhookAttemptDeliveryHref(a store.WebhookAttempt) string {
	return "/webhooks/" + a.EndpointID + "/deliveries/" + a.DeliveryID
}

// webhookFilterHref is the delivery log filtered by status.
func webhookFilterHref(e store.WebhookEndpoint, status string) string {
	return withQuery(webhookHref(e), queryOf("status", status)) + "#deliveries"
}
