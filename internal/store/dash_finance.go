package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lib/pq"
)

// The finance pages of the dashboard read sales and commissions with the
// names people recognise (partner, customer) joined in, and with filters the
// JSON API does not have (date ranges, several partners at once).

// PartnerOption is a partner as a filter shows it.
type PartnerOption struct {
	ID        string `db:"id"`
	ProgramID string `db:"program_id"`
	Name      string `db:"name"`
	Email     string `db:"email"`
	Slug      string `db:"slug"`
}

// MatchPartners finds up to limit partners of the workspace (of programID
// when set) that text names: exactly, by id or link slug, or by email in any
// case; else, when nothing matches exactly, those whose name, email or slug
// contains text in any case ("maya" finds Maya Blogger). Exact reports
// which of the two it was.
func (q Queries) MatchPartners(ctx context.Context, workspaceID, programID, text string, limit int) (ps []PartnerOption, exact bool, err error) {
	var rows []struct {
		PartnerOption
		Exact bool `db:"exact"`
	}
	err = q.sel(ctx, &rows, `
		WITH mine AS (
			SELECT id, program_id, name, email, slug, created_at FROM partners
			WHERE workspace_id = $1 AND ($2 = '' OR program_id = $2)
		), exact AS (
			SELECT * FROM mine WHERE id = $3 OR slug = lower($3) OR lower(email) = lower($3)
		)
		SELECT id, program_id, name, email, slug, exact FROM (
			SELECT *, true AS exact FROM exact
			UNION ALL
			SELECT *, false FROM mine
			WHERE NOT EXISTS (SELECT 1 FROM exact)
			  AND (name ILIKE $4 ESCAPE '\' OR email ILIKE $4 ESCAPE '\' OR slug ILIKE $4 ESCAPE '\')
		) m
		ORDER BY name, created_at, id LIMIT $5`, workspaceID, programID, text, "%"+likeEscape(text)+"%", limit)
	if err != nil {
		return nil, false, fmt.Errorf("store: match partners: %w", err)
	}
	ps = make([]PartnerOption, len(rows))
	for i, r := range rows {
		ps[i], exact = r.PartnerOption, r.Exact
	}
	return ps, exact, nil
}

// likeEscape makes text match itself in a LIKE pattern with ESCAPE '\'.
func likeEscape(text string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(text)
}

// SalesQuery narrows the dashboard's sales list. PartnerIDs nil means any
// partner; From is inclusive and To exclusive, both on created_at.
type SalesQuery struct {
	ProgramID          string
	PartnerIDs         []string
	CustomerExternalID string
	From, To           *time.Time
}

// SaleRow is a sale with its partner's name.
type SaleRow struct {
	Sale
	PartnerName string `db:"partner_name"`
}

const saleRowSelect = `SELECT e.id, e.workspace_id, e.external_id, e.customer_id, cu.external_id AS customer_external_id,
	e.program_id, e.partner_id, e.click_id, e.amount_cents, e.refunded_cents, e.currency, e.event_name,
	coalesce(e.metadata, 'null'::jsonb) AS metadata, e.occurred_at, e.created_at, pa.name AS partner_name, ` + saleCodeCols + `
	FROM events e
	LEFT JOIN customers cu ON cu.workspace_id = e.workspace_id AND cu.id = e.customer_id
	JOIN partners pa ON pa.workspace_id = e.workspace_id AND pa.id = e.partner_id
	` + saleCodeJoin

// ListSaleRows lists a workspace's sales newest first, one keyset page.
// Every filter has an index that starts with (workspace_id, …, created_at DESC).
func (q Queries) ListSaleRows(ctx context.Context, workspaceID string, f SalesQuery, page Page) ([]SaleRow, *string, error) {
	t, id := page.cursorArgs()
	var rows []SaleRow
	err := q.sel(ctx, &rows, saleRowSelect+`
		WHERE e.workspace_id = $1 AND e.kind = 'sale'
		  AND ($2 = '' OR e.program_id = $2)
		  AND (`+partnerIn("e", 3)+`)
		  AND ($4 = '' OR e.customer_id = (SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $4))
		  AND ($5::timestamptz IS NULL OR e.created_at >= $5)
		  AND ($6::timestamptz IS NULL OR e.created_at < $6)
		  AND ($7::timestamptz IS NULL OR (e.created_at, e.id) < ($7, $8))
		ORDER BY e.created_at DESC, e.id DESC LIMIT $9`,
		workspaceID, f.ProgramID, partnerIDs(f.PartnerIDs), f.CustomerExternalID, f.From, f.To, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list sale rows: %w", err)
	}
	rows, next := trim(page, rows, func(s SaleRow) Cursor { return Cursor{s.CreatedAt, s.ID} })
	return rows, next, nil
}

