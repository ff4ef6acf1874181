package portal

import (
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
	"github.com/partli/partli/views/pages/dashboard"
)

// CodesView is an enrollment's codes in the portal: what the customers a
// partner refers get, the partner's codes with what each brought in, and
// making one when the program lets partners.
type CodesView struct {
	CSRF      string
	PartnerID string
	Discount  *store.Discount
	Codes     []dashboard.CodeRow
	MayCreate bool
	Why       string // why the partner may not make a code ("" when they may)
	New       string // the code being made, as typed
	Error     string
	Notice    string
}

// DiscountWords says what referred customers get.
func DiscountWords(d *store.Discount) string { return components.DiscountWords(d) }

// codeLine is a code's report for its partner: "your code MAYA20: 14 sales".
func codeLine(c dashboard.CodeRow) string {
	return "Your code " + c.Code.Code + ": " + dashboard.CodeSales(c.Report)
}

// codeStripeLine says, for the partner, whether customers can type the code
// at the merchant's Stripe checkout.
func codeStripeLine(c dashboard.CodeRow, discount *store.Discount) string {
	switch {
	case !c.Live():
		return "Retired: it no longer credits you."
	case c.StripeStatus() == store.StripeCodeActive && discount != nil:
		return "Customers enter it at checkout and get the discount; your links fill it in for them on payment links."
	case discount != nil && c.StripeStatus() == store.StripeCodePending:
		return "Being set up at the program's checkout."
	}
	return "Sales reported with it are credited to you."
}
