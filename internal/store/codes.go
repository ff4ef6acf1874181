package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Codes (migration 00017): a partner's codes ("MAYA20"), which attribute a
// sale or lead that no click attributes; the program's discount for the
// customers its partners refer; and, with Stripe set up, the Stripe coupon
// of each version of that discount and a Stripe promotion code per code.

// ErrCodeTaken is a code the workspace already has, in any case.
var ErrCodeTaken = errors.New("store: the workspace already has this code")

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
	err := q.atomically(ctx, func(q Queries) error {
		// The partner's program and whether it has a discount first, then
		// the code: Citus plans no INSERT … SELECT of a join with RETURNING.
		var of struct {
			ProgramID string `db:"program_id"`
			Sync      string `db:"sync"`
		}
		err := q.get(ctx, &of, `
			SELECT pa.program_id, CASE WHEN pr.discount_type IS NOT NULL THEN 'create' ELSE 'idle' END AS sync
			FROM partners pa JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
			WHERE pa.workspace_id = $1 AND pa.id = $2
			FOR SHARE OF pr`, c.WorkspaceID, c.PartnerID)
		if err != nil {
			return err
		}
		err = q.get(ctx, c, `
			INSERT INTO partner_codes (workspace_id, id, program_id, partner_id, code, created_by, stripe_sync)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			RETURNING `+codeCols, c.WorkspaceID, c.ID, of.ProgramID, c.PartnerID, c.Code, c.CreatedBy, of.Sync)
		if err != nil {
			return err
		}
		return q.codeLinkChanged(ctx, c)
	})
	if ConflictKey(err) == PartnerCodeKey {
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

// RetireCode retires a code: it attributes nothing from now on, and its
// Stripe promotion code, if any, is queued to be deactivated. Its sales
// keep pointing at it. Retiring a retired code changes nothing.
func (q Queries) RetireCode(ctx context.Context, workspaceID, id string) (*Code, error) {
	var c Code
	err := q.atomically(ctx, func(q Queries) error {
		err := q.get(ctx, &c, `
			UPDATE partner_codes SET retired_at = now(),
				stripe_sync = CASE WHEN stripe_promotion_code_id IS NOT NULL THEN 'deactivate' ELSE 'idle' END,
				stripe_error = '', stripe_attempts = 0, stripe_retry_at = NULL
			WHERE workspace_id = $1 AND id = $2 AND retired_at IS NULL
			RETURNING `+codeCols, workspaceID, id)
		if err != nil {
			return err
		}
		return q.codeLinkChanged(ctx, &c)
	})
	if errors.Is(err, ErrNotFound) {
		return q.Code(ctx, workspaceID, id) // retired already, or no such code
	}
	if err != nil {
		return nil, fmt.Errorf("store: retire code: %w", err)
	}
	q.forgetPartnerLink(ctx, workspaceID, c.PartnerID)
	return &c, nil
}

// codeLinkChanged logs a change of the links of c's partner (a link carries
// its partner's code), in a statement of its own: Citus plans no statement
// that writes a distributed table and the reference table link_changes
// from one CTE.
func (q Queries) codeLinkChanged(ctx context.Context, c *Code) error {
	_, err := q.exec(ctx, `INSERT INTO link_changes (slug) SELECT slug FROM partners WHERE workspace_id = $1 AND id = $2`,
		c.WorkspaceID, c.PartnerID)
	return err
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

// PartnerCode is the code a partner's link carries to the merchant's site
// (partli.js stamps it on Stripe Payment Links): the newest live code,
// preferring one Stripe knows. Links read it with their partner (links.go).
const partnerCodeSQL = `(SELECT co.code FROM partner_codes co
	WHERE co.workspace_id = pa.workspace_id AND co.partner_id = pa.id AND co.retired_at IS NULL
	ORDER BY co.stripe_promotion_code_id IS NULL, co.created_at DESC, co.id DESC LIMIT 1)`
