package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
)

// Secrets given to the API are stored sealed and never logged.
func TestSecretsAreSealedAndNotLogged(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, webhookSecret := e.whEndpoint(t, e.Key, "https://hooks.example.com/sealed")
	path, stripeSecret := e.stripeSetup(t)
	if got := e.opened(t, `SELECT webhook_secret FROM stripe_connections WHERE workspace_id = $1`, e.WS.Workspace.ID); got != stripeSecret {
		t.Fatalf("the Stripe secret opens to %q, want %q", got, stripeSecret)
	}
	if got := e.opened(t, `SELECT secret FROM webhook_endpoints WHERE workspace_id = $1`, e.WS.Workspace.ID); got != webhookSecret {
		t.Fatalf("the webhook secret opens to %q, want %q", got, webhookSecret)
	}
	// The Stripe endpoint verifies with the sealed secret.
	if out := e.deliver(t, path, stripeSecret, stripeEvent("customer.created", "", map[string]any{"id": "cus_1", "object": "customer"})).stripe(t); !out.Received {
		t.Fatalf("a delivery signed with the stored secret: %+v", out)
	}
	for _, s := range []string{webhookSecret, stripeSecret} {
		if strings.Contains(e.Log.String(), s) {
			t.Fatalf("the log holds the secret %s", s)
		}
	}
}

// Without PARTLI_ENCRYPTION_KEY, storing a secret is refused with 503 and
// a message for the operator; nothing is stored in plain text.
func TestSecretsNeedTheEncryptionKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.SecretKeys = nil })
	for _, r := range []reply{
		e.call("POST", "/api/webhooks", e.Key, map[string]any{"url": "https://hooks.example.com/x", "events": []string{"sale.created"}}),
		e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"webhookSecret": "whsec_" + ids.Random(16)}),
	} {
		if r.Status != http.StatusServiceUnavailable || r.ErrorCode(t) != "unavailable" || !strings.Contains(string(r.Body), "PARTLI_ENCRYPTION_KEY") {
			t.Fatalf("storing a secret without a key: %d %s, want 503 naming PARTLI_ENCRYPTION_KEY", r.Status, r.Body)
		}
	}
	s := e.signIn(t)
	for _, r := range []reply{
		s.post("/webhooks", whForm("https://hooks.example.com/partli", "sale.created")),
		s.post("/integrations/stripe/webhook-secret", url.Values{"webhookSecret": {"whsec_" + ids.Random(16)}}),
	} {
		if r.Status != http.StatusServiceUnavailable || !strings.Contains(string(r.Body), "PARTLI_ENCRYPTION_KEY") {
			t.Fatalf("the dashboard storing a secret without a key: %d, want 503 naming PARTLI_ENCRYPTION_KEY", r.Status)
		}
	}
	if n := e.count(t, `SELECT (SELECT count(*) FROM webhook_endpoints) + (SELECT count(*) FROM stripe_connections)`); n != 0 {
		t.Fatalf("%d rows stored without a key", n)
	}
	// Everything else works.
	e.call("GET", "/api/webhooks", e.Key, nil).must(t, http.StatusOK)
}
