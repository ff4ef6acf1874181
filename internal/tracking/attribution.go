package tracking

import "github.com/partli/partli/internal/store"

// Where an attribution comes from.
const (
	FromCustomer = store.SourceCustomer // the customer's first partner
	FromClick    = store.SourceClick    // a click inside its cookie window
	FromCode     = store.SourceCode     // a live code of the workspace
)

// AttributionFacts are the partners a sale or lead could go to, each nil
// when there is none: the partner who first referred the customer, the
// partner of an attributable click given with it, and the partner of a live
// code given with it (a code of another workspace, a retired or unknown
// code, or a code of a partner who is not approved, is no code).
type AttributionFacts struct {
	CustomerPartner *string
	ClickPartner    *string
	CodePartner     *string
}

// Attribution is who a sale or lead goes to.
type Attribution struct {
	// From is FromCustomer, FromClick or FromCode; "" when nothing
	// attributes (the call is a no-op).
	From      string
	PartnerID string
	// RecordsCode: the code given names this partner, so the event
	// records it (it attributed the event, or agreed with who did).
	RecordsCode bool
}

// Attribute applies the attribution order: a customer stays with the
// partner who referred them first; else an attributable click; else a
// live code ("a click beats a code"). A code is recorded with whatever it
// agrees with, never with another partner's sale.
func Attribute(f AttributionFacts) Attribution {
	var a Attribution
	switch {
	case f.CustomerPartner != nil:
		a = Attribution{From: FromCustomer, PartnerID: *f.CustomerPartner}
	case f.ClickPartner != nil:
		a = Attribution{From: FromClick, PartnerID: *f.ClickPartner}
	case f.CodePartner != nil:
		a = Attribution{From: FromCode, PartnerID: *f.CodePartner}
	default:
		return Attribution{}
	}
	a.RecordsCode = f.CodePartner != nil && *f.CodePartner == a.PartnerID
	return a
}

// chooseSale fills in look's attribution from its candidates (Attribute):
// the partner, program, click and reward context of the chosen one, and
// the code given, which the sale records if it attributes to that code's
// partner (store.BatchSale).
func chooseSale(look *store.SaleLookup) {
	var f AttributionFacts
	by := map[string]*store.SaleCandidate{}
	for i := range look.Candidates {
		c := &look.Candidates[i]
		if by[c.Source] != nil {
			continue
		}
		by[c.Source] = c
		switch c.Source {
		case FromCustomer:
			f.CustomerPartner = &c.PartnerID
		case FromClick:
			f.ClickPartner = &c.PartnerID
		case FromCode:
			f.CodePartner = &c.PartnerID
			look.CodeID, look.CodePartnerID, look.Code = c.CodeID, &c.PartnerID, c.Code
		}
	}
	a := Attribute(f)
	if a.From == "" {
		return
	}
	c := by[a.From]
	look.PartnerID, look.ProgramID, look.ClickID, look.Reward = &c.PartnerID, &c.ProgramID, c.ClickID, c.Reward
}
