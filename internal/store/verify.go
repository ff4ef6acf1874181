package store

import (
	"context"
	"fmt"
	"time"
)

// Program verification: a program is a draft until a sale or lead has gone
// through tracking end to end for it (a test sale through the API, or a
// Stripe event), and active from then on.

// MarkProgramVerified records, the first time only, that an event was
// tracked end to end for the program. It reports whether the program was
// verified already (nothing written). It runs inside the sale pipeline's
// transaction, so it is one statement that finds the row by its primary key
// and writes (and locks) nothing once the program is verified.
func (q Queries) MarkProgramVerified(ctx context.Context, workspaceID, programID string) (bool, error) {
	n, err := q.exec(ctx, `UPDATE programs SET verified_at = now()
		WHERE workspace_id = $1 AND id = $2 AND verified_at IS NULL`, workspaceID, programID)
	if err != nil {
		return false, fmt.Errorf("store: mark program verified: %w", err)
	}
	return n == 0, nil
}

// ProgramGoLive is what the program page's go-live checklist looks at.
type ProgramGoLive struct {
	// HasReward: the program has a reward (its default or a group's).
	HasReward bool `db:"has_reward"`
	// PartnerSlug is an approved partner's slug (the newest), for the test
	// link; nil when the program has no approved partner.
	PartnerSlug *string `db:"partner_slug"`
	// APIKeyUsedAt is the last use of one of the workspace's active API keys.
	APIKeyUsedAt *time.Time `db:"api_key_used_at"`
	// StripeAccountID is the connected Stripe account, if any.
	StripeAccountID *string `db:"stripe_account_id"`
	// StripeWebhook: the merchant's own Stripe endpoint has a signing secret.
	StripeWebhook bool       `db:"stripe_webhook"`
	VerifiedAt    *time.Time `db:"verified_at"`
}

// ProgramGoLive loads the checklist's facts for one program of the
// workspace, in one statement; ErrNotFound for no such program.
func (q Queries) ProgramGoLive(ctx context.Context, workspaceID, programID string) (*ProgramGoLive, error) {
	var g ProgramGoLive
	err := q.get(ctx, &g, `
		SELECT
			EXISTS (SELECT 1 FROM rewards r WHERE r.workspace_id = p.workspace_id AND r.program_id = p.id) AS has_reward,
			(SELECT pa.slug FROM partners pa
				WHERE pa.workspace_id = p.workspace_id AND pa.program_id = p.id AND pa.status = 'approved'
				ORDER BY pa.created_at DESC, pa.id DESC LIMIT 1) AS partner_slug,
			(SELECT max(k.last_used_at) FROM api_keys k
				WHERE k.workspace_id = p.workspace_id AND k.revoked_at IS NULL) AS api_key_used_at,
			sc.account_id AS stripe_account_id,
			coalesce(sc.webhook_secret <> '', false) AS stripe_webhook,
			p.verified_at
		FROM programs p
		LEFT JOIN stripe_connections sc ON sc.workspace_id = p.workspace_id
		WHERE p.workspace_id = $1 AND p.id = $2`, workspaceID, programID)
	if err != nil {
		return nil, fmt.Errorf("store: program go-live: %w", err)
	}
	return &g, nil
}
