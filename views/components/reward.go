package components

import (
	"strconv"

	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
)

// RewardWords says what a reward pays, in plain words:
// "20% of every payment for 12 months", "$50.00 once per customer",
// "$5.00 per lead, once per customer".
func RewardWords(r *store.Reward) string {
	if r == nil {
		return ""
	}
	currency := ""
	if r.Currency != nil {
		currency = *r.Currency
	}
	var what string
	switch {
	case r.Type == tracking.Percentage && r.PercentBP != nil:
		what = money.FormatPercent(*r.PercentBP) + "%"
	case r.Type == tracking.Flat && r.AmountCents != nil:
		what = Money(*r.AmountCents, currency)
	default:
		return ""
	}
	if r.Event == "lead" {
		return what + " per lead, once per customer"
	}
	if r.Interval == tracking.OneTime {
		if r.Type == tracking.Percentage {
			return what + " of the first payment, once per customer"
		}
		return what + " once per customer"
	}
	s := what + " of every payment"
	if r.Type == tracking.Flat {
		s = what + " on every payment"
	}
	if r.DurationMonths == nil {
		return s + " for as long as the customer pays"
	}
	if *r.DurationMonths == 1 {
		return s + " for 1 month"
	}
	return s + " for " + strconv.Itoa(*r.DurationMonths) + " months"
}
