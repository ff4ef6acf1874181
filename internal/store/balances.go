package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// Balance is what a partner is owed in one currency: their approved
// commissions in no payout yet, negative adjustments included — read from
// partner_balances, the ledger's running totals, so a page of balances
// costs the same at a million commissions as at ten.
type Balance struct {
	PartnerID       string `db:"partner_id"`
	PartnerName     string `db:"partner_name"`
	PartnerEmail    string `db:"partner_email"`
	PartnerStatus   string `db:"partner_status"`
	ProgramID       string `db:"program_id"`
	ProgramName     string `db:"program_name"`
	ProgramCurrency string `db:"program_currency"`
	Currency        string `db:"currency"`
	Count           int64  `db:"n"`
	Cents           int64  `db:"cents"`
	AdjustmentCents int64  `db:"adjustment_cents"` // the negative part of Cents
	// MinPayoutCents is the program's minimum payout, in ProgramCurrency.
	MinPayoutCents int64 `db:"min_payout_cents"`
	// Method is the partner's payout method (nil: none chosen).
	Method *PayoutMethod `db:"-"`
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
// set) that sum at least one commission, after the cursor, with the cursor
// of the next page and each partner's payout method. It reads
// partner_balances through its partial index, one row per balance.
func (q Queries) ReadyToPay(ctx context.Context, workspaceID, programID string, after *BalanceCursor, limit int) ([]Balance, *string, error) {
	var afterPartner, afterCurrency string
	if after != nil {
		afterPartner, afterCurrency = after.PartnerID, after.Currency
	}
	var rows []Balance
	err := q.sel(ctx, &rows, `
		WITH b AS (
			SELECT partner_id, currency, commissions AS n, balance_cents AS cents, adjustment_cents
			FROM partner_balances
			WHERE workspace_id = $1 AND commissions > 0 AND ($2 = '' OR program_id = $2)
			  AND ($3 = '' OR (partner_id, currency) > ($3, $4::bpchar))
			ORDER BY partner_id, currency
			LIMIT $5
		)
		SELECT b.partner_id, b.currency, b.n, b.cents, b.adjustment_cents,
			pa.name AS partner_name, pa.email AS partner_email, pa.status AS partner_status, pa.program_id,
			pr.name AS program_name, pr.currency AS program_currency, pr.min_payout_cents
		FROM b
		JOIN partners pa ON pa.workspace_id = $1 AND pa.id = b.partner_id
		JOIN programs pr ON pr.workspace_id = $1 AND pr.id = pa.program_id
		ORDER BY b.partner_id, b.currency`, workspaceID, programID, afterPartner, afterCurrency, limit+1)
	if err != nil {
		return nil, nil, fmt.Errorf("store: ready to pay: %w", err)
	}
	var next *string
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		n := BalanceCursor{PartnerID: last.PartnerID, Currency: last.Currency}.Encode()
		next = &n
	}
	if err := q.attachMethods(ctx, workspaceID, rows); err != nil {
		return nil, nil, err
	}
	return rows, next, nil
}

// attachMethods sets the payout method of each balance's partner.
func (q Queries) attachMethods(ctx context.Context, workspaceID string, rows []Balance) error {
	if len(rows) == 0 {
		return nil
	}
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.PartnerID
	}
	ms, err := q.PayoutMethods(ctx, workspaceID, ids)
	if err != nil {
		return err
	}
	for i := range rows {
		if m, ok := ms[rows[i].PartnerID]; ok {
			rows[i].Method = &m
		}
	}
	return nil
}

// PayableBalances returns the balances of a program's partners (of
// partnerIDs only, when given) that sum at least one commission, by partner
// and currency, with each partner's payout method: the candidates for new
// payouts.
func (q Queries) PayableBalances(ctx context.Context, workspaceID, programID string, partnerIDs []string) ([]Balance, error) {
	var rows []Balance
	err := q.sel(ctx, &rows, `
		SELECT b.partner_id, b.currency, b.commissions AS n, b.balance_cents AS cents, b.adjustment_cents,
			pa.name AS partner_name, pa.email AS partner_email, pa.status AS partner_status, pa.program_id,
			pr.name AS program_name, pr.currency AS program_currency, pr.min_payout_cents
		FROM partner_balances b
		JOIN partners pa ON pa.workspace_id = b.workspace_id AND pa.id = b.partner_id
		JOIN programs pr ON pr.workspace_id = b.workspace_id AND pr.id = b.program_id
		WHERE b.workspace_id = $1 AND b.program_id = $2 AND b.commissions > 0
		  AND (coalesce(cardinality($3::text[]), 0) = 0 OR b.partner_id = ANY($3))
		ORDER BY b.partner_id, b.currency`, workspaceID, programID, pq.Array(partnerIDs))
	if err != nil {
		return nil, fmt.Errorf("store: payable balances: %w", err)
	}
	if err := q.attachMethods(ctx, workspaceID, rows); err != nil {
		return nil, err
	}
	return rows, nil
}
