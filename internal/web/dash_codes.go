package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
	"github.com/partli/partli/internal/validator"
	"github.com/partli/partli/views/pages/dashboard"
)

// programCodesView is the program page's discount and codes section.
func (s *Server) programCodesView(c echo.Context, p *store.Program) (dashboard.ProgramCodesView, error) {
	ctx := c.Request().Context()
	v := dashboard.ProgramCodesView{CanEdit: progIsOwner(c), Program: p, Discount: p.Discount(), Form: discountFormOf(p)}
	var err error
	if v.Stripe, err = s.codes.StripeSetUp(ctx, p.WorkspaceID); err != nil {
		return v, err
	}
	if v.Reports, err = s.store.CodeReports(ctx, p.WorkspaceID, p.ID, ""); err != nil {
		return v, err
	}
	return v, nil
}

// partnerCodesView is a partner page's codes section.
func (s *Server) partnerCodesView(c echo.Context, pa *store.Partner, program *store.Program) (dashboard.PartnerCodesView, error) {
	ctx := c.Request().Context()
	v := dashboard.PartnerCodesView{CanEdit: currentUser(c).Role == "owner", PartnerID: pa.ID, Discount: program.Discount()}
	var err error
	if v.Stripe, err = s.codes.StripeSetUp(ctx, pa.WorkspaceID); err != nil {
		return v, err
	}
	codes, err := s.store.CodesOf(ctx, pa.WorkspaceID, pa.ID)
	if err != nil {
		return v, err
	}
	reports, err := s.store.CodeReports(ctx, pa.WorkspaceID, "", pa.ID)
	if err != nil {
		return v, err
	}
	byID := map[string]store.CodeReport{}
	for _, r := range reports {
		byID[r.CodeID] = r
	}
	for _, cd := range codes {
		v.Codes = append(v.Codes, dashboard.CodeRow{Code: cd, Report: byID[cd.ID]})
	}
	return v, nil
}

// discountFormOf is the discount form filled from what is stored.
func discountFormOf(p *store.Program) dashboard.DiscountForm {
	f := dashboard.DiscountForm{ProgramID: p.ID, Currency: p.Currency, Duration: store.DiscountOnce,
		PartnersCreate: p.PartnersCreateCodes}
	if d := p.Discount(); d != nil {
		f.Type, f.Duration, f.Preview = d.Type, d.Duration, dashboard.DiscountWords(d)
		if d.Type == tracking.Percentage {
			f.Percent = money.FormatPercent(d.PercentBP)
		} else {
			f.Amount = money.Decimal(d.AmountCents, p.Currency)
		}
		f.DurationMonths = progOptInt(d.DurationMonths)
	}
	return f
}

// readDiscountForm reads the discount form with the API's rules
// (readDiscount), worded for people. The input of an option not chosen is
// ignored, as in the reward form. d is nil for no discount.
func readDiscountForm(c echo.Context, p *store.Program) (f dashboard.DiscountForm, d *store.Discount) {
	v := func(name string) string { return strings.TrimSpace(c.FormValue(name)) }
	f = dashboard.DiscountForm{ProgramID: p.ID, Currency: p.Currency, Type: v("type"), Percent: v("percent"), Amount: v("amount"),
		Duration: v("duration"), DurationMonths: v("durationMonths"), PartnersCreate: c.FormValue("partnersCreate") == "true",
		Errors: map[string]string{}}
	d = &store.Discount{Type: f.Type, Currency: p.Currency, Duration: f.Duration}
	switch f.Type {
	case "":
		return f, nil
	case tracking.Percentage:
		if bp, code := validator.Percent(strings.TrimSpace(strings.TrimSuffix(f.Percent, "%"))); code == validator.CodeOK {
			d.PercentBP = bp
		} else if f.Percent == "" {
			f.Errors["percent"] = "Enter the percentage customers get off, such as 20."
		} else {
			f.Errors["percent"] = "Enter a number above 0 and at most 100, with at most two decimals, such as 12.5."
		}
	case tracking.Flat:
		if n, code := validator.Amount(f.Amount, p.Currency, 1); code == validator.CodeOK {
			d.AmountCents = n
		} else if f.Amount == "" {
			f.Errors["amount"] = "Enter the amount customers get off, such as " + progExample(p.Currency) + "."
		} else {
			f.Errors["amount"] = progAmountHelp(p.Currency, "above zero")
		}
	default:
		f.Errors["type"] = "Choose no discount, a percentage or an amount off."
	}
	switch f.Duration {
	case store.DiscountOnce, store.DiscountForever:
	case store.DiscountRepeating:
		if m, code := validator.Whole(f.DurationMonths, validator.DurationMonthsMin, validator.DurationMonthsMax); code == validator.CodeOK {
			d.DurationMonths = &m
		} else {
			f.Errors["durationMonths"] = "Enter a whole number of months from 1 to 1200."
		}
	default:
		f.Errors["duration"] = "Choose the first payment, some months or every payment."
	}
	if len(f.Errors) > 0 {
		return f, nil
	}
	return f, d
}

