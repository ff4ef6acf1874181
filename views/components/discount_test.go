package components

import (
	"testing"

	"github.com/partli/partli/internal/store"
)

func TestDiscountWords(t *testing.T) {
	one, three := 1, 3
	tests := []struct {
		d    *store.Discount
		want string
	}{
		{nil, ""},
		{&store.Discount{Type: "percentage", PercentBP: 2000, Duration: "once"}, "20% off the first payment"},
		{&store.Discount{Type: "percentage", PercentBP: 1250, Duration: "forever"}, "12.5% off every payment"},
		{&store.Discount{Type: "percentage", PercentBP: 1000, Duration: "repeating", DurationMonths: &three}, "10% off every payment for 3 months"},
		{&store.Discount{Type: "flat", AmountCents: 500, Currency: "EUR", Duration: "repeating", DurationMonths: &one}, "€5.00 off every payment for 1 month"},
		{&store.Discount{Type: "flat", AmountCents: 500, Currency: "JPY", Duration: "once"}, "¥500 off the first payment"},
		{&store.Discount{Type: "flat", AmountCents: 500, Currency: "USD", Duration: "repeating"}, ""},
	}
	for _, tc := range tests {
		if got := DiscountWords(tc.d); got != tc.want {
			t.Errorf("DiscountWords(%+v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}
