package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lib/pq"
)

// The balance ledger (migration 00010). Which change of a commission or a
// payout is an entry, and of how much, is decided by commission.LedgerEntry
// and the payout service; the store writes the entries and keeps
// partner_balances equal to their running sum.

// LedgerEntry is one change of a partner's balance in one currency.
type LedgerEntry struct {
	WorkspaceID     string    `db:"workspace_id"`
	ID              int64     `db:"id"`
	PartnerID       string    `db:"partner_id"`
	ProgramID       string    `db:"program_id"`
	Currency        string    `db:"currency"`
	Kind            string    `db:"kind"`
	AmountCents     int64     `db:"amount_cents"`
	Commissions     int64     `db:"commissions"`      // change in how many commissions the balance sums
	AdjustmentCents int64     `db:"adjustment_cents"` // change in its negative part
	CommissionID    *string   `db:"commission_id"`
	PayoutID        *string   `db:"payout_id"`
	Claim           *int      `db:"claim"`
	CreatedAt       time.Time `db:"created_at"`
}

// QueueLedger adds entries to the transaction's ledger; InTx writes them,
// and applies them to partner_balances, just before it commits (two
// statements: lock the balances, then record and add). So every balance
// row a transaction changes is locked last and in key order (no two
// transactions wait on each other's balances the other way round), and for
// as short a time as the commit takes.
func (tx *Tx) QueueLedger(entries ...LedgerEntry) {
	tx.ledger = append(tx.ledger, entries...)
}

// lockBalancesSQL makes sure a balance row exists for each key and locks
// them, in key order. The proposed rows are zeros (which pass the table's
// checks; a row of deltas would not), and the existing ones are locked by
// the no-op update.
const lockBalancesSQL = `
	INSERT INTO partner_balances AS b (workspace_id, partner_id, currency, program_id)
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS k(workspace_id, partner_id, currency, program_id)
	ORDER BY workspace_id, partner_id, currency
	ON CONFLICT (workspace_id, partner_id, currency) DO UPDATE SET updated_at = EXCLUDED.updated_at`

// recordLedgerSQL inserts the entries (unnest of arrays) and adds them up
// into their balances (locked by lockBalancesSQL): the table's checks then
// hold the result — a count below zero, or a balance without commissions,
// fails the transaction.
const recordLedgerSQL = `
	WITH e AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::bigint[],
			$8::bigint[], $9::text[], $10::text[], $11::int[])
			AS e(workspace_id, partner_id, program_id, currency, kind, amount_cents, commissions, adjustment_cents,
				commission_id, payout_id, claim)
	), ins AS (
		INSERT INTO ledger_entries (workspace_id, partner_id, program_id, currency, kind, amount_cents, commissions,
			adjustment_cents, commission_id, payout_id, claim)
		SELECT workspace_id, partner_id, program_id, currency, kind, amount_cents, commissions, adjustment_cents,
			nullif(commission_id, ''), nullif(payout_id, ''), nullif(claim, 0)
		FROM e
	), sums AS (
		SELECT workspace_id, partner_id, currency, sum(amount_cents) AS cents, sum(commissions) AS n, sum(adjustment_cents) AS adj
		FROM e GROUP BY workspace_id, partner_id, currency
	)
	UPDATE partner_balances b SET balance_cents = b.balance_cents + sums.cents, commissions = b.commissions + sums.n,
		adjustment_cents = b.adjustment_cents + sums.adj, updated_at = now()
	FROM sums WHERE b.workspace_id = sums.workspace_id AND b.partner_id = sums.partner_id AND b.currency = sums.currency`

