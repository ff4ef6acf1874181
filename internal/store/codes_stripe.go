package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The Stripe work of codes (internal/codes): each code's promotion code to
// make or deactivate, claimed with a lease by one worker at a time, and how
// it went.

// QueueWorkspaceCodes queues for a Stripe promotion code every live code of
// the workspace that has none, in programs with a discount (the workspace
// has just set up Stripe). It returns how many.
func (q Queries) QueueWorkspaceCodes(ctx context.Context, workspaceID string) (int64, error) {
	n, err := q.exec(ctx, `
		UPDATE partner_codes co SET stripe_sync = 'create', stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL
		FROM programs pr
		WHERE co.workspace_id = $1 AND pr.workspace_id = co.workspace_id AND pr.id = co.program_id
		  AND pr.discount_type IS NOT NULL AND co.retired_at IS NULL AND co.stripe_promotion_code_id IS NULL`, workspaceID)
	if err != nil {
		return 0, fmt.Errorf("store: queue codes: %w", err)
	}
	return n, nil
}

// RetryCodeSync asks for the code's Stripe work to be tried again now: a
// live code without a promotion code in a program with a discount is made
// one, a retired code's promotion code is deactivated. It reports whether
// there was anything to do.
func (q Queries) RetryCodeSync(ctx context.Context, workspaceID, id string) (bool, error) {
	n, err := q.exec(ctx, `
		UPDATE partner_codes co SET stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL,
			stripe_sync = CASE WHEN co.retired_at IS NULL THEN 'create' ELSE 'deactivate' END
		FROM programs pr
		WHERE co.workspace_id = $1 AND co.id = $2 AND pr.workspace_id = co.workspace_id AND pr.id = co.program_id
		  AND ((co.retired_at IS NULL AND co.stripe_promotion_code_id IS NULL AND pr.discount_type IS NOT NULL)
		    OR (co.retired_at IS NOT NULL AND co.stripe_promotion_code_id IS NOT NULL AND co.stripe_deactivated_at IS NULL))`,
		workspaceID, id)
	if err != nil {
		return false, fmt.Errorf("store: retry code sync: %w", err)
	}
	return n == 1, nil
}

// CodeSync is a code claimed for its Stripe work, with the program's
// discount as it stands.
type CodeSync struct {
	Code
	Program Program `db:"p"`
}

// codeSyncSelect reads the claimed codes (the CTE c) with their programs.
var codeSyncSelect = `SELECT ` + qualified(codeCols, "c", "") + `, ` + qualified(programCols, "p", "p.") + `
	FROM c JOIN programs p ON p.workspace_id = c.workspace_id AND p.id = c.program_id`

// ClaimCodeSyncs claims up to limit codes, of any workspace, whose Stripe
// work is due and not held by another worker, for lease. Claimed codes are
// held until the lease runs out or their outcome is recorded.
func (q Queries) ClaimCodeSyncs(ctx context.Context, limit int, lease time.Duration) ([]CodeSync, error) {
	cs, err := claimByWorkspace(ctx, q, "partner_codes", `stripe_sync <> 'idle' AND (stripe_retry_at IS NULL OR stripe_retry_at <= now())
		  AND (stripe_lease_until IS NULL OR stripe_lease_until < now())`, "stripe_retry_at NULLS FIRST", limit, func(ws string, n int) ([]CodeSync, error) {
		var some []CodeSync
		err := q.sel(ctx, &some, `
			WITH due AS (
				SELECT workspace_id, id FROM partner_codes
				WHERE workspace_id = $3 AND stripe_sync <> 'idle' AND (stripe_retry_at IS NULL OR stripe_retry_at <= now())
				  AND (stripe_lease_until IS NULL OR stripe_lease_until < now())
				ORDER BY stripe_retry_at NULLS FIRST, id LIMIT $1
				FOR UPDATE SKIP LOCKED
			), c AS (
				UPDATE partner_codes co SET stripe_lease_until = now() + $2 * interval '1 second'
				FROM due WHERE co.workspace_id = $3 AND co.id = due.id
				RETURNING co.*
			) `+codeSyncSelect+` WHERE p.workspace_id = $3`, n, lease.Seconds(), ws)
		return some, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim code syncs: %w", err)
	}
	return cs, nil
}

// ClaimCodeSync claims one code's Stripe work for lease, when it has work
// due that no one else holds; nil otherwise.
func (q Queries) ClaimCodeSync(ctx context.Context, workspaceID, id string, lease time.Duration) (*CodeSync, error) {
	var cs CodeSync
	err := q.get(ctx, &cs, `
		WITH c AS (
			UPDATE partner_codes SET stripe_lease_until = now() + $3 * interval '1 second'
			WHERE workspace_id = $1 AND id = $2 AND stripe_sync <> 'idle'
			  AND (stripe_lease_until IS NULL OR stripe_lease_until < now())
			RETURNING *
		) `+codeSyncSelect, workspaceID, id, lease.Seconds())
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim code sync: %w", err)
	}
	return &cs, nil
}

