package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/codes"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
	"github.com/partli/partli/internal/tracking"
	"github.com/partli/partli/internal/validator"
)

// NewCodes is the codes service of an installation (the server's, and the
// worker's of partli serve): Stripe at PARTLI_STRIPE_API_BASE with the
// workspaces' keys, or PARTLI_STRIPE_SECRET_KEY for connected accounts.
func NewCodes(cfg config.Config, st *store.Store, log *slog.Logger) *codes.Service {
	return codes.New(st, codes.Config{StripeSecretKey: cfg.StripeSecretKey,
		Stripe: stripe.NewPayments(stripe.PaymentsConfig{APIBase: cfg.StripeAPIBase})}, log)
}

// CreateCode handles POST /api/partners/{id}/codes.
func (s *Server) CreateCode(c echo.Context) error {
	pa, err := s.partner(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	code, ok := b.str("code")
	if !ok && !b.has("code") {
		b.errs.Add("code", "is required")
	} else if ok {
		if msg := apiCodeProblem(validator.Code(code)); msg != "" {
			b.errs.Add("code", msg)
		}
	}
	if err := b.err(); err != nil {
		return err
	}
	cd, err := s.codes.Create(c.Request().Context(), pa.WorkspaceID, pa.ID, code, store.CodeByAPI)
	switch {
	case errors.Is(err, store.ErrCodeTaken):
		return conflict("code", "This workspace already has the code "+strings.ToUpper(code)+" (codes are the same in any case).")
	case errors.Is(err, store.ErrNotFound):
		return notFound("partner")
	case err != nil:
		return err
	}
	return c.JSON(http.StatusCreated, cd)
}

// apiCodeProblem words validator.Code's answer for the API.
func apiCodeProblem(problem string) string {
	switch problem {
	case validator.CodeMissing:
		return "is required"
	case validator.CodeCharacters:
		return "must be only letters, digits, - or _ (no spaces or other characters)"
	case validator.CodeLength:
		return "must be 3 to 32 characters"
	}
	return ""
}

// ListCodes handles GET /api/partners/{id}/codes: the partner's codes, live
// and retired, newest first.
func (s *Server) ListCodes(c echo.Context) error {
	pa, err := s.partner(c)
	if err != nil {
		return err
	}
	cs, err := s.store.CodesOf(c.Request().Context(), pa.WorkspaceID, pa.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(cs, nil))
}

// RetireCode handles DELETE /api/codes/{id}: the code is retired (it no
// longer attributes; its sales keep it) and its Stripe promotion code
// deactivated. Retiring a retired code is no error.
func (s *Server) RetireCode(c echo.Context) error {
	_, err := s.codes.Retire(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("code")
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// codeTerms are a program body's `discount` and `partnersCreateCodes`.
type codeTerms struct {
	set            bool // either was given
	discount       *store.Discount
	partnersCreate bool
}

// readCodeTerms reads `discount` (null: none) and `partnersCreateCodes`
// of a program body, starting from what p has.
func readCodeTerms(b *body, p *store.Program) codeTerms {
	t := codeTerms{discount: p.Discount(), partnersCreate: p.PartnersCreateCodes}
	if v, ok := b.boolean("partnersCreateCodes"); ok {
		t.partnersCreate, t.set = v, true
	} else if b.present("partnersCreateCodes") && !b.has("partnersCreateCodes") {
		b.errs.Add("partnersCreateCodes", "must not be null")
	}
	if b.present("discount") {
		t.set, t.discount = true, nil
		if b.has("discount") {
			t.discount = readDiscount(b, p.Currency)
		}
	}
	return t
}

// readDiscount reads the `discount` object of a program body; its fields'
// errors are named "discount.<field>".
func readDiscount(b *body, currency string) *store.Discount {
	raw := bytes.TrimSpace(b.raw["discount"])
	var fields map[string]json.RawMessage
	if len(raw) == 0 || raw[0] != '{' || json.Unmarshal(raw, &fields) != nil {
		b.errs.Add("discount", "must be an object or null")
		return nil
	}
	sub := &body{raw: fields, errs: Fields{}}
	d := &store.Discount{Currency: currency}
	for _, f := range []string{"type", "duration"} {
		if !sub.has(f) {
			sub.errs.Add(f, "is required")
		}
	}
	if v, ok := sub.str("type"); ok {
		if v != tracking.Percentage && v != tracking.Flat {
			sub.errs.Add("type", `must be "percentage" or "flat"`)
		}
		d.Type = v
	}
	hasPercent := sub.has("percent")
	if hasPercent {
		if bp, code := validator.Percent(strings.TrimSpace(string(sub.raw["percent"]))); code == validator.CodeOK {
			d.PercentBP = bp
		} else {
			sub.errs.Add("percent", "must be a number above 0 and at most 100, with at most two decimals")
		}
	}
	hasAmount := sub.has("amountCents")
	if v, ok := sub.int("amountCents", 1, money.MaxSaleCents); ok {
		d.AmountCents = v
	}
	if v, ok := sub.str("duration"); ok {
		if v != store.DiscountOnce && v != store.DiscountRepeating && v != store.DiscountForever {
			sub.errs.Add("duration", `must be "once", "repeating" or "forever"`)
		}
		d.Duration = v
	}
	hasMonths := sub.has("durationMonths")
	if v, ok := sub.int("durationMonths", validator.DurationMonthsMin, validator.DurationMonthsMax); ok {
		m := int(v)
		d.DurationMonths = &m
	}
	if len(sub.errs) == 0 {
		switch d.Type {
		case tracking.Percentage:
			if !hasPercent {
				sub.errs.Add("percent", "is required for a percentage discount")
			}
			if hasAmount {
				sub.errs.Add("amountCents", "must not be set for a percentage discount")
			}
		case tracking.Flat:
			if !hasAmount {
				sub.errs.Add("amountCents", "is required for a flat discount")
			}
			if hasPercent {
				sub.errs.Add("percent", "must not be set for a flat discount")
			}
		}
		switch {
		case d.Duration == store.DiscountRepeating && !hasMonths:
			sub.errs.Add("durationMonths", `is required for a "repeating" discount`)
		case d.Duration != store.DiscountRepeating && hasMonths:
			sub.errs.Add("durationMonths", `applies to a "repeating" discount only`)
		}
	}
	for f, msg := range sub.errs {
		b.errs.Add("discount."+f, msg)
	}
	if len(sub.errs) > 0 {
		return nil
	}
	return d
}
