package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Account tokens are the single-use links mailed to prove an address: a
// password reset (of a dashboard user or a portal account) and the
// verification of a portal account made by the application form. The row
// keeps the token's SHA-256; the token itself is derived from the row's id
// when the mail is sent (internal/email), so neither the row nor the outbox
// holds it.

// Token purposes.
const (
	TokenPasswordReset     = "password_reset"
	TokenEmailVerification = "email_verification"
)

// AccountToken is one mailed link.
type AccountToken struct {
	ID      string  `db:"id"`
	Purpose string  `db:"purpose"`
	UserID  *string `db:"user_id"`
	// Workspace is the user's workspace (nil for a portal account's).
	Workspace *string    `db:"workspace"`
	AccountID *string    `db:"account_id"`
	ExpiresAt time.Time  `db:"expires_at"`
	UsedAt    *time.Time `db:"used_at"`
	CreatedAt time.Time  `db:"created_at"`
}

const accountTokenCols = `id, purpose, user_id, workspace, account_id, expires_at, used_at, created_at`

// CreateAccountToken stores t (ID, Purpose, and UserID with its Workspace, or AccountID) with
// tokenHash, valid for ttl, unless its person already has perWindow tokens
// of that purpose made in the last window: then it stores nothing and
// reports false (the per-recipient limit). The person's row is locked while
// it counts, so concurrent requests cannot both slip under the limit.
func (tx *Tx) CreateAccountToken(ctx context.Context, t *AccountToken, tokenHash []byte, ttl time.Duration,
	perWindow int, window time.Duration) (bool, error) {
	var lock string
	var person string
	var args []any
	switch {
	case t.AccountID != nil && t.UserID == nil:
		person, lock, args = *t.AccountID, `SELECT id FROM partner_accounts WHERE id = $1 FOR UPDATE`, []any{*t.AccountID}
	case t.UserID != nil && t.Workspace != nil && t.AccountID == nil:
		person, lock, args = *t.UserID, `SELECT id FROM users WHERE workspace_id = $1 AND id = $2 FOR UPDATE`, []any{*t.Workspace, *t.UserID}
	default:
		return false, errors.New("store: account token: no user (with its workspace) or account")
	}
	var locked string
	if err := tx.get(ctx, &locked, lock, args...); err != nil {
		return false, fmt.Errorf("store: account token: %w", err)
	}
	var recent int
	err := tx.get(ctx, &recent, `SELECT count(*) FROM account_tokens
		WHERE (user_id = $1 OR account_id = $1) AND purpose = $2 AND created_at > now() - $3::float8 * interval '1 second'`,
		person, t.Purpose, window.Seconds())
	if err != nil {
		return false, fmt.Errorf("store: account token: %w", err)
	}
	if recent >= perWindow {
		return false, nil
	}
	err = tx.get(ctx, t, `INSERT INTO account_tokens (id, purpose, user_id, workspace, account_id, token_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, now() + $7::float8 * interval '1 second') RETURNING `+accountTokenCols,
		t.ID, t.Purpose, t.UserID, t.Workspace, t.AccountID, tokenHash, ttl.Seconds())
	if err != nil {
		return false, fmt.Errorf("store: account token: %w", err)
	}
	return true, nil
}

// LiveAccountToken returns the unused, unexpired token of purpose with
// tokenHash (ErrNotFound otherwise).
func (q Queries) LiveAccountToken(ctx context.Context, purpose string, tokenHash []byte) (*AccountToken, error) {
	var t AccountToken
	err := q.get(ctx, &t, `SELECT `+accountTokenCols+` FROM account_tokens
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()`, tokenHash, purpose)
	if err != nil {
		return nil, fmt.Errorf("store: account token: %w", err)
	}
	return &t, nil
}

// UseAccountToken spends the live token of purpose with tokenHash, and
// every other unused token of that purpose of the same person with it: a
// link works once, and the links mailed before it stop working. ErrNotFound
// when the token is unknown, used or expired; of two concurrent uses, one
// gets it.
func (tx *Tx) UseAccountToken(ctx context.Context, purpose string, tokenHash []byte) (*AccountToken, error) {
	var t AccountToken
	err := tx.get(ctx, &t, `UPDATE account_tokens SET used_at = now()
		WHERE token_hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > now()
		RETURNING `+accountTokenCols, tokenHash, purpose)
	if err != nil {
		return nil, fmt.Errorf("store: use account token: %w", err)
	}
	_, err = tx.exec(ctx, `UPDATE account_tokens SET used_at = now()
		WHERE purpose = $1 AND used_at IS NULL AND (user_id = $2 OR account_id = $3)`, purpose, t.UserID, t.AccountID)
	if err != nil {
		return nil, fmt.Errorf("store: use account token: %w", err)
	}
	return &t, nil
}

