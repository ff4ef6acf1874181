package dashboard

import (
	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// PayoutsView is the payouts page: balances ready to pay, then payouts.
type PayoutsView struct {
	CSRF         string
	Flash        Flash
	Balances     []store.Balance
	BalancesNext string
	Status       string // payout list filter: "", pending, paid, cancelled
	Payouts      []store.PayoutRow
	NextURL      string
}

// PayoutView is one payout's page.
type PayoutView struct {
	CSRF           string
	Flash          Flash
	P              *store.PayoutRow
	Commissions    []store.CommissionRow
	NextURL        string
	Reference      string
	ReferenceError string
}

// PayoutStatusOptions are the choices of the payout list's status filter.
func PayoutStatusOptions() []Option {
	return []Option{{"", "All payouts"}, {"pending", "Pending"}, {"paid", "Paid"}, {"cancelled", "Cancelled"}}
}

// Payable reports whether a balance may be paid out now.
func Payable(b store.Balance) bool {
	return commission.CheckPayable(b.Cents, b.MinPayoutCents, b.Currency) == nil
}

// BalanceNote explains a balance that cannot be paid out yet.
func BalanceNote(b store.Balance) string {
	switch {
	case b.Cents < 0:
		return "Negative: clawbacks after payout exceed what was earned since. It carries forward and nets against the next commissions."
	case b.Cents == 0:
		return "Nothing to pay: adjustments cancel out the commissions. It carries forward."
	case b.Cents < commission.PayoutThreshold(b.MinPayoutCents):
		return "Below the program's minimum payout of " + components.Money(b.MinPayoutCents, b.Currency) + ". It carries forward."
	}
	return ""
}

// ExportURL is the CSV export of the payout list with its current filter.
func (v PayoutsView) ExportURL() string {
	return withQuery("/payouts/export.csv", queryOf("status", v.Status))
}