// flushLedger writes the queued entries (QueueLedger).
func (tx *Tx) flushLedger(ctx context.Context) error {
	if len(tx.ledger) == 0 {
		return nil
	}
	es := slices.Clone(tx.ledger)
	key := func(e LedgerEntry) string { return e.WorkspaceID + "\x00" + e.PartnerID + "\x00" + e.Currency }
	slices.SortStableFunc(es, func(a, b LedgerEntry) int { return strings.Compare(key(a), key(b)) })
	var kw, kp, kc, kpr []string
	for i, e := range es {
		if i == 0 || key(es[i-1]) != key(e) {
			kw, kp, kc, kpr = append(kw, e.WorkspaceID), append(kp, e.PartnerID), append(kc, e.Currency), append(kpr, e.ProgramID)
		}
	}
	if _, err := tx.exec(ctx, lockBalancesSQL, pq.Array(kw), pq.Array(kp), pq.Array(kc), pq.Array(kpr)); err != nil {
		return fmt.Errorf("store: lock balances: %w", err)
	}
	n := len(es)
	ws, pa, pr, cur, kind := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	amount, count, adj := make([]int64, n), make([]int64, n), make([]int64, n)
	cm, po, claim := make([]string, n), make([]string, n), make([]int64, n)
	for i, e := range es {
		ws[i], pa[i], pr[i], cur[i], kind[i] = e.WorkspaceID, e.PartnerID, e.ProgramID, e.Currency, e.Kind
		amount[i], count[i], adj[i] = e.AmountCents, e.Commissions, e.AdjustmentCents
		if e.CommissionID != nil {
			cm[i] = *e.CommissionID
		}
		if e.PayoutID != nil {
			po[i] = *e.PayoutID
		}
		if e.Claim != nil {
			claim[i] = int64(*e.Claim)
		}
	}
	_, err := tx.exec(ctx, recordLedgerSQL, pq.Array(ws), pq.Array(pa), pq.Array(pr), pq.Array(cur), pq.Array(kind),
		pq.Array(amount), pq.Array(count), pq.Array(adj), pq.Array(cm), pq.Array(po), pq.Array(claim))
	if err != nil {
		return fmt.Errorf("store: record ledger: %w", err)
	}
	tx.ledger = nil
	return nil
}

// PartnerBalance is a partner's balance in one currency, as maintained.
type PartnerBalance struct {
	WorkspaceID     string    `db:"workspace_id"`
	PartnerID       string    `db:"partner_id"`
	Currency        string    `db:"currency"`
	ProgramID       string    `db:"program_id"`
	BalanceCents    int64     `db:"balance_cents"`
	Commissions     int64     `db:"commissions"`
	AdjustmentCents int64     `db:"adjustment_cents"`
	UpdatedAt       time.Time `db:"updated_at"`
}

// LedgerProblem is one disagreement the reconciliation found.
type LedgerProblem struct {
	WorkspaceID string `db:"workspace_id"`
	PartnerID   string `db:"partner_id"`
	Currency    string `db:"currency"`
	PayoutID    string `db:"payout_id"`
	What        string `db:"what"`
}

func (p LedgerProblem) String() string {
	subject := "partner " + p.PartnerID + " " + p.Currency
	if p.PayoutID != "" {
		subject = "payout " + p.PayoutID
	}
	return fmt.Sprintf("workspace %s, %s: %s", p.WorkspaceID, subject, p.What)
}