// partnerIn is the condition "partner in the optional set $n" on table
// alias t. Plans are made with the parameters' values, so the constant
// parts fold away: one partner becomes an equality on the partner index
// (which keeps its created_at order), several an = ANY.
func partnerIn(t string, n int) string {
	p := fmt.Sprintf("$%d::text[]", n)
	return fmt.Sprintf("%[2]s IS NULL OR (cardinality(%[2]s) = 1 AND %[1]s.partner_id = (%[2]s)[1]) OR (cardinality(%[2]s) > 1 AND %[1]s.partner_id = ANY(%[2]s))", t, p)
}

// partnerIDs is the SQL value of an optional partner set: NULL for "any".
func partnerIDs(ids []string) any {
	if ids == nil {
		return nil
	}
	return pq.Array(ids)
}

// CommissionsQuery narrows the dashboard's commission list. PartnerIDs nil
// means any partner.
type CommissionsQuery struct {
	ProgramID          string
	PartnerIDs         []string
	Status             string
	CustomerExternalID string
}

// CommissionRow is a commission as the finance pages list it: with its
// partner's name and whether a paid commission was already clawed back.
type CommissionRow struct {
	Commission
	PartnerName  string  `db:"partner_name"`
	PartnerEmail string  `db:"partner_email"`
	ProgramName  string  `db:"program_name"`
	Adjusted     bool    `db:"adjusted"`
	PayoutStatus *string `db:"payout_status"`
}

// IsAdjustment reports whether the row is a negative adjustment of another commission.
func (r CommissionRow) IsAdjustment() bool { return r.AdjustsID != nil }

const commissionRowSelect = `SELECT c.*, cu.external_id AS customer_external_id,
	pa.name AS partner_name, pa.email AS partner_email, pr.name AS program_name,
	EXISTS (SELECT 1 FROM commissions a WHERE a.workspace_id = c.workspace_id AND a.adjusts_id = c.id) AS adjusted,
	po.status AS payout_status
	FROM commissions c
	LEFT JOIN customers cu ON cu.workspace_id = c.workspace_id AND cu.id = c.customer_id
	JOIN partners pa ON pa.workspace_id = c.workspace_id AND pa.id = c.partner_id
	JOIN programs pr ON pr.workspace_id = c.workspace_id AND pr.id = c.program_id
	LEFT JOIN payouts po ON po.workspace_id = c.workspace_id AND po.id = c.payout_id`

// ListCommissionRows lists a workspace's commissions newest first, one keyset page.
func (q Queries) ListCommissionRows(ctx context.Context, workspaceID string, f CommissionsQuery, page Page) ([]CommissionRow, *string, error) {
	t, id := page.cursorArgs()
	var rows []CommissionRow
	err := q.sel(ctx, &rows, commissionRowSelect+`
		WHERE c.workspace_id = $1
		  AND ($2 = '' OR c.program_id = $2)
		  AND (`+partnerIn("c", 3)+`)
		  AND ($4 = '' OR c.status = $4)
		  AND ($5 = '' OR c.customer_id = (SELECT id FROM customers WHERE workspace_id = $1 AND external_id = $5))
		  AND ($6::timestamptz IS NULL OR (c.created_at, c.id) < ($6, $7))
		ORDER BY c.created_at DESC, c.id DESC LIMIT $8`,
		workspaceID, f.ProgramID, partnerIDs(f.PartnerIDs), f.Status, f.CustomerExternalID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list commission rows: %w", err)
	}
	rows, next := trim(page, rows, func(c CommissionRow) Cursor { return Cursor{c.CreatedAt, c.ID} })
	return rows, next, nil
}

