package store

import (
	"context"
	"fmt"
	"strings"
)

// The overview's roll-ups (migration 00012: daily_totals, daily_activity,
// daily_partner_earnings, monthly_partner_earnings) are kept by the
// statements that write what they count, in the same statement: a sale, a
// commission, a status change, a lead, a batch of clicks. So they are as
// transactional as the rows they sum, and a date range of the overview
// reads a few thousand rows, never the sales, commissions or clicks
// themselves.
//
// A writer contributes delta rows
//
//	(workspace_id, day, program_id, partner_id, currency, sales, sale_cents, status, n, cents)
//
// — status '' when the row counts a sale only — and statsCTEs adds them to
// every roll-up they touch, summed per key and in key order, so that two
// transactions lock the rows they share in the same order. In the sale
// pipeline this is the last lock taken (see tracking.TrackSale).

// statsSlots is how many rows share a program's day in daily_totals and
// daily_activity: concurrent sales of different partners do not queue on
// one row.
const statsSlots = 16

// slotOf is the roll-up slot of a partner id column or expression.
func slotOf(partner string) string {
	return fmt.Sprintf("(abs(hashtext(%s)) %% %d)::smallint", partner, statsSlots)
}

// utcDay is the roll-up day of a timestamp column or expression.
func utcDay(ts string) string { return `(` + ts + ` AT TIME ZONE 'UTC')::date` }

// statsCTEs are the data-modifying CTEs (to follow a comma in a WITH) that
// add deltas (a SELECT of delta rows) to the roll-ups. name prefixes the
// CTEs' names, so that one statement can hold several sets.
func statsCTEs(name, deltas string) string {
	d := name + "_d"
	earned := func(col string) string {
		return `coalesce(sum(` + col + `) FILTER (WHERE status IN ('pending', 'approved', 'paid')), 0)`
	}
	var b strings.Builder
	b.WriteString(d + ` (workspace_id, day, program_id, partner_id, currency, sales, sale_cents, status, n, cents) AS (` + deltas + `
		), ` + name + `_t AS (
			INSERT INTO daily_totals AS s (workspace_id, day, program_id, currency, slot, sales, sale_cents,
				pending_n, pending_cents, approved_n, approved_cents, paid_n, paid_cents, clawed_back_n, clawed_back_cents)
			SELECT workspace_id, day, program_id, currency, ` + slotOf("partner_id") + `, sum(sales), sum(sale_cents),`)
	for i, st := range []string{"pending", "approved", "paid", "clawed_back"} {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`
				coalesce(sum(n) FILTER (WHERE status = '` + st + `'), 0), coalesce(sum(cents) FILTER (WHERE status = '` + st + `'), 0)`)
	}
	b.WriteString(`
			FROM ` + d + ` GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
			ON CONFLICT (workspace_id, day, program_id, currency, slot) DO UPDATE SET
				sales = s.sales + EXCLUDED.sales, sale_cents = s.sale_cents + EXCLUDED.sale_cents,
				pending_n = s.pending_n + EXCLUDED.pending_n, pending_cents = s.pending_cents + EXCLUDED.pending_cents,
				approved_n = s.approved_n + EXCLUDED.approved_n, approved_cents = s.approved_cents + EXCLUDED.approved_cents,
				paid_n = s.paid_n + EXCLUDED.paid_n, paid_cents = s.paid_cents + EXCLUDED.paid_cents,
				clawed_back_n = s.clawed_back_n + EXCLUDED.clawed_back_n,
				clawed_back_cents = s.clawed_back_cents + EXCLUDED.clawed_back_cents
		), ` + name + `_pd AS (
			INSERT INTO daily_partner_earnings AS e (workspace_id, day, program_id, partner_id, currency, earned_n, earned_cents)
			SELECT workspace_id, day, program_id, partner_id, currency, ` + earned("n") + `, ` + earned("cents") + `
			FROM ` + d + ` GROUP BY 1, 2, 3, 4, 5 HAVING ` + earned("n") + ` <> 0 OR ` + earned("cents") + ` <> 0 ORDER BY 1, 2, 3, 4, 5
			ON CONFLICT (workspace_id, day, program_id, partner_id, currency) DO UPDATE SET
				earned_n = e.earned_n + EXCLUDED.earned_n, earned_cents = e.earned_cents + EXCLUDED.earned_cents
		), ` + name + `_pm AS (
			INSERT INTO monthly_partner_earnings AS e (workspace_id, month, program_id, partner_id, currency, earned_n, earned_cents)
			SELECT workspace_id, date_trunc('month', day)::date, program_id, partner_id, currency, ` + earned("n") + `, ` + earned("cents") + `
			FROM ` + d + ` GROUP BY 1, 2, 3, 4, 5 HAVING ` + earned("n") + ` <> 0 OR ` + earned("cents") + ` <> 0 ORDER BY 1, 2, 3, 4, 5
			ON CONFLICT (workspace_id, month, program_id, partner_id, currency) DO UPDATE SET
				earned_n = e.earned_n + EXCLUDED.earned_n, earned_cents = e.earned_cents + EXCLUDED.earned_cents
		)`)
	return b.String()
}

// commissionDeltas are the delta rows of new commissions in CTE table t
// (rows of commissions), each counted once under its status.
func commissionDeltas(t string) string {
	return `SELECT workspace_id, ` + utcDay("created_at") + `, program_id, partner_id, currency, 0, 0::bigint, status, 1, amount_cents FROM ` + t
}

// activityCTE is the data-modifying CTE (to follow a comma in a WITH) that
// adds (workspace_id, day, program_id, partner_id, clicks, leads) rows to
// daily_activity, summed per key, in key order.
func activityCTE(name, deltas string) string {
	return name + ` AS (
			INSERT INTO daily_activity AS a (workspace_id, day, program_id, slot, clicks, leads)
			SELECT workspace_id, day, program_id, ` + slotOf("partner_id") + `, sum(clicks), sum(leads)
			FROM (` + deltas + `) d (workspace_id, day, program_id, partner_id, clicks, leads)
			GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
			ON CONFLICT (workspace_id, day, program_id, slot) DO UPDATE SET
				clicks = a.clicks + EXCLUDED.clicks, leads = a.leads + EXCLUDED.leads
		)`
}

// statsTables are the roll-ups, for RebuildStats.
var statsTables = []string{"daily_totals", "daily_activity", "daily_partner_earnings", "monthly_partner_earnings"}

// RebuildStats recounts a workspace's roll-ups from its sales, commissions,
// leads and clicks: for rows written in bulk without them (partli seed).
func (s *Store) RebuildStats(ctx context.Context, workspaceID string) error {
	return s.InTx(ctx, func(tx *Tx) error {
		var qs []string
		for _, t := range statsTables {
			qs = append(qs, `DELETE FROM `+t+` WHERE workspace_id = $1`)
		}
		qs = append(qs,
			`WITH `+statsCTEs("st", `
				SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, currency, 1, amount_cents, '', 0, 0::bigint
				FROM events WHERE workspace_id = $1 AND kind = 'sale'
				UNION ALL `+commissionDeltas("commissions")+` WHERE workspace_id = $1`)+` SELECT 1`,
			`WITH `+activityCTE("a", `
				SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, 1, 0 FROM clicks WHERE workspace_id = $1
				UNION ALL
				SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, 0, 1 FROM events
				WHERE workspace_id = $1 AND kind = 'lead'`)+` SELECT 1`)
		for _, q := range qs {
			if _, err := tx.exec(ctx, q, workspaceID); err != nil {
				return fmt.Errorf("store: rebuild stats: %w", err)
			}
		}
		return nil
	})
}
