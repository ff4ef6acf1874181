package store

import (
	"context"
	"fmt"
	"time"
)

// Session is a signed-in browser: of a dashboard user (UserID) or of a
// partner-portal account (AccountID), never both. Its cookie carries a
// random token; the row keeps only the token's SHA-256.
type Session struct {
	ID     string  `db:"id"`
	UserID *string `db:"user_id"`
	// Workspace is the user's workspace (nil for a portal account's).
	Workspace *string   `db:"workspace"`
	AccountID *string   `db:"account_id"`
	CreatedAt time.Time `db:"created_at"`
	SeenAt    time.Time `db:"seen_at"`
	// ExpiresAt is when the session ends if unused: the last use plus the
	// idle timeout, never past EndsAt, the absolute end.
	ExpiresAt time.Time `db:"expires_at"`
	EndsAt    time.Time `db:"ends_at"`
}

const sessionColumns = `id, user_id, workspace, account_id, created_at, seen_at, expires_at, ends_at`

// CreateSession stores a new session for s.UserID (of s.Workspace) or s.AccountID, alive
// for idle from now and at most lifetime; it fills in the times. The
// database clock sets them, as it is the clock that checks them.
func (q Queries) CreateSession(ctx context.Context, s *Session, tokenHash []byte, idle, lifetime time.Duration) error {
	err := q.get(ctx, s, `INSERT INTO sessions (id, token_hash, user_id, workspace, account_id, expires_at, ends_at)
		VALUES ($1, $2, $3, $4, $5, now() + least($6::float8, $7::float8) * interval '1 second', now() + $7::float8 * interval '1 second')
		RETURNING `+sessionColumns, s.ID, tokenHash, s.UserID, s.Workspace, s.AccountID, idle.Seconds(), lifetime.Seconds())
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	return nil
}

// LiveSession returns the session whose token has hash, unless it has
// expired or was ended (ErrNotFound).
func (q Queries) LiveSession(ctx context.Context, tokenHash []byte) (*Session, error) {
	var s Session
	if err := q.get(ctx, &s, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = $1 AND expires_at > now()`, tokenHash); err != nil {
		return nil, fmt.Errorf("store: session: %w", err)
	}
	return &s, nil
}

// TouchSession records a use of a live session: it stays alive for idle
// from now, up to its absolute end. ErrNotFound when it has ended meanwhile.
func (q Queries) TouchSession(ctx context.Context, s *Session, idle time.Duration) error {
	err := q.get(ctx, s, `UPDATE sessions SET seen_at = now(), expires_at = least(ends_at, now() + $2::float8 * interval '1 second')
		WHERE id = $1 AND expires_at > now() RETURNING `+sessionColumns, s.ID, idle.Seconds())
	if err != nil {
		return fmt.Errorf("store: touch session: %w", err)
	}
	return nil
}

// EndSession ends one session (signing out of one browser).
func (q Queries) EndSession(ctx context.Context, id string) error {
	if _, err := q.exec(ctx, `DELETE FROM sessions WHERE id = $1`, id); err != nil {
		return fmt.Errorf("store: end session: %w", err)
	}
	return nil
}

// EndUserSessions ends every session of a dashboard user but exceptID
// (empty: all of them), on every replica at once. Call it whenever what a
// session stood for changes: sign-out, a password set or reset, a role
// change, the user's removal.
func (q Queries) EndUserSessions(ctx context.Context, userID, exceptID string) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, userID, exceptID)
	if err != nil {
		return 0, fmt.Errorf("store: end user sessions: %w", err)
	}
	return n, nil
}

// EndPartnerSessions is EndUserSessions for a partner-portal account.
func (q Queries) EndPartnerSessions(ctx context.Context, accountID, exceptID string) (int64, error) {
	n, err := q.exec(ctx, `DELETE FROM sessions WHERE account_id = $1 AND id <> $2`, accountID, exceptID)
	if err != nil {
		return 0, fmt.Errorf("store: end partner sessions: %w", err)
	}
	return n, nil
}

// DeleteDeadSessions removes up to limit sessions that have expired. Each
// sign-in calls it, which keeps the table about as large as the number of
// live sessions without a background job.
func (q Queries) DeleteDeadSessions(ctx context.Context, limit int) error {
	_, err := q.exec(ctx, `DELETE FROM sessions WHERE id IN (
		SELECT id FROM sessions WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`, limit)
	if err != nil {
		return fmt.Errorf("store: delete dead sessions: %w", err)
	}
	return nil
}
