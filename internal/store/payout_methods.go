package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// PayoutMethod is how a partner is paid (migration 00011).
type PayoutMethod struct {
	WorkspaceID            string     `db:"workspace_id"`
	PartnerID              string     `db:"partner_id"`
	Type                   string     `db:"type"`
	Email                  string     `db:"email"`
	StripeAccountID        *string    `db:"stripe_account_id"`
	StripePayoutsEnabled   bool       `db:"stripe_payouts_enabled"`
	StripeDetailsSubmitted bool       `db:"stripe_details_submitted"`
	StripeRequirements     string     `db:"stripe_requirements"`
	StripeCheckedAt        *time.Time `db:"stripe_checked_at"`
	CreatedAt              time.Time  `db:"created_at"`
	UpdatedAt              time.Time  `db:"updated_at"`
}

// PayoutMethodOf returns a partner's payout method; ErrNotFound when the
// partner has chosen none.
func (q Queries) PayoutMethodOf(ctx context.Context, workspaceID, partnerID string) (*PayoutMethod, error) {
	var m PayoutMethod
	if err := q.get(ctx, &m, `SELECT * FROM partner_payout_methods WHERE workspace_id = $1 AND partner_id = $2`,
		workspaceID, partnerID); err != nil {
		return nil, fmt.Errorf("store: payout method: %w", err)
	}
	return &m, nil
}

// PayoutMethods returns the payout methods of the given partners, by partner
// id (partners with none are absent).
func (q Queries) PayoutMethods(ctx context.Context, workspaceID string, partnerIDs []string) (map[string]PayoutMethod, error) {
	var ms []PayoutMethod
	if err := q.sel(ctx, &ms, `SELECT * FROM partner_payout_methods WHERE workspace_id = $1 AND partner_id = ANY($2)`,
		workspaceID, pq.Array(partnerIDs)); err != nil {
		return nil, fmt.Errorf("store: payout methods: %w", err)
	}
	out := make(map[string]PayoutMethod, len(ms))
	for _, m := range ms {
		out[m.PartnerID] = m
	}
	return out, nil
}

// SetPayoutMethod makes type (with email, for PayPal and Wise) the partner's
// payout method, keeping the Stripe account it may have. The partner's
// pending payouts of the same method follow a new email address, in the
// same statement: they are paid where the partner now asks to be paid.
func (q Queries) SetPayoutMethod(ctx context.Context, workspaceID, partnerID, typ, email string) (*PayoutMethod, error) {
	var m PayoutMethod
	err := q.get(ctx, &m, `
		WITH m AS (
			INSERT INTO partner_payout_methods (workspace_id, partner_id, type, email) VALUES ($1, $2, $3, $4)
			ON CONFLICT (workspace_id, partner_id) DO UPDATE SET type = EXCLUDED.type, email = EXCLUDED.email, updated_at = EXCLUDED.updated_at
			RETURNING *
		), po AS (
			UPDATE payouts SET recipient = $4, updated_at = now()
			WHERE workspace_id = $1 AND partner_id = $2 AND status = 'pending' AND method = $3 AND $3 IN ('paypal', 'wise')
		)
		SELECT * FROM m`, workspaceID, partnerID, typ, email)
	if err != nil {
		return nil, fmt.Errorf("store: set payout method: %w", err)
	}
	return &m, nil
}

