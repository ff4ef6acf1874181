package dashboard

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// CommissionsFilter is the commission list's filter as the user typed it.
type CommissionsFilter struct {
	Status    string
	ProgramID string
	Partner   string // a partner's id, link slug or email
	Customer  string
}

// Query is the filter as URL parameters (empty ones left out).
func (f CommissionsFilter) Query() url.Values {
	return queryOf("status", f.Status, "programId", f.ProgramID, "partner", f.Partner, "customer", f.Customer)
}

// Active reports whether any filter is set.
func (f CommissionsFilter) Active() bool { return len(f.Query()) > 0 }

// Flash is a message shown above a page or fragment: Kind "error" or "success".
type Flash struct {
	Kind, Message string
}

// CommissionsView is the commission list page.
type CommissionsView struct {
	CSRF          string
	Filter        CommissionsFilter
	Cursor        string // the page shown, so a bulk action re-shows it
	Errors        map[string]string
	Programs      []Option
	PartnerFilter PartnerFilter
	Rows          []CommissionRowView
	NextURL       string
	Flash         Flash
	BulkReason    string
}

// CommissionRowView is one row of the list, possibly showing the inline
// claw-back form.
type CommissionRowView struct {
	Row         store.CommissionRow
	CSRF        string
	Clawback    bool   // show the claw-back form instead of the actions
	Reason      string // what was typed in the form
	ReasonError string
}

// CommissionView is one commission's page.
type CommissionView struct {
	CSRF        string
	C           *store.CommissionRow
	History     []store.HistoryEntry
	Adjustments []store.CommissionRow
	Flash       Flash
	Reason      string
	ReasonError string
}

// RowID is the HTML id of a commission's row, the target of its actions.
func RowID(id string) string { return "commission-" + id }

// CanApprove, CanPay and CanClawBack say which actions a row offers: the
// ones the state machine takes (commission.State.Can), which the server
// asks again when one is used.
func CanApprove(r store.CommissionRow) bool { return commission.RowState(r).Can(commission.Approved) }

func CanPay(r store.CommissionRow) bool { return commission.RowState(r).Can(commission.Paid) }

func CanClawBack(r store.CommissionRow) bool {
	return commission.RowState(r).Can(commission.ClawedBack)
}

// ClawBackExplanation says what claw back will do to this commission.
func ClawBackExplanation(r store.CommissionRow) string {
	if commission.EdgeOf(commission.Status(r.Status), commission.ClawedBack) == commission.ByAdjustment {
		return "This commission is already paid, so it stays as it is: a negative adjustment of " +
			components.Money(-r.AmountCents, r.Currency) + " is created and nets against " + r.PartnerName + "'s next payout."
	}
	return "The commission of " + components.Money(r.AmountCents, r.Currency) + " becomes clawed back and will not be paid."
}

// ActorLabel is a history actor for people: the user's email without the "user:" prefix.
func ActorLabel(actor string) string { return strings.TrimPrefix(actor, "user:") }

// HistoryFrom is a history entry's previous status, "—" for the first one.
func HistoryFrom(h store.HistoryEntry) string {
	if h.From == nil {
		return "—"
	}
	return components.StatusLabel(*h.From)
}

// CustomerLabel is a commission's or sale's customer, "—" without one.
func CustomerLabel(id *string) string {
	if id == nil || *id == "" {
		return "—"
	}
	return *id
}

// RewardLabel describes the reward snapshot kept with a commission.
func RewardLabel(c store.Commission) string {
	if c.RewardType == nil {
		return "—"
	}
	s := ""
	switch *c.RewardType {
	case "percentage":
		if c.RewardPercentBP != nil {
			s = money.FormatPercent(*c.RewardPercentBP) + "% of " + components.Money(c.SaleAmountCents, c.Currency)
		}
	case "flat":
		if c.RewardAmountCents != nil {
			s = components.Money(*c.RewardAmountCents, c.Currency) + " flat"
		}
	}
	if c.RewardInterval != nil {
		if *c.RewardInterval == "one_time" {
			s += ", one-time"
		} else {
			s += ", recurring"
			if c.RewardDurationMonths != nil {
				s += " for " + strconv.Itoa(*c.RewardDurationMonths) + " months"
			}
		}
	}
	return s
}

// StatusOptions are the choices of the status filter.
func StatusOptions() []Option {
	return []Option{{"", "Any status"}, {"pending", "Pending"}, {"approved", "Approved"}, {"paid", "Paid"}, {"clawed_back", "Clawed back"}}
}
