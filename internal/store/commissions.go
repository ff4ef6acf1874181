package store

import (
	"context"
	"fmt"
)

const saleSelect = `SELECT e.id, e.workspace_id, e.external_id, e.customer_id, cu.external_id AS customer_external_id,
	e.program_id, e.partner_id, e.click_id, e.amount_cents, e.refunded_cents, e.currency, e.event_name,
	coalesce(e.metadata, 'null'::jsonb) AS metadata, e.occurred_at, e.created_at, ` + saleCodeCols + `
	FROM events e LEFT JOIN customers cu ON cu.workspace_id = e.workspace_id AND cu.id = e.customer_id
	` + saleCodeJoin

// saleCodeCols and saleCodeJoin add the code that attributed a sale (events e).
const (
	saleCodeCols = `e.code_id, co.code AS coupon_code`
	saleCodeJoin = `LEFT JOIN partner_codes co ON co.workspace_id = e.workspace_id AND co.id = e.code_id`
)

// SaleFilter narrows a sales list.
type SaleFilter struct {
	ProgramID          string
	PartnerID          string
	CustomerExternalID string
}

// ListSales lists a workspace's sales, newest first.
func (q Queries) ListSales(ctx context.Context, workspaceID string, f SaleFilter, page Page) ([]Sale, *string, error) {
	t, id := page.cursorArgs()
	var rows []Sale
	err := q.sel(ctx, &rows, saleSelect+`
		WHERE e.workspace_id = $1 AND e.kind = 'sale'
		  AND ($2 = '' OR e.program_id = $2)
		  AND ($3 = '' OR e.partner_id = $3)
		  AND ($4 = '' OR cu.external_id = $4)
		  AND ($5::timestamptz IS NULL OR (e.created_at, e.id) < ($5, $6))
		ORDER BY e.created_at DESC, e.id DESC LIMIT $7`,
		workspaceID, f.ProgramID, f.PartnerID, f.CustomerExternalID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list sales: %w", err)
	}
	rows, next := trim(page, rows, func(s Sale) Cursor { return Cursor{s.CreatedAt, s.ID} })
	return rows, next, nil
}

// Sale returns one sale of the workspace.
func (q Queries) Sale(ctx context.Context, workspaceID, id string) (*Sale, error) {
	var s Sale
	if err := q.get(ctx, &s, saleSelect+` WHERE e.workspace_id = $1 AND e.id = $2 AND e.kind = 'sale'`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: sale: %w", err)
	}
	return &s, nil
}

const commissionSelect = `SELECT c.*, cu.external_id AS customer_external_id
	FROM commissions c LEFT JOIN customers cu ON cu.workspace_id = c.workspace_id AND cu.id = c.customer_id`

// CommissionFilter narrows a commission list.
type CommissionFilter struct {
	ProgramID          string
	PartnerID          string
	Status             string
	CustomerExternalID string
}

// ListCommissions lists a workspace's commissions, newest first.
func (q Queries) ListCommissions(ctx context.Context, workspaceID string, f CommissionFilter, page Page) ([]Commission, *string, error) {
	t, id := page.cursorArgs()
	var rows []Commission
	err := q.sel(ctx, &rows, commissionSelect+`
		WHERE c.workspace_id = $1
		  AND ($2 = '' OR c.program_id = $2)
		  AND ($3 = '' OR c.partner_id = $3)
		  AND ($4 = '' OR c.status = $4)
		  AND ($5 = '' OR cu.external_id = $5)
		  AND ($6::timestamptz IS NULL OR (c.created_at, c.id) < ($6, $7))
		ORDER BY c.created_at DESC, c.id DESC LIMIT $8`,
		workspaceID, f.ProgramID, f.PartnerID, f.Status, f.CustomerExternalID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list commissions: %w", err)
	}
	rows, next := trim(page, rows, func(c Commission) Cursor { return Cursor{c.CreatedAt, c.ID} })
	return rows, next, nil
}

// Commission returns one commission of the workspace.
func (q Queries) Commission(ctx context.Context, workspaceID, id string) (*Commission, error) {
	var c Commission
	if err := q.get(ctx, &c, commissionSelect+` WHERE c.workspace_id = $1 AND c.id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: commission: %w", err)
	}
	return &c, nil
}

// CommissionsOfEvent returns a sale's or lead's commission and its adjustments, oldest first.
func (q Queries) CommissionsOfEvent(ctx context.Context, workspaceID, eventID string) ([]Commission, error) {
	var cs []Commission
	err := q.sel(ctx, &cs, commissionSelect+` WHERE c.workspace_id = $1 AND c.event_id = $2 ORDER BY c.created_at, c.id`, workspaceID, eventID)
	if err != nil {
		return nil, fmt.Errorf("store: commissions of event: %w", err)
	}
	return cs, nil
}

// SetCommissionStatus changes a commission's status and records the change
// in its history, in one statement.
func (tx *Tx) SetCommissionStatus(ctx context.Context, c *Commission, to, reason, actor string) error {
	err := tx.get(ctx, c, `
		WITH old AS (
			SELECT * FROM commissions WHERE workspace_id = $1 AND id = $2
		), c AS (
			UPDATE commissions SET status = $3, updated_at = now()
			WHERE workspace_id = $1 AND id = $2 RETURNING *
		), h AS (
			INSERT INTO commission_history (workspace_id, commission_id, from_status, to_status, reason, actor)
			SELECT $1, old.id, old.status, $3, $4, $5 FROM old
		), `+statsCTEs("st", `
			SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, currency, 0, 0::bigint, status, -1, -amount_cents FROM old
			UNION ALL `+commissionDeltas("c"))+`
		SELECT c.*, cu.external_id AS customer_external_id
		FROM c LEFT JOIN customers cu ON cu.workspace_id = c.workspace_id AND cu.id = c.customer_id`,
		c.WorkspaceID, c.ID, to, reason, actor)
	if err != nil {
		return fmt.Errorf("store: set commission status: %w", err)
	}
	return nil
}

// History lists a commission's status changes, oldest first.
func (q Queries) History(ctx context.Context, workspaceID, commissionID string) ([]HistoryEntry, error) {
	hs := []HistoryEntry{}
	err := q.sel(ctx, &hs, `SELECT from_status, to_status, reason, actor, created_at FROM commission_history
		WHERE workspace_id = $1 AND commission_id = $2 ORDER BY id`, workspaceID, commissionID)
	if err != nil {
		return nil, fmt.Errorf("store: history: %w", err)
	}
	return hs, nil
}

// LockDueCommissions claims up to limit pending commissions whose payableAt
// has passed, across workspaces, one workspace at a time (claimByWorkspace).
// SKIP LOCKED lets any number of replicas run the auto-approval worker
// without waiting on or repeating each other.
func (tx *Tx) LockDueCommissions(ctx context.Context, limit int) ([]Commission, error) {
	cs, err := claimByWorkspace(ctx, tx.Queries, "commissions", "status = 'pending' AND payable_at <= now()", "payable_at", limit, func(ws string, n int) ([]Commission, error) {
		var some []Commission
		err := tx.sel(ctx, &some, commissionSelect+`
			WHERE c.workspace_id = $2 AND c.status = 'pending' AND c.payable_at <= now()
			ORDER BY c.payable_at LIMIT $1 FOR UPDATE OF c SKIP LOCKED`, n, ws)
		return some, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: due commissions: %w", err)
	}
	return cs, nil
}
