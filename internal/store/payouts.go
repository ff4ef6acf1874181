package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
)

// Payout is one transfer of money to a partner, in one currency: the sum of
// the approved commissions (and negative adjustments) it settles.
type Payout struct {
	ID          string     `db:"id"`
	WorkspaceID string     `db:"workspace_id"`
	ProgramID   string     `db:"program_id"`
	PartnerID   string     `db:"partner_id"`
	Currency    string     `db:"currency"`
	AmountCents int64      `db:"amount_cents"`
	Status      string     `db:"status"`
	Reference   string     `db:"reference"`
	CreatedBy   string     `db:"created_by"`
	PaidAt      *time.Time `db:"paid_at"`
	CancelledAt *time.Time `db:"cancelled_at"`
	CreatedAt   time.Time  `db:"created_at"`
}

const payoutColumns = `po.id, po.workspace_id, po.program_id, po.partner_id, po.currency, po.amount_cents,
	po.status, po.reference, po.created_by, po.paid_at, po.cancelled_at, po.created_at`

// PayoutRow is a payout with its partner and program names and how many
// commissions it settles.
type PayoutRow struct {
	Payout
	PartnerName  string `db:"partner_name"`
	PartnerEmail string `db:"partner_email"`
	ProgramName  string `db:"program_name"`
	Commissions  int64  `db:"commissions"`
}

const payoutRowSelect = `SELECT ` + payoutColumns + `,
	pa.name AS partner_name, pa.email AS partner_email, pr.name AS program_name,
	(SELECT count(*) FROM commissions c WHERE c.workspace_id = po.workspace_id AND c.payout_id = po.id) AS commissions
	FROM payouts po
	JOIN partners pa ON pa.workspace_id = po.workspace_id AND pa.id = po.partner_id
	JOIN programs pr ON pr.workspace_id = po.workspace_id AND pr.id = po.program_id`

// ListPayoutRows lists a workspace's payouts (of one status when set), newest first.
func (q Queries) ListPayoutRows(ctx context.Context, workspaceID, status string, page Page) ([]PayoutRow, *string, error) {
	t, id := page.cursorArgs()
	var rows []PayoutRow
	err := q.sel(ctx, &rows, payoutRowSelect+`
		WHERE po.workspace_id = $1 AND ($2 = '' OR po.status = $2)
		  AND ($3::timestamptz IS NULL OR (po.created_at, po.id) < ($3, $4))
		ORDER BY po.created_at DESC, po.id DESC LIMIT $5`, workspaceID, status, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list payouts: %w", err)
	}
	rows, next := trim(page, rows, func(p PayoutRow) Cursor { return Cursor{p.CreatedAt, p.ID} })
	return rows, next, nil
}