// SetUserPassword replaces a dashboard user's password and clears their
// failed sign-ins. The caller ends their sessions.
func (q Queries) SetUserPassword(ctx context.Context, workspaceID, userID, hash string) error {
	n, err := q.exec(ctx, `UPDATE users SET password_hash = $3, failed_logins = 0, locked_until = NULL
		WHERE workspace_id = $1 AND id = $2`, workspaceID, userID, hash)
	if err != nil {
		return fmt.Errorf("store: set user password: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: set user password: %w", ErrNotFound)
	}
	return nil
}

// SetPartnerPassword replaces a portal account's password and clears its
// failed sign-ins; proven marks its address proven too (the password was
// set through a link mailed to it). The caller ends its sessions.
func (q Queries) SetPartnerPassword(ctx context.Context, accountID, hash string, proven bool) error {
	n, err := q.exec(ctx, `UPDATE partner_accounts SET password_hash = $2, failed_logins = 0, locked_until = NULL,
			email_verified_at = CASE WHEN $3 THEN coalesce(email_verified_at, $4::timestamptz) ELSE email_verified_at END
		WHERE id = $1`, accountID, hash, proven, time.Now().UTC()) // this process's time: Citus takes no now() inside a CASE
	if err != nil {
		return fmt.Errorf("store: set partner password: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: set partner password: %w", ErrNotFound)
	}
	return nil
}

// VerifyPartnerAccount marks a portal account's address proven (its
// verification link was opened); it reports whether it was unproven.
func (q Queries) VerifyPartnerAccount(ctx context.Context, accountID string) (bool, error) {
	n, err := q.exec(ctx, `UPDATE partner_accounts SET email_verified_at = now()
		WHERE id = $1 AND email_verified_at IS NULL`, accountID)
	if err != nil {
		return false, fmt.Errorf("store: verify partner account: %w", err)
	}
	return n == 1, nil
}

// UserInvite is an invitation to a workspace's dashboard.
type UserInvite struct {
	ID            string     `db:"id"`
	WorkspaceID   string     `db:"workspace_id"`
	Email         string     `db:"email"`
	Role          string     `db:"role"`
	InvitedBy     *string    `db:"invited_by"`
	ExpiresAt     time.Time  `db:"expires_at"`
	AcceptedAt    *time.Time `db:"accepted_at"`
	RevokedAt     *time.Time `db:"revoked_at"`
	CreatedAt     time.Time  `db:"created_at"`
	WorkspaceName string     `db:"workspace_name"`
}

// Open reports whether the invitation can still be accepted at now.
func (i *UserInvite) Open(now time.Time) bool {
	return i.AcceptedAt == nil && i.RevokedAt == nil && i.ExpiresAt.After(now)
}

const userInviteCols = `i.id, i.workspace_id, i.email, i.role, i.invited_by, i.expires_at, i.accepted_at,
	i.revoked_at, i.created_at, w.name AS workspace_name`

// CreateUserInvite stores an invitation (ID, WorkspaceID, Email, Role,
// InvitedBy) with tokenHash, valid for ttl, revoking the workspace's open
// invitations to the same address: the newest link is the one that works.
// The token's hash is also written to the global look-up invite_tokens.
func (tx *Tx) CreateUserInvite(ctx context.Context, inv *UserInvite, tokenHash []byte, ttl time.Duration) error {
	_, err := tx.exec(ctx, `UPDATE user_invites SET revoked_at = now()
		WHERE workspace_id = $1 AND lower(email) = lower($2) AND accepted_at IS NULL AND revoked_at IS NULL`,
		inv.WorkspaceID, inv.Email)
	if err != nil {
		return fmt.Errorf("store: create user invite: %w", err)
	}
	err = tx.get(ctx, inv, `
		WITH i AS (
			INSERT INTO user_invites (id, workspace_id, email, role, token_hash, invited_by, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, now() + $7::float8 * interval '1 second')
			RETURNING *
		)
		SELECT `+userInviteCols+` FROM i JOIN workspaces w ON w.id = i.workspace_id`,
		inv.ID, inv.WorkspaceID, inv.Email, inv.Role, tokenHash, inv.InvitedBy, ttl.Seconds())
	if err != nil {
		return fmt.Errorf("store: create user invite: %w", err)
	}
	_, err = tx.exec(ctx, `INSERT INTO invite_tokens (token_hash, workspace, invite_id) VALUES ($1, $2, $3)`,
		tokenHash, inv.WorkspaceID, inv.ID)
	if err != nil {
		return fmt.Errorf("store: create user invite: %w", err)
	}
	return nil
}

