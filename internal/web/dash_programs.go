package web

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
	"github.com/partli/partli/internal/web/htmx"
	"github.com/partli/partli/views/pages/dashboard"
)

func progIsOwner(c echo.Context) bool { return currentUser(c).Role == "owner" }

// DashPrograms handles GET /programs.
func (s *Server) DashPrograms(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	rows, next, err := s.store.ListProgramSummaries(c.Request().Context(), workspaceOf(c), page)
	if err != nil {
		return err
	}
	v := dashboard.ProgramListView{Programs: rows, CanEdit: progIsOwner(c), Flash: doneText(c, donePrograms)}
	if next != nil {
		q := url.Values{"cursor": {*next}}
		if l := c.QueryParam("limit"); l != "" {
			q.Set("limit", l)
		}
		v.NextHref = "/programs?" + q.Encode()
	}
	return s.page(c, http.StatusOK, s.meta(c, "Programs", "programs"), dashboard.ProgramList(v))
}

// DashNewProgram handles GET /programs/new.
func (s *Server) DashNewProgram(c echo.Context) error {
	f := dashboard.ProgramForm{Currency: "USD", HoldingPeriodDays: "30", CookieDays: "90", MinPayout: "0"}
	return s.page(c, http.StatusOK, s.meta(c, "New program", "programs"),
		dashboard.NewProgram(dashboard.NewProgramView{CSRF: csrfToken(c), Form: f}))
}

// DashCreateProgram handles POST /programs.
func (s *Server) DashCreateProgram(c echo.Context) error {
	f := progReadForm(c)
	p := &store.Program{ID: ids.New(ids.Program), WorkspaceID: workspaceOf(c)}
	progCheck(&f, p, true)
	if len(f.Errors) == 0 {
		err := s.progInsert(c.Request().Context(), p, f.Slug != "")
		switch {
		case formConflict(err, f.Errors):
		case err != nil:
			return err
		default:
			return redirect(c, "/programs/"+p.ID+"?done=created")
		}
	}
	return s.page(c, http.StatusUnprocessableEntity, s.meta(c, "New program", "programs"),
		dashboard.NewProgram(dashboard.NewProgramView{CSRF: csrfToken(c), Form: f}))
}

// progInsert creates p, making its slug from the name when none was given
// and trying a suffixed slug when that one is taken (as the API does).
func (s *Server) progInsert(ctx context.Context, p *store.Program, explicitSlug bool) error {
	if !explicitSlug {
		p.Slug = slugify(p.Name, 40)
	}
	for attempt := 0; ; attempt++ {
		err := s.store.CreateProgram(ctx, p)
		if store.ConflictKey(err) != store.ProgramSlugKey || explicitSlug || attempt == 5 {
			return err
		}
		p.Slug = withSuffix(slugify(p.Name, 40), 63)
	}
}

// DashProgram handles GET /programs/:id.
func (s *Server) DashProgram(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	v, err := s.progDetail(c, p)
	if err != nil {
		return err
	}
	v.Flash = doneText(c, donePrograms)
	return s.page(c, http.StatusOK, s.meta(c, p.Name, "programs"), dashboard.ProgramDetail(*v))
}

// DashUpdateProgram handles POST /programs/:id.
func (s *Server) DashUpdateProgram(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	f := progReadForm(c)
	changed := *p
	progCheck(&f, &changed, false)
	if len(f.Errors) == 0 {
		err := s.store.UpdateProgram(c.Request().Context(), &changed)
		switch {
		case formConflict(err, f.Errors):
		case err != nil:
			return err
		default:
			return redirect(c, "/programs/"+p.ID+"?done=saved")
		}
	}
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		v.Settings = f
		return nil
	})
}

// DashCurrencyUnit handles GET /programs/currency-unit?currency=: the unit
// shown in the program form's minimum payout field, swapped by HTMX as the
// currency is typed.
func (s *Server) DashCurrencyUnit(c echo.Context) error {
	return s.render(c, http.StatusOK, dashboard.CurrencyUnit(strings.TrimSpace(c.QueryParam("currency"))))
}

