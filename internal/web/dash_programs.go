package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
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

// DashCreateGroup handles POST /programs/:id/groups.
func (s *Server) DashCreateGroup(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	f := progReadGroup(c)
	g := &store.Group{ID: ids.New(ids.Group), WorkspaceID: p.WorkspaceID, ProgramID: p.ID}
	progCheckGroup(&f, g, p)
	if len(f.Errors) == 0 {
		err := s.store.CreateGroup(c.Request().Context(), g)
		switch {
		case formConflict(err, f.Errors):
		case err != nil:
			return err
		default:
			return redirect(c, "/programs/"+p.ID+"?done=group-added#groups")
		}
	}
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		v.NewGroup = f
		return dashboard.GroupAddForm(v.CSRF, p, f)
	})
}

// DashUpdateGroup handles POST /programs/:id/groups/:groupId: a new name
// or holding period.
func (s *Server) DashUpdateGroup(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	g, err := s.store.Group(c.Request().Context(), p.WorkspaceID, c.Param("groupId"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.ProgramID != p.ID) {
		return notFound("group")
	}
	if err != nil {
		return err
	}
	f := progReadGroup(c)
	f.ID = g.ID
	changed := *g
	progCheckGroup(&f, &changed, p)
	if len(f.Errors) == 0 {
		err := s.store.UpdateGroup(c.Request().Context(), &changed)
		switch {
		case formConflict(err, f.Errors):
		case err != nil:
			return err
		default:
			return redirect(c, "/programs/"+p.ID+"?done=group-saved#groups")
		}
	}
	f.Open = true
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		for i := range v.Groups {
			if v.Groups[i].Group.ID == g.ID {
				v.Groups[i].Edit = f
			}
		}
		return dashboard.GroupEditForm(v.CSRF, p, f)
	})
}

// DashCurrencyUnit handles GET /programs/currency-unit?currency=: the unit
// shown in the program form's minimum payout field, swapped by HTMX as the
// currency is typed.
func (s *Server) DashCurrencyUnit(c echo.Context) error {
	return s.render(c, http.StatusOK, dashboard.CurrencyUnit(strings.TrimSpace(c.QueryParam("currency"))))
}

// DashRewardPreview handles GET /programs/:id/reward-preview: HTMX asks it,
// whenever a choice changes, for the sentence of what the reward would pay,
// and swaps that sentence alone. Nothing is saved and no errors are shown:
// the user has not submitted yet.
func (s *Server) DashRewardPreview(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	r := &store.Reward{ProgramID: p.ID, Event: c.QueryParam("event")}
	if r.Event != "sale" && r.Event != "lead" {
		return echo.NewHTTPError(http.StatusBadRequest, "A reward is for a sale or a lead.")
	}
	if g := c.QueryParam("groupId"); g != "" {
		r.GroupID = &g
	}
	f := progReadReward(c, r, p.Currency)
	f.ProgramID, f.Currency = p.ID, p.Currency
	if len(f.Errors) == 0 {
		f.Preview = dashboard.RewardWords(r)
	}
	f.Errors = nil
	return s.page(c, http.StatusOK, s.meta(c, p.Name, "programs"), dashboard.RewardPreview(f))
}

// DashCreateReward handles POST /programs/:id/rewards.
func (s *Server) DashCreateReward(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r := &store.Reward{ID: ids.New(ids.Reward), WorkspaceID: p.WorkspaceID, ProgramID: p.ID, Event: c.FormValue("event")}
	if r.Event != "sale" && r.Event != "lead" {
		return echo.NewHTTPError(http.StatusBadRequest, "A reward is for a sale or a lead.")
	}
	if gid := strings.TrimSpace(c.FormValue("groupId")); gid != "" {
		g, err := s.store.Group(ctx, p.WorkspaceID, gid)
		if errors.Is(err, store.ErrNotFound) || (err == nil && g.ProgramID != p.ID) {
			return notFound("group")
		}
		if err != nil {
			return err
		}
		r.GroupID = &gid
	}
	f := progReadReward(c, r, p.Currency)
	f.ProgramID, f.Currency = p.ID, p.Currency
	key := dashboard.RewardSlotKey(f.GroupID, f.Event)
	if len(f.Errors) == 0 {
		err := s.store.CreateReward(ctx, r)
		switch {
		case store.ConflictKey(err) == store.RewardSlotKey:
			// Filled meanwhile (another tab, another owner): show the reward
			// that is there, to be changed instead.
			what := "The program's default"
			if r.GroupID != nil {
				what = "This group"
			}
			msg := what + " already has a " + r.Event + " reward; change that one instead."
			return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
				slot := progSlot(v, key)
				if slot == nil {
					v.Error = msg
					return nil
				}
				slot.Form.Errors = map[string]string{"form": msg}
				slot.Form.Open = true
				return dashboard.RewardEditor(v.CSRF, slot.Form)
			})
		case err != nil:
			return err
		default:
			return redirect(c, "/programs/"+p.ID+"?done=reward-added#slot-"+key)
		}
	}
	f.Open = true
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		slot := progSlot(v, key)
		if slot == nil {
			// Not a place the page offers (a lead reward without a group).
			v.Error = progFirstError(f.Errors)
			return nil
		}
		slot.Form = f
		return dashboard.RewardEditor(v.CSRF, f)
	})
}