// PayoutRowByID returns one payout of the workspace.
func (q Queries) PayoutRowByID(ctx context.Context, workspaceID, id string) (*PayoutRow, error) {
	var p PayoutRow
	if err := q.get(ctx, &p, payoutRowSelect+` WHERE po.workspace_id = $1 AND po.id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: payout: %w", err)
	}
	return &p, nil
}

// PayoutCommissionRows lists the commissions a payout settles, newest first.
func (q Queries) PayoutCommissionRows(ctx context.Context, workspaceID, payoutID string, page Page) ([]CommissionRow, *string, error) {
	t, id := page.cursorArgs()
	var rows []CommissionRow
	err := q.sel(ctx, &rows, commissionRowSelect+`
		WHERE c.workspace_id = $1 AND c.payout_id = $2
		  AND ($3::timestamptz IS NULL OR (c.created_at, c.id) < ($3, $4))
		ORDER BY c.created_at DESC, c.id DESC LIMIT $5`, workspaceID, payoutID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: payout commissions: %w", err)
	}
	rows, next := trim(page, rows, func(c CommissionRow) Cursor { return Cursor{c.CreatedAt, c.ID} })
	return rows, next, nil
}

// Balance is what a partner is owed in one currency: the approved
// commissions that are in no payout yet, negative adjustments included.
type Balance struct {
	PartnerID       string `db:"partner_id"`
	PartnerName     string `db:"partner_name"`
	PartnerEmail    string `db:"partner_email"`
	ProgramID       string `db:"program_id"`
	ProgramName     string `db:"program_name"`
	Currency        string `db:"currency"`
	Count           int64  `db:"n"`
	Cents           int64  `db:"cents"`
	AdjustmentCents int64  `db:"adjustment_cents"` // the negative part of Cents
	MinPayoutCents  int64  `db:"min_payout_cents"`
}

// BalanceCursor is the position after the last balance of a page: balances
// are listed by (partner id, currency), the order of their index.
type BalanceCursor struct {
	PartnerID string
	Currency  string
}

// Encode makes the opaque cursor string put in links.
func (c BalanceCursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.PartnerID + "|" + c.Currency))
}

// DecodeBalanceCursor parses a cursor made by BalanceCursor.Encode.
func DecodeBalanceCursor(s string) (*BalanceCursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	p, cur, ok := strings.Cut(string(b), "|")
	if !ok || p == "" || len(cur) != 3 {
		return nil, ErrBadCursor
	}
	return &BalanceCursor{PartnerID: p, Currency: cur}, nil
}

// ReadyToPay lists up to limit balances of the workspace (of programID when
// set) after the cursor, and the cursor of the next page. It reads only the
// partial index of approved, unpaid commissions.
func (q Queries) ReadyToPay(ctx context.Context, workspaceID, programID string, after *BalanceCursor, limit int) ([]Balance, *string, error) {
	var afterPartner, afterCurrency string
	if after != nil {
		afterPartner, afterCurrency = after.PartnerID, after.Currency
	}
	var rows []Balance
	err := q.sel(ctx, &rows, `
		WITH b AS (
			SELECT partner_id, currency, count(*) AS n, sum(amount_cents) AS cents,
				coalesce(sum(amount_cents) FILTER (WHERE amount_cents < 0), 0) AS adjustment_cents
			FROM commissions
			WHERE workspace_id = $1 AND status = 'approved' AND payout_id IS NULL
			  AND ($2 = '' OR program_id = $2)
			  AND ($3 = '' OR (partner_id, currency) > ($3, $4::bpchar))
			GROUP BY partner_id, currency
			ORDER BY partner_id, currency
			LIMIT $5
		)
		SELECT b.partner_id, b.currency, b.n, b.cents, b.adjustment_cents,
			pa.name AS partner_name, pa.email AS partner_email, pa.program_id, pr.name AS program_name,
			pr.min_payout_cents
		FROM b
		JOIN partners pa ON pa.workspace_id = $1 AND pa.id = b.partner_id
		JOIN programs pr ON pr.workspace_id = $1 AND pr.id = pa.program_id
		ORDER BY b.partner_id, b.currency`, workspaceID, programID, afterPartner, afterCurrency, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("store: ready to pay: %w", err)
	}
	if len(rows) <= limit {
		return rows, nil, nil
	}
	rows = rows[:limit]
	last := rows[len(rows)-1]
	next := BalanceCursor{PartnerID: last.PartnerID, Currency: last.Currency}.Encode()
	return rows, &next, nil
}

// Payable is an approved commission that is in no payout yet.
type Payable struct {
	ID          string `db:"id"`
	AmountCents int64  `db:"amount_cents"`
}

// LockPayable locks a partner's approved commissions in currency that are in
// no payout yet, until the transaction ends. A transaction that waited for
// the lock re-checks the conditions on the rows' new versions, so rows that
// another payout took in the meantime are not returned.
func (tx *Tx) LockPayable(ctx context.Context, workspaceID, partnerID, currency string) ([]Payable, error) {
	var ps []Payable
	err := tx.sel(ctx, &ps, `
		SELECT id, amount_cents FROM commissions
		WHERE workspace_id = $1 AND partner_id = $2 AND currency = $3 AND status = 'approved' AND payout_id IS NULL
		ORDER BY id FOR UPDATE`, workspaceID, partnerID, currency)
	if err != nil {
		return nil, fmt.Errorf("store: lock payable: %w", err)
	}
	return ps, nil
}

// InsertPayout records a payout and puts the given commissions in it.
func (tx *Tx) InsertPayout(ctx context.Context, p *Payout, commissionIDs []string) error {
	err := tx.get(ctx, p, `
		INSERT INTO payouts AS po (id, workspace_id, program_id, partner_id, currency, amount_cents, status, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)
		RETURNING `+payoutColumns,
		p.ID, p.WorkspaceID, p.ProgramID, p.PartnerID, p.Currency, p.AmountCents, p.CreatedBy)
	if err != nil {
		return fmt.Errorf("store: insert payout: %w", err)
	}
	n, err := tx.exec(ctx, `UPDATE commissions SET payout_id = $2 WHERE workspace_id = $1 AND id = ANY($3)`,
		p.WorkspaceID, p.ID, pq.Array(commissionIDs))
	if err != nil {
		return fmt.Errorf("store: attach commissions to payout: %w", err)
	}
	if int(n) != len(commissionIDs) {
		return fmt.Errorf("store: attach commissions to payout: %d of %d rows", n, len(commissionIDs))
	}
	return nil
}

// LockPayout reads a payout and locks it until the transaction ends.
func (tx *Tx) LockPayout(ctx context.Context, workspaceID, id string) (*Payout, error) {
	var p Payout
	if err := tx.get(ctx, &p, `SELECT `+payoutColumns+` FROM payouts po WHERE po.workspace_id = $1 AND po.id = $2 FOR UPDATE`,
		workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: lock payout: %w", err)
	}
	return &p, nil
}

// LockPayoutCommissions reads and locks the commissions of a payout, in id
// order (the order every multi-row commission lock takes, so they never
// deadlock).
func (tx *Tx) LockPayoutCommissions(ctx context.Context, workspaceID, payoutID string) ([]Commission, error) {
	var cs []Commission
	err := tx.sel(ctx, &cs, commissionSelect+`
		WHERE c.workspace_id = $1 AND c.payout_id = $2 ORDER BY c.id FOR UPDATE OF c`, workspaceID, payoutID)
	if err != nil {
		return nil, fmt.Errorf("store: lock payout commissions: %w", err)
	}
	return cs, nil
}

// SetPayoutPaid marks a payout paid with the bank's or provider's reference.
func (tx *Tx) SetPayoutPaid(ctx context.Context, p *Payout, reference string) error {
	err := tx.get(ctx, p, `UPDATE payouts po SET status = 'paid', reference = $3, paid_at = now()
		WHERE po.workspace_id = $1 AND po.id = $2 RETURNING `+payoutColumns, p.WorkspaceID, p.ID, reference)
	if err != nil {
		return fmt.Errorf("store: set payout paid: %w", err)
	}
	return nil
}

// CancelPayout marks a payout cancelled and takes its commissions out of it,
// so they count towards the partner's balance again.
func (tx *Tx) CancelPayout(ctx context.Context, p *Payout) error {
	if _, err := tx.exec(ctx, `UPDATE commissions SET payout_id = NULL WHERE workspace_id = $1 AND payout_id = $2`,
		p.WorkspaceID, p.ID); err != nil {
		return fmt.Errorf("store: release payout commissions: %w", err)
	}
	err := tx.get(ctx, p, `UPDATE payouts po SET status = 'cancelled', cancelled_at = now()
		WHERE po.workspace_id = $1 AND po.id = $2 RETURNING `+payoutColumns, p.WorkspaceID, p.ID)
	if err != nil {
		return fmt.Errorf("store: cancel payout: %w", err)
	}
	return nil
}
