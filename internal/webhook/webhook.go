// Package webhook delivers Partli's outbound events to merchants' endpoints:
// endpoint management (Service), Standard Webhooks signing (Sign), and the
// worker that sends deliveries, at least once, with retries (Worker).
//
// Fan-out happens when an event is written, not in the worker: the
// statement that inserts outbox events into webhook_events (in the
// transaction of what they describe) also inserts one pending delivery per
// enabled endpoint of the workspace subscribed to the event's type, and
// writes the events already dispatched (see internal/store's
// webhookFanOutSQL). So an endpoint receives the events written while it is
// enabled and subscribed, not those written before it was created, and a
// workspace without endpoints costs nothing beyond the events themselves.
// The worker only claims due deliveries. (Events that a version of Partli
// before write-time fan-out left undispatched are fanned out once by
// migration 00019.)
package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
)

// TestEvent is the type of the event "send test event" delivers. Endpoints
// do not subscribe to it; it goes to one endpoint on request.
const TestEvent = "webhook.test"

// MaxURLLen is the longest endpoint URL accepted.
const MaxURLLen = 2048

// SecretOverlap is how long a rotated-out secret keeps signing deliveries
// next to the new one, so receivers can switch without rejecting any.
const SecretOverlap = 24 * time.Hour

// FieldErrors is a request with invalid fields: field name → message.
type FieldErrors map[string]string

// The messages of FieldErrors that a form words its own way.
const (
	MsgURLRequired = "is required"
	MsgNoEvents    = "must list at least one event type"
)

func (f FieldErrors) Error() string {
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " " + f[k]
	}
	return "webhook: invalid " + strings.Join(parts, "; ")
}

// ErrEndpointDisabled: the endpoint must be enabled for this.
var ErrEndpointDisabled = errors.New("webhook: endpoint is disabled")

// ErrInFlight: the delivery is being sent right now.
var ErrInFlight = store.ErrWebhookInFlight

// Service manages a workspace's endpoints and its delivery log. The API
// handlers and the dashboard both call it.
type Service struct {
	store *store.Store
	guard guard
	now   func() time.Time
}

// NewService returns the webhook service. Unless cfg.Env is "development"
// or cfg.WebhookAllowPrivate is set, URLs that are or resolve to loopback,
// private or link-local addresses are refused.
func NewService(st *store.Store, cfg config.Config) *Service {
	return &Service{store: st, guard: newGuard(cfg), now: time.Now}
}

// Create subscribes url to events. The returned endpoint's Secret is the
// only time the secret is shown.
func (s *Service) Create(ctx context.Context, workspaceID, rawURL string, events []string) (*store.WebhookEndpoint, error) {
	f := FieldErrors{}
	u := s.checkURL(ctx, f, rawURL)
	evs := checkEvents(f, events)
	if len(f) > 0 {
		return nil, f
	}
	e := &store.WebhookEndpoint{ID: ids.New(ids.Endpoint), WorkspaceID: workspaceID, URL: u, Events: evs, Secret: NewSecret()}
	if err := s.store.CreateWebhookEndpoint(ctx, e); err != nil {
		return nil, err
	}
	return e, nil
}

// Get returns one endpoint (store.ErrNotFound when it is not the workspace's).
func (s *Service) Get(ctx context.Context, workspaceID, id string) (*store.WebhookEndpoint, error) {
	return s.store.WebhookEndpoint(ctx, workspaceID, id)
}

// List lists the workspace's endpoints, newest first.
func (s *Service) List(ctx context.Context, workspaceID string, page store.Page) ([]store.WebhookEndpoint, *string, error) {
	return s.store.ListWebhookEndpoints(ctx, workspaceID, page)
}

// Changes is a partial update of an endpoint: nil fields stay as they are.
type Changes struct {
	URL     *string
	Events  []string
	Enabled *bool
}

// ManualDisableReason is the disabled reason of an endpoint disabled by a person.
const ManualDisableReason = "Disabled by a user."