// progInvalid answers a form that failed with 422: for HTMX the form alone
// (the component edit returns), else the whole program page with the form
// edit put in its place.
func (s *Server) progInvalid(c echo.Context, p *store.Program, edit func(*dashboard.ProgramDetailView) templ.Component) error {
	v, err := s.progDetail(c, p)
	if err != nil {
		return err
	}
	fragment := edit(v)
	meta := s.meta(c, p.Name, "programs")
	if wantsFragment(c) {
		if fragment != nil {
			return s.page(c, http.StatusUnprocessableEntity, meta, fragment)
		}
		htmx.Response{Retarget: "#main", Reswap: "innerHTML"}.Apply(c.Response().Header())
	}
	return s.page(c, http.StatusUnprocessableEntity, meta, dashboard.ProgramDetail(*v))
}

// progDetail loads what the program page shows, every form filled from
// what is stored.
func (s *Server) progDetail(c echo.Context, p *store.Program) (*dashboard.ProgramDetailView, error) {
	ctx := c.Request().Context()
	groups, err := s.store.ListGroups(ctx, p.WorkspaceID, p.ID)
	if err != nil {
		return nil, err
	}
	rewards, err := s.store.ListRewards(ctx, p.WorkspaceID, p.ID)
	if err != nil {
		return nil, err
	}
	counts, err := s.store.GroupPartnerCounts(ctx, p.WorkspaceID, p.ID)
	if err != nil {
		return nil, err
	}
	bySlot := map[string]*store.Reward{}
	for i := range rewards {
		r := &rewards[i]
		bySlot[dashboard.RewardSlotKey(progDeref(r.GroupID), r.Event)] = r
	}
	slot := func(groupID, event, title, empty string) dashboard.RewardSlot {
		key := dashboard.RewardSlotKey(groupID, event)
		r := bySlot[key]
		return dashboard.RewardSlot{Title: title, Empty: empty, Reward: r, Key: key, Form: progRewardForm(p, groupID, event, r)}
	}
	v := &dashboard.ProgramDetailView{
		CSRF: csrfToken(c), CanEdit: progIsOwner(c), Program: p, Ungrouped: counts[""],
		Settings: progFormOf(p),
		Default: slot("", "sale", "Sale reward",
			"None yet: a sale by a partner outside a group with its own sale reward earns nothing."),
	}
	for _, n := range counts {
		v.Partners += n
	}
	if v.Codes, err = s.programCodesView(c, p); err != nil {
		return nil, err
	}
	for _, g := range groups {
		row := dashboard.GroupRow{Group: g, Partners: counts[g.ID],
			Edit: dashboard.GroupForm{ID: g.ID, Name: g.Name, HoldingPeriodDays: progOptInt(g.HoldingPeriodDays)},
			Sale: slot(g.ID, "sale", "Sale reward", "None of its own: this group's partners earn the program's default sale reward."),
			Lead: slot(g.ID, "lead", "Lead reward", "None: leads by this group's partners earn nothing."),
		}
		v.Groups = append(v.Groups, row)
	}
	return v, nil
}

// progReadForm reads the program settings form as typed.
func progReadForm(c echo.Context) dashboard.ProgramForm {
	v := func(name string) string { return strings.TrimSpace(c.FormValue(name)) }
	return dashboard.ProgramForm{
		Name: v("name"), Slug: v("slug"), DestinationURL: v("destinationUrl"), Currency: strings.ToUpper(v("currency")),
		HoldingPeriodDays: v("holdingPeriodDays"), CookieDays: v("cookieDays"), MinPayout: v("minPayout"),
		AutoApprove: c.FormValue("autoApprove") == "true", Errors: map[string]string{},
	}
}