// DashDiscountPreview handles GET /programs/:id/discount-preview: the
// sentence of what the discount form would give, which HTMX swaps alone.
func (s *Server) DashDiscountPreview(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	f, d := readDiscountForm(c, p)
	f.Preview = dashboard.DiscountWords(d)
	return s.page(c, http.StatusOK, s.meta(c, p.Name, "programs"), dashboard.DiscountPreview(f))
}

// DashSetDiscount handles POST /programs/:id/discount. A changed discount
// is a new Stripe coupon for the codes made from then on, and the page
// says so when codes keep the earlier one.
func (s *Server) DashSetDiscount(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	f, d := readDiscountForm(c, p)
	if len(f.Errors) == 0 {
		var change store.CodeTermsChange
		err := s.store.InTx(c.Request().Context(), func(tx *store.Tx) error {
			var err error
			change, err = tx.SetProgramCodeTerms(c.Request().Context(), p, d, f.PartnersCreate)
			return err
		})
		if err != nil {
			return err
		}
		done := "discount-saved"
		switch {
		case change.DiscountChanged && d == nil:
			done = "discount-removed"
		case change.DiscountChanged && change.KeptOld > 0:
			done = "discount-new-coupon"
		}
		return redirect(c, "/programs/"+p.ID+"?done="+done+"#discount")
	}
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		v.Codes.Form = f
		return dashboard.DiscountEditor(v.CSRF, f)
	})
}

// dashCodeProblem words validator.Code's answer for the dashboard and the portal.
func dashCodeProblem(problem string) string {
	switch problem {
	case validator.CodeMissing:
		return "Enter a code, such as MAYA20."
	case validator.CodeCharacters:
		return "Use only letters, digits, - or _, without spaces."
	case validator.CodeLength:
		return "Use 3 to 32 characters."
	}
	return ""
}

// DashCreateCode handles POST /partners/:id/codes.
func (s *Server) DashCreateCode(c echo.Context) error {
	pa, err := s.partner(c)
	if err != nil {
		return err
	}
	code := strings.TrimSpace(c.FormValue("code"))
	msg := dashCodeProblem(validator.Code(code))
	if msg == "" {
		_, err := s.codes.Create(c.Request().Context(), pa.WorkspaceID, pa.ID, code, store.CodeByOwner)
		switch {
		case errors.Is(err, store.ErrCodeTaken):
			msg = "This workspace already has the code " + strings.ToUpper(code) + " (codes are the same in any case): choose another."
		case err != nil:
			return err
		default:
			return redirect(c, "/partners/"+pa.ID+"?done=code-added#codes")
		}
	}
	return s.partnerPage(c, pa, http.StatusUnprocessableEntity, func(v *dashboard.PartnerDetailView) {
		v.Codes.New, v.Codes.Error = code, msg
	})
}

// dashCode loads the :id code of the workspace.
func (s *Server) dashCode(c echo.Context) (*store.Code, error) {
	cd, err := s.store.Code(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("code")
	}
	return cd, err
}

// DashRetireCode handles POST /codes/:id/retire.
func (s *Server) DashRetireCode(c echo.Context) error {
	cd, err := s.dashCode(c)
	if err != nil {
		return err
	}
	if _, err := s.codes.Retire(c.Request().Context(), cd.WorkspaceID, cd.ID); err != nil {
		return err
	}
	return redirect(c, "/partners/"+cd.PartnerID+"?done=code-retired#codes")
}

// DashRetryCode handles POST /codes/:id/stripe-retry: the code's failed or
// abandoned Stripe work, tried now.
func (s *Server) DashRetryCode(c echo.Context) error {
	cd, err := s.dashCode(c)
	if err != nil {
		return err
	}
	if _, err := s.codes.Retry(c.Request().Context(), cd.WorkspaceID, cd.ID); err != nil {
		return err
	}
	return redirect(c, "/partners/"+cd.PartnerID+"?done=code-retry#codes")
}