// UseStripeAccount makes Stripe the partner's payout method with the given
// Express account (kept if the partner already had one: the first account
// stays), and registers the account for Stripe's events. It returns the
// method as stored.
func (q Queries) UseStripeAccount(ctx context.Context, workspaceID, partnerID, accountID string) (*PayoutMethod, error) {
	var m PayoutMethod
	err := q.atomically(ctx, func(q Queries) error {
		err := q.get(ctx, &m, `
			INSERT INTO partner_payout_methods (workspace_id, partner_id, type, stripe_account_id) VALUES ($1, $2, 'stripe', $3)
			ON CONFLICT (workspace_id, partner_id) DO UPDATE SET type = 'stripe', email = '',
				stripe_account_id = coalesce(partner_payout_methods.stripe_account_id, EXCLUDED.stripe_account_id), updated_at = EXCLUDED.updated_at
			RETURNING *`, workspaceID, partnerID, accountID)
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, `INSERT INTO stripe_payout_accounts (account_id, workspace, partner_id) VALUES ($1, $2, $3)
			ON CONFLICT (account_id) DO NOTHING`, m.StripeAccountID, workspaceID, partnerID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: use stripe account: %w", err)
	}
	return &m, nil
}

// StripeAccountState is what Stripe says of a connected account.
type StripeAccountState struct {
	PayoutsEnabled   bool
	DetailsSubmitted bool
	// Requirements says why Stripe holds the account's payouts, if it does.
	Requirements string
}

// SetStripeAccountState records what Stripe said of a partner's Express
// account, at checkedAt; an older report than the one stored changes
// nothing (compared to the second: an event's time is whole seconds, and
// an event of the same second as a read of the account is taken as the
// later). It returns the partner's method, or ErrNotFound when no partner
// has the account.
func (q Queries) SetStripeAccountState(ctx context.Context, workspaceID, accountID string, s StripeAccountState, checkedAt time.Time) (*PayoutMethod, error) {
	var m PayoutMethod
	err := q.get(ctx, &m, `
		WITH u AS (
			UPDATE partner_payout_methods SET stripe_payouts_enabled = $3, stripe_details_submitted = $4,
				stripe_requirements = $5, stripe_checked_at = $6, updated_at = now()
			WHERE workspace_id = $1 AND stripe_account_id = $2
			  AND (stripe_checked_at IS NULL OR stripe_checked_at < $7)
			RETURNING *
		)
		SELECT * FROM u
		UNION ALL
		SELECT * FROM partner_payout_methods WHERE workspace_id = $1 AND stripe_account_id = $2 AND NOT EXISTS (SELECT 1 FROM u)`,
		workspaceID, accountID, s.PayoutsEnabled, s.DetailsSubmitted, s.Requirements, checkedAt, nextSecond(checkedAt))
	if err != nil {
		return nil, fmt.Errorf("store: set stripe account state: %w", err)
	}
	return &m, nil
}

// StripePayoutAccount returns the workspace and partner of a partner's
// Express account; ErrNotFound when it is none of Partli's.
func (q Queries) StripePayoutAccount(ctx context.Context, accountID string) (workspaceID, partnerID string, err error) {
	var row struct {
		WorkspaceID string `db:"workspace"`
		PartnerID   string `db:"partner_id"`
	}
	if err := q.get(ctx, &row, `SELECT workspace, partner_id FROM stripe_payout_accounts WHERE account_id = $1`, accountID); err != nil {
		return "", "", fmt.Errorf("store: stripe payout account: %w", err)
	}
	return row.WorkspaceID, row.PartnerID, nil
}

// SetStripeSecretKey stores the workspace's own Stripe secret key, sealed.
func (q Queries) SetStripeSecretKey(ctx context.Context, workspaceID, key string) error {
	sealed, err := q.secrets.Seal(key)
	if err != nil {
		return fmt.Errorf("store: set stripe secret key: %w", err)
	}
	_, err = q.exec(ctx, `
		INSERT INTO stripe_connections (workspace_id, secret_key) VALUES ($1, $2)
		ON CONFLICT (workspace_id) DO UPDATE SET secret_key = EXCLUDED.secret_key, updated_at = EXCLUDED.updated_at`,
		workspaceID, sealed)
	if err != nil {
		return fmt.Errorf("store: set stripe secret key: %w", err)
	}
	return nil
}

// StripeSecretKey returns the workspace's own Stripe secret key;
// ErrNotFound when it has none.
func (q Queries) StripeSecretKey(ctx context.Context, workspaceID string) (string, error) {
	var key string
	err := q.get(ctx, &key, `SELECT secret_key FROM stripe_connections WHERE workspace_id = $1 AND secret_key <> ''`, workspaceID)
	if err == nil {
		key, err = q.secrets.Open(key)
	}
	if err != nil {
		return "", fmt.Errorf("store: stripe secret key: %w", err)
	}
	return key, nil
}

// HasStripeSecretKey reports whether the workspace set its own Stripe
// secret key (without opening it).
func (q Queries) HasStripeSecretKey(ctx context.Context, workspaceID string) (bool, error) {
	var ok bool
	err := q.get(ctx, &ok, `SELECT EXISTS (SELECT 1 FROM stripe_connections WHERE workspace_id = $1 AND secret_key <> '')`, workspaceID)
	if err != nil {
		return false, fmt.Errorf("store: has stripe secret key: %w", err)
	}
	return ok, nil
}
