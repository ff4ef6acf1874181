package portal

import (
	"github.com/partli/partli/internal/store"
)

// PayoutMethodView is the payout method section of an enrollment's page.
type PayoutMethodView struct {
	CSRF      string
	PartnerID string
	// Method is the partner's (nil: none chosen yet).
	Method *store.PayoutMethod
	// Ready says whether payouts can be paid to it now; Why, if not.
	Ready bool
	Why   string
	// StripeAvailable: the program pays with Stripe (a key is set up).
	StripeAvailable bool
	// Types are the methods with an email address the partner may choose.
	Types []string
	// The form: what was typed and chosen, and what is wrong with it.
	Email, Chosen, Error, Notice string
}

// MethodName is a payout method in words.
func MethodName(typ string) string {
	switch typ {
	case "stripe":
		return "Stripe"
	case "paypal":
		return "PayPal"
	case "wise":
		return "Wise"
	case "manual":
		return "paid by the program owner directly"
	}
	return typ
}

// Current names the partner's method, with its address.
func (v PayoutMethodView) Current() string {
	if v.Method == nil {
		return "None chosen yet"
	}
	name := MethodName(v.Method.Type)
	if v.Method.Email != "" && (v.Method.Type == "paypal" || v.Method.Type == "wise") {
		name += " (" + v.Method.Email + ")"
	}
	return name
}

// Checked reports whether typ is the method the form shows chosen.
func (v PayoutMethodView) Checked(typ string) bool {
	if v.Chosen != "" {
		return v.Chosen == typ
	}
	return v.Method != nil && v.Method.Type == typ
}

// StripeStarted reports whether the partner has a Stripe account to continue onboarding.
func (v PayoutMethodView) StripeStarted() bool {
	return v.Method != nil && v.Method.StripeAccountID != nil
}