// CommissionRowByID returns one commission of the workspace as the finance pages show it.
func (q Queries) CommissionRowByID(ctx context.Context, workspaceID, id string) (*CommissionRow, error) {
	var r CommissionRow
	if err := q.get(ctx, &r, commissionRowSelect+` WHERE c.workspace_id = $1 AND c.id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: commission row: %w", err)
	}
	return &r, nil
}

// CommissionRowsOfSale returns a sale's commission and its adjustments, oldest first.
func (q Queries) CommissionRowsOfSale(ctx context.Context, workspaceID, eventID string) ([]CommissionRow, error) {
	rows := []CommissionRow{}
	err := q.sel(ctx, &rows, commissionRowSelect+`
		WHERE c.workspace_id = $1 AND c.event_id = $2 ORDER BY c.created_at, c.id`, workspaceID, eventID)
	if err != nil {
		return nil, fmt.Errorf("store: commissions of sale: %w", err)
	}
	return rows, nil
}

// Adjustments returns the negative adjustments of a commission, oldest first.
func (q Queries) Adjustments(ctx context.Context, workspaceID, commissionID string) ([]CommissionRow, error) {
	rows := []CommissionRow{}
	err := q.sel(ctx, &rows, commissionRowSelect+`
		WHERE c.workspace_id = $1 AND c.adjusts_id = $2 ORDER BY c.created_at, c.id`, workspaceID, commissionID)
	if err != nil {
		return nil, fmt.Errorf("store: adjustments: %w", err)
	}
	return rows, nil
}

// LockCommissionWithAdjustments locks a commission for a change by hand,
// with its negative adjustments, until the transaction ends. It first locks
// the commission's sale or lead, as a refund does, then every commission of
// that event in id order (the order a refund locks them in), so the two
// never deadlock and an adjustment a refund adds meanwhile is seen.
func (tx *Tx) LockCommissionWithAdjustments(ctx context.Context, workspaceID, id string) (*Commission, []Commission, error) {
	var eventID string
	if err := tx.get(ctx, &eventID, `SELECT event_id FROM commissions WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id); err != nil {
		return nil, nil, fmt.Errorf("store: lock commission: %w", err)
	}
	var locked string
	if err := tx.get(ctx, &locked, `SELECT id FROM events WHERE workspace_id = $1 AND id = $2 FOR NO KEY UPDATE`,
		workspaceID, eventID); err != nil {
		return nil, nil, fmt.Errorf("store: lock commission's event: %w", err)
	}
	var cs []Commission
	if err := tx.sel(ctx, &cs, commissionSelect+`
		WHERE c.workspace_id = $1 AND c.event_id = $2 ORDER BY c.id FOR UPDATE OF c`, workspaceID, eventID); err != nil {
		return nil, nil, fmt.Errorf("store: lock commissions of event: %w", err)
	}
	var c *Commission
	var adjustments []Commission
	for i := range cs {
		switch {
		case cs[i].ID == id:
			c = &cs[i]
		case cs[i].AdjustsID != nil && *cs[i].AdjustsID == id:
			adjustments = append(adjustments, cs[i])
		}
	}
	if c == nil {
		return nil, nil, fmt.Errorf("store: lock commission: %w", ErrNotFound)
	}
	sort.SliceStable(adjustments, func(i, j int) bool { return adjustments[i].CreatedAt.Before(adjustments[j].CreatedAt) })
	return c, adjustments, nil
}

// AddHistoryNote records a history entry without changing the commission:
// the note on a paid commission that was clawed back by an adjustment.
func (tx *Tx) AddHistoryNote(ctx context.Context, workspaceID, commissionID, from, to, reason, actor string) error {
	_, err := tx.exec(ctx, `INSERT INTO commission_history (workspace_id, commission_id, from_status, to_status, reason, actor)
		VALUES ($1, $2, $3, $4, $5, $6)`, workspaceID, commissionID, from, to, reason, actor)
	if err != nil {
		return fmt.Errorf("store: add history note: %w", err)
	}
	return nil
}

// SaleDetail is a sale with the names around it.
type SaleDetail struct {
	Sale
	PartnerName  string `db:"partner_name"`
	PartnerEmail string `db:"partner_email"`
	ProgramName  string `db:"program_name"`
}

// SaleDetailByID returns one sale of the workspace with its partner and program names.
func (q Queries) SaleDetailByID(ctx context.Context, workspaceID, id string) (*SaleDetail, error) {
	var s SaleDetail
	err := q.get(ctx, &s, `SELECT e.id, e.workspace_id, e.external_id, e.customer_id, cu.external_id AS customer_external_id,
		e.program_id, e.partner_id, e.click_id, e.amount_cents, e.refunded_cents, e.currency, e.event_name,
		coalesce(e.metadata, 'null'::jsonb) AS metadata, e.occurred_at, e.created_at,
		pa.name AS partner_name, pa.email AS partner_email, pr.name AS program_name, `+saleCodeCols+`
		FROM events e
		LEFT JOIN customers cu ON cu.workspace_id = e.workspace_id AND cu.id = e.customer_id
		`+saleCodeJoin+`
		JOIN partners pa ON pa.workspace_id = e.workspace_id AND pa.id = e.partner_id
		JOIN programs pr ON pr.workspace_id = e.workspace_id AND pr.id = e.program_id
		WHERE e.workspace_id = $1 AND e.id = $2 AND e.kind = 'sale'`, workspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("store: sale detail: %w", err)
	}
	return &s, nil
}
