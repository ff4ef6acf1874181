package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/partli/partli/internal/money"
)

// A program's customer discount and whether its partners may make codes
// (migration 00017); the partners' codes are codes.go.

// ProgramCodeTerms are a program's columns about codes: its discount (all
// nil when it has none) and whether partners may create codes.
type ProgramCodeTerms struct {
	DiscountType           *string `db:"discount_type" json:"-"`
	DiscountPercentBP      *int64  `db:"discount_percent_bp" json:"-"`
	DiscountAmountCents    *int64  `db:"discount_amount_cents" json:"-"`
	DiscountDuration       *string `db:"discount_duration" json:"-"`
	DiscountDurationMonths *int    `db:"discount_duration_months" json:"-"`
	// DiscountVersion counts the discount's changes: each version is its
	// own Stripe coupon, since coupons cannot be changed.
	DiscountVersion int     `db:"discount_version" json:"-"`
	StripeCouponID  *string `db:"stripe_coupon_id" json:"-"`
	// PartnersCreateCodes: partners may create their own codes in the portal.
	PartnersCreateCodes bool `db:"partner_codes" json:"partnersCreateCodes"`
}

// Discount kinds and durations (Stripe's words for a coupon's duration).
const (
	DiscountOnce      = "once"
	DiscountRepeating = "repeating"
	DiscountForever   = "forever"
)

// Discount is what a customer referred by a partner of the program gets: a
// percentage or a flat amount (in the program's currency) off, on the
// first payment only (once), for DurationMonths months (repeating) or on
// every payment (forever).
type Discount struct {
	Type           string // "percentage" or "flat"
	PercentBP      int64  // hundredths of a percent, for percentage
	AmountCents    int64  // for flat
	Currency       string // the program's, for flat
	Duration       string
	DurationMonths *int // repeating only
}

// Discount returns the program's discount, nil when it has none.
func (p Program) Discount() *Discount {
	t := p.ProgramCodeTerms
	if t.DiscountType == nil || t.DiscountDuration == nil {
		return nil
	}
	d := &Discount{Type: *t.DiscountType, Duration: *t.DiscountDuration, DurationMonths: t.DiscountDurationMonths}
	if t.DiscountPercentBP != nil {
		d.PercentBP = *t.DiscountPercentBP
	}
	if t.DiscountAmountCents != nil {
		d.AmountCents, d.Currency = *t.DiscountAmountCents, p.Currency
	}
	return d
}

// MarshalJSON is the API's shape: percent as a decimal number, amountCents
// and currency for a flat discount, durationMonths for a repeating one.
func (d Discount) MarshalJSON() ([]byte, error) {
	out := struct {
		Type           string          `json:"type"`
		Percent        json.RawMessage `json:"percent"`
		AmountCents    *int64          `json:"amountCents"`
		Currency       *string         `json:"currency"`
		Duration       string          `json:"duration"`
		DurationMonths *int            `json:"durationMonths"`
	}{Type: d.Type, Percent: []byte("null"), Duration: d.Duration, DurationMonths: d.DurationMonths}
	if d.Type == "percentage" {
		out.Percent = []byte(money.FormatPercent(d.PercentBP))
	} else {
		out.AmountCents, out.Currency = &d.AmountCents, &d.Currency
	}
	return json.Marshal(out)
}

// CodeTermsChange is what SetProgramCodeTerms did.
type CodeTermsChange struct {
	// DiscountChanged: the discount is not what it was, so it is a new
	// version (a new Stripe coupon for codes made from now on).
	DiscountChanged bool
	// KeptOld counts the live codes whose Stripe promotion codes keep an
	// earlier version of the discount (Stripe cannot change them).
	KeptOld int
	// ToStripe counts the live codes queued for a Stripe promotion code.
	ToStripe int
}

