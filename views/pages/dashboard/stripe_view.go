package dashboard

import "github.com/partli/partli/internal/store"

// StripeView is the Stripe card (on the settings page) and the Stripe page
// (GET /integrations/stripe, where the connect flow comes back to).
type StripeView struct {
	CSRF    string
	CanEdit bool
	Flash   string
	Error   string

	Conn *store.StripeConnection
	// ConnectReady: the installation has a Connect client id and secret key.
	ConnectReady bool
	// PlatformWebhook: the installation verifies Connect events
	// (PARTLI_STRIPE_CONNECT_WEBHOOK_SECRET is set).
	PlatformWebhook bool
	// RedirectURI and PlatformWebhookURL are for the operator's note.
	RedirectURI        string
	PlatformWebhookURL string

	// WebhookURL is the workspace's own endpoint, for merchants who add a
	// webhook endpoint in their Stripe account instead of connecting it.
	WebhookURL string
	Events     []string
	// SecretValue and SecretError are the signing-secret form as typed,
	// with its message.
	SecretValue string
	SecretError string
	// KeyError is the payout secret key form's message (the key typed is
	// never shown again).
	KeyError string
}

// stripeKeySet reports whether the workspace has its own Stripe secret key.
func stripeKeySet(v StripeView) bool { return v.Conn != nil && v.Conn.SecretKeySet }

// stripeAccount is the connected account id, "" when none is.
func stripeAccount(v StripeView) string {
	if v.Conn == nil || v.Conn.AccountID == nil {
		return ""
	}
	return *v.Conn.AccountID
}

func stripeWebhookSecretSet(v StripeView) bool { return v.Conn != nil && v.Conn.WebhookSecretSet }

// stripeTracking says how Stripe events reach Partli, in a few words.
func stripeTracking(v StripeView) string {
	switch {
	case stripeAccount(v) != "" && stripeWebhookSecretSet(v):
		return "Connected account and your own webhook endpoint: each event is counted once."
	case stripeAccount(v) != "":
		return "Stripe sends your account's events to Partli: no webhook endpoint to add."
	case stripeWebhookSecretSet(v):
		return "Through the webhook endpoint in your Stripe account."
	}
	return "Not yet: connect your Stripe account, or add a webhook endpoint in Stripe."
}
