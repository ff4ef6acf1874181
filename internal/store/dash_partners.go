package store

import (
	"context"
	"fmt"
)

// PartnerRow is a partner as the dashboard's partner list shows it: with the
// names of its program and group.
type PartnerRow struct {
	Partner
	ProgramName string  `db:"program_name"`
	GroupName   *string `db:"group_name"`
}

// ListPartnerRows lists a workspace's partners, newest first, with their
// program's and group's names; the filter is the one ListPartners takes.
func (q Queries) ListPartnerRows(ctx context.Context, workspaceID string, f PartnerFilter, page Page) ([]PartnerRow, *string, error) {
	t, id := page.cursorArgs()
	var rows []PartnerRow
	err := q.sel(ctx, &rows, `
		SELECT pa.id, pa.workspace_id, pa.program_id, pa.account_id, pa.group_id, pa.email, pa.name, pa.slug,
			pa.status, pa.website, pa.country, pa.pitch, pa.created_at, pa.updated_at,
			pr.name AS program_name, g.name AS group_name
		FROM partners pa
		JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
		LEFT JOIN partner_groups g ON g.workspace_id = pa.workspace_id AND g.id = pa.group_id
		WHERE pa.workspace_id = $1
		  AND ($2 = '' OR pa.program_id = $2)
		  AND ($3 = '' OR pa.name ILIKE '%' || $3 || '%' OR pa.email ILIKE '%' || $3 || '%' OR pa.slug ILIKE '%' || $3 || '%')
		  AND ($4 = '' OR pa.status = $4)
		  AND ($5::timestamptz IS NULL OR (pa.created_at, pa.id) < ($5, $6))
		ORDER BY pa.created_at DESC, pa.id DESC LIMIT $7`,
		workspaceID, f.ProgramID, escapeLike(f.Query), f.Status, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list partner rows: %w", err)
	}
	rows, next := trim(page, rows, func(p PartnerRow) Cursor { return Cursor{p.CreatedAt, p.ID} })
	return rows, next, nil
}

// GroupsOfWorkspace lists every partner group of a workspace, by program and name
// (for forms that pick a program and a group at once).
func (q Queries) GroupsOfWorkspace(ctx context.Context, workspaceID string) ([]Group, error) {
	var gs []Group
	err := q.sel(ctx, &gs, `SELECT id, workspace_id, program_id, name, holding_period_days, created_at
		FROM partner_groups WHERE workspace_id = $1 ORDER BY program_id, name, id`, workspaceID)
	if err != nil {
		return nil, fmt.Errorf("store: groups of workspace: %w", err)
	}
	return gs, nil
}

// PartnerActivity is what a partner's page counts: clicks, leads and sales,
// and commissions per currency and status.
type PartnerActivity struct {
	Clicks      int64 `db:"clicks"`
	Leads       int64 `db:"leads"`
	Sales       int64 `db:"sales"`
	Commissions []CommissionTotal
}

// CommissionTotal is the count and sum of one partner's commissions in one
// currency and status. Amounts of different currencies are never added.
type CommissionTotal struct {
	Currency string `db:"currency"`
	Status   string `db:"status"`
	Count    int64  `db:"count"`
	Cents    int64  `db:"cents"`
}

// PartnerActivity counts one partner's clicks, leads, sales and commissions.
// Each count walks only that partner's slice of an index that starts with
// (workspace_id, partner_id).
func (q Queries) PartnerActivity(ctx context.Context, workspaceID, partnerID string) (*PartnerActivity, error) {
	var a PartnerActivity
	err := q.get(ctx, &a, `SELECT
		(SELECT count(*) FROM clicks WHERE workspace_id = $1 AND partner_id = $2) AS clicks,
		(SELECT count(*) FROM events WHERE workspace_id = $1 AND partner_id = $2 AND kind = 'lead') AS leads,
		(SELECT count(*) FROM events WHERE workspace_id = $1 AND partner_id = $2 AND kind = 'sale') AS sales`,
		workspaceID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: partner activity: %w", err)
	}
	err = q.sel(ctx, &a.Commissions, `
		SELECT currency, status, count(*) AS count, coalesce(sum(amount_cents), 0) AS cents
		FROM commissions WHERE workspace_id = $1 AND partner_id = $2
		GROUP BY currency, status ORDER BY currency, status`, workspaceID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: partner commission totals: %w", err)
	}
	return &a, nil
}
