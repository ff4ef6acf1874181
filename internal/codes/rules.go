// Package codes runs partners' codes: making and retiring them, and their
// life in the merchant's Stripe account, where the program's discount is a
// coupon and each code a promotion code of it. The rules that decide are
// plain functions here; the Stripe work is done at once when a code
// changes and, when that fails, again by a worker until it succeeds.
package codes

import (
	"strconv"
	"strings"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
)

// MaxPartnerCodes is how many live codes a partner may hold when they make
// their own in the portal (owners are not limited).
const MaxPartnerCodes = 5

// PartnerMayCreate says whether a partner may make another code in the
// portal, and if not, why (for people).
func PartnerMayCreate(p *store.Program, partnerStatus string, liveCodes int) (bool, string) {
	switch {
	case !p.PartnersCreateCodes:
		return false, "This program's owner gives out codes: ask them if you would like one."
	case partnerStatus != "approved":
		return false, "You can make codes once the program has approved you."
	case liveCodes >= MaxPartnerCodes:
		return false, "You have " + strconv.Itoa(liveCodes) + " live codes, the most you can make yourself: retire one or ask the program's owner."
	}
	return true, ""
}

// StripeTakesCode reports whether Stripe accepts code as a promotion code:
// Stripe's codes are letters, digits and dashes, so a Partli code with an
// underscore attributes what is reported with it but has no promotion code.
func StripeTakesCode(code string) bool { return !strings.Contains(code, "_") }

// Retry is when a failed attempt at a code's Stripe work is made again:
// after 1, 2, 4 … minutes, at most 6 hours apart; after maxAttempts failures
// it is not tried again until someone asks (ok false).
func Retry(attempts int) (after time.Duration, ok bool) {
	const maxAttempts = 16
	if attempts >= maxAttempts {
		return 0, false
	}
	after = time.Minute
	for i := 1; i < attempts && after < 6*time.Hour; i++ {
		after *= 2
	}
	return min(after, 6*time.Hour), true
}

// CouponID is the id of the coupon of a version of a program's discount:
// Partli's own, so that making it again (a lost answer) finds the first.
func CouponID(programID string, version int) string {
	return "partli_" + programID + "_v" + strconv.Itoa(version)
}

// CouponFor is the Stripe coupon of version of p's discount d: percent_off
// or amount_off in the program's currency, and Stripe's duration.
func CouponFor(p *store.Program, d *store.Discount) stripe.CouponRequest {
	name := []rune(p.Name)
	if len(name) > 40 { // Stripe's limit on a coupon's name
		name = name[:40]
	}
	r := stripe.CouponRequest{
		ID: CouponID(p.ID, p.DiscountVersion), Name: string(name), Duration: d.Duration,
		Metadata: map[string]string{
			stripe.MetadataWorkspaceID: p.WorkspaceID, stripe.MetadataProgramID: p.ID,
			stripe.MetadataDiscountVersion: strconv.Itoa(p.DiscountVersion),
		},
	}
	if d.Type == "percentage" {
		// Basis points to a decimal with at most two places: exact in
		// float64 to the two places Stripe reads.
		pct := float64(d.PercentBP) / 100
		r.PercentOff = &pct
	} else {
		amount := d.AmountCents
		r.AmountOff, r.Currency = &amount, d.Currency
	}
	if d.Duration == store.DiscountRepeating && d.DurationMonths != nil {
		m := int64(*d.DurationMonths)
		r.DurationMonths = &m
	}
	return r
}