// Update changes an endpoint. Enabling it clears its failure count and
// disabled reason; disabling it cancels its pending deliveries.
func (s *Service) Update(ctx context.Context, workspaceID, id string, ch Changes) (*store.WebhookEndpoint, error) {
	f := FieldErrors{}
	var u string
	var evs []string
	if ch.URL != nil {
		u = s.checkURL(ctx, f, *ch.URL)
	}
	if ch.Events != nil {
		evs = checkEvents(f, ch.Events)
	}
	if len(f) > 0 {
		return nil, f
	}
	e, err := s.store.WebhookEndpoint(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	if ch.URL != nil {
		e.URL = u
	}
	if ch.Events != nil {
		e.Events = evs
	}
	if ch.Enabled != nil {
		e.Enabled = *ch.Enabled
	}
	if err := s.store.UpdateWebhookEndpoint(ctx, e, ManualDisableReason); err != nil {
		return nil, err
	}
	return e, nil
}

// Delete deletes an endpoint; its pending deliveries stop.
func (s *Service) Delete(ctx context.Context, workspaceID, id string) error {
	return s.store.DeleteWebhookEndpoint(ctx, workspaceID, id)
}

// RotateSecret gives an endpoint a new secret and returns it (shown this
// once). The old secret keeps signing next to the new one for SecretOverlap.
func (s *Service) RotateSecret(ctx context.Context, workspaceID, id string) (string, error) {
	secret := NewSecret()
	if err := s.store.RotateWebhookSecret(ctx, workspaceID, id, secret, SecretOverlap); err != nil {
		return "", err
	}
	return secret, nil
}

// Deliveries lists an endpoint's deliveries, newest first, each with its
// latest attempt; status ("pending", "succeeded", "failed" or "") filters.
func (s *Service) Deliveries(ctx context.Context, workspaceID, endpointID, status string, page store.Page) ([]store.WebhookDelivery, *string, error) {
	return s.store.ListWebhookDeliveries(ctx, workspaceID, endpointID, status, page)
}

// Delivery returns one delivery with the body it sends.
func (s *Service) Delivery(ctx context.Context, workspaceID, id string) (*store.WebhookDelivery, error) {
	return s.store.WebhookDelivery(ctx, workspaceID, id)
}

// Attempts is an endpoint's delivery log, newest first: each attempt's time,
// status code, latency and the first bytes of the reply. deliveryID, when
// set, keeps one delivery's attempts.
func (s *Service) Attempts(ctx context.Context, workspaceID, endpointID, deliveryID string, page store.Page) ([]store.WebhookAttempt, *string, error) {
	return s.store.ListWebhookAttempts(ctx, workspaceID, endpointID, deliveryID, page)
}

// Resend queues a delivery again, due now, with a fresh retry schedule and
// the same webhook-id. The endpoint must be enabled; a delivery being sent
// right now is ErrInFlight.
func (s *Service) Resend(ctx context.Context, workspaceID, deliveryID string) error {
	d, err := s.store.WebhookDelivery(ctx, workspaceID, deliveryID)
	if err != nil {
		return err
	}
	e, err := s.store.WebhookEndpoint(ctx, workspaceID, d.EndpointID)
	if err != nil {
		return err
	}
	if !e.Enabled {
		return ErrEndpointDisabled
	}
	return s.store.ResendWebhookDelivery(ctx, workspaceID, deliveryID)
}

// TestData is the data of a test event.
type TestData struct {
	EndpointID string `json:"endpointId"`
	Message    string `json:"message"`
}

// SendTestEvent queues a "webhook.test" event for one endpoint, delivered
// (signed, retried, logged) like any other; it returns the delivery's ID.
func (s *Service) SendTestEvent(ctx context.Context, workspaceID, endpointID string) (string, error) {
	e, err := s.store.WebhookEndpoint(ctx, workspaceID, endpointID)
	if err != nil {
		return "", err
	}
	if !e.Enabled {
		return "", ErrEndpointDisabled
	}
	ev, err := outbox.New(workspaceID, TestEvent, s.now(), TestData{EndpointID: e.ID,
		Message: "A test event from Partli: your endpoint receives and verifies webhooks."})
	if err != nil {
		return "", err
	}
	return s.store.CreateDirectWebhookDelivery(ctx, ev, e.ID)
}

// checkURL validates an endpoint URL, recording a message in f when it is
// refused, and returns it trimmed.
func (s *Service) checkURL(ctx context.Context, f FieldErrors, raw string) string {
	raw = strings.TrimSpace(raw)
	const msg = "must be an http or https URL such as https://example.com/webhooks/partli"
	u, err := url.Parse(raw)
	switch {
	case raw == "":
		f["url"] = MsgURLRequired
	case len(raw) > MaxURLLen:
		f["url"] = fmt.Sprintf("must be at most %d characters", MaxURLLen)
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" || u.Opaque != "":
		f["url"] = msg
	default:
		if err := s.guard.checkHost(ctx, u.Hostname()); err != nil {
			f["url"] = "must not point to a loopback, private or link-local address"
		}
	}
	return raw
}

// checkEvents validates event types, recording a message in f, and returns
// them without repeats in the canonical order.
func checkEvents(f FieldErrors, events []string) []string {
	if len(events) == 0 {
		f["events"] = MsgNoEvents
		return nil
	}
	want := map[string]bool{}
	for _, ev := range events {
		if !isType(ev) {
			f["events"] = fmt.Sprintf("has an unknown event type %q; use %s", ev, strings.Join(outbox.Types, ", "))
			return nil
		}
		want[ev] = true
	}
	out := make([]string, 0, len(want))
	for _, t := range outbox.Types {
		if want[t] {
			out = append(out, t)
		}
	}
	return out
}

func isType(t string) bool {
	for _, x := range outbox.Types {
		if x == t {
			return true
		}
	}
	return false
}
