package dashboard

import (
	"strings"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// DiscountForm is the program's customer discount form as typed: Type ""
// is no discount.
type DiscountForm struct {
	ProgramID      string
	Currency       string // the program's: flat amounts are in it
	Type           string // "", "percentage" or "flat"
	Percent        string
	Amount         string // major units, e.g. "5.00"
	Duration       string // once, repeating or forever
	DurationMonths string
	PartnersCreate bool
	Preview        string // what customers get, in words
	Errors         map[string]string
}

// Err is the message for field, "" when it passed.
func (f DiscountForm) Err(field string) string { return f.Errors[field] }

func (f DiscountForm) id(field string) string { return "d-" + field }

// ProgramCodesView is the program page's section on what referred
// customers get and the program's codes.
type ProgramCodesView struct {
	CanEdit  bool
	Program  *store.Program
	Discount *store.Discount // the program's
	Form     DiscountForm
	Stripe   bool // the workspace has Stripe set up for codes
	Reports  []store.CodeReport
	Partners int64 // partners of the program, for the empty report
}

// PartnerCodesView is a partner page's codes, with what each brought in.
type PartnerCodesView struct {
	CanEdit   bool
	PartnerID string
	Discount  *store.Discount // the program's
	Stripe    bool
	Codes     []CodeRow
	New       string // the code being added, as typed
	Error     string
}

// CodeRow is one code with its report.
type CodeRow struct {
	store.Code
	Report store.CodeReport
}

// DiscountWords says what a referred customer gets (components.DiscountWords).
func DiscountWords(d *store.Discount) string { return components.DiscountWords(d) }

// CodeSales is a code's sales in words: "14 sales", "1 sale".
func CodeSales(r store.CodeReport) string {
	return plural(r.Sales, "sale")
}

// CodeLeads is a code's leads in words.
func CodeLeads(r store.CodeReport) string {
	return plural(r.Leads, "lead")
}

// CodeAmounts are a report's sales amounts per currency: "$1,200.00, €80.00".
func CodeAmounts(r store.CodeReport, commissions bool) string {
	var parts []string
	for _, a := range r.Amounts {
		n := a.SalesCents
		if commissions {
			n = a.CommissionCents
		}
		if n != 0 || len(r.Amounts) == 1 {
			parts = append(parts, components.Money(n, a.Currency))
		}
	}
	if len(parts) == 0 {
		return "—"
	}
	return strings.Join(parts, ", ")
}

// codeStripeText says where a code stands in Stripe, for the owner.
func codeStripeText(c store.Code, stripe bool, discount *store.Discount) string {
	switch c.StripeStatus() {
	case store.StripeCodeActive:
		return "Promotion code " + deref(c.StripePromotionCodeID)
	case store.StripeCodeDeactivated:
		return "Promotion code " + deref(c.StripePromotionCodeID) + ", deactivated"
	case store.StripeCodePending:
		if c.Live() {
			return "Being made a Stripe promotion code"
		}
		return "Its promotion code is being deactivated"
	case store.StripeCodeFailed:
		return c.StripeError
	}
	switch {
	case !c.Live():
		return "No promotion code"
	case discount == nil:
		return "No Stripe promotion code: the program has no customer discount"
	case !stripe:
		return "No Stripe promotion code: set up Stripe to make one"
	}
	return "No promotion code"
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
