package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
	"github.com/partli/partli/internal/validator"
)

// CreateReward handles POST /api/programs/{id}/rewards.
func (s *Server) CreateReward(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	r := &store.Reward{ID: ids.New(ids.Reward), WorkspaceID: p.WorkspaceID, ProgramID: p.ID}
	if v, ok := b.str("groupId"); ok {
		r.GroupID = &v
	}
	if v, ok := b.str("event"); ok {
		r.Event = v
	} else if !b.has("event") {
		b.errs.Add("event", "is required")
	}
	if r.Event != "" && r.Event != "sale" && r.Event != "lead" {
		b.errs.Add("event", `must be "sale" or "lead"`)
	}
	readRewardTerms(b, r, true)
	if err := b.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if r.GroupID != nil {
		g, err := s.store.Group(ctx, p.WorkspaceID, *r.GroupID)
		if errors.Is(err, store.ErrNotFound) || (err == nil && g.ProgramID != p.ID) {
			return notFoundField("groupId", "No such group in this program.")
		}
		if err != nil {
			return err
		}
	}
	err = s.store.CreateReward(ctx, r)
	if store.ConflictKey(err) == store.RewardSlotKey {
		what := "The program's default"
		if r.GroupID != nil {
			what = "This group"
		}
		return conflict("event", what+" already has a "+r.Event+" reward; change that one instead.")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, r)
}

// readRewardTerms reads type, percent, amountCents, interval and
// durationMonths onto r, then checks the whole for consistency.
func readRewardTerms(b *body, r *store.Reward, create bool) {
	for _, f := range []string{"type", "interval"} {
		if !b.has(f) && (create || b.present(f)) {
			b.errs.Add(f, "is required")
		}
	}
	if v, ok := b.str("type"); ok {
		if v != tracking.Percentage && v != tracking.Flat {
			b.errs.Add("type", `must be "percentage" or "flat"`)
		}
		if v != r.Type {
			r.PercentBP, r.AmountCents = nil, nil
		}
		r.Type = v
	}
	if b.has("percent") {
		raw := strings.TrimSpace(string(b.raw["percent"]))
		bp, code := validator.Percent(raw)
		if code != validator.CodeOK {
			b.errs.Add("percent", "must be a number above 0 and at most 100, with at most two decimals")
		} else {
			r.PercentBP = &bp
		}
	} else if b.present("percent") {
		r.PercentBP = nil
	}
	if v, ok := b.int("amountCents", 1, money.MaxSaleCents); ok {
		r.AmountCents = &v
	} else if b.present("amountCents") && !b.has("amountCents") {
		r.AmountCents = nil
	}
	if v, ok := b.str("interval"); ok {
		if v != tracking.OneTime && v != tracking.Recurring {
			b.errs.Add("interval", `must be "one_time" or "recurring"`)
		}
		r.Interval = v
	}
	if v, ok := b.int("durationMonths", validator.DurationMonthsMin, validator.DurationMonthsMax); ok {
		m := int(v)
		r.DurationMonths = &m
	} else if b.present("durationMonths") && !b.has("durationMonths") {
		r.DurationMonths = nil
	}
	if len(b.errs) > 0 {
		return
	}
	switch r.Type {
	case tracking.Percentage:
		if r.PercentBP == nil {
			b.errs.Add("percent", "is required for a percentage reward")
		}
		if r.AmountCents != nil {
			b.errs.Add("amountCents", "must not be set for a percentage reward")
		}
	case tracking.Flat:
		if r.AmountCents == nil {
			b.errs.Add("amountCents", "is required for a flat reward")
		}
		if r.PercentBP != nil {
			b.errs.Add("percent", "must not be set for a flat reward")
		}
	}
	if r.Interval == tracking.OneTime && r.DurationMonths != nil {
		if b.has("durationMonths") {
			b.errs.Add("durationMonths", "applies to recurring rewards only")
		} else {
			r.DurationMonths = nil // switching to one_time drops the cap
		}
	}
	if r.Event == "lead" {
		for _, e := range validator.LeadReward(r.GroupID != nil, r.Type == tracking.Flat, r.Interval == tracking.OneTime) {
			b.errs.Add(e.Field, apiLeadRule[e.Code])
		}
	}
}

// apiLeadRule words the lead-reward rules (validator.LeadReward) for the API.
var apiLeadRule = map[string]string{
	validator.CodeLeadNeedsGroup: "is required for a lead reward (there is no program-level lead reward)",
	validator.CodeLeadFlat:       `must be "flat" for a lead reward`,
	validator.CodeLeadOneTime:    `must be "one_time" for a lead reward (one lead commission per customer)`,
}

// ListRewards handles GET /api/programs/{id}/rewards.
func (s *Server) ListRewards(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	rs, err := s.store.ListRewards(c.Request().Context(), p.WorkspaceID, p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(rs, nil))
}

func (s *Server) reward(c echo.Context) (*store.Reward, error) {
	r, err := s.store.Reward(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("reward")
	}
	return r, err
}

// UpdateReward handles PATCH /api/rewards/{id}. Existing commissions keep
// the terms they were made with.
func (s *Server) UpdateReward(c echo.Context) error {
	r, err := s.reward(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	for _, f := range []string{"event", "groupId"} {
		if b.present(f) {
			b.errs.Add(f, "cannot be changed; delete the reward and create another")
		}
	}
	readRewardTerms(b, r, false)
	if err := b.err(); err != nil {
		return err
	}
	if err := s.store.UpdateReward(c.Request().Context(), r); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, r)
}

// DeleteReward handles DELETE /api/rewards/{id}.
func (s *Server) DeleteReward(c echo.Context) error {
	err := s.store.DeleteReward(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("reward")
	}
	if err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}