// checkLedgerSQL recomputes every balance of the workspace ($1; ” for all)
// three ways and reports where they differ:
//   - the maintained row of partner_balances;
//   - the sum of the ledger entries;
//   - the commissions and payouts themselves: what was earned (approved or
//     paid commissions, adjustments netted) minus what payouts took
//     (pending, processing and paid ones) minus what was marked paid outside
//     a payout — which is the approved commissions in no payout.
//
// It also checks each payout against the commissions it settles: a pending,
// processing or paid payout is the sum of its commissions (approved while
// it is not paid, paid once it is), a failed or canceled one has none.
const checkLedgerSQL = `
	WITH bal AS (
		SELECT workspace_id, partner_id, currency, balance_cents AS cents, commissions AS n, adjustment_cents AS adj
		FROM partner_balances WHERE $1 = '' OR workspace_id = $1
	), ent AS (
		SELECT workspace_id, partner_id, currency, sum(amount_cents) AS cents, sum(commissions) AS n, sum(adjustment_cents) AS adj
		FROM ledger_entries WHERE $1 = '' OR workspace_id = $1 GROUP BY 1, 2, 3
	), earned AS (
		SELECT workspace_id, partner_id, currency,
			sum(amount_cents) FILTER (WHERE status IN ('approved', 'paid')) AS earned,
			coalesce(sum(amount_cents) FILTER (WHERE status = 'paid' AND payout_id IS NULL), 0) AS outside,
			count(*) FILTER (WHERE status = 'approved' AND payout_id IS NULL) AS n,
			coalesce(sum(amount_cents) FILTER (WHERE status = 'approved' AND payout_id IS NULL AND amount_cents < 0), 0) AS adj
		FROM commissions WHERE ($1 = '' OR workspace_id = $1) AND status IN ('approved', 'paid') GROUP BY 1, 2, 3
	), taken AS (
		SELECT workspace_id, partner_id, currency, sum(amount_cents) AS cents
		FROM payouts WHERE ($1 = '' OR workspace_id = $1) AND status IN ('pending', 'processing', 'paid') GROUP BY 1, 2, 3
	), truth AS (
		SELECT e.workspace_id, e.partner_id, e.currency, e.earned - coalesce(t.cents, 0) - e.outside AS cents, e.n, e.adj
		FROM earned e LEFT JOIN taken t USING (workspace_id, partner_id, currency)
		UNION ALL
		SELECT t.workspace_id, t.partner_id, t.currency, -t.cents, 0, 0
		FROM taken t WHERE NOT EXISTS (SELECT 1 FROM earned e
			WHERE e.workspace_id = t.workspace_id AND e.partner_id = t.partner_id AND e.currency = t.currency)
	), keys AS (
		SELECT workspace_id, partner_id, currency FROM bal
		UNION SELECT workspace_id, partner_id, currency FROM ent
		UNION SELECT workspace_id, partner_id, currency FROM truth
	), balances AS (
		SELECT k.workspace_id, k.partner_id, k.currency, '' AS payout_id,
			format('balance %s (%s commissions, %s of adjustments), ledger entries add up to %s (%s, %s), commissions minus payouts give %s (%s, %s)',
				coalesce(b.cents, 0), coalesce(b.n, 0), coalesce(b.adj, 0),
				coalesce(e.cents, 0), coalesce(e.n, 0), coalesce(e.adj, 0),
				coalesce(t.cents, 0), coalesce(t.n, 0), coalesce(t.adj, 0)) AS what
		FROM keys k
		LEFT JOIN bal b USING (workspace_id, partner_id, currency)
		LEFT JOIN ent e USING (workspace_id, partner_id, currency)
		LEFT JOIN truth t USING (workspace_id, partner_id, currency)
		WHERE (coalesce(b.cents, 0), coalesce(b.n, 0), coalesce(b.adj, 0)) IS DISTINCT FROM (coalesce(e.cents, 0), coalesce(e.n, 0), coalesce(e.adj, 0))
		   OR (coalesce(b.cents, 0), coalesce(b.n, 0), coalesce(b.adj, 0)) IS DISTINCT FROM (coalesce(t.cents, 0), coalesce(t.n, 0), coalesce(t.adj, 0))
	), settled AS (
		SELECT workspace_id, payout_id, count(*) AS n, sum(amount_cents) AS cents,
			coalesce(sum(amount_cents) FILTER (WHERE amount_cents < 0), 0) AS adj,
			count(*) FILTER (WHERE status = 'approved') AS approved, count(*) FILTER (WHERE status = 'paid') AS paid
		FROM commissions WHERE ($1 = '' OR workspace_id = $1) AND payout_id IS NOT NULL GROUP BY 1, 2
	), payout_problems AS (
		SELECT po.workspace_id, po.partner_id, po.currency, po.id AS payout_id,
			format('%s payout of %s (%s commissions, %s of adjustments) settles %s commissions of %s (%s of adjustments; %s approved, %s paid)',
				po.status, po.amount_cents, po.commission_count, po.adjustment_cents,
				coalesce(s.n, 0), coalesce(s.cents, 0), coalesce(s.adj, 0), coalesce(s.approved, 0), coalesce(s.paid, 0)) AS what
		FROM payouts po LEFT JOIN settled s ON s.workspace_id = po.workspace_id AND s.payout_id = po.id
		WHERE ($1 = '' OR po.workspace_id = $1) AND CASE
			WHEN po.status IN ('failed', 'canceled') THEN s.n IS NOT NULL
			WHEN po.status = 'paid' THEN s.n IS NULL OR (po.amount_cents, po.commission_count, po.adjustment_cents, s.n) IS DISTINCT FROM (s.cents, s.n, s.adj, s.paid)
			ELSE s.n IS NULL OR (po.amount_cents, po.commission_count, po.adjustment_cents, s.n) IS DISTINCT FROM (s.cents, s.n, s.adj, s.approved)
		END
	)
	SELECT * FROM balances UNION ALL SELECT * FROM payout_problems
	ORDER BY workspace_id, partner_id, currency, payout_id`

// CheckLedger reconciles the balances of one workspace ("" for every
// workspace) with the ledger and with the commissions and payouts, and
// returns every disagreement; none means the books balance.
func (q Queries) CheckLedger(ctx context.Context, workspaceID string) ([]LedgerProblem, error) {
	var ps []LedgerProblem
	if err := q.sel(ctx, &ps, checkLedgerSQL, workspaceID); err != nil {
		return nil, fmt.Errorf("store: check ledger: %w", err)
	}
	return ps, nil
}
