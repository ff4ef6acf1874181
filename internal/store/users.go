package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// SignInOf is who signs in: a dashboard user (Workspace and ID) or a
// portal account (Account).
type SignInOf struct {
	Workspace, ID string
	Account       string
}

// row is the table and the WHERE clause (its parameters numbered from
// $first) of who's row.
func (w SignInOf) row(first int) (table, where string, args []any, err error) {
	switch {
	case w.Account != "" && w.ID == "":
		return "partner_accounts", fmt.Sprintf("id = $%d", first), []any{w.Account}, nil
	case w.Account == "" && w.ID != "" && w.Workspace != "":
		return "users", fmt.Sprintf("workspace_id = $%d AND id = $%d", first, first+1), []any{w.Workspace, w.ID}, nil
	}
	return "", "", nil, errors.New("no user (with its workspace) or account")
}

// ClaimSignInAttempt counts a sign-in attempt on a row of users or
// partner_accounts before its password is checked, and reports whether this
// attempt may be checked. The count and the decision are one UPDATE: the
// row lock orders concurrent attempts, so of any number sent at once at
// most maxFailures are checked. The attempt that reaches maxFailures locks
// the account until now+lockFor; later ones are refused unchecked (and
// told lockedUntil). A lock that has run out starts a new count. A right
// password clears the count (ResetSignInAttempts).
func (q Queries) ClaimSignInAttempt(ctx context.Context, who SignInOf, maxFailures int, lockFor time.Duration) (ok bool, lockedUntil *time.Time, err error) {
	table, where, args, err := who.row(4)
	if err != nil {
		return false, nil, fmt.Errorf("store: sign-in attempt: %w", err)
	}
	now := time.Now().UTC()
	var row struct {
		OK          bool       `db:"ok"`
		LockedUntil *time.Time `db:"locked_until"`
	}
	// In SET, the columns hold the row as it was before this UPDATE (its
	// newest version: a concurrent attempt's UPDATE is waited for and then
	// seen). failed_logins becomes this attempt's number in the count, one
	// past the limit at most, so RETURNING can tell: checked iff within it.
	// The time, $2, and the end of a lock starting now, $3, are this
	// process's: Citus takes no now() inside a CASE, nor timestamptz
	// arithmetic (STABLE).
	const n = `CASE WHEN locked_until <= $2::timestamptz THEN 1 ELSE least(failed_logins + 1, $1::int + 1) END`
	err = q.get(ctx, &row, `
		UPDATE `+table+` SET
			failed_logins = `+n+`,
			locked_until  = CASE WHEN locked_until > $2::timestamptz THEN locked_until
			                     WHEN `+n+` >= $1::int THEN $3::timestamptz END
		WHERE `+where+`
		RETURNING failed_logins <= $1::int AS ok, locked_until`, append([]any{maxFailures, now, now.Add(lockFor)}, args...)...)
	if err != nil {
		return false, nil, fmt.Errorf("store: sign-in attempt: %w", err)
	}
	return row.OK, row.LockedUntil, nil
}

// ResetSignInAttempts clears the count after a right password.
func (q Queries) ResetSignInAttempts(ctx context.Context, who SignInOf) error {
	table, where, args, err := who.row(1)
	if err != nil {
		return fmt.Errorf("store: sign-in reset: %w", err)
	}
	if _, err := q.exec(ctx, `UPDATE `+table+` SET failed_logins = 0, locked_until = NULL WHERE `+where, args...); err != nil {
		return fmt.Errorf("store: sign-in reset: %w", err)
	}
	return nil
}

// ListUsers lists a workspace's dashboard users.
func (q Queries) ListUsers(ctx context.Context, workspaceID string) ([]User, error) {
	var us []User
	err := q.sel(ctx, &us, `SELECT * FROM users WHERE workspace_id = $1 ORDER BY created_at, id`, workspaceID)
	return us, err
}

// ErrLastOwner refuses a change that would leave a workspace without an owner.
var ErrLastOwner = errors.New("store: the workspace's last owner")

// SetUserRole gives a user of the workspace another role and ends the
// user's sessions, so the new role holds from the next request on. The
// workspace's owners are locked while it runs: two owners demoting each
// other at once cannot leave it with none (ErrLastOwner).
func (s *Store) SetUserRole(ctx context.Context, workspaceID, userID, role string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		if err := tx.keepAnOwner(ctx, workspaceID, userID, role == "owner"); err != nil {
			return err
		}
		n, err := tx.exec(ctx, `UPDATE users SET role = $3 WHERE workspace_id = $1 AND id = $2`, workspaceID, userID, role)
		if err != nil {
			return fmt.Errorf("store: set user role: %w", err)
		}
		if n == 0 {
			return ErrNotFound
		}
		_, err = tx.EndUserSessions(ctx, userID, "")
		return err
	})
}

// RemoveUser deletes a user of the workspace, its sign-in email and mailed
// links, and ends the user's sessions
// (ErrLastOwner if that would leave the workspace without an owner).
func (s *Store) RemoveUser(ctx context.Context, workspaceID, userID string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		if err := tx.keepAnOwner(ctx, workspaceID, userID, false); err != nil {
			return err
		}
		if _, err := tx.EndUserSessions(ctx, userID, ""); err != nil {
			return err
		}
		n, err := tx.exec(ctx, `DELETE FROM users WHERE workspace_id = $1 AND id = $2`, workspaceID, userID)
		if err != nil {
			return fmt.Errorf("store: remove user: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM user_emails WHERE workspace = $1 AND user_id = $2`, workspaceID, userID); err != nil {
			return fmt.Errorf("store: remove user: %w", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM account_tokens WHERE workspace = $1 AND user_id = $2`, workspaceID, userID); err != nil {
			return fmt.Errorf("store: remove user: %w", err)
		}
		if n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// keepAnOwner locks the workspace's owners and refuses (ErrLastOwner) when
// userID is the only one and would stop being an owner.
func (tx *Tx) keepAnOwner(ctx context.Context, workspaceID, userID string, staysOwner bool) error {
	var owners []string
	if err := tx.sel(ctx, &owners, `SELECT id FROM users WHERE workspace_id = $1 AND role = 'owner' ORDER BY id FOR UPDATE`, workspaceID); err != nil {
		return fmt.Errorf("store: lock owners: %w", err)
	}
	if staysOwner || len(owners) != 1 || owners[0] != userID {
		return nil
	}
	return ErrLastOwner
}
