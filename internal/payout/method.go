// Package payout pays partners: their payout methods (Stripe Connect
// Express, a PayPal or Wise batch file, by hand), sending Stripe payouts
// exactly once, creating payouts for a program, and payout schedules. What
// a payout is and how its state moves is commission's (PayoutTransition,
// BeginTransfer, FinishTransfer, FailTransfer); this package decides which
// payouts to make and talks to Stripe.
package payout

import (
	"github.com/partli/partli/internal/export"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
)

// Method types (partner_payout_methods.type, payouts.method).
const (
	Stripe = "stripe"
	PayPal = "paypal"
	Wise   = "wise"
	Manual = "manual"
)

// Types lists every method.
var Types = []string{Stripe, PayPal, Wise, Manual}

// A Method is a way of paying partners.
type Method interface {
	// Type is the method's name (Stripe, PayPal, Wise, Manual).
	Type() string
	// Ready says whether a payout can be paid to the partner's method m
	// now, and if not, why, for people.
	Ready(m *store.PayoutMethod) (ready bool, why string)
	// Transfers reports whether Partli moves the money itself (Send); the
	// others are paid by the merchant, with File or by hand, and marked
	// paid with a reference.
	Transfers() bool
	// File is the batch file the merchant uploads to pay such payouts,
	// or nil.
	File() *FileFormat
}

// FileFormat is a provider's batch payment file.
type FileFormat struct {
	// Name is the format's name in exports (?format=).
	Name string
	// Header is the first row, or nil when the provider's file has none.
	Header []string
	// OneCurrency: every row of a file must have the same currency.
	OneCurrency bool
	// Record is one payout's row.
	Record func(p store.PayoutRow) []string
}

type stripeMethod struct{}

func (stripeMethod) Type() string      { return Stripe }
func (stripeMethod) Transfers() bool   { return true }
func (stripeMethod) File() *FileFormat { return nil }
func (stripeMethod) Ready(m *store.PayoutMethod) (bool, string) {
	switch {
	case m.StripeAccountID == nil:
		return false, "Stripe onboarding has not started"
	case !m.StripePayoutsEnabled && m.StripeRequirements != "":
		return false, "Stripe cannot pay out to the account yet: " + m.StripeRequirements
	case !m.StripePayoutsEnabled:
		return false, "Stripe has not enabled payouts to the account yet: onboarding is not finished"
	}
	return true, ""
}

type fileMethod struct {
	typ  string
	file *FileFormat
}

func (f fileMethod) Type() string      { return f.typ }
func (f fileMethod) Transfers() bool   { return false }
func (f fileMethod) File() *FileFormat { return f.file }
func (f fileMethod) Ready(m *store.PayoutMethod) (bool, string) {
	if m.Email == "" {
		return false, "no " + f.typ + " email address is given"
	}
	return true, ""
}

type manualMethod struct{}

func (manualMethod) Type() string                             { return Manual }
func (manualMethod) Transfers() bool                          { return false }
func (manualMethod) File() *FileFormat                        { return nil }
func (manualMethod) Ready(*store.PayoutMethod) (bool, string) { return true, "" }

// PayPalFile is PayPal Payouts' batch file (Payouts Web, "Create a payment
// file"): no header; recipient (the PayPal account's email), amount in
// major units, currency (one per file), customer ID (the payout id, at most
// 30 characters), note to the recipient (at most 400), recipient wallet.
var PayPalFile = &FileFormat{
	Name:        PayPal,
	OneCurrency: true,
	Record: func(p store.PayoutRow) []string {
		return []string{export.Text(p.Recipient), money.Decimal(p.AmountCents, p.Currency), p.Currency, p.ID,
			export.Text(note(p)), "PAYPAL"}
	},
}

// WiseFile is Wise's batch payment file, its "send by email" template:
// name, recipientEmail, paymentReference (the payout id), receiverType,
// amountCurrency ("target": the partner receives the amount, the fees are
// the sender's), amount in major units, sourceCurrency, targetCurrency.
var WiseFile = &FileFormat{
	Name:   Wise,
	Header: []string{"name", "recipientEmail", "paymentReference", "receiverType", "amountCurrency", "amount", "sourceCurrency", "targetCurrency"},
	Record: func(p store.PayoutRow) []string {
		return []string{export.Text(p.PartnerName), export.Text(p.Recipient), p.ID, "PERSON", "target",
			money.Decimal(p.AmountCents, p.Currency), p.Currency, p.Currency}
	},
}

// note is the PayPal note to the recipient: which program pays them.
func note(p store.PayoutRow) string {
	n := p.ProgramName + " partner payout " + p.ID
	if r := []rune(n); len(r) > 400 {
		n = string(r[:400])
	}
	return n
}

// Methods are the payout methods, by type.
var Methods = map[string]Method{
	Stripe: stripeMethod{},
	PayPal: fileMethod{typ: PayPal, file: PayPalFile},
	Wise:   fileMethod{typ: Wise, file: WiseFile},
	Manual: manualMethod{},
}

// NoMethod is why a partner without a payout method cannot be paid.
const NoMethod = "the partner has not chosen a payout method (PayPal, Wise or Stripe, in the partner portal)"

// Readiness says whether a partner with method m (nil: none chosen) can be
// paid now, and if not, why.
func Readiness(m *store.PayoutMethod) (bool, string) {
	if m == nil {
		return false, NoMethod
	}
	method, ok := Methods[m.Type]
	if !ok {
		return false, "unknown payout method " + m.Type
	}
	return method.Ready(m)
}

// Describe is a partner's payout method as the API shows it (nil: none).
func Describe(m *store.PayoutMethod) *store.PartnerPayoutMethod {
	if m == nil {
		return nil
	}
	ready, why := Readiness(m)
	d := &store.PartnerPayoutMethod{Type: m.Type, Ready: ready}
	if !ready {
		d.Reason = &why
	}
	return d
}
