package store

import (
	"context"
	"fmt"
)

// The overview's daily roll-ups (daily_stats, daily_activity; migration
// 00012) are kept by the statements that write what they count, in the same
// statement: a sale, a commission, a status change, a lead, a batch of
// clicks. So they are as transactional as the rows they sum, and a date
// range of the overview reads one row per partner and day (and currency),
// never the sales, commissions or clicks themselves.
//
// Each writer contributes delta rows
//
//	(workspace_id, day, program_id, partner_id, currency, sales, sale_cents, status, n, cents)
//
// — status '' when the row counts a sale only — and statsUpsert adds them,
// summed per key and in key order, so two transactions lock the roll-up rows
// they share in the same order. In the sale pipeline this is the last lock
// taken (see tracking.TrackSale's lock order).

// statsUpsert is the statement that adds deltas (a SELECT of delta rows) to
// daily_stats. Use it as a data-modifying CTE.
func statsUpsert(deltas string) string {
	return `
		INSERT INTO daily_stats AS s (workspace_id, day, program_id, partner_id, currency, sales, sale_cents,
			pending_n, pending_cents, approved_n, approved_cents, paid_n, paid_cents, clawed_back_n, clawed_back_cents)
		SELECT workspace_id, day, program_id, partner_id, currency, sum(sales), sum(sale_cents),` +
		statusSums("pending") + `,` + statusSums("approved") + `,` + statusSums("paid") + `,` + statusSums("clawed_back") + `
		FROM (` + deltas + `) d (workspace_id, day, program_id, partner_id, currency, sales, sale_cents, status, n, cents)
		GROUP BY workspace_id, day, program_id, partner_id, currency
		ORDER BY workspace_id, day, program_id, partner_id, currency
		ON CONFLICT (workspace_id, day, program_id, partner_id, currency) DO UPDATE SET
			sales = s.sales + EXCLUDED.sales, sale_cents = s.sale_cents + EXCLUDED.sale_cents,
			pending_n = s.pending_n + EXCLUDED.pending_n, pending_cents = s.pending_cents + EXCLUDED.pending_cents,
			approved_n = s.approved_n + EXCLUDED.approved_n, approved_cents = s.approved_cents + EXCLUDED.approved_cents,
			paid_n = s.paid_n + EXCLUDED.paid_n, paid_cents = s.paid_cents + EXCLUDED.paid_cents,
			clawed_back_n = s.clawed_back_n + EXCLUDED.clawed_back_n,
			clawed_back_cents = s.clawed_back_cents + EXCLUDED.clawed_back_cents`
}

func statusSums(status string) string {
	return `
			coalesce(sum(n) FILTER (WHERE status = '` + status + `'), 0),
			coalesce(sum(cents) FILTER (WHERE status = '` + status + `'), 0)`
}

// utcDay is the roll-up day of a timestamp column or expression.
func utcDay(ts string) string { return `(` + ts + ` AT TIME ZONE 'UTC')::date` }

// commissionDeltas are the delta rows of new commissions in CTE table t
// (rows of commissions), each counted once under its status.
func commissionDeltas(t string) string {
	return `SELECT workspace_id, ` + utcDay("created_at") + `, program_id, partner_id, currency, 0, 0::bigint, status, 1, amount_cents FROM ` + t
}

// activityUpsert is the statement that adds (workspace_id, day, program_id,
// partner_id, clicks, leads) rows to daily_activity, summed per key, in key
// order. Use it as a data-modifying CTE.
func activityUpsert(deltas string) string {
	return `
		INSERT INTO daily_activity AS a (workspace_id, day, program_id, partner_id, clicks, leads)
		SELECT workspace_id, day, program_id, partner_id, sum(clicks), sum(leads)
		FROM (` + deltas + `) d (workspace_id, day, program_id, partner_id, clicks, leads)
		GROUP BY workspace_id, day, program_id, partner_id
		ORDER BY workspace_id, day, program_id, partner_id
		ON CONFLICT (workspace_id, day, program_id, partner_id) DO UPDATE SET
			clicks = a.clicks + EXCLUDED.clicks, leads = a.leads + EXCLUDED.leads`
}

// RebuildStats recounts a workspace's roll-ups from its sales, commissions,
// leads and clicks: for rows written in bulk without them (partli seed).
func (s *Store) RebuildStats(ctx context.Context, workspaceID string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		for _, q := range []string{
			`DELETE FROM daily_stats WHERE workspace_id = $1`,
			`DELETE FROM daily_activity WHERE workspace_id = $1`,
			`WITH s AS (` + statsUpsert(`
				SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, currency, 1, amount_cents, '', 0, 0::bigint
				FROM events WHERE workspace_id = $1 AND kind = 'sale'
				UNION ALL `+commissionDeltas("commissions")+` WHERE workspace_id = $1`) + `) SELECT 1`,
			`WITH a AS (` + activityUpsert(`
				SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, 1, 0 FROM clicks WHERE workspace_id = $1
				UNION ALL
				SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, 0, 1 FROM events
				WHERE workspace_id = $1 AND kind = 'lead'`) + `) SELECT 1`,
		} {
			if _, err := tx.exec(ctx, q, workspaceID); err != nil {
				return fmt.Errorf("store: rebuild stats: %w", err)
			}
		}
		return nil
	})
}
