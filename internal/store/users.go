package store

import (
	"context"
	"fmt"
	"time"
)

// RecordLoginFailure counts a failed sign-in; at maxFailures the account is
// locked until now+lockFor and the count starts again.
func (q Queries) RecordLoginFailure(ctx context.Context, table, id string, maxFailures int, lockFor time.Duration) error {
	if table != "users" && table != "partner_accounts" {
		return fmt.Errorf("store: login failure: unknown table %q", table)
	}
	_, err := q.exec(ctx, `
		UPDATE `+table+` SET
			failed_logins = CASE WHEN failed_logins + 1 >= $2 THEN 0 ELSE failed_logins + 1 END,
			locked_until  = CASE WHEN failed_logins + 1 >= $2 THEN now() + $3 * interval '1 second' ELSE locked_until END
		WHERE id = $1`, id, maxFailures, lockFor.Seconds())
	if err != nil {
		return fmt.Errorf("store: login failure: %w", err)
	}
	return nil
}

// ResetLoginFailures clears the failure count after a successful sign-in.
func (q Queries) ResetLoginFailures(ctx context.Context, table, id string) error {
	if table != "users" && table != "partner_accounts" {
		return fmt.Errorf("store: login reset: unknown table %q", table)
	}
	_, err := q.exec(ctx, `UPDATE `+table+` SET failed_logins = 0, locked_until = NULL WHERE id = $1`, id)
	return err
}

// ListUsers lists a workspace's dashboard users.
func (q Queries) ListUsers(ctx context.Context, workspaceID string) ([]User, error) {
	var us []User
	err := q.sel(ctx, &us, `SELECT * FROM users WHERE workspace_id = $1 ORDER BY created_at, id`, workspaceID)
	return us, err
}
