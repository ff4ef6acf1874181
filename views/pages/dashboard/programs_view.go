package dashboard

import (
	"strconv"

	"github.com/partli/partli/internal/money"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// ProgramListView is the model of GET /programs.
type ProgramListView struct {
	Programs []store.ProgramSummary
	CanEdit  bool
	Flash    string
	NextHref string
}

// ProgramForm is the program settings form as the user typed it, with the
// message of each field that failed.
type ProgramForm struct {
	Name, Slug, DestinationURL, Currency string
	HoldingPeriodDays, CookieDays        string
	MinPayout                            string // major units, e.g. "50.00"
	AutoApprove                          bool
	Errors                               map[string]string
}

// Err is the message for field, "" when it passed.
func (f ProgramForm) Err(field string) string { return f.Errors[field] }

// NewProgramView is the model of GET /programs/new.
type NewProgramView struct {
	CSRF string
	Form ProgramForm
}

// GroupForm is the add-group form or one group's edit form.
type GroupForm struct {
	ID                string // "" for the add form
	Name              string
	HoldingPeriodDays string // "" = use the program's
	Errors            map[string]string
	Open              bool // show the edit form unfolded (after an error)
}

// Err is the message for field, "" when it passed.
func (f GroupForm) Err(field string) string { return f.Errors[field] }

// RewardForm is a reward form of one slot: adding a reward to an empty
// slot, or changing the one it holds.
type RewardForm struct {
	ProgramID      string
	Currency       string // the program's: flat amounts are in it
	RewardID       string // "" when adding
	GroupID        string // "" for the program's default
	Event          string // sale or lead
	Type           string
	Percent        string
	Amount         string // major units, e.g. "49.00"
	Interval       string
	DurationMonths string
	Preview        string // what partners earn, in words
	Errors         map[string]string
	Open           bool
}

// Err is the message for field, "" when it passed.
func (f RewardForm) Err(field string) string { return f.Errors[field] }

// Slot names the form's slot, unique on the page: "default-sale", "grp_…-lead".
func (f RewardForm) Slot() string { return RewardSlotKey(f.GroupID, f.Event) }

// Action is where the form posts.
func (f RewardForm) Action() string {
	if f.RewardID != "" {
		return "/rewards/" + f.RewardID
	}
	return "/programs/" + f.ProgramID + "/rewards"
}

// RewardSlotKey names a (group-or-default, event) slot.
func RewardSlotKey(groupID, event string) string {
	if groupID == "" {
		groupID = "default"
	}
	return groupID + "-" + event
}

// RewardSlot is one place a reward can be: the program's default sale
// reward, or a group's sale or lead reward.
type RewardSlot struct {
	Title  string
	Empty  string // what happens while the slot has no reward
	Reward *store.Reward
	Form   RewardForm
	Key    string
}

// GroupRow is one group of the program page.
type GroupRow struct {
	Group    store.Group
	Partners int64
	Edit     GroupForm
	Sale     RewardSlot
	Lead     RewardSlot
}

// ProgramDetailView is the model of GET /programs/:id.
type ProgramDetailView struct {
	CSRF      string
	CanEdit   bool
	Flash     string
	Error     string
	Program   *store.Program
	Partners  int64
	Ungrouped int64
	Settings  ProgramForm
	Default   RewardSlot
	Groups    []GroupRow
	NewGroup  GroupForm
	Codes     ProgramCodesView // the customer discount and codes (codes.templ)
}

// RewardWords says what a reward pays, in plain words (components.RewardWords).
func RewardWords(r *store.Reward) string { return components.RewardWords(r) }

// progDays writes a number of days: "1 day", "30 days".
func progDays(n int) string {
	if n == 1 {
		return "1 day"
	}
	return strconv.Itoa(n) + " days"
}

func progCount(n int64) string { return strconv.FormatInt(n, 10) }

// progCurrencies are offered as suggestions; any ISO 4217 code is accepted.
var progCurrencies = []string{"USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "SEK", "NOK", "DKK", "PLN", "JPY", "INR", "BRL", "MXN", "SGD"}

// progExampleAmount is an amount for help text in the currency's own precision:
// "49.00" for USD, "5000" for JPY, "49.000" for KWD.
func progExampleAmount(exp int) string {
	if exp == 0 {
		return "5000"
	}
	s := "49."
	for range exp {
		s += "0"
	}
	return s
}

// progGroupHolding is a group's holding period in words: its own, or the
// program's when the group does not set one.
func progGroupHolding(g store.Group, programDays int) string {
	if g.HoldingPeriodDays != nil {
		return progDays(*g.HoldingPeriodDays)
	}
	return progDays(programDays) + " (program's)"
}

// progID makes an element id unique to a reward form's slot.
func (f RewardForm) progID(field string) string { return "r-" + f.Slot() + "-" + field }

// progYesNo is a boolean in words.
func progYesNo(b bool) string {
	if b {
		return "Yes"
	}
	return "No"
}

func progExp(currency string) int { return money.Exponent(currency) }

// progSubtitle is the line under a program's name.
func progSubtitle(p *store.Program) string {
	return p.Slug + " · " + p.Currency + " · created " + components.Date(p.CreatedAt)
}

// progPartners counts partners in words: "1 partner", "3 partners".
func progPartners(n int64) string {
	if n == 1 {
		return "1 partner"
	}
	return progCount(n) + " partners"
}

// currencyUnit is code as a currency unit: the upper-case ISO code when it
// is one, USD (the default) when empty, else a dash.
func currencyUnit(code string) string {
	if code == "" {
		return "USD"
	}
	if c, ok := money.NormalizeCurrency(code); ok {
		return c
	}
	return "—"
}
