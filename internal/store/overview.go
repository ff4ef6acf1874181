package store

import (
	"context"
	"fmt"
	"time"
)

// Amount is a sum of money in one currency.
type Amount struct {
	Currency string `db:"currency"`
	Count    int64  `db:"n"`
	Cents    int64  `db:"cents"`
}

// StatusAmount is a commission total for one status and currency.
type StatusAmount struct {
	Status string `db:"status"`
	Amount
}

// PartnerAmount is a partner's commission total in one currency.
type PartnerAmount struct {
	PartnerID string `db:"partner_id"`
	Name      string `db:"name"`
	Amount
}

// DayAmount is one day of the overview chart.
type DayAmount struct {
	Day             time.Time `db:"day"`
	SaleCents       int64     `db:"sale_cents"`
	CommissionCents int64     `db:"commission_cents"`
}

// Overview is the dashboard's first page.
type Overview struct {
	SalesThisMonth []Amount
	Commissions    []StatusAmount
	TopPartners    []PartnerAmount
	ChartCurrency  string
	Chart          []DayAmount
}

// Overview totals a workspace's month and the last 30 days. Sums are per
// currency: amounts in different currencies are never added together. Every
// query reads one index range of recent rows, never the whole history, so the
// page costs the same at a thousand commissions and at millions.
func (q Queries) Overview(ctx context.Context, workspaceID string, now time.Time) (*Overview, error) {
	o := &Overview{}
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	if err := q.sel(ctx, &o.SalesThisMonth, `
		SELECT currency, count(*) AS n, sum(amount_cents) AS cents FROM events
		WHERE workspace_id = $1 AND kind = 'sale' AND created_at >= $2
		GROUP BY currency ORDER BY cents DESC`, workspaceID, monthStart); err != nil {
		return nil, fmt.Errorf("store: overview sales: %w", err)
	}
	if err := q.sel(ctx, &o.Commissions, `
		SELECT status, currency, count(*) AS n, sum(amount_cents) AS cents FROM commissions
		WHERE workspace_id = $1 AND created_at >= $2
		GROUP BY status, currency
		ORDER BY currency, array_position(ARRAY['pending', 'approved', 'paid', 'clawed_back'], status)`, workspaceID, monthStart); err != nil {
		return nil, fmt.Errorf("store: overview commissions: %w", err)
	}
	if err := q.sel(ctx, &o.TopPartners, `
		SELECT c.partner_id, p.name, c.currency, count(*) AS n, sum(c.amount_cents) AS cents
		FROM commissions c JOIN partners p ON p.workspace_id = c.workspace_id AND p.id = c.partner_id
		WHERE c.workspace_id = $1 AND c.created_at >= $2 AND c.status <> 'clawed_back'
		GROUP BY c.partner_id, p.name, c.currency ORDER BY cents DESC LIMIT 5`, workspaceID, monthStart); err != nil {
		return nil, fmt.Errorf("store: overview top partners: %w", err)
	}
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -29)
	if err := q.get(ctx, &o.ChartCurrency, `
		SELECT coalesce((SELECT currency FROM events WHERE workspace_id = $1 AND kind = 'sale' AND created_at >= $2
			GROUP BY currency ORDER BY sum(amount_cents) DESC LIMIT 1), '')`, workspaceID, since); err != nil {
		return nil, fmt.Errorf("store: overview chart currency: %w", err)
	}
	if err := q.sel(ctx, &o.Chart, `
		WITH days AS (SELECT generate_series($2::date, $2::date + 29, interval '1 day')::date AS day),
		s AS (SELECT created_at::date AS day, sum(amount_cents) AS cents FROM events
			WHERE workspace_id = $1 AND kind = 'sale' AND currency = $3 AND created_at >= $2 GROUP BY 1),
		c AS (SELECT created_at::date AS day, sum(amount_cents) AS cents FROM commissions
			WHERE workspace_id = $1 AND currency = $3 AND created_at >= $2 AND status <> 'clawed_back' GROUP BY 1)
		SELECT days.day, coalesce(s.cents, 0) AS sale_cents, coalesce(c.cents, 0) AS commission_cents
		FROM days LEFT JOIN s USING (day) LEFT JOIN c USING (day) ORDER BY days.day`,
		workspaceID, since, o.ChartCurrency); err != nil {
		return nil, fmt.Errorf("store: overview chart: %w", err)
	}
	return o, nil
}
