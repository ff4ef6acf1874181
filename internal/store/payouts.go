package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Payout is one payment to a partner, in one currency: the sum of the
// approved commissions (and negative adjustments) it settles. Its states
// and the rules between them are commission.PayoutTransition's.
type Payout struct {
	ID               string       `db:"id" json:"id"`
	WorkspaceID      string       `db:"workspace_id" json:"-"`
	ProgramID        string       `db:"program_id" json:"programId"`
	PartnerID        string       `db:"partner_id" json:"partnerId"`
	Currency         string       `db:"currency" json:"currency"`
	AmountCents      int64        `db:"amount_cents" json:"amountCents"`
	Status           string       `db:"status" json:"status"`
	Method           string       `db:"method" json:"method"`
	Recipient        string       `db:"recipient" json:"-"`
	Reference        string       `db:"reference" json:"reference"`
	CommissionCount  int64        `db:"commission_count" json:"commissionCount"`
	AdjustmentCents  int64        `db:"adjustment_cents" json:"adjustmentCents"`
	Claim            int          `db:"claim" json:"-"`
	Attempt          int          `db:"attempt" json:"-"`
	LeaseUntil       *time.Time   `db:"lease_until" json:"-"`
	StripeTransferID *string      `db:"stripe_transfer_id" json:"stripeTransferId"`
	FailureReason    OptionalText `db:"failure_reason" json:"failureReason"`
	CreatedBy        string       `db:"created_by" json:"-"`
	PaidAt           *time.Time   `db:"paid_at" json:"paidAt"`
	FailedAt         *time.Time   `db:"failed_at" json:"failedAt"`
	CanceledAt       *time.Time   `db:"canceled_at" json:"canceledAt"`
	CreatedAt        time.Time    `db:"created_at" json:"createdAt"`
	UpdatedAt        time.Time    `db:"updated_at" json:"updatedAt"`
}

// OptionalText is text that is absent when empty: JSON null.
type OptionalText string

// MarshalJSON writes "" as null.
func (t OptionalText) MarshalJSON() ([]byte, error) {
	if t == "" {
		return []byte("null"), nil
	}
	return json.Marshal(string(t))
}

const payoutColumns = `po.id, po.workspace_id, po.program_id, po.partner_id, po.currency, po.amount_cents,
	po.status, po.method, po.recipient, po.reference, po.commission_count, po.adjustment_cents, po.claim,
	po.attempt, po.lease_until, po.stripe_transfer_id, po.failure_reason, po.created_by, po.paid_at,
	po.failed_at, po.canceled_at, po.created_at, po.updated_at`

// PayoutRow is a payout with its partner's and program's names.
type PayoutRow struct {
	Payout
	PartnerName  string `db:"partner_name"`
	PartnerEmail string `db:"partner_email"`
	ProgramName  string `db:"program_name"`
}

const payoutRowSelect = `SELECT ` + payoutColumns + `,
	pa.name AS partner_name, pa.email AS partner_email, pr.name AS program_name
	FROM payouts po
	JOIN partners pa ON pa.workspace_id = po.workspace_id AND pa.id = po.partner_id
	JOIN programs pr ON pr.workspace_id = po.workspace_id AND pr.id = po.program_id`

// PayoutFilter narrows a payout list; empty fields do not filter.
type PayoutFilter struct {
	Status    string
	PartnerID string
	ProgramID string
	Method    string
	Currency  string
	CreatedBy string
}

// ListPayoutRows lists a workspace's payouts, newest first.
func (q Queries) ListPayoutRows(ctx context.Context, workspaceID string, f PayoutFilter, page Page) ([]PayoutRow, *string, error) {
	t, id := page.cursorArgs()
	var rows []PayoutRow
	err := q.sel(ctx, &rows, payoutRowSelect+`
		WHERE po.workspace_id = $1 AND ($2 = '' OR po.status = $2) AND ($3 = '' OR po.partner_id = $3)
		  AND ($4 = '' OR po.program_id = $4) AND ($5 = '' OR po.method = $5) AND ($6 = '' OR po.currency = $6)
		  AND ($10 = '' OR po.created_by = $10)
		  AND ($7::timestamptz IS NULL OR (po.created_at, po.id) < ($7, $8))
		ORDER BY po.created_at DESC, po.id DESC LIMIT $9`,
		workspaceID, f.Status, f.PartnerID, f.ProgramID, f.Method, f.Currency, t, id, page.fetch(), f.CreatedBy)
	if err != nil {
		return nil, nil, fmt.Errorf("store: list payouts: %w", err)
	}
	rows, next := trim(page, rows, func(p PayoutRow) Cursor { return Cursor{p.CreatedAt, p.ID} })
	return rows, next, nil
}

