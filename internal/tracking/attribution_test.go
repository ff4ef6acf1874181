package tracking_test

import (
	"testing"

	"github.com/partli/partli/internal/tracking"
)

func TestAttribute(t *testing.T) {
	ada, grace, linus := "ptn_ada", "ptn_grace", "ptn_linus"
	tests := []struct {
		name string
		f    tracking.AttributionFacts
		want tracking.Attribution
	}{
		{"nothing attributes", tracking.AttributionFacts{}, tracking.Attribution{}},
		{"a code alone attributes", tracking.AttributionFacts{CodePartner: &ada},
			tracking.Attribution{From: tracking.FromCode, PartnerID: ada, RecordsCode: true}},
		{"a click alone attributes", tracking.AttributionFacts{ClickPartner: &grace},
			tracking.Attribution{From: tracking.FromClick, PartnerID: grace}},
		{"a click beats a code", tracking.AttributionFacts{ClickPartner: &grace, CodePartner: &ada},
			tracking.Attribution{From: tracking.FromClick, PartnerID: grace}},
		{"a click and its own partner's code: the code is recorded", tracking.AttributionFacts{ClickPartner: &ada, CodePartner: &ada},
			tracking.Attribution{From: tracking.FromClick, PartnerID: ada, RecordsCode: true}},
		{"the first partner keeps the customer against a code", tracking.AttributionFacts{CustomerPartner: &linus, CodePartner: &ada},
			tracking.Attribution{From: tracking.FromCustomer, PartnerID: linus}},
		{"the first partner keeps the customer against a click and a code",
			tracking.AttributionFacts{CustomerPartner: &linus, ClickPartner: &grace, CodePartner: &ada},
			tracking.Attribution{From: tracking.FromCustomer, PartnerID: linus}},
		{"the first partner's own code is recorded", tracking.AttributionFacts{CustomerPartner: &ada, ClickPartner: &grace, CodePartner: &ada},
			tracking.Attribution{From: tracking.FromCustomer, PartnerID: ada, RecordsCode: true}},
		{"the first partner keeps the customer against a click", tracking.AttributionFacts{CustomerPartner: &linus, ClickPartner: &grace},
			tracking.Attribution{From: tracking.FromCustomer, PartnerID: linus}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tracking.Attribute(tc.f); got != tc.want {
				t.Fatalf("Attribute = %+v, want %+v", got, tc.want)
			}
		})
	}
}