// CodeSynced records a promotion code made for a code with couponID, the
// coupon of discount version. A code retired meanwhile is queued to have
// it deactivated at once.
func (q Queries) CodeSynced(ctx context.Context, workspaceID, id, promotionCodeID, couponID string, version int) (*Code, error) {
	var c Code
	// The partner's link may carry this code from now on (partnerCodeSQL).
	err := q.atomically(ctx, func(q Queries) error {
		err := q.get(ctx, &c, `
			UPDATE partner_codes SET stripe_promotion_code_id = $3, stripe_coupon_id = $4, discount_version = $5,
				stripe_sync = CASE WHEN retired_at IS NULL THEN 'idle' ELSE 'deactivate' END,
				stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL, stripe_lease_until = NULL
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+codeCols, workspaceID, id, promotionCodeID, couponID, version)
		if err != nil {
			return err
		}
		return q.codeLinkChanged(ctx, &c)
	})
	if err != nil {
		return nil, fmt.Errorf("store: code synced: %w", err)
	}
	q.forgetPartnerLink(ctx, workspaceID, c.PartnerID)
	return &c, nil
}

// CodeDeactivated records that a retired code's promotion code is
// deactivated in Stripe.
func (q Queries) CodeDeactivated(ctx context.Context, workspaceID, id string) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `
		UPDATE partner_codes SET stripe_deactivated_at = now(), stripe_sync = 'idle',
			stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL, stripe_lease_until = NULL
		WHERE workspace_id = $1 AND id = $2 AND stripe_promotion_code_id IS NOT NULL
		RETURNING `+codeCols, workspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("store: code deactivated: %w", err)
	}
	return &c, nil
}

// CodeSyncFailed records a failed attempt at a code's Stripe work: its
// words, and when to try again (nil: not again until someone asks; the
// work is dropped). A code whose work was re-queued meanwhile (a retry
// asked for, a new discount) keeps the new request.
func (q Queries) CodeSyncFailed(ctx context.Context, workspaceID, id, message string, retryAt *time.Time) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `
		UPDATE partner_codes SET stripe_error = $3, stripe_attempts = stripe_attempts + 1, stripe_retry_at = $4,
			stripe_sync = CASE WHEN $4::timestamptz IS NULL THEN 'idle' ELSE stripe_sync END, stripe_lease_until = NULL
		WHERE workspace_id = $1 AND id = $2
		RETURNING `+codeCols, workspaceID, id, message, retryAt)
	if err != nil {
		return nil, fmt.Errorf("store: code sync failed: %w", err)
	}
	return &c, nil
}

// CodeSyncDone records that a code has no Stripe work after all (no
// discount, or no Stripe set up), with why ("" when it is nothing to
// report).
func (q Queries) CodeSyncDone(ctx context.Context, workspaceID, id, message string) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `
		UPDATE partner_codes SET stripe_sync = 'idle', stripe_error = $3, stripe_attempts = 0, stripe_retry_at = NULL,
			stripe_lease_until = NULL
		WHERE workspace_id = $1 AND id = $2
		RETURNING `+codeCols, workspaceID, id, message)
	if err != nil {
		return nil, fmt.Errorf("store: code sync done: %w", err)
	}
	return &c, nil
}
