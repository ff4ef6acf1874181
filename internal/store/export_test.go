package store

import (
	"context"
	"fmt"
	"time"
)

// ExecContext lets the external tests run a statement of their own in a
// transaction.
func (tx *Tx) ExecContext(ctx context.Context, query string, args ...any) (int64, error) {
	return tx.exec(ctx, query, args...)
}

// BalancesOf returns a partner's balances, one per currency (those that sum
// no commission included, as zero), by currency.
func (q Queries) BalancesOf(ctx context.Context, workspaceID, partnerID string) ([]PartnerBalance, error) {
	var bs []PartnerBalance
	err := q.sel(ctx, &bs, `SELECT * FROM partner_balances WHERE workspace_id = $1 AND partner_id = $2 ORDER BY currency`,
		workspaceID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: balances of partner: %w", err)
	}
	return bs, nil
}

// CachedLink tells when the replica's cache loaded slug's link, if it holds it.
func (p *HotPath) CachedLink(slug string) (time.Time, bool) {
	p.links.mu.RLock()
	defer p.links.mu.RUnlock()
	e, ok := p.links.entries[slug]
	return e.at, ok
}

// LinkChangesRead is when the replica last read the change log.
func (p *HotPath) LinkChangesRead() time.Time {
	p.links.mu.RLock()
	defer p.links.mu.RUnlock()
	return p.links.lastOK
}

// IDTimeSQL is the SQL of an id's time characters for a timestamptz
// expression (idTimeSQL of idMillisSQL).
func IDTimeSQL(t string) string { return idTimeSQL(idMillisSQL(t)) }

// NewIDSQL is newIDSQL.
var NewIDSQL = newIDSQL
