package store

import "context"

// ExecContext lets the external tests run a statement of their own in a
// transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (int64, error) {
	return tx.exec(ctx, query, args...)
}
