package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Codes (migration 00017): a partner's codes ("MAYA20"), which attribute a
// sale or lead that no click attributes; the program's discount for the
// customers its partners refer; and, with Stripe set up, the Stripe coupon
// of each version of that discount and a Stripe promotion code per code.

// ErrCodeTaken is a code the workspace already has, in any case.
var ErrCodeTaken = errors.New("store: the workspace already has this code")

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
		out.Percent = []byte(FormatPercent(d.PercentBP))
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
func programColsOf(alias string) string {
	cols := strings.Split(programCols, ",")
	for i, c := range cols {
		cols[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
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

// Who made a code.
const (
	CodeByOwner   = "owner"
	CodeByAPI     = "api"
	CodeByPartner = "partner"
)

// Code is a partner's code. What Stripe has of it (a promotion code) is
// made and deactivated by a worker (internal/codes), which records its
// failures here and tries again.
type Code struct {
	WorkspaceID           string     `db:"workspace_id" json:"-"`
	ID                    string     `db:"id" json:"id"`
	ProgramID             string     `db:"program_id" json:"programId"`
	PartnerID             string     `db:"partner_id" json:"partnerId"`
	Code                  string     `db:"code" json:"code"`
	CreatedBy             string     `db:"created_by" json:"createdBy"`
	CreatedAt             time.Time  `db:"created_at" json:"createdAt"`
	RetiredAt             *time.Time `db:"retired_at" json:"retiredAt"`
	StripePromotionCodeID *string    `db:"stripe_promotion_code_id" json:"stripePromotionCodeId"`
	StripeCouponID        *string    `db:"stripe_coupon_id" json:"-"`
	DiscountVersion       *int       `db:"discount_version" json:"-"`
	StripeDeactivatedAt   *time.Time `db:"stripe_deactivated_at" json:"-"`
	StripeSync            string     `db:"stripe_sync" json:"-"` // idle, create, deactivate
	StripeError           string     `db:"stripe_error" json:"-"`
	StripeAttempts        int        `db:"stripe_attempts" json:"-"`
	StripeRetryAt         *time.Time `db:"stripe_retry_at" json:"-"`
	StripeLeaseUntil      *time.Time `db:"stripe_lease_until" json:"-"`
}

// Where a code stands in Stripe.
const (
	StripeCodeNone        = "none"        // no promotion code, and none to make
	StripeCodePending     = "pending"     // to be made or deactivated
	StripeCodeFailed      = "failed"      // the last attempt failed (StripeError); tried again at StripeRetryAt
	StripeCodeActive      = "active"      // a live promotion code
	StripeCodeDeactivated = "deactivated" // the promotion code of a retired code, deactivated
)

// StripeStatus says where the code stands in Stripe.
func (c Code) StripeStatus() string {
	switch {
	case c.StripeSync != "idle" && c.StripeError != "":
		return StripeCodeFailed
	case c.StripeSync != "idle":
		return StripeCodePending
	case c.StripeDeactivatedAt != nil:
		return StripeCodeDeactivated
	case c.StripeError != "":
		return StripeCodeFailed // given up, or refused for good: the error says which
	case c.StripePromotionCodeID != nil && c.RetiredAt == nil:
		return StripeCodeActive
	}
	return StripeCodeNone
}

// Live reports whether the code attributes (it is not retired).
func (c Code) Live() bool { return c.RetiredAt == nil }

// MarshalJSON adds `status` (live or retired), `stripeStatus` and
// `stripeError` (null when there is none).
func (c Code) MarshalJSON() ([]byte, error) {
	type plain Code
	status := "live"
	if !c.Live() {
		status = "retired"
	}
	var stripeErr *string
	if c.StripeError != "" {
		stripeErr = &c.StripeError
	}
	return json.Marshal(struct {
		plain
		Status       string  `json:"status"`
		StripeStatus string  `json:"stripeStatus"`
		StripeError  *string `json:"stripeError"`
	}{plain(c), status, c.StripeStatus(), stripeErr})
}

const codeCols = `workspace_id, id, program_id, partner_id, code, created_by, created_at, retired_at,
	stripe_promotion_code_id, stripe_coupon_id, discount_version, stripe_deactivated_at, stripe_sync, stripe_error,
	stripe_attempts, stripe_retry_at, stripe_lease_until`

// CreateCode inserts a live code of a partner (its program is the
// partner's); ErrCodeTaken when the workspace has the code in any case.
// It is queued for a Stripe promotion code when the program has a
// discount. A link of the partner learns its code (links.go).
func (q Queries) CreateCode(ctx context.Context, c *Code) error {
	err := q.get(ctx, c, `
		WITH c AS (
			INSERT INTO partner_codes (workspace_id, id, program_id, partner_id, code, created_by, stripe_sync)
			SELECT pa.workspace_id, $2, pa.program_id, pa.id, $4, $5,
				CASE WHEN pr.discount_type IS NOT NULL THEN 'create' ELSE 'idle' END
			FROM partners pa JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
			WHERE pa.workspace_id = $1 AND pa.id = $3
			RETURNING `+codeCols+`
		), link_change AS (
			INSERT INTO link_changes (slug)
			SELECT pa.slug FROM partners pa JOIN c ON pa.workspace_id = c.workspace_id AND pa.id = c.partner_id
		)
		SELECT * FROM c`, c.WorkspaceID, c.ID, c.PartnerID, c.Code, c.CreatedBy)
	if ConflictOn(err, "partner_codes_code_key") {
		return ErrCodeTaken
	}
	if err != nil {
		return fmt.Errorf("store: create code: %w", err)
	}
	q.forgetPartnerLink(ctx, c.WorkspaceID, c.PartnerID)
	return nil
}

// forgetPartnerLink drops the partner's link from this process's cache
// (other replicas read link_changes).
func (q Queries) forgetPartnerLink(ctx context.Context, workspaceID, partnerID string) {
	if q.links == nil {
		return
	}
	var slug string
	if err := q.get(ctx, &slug, `SELECT slug FROM partners WHERE workspace_id = $1 AND id = $2`, workspaceID, partnerID); err == nil {
		q.links.forget(slug, "")
	}
}

// Code returns one code of the workspace.
func (q Queries) Code(ctx context.Context, workspaceID, id string) (*Code, error) {
	var c Code
	if err := q.get(ctx, &c, `SELECT `+codeCols+` FROM partner_codes WHERE workspace_id = $1 AND id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: code: %w", err)
	}
	return &c, nil
}

// CodesOf lists a partner's codes, live and retired, newest first.
func (q Queries) CodesOf(ctx context.Context, workspaceID, partnerID string) ([]Code, error) {
	var cs []Code
	err := q.sel(ctx, &cs, `SELECT `+codeCols+` FROM partner_codes WHERE workspace_id = $1 AND partner_id = $2
		ORDER BY created_at DESC, id DESC`, workspaceID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: codes of partner: %w", err)
	}
	return cs, nil
}

// LiveCodesCount counts a partner's live codes.
func (q Queries) LiveCodesCount(ctx context.Context, workspaceID, partnerID string) (int, error) {
	var n int
	err := q.get(ctx, &n, `SELECT count(*) FROM partner_codes WHERE workspace_id = $1 AND partner_id = $2 AND retired_at IS NULL`,
		workspaceID, partnerID)
	if err != nil {
		return 0, fmt.Errorf("store: count codes: %w", err)
	}
	return n, nil
}

// RetireCode retires a code: it attributes nothing from now on, and its
// Stripe promotion code, if any, is queued to be deactivated. Its sales
// keep pointing at it. Retiring a retired code changes nothing.
func (q Queries) RetireCode(ctx context.Context, workspaceID, id string) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `
		WITH c AS (
			UPDATE partner_codes SET retired_at = now(),
				stripe_sync = CASE WHEN stripe_promotion_code_id IS NOT NULL THEN 'deactivate' ELSE 'idle' END,
				stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL
			WHERE workspace_id = $1 AND id = $2 AND retired_at IS NULL
			RETURNING `+codeCols+`
		), link_change AS (
			INSERT INTO link_changes (slug)
			SELECT pa.slug FROM partners pa JOIN c ON pa.workspace_id = c.workspace_id AND pa.id = c.partner_id
		)
		SELECT * FROM c`, workspaceID, id)
	if errors.Is(err, ErrNotFound) {
		return q.Code(ctx, workspaceID, id) // retired already, or no such code
	}
	if err != nil {
		return nil, fmt.Errorf("store: retire code: %w", err)
	}
	q.forgetPartnerLink(ctx, workspaceID, c.PartnerID)
	return &c, nil
}

// LiveCode is a live code of an approved partner, as attribution reads it.
type LiveCode struct {
	ID        string `db:"id"`
	PartnerID string `db:"partner_id"`
	ProgramID string `db:"program_id"`
	Code      string `db:"code"`
}

// liveCodeWhere is the condition, shared by the sale lookup and the lead
// pipeline, that a code of table alias co is $n of workspace $ws in any
// case, live, and its partner (alias pa) approved.
func liveCodeWhere(ws, n string) string {
	return `co.workspace_id = ` + ws + ` AND lower(co.code) = lower(` + n + `) AND co.retired_at IS NULL
		AND pa.workspace_id = co.workspace_id AND pa.id = co.partner_id AND pa.status = 'approved'`
}

// LiveCodeByCode finds the workspace's live code written code (in any
// case) of an approved partner; ErrNotFound otherwise.
func (q Queries) LiveCodeByCode(ctx context.Context, workspaceID, code string) (*LiveCode, error) {
	var c LiveCode
	err := q.get(ctx, &c, `SELECT co.id, co.partner_id, co.program_id, co.code FROM partner_codes co, partners pa
		WHERE `+liveCodeWhere("$1", "$2"), workspaceID, code)
	if err != nil {
		return nil, fmt.Errorf("store: live code: %w", err)
	}
	return &c, nil
}

// CodeByPromotionCode finds the workspace's code whose Stripe promotion
// code is promotionCodeID (live or retired).
func (q Queries) CodeByPromotionCode(ctx context.Context, workspaceID, promotionCodeID string) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `SELECT `+codeCols+` FROM partner_codes WHERE workspace_id = $1 AND stripe_promotion_code_id = $2`,
		workspaceID, promotionCodeID)
	if err != nil {
		return nil, fmt.Errorf("store: code by promotion code: %w", err)
	}
	return &c, nil
}

// QueueWorkspaceCodes queues for a Stripe promotion code every live code of
// the workspace that has none, in programs with a discount (the workspace
// has just set up Stripe). It returns how many.
func (q Queries) QueueWorkspaceCodes(ctx context.Context, workspaceID string) (int64, error) {
	n, err := q.exec(ctx, `
		UPDATE partner_codes co SET stripe_sync = 'create', stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL
		FROM programs pr
		WHERE co.workspace_id = $1 AND pr.workspace_id = co.workspace_id AND pr.id = co.program_id
		  AND pr.discount_type IS NOT NULL AND co.retired_at IS NULL AND co.stripe_promotion_code_id IS NULL`, workspaceID)
	if err != nil {
		return 0, fmt.Errorf("store: queue codes: %w", err)
	}
	return n, nil
}

// RetryCodeSync asks for the code's Stripe work to be tried again now: a
// live code without a promotion code in a program with a discount is made
// one, a retired code's promotion code is deactivated. It reports whether
// there was anything to do.
func (q Queries) RetryCodeSync(ctx context.Context, workspaceID, id string) (bool, error) {
	n, err := q.exec(ctx, `
		UPDATE partner_codes co SET stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL,
			stripe_sync = CASE WHEN co.retired_at IS NULL THEN 'create' ELSE 'deactivate' END
		FROM programs pr
		WHERE co.workspace_id = $1 AND co.id = $2 AND pr.workspace_id = co.workspace_id AND pr.id = co.program_id
		  AND ((co.retired_at IS NULL AND co.stripe_promotion_code_id IS NULL AND pr.discount_type IS NOT NULL)
		    OR (co.retired_at IS NOT NULL AND co.stripe_promotion_code_id IS NOT NULL AND co.stripe_deactivated_at IS NULL))`,
		workspaceID, id)
	if err != nil {
		return false, fmt.Errorf("store: retry code sync: %w", err)
	}
	return n == 1, nil
}

// CodeSync is a code claimed for its Stripe work, with the program's
// discount as it stands.
type CodeSync struct {
	Code
	Program Program `db:"p"`
}

const codeSyncSelect = `SELECT c.workspace_id, c.id, c.program_id, c.partner_id, c.code, c.created_by, c.created_at, c.retired_at,
	c.stripe_promotion_code_id, c.stripe_coupon_id, c.discount_version, c.stripe_deactivated_at, c.stripe_sync, c.stripe_error,
	c.stripe_attempts, c.stripe_retry_at, c.stripe_lease_until,
	p.id AS "p.id", p.workspace_id AS "p.workspace_id", p.name AS "p.name", p.slug AS "p.slug",
	p.destination_url AS "p.destination_url", p.currency AS "p.currency", p.holding_period_days AS "p.holding_period_days",
	p.cookie_days AS "p.cookie_days", p.min_payout_cents AS "p.min_payout_cents", p.auto_approve AS "p.auto_approve",
	p.payout_schedule AS "p.payout_schedule", p.payout_day AS "p.payout_day", p.verified_at AS "p.verified_at",
	p.created_at AS "p.created_at", p.updated_at AS "p.updated_at", p.discount_type AS "p.discount_type",
	p.discount_percent_bp AS "p.discount_percent_bp", p.discount_amount_cents AS "p.discount_amount_cents",
	p.discount_duration AS "p.discount_duration", p.discount_duration_months AS "p.discount_duration_months",
	p.discount_version AS "p.discount_version", p.stripe_coupon_id AS "p.stripe_coupon_id", p.partner_codes AS "p.partner_codes"
	FROM c JOIN programs p ON p.workspace_id = c.workspace_id AND p.id = c.program_id`

// ClaimCodeSyncs claims up to limit codes, of any workspace, whose Stripe
// work is due and not held by another worker, for lease. Claimed codes are
// held until the lease runs out or their outcome is recorded.
func (q Queries) ClaimCodeSyncs(ctx context.Context, limit int, lease time.Duration) ([]CodeSync, error) {
	var cs []CodeSync
	err := q.sel(ctx, &cs, `
		WITH due AS (
			SELECT workspace_id, id FROM partner_codes
			WHERE stripe_sync <> 'idle' AND (stripe_retry_at IS NULL OR stripe_retry_at <= now())
			  AND (stripe_lease_until IS NULL OR stripe_lease_until < now())
			ORDER BY stripe_retry_at NULLS FIRST, workspace_id, id LIMIT $1
			FOR UPDATE SKIP LOCKED
		), c AS (
			UPDATE partner_codes co SET stripe_lease_until = now() + $2 * interval '1 second'
			FROM due WHERE co.workspace_id = due.workspace_id AND co.id = due.id
			RETURNING co.*
		) `+codeSyncSelect, limit, lease.Seconds())
	if err != nil {
		return nil, fmt.Errorf("store: claim code syncs: %w", err)
	}
	return cs, nil
}

// ClaimCodeSync claims one code's Stripe work for lease, when it has work
// due that no one else holds; nil otherwise.
func (q Queries) ClaimCodeSync(ctx context.Context, workspaceID, id string, lease time.Duration) (*CodeSync, error) {
	var cs CodeSync
	err := q.get(ctx, &cs, `
		WITH c AS (
			UPDATE partner_codes SET stripe_lease_until = now() + $3 * interval '1 second'
			WHERE workspace_id = $1 AND id = $2 AND stripe_sync <> 'idle'
			  AND (stripe_lease_until IS NULL OR stripe_lease_until < now())
			RETURNING *
		) `+codeSyncSelect, workspaceID, id, lease.Seconds())
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: claim code sync: %w", err)
	}
	return &cs, nil
}

// CodeSynced records a promotion code made for a code with couponID, the
// coupon of discount version. A code retired meanwhile is queued to have
// it deactivated at once.
func (q Queries) CodeSynced(ctx context.Context, workspaceID, id, promotionCodeID, couponID string, version int) (*Code, error) {
	var c Code
	// The partner's link may carry this code from now on (partnerCodeSQL).
	err := q.get(ctx, &c, `
		WITH c AS (
			UPDATE partner_codes SET stripe_promotion_code_id = $3, stripe_coupon_id = $4, discount_version = $5,
				stripe_sync = CASE WHEN retired_at IS NULL THEN 'idle' ELSE 'deactivate' END,
				stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL, stripe_lease_until = NULL
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+codeCols+`
		), link_change AS (
			INSERT INTO link_changes (slug)
			SELECT pa.slug FROM partners pa JOIN c ON pa.workspace_id = c.workspace_id AND pa.id = c.partner_id
		)
		SELECT * FROM c`, workspaceID, id, promotionCodeID, couponID, version)
	if err != nil {
		return nil, fmt.Errorf("store: code synced: %w", err)
	}
	q.forgetPartnerLink(ctx, workspaceID, c.PartnerID)
	return &c, nil
}

// CodeDeactivated records that a retired code's promotion code is
// deactivated in Stripe.
func (q Queries) CodeDeactivated(ctx context.Context, workspaceID, id string) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `
		UPDATE partner_codes SET stripe_deactivated_at = now(), stripe_sync = 'idle',
			stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL, stripe_lease_until = NULL
		WHERE workspace_id = $1 AND id = $2 AND stripe_promotion_code_id IS NOT NULL
		RETURNING `+codeCols, workspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("store: code deactivated: %w", err)
	}
	return &c, nil
}

// CodeSyncFailed records a failed attempt at a code's Stripe work: its
// words, and when to try again (nil: not again until someone asks; the
// work is dropped). A code whose work was re-queued meanwhile (a retry
// asked for, a new discount) keeps the new request.
func (q Queries) CodeSyncFailed(ctx context.Context, workspaceID, id, message string, retryAt *time.Time) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `
		UPDATE partner_codes SET stripe_error = $3, stripe_attempts = stripe_attempts + 1, stripe_retry_at = $4,
			stripe_sync = CASE WHEN $4::timestamptz IS NULL THEN 'idle' ELSE stripe_sync END, stripe_lease_until = NULL
		WHERE workspace_id = $1 AND id = $2
		RETURNING `+codeCols, workspaceID, id, message, retryAt)
	if err != nil {
		return nil, fmt.Errorf("store: code sync failed: %w", err)
	}
	return &c, nil
}

// CodeSyncDone records that a code has no Stripe work after all (no
// discount, or no Stripe set up), with why ("" when it is nothing to
// report).
func (q Queries) CodeSyncDone(ctx context.Context, workspaceID, id, message string) (*Code, error) {
	var c Code
	err := q.get(ctx, &c, `
		UPDATE partner_codes SET stripe_sync = 'idle', stripe_error = $3, stripe_attempts = 0, stripe_retry_at = NULL,
			stripe_lease_until = NULL
		WHERE workspace_id = $1 AND id = $2
		RETURNING `+codeCols, workspaceID, id, message)
	if err != nil {
		return nil, fmt.Errorf("store: code sync done: %w", err)
	}
	return &c, nil
}

// PartnerCode is the code a partner's link carries to the merchant's site
// (partli.js stamps it on Stripe Payment Links): the newest live code,
// preferring one Stripe knows. Links read it with their partner (links.go).
const partnerCodeSQL = `(SELECT co.code FROM partner_codes co
	WHERE co.workspace_id = pa.workspace_id AND co.partner_id = pa.id AND co.retired_at IS NULL
	ORDER BY co.stripe_promotion_code_id IS NULL, co.created_at DESC, co.id DESC LIMIT 1)`

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
