package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Stripe Connect: the Stripe account a workspace connected through OAuth.
// It shares the workspace's stripe_connections row with the signing secret
// of the merchant's own webhook endpoint; neither clears the other.

// StripeConnection is what a workspace has set up with Stripe.
type StripeConnection struct {
	WorkspaceID string `db:"workspace_id"`
	// AccountID is the connected account (acct_…); nil when none is.
	AccountID *string `db:"account_id"`
	// Livemode: the account was connected with live keys (else test mode).
	Livemode    bool       `db:"livemode"`
	ConnectedAt *time.Time `db:"connected_at"`
	// WebhookSecretSet: the merchant's own endpoint has a signing secret
	// (the secret itself is never read back out).
	WebhookSecretSet bool `db:"webhook_secret_set"`
	// SecretKeySet: the workspace has its own Stripe secret key for
	// payouts (never read back out either).
	SecretKeySet bool      `db:"secret_key_set"`
	UpdatedAt    time.Time `db:"updated_at"`
}

// Connected reports whether a Stripe account is connected.
func (c *StripeConnection) Connected() bool { return c != nil && c.AccountID != nil }

// StripeConnection returns the workspace's Stripe setup; a workspace that
// never set anything up gets an empty one (not ErrNotFound).
func (q Queries) StripeConnection(ctx context.Context, workspaceID string) (*StripeConnection, error) {
	c := StripeConnection{WorkspaceID: workspaceID}
	err := q.get(ctx, &c, `SELECT workspace_id, account_id, livemode, connected_at,
			webhook_secret <> '' AS webhook_secret_set, secret_key <> '' AS secret_key_set, updated_at
		FROM stripe_connections WHERE workspace_id = $1`, workspaceID)
	if errors.Is(err, ErrNotFound) {
		return &StripeConnection{WorkspaceID: workspaceID}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: stripe connection: %w", err)
	}
	return &c, nil
}

// ConnectStripeAccount records the account a workspace connected, replacing
// the one it had. An account connected to another workspace is ErrConflict
// on StripeAccountKey.
func (q Queries) ConnectStripeAccount(ctx context.Context, workspaceID, accountID string, livemode bool) error {
	err := q.atomically(ctx, func(q Queries) error {
		// The global look-up: the account once across workspaces, this
		// workspace's only.
		if _, err := q.exec(ctx, `DELETE FROM stripe_accounts WHERE workspace = $1 AND account_id <> $2`, workspaceID, accountID); err != nil {
			return err
		}
		if _, err := q.exec(ctx, `INSERT INTO stripe_accounts (account_id, workspace) VALUES ($1, $2)
			ON CONFLICT (account_id) DO UPDATE SET workspace = EXCLUDED.workspace WHERE stripe_accounts.workspace = EXCLUDED.workspace`,
			accountID, workspaceID); err != nil {
			return err
		}
		var owner string
		if err := q.get(ctx, &owner, `SELECT workspace FROM stripe_accounts WHERE account_id = $1`, accountID); err != nil {
			return err
		}
		if owner != workspaceID {
			return &ConflictError{Key: StripeAccountKey}
		}
		_, err := q.exec(ctx, `
			INSERT INTO stripe_connections (workspace_id, account_id, livemode, connected_at) VALUES ($1, $2, $3, now())
			ON CONFLICT (workspace_id) DO UPDATE SET account_id = EXCLUDED.account_id, livemode = EXCLUDED.livemode,
				connected_at = EXCLUDED.connected_at, updated_at = EXCLUDED.updated_at`, workspaceID, accountID, livemode)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: connect stripe account: %w", err)
	}
	return nil
}

// DisconnectStripeAccount forgets the workspace's connected account if it is
// still accountID (a reconnection in the meantime is kept). It reports
// whether it cleared anything.
func (q Queries) DisconnectStripeAccount(ctx context.Context, workspaceID, accountID string) (bool, error) {
	var n int64
	err := q.atomically(ctx, func(q Queries) error {
		var err error
		if n, err = q.exec(ctx, `UPDATE stripe_connections
			SET account_id = NULL, livemode = false, connected_at = NULL, updated_at = now()
			WHERE workspace_id = $1 AND account_id = $2`, workspaceID, accountID); err != nil || n == 0 {
			return err
		}
		_, err = q.exec(ctx, `DELETE FROM stripe_accounts WHERE account_id = $1 AND workspace = $2`, accountID, workspaceID)
		return err
	})
	if err != nil {
		return false, fmt.Errorf("store: disconnect stripe account: %w", err)
	}
	return n > 0, nil
}

// nextSecond is the start of the second after t's: a stored time whose
// whole second is at most t's is before it. Comparing with it, rather than
// truncating the column in SQL, keeps the statement free of the STABLE
// date_trunc of a timestamptz column, which Citus refuses in an UPDATE.
func nextSecond(t time.Time) time.Time { return t.Truncate(time.Second).Add(time.Second) }

// StripeAccountDeauthorized forgets a connected account that removed
// Partli's access at Stripe, unless it was connected (again) after the
// deauthorization happened: Stripe retries deliveries for days, and a late
// one must not undo a newer connection (Stripe's event times are whole
// seconds: a tie counts as before). It returns the workspace that had
// the account, "" when none had it (any more).
func (q Queries) StripeAccountDeauthorized(ctx context.Context, accountID string, at time.Time) (string, error) {
	var ws string
	err := q.atomically(ctx, func(q Queries) error {
		ws = ""
		var owner string
		err := q.get(ctx, &owner, `SELECT workspace FROM stripe_accounts WHERE account_id = $1`, accountID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		err = q.get(ctx, &ws, `UPDATE stripe_connections
			SET account_id = NULL, livemode = false, connected_at = NULL, updated_at = now()
			WHERE workspace_id = $1 AND account_id = $2 AND (connected_at IS NULL OR connected_at < $3)
			RETURNING workspace_id`, owner, accountID, nextSecond(at))
		if errors.Is(err, ErrNotFound) {
			ws = ""
			return nil
		}
		if err != nil {
			return err
		}
		_, err = q.exec(ctx, `DELETE FROM stripe_accounts WHERE account_id = $1 AND workspace = $2`, accountID, owner)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store: stripe account deauthorized: %w", err)
	}
	return ws, nil
}
