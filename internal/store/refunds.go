package store

import (
	"context"
	"fmt"
	"sort"
)

// Refunds: the sale row carries how much of it was refunded
// (events.refunded_cents, never more than the sale by a CHECK); a refund
// locks the sale, then its commissions, so refunds of one sale take turns.

// LockSaleByExternalID reads a sale of the workspace by the merchant's
// dedupe key and locks it until the transaction ends.
func (tx *Tx) LockSaleByExternalID(ctx context.Context, workspaceID, externalID string) (*Sale, error) {
	var s Sale
	err := tx.get(ctx, &s, saleSelect+`
		WHERE e.workspace_id = $1 AND e.kind = 'sale' AND e.external_id = $2 FOR UPDATE OF e`, workspaceID, externalID)
	if err != nil {
		return nil, fmt.Errorf("store: lock sale: %w", err)
	}
	return &s, nil
}

// SetRefunded records the sale's refunded total.
func (tx *Tx) SetRefunded(ctx context.Context, workspaceID, saleID string, refundedCents int64) error {
	n, err := tx.exec(ctx, `UPDATE events SET refunded_cents = $3
		WHERE workspace_id = $1 AND id = $2 AND kind = 'sale'`, workspaceID, saleID, refundedCents)
	if err != nil {
		return fmt.Errorf("store: set refunded: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: set refunded: %w", ErrNotFound)
	}
	return nil
}

// LockCommissionsOfEvent reads a sale's commission and its adjustments and
// locks them until the transaction ends, in id order (rows are locked as
// they are returned, so two refunds never lock them in opposite orders).
// The result is oldest first.
func (tx *Tx) LockCommissionsOfEvent(ctx context.Context, workspaceID, eventID string) ([]Commission, error) {
	var cs []Commission
	err := tx.sel(ctx, &cs, commissionSelect+`
		WHERE c.workspace_id = $1 AND c.event_id = $2 ORDER BY c.id FOR UPDATE OF c`, workspaceID, eventID)
	if err != nil {
		return nil, fmt.Errorf("store: lock commissions of event: %w", err)
	}
	sort.SliceStable(cs, func(i, j int) bool {
		if !cs[i].CreatedAt.Equal(cs[j].CreatedAt) {
			return cs[i].CreatedAt.Before(cs[j].CreatedAt)
		}
		return cs[i].ID < cs[j].ID
	})
	return cs, nil
}

// ClaimRefundKey records the merchant's refund id for a sale; false when it
// was recorded before (a repeat, which must change nothing).
func (tx *Tx) ClaimRefundKey(ctx context.Context, workspaceID, saleID, refundID string, amountCents int64) (bool, error) {
	n, err := tx.exec(ctx, `INSERT INTO refund_keys (workspace_id, event_id, refund_id, amount_cents)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, workspaceID, saleID, refundID, amountCents)
	if err != nil {
		return false, fmt.Errorf("store: claim refund key: %w", err)
	}
	return n == 1, nil
}
