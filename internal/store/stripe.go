package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// Stripe: a workspace's connection (the signing secret of the merchant's own
// webhook endpoint, or the connected account of Connect), the Stripe events
// received, and the Stripe objects a sale came from.

// SetStripeWebhookSecret stores the signing secret of the workspace's own
// Stripe webhook endpoint, sealed.
func (q Queries) SetStripeWebhookSecret(ctx context.Context, workspaceID, secret string) error {
	sealed, err := q.secrets.Seal(secret)
	if err != nil {
		return fmt.Errorf("store: set stripe webhook secret: %w", err)
	}
	_, err = q.exec(ctx, `
		INSERT INTO stripe_connections (workspace_id, webhook_secret) VALUES ($1, $2)
		ON CONFLICT (workspace_id) DO UPDATE SET webhook_secret = EXCLUDED.webhook_secret, updated_at = EXCLUDED.updated_at`,
		workspaceID, sealed)
	if err != nil {
		return fmt.Errorf("store: set stripe webhook secret: %w", err)
	}
	return nil
}

// StripeWebhookSecret returns the signing secret of the workspace's own
// Stripe webhook endpoint; ErrNotFound when none is set.
func (q Queries) StripeWebhookSecret(ctx context.Context, workspaceID string) (string, error) {
	var secret string
	err := q.get(ctx, &secret, `SELECT webhook_secret FROM stripe_connections
		WHERE workspace_id = $1 AND webhook_secret <> ''`, workspaceID)
	if err == nil {
		secret, err = q.secrets.Open(secret)
	}
	if err != nil {
		return "", fmt.Errorf("store: stripe webhook secret: %w", err)
	}
	return secret, nil
}

// WorkspaceByStripeAccount returns the workspace connected to a Stripe
// account (Connect); ErrNotFound when none is.
func (q Queries) WorkspaceByStripeAccount(ctx context.Context, accountID string) (string, error) {
	var ws string
	if err := q.get(ctx, &ws, `SELECT workspace FROM stripe_accounts WHERE account_id = $1`, accountID); err != nil {
		return "", fmt.Errorf("store: workspace by stripe account: %w", err)
	}
	return ws, nil
}

// StripeEventRecorded reports whether a Stripe event was processed already.
func (q Queries) StripeEventRecorded(ctx context.Context, workspaceID, key string) (bool, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM stripe_events WHERE workspace_id = $1 AND id = $2`, workspaceID, key); err != nil {
		return false, fmt.Errorf("store: stripe event: %w", err)
	}
	return n > 0, nil
}

// RecordStripeEvent records that a Stripe event was processed, with what
// came of it. It reports false, writing nothing, when the event is recorded
// already: whoever recorded it first did (or is doing) the work.
func (q Queries) RecordStripeEvent(ctx context.Context, key, workspaceID, typ, outcome string) (bool, error) {
	n, err := q.exec(ctx, `INSERT INTO stripe_events (id, workspace_id, type, outcome) VALUES ($1, $2, $3, $4)
		ON CONFLICT (workspace_id, id) DO NOTHING`, key, workspaceID, typ, outcome)
	if err != nil {
		return false, fmt.Errorf("store: record stripe event: %w", err)
	}
	return n == 1, nil
}

// StripeEventOutcome returns what came of a processed Stripe event.
func (q Queries) StripeEventOutcome(ctx context.Context, workspaceID, key string) (string, error) {
	var outcome string
	if err := q.get(ctx, &outcome, `SELECT outcome FROM stripe_events WHERE workspace_id = $1 AND id = $2`, workspaceID, key); err != nil {
		return "", fmt.Errorf("store: stripe event outcome: %w", err)
	}
	return outcome, nil
}

// SaleExternalIDByStripeRef returns the externalId of the workspace's sale
// that was recorded from a Stripe object (a payment intent, charge, invoice
// or Checkout Session) with one of the ids refs; ErrNotFound when none was.
// The ids are in the sale's metadata under stripe.refs.
func (q Queries) SaleExternalIDByStripeRef(ctx context.Context, workspaceID string, refs ...string) (string, error) {
	for _, ref := range refs {
		if ref == "" {
			continue
		}
		pattern, err := json.Marshal([]string{ref})
		if err != nil {
			return "", err
		}
		// A GIN index on (metadata->'stripe'->'refs') WHERE kind = 'sale'
		// would serve this containment test; without one it reads the
		// workspace's sales (refunds are rare next to sales).
		var externalID string
		err = q.get(ctx, &externalID, `SELECT external_id FROM events
			WHERE workspace_id = $1 AND kind = 'sale' AND metadata->'stripe'->'refs' @> $2::jsonb
			ORDER BY created_at LIMIT 1`, workspaceID, string(pattern))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return "", fmt.Errorf("store: sale by stripe ref: %w", err)
		}
		return externalID, nil
	}
	return "", fmt.Errorf("store: sale by stripe ref: %w", ErrNotFound)
}

// AddStripeRefs adds Stripe object ids to the refs of the sale with
// externalID (a payment that paid its invoice, learnt after the sale), so a
// later refund of that payment finds the sale. It reports false when the
// workspace has no such sale.
func (q Queries) AddStripeRefs(ctx context.Context, workspaceID, externalID string, refs []string) (bool, error) {
	add, err := json.Marshal(refs)
	if err != nil {
		return false, err
	}
	n, err := q.exec(ctx, `
		UPDATE events SET metadata = jsonb_set(coalesce(metadata, '{}'::jsonb), '{stripe,refs}',
			(SELECT coalesce(jsonb_agg(DISTINCT r), '[]'::jsonb) FROM jsonb_array_elements(
				coalesce(metadata->'stripe'->'refs', '[]'::jsonb) || $3::jsonb) AS r))
		WHERE workspace_id = $1 AND kind = 'sale' AND external_id = $2 AND jsonb_typeof(metadata->'stripe') = 'object'`,
		workspaceID, externalID, string(add))
	if err != nil {
		return false, fmt.Errorf("store: add stripe refs: %w", err)
	}
	return n > 0, nil
}

// SetStripeEventOutcome records what came of a Stripe event recorded earlier
// in the same transaction.
func (q Queries) SetStripeEventOutcome(ctx context.Context, workspaceID, key, outcome string) error {
	if _, err := q.exec(ctx, `UPDATE stripe_events SET outcome = $3 WHERE workspace_id = $1 AND id = $2`, workspaceID, key, outcome); err != nil {
		return fmt.Errorf("store: set stripe event outcome: %w", err)
	}
	return nil
}
