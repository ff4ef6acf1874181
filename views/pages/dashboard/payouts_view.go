package dashboard

import (
	"encoding/json"
	"strconv"

	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// PayoutsView is the payouts page: balances ready to pay, programs'
// schedules, then payouts.
type PayoutsView struct {
	CSRF         string
	Flash        Flash
	Owner        bool // may change schedules
	Balances     []BalanceView
	BalancesNext string
	Status       string // payout list filter: "", pending, processing, paid, failed, canceled
	Payouts      []PayoutRowView
	NextURL      string
	Programs     []store.Program
	Runs         []store.PayoutRun
	// PayPalCurrencies are the currencies of pending PayPal payouts (one
	// file each).
	PayPalCurrencies []string
}

// BalanceView is a balance ready to pay with what the payout rules say of
// it (the handler asks them).
type BalanceView struct {
	store.Balance
	Payable bool
	// Note says why a balance that is not payable carries forward.
	Note string
	// MinimumApplies: the balance is in the program's currency, in which
	// its minimum is set.
	MinimumApplies bool
	MethodReady    bool
	MethodWhy      string
}

// MinimumLabel is the program's minimum as it applies to this balance: in
// the program's currency, or none for a balance in another currency
// (Partli converts nothing).
func (b BalanceView) MinimumLabel() string {
	if b.MinimumApplies {
		return components.Money(b.MinPayoutCents, b.ProgramCurrency)
	}
	return "none in " + b.Currency
}

// MinimumTitle explains a minimum that does not apply.
func (b BalanceView) MinimumTitle() string {
	if b.MinimumApplies || b.MinPayoutCents == 0 {
		return ""
	}
	return "The program's minimum payout is " + components.Money(b.MinPayoutCents, b.ProgramCurrency) +
		", in " + b.ProgramCurrency + ": it applies to " + b.ProgramCurrency + " balances only."
}

// MethodLabel names the partner's payout method.
func (b BalanceView) MethodLabel() string {
	if b.Method == nil {
		return "none"
	}
	return MethodName(b.Method.Type)
}

// MethodName is a payout method in words.
func MethodName(typ string) string {
	switch typ {
	case payout.Stripe:
		return "Stripe"
	case payout.PayPal:
		return "PayPal"
	case payout.Wise:
		return "Wise"
	case payout.Manual:
		return "by hand"
	}
	return typ
}

// PayoutRowView is a payout of the list with what can be done with it now.
type PayoutRowView struct {
	Row         store.PayoutRow
	CanSend     bool
	CanMarkPaid bool
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
	Attempts       []store.PayoutAttempt
	CanSend        bool
	CanMarkPaid    bool
	CanCancel      bool
	// SendProblem says why Pay would be refused now (Stripe's minimum).
	SendProblem   string
	PartnerMethod string // "" when the partner chose none
	MethodReady   bool
	MethodWhy     string
}

// PayoutStatusOptions are the choices of the payout list's status filter.
func PayoutStatusOptions() []Option {
	return []Option{{"", "All payouts"}, {"pending", "Pending"}, {"processing", "Processing"}, {"paid", "Paid"},
		{"failed", "Failed"}, {"canceled", "Canceled"}}
}

// ExportURL is the CSV export of the payout list with its current filter.
func (v PayoutsView) ExportURL() string {
	return withQuery("/payouts/export.csv", queryOf("status", v.Status))
}

// ScheduleLabel is a program's payout schedule in words.
func ScheduleLabel(p store.Program) string {
	switch {
	case p.PayoutSchedule == payout.ScheduleWeekly && p.PayoutDay != nil:
		return "Weekly, on " + weekdays[(*p.PayoutDay-1)%7]
	case p.PayoutSchedule == payout.ScheduleMonthly && p.PayoutDay != nil:
		return "Monthly, on day " + strconv.Itoa(*p.PayoutDay)
	}
	return "Manual: payouts are created from this page or the API"
}

var weekdays = []string{"Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

// DayValue is the day field's value for a program.
func DayValue(p store.Program) string {
	if p.PayoutDay == nil {
		return "1"
	}
	return strconv.Itoa(*p.PayoutDay)
}

// RunReport reads what a scheduled run reported.
func RunReport(r store.PayoutRun) payout.RunReport {
	var rep payout.RunReport
	_ = json.Unmarshal(r.Report, &rep)
	return rep
}

// ProgramName is the name of a program of the page, by id.
func (v PayoutsView) ProgramName(id string) string {
	for _, p := range v.Programs {
		if p.ID == id {
			return p.Name
		}
	}
	return id
}