// SetProgramCodeTerms sets the program's discount (nil: none) and whether
// partners may create codes, in the caller's transaction (with the rest of
// a program's change). A different discount is a new version: its coupon
// is made anew, and the live codes without a Stripe promotion code are
// queued for one; codes that have one keep theirs. p becomes the program
// as stored.
func (tx *Tx) SetProgramCodeTerms(ctx context.Context, p *Program, d *Discount, partnersCreate bool) (CodeTermsChange, error) {
	typ, bp, cents, duration, months := discountColumns(d)
	var row struct {
		Program
		Changed bool `db:"changed"`
	}
	err := tx.get(ctx, &row, `
		WITH old AS (
			SELECT (discount_type, discount_percent_bp, discount_amount_cents, discount_duration, discount_duration_months)
				IS DISTINCT FROM ($3::text, $4::int, $5::bigint, $6::text, $7::int) AS changed
			FROM programs WHERE workspace_id = $1 AND id = $2 FOR UPDATE
		)
		UPDATE programs p SET discount_type = $3, discount_percent_bp = $4, discount_amount_cents = $5,
			discount_duration = $6, discount_duration_months = $7, partner_codes = $8,
			discount_version = discount_version + CASE WHEN old.changed THEN 1 ELSE 0 END,
			stripe_coupon_id = CASE WHEN old.changed THEN NULL ELSE stripe_coupon_id END,
			updated_at = now()
		FROM old WHERE p.workspace_id = $1 AND p.id = $2
		RETURNING `+programColsOf("p")+`, old.changed`,
		p.WorkspaceID, p.ID, typ, bp, cents, duration, months, partnersCreate)
	if err != nil {
		return CodeTermsChange{}, fmt.Errorf("store: set program code terms: %w", err)
	}
	*p = row.Program
	out := CodeTermsChange{DiscountChanged: row.Changed}
	if !row.Changed {
		return out, nil
	}
	var counts struct {
		Kept int `db:"kept"`
		Sync int `db:"sync"`
	}
	// Live codes without a promotion code wait for one with the new coupon
	// (or for nothing, without a discount).
	err = tx.get(ctx, &counts, `
		WITH q AS (
			UPDATE partner_codes SET stripe_sync = CASE WHEN $3 THEN 'create' ELSE 'idle' END,
				stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL
			WHERE workspace_id = $1 AND program_id = $2 AND retired_at IS NULL
			  AND stripe_promotion_code_id IS NULL
			RETURNING stripe_sync
		)
		SELECT (SELECT count(*) FROM q WHERE stripe_sync = 'create') AS sync,
			(SELECT count(*) FROM partner_codes WHERE workspace_id = $1 AND program_id = $2
				AND retired_at IS NULL AND stripe_promotion_code_id IS NOT NULL) AS kept`,
		p.WorkspaceID, p.ID, d != nil)
	if err != nil {
		return out, fmt.Errorf("store: set program code terms: %w", err)
	}
	out.KeptOld, out.ToStripe = counts.Kept, counts.Sync
	return out, nil
}

// discountColumns are the programs columns of d (all nil for none).
func discountColumns(d *Discount) (typ *string, bp, cents *int64, duration *string, months *int) {
	if d == nil {
		return nil, nil, nil, nil, nil
	}
	typ, duration, months = &d.Type, &d.Duration, d.DurationMonths
	if d.Type == "percentage" {
		bp = &d.PercentBP
	} else {
		cents = &d.AmountCents
	}
	return typ, bp, cents, duration, months
}

// SetDiscount puts d (nil: none) on p as CreateProgram stores it.
func (p *Program) SetDiscount(d *Discount) {
	t := &p.ProgramCodeTerms
	t.DiscountType, t.DiscountPercentBP, t.DiscountAmountCents, t.DiscountDuration, t.DiscountDurationMonths = discountColumns(d)
}

// programColsOf is programCols qualified by a table alias.
func programColsOf(alias string) string { return qualified(programCols, alias, "") }

// qualified qualifies a list of columns by a table alias and, with as set,
// names each as+column (for sqlx's nested structs: "p.id").
func qualified(cols, alias, as string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		c = strings.TrimSpace(c)
		parts[i] = alias + "." + c
		if as != "" {
			parts[i] += ` AS "` + as + c + `"`
		}
	}
	return strings.Join(parts, ", ")
}

// SetProgramCoupon records the Stripe coupon made for version of the
// program's discount; false when the discount has changed meanwhile (the
// coupon is not the current one, and is not recorded).
func (q Queries) SetProgramCoupon(ctx context.Context, workspaceID, programID string, version int, couponID string) (bool, error) {
	n, err := q.exec(ctx, `UPDATE programs SET stripe_coupon_id = $4
		WHERE workspace_id = $1 AND id = $2 AND discount_version = $3 AND discount_type IS NOT NULL`,
		workspaceID, programID, version, couponID)
	if err != nil {
		return false, fmt.Errorf("store: set program coupon: %w", err)
	}
	return n == 1, nil
}
