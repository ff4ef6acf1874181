// Package components holds the small pieces every dashboard and portal page
// shares: money, times, status badges, pagination.
package components

import (
	"time"

	"github.com/partli/partli/internal/money"
)

// Money formats minor units for people ("$1,234.56").
func Money(cents int64, currency string) string { return money.Format(cents, currency) }

// Date formats a time as "Jan 2, 2026" (UTC).
func Date(t time.Time) string { return t.UTC().Format("Jan 2, 2006") }

// DateTime formats a time as "Jan 2, 2026 15:04 UTC".
func DateTime(t time.Time) string { return t.UTC().Format("Jan 2, 2006 15:04 UTC") }

// StatusClass is the badge class for a commission, partner or payout status.
func StatusClass(status string) string {
	switch status {
	case "approved", "paid", "succeeded", "active", "sent":
		return "badge badge-green"
	case "pending", "processing", "draft":
		return "badge badge-amber"
	case "clawed_back", "rejected", "suspended", "failed", "disabled":
		return "badge badge-red"
	}
	return "badge badge-gray"
}

// StatusLabel is a status in words ("clawed_back" → "clawed back").
func StatusLabel(status string) string {
	if status == "clawed_back" {
		return "clawed back"
	}
	return status
}
