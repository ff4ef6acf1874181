package dashboard

import (
	"testing"

	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/webhook"
)

// Every event an endpoint can subscribe to says when it is sent, on the
// endpoint's page and in its form.
func TestEveryWebhookEventHasHelp(t *testing.T) {
	for _, typ := range append(outbox.Types, webhook.TestEvent) {
		if webhookEventHelp(typ) == "" {
			t.Errorf("event %s has no help text", typ)
		}
	}
}