// DashUpdateReward handles POST /rewards/:id. Its event and group stay;
// only the terms change, and commissions already made keep theirs.
func (s *Server) DashUpdateReward(c echo.Context) error {
	r, err := s.reward(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	p, err := s.store.Program(ctx, r.WorkspaceID, r.ProgramID)
	if err != nil {
		return err
	}
	changed := *r
	f := progReadReward(c, &changed, p.Currency)
	f.ProgramID, f.Currency, f.RewardID = p.ID, p.Currency, r.ID
	key := dashboard.RewardSlotKey(f.GroupID, f.Event)
	if len(f.Errors) == 0 {
		if err := s.store.UpdateReward(ctx, &changed); err != nil {
			return err
		}
		return redirect(c, "/programs/"+p.ID+"?done=reward-saved#slot-"+key)
	}
	f.Open = true
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		if slot := progSlot(v, key); slot != nil {
			slot.Form = f
		}
		return dashboard.RewardEditor(v.CSRF, f)
	})
}

// DashDeleteReward handles POST /rewards/:id/delete.
func (s *Server) DashDeleteReward(c echo.Context) error {
	r, err := s.reward(c)
	if err != nil {
		return err
	}
	if err := s.store.DeleteReward(c.Request().Context(), r.WorkspaceID, r.ID); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return notFound("reward")
		}
		return err
	}
	return redirect(c, "/programs/"+r.ProgramID+"?done=reward-deleted#rewards")
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

// progSlot finds the reward slot named key on the page.
func progSlot(v *dashboard.ProgramDetailView, key string) *dashboard.RewardSlot {
	if v.Default.Key == key {
		return &v.Default
	}
	for i := range v.Groups {
		if v.Groups[i].Sale.Key == key {
			return &v.Groups[i].Sale
		}
		if v.Groups[i].Lead.Key == key {
			return &v.Groups[i].Lead
		}
	}
	return nil
}

