package store

import (
	"context"
	"fmt"

	"github.com/lib/pq"
)

// SeedSales fills a workspace with n synthetic sales, their customers and
// commissions, spread over the last year across partners and all commission
// states — for measuring pages and queries at realistic sizes. It writes in
// set-based batches (generate_series), so millions of rows take minutes,
// not hours. Rows are tagged with external ids "seed-<batch>-<n>".
func (s *Store) SeedSales(ctx context.Context, workspaceID, programID, currency string, partnerIDs []string, n, batch int, progress func(done int)) error {
	if len(partnerIDs) == 0 {
		return fmt.Errorf("store: seed: no partners")
	}
	var runID string
	if err := s.get(ctx, &runID, `SELECT substr(md5(random()::text), 1, 8)`); err != nil {
		return err
	}
	for done := 0; done < n; done += batch {
		size := min(batch, n-done)
		err := s.InTx(ctx, func(tx *Tx) error {
			_, err := tx.exec(ctx, `
				WITH g AS (
					SELECT i, $4::text[] AS partners,
						now() - (random() * interval '365 days') AS at,
						(500 + floor(random() * 20000))::bigint AS amount
					FROM generate_series(1, $5::int) AS i
				), rows AS (
					SELECT i, at, amount, partners[1 + (i % array_length(partners, 1))] AS partner_id,
						'seed-' || $6 || '-' || $7::int || '-' || i AS ext,
						CASE WHEN i % 10 < 4 THEN 'pending' WHEN i % 10 < 7 THEN 'approved'
							WHEN i % 10 < 9 THEN 'paid' ELSE 'clawed_back' END AS drawn
					FROM g
				), rows2 AS (
					-- A commission past its holding period is no longer pending.
					SELECT *, CASE WHEN drawn = 'pending' AND at < now() - interval '30 days' THEN 'approved' ELSE drawn END AS status
					FROM rows
				), cu AS (
					INSERT INTO customers (id, workspace_id, external_id, program_id, partner_id, created_at, updated_at)
					SELECT 'cus_' || ext, $1, ext, $2, partner_id, at, at FROM rows2
				), ev AS (
					INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id,
						amount_cents, currency, event_name, occurred_at, created_at)
					SELECT 'sale_' || ext, $1, 'sale', ext, 'cus_' || ext, $2, partner_id, amount, $3, 'sale', at, at FROM rows2
				), cm AS (
					INSERT INTO commissions (id, workspace_id, program_id, partner_id, customer_id, event_id, type,
						amount_cents, currency, status, payable_at, reward_type, reward_percent_bp, reward_interval,
						sale_amount_cents, occurred_at, created_at, updated_at)
					SELECT 'cm_' || ext, $1, $2, partner_id, 'cus_' || ext, 'sale_' || ext, 'sale',
						greatest(1, amount / 5), $3, status, at + interval '30 days', 'percentage', 2000, 'one_time',
						amount, at, at, at
					FROM rows2
				), le AS (
					-- The ledger as the commissions' lives would have written it:
					-- each approved or paid one entered the balance; the paid
					-- ones (marked paid by hand, there are no payouts) left it.
					INSERT INTO ledger_entries (workspace_id, partner_id, program_id, currency, kind, amount_cents,
						commissions, adjustment_cents, commission_id, created_at)
					SELECT $1, partner_id, $2, $3, 'approval', greatest(1, amount / 5), 1, 0, 'cm_' || ext, at + interval '30 days'
					FROM rows2 WHERE status IN ('approved', 'paid')
					UNION ALL
					SELECT $1, partner_id, $2, $3, 'paid_outside', -greatest(1, amount / 5), -1, 0, 'cm_' || ext, at + interval '31 days'
					FROM rows2 WHERE status = 'paid'
				)
				INSERT INTO partner_balances AS b (workspace_id, partner_id, currency, program_id, balance_cents, commissions)
				SELECT $1, partner_id, $3, $2, sum(greatest(1, amount / 5)), count(*)
				FROM rows2 WHERE status = 'approved' GROUP BY partner_id ORDER BY partner_id
				ON CONFLICT (workspace_id, partner_id, currency) DO UPDATE SET
					balance_cents = b.balance_cents + EXCLUDED.balance_cents,
					commissions = b.commissions + EXCLUDED.commissions, updated_at = EXCLUDED.updated_at`,
				workspaceID, programID, currency, pq.Array(partnerIDs), size, runID, done)
			return err
		})
		if err != nil {
			return fmt.Errorf("store: seed sales: %w", err)
		}
		if progress != nil {
			progress(done + size)
		}
	}
	// The roll-ups of the overview, recounted once for the whole seed.
	if err := s.RebuildStats(ctx, workspaceID); err != nil {
		return err
	}
	_, err := s.exec(ctx, `ANALYZE customers, events, commissions, daily_totals, daily_partner_earnings, monthly_partner_earnings, ledger_entries, partner_balances`)
	return err
}
