package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
	"github.com/partli/partli/internal/validator"
	"github.com/partli/partli/views/pages/dashboard"
)

// A program's rewards on its dashboard page: the preview, creating, changing
// and deleting a reward (owners), and reading the reward form.

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

// progFirstError is one message of a failed form, for a page-level flash.
func progFirstError(errs map[string]string) string {
	for _, k := range []string{"form", "type", "percent", "amount", "interval", "durationMonths"} {
		if m := errs[k]; m != "" {
			return m
		}
	}
	return "The reward could not be saved."
}
