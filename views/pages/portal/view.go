// Package portal holds the pages of the partner portal.
package portal

import (
	"fmt"
	"strconv"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
	"github.com/partli/partli/views/pages/dashboard"
)

// LoginView is the portal sign-in form; Next is the local path to go on to.
type LoginView struct {
	CSRF, Email, Error, Notice, Next string
	// Unverified: the password was right, but the account's address is not
	// proven yet; the page offers to mail the link again.
	Unverified bool
}

// ApplyView is the public application form of a program.
type ApplyView struct {
	CSRF          string
	WorkspaceName string
	Program       *store.Program
	Terms         []string
	Form          map[string]string
	Errors        map[string]string
	Done          bool
	AutoApproved  bool
	// Unlinked: the address has a portal account with another password,
	// so the application is not in it until an invitation links it.
	Unlinked bool
	// Confirm: the account's address is not proven yet; a link to prove it
	// was mailed (it must be opened before signing in).
	Confirm bool
}

func (v ApplyView) val(k string) string { return v.Form[k] }
func (v ApplyView) err(k string) string { return v.Errors[k] }

// InviteView is the page where an invited partner sets a password.
// HasAccount: the address has a proven account, whose password joins.
// Unproven: it has an account made by the application form, which the
// password chosen here takes over (the same password keeps its applications).
type InviteView struct {
	CSRF, Token, Email, Name, Program, Error string
	HasAccount, Unproven                     bool
}

// Balance is one currency's earnings split by status.
type Balance struct {
	Currency                                 string
	Pending, Approved, Paid, ClawedBack, Net int64
}

// Balances groups status totals per currency, never adding currencies up.
func Balances(rows []store.StatusAmount) []Balance {
	var out []Balance
	idx := map[string]int{}
	for _, r := range rows {
		i, ok := idx[r.Currency]
		if !ok {
			i = len(out)
			idx[r.Currency] = i
			out = append(out, Balance{Currency: r.Currency})
		}
		b := &out[i]
		switch r.Status {
		case "pending":
			b.Pending += r.Cents
		case "approved":
			b.Approved += r.Cents
		case "paid":
			b.Paid += r.Cents
		case "clawed_back":
			b.ClawedBack += r.Cents
		}
	}
	return out
}

// HomeProgram is one enrollment on the portal's home page.
type HomeProgram struct {
	store.Enrollment
	Balances []Balance
}

// HomeView is the portal's home page.
type HomeView struct {
	Programs []HomeProgram
}

// ProgramView is one enrollment in detail.
type ProgramView struct {
	store.Enrollment
	Link        string
	Counts      store.PartnerCounts
	Balances    []Balance
	Terms       []string
	Commissions []store.PortalCommission
	Payouts     []store.PartnerPayout
	Chart       dashboard.Chart
	// PayoutMethod is how the partner is paid, and choosing it.
	PayoutMethod PayoutMethodView
	// Codes are the partner's codes (codes.templ).
	Codes CodesView
}

// Conversion is sales per click, as a percentage with one decimal.
func (v ProgramView) Conversion() string {
	if v.Counts.Clicks == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(v.Counts.Sales)/float64(v.Counts.Clicks))
}

// DeepLink is the example of linking to any page of the merchant's site.
func (v ProgramView) DeepLink() string {
	return v.DestinationURL + "?via=" + v.Slug
}

// Terms puts a program's rewards for a partner into words, with the holding period.
func Terms(rewards []store.Reward, groupID *string, holdingDays int) []string {
	var out []string
	var groupSale bool
	for _, r := range rewards {
		if r.GroupID != nil && r.Event == "sale" {
			groupSale = true
		}
	}
	for i := range rewards {
		r := &rewards[i]
		if r.GroupID == nil && groupSale {
			continue // the group's sale reward replaces the program's
		}
		out = append(out, components.RewardWords(r))
	}
	if len(out) == 0 {
		out = append(out, "No reward is set up yet for your group.")
	}
	days := strconv.Itoa(holdingDays) + " days"
	if holdingDays == 1 {
		days = "1 day"
	}
	out = append(out, "Commissions become payable "+days+" after the sale (the holding period for refunds).")
	return out
}

func money(c int64, cur string) string { return components.Money(c, cur) }

func count(n int64) string { return strconv.FormatInt(n, 10) }

func date(t time.Time) string { return components.Date(t) }

// noEarnings is what a program with no commissions says, by the partner's
// status: an applicant is told their application is being reviewed.
func noEarnings(status string) string {
	switch status {
	case "pending":
		return "Your application is under review. Once the program owner approves it, your link starts earning and commissions appear here."
	case "approved":
		return "No commissions yet. They appear here as soon as someone you referred pays."
	}
	return "No commissions: your partnership is " + components.StatusLabel(status) + ", so your link does not earn right now."
}
