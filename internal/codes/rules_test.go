package codes

import (
	"testing"
	"time"

	"github.com/partli/partli/internal/store"
)

func TestRetry(t *testing.T) {
	tests := []struct {
		attempts int
		after    time.Duration
		ok       bool
	}{
		{1, time.Minute, true},
		{2, 2 * time.Minute, true},
		{3, 4 * time.Minute, true},
		{9, 256 * time.Minute, true},
		{10, 6 * time.Hour, true},
		{15, 6 * time.Hour, true},
		{16, 0, false},
		{40, 0, false},
	}
	for _, tc := range tests {
		after, ok := Retry(tc.attempts)
		if after != tc.after || ok != tc.ok {
			t.Errorf("Retry(%d) = %v, %v; want %v, %v", tc.attempts, after, ok, tc.after, tc.ok)
		}
	}
}

func TestStripeTakesCode(t *testing.T) {
	for code, want := range map[string]bool{"MAYA20": true, "maya-20": true, "MAYA_20": false} {
		if got := StripeTakesCode(code); got != want {
			t.Errorf("StripeTakesCode(%q) = %v", code, got)
		}
	}
}

func TestPartnerMayCreate(t *testing.T) {
	open := &store.Program{ProgramCodeTerms: store.ProgramCodeTerms{PartnersCreateCodes: true}}
	closed := &store.Program{}
	tests := []struct {
		name   string
		p      *store.Program
		status string
		live   int
		want   bool
	}{
		{"the program lets partners", open, "approved", 0, true},
		{"four live codes", open, "approved", MaxPartnerCodes - 1, true},
		{"the most", open, "approved", MaxPartnerCodes, false},
		{"the owner makes codes", closed, "approved", 0, false},
		{"not approved yet", open, "pending", 0, false},
		{"suspended", open, "suspended", 0, false},
	}
	for _, tc := range tests {
		ok, why := PartnerMayCreate(tc.p, tc.status, tc.live)
		if ok != tc.want || (ok == (why != "")) {
			t.Errorf("%s: %v %q", tc.name, ok, why)
		}
	}
}

func TestCouponFor(t *testing.T) {
	three := 3
	p := &store.Program{ID: "prog_1", WorkspaceID: "ws_1", Name: "A program whose name is longer than forty characters", Currency: "EUR",
		ProgramCodeTerms: store.ProgramCodeTerms{DiscountVersion: 4}}
	r := CouponFor(p, &store.Discount{Type: "percentage", PercentBP: 1233, Duration: store.DiscountRepeating, DurationMonths: &three})
	if r.ID != "partli_prog_1_v4" || *r.PercentOff != 12.33 || r.AmountOff != nil || *r.DurationMonths != 3 || r.Duration != "repeating" ||
		len([]rune(r.Name)) != 40 || r.Metadata["partli_discount_version"] != "4" || r.Metadata["partli_workspace_id"] != "ws_1" {
		t.Fatalf("percentage coupon %+v", r)
	}
	r = CouponFor(p, &store.Discount{Type: "flat", AmountCents: 500, Currency: "EUR", Duration: store.DiscountOnce})
	if r.PercentOff != nil || *r.AmountOff != 500 || r.Currency != "EUR" || r.DurationMonths != nil || r.Duration != "once" {
		t.Fatalf("flat coupon %+v", r)
	}
}
