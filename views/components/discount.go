package components

import (
	"strconv"

	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
)

// DiscountWords says what a referred customer gets, in plain words:
// "20% off the first payment", "€5.00 off every payment for 3 months",
// "12.5% off every payment".
func DiscountWords(d *store.Discount) string {
	if d == nil {
		return ""
	}
	var what string
	switch d.Type {
	case "percentage":
		what = money.FormatPercent(d.PercentBP) + "%"
	case "flat":
		what = Money(d.AmountCents, d.Currency)
	default:
		return ""
	}
	switch d.Duration {
	case store.DiscountOnce:
		return what + " off the first payment"
	case store.DiscountRepeating:
		if d.DurationMonths == nil {
			return ""
		}
		if *d.DurationMonths == 1 {
			return what + " off every payment for 1 month"
		}
		return what + " off every payment for " + strconv.Itoa(*d.DurationMonths) + " months"
	case store.DiscountForever:
		return what + " off every payment"
	}
	return ""
}