// progFormOf is the settings form filled from what is stored.
func progFormOf(p *store.Program) dashboard.ProgramForm {
	return dashboard.ProgramForm{
		Name: p.Name, Slug: p.Slug, DestinationURL: p.DestinationURL, Currency: p.Currency,
		HoldingPeriodDays: strconv.Itoa(p.HoldingPeriodDays), CookieDays: strconv.Itoa(p.CookieDays),
		MinPayout: money.Decimal(p.MinPayoutCents, p.Currency), AutoApprove: p.AutoApprove,
	}
}

// progCheck validates the settings form with the API's rules (readProgram)
// and copies the valid values onto p.
func progCheck(f *dashboard.ProgramForm, p *store.Program, create bool) {
	errs := f.Errors
	switch validator.Name(f.Name, validator.NameMax) {
	case validator.CodeMissing:
		errs["name"] = "Enter a name for the program."
	case validator.CodeTooLong:
		errs["name"] = "Keep the name to " + strconv.Itoa(validator.NameMax) + " characters or fewer."
	}
	p.Name = f.Name
	switch validator.Slug(f.Slug) {
	case validator.CodeMissing:
		if !create {
			errs["slug"] = "Enter a slug: lower-case letters, digits or dashes."
		}
	case validator.CodeInvalid:
		errs["slug"] = "Use 1–63 lower-case letters, digits or dashes, starting with a letter or digit."
	}
	p.Slug = f.Slug
	switch validator.URL(f.DestinationURL, validator.URLMax) {
	case validator.CodeMissing:
		errs["destinationUrl"] = "Enter the address partners' links lead to."
	case validator.CodeInvalid:
		errs["destinationUrl"] = "Enter an absolute http(s) address, such as https://shop.example.com/."
	case validator.CodeTooLong:
		errs["destinationUrl"] = "Keep the address to " + strconv.Itoa(validator.URLMax) + " characters or fewer."
	}
	p.DestinationURL = f.DestinationURL
	if cur, code := validator.Currency(f.Currency); code == validator.CodeOK {
		p.Currency = cur
	} else {
		errs["currency"] = "Enter an ISO 4217 currency code such as USD or EUR."
	}
	if n, code := validator.HoldingPeriod(f.HoldingPeriodDays); code == validator.CodeOK {
		p.HoldingPeriodDays = n
	} else {
		errs["holdingPeriodDays"] = "Enter a whole number of days from 0 to 3650."
	}
	if n, code := validator.CookieWindow(f.CookieDays); code == validator.CodeOK {
		p.CookieDays = n
	} else {
		errs["cookieDays"] = "Enter a whole number of days from 1 to 3650."
	}
	if _, bad := errs["currency"]; !bad {
		if f.MinPayout == "" {
			p.MinPayoutCents = 0
		} else if n, code := validator.Amount(f.MinPayout, p.Currency, 0); code == validator.CodeOK {
			p.MinPayoutCents = n
		} else {
			errs["minPayout"] = progAmountHelp(p.Currency, "0 or more")
		}
	}
	p.AutoApprove = f.AutoApprove
}

// progExample is an amount to show in help text: "49.00", "5000" for JPY.
func progExample(currency string) string {
	if money.Exponent(currency) == 0 {
		return "5000"
	}
	return money.Decimal(money.FromMajor(49, currency), currency)
}

// progAmountHelp is the message for an amount that could not be read.
func progAmountHelp(currency, bound string) string {
	exp := money.Exponent(currency)
	if exp == 0 {
		return "Enter a whole amount " + bound + " without decimals (" + currency + " has no minor unit), such as 5000."
	}
	return "Enter an amount " + bound + " with at most " + strconv.Itoa(exp) + " decimals, using a dot and no thousands separators, such as " +
		progExample(currency) + "."
}

func progOptInt(n *int) string {
	if n == nil {
		return ""
	}
	return strconv.Itoa(*n)
}

func progDeref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