// PayoutCurrencies lists the currencies of the workspace's payouts that f
// matches (f.Currency aside).
func (q Queries) PayoutCurrencies(ctx context.Context, workspaceID string, f PayoutFilter) ([]string, error) {
	var cs []string
	err := q.sel(ctx, &cs, `SELECT DISTINCT currency FROM payouts po
		WHERE po.workspace_id = $1 AND ($2 = '' OR po.status = $2) AND ($3 = '' OR po.partner_id = $3)
		  AND ($4 = '' OR po.program_id = $4) AND ($5 = '' OR po.method = $5)
		ORDER BY currency`, workspaceID, f.Status, f.PartnerID, f.ProgramID, f.Method)
	if err != nil {
		return nil, fmt.Errorf("store: payout currencies: %w", err)
	}
	return cs, nil
}

// PayoutRowByID returns one payout of the workspace.
func (q Queries) PayoutRowByID(ctx context.Context, workspaceID, id string) (*PayoutRow, error) {
	var p PayoutRow
	if err := q.get(ctx, &p, payoutRowSelect+` WHERE po.workspace_id = $1 AND po.id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: payout: %w", err)
	}
	return &p, nil
}

// Payout returns one payout of the workspace.
func (q Queries) Payout(ctx context.Context, workspaceID, id string) (*Payout, error) {
	var p Payout
	if err := q.get(ctx, &p, `SELECT `+payoutColumns+` FROM payouts po WHERE po.workspace_id = $1 AND po.id = $2`,
		workspaceID, id); err != nil {
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

// attach puts commissions in payout p, each only while it is approved and
// in no payout: fewer rows than asked for is an error, so a commission is
// never in two payouts even if the caller's lock were missing.
func (tx *Tx) attach(ctx context.Context, p *Payout, commissionIDs []string) error {
	n, err := tx.exec(ctx, `UPDATE commissions SET payout_id = $2
		WHERE workspace_id = $1 AND id = ANY($3) AND status = 'approved' AND payout_id IS NULL`,
		p.WorkspaceID, p.ID, pq.Array(commissionIDs))
	if err != nil {
		return fmt.Errorf("store: attach commissions to payout: %w", err)
	}
	if int(n) != len(commissionIDs) {
		return fmt.Errorf("store: attach commissions to payout %s: %d of %d rows were still payable", p.ID, n, len(commissionIDs))
	}
	return nil
}

// InsertPayout records a pending payout and puts the given commissions in it.
func (tx *Tx) InsertPayout(ctx context.Context, p *Payout, commissionIDs []string) error {
	err := tx.get(ctx, p, `
		INSERT INTO payouts AS po (id, workspace_id, program_id, partner_id, currency, amount_cents, status, method,
			recipient, commission_count, adjustment_cents, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7, $8, $9, $10, $11)
		RETURNING `+payoutColumns,
		p.ID, p.WorkspaceID, p.ProgramID, p.PartnerID, p.Currency, p.AmountCents, p.Method, p.Recipient,
		p.CommissionCount, p.AdjustmentCents, p.CreatedBy)
	if err != nil {
		return fmt.Errorf("store: insert payout: %w", err)
	}
	return tx.attach(ctx, p, commissionIDs)
}

// ReclaimPayout puts commissions in a failed payout again, as its next
// claim of the balance, with their sum: a failed payout sent again pays the
// balance as it is now.
func (tx *Tx) ReclaimPayout(ctx context.Context, p *Payout, commissionIDs []string, amount, count, adjustment int64) error {
	err := tx.get(ctx, p, `UPDATE payouts po SET claim = claim + 1, amount_cents = $3, commission_count = $4,
			adjustment_cents = $5, updated_at = now()
		WHERE po.workspace_id = $1 AND po.id = $2 AND po.status = 'failed' RETURNING `+payoutColumns,
		p.WorkspaceID, p.ID, amount, count, adjustment)
	if err != nil {
		return fmt.Errorf("store: reclaim payout: %w", err)
	}
	return tx.attach(ctx, p, commissionIDs)
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

// changePayout runs an UPDATE of one payout that applies only while its
// status is one of from, and reads the payout back; ErrNotFound when it is
// not (so a change decided on a stale read never lands).
func (tx *Tx) changePayout(ctx context.Context, p *Payout, from []string, set string, args ...any) error {
	all := append([]any{p.WorkspaceID, p.ID, pq.Array(from)}, args...)
	return tx.get(ctx, p, `UPDATE payouts po SET `+set+`, updated_at = now()
		WHERE po.workspace_id = $1 AND po.id = $2 AND po.status = ANY($3) RETURNING `+payoutColumns, all...)
}

// SetPayoutPaid marks a pending or processing payout paid, with the bank's,
// provider's or Stripe's reference (and the Stripe transfer, if any).
func (tx *Tx) SetPayoutPaid(ctx context.Context, p *Payout, reference string, transferID *string) error {
	err := tx.changePayout(ctx, p, []string{"pending", "processing"},
		`status = 'paid', reference = $4, stripe_transfer_id = $5, paid_at = now(), lease_until = NULL, failure_reason = ''`,
		reference, transferID)
	if err != nil {
		return fmt.Errorf("store: set payout paid: %w", err)
	}
	return nil
}

// ReleasePayout takes its commissions out of a pending or processing
// payout, so they count towards the partner's balance again, and sets the
// payout canceled, or failed with reason.
func (tx *Tx) ReleasePayout(ctx context.Context, p *Payout, status, reason string) error {
	if _, err := tx.exec(ctx, `UPDATE commissions SET payout_id = NULL WHERE workspace_id = $1 AND payout_id = $2`,
		p.WorkspaceID, p.ID); err != nil {
		return fmt.Errorf("store: release payout commissions: %w", err)
	}
	var err error
	switch status {
	case "canceled":
		err = tx.changePayout(ctx, p, []string{"pending"}, `status = 'canceled', canceled_at = now()`)
	case "failed":
		err = tx.changePayout(ctx, p, []string{"processing"},
			`status = 'failed', failure_reason = $4, failed_at = now(), lease_until = NULL`, reason)
	default:
		err = fmt.Errorf("a payout is released as canceled or failed, not %q", status)
	}
	if err != nil {
		return fmt.Errorf("store: release payout: %w", err)
	}
	return nil
}

// CancelFailedPayout cancels a failed payout (its commissions were released
// when it failed).
func (tx *Tx) CancelFailedPayout(ctx context.Context, p *Payout) error {
	if err := tx.changePayout(ctx, p, []string{"failed"}, `status = 'canceled', canceled_at = now()`); err != nil {
		return fmt.Errorf("store: cancel failed payout: %w", err)
	}
	return nil
}

// PayoutAttempt is one Stripe transfer attempt of a payout (migration 00011).
type PayoutAttempt struct {
	WorkspaceID      string     `db:"workspace_id"`
	PayoutID         string     `db:"payout_id"`
	Attempt          int        `db:"attempt"`
	IdempotencyKey   string     `db:"idempotency_key"`
	AmountCents      int64      `db:"amount_cents"`
	Currency         string     `db:"currency"`
	Destination      string     `db:"destination"`
	Status           string     `db:"status"`
	StripeTransferID *string    `db:"stripe_transfer_id"`
	Error            string     `db:"error"`
	Tries            int        `db:"tries"`
	StartedAt        time.Time  `db:"started_at"`
	TriedAt          *time.Time `db:"tried_at"`
	FinishedAt       *time.Time `db:"finished_at"`
}

// StartAttempt moves a pending or failed payout to processing with a new
// attempt of a.Attempt (the payout's attempt + 1), its idempotency key and
// destination recorded before anything is sent, and the sender's lease for
// lease (by the database's clock, which every replica shares).
func (tx *Tx) StartAttempt(ctx context.Context, p *Payout, a *PayoutAttempt, lease time.Duration) error {
	err := tx.changePayout(ctx, p, []string{"pending", "failed"},
		`status = 'processing', attempt = $4, lease_until = now() + $5 * interval '1 microsecond', failure_reason = '', failed_at = NULL`,
		a.Attempt, lease.Microseconds())
	if err != nil {
		return fmt.Errorf("store: start payout attempt: %w", err)
	}
	err = tx.get(ctx, a, `INSERT INTO payout_attempts (workspace_id, payout_id, attempt, idempotency_key, amount_cents,
			currency, destination) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
		p.WorkspaceID, p.ID, a.Attempt, a.IdempotencyKey, a.AmountCents, a.Currency, a.Destination)
	if err != nil {
		return fmt.Errorf("store: start payout attempt: %w", err)
	}
	return nil
}

