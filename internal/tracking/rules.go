// Package tracking turns reported sales and leads into commissions: the pure
// rules that decide money (reward choice, caps, amounts) and the one
// transaction that applies them.
package tracking

import (
	"time"

	"github.com/partli/partli/internal/money"
)

// Reward intervals and types.
const (
	OneTime    = "one_time"
	Recurring  = "recurring"
	Percentage = "percentage"
	Flat       = "flat"
)

// Reward is what the rules need to know of a reward.
type Reward struct {
	ID             string
	Type           string // Percentage or Flat
	PercentBP      int64  // hundredths of a percent, for Percentage
	AmountCents    int64  // for Flat, in the program's currency
	Interval       string // OneTime or Recurring
	DurationMonths *int   // Recurring only; nil = the customer's lifetime
}

// ResolveReward picks the partner's group's reward, else the program's
// default, else none.
func ResolveReward(group, program *Reward) *Reward {
	if group != nil {
		return group
	}
	return program
}

// HoldingDays is the group's holding period when it sets one, else the program's.
func HoldingDays(groupDays *int, programDays int) int {
	if groupDays != nil {
		return *groupDays
	}
	return programDays
}

// SaleFacts is everything DecideSale needs to know, read under the
// customer's row lock.
type SaleFacts struct {
	Reward          *Reward
	AmountCents     int64
	Currency        string // the sale's
	ProgramCurrency string
	OccurredAt      time.Time
	// PriorCommission: the customer already has a sale commission in this
	// program that is not clawed back.
	PriorCommission bool
	// FirstCommissionedAt: occurredAt of the customer's first commissioned
	// sale in this program that is not clawed back; nil when there is none.
	FirstCommissionedAt *time.Time
}

// Decision is the outcome for one sale.
type Decision struct {
	Pay         bool
	AmountCents int64
	Currency    string
	Why         string // why no commission, when Pay is false
}

// DecideSale applies steps 4–7 of the sale pipeline.
func DecideSale(f SaleFacts) Decision {
	r := f.Reward
	if r == nil {
		return Decision{Why: "no sale reward for this partner"}
	}
	switch r.Interval {
	case OneTime:
		if f.PriorCommission {
			return Decision{Why: "one-time reward already earned for this customer"}
		}
	case Recurring:
		if r.DurationMonths != nil && f.FirstCommissionedAt != nil &&
			!f.OccurredAt.Before(AddMonths(f.FirstCommissionedAt.UTC(), *r.DurationMonths)) {
			return Decision{Why: "past the reward's duration cap"}
		}
	}
	amount, currency := Amount(r, f.AmountCents, f.Currency, f.ProgramCurrency)
	if amount <= 0 {
		return Decision{Why: "commission rounds to zero"}
	}
	return Decision{Pay: true, AmountCents: amount, Currency: currency}
}

// Amount is the commission for a sale: a percentage of the sale in the sale's
// currency, rounded half up, or the flat amount in the program's currency.
func Amount(r *Reward, saleCents int64, saleCurrency, programCurrency string) (int64, string) {
	if r.Type == Flat {
		return r.AmountCents, programCurrency
	}
	return money.PercentOf(saleCents, r.PercentBP), saleCurrency
}

// AddMonths adds calendar months, clamping the day to the end of a shorter
// month (Jan 31 + 1 month = Feb 28/29), as PostgreSQL's interval arithmetic does.
func AddMonths(t time.Time, months int) time.Time {
	y, m, d := t.Date()
	first := time.Date(y, m+time.Month(months), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
	last := first.AddDate(0, 1, -1).Day()
	if d > last {
		d = last
	}
	return first.AddDate(0, 0, d-1)
}
