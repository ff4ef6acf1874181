package store

import (
	"context"
	"fmt"
	"time"
)

// CodeReport is what one code brought in: sales and leads it attributed,
// and per currency the amounts of those sales and the commissions they
// earned (not clawed back, net of adjustments).
type CodeReport struct {
	CodeID      string     `db:"id"`
	Code        string     `db:"code"`
	PartnerID   string     `db:"partner_id"`
	PartnerName string     `db:"partner_name"`
	RetiredAt   *time.Time `db:"retired_at"`
	Sales       int64      `db:"sales"`
	Leads       int64      `db:"leads"`
	Amounts     []CodeAmount
}

// CodeAmount is one currency of a code's report.
type CodeAmount struct {
	CodeID          string `db:"code_id"`
	Currency        string `db:"currency"`
	SalesCents      int64  `db:"sales_cents"`
	CommissionCents int64  `db:"commission_cents"`
}

// CodeReports reports on the codes of a program (programID set) or of a
// partner (partnerID set), the busiest first.
func (q Queries) CodeReports(ctx context.Context, workspaceID, programID, partnerID string) ([]CodeReport, error) {
	var rs []CodeReport
	err := q.sel(ctx, &rs, `
		SELECT co.id, co.code, co.partner_id, pa.name AS partner_name, co.retired_at,
			(SELECT count(*) FROM events e WHERE e.workspace_id = co.workspace_id AND e.code_id = co.id AND e.kind = 'sale') AS sales,
			(SELECT count(*) FROM events e WHERE e.workspace_id = co.workspace_id AND e.code_id = co.id AND e.kind = 'lead') AS leads
		FROM partner_codes co JOIN partners pa ON pa.workspace_id = co.workspace_id AND pa.id = co.partner_id
		WHERE co.workspace_id = $1 AND ($2 = '' OR co.program_id = $2) AND ($3 = '' OR co.partner_id = $3)
		ORDER BY sales DESC, leads DESC, co.created_at DESC, co.id`, workspaceID, programID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: code reports: %w", err)
	}
	if len(rs) == 0 {
		return rs, nil
	}
	var amounts []CodeAmount
	err = q.sel(ctx, &amounts, `
		WITH ev AS (
			SELECT e.id, e.code_id, e.currency, e.amount_cents FROM events e
			JOIN partner_codes co ON co.workspace_id = e.workspace_id AND co.id = e.code_id
			WHERE e.workspace_id = $1 AND e.code_id IS NOT NULL AND e.kind = 'sale'
			  AND ($2 = '' OR co.program_id = $2) AND ($3 = '' OR co.partner_id = $3)
		), sales AS (
			SELECT code_id, currency, sum(amount_cents) AS cents FROM ev GROUP BY code_id, currency
		), earned AS (
			SELECT ev.code_id, c.currency, sum(c.amount_cents) AS cents
			FROM ev JOIN commissions c ON c.workspace_id = $1 AND c.event_id = ev.id AND c.status <> 'clawed_back'
			GROUP BY ev.code_id, c.currency
		)
		SELECT coalesce(s.code_id, e.code_id) AS code_id, coalesce(s.currency, e.currency) AS currency,
			coalesce(s.cents, 0) AS sales_cents, coalesce(e.cents, 0) AS commission_cents
		FROM sales s FULL JOIN earned e ON e.code_id = s.code_id AND e.currency = s.currency
		ORDER BY 1, 2`, workspaceID, programID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: code reports: %w", err)
	}
	idx := make(map[string]int, len(rs))
	for i, r := range rs {
		idx[r.CodeID] = i
	}
	for _, a := range amounts {
		if i, ok := idx[a.CodeID]; ok {
			rs[i].Amounts = append(rs[i].Amounts, a)
		}
	}
	return rs, nil
}
