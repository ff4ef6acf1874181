// Package outbox builds the webhook events that Partli records in the same
// transaction as what they describe (the transactional outbox). The
// statement that records them also queues their deliveries, one per
// subscribed endpoint; sending those is the webhook worker's job.
package outbox

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// Event types.
const (
	SaleCreated       = "sale.created"
	LeadCreated       = "lead.created"
	CommissionCreated = "commission.created"
	CommissionUpdated = "commission.updated"
	// Payouts: created (pending), paid (by Stripe, or marked paid with a
	// reference), failed (Stripe refused the transfer). payout.paid is also
	// the hook of the "payout sent" mail to the partner.
	PayoutCreated = "payout.created"
	PayoutPaid    = "payout.paid"
	PayoutFailed  = "payout.failed"
)

// Types lists every event type an endpoint may subscribe to.
var Types = []string{SaleCreated, LeadCreated, CommissionCreated, CommissionUpdated, PayoutCreated, PayoutPaid, PayoutFailed}

// Envelope is the body delivered to an endpoint.
type Envelope struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"createdAt"`
	Data      any       `json:"data"`
}

// SaleData is a sale with its customer.
type SaleData struct {
	store.Sale
	Customer *store.CustomerRef `json:"customer"`
}

// LeadData is a lead with its customer (null when reported without one).
type LeadData struct {
	ID         string             `json:"id"`
	ExternalID string             `json:"externalId"`
	ProgramID  string             `json:"programId"`
	PartnerID  string             `json:"partnerId"`
	ClickID    *string            `json:"clickId"`
	CodeID     *string            `json:"codeId"`     // the code that attributed it, or agreed
	CouponCode *string            `json:"couponCode"` // that code as written
	EventName  string             `json:"eventName"`
	Metadata   json.RawMessage    `json:"metadata"`
	OccurredAt time.Time          `json:"occurredAt"`
	CreatedAt  time.Time          `json:"createdAt"`
	Customer   *store.CustomerRef `json:"customer"`
}

// CommissionData is a commission with its partner and customer.
type CommissionData struct {
	store.Commission
	Partner  store.PartnerRef   `json:"partner"`
	Customer *store.CustomerRef `json:"customer"`
}

// PayoutData is a payout with its partner.
type PayoutData struct {
	store.Payout
	Partner store.PartnerRef `json:"partner"`
}

// New wraps data in an envelope and returns the outbox row.
func New(workspaceID, typ string, now time.Time, data any) (store.WebhookEvent, error) {
	env := Envelope{ID: ids.New(ids.WebhookEvent), Type: typ, CreatedAt: now.UTC(), Data: data}
	b, err := json.Marshal(env)
	if err != nil {
		return store.WebhookEvent{}, fmt.Errorf("outbox: %s: %w", typ, err)
	}
	return store.WebhookEvent{ID: env.ID, WorkspaceID: workspaceID, Type: typ, Payload: b, CreatedAt: env.CreatedAt}, nil
}
