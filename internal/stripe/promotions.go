package stripe

// The Stripe calls of codes (internal/codes): a program's discount becomes
// a coupon, each partner code a promotion code of that coupon, and a
// retired code's promotion code is deactivated. They are made in the
// merchant's own Stripe account: with the workspace's secret key, or with
// the platform's key on behalf of the account the workspace connected.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	stripego "github.com/stripe/stripe-go/v85"
)

// ErrCall is a call to Stripe whose outcome is unknown: no answer, a
// timeout, a 5xx, a 409 or a 429. Asking again is safe.
var ErrCall = errors.New("stripe: no answer")

// callErr is refusedOrUnknown, with unknown outcomes marked ErrCall.
func callErr(what string, err error) error {
	err = refusedOrUnknown(what, err)
	var refused *RefusedByStripe
	if errors.As(err, &refused) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCall, err)
}

// Access is how Partli acts in a merchant's Stripe account: its secret key,
// or the platform's key and the connected Account.
type Access struct {
	Key     string
	Account string // "" with the merchant's own key
}

func (a Access) on(p *stripego.Params) {
	if a.Account != "" {
		p.SetStripeAccount(a.Account)
	}
}

// Metadata keys Partli puts on its coupons and promotion codes.
const (
	MetadataProgramID       = "partli_program_id"
	MetadataDiscountVersion = "partli_discount_version"
	MetadataCodeID          = "partli_code_id"
)

// CouponRequest is a coupon to make: the ID is Partli's own (one per
// program and discount version), so making it twice makes it once.
type CouponRequest struct {
	ID             string
	Name           string
	PercentOff     *float64 // or
	AmountOff      *int64   // with Currency
	Currency       string
	Duration       string // once, repeating, forever
	DurationMonths *int64 // repeating only
	Metadata       map[string]string
}

// CreateCoupon makes the coupon, or finds it made by an earlier attempt
// whose answer was lost, and returns its id.
func (p *Payments) CreateCoupon(ctx context.Context, a Access, r CouponRequest) (string, error) {
	params := &stripego.CouponCreateParams{
		ID: stripego.String(r.ID), Name: stripego.String(r.Name), Duration: stripego.String(r.Duration),
		PercentOff: r.PercentOff, AmountOff: r.AmountOff, DurationInMonths: r.DurationMonths,
	}
	if r.AmountOff != nil {
		params.Currency = stripego.String(strings.ToLower(r.Currency))
	}
	for k, v := range r.Metadata {
		params.AddMetadata(k, v)
	}
	params.SetIdempotencyKey("partli-coupon-" + r.ID)
	a.on(&params.Params)
	c, err := p.client(a.Key).V1Coupons.Create(ctx, params)
	var se *stripego.Error
	if errors.As(err, &se) && se.Code == stripego.ErrorCodeResourceAlreadyExists {
		got := &stripego.CouponRetrieveParams{}
		a.on(&got.Params)
		if c, err = p.client(a.Key).V1Coupons.Retrieve(ctx, r.ID, got); err != nil {
			return "", callErr("read coupon "+r.ID, err)
		}
		return c.ID, nil
	}
	if err != nil {
		return "", callErr("create coupon "+r.ID, err)
	}
	if c.ID == "" {
		return "", fmt.Errorf("stripe: created coupon %s: the answer names no coupon", r.ID)
	}
	return c.ID, nil
}

// PromotionCodeRequest is a promotion code to make for a partner code.
type PromotionCodeRequest struct {
	Code     string
	CouponID string
	// IdempotencyKey is made from the code's id and discount version, so
	// a retry within Stripe's 24 hours makes one promotion code.
	IdempotencyKey string
	Metadata       map[string]string
}

// CreatePromotionCode makes a promotion code of the coupon and returns its
// id. A *RefusedByStripe error means none was made (Stripe's words say why:
// an active promotion code with this code exists, the coupon is gone, …).
func (p *Payments) CreatePromotionCode(ctx context.Context, a Access, r PromotionCodeRequest) (string, error) {
	params := &stripego.PromotionCodeCreateParams{
		Code: stripego.String(r.Code),
		Promotion: &stripego.PromotionCodeCreatePromotionParams{
			Type: stripego.String("coupon"), Coupon: stripego.String(r.CouponID)},
	}
	for k, v := range r.Metadata {
		params.AddMetadata(k, v)
	}
	params.SetIdempotencyKey(r.IdempotencyKey)
	a.on(&params.Params)
	pc, err := p.client(a.Key).V1PromotionCodes.Create(ctx, params)
	if err != nil {
		return "", callErr("create promotion code "+r.Code, err)
	}
	if !strings.HasPrefix(pc.ID, "promo_") {
		return "", fmt.Errorf("stripe: created promotion code %s: the answer names no promotion code (%q)", r.Code, pc.ID)
	}
	return pc.ID, nil
}

// FindPromotionCode looks among the account's promotion codes written code
// for the one Partli made for the code codeID (by its metadata), and
// returns its id, or "" when there is none: how an attempt whose answer was
// lost, after Stripe's idempotency keys have expired, is settled without
// making a second one.
func (p *Payments) FindPromotionCode(ctx context.Context, a Access, code, codeID string) (string, error) {
	params := &stripego.PromotionCodeListParams{Code: stripego.String(code)}
	params.Limit = stripego.Int64(100)
	if a.Account != "" {
		params.StripeAccount = stripego.String(a.Account)
	}
	for pc, err := range p.client(a.Key).V1PromotionCodes.List(ctx, params).All(ctx) {
		if err != nil {
			return "", callErr("list promotion codes "+code, err)
		}
		if pc.Metadata[MetadataCodeID] == codeID && strings.EqualFold(pc.Code, code) {
			return pc.ID, nil
		}
	}
	return "", nil
}

// DeactivatePromotionCode turns a promotion code off: customers can no
// longer use it. Doing it twice is harmless.
func (p *Payments) DeactivatePromotionCode(ctx context.Context, a Access, promotionCodeID string) error {
	params := &stripego.PromotionCodeUpdateParams{Active: stripego.Bool(false)}
	params.SetIdempotencyKey("partli-deactivate-" + promotionCodeID)
	a.on(&params.Params)
	if _, err := p.client(a.Key).V1PromotionCodes.Update(ctx, promotionCodeID, params); err != nil {
		return callErr("deactivate promotion code "+promotionCodeID, err)
	}
	return nil
}

// InvoicePromotionCodes reads an invoice with its discounts expanded and
// returns the promotion codes they name (an invoice.paid event names its
// discounts by id only).
func (p *Payments) InvoicePromotionCodes(ctx context.Context, a Access, invoiceID string) ([]string, error) {
	params := &stripego.InvoiceRetrieveParams{}
	params.AddExpand("discounts")
	a.on(&params.Params)
	inv, err := p.client(a.Key).V1Invoices.Retrieve(ctx, invoiceID, params)
	if err != nil {
		return nil, callErr("read invoice "+invoiceID, err)
	}
	var d discounts
	if inv.LastResponse == nil || json.Unmarshal(inv.LastResponse.RawJSON, &d) != nil {
		return nil, fmt.Errorf("stripe: reading invoice %s: not an invoice", invoiceID)
	}
	ps, _ := d.promotions()
	ids := make([]string, 0, len(ps))
	for _, pc := range ps {
		if pc.ID != "" {
			ids = append(ids, pc.ID)
		}
	}
	return ids, nil
}
