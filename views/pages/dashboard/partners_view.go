package dashboard

import (
	"net/url"
	"regexp"
	"strings"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/store"
)

// PartnersView is the partner list: its filters, one page of partners and
// the link to the next page.
type PartnersView struct {
	CanEdit   bool
	Query     string
	ProgramID string
	Status    string
	Statuses  []string
	Programs  []store.Program
	Rows      []PartnerListRow
	NextHref  string
	Filtered  bool
}

// PartnerListRow is one partner of the list with its referral link.
type PartnerListRow struct {
	store.PartnerRow
	Link string
}

// PartnerFormView is the "Add partner" form: what was typed and what is wrong with it.
type PartnerFormView struct {
	CSRF      string
	Programs  []store.Program
	Groups    []store.Group // of every program; the form groups them per program
	ProgramID string
	Name      string
	Email     string
	GroupID   string
	Slug      string
	Errors    map[string]string
	BaseURL   string
}

// GroupsOf returns the groups of one program, in the order given.
func (v PartnerFormView) GroupsOf(programID string) []store.Group {
	var out []store.Group
	for _, g := range v.Groups {
		if g.ProgramID == programID {
			out = append(out, g)
		}
	}
	return out
}

// PartnerDetailView is one partner's page.
type PartnerDetailView struct {
	CSRF        string
	CanEdit     bool
	Flash       string
	Partner     store.Partner
	Link        string
	Program     store.Program
	GroupName   string
	Groups      []store.Group // of the partner's program, for "move to group"
	Activity    store.PartnerActivity
	Totals      []PartnerCurrencyTotal
	Clicks      []store.Click
	ClicksNext  string
	Commissions []store.Commission
	Older       bool // the clicks shown are not the newest page
	Codes       PartnerCodesView
}

// PartnerCurrencyTotal is one currency's commissions of a partner, by status.
type PartnerCurrencyTotal struct {
	Currency                                       string
	Pending, Approved, Paid, ClawedBack, Earned    int64
	PendingN, ApprovedN, PaidN, ClawedBackN, Count int64
}

// PartnerTotals folds per-status sums into one row per currency. Earned is
// everything not clawed back; currencies are never added together.
func PartnerTotals(rows []store.CommissionTotal) []PartnerCurrencyTotal {
	var out []PartnerCurrencyTotal
	for _, r := range rows {
		if len(out) == 0 || out[len(out)-1].Currency != r.Currency {
			out = append(out, PartnerCurrencyTotal{Currency: r.Currency})
		}
		t := &out[len(out)-1]
		t.Count += r.Count
		switch r.Status {
		case commission.Pending:
			t.Pending, t.PendingN = t.Pending+r.Cents, t.PendingN+r.Count
		case commission.Approved:
			t.Approved, t.ApprovedN = t.Approved+r.Cents, t.ApprovedN+r.Count
		case commission.Paid:
			t.Paid, t.PaidN = t.Paid+r.Cents, t.PaidN+r.Count
		case commission.ClawedBack:
			t.ClawedBack, t.ClawedBackN = t.ClawedBack+r.Cents, t.ClawedBackN+r.Count
		}
		if r.Status != commission.ClawedBack {
			t.Earned += r.Cents
		}
	}
	return out
}

// partnerStatusActions are the status changes offered for a partner in a
// given status. A change that stops a partner earning asks to be confirmed,
// saying what it does.
func partnerStatusActions(status string) []partnerAction {
	const (
		suspend = "Suspend this partner? Their link keeps sending visitors to your site, but new clicks and sales are no longer credited to them. Commissions already recorded stay as they are."
		reject  = "Reject this partner? Their link keeps sending visitors to your site, but nothing is credited to them. Commissions already recorded stay as they are."
	)
	switch status {
	case "pending":
		return []partnerAction{{"Approve", "approved", "btn btn-primary", ""}, {"Reject", "rejected", "btn btn-danger", reject}}
	case "approved":
		return []partnerAction{{"Suspend", "suspended", "btn btn-danger", suspend}}
	case "suspended":
		return []partnerAction{{"Reinstate", "approved", "btn btn-primary", ""}, {"Reject", "rejected", "btn", reject}}
	case "rejected":
		return []partnerAction{{"Approve", "approved", "btn btn-primary", ""}}
	}
	return nil
}

// partnerAction is a status change button; Confirm, when set, is the
// question asked before the change is made.
type partnerAction struct{ Label, Status, Class, Confirm string }

// partnerStatusHelp explains what a partner's status means for their link.
func partnerStatusHelp(status string) string {
	switch status {
	case "approved":
		return "Their link redirects and earns commissions."
	case "pending":
		return "Waiting for your review: their link sends visitors to your site, but nothing is credited until you approve them."
	case "suspended":
		return "Suspended: their link still sends visitors to your site, but no clicks or sales are credited to them. Existing commissions are kept."
	case "rejected":
		return "Rejected: their link still sends visitors to your site, but nothing is credited to them."
	}
	return ""
}

var partnerBotToken = regexp.MustCompile(`(?i)[a-z0-9._-]*(bot|crawler|spider|slurp)[a-z0-9._-]*(/[0-9][0-9a-z.]*)?`)

// PartnerShortUA sums a user agent up for a table cell: "Googlebot/2.1",
// "Chrome on macOS", or the start of the text.
func PartnerShortUA(ua string) string {
	ua = strings.TrimSpace(ua)
	if ua == "" {
		return "—"
	}
	if m := partnerBotToken.FindString(ua); m != "" {
		return m
	}
	browser := ""
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"SamsungBrowser/", "Samsung Internet"}, {"Firefox/", "Firefox"},
		{"CriOS/", "Chrome"}, {"Chrome/", "Chrome"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	os := ""
	for _, o := range []struct{ token, name string }{
		{"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Android", "Android"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			os = o.name
			break
		}
	}
	switch {
	case browser != "" && os != "":
		return browser + " on " + os
	case browser != "":
		return browser
	}
	r := []rune(ua)
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return ua
}

// partnerReferrer shows a referrer by its host ("news.ycombinator.com").
func partnerReferrer(ref string) string {
	if ref == "" {
		return "direct"
	}
	if u, err := url.Parse(ref); err == nil && u.Host != "" {
		return u.Host
	}
	r := []rune(ref)
	if len(r) > 40 {
		return string(r[:40]) + "…"
	}
	return ref
}

// partnerPlace is "City, CC", or a dash when the proxy sent neither.
func partnerPlace(c store.Click) string {
	switch {
	case c.City != "" && c.Country != "":
		return c.City + ", " + c.Country
	case c.Country != "":
		return c.Country
	case c.City != "":
		return c.City
	}
	return "—"
}

func partnerFlagTitle(flag string) string {
	switch flag {
	case store.ClickFlagBot:
		return "The user agent looks like a bot or a script."
	case store.ClickFlagVelocity:
		return "Many clicks from one IP address on this partner within minutes."
	}
	return ""
}