// TakeOverAttempt gives the sender a processing payout's lease, when the
// lease has run out (its sender crashed or timed out), and returns the
// attempt to ask Stripe about again; ErrNotFound when the payout is not
// processing or another sender holds it.
func (q Queries) TakeOverAttempt(ctx context.Context, workspaceID, payoutID string, lease time.Duration) (*Payout, *PayoutAttempt, error) {
	var p Payout
	err := q.get(ctx, &p, `UPDATE payouts po SET lease_until = now() + $3 * interval '1 microsecond', updated_at = now()
		WHERE po.workspace_id = $1 AND po.id = $2 AND po.status = 'processing' AND po.lease_until < now()
		RETURNING `+payoutColumns, workspaceID, payoutID, lease.Microseconds())
	if err != nil {
		return nil, nil, fmt.Errorf("store: take over payout: %w", err)
	}
	a, err := q.Attempt(ctx, workspaceID, payoutID, p.Attempt)
	if err != nil {
		return nil, nil, err
	}
	return &p, a, nil
}

// StalePayouts returns up to limit processing payouts, of any workspace,
// whose sender's lease ran out.
func (q Queries) StalePayouts(ctx context.Context, limit int) ([]Payout, error) {
	var ps []Payout
	err := q.sel(ctx, &ps, `SELECT `+payoutColumns+` FROM payouts po
		WHERE po.status = 'processing' AND po.lease_until < now() ORDER BY po.lease_until LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: stale payouts: %w", err)
	}
	return ps, nil
}

// Attempt returns one attempt of a payout.
func (q Queries) Attempt(ctx context.Context, workspaceID, payoutID string, attempt int) (*PayoutAttempt, error) {
	var a PayoutAttempt
	if err := q.get(ctx, &a, `SELECT * FROM payout_attempts WHERE workspace_id = $1 AND payout_id = $2 AND attempt = $3`,
		workspaceID, payoutID, attempt); err != nil {
		return nil, fmt.Errorf("store: payout attempt: %w", err)
	}
	return &a, nil
}

// Attempts lists a payout's attempts, newest first.
func (q Queries) Attempts(ctx context.Context, workspaceID, payoutID string) ([]PayoutAttempt, error) {
	var as []PayoutAttempt
	if err := q.sel(ctx, &as, `SELECT * FROM payout_attempts WHERE workspace_id = $1 AND payout_id = $2 ORDER BY attempt DESC`,
		workspaceID, payoutID); err != nil {
		return nil, fmt.Errorf("store: payout attempts: %w", err)
	}
	return as, nil
}

// NoteTry records that Stripe was asked (again) about an attempt.
func (q Queries) NoteTry(ctx context.Context, a *PayoutAttempt) error {
	err := q.get(ctx, a, `UPDATE payout_attempts SET tries = tries + 1, tried_at = now()
		WHERE workspace_id = $1 AND payout_id = $2 AND attempt = $3 RETURNING *`, a.WorkspaceID, a.PayoutID, a.Attempt)
	if err != nil {
		return fmt.Errorf("store: note payout try: %w", err)
	}
	return nil
}

// FinishAttempt records an attempt's outcome: succeeded with the Stripe
// transfer, or failed with Stripe's message. Only an attempt under way
// changes (ErrNotFound otherwise).
func (tx *Tx) FinishAttempt(ctx context.Context, a *PayoutAttempt, transferID *string, failure string) error {
	status := "succeeded"
	if transferID == nil {
		status = "failed"
	}
	err := tx.get(ctx, a, `UPDATE payout_attempts SET status = $4, stripe_transfer_id = $5, error = $6, finished_at = now()
		WHERE workspace_id = $1 AND payout_id = $2 AND attempt = $3 AND status = 'processing' RETURNING *`,
		a.WorkspaceID, a.PayoutID, a.Attempt, status, transferID, failure)
	if err != nil {
		return fmt.Errorf("store: finish payout attempt: %w", err)
	}
	return nil
}