// UserInviteByTokenHash finds an invitation by its token's SHA-256.
func (q Queries) UserInviteByTokenHash(ctx context.Context, hash []byte) (*UserInvite, error) {
	var inv UserInvite
	var at struct {
		Workspace string `db:"workspace"`
		InviteID  string `db:"invite_id"`
	}
	if err := q.get(ctx, &at, `SELECT workspace, invite_id FROM invite_tokens WHERE token_hash = $1`, hash); err != nil {
		return nil, fmt.Errorf("store: user invite: %w", err)
	}
	err := q.get(ctx, &inv, `SELECT `+userInviteCols+` FROM user_invites i JOIN workspaces w ON w.id = i.workspace_id
		WHERE i.workspace_id = $1 AND i.id = $2`, at.Workspace, at.InviteID)
	if err != nil {
		return nil, fmt.Errorf("store: user invite: %w", err)
	}
	return &inv, nil
}

// AcceptUserInvite marks an open invitation used; false when it was used,
// revoked or expired meanwhile.
func (tx *Tx) AcceptUserInvite(ctx context.Context, workspaceID, id string) (bool, error) {
	n, err := tx.exec(ctx, `UPDATE user_invites SET accepted_at = now()
		WHERE workspace_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > now()`, workspaceID, id)
	if err != nil {
		return false, fmt.Errorf("store: accept user invite: %w", err)
	}
	return n == 1, nil
}

// OpenUserInvites lists a workspace's invitations not yet accepted,
// revoked or expired, newest first.
func (q Queries) OpenUserInvites(ctx context.Context, workspaceID string) ([]UserInvite, error) {
	var rows []UserInvite
	err := q.sel(ctx, &rows, `SELECT `+userInviteCols+` FROM user_invites i JOIN workspaces w ON w.id = i.workspace_id
		WHERE i.workspace_id = $1 AND i.accepted_at IS NULL AND i.revoked_at IS NULL AND i.expires_at > now()
		ORDER BY i.created_at DESC, i.id DESC`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("store: open user invites: %w", err)
	}
	return rows, nil
}

// RevokeUserInvite revokes an open invitation of the workspace.
func (q Queries) RevokeUserInvite(ctx context.Context, workspaceID, id string) error {
	n, err := q.exec(ctx, `UPDATE user_invites SET revoked_at = now()
		WHERE workspace_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("store: revoke user invite: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: revoke user invite: %w", ErrNotFound)
	}
	return nil
}

// SetSessionFlash keeps a sealed one-time value of kind in a session,
// replacing any it held.
func (q Queries) SetSessionFlash(ctx context.Context, sessionID, kind string, sealed []byte) error {
	if _, err := q.exec(ctx, `UPDATE sessions SET flash_kind = $2, flash = $3 WHERE id = $1`, sessionID, kind, sealed); err != nil {
		return fmt.Errorf("store: set session flash: %w", err)
	}
	return nil
}

// TakeSessionFlash returns a session's one-time value of kind and removes
// it, so it is shown once; ErrNotFound when it holds none of that kind.
func (q Queries) TakeSessionFlash(ctx context.Context, sessionID, kind string) ([]byte, error) {
	var sealed []byte
	err := q.get(ctx, &sealed, `
		UPDATE sessions s SET flash_kind = NULL, flash = NULL
		FROM (SELECT id, flash FROM sessions WHERE id = $1 AND flash_kind = $2 FOR UPDATE) old
		WHERE s.id = old.id
		RETURNING old.flash`, sessionID, kind)
	if err != nil {
		return nil, fmt.Errorf("store: take session flash: %w", err)
	}
	return sealed, nil
}