// progRewardForm is a slot's form: the reward it holds, or a blank one.
func progRewardForm(p *store.Program, groupID, event string, r *store.Reward) dashboard.RewardForm {
	f := dashboard.RewardForm{ProgramID: p.ID, Currency: p.Currency, GroupID: groupID, Event: event,
		Type: tracking.Percentage, Interval: tracking.OneTime}
	if event == "lead" {
		f.Type = tracking.Flat
	}
	if r == nil {
		return f
	}
	f.RewardID, f.Type, f.Interval = r.ID, r.Type, r.Interval
	if r.PercentBP != nil {
		f.Percent = money.FormatPercent(*r.PercentBP)
	}
	if r.AmountCents != nil {
		f.Amount = money.Decimal(*r.AmountCents, p.Currency)
	}
	f.DurationMonths = progOptInt(r.DurationMonths)
	f.Preview = dashboard.RewardWords(r)
	return f
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

// progReadGroup reads a group form as typed.
func progReadGroup(c echo.Context) dashboard.GroupForm {
	return dashboard.GroupForm{Name: strings.TrimSpace(c.FormValue("name")),
		HoldingPeriodDays: strings.TrimSpace(c.FormValue("holdingPeriodDays")), Errors: map[string]string{}}
}

// progCheckGroup validates a group form with the API's rules and copies it onto g.
func progCheckGroup(f *dashboard.GroupForm, g *store.Group, p *store.Program) {
	switch validator.Name(f.Name, validator.GroupNameMax) {
	case validator.CodeMissing:
		f.Errors["name"] = "Enter a name for the group."
	case validator.CodeTooLong:
		f.Errors["name"] = "Keep the name to " + strconv.Itoa(validator.GroupNameMax) + " characters or fewer."
	}
	g.Name = f.Name
	g.HoldingPeriodDays = nil
	if f.HoldingPeriodDays != "" {
		n, code := validator.HoldingPeriod(f.HoldingPeriodDays)
		if code != validator.CodeOK {
			f.Errors["holdingPeriodDays"] = "Enter a whole number of days from 0 to 3650, or leave it blank to use the program's " +
				strconv.Itoa(p.HoldingPeriodDays) + "."
		}
		g.HoldingPeriodDays = &n
	}
}

// progReadReward reads a reward form onto r (whose event and group are
// set) with the API's rules (readRewardTerms). The form shows the inputs
// of every option; the one of the option not chosen is ignored rather
// than refused, since the person never meant to send it.
func progReadReward(c echo.Context, r *store.Reward, currency string) dashboard.RewardForm {
	v := func(name string) string { return strings.TrimSpace(c.FormValue(name)) }
	f := dashboard.RewardForm{Event: r.Event, GroupID: progDeref(r.GroupID), Type: v("type"), Percent: v("percent"),
		Amount: v("amount"), Interval: v("interval"), DurationMonths: v("durationMonths"), Errors: map[string]string{}}
	add := func(field, msg string) {
		if _, ok := f.Errors[field]; !ok {
			f.Errors[field] = msg
		}
	}
	r.Type, r.Interval = f.Type, f.Interval
	r.PercentBP, r.AmountCents, r.DurationMonths, r.Currency = nil, nil, nil, nil
	switch f.Type {
	case tracking.Percentage:
		if f.Percent == "" {
			add("percent", "Enter the percentage partners earn, such as 20.")
		} else if bp, code := validator.Percent(strings.TrimSpace(strings.TrimSuffix(f.Percent, "%"))); code == validator.CodeOK {
			r.PercentBP = &bp
		} else {
			add("percent", "Enter a number above 0 and at most 100, with at most two decimals, such as 12.5.")
		}
	case tracking.Flat:
		r.Currency = &currency
		if f.Amount == "" {
			add("amount", "Enter the amount partners earn, such as "+progExample(currency)+".")
		} else if n, code := validator.Amount(f.Amount, currency, 1); code == validator.CodeOK {
			r.AmountCents = &n
		} else {
			add("amount", progAmountHelp(currency, "above zero"))
		}
	case "":
		add("type", "Choose a percentage or a flat amount.")
	default:
		add("type", "Choose a percentage or a flat amount.")
	}
	switch f.Interval {
	case tracking.OneTime:
	case tracking.Recurring:
		if f.DurationMonths != "" {
			if m, code := validator.Whole(f.DurationMonths, validator.DurationMonthsMin, validator.DurationMonthsMax); code == validator.CodeOK {
				r.DurationMonths = &m
			} else {
				add("durationMonths", "Enter a whole number of months from 1 to 1200, or leave it blank to pay for as long as the customer pays.")
			}
		}
	default:
		add("interval", "Choose one-time or recurring.")
	}
	if len(f.Errors) > 0 {
		return f
	}
	if r.Event == "lead" {
		for _, e := range validator.LeadReward(r.GroupID != nil, r.Type == tracking.Flat, r.Interval == tracking.OneTime) {
			field := e.Field
			if field == "groupId" {
				field = "form" // the slot's group is not a field of the form
			}
			add(field, formLeadRule[e.Code])
		}
	}
	return f
}

// formLeadRule words the lead-reward rules (validator.LeadReward) for the dashboard's reward form.
var formLeadRule = map[string]string{
	validator.CodeLeadNeedsGroup: "A lead reward belongs to a group: there is no program-level lead reward.",
	validator.CodeLeadFlat:       "A lead reward must be a flat amount.",
	validator.CodeLeadOneTime:    "A lead reward is one-time: one lead commission per customer.",
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

// progFirstError is one message of a failed form, for a page-level flash.
func progFirstError(errs map[string]string) string {
	for _, k := range []string{"form", "type", "percent", "amount", "interval", "durationMonths"} {
		if m := errs[k]; m != "" {
			return m
		}
	}
	return "The reward could not be saved."
}
