package web

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
)

// CreateProgram handles POST /api/programs.
func (s *Server) CreateProgram(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	p := &store.Program{ID: ids.New(ids.Program), WorkspaceID: workspaceOf(c),
		Currency: "USD", HoldingPeriodDays: 30, CookieDays: 90}
	readProgram(b, p, true)
	terms := readCodeTerms(b, p)
	if err := b.err(); err != nil {
		return err
	}
	p.SetDiscount(terms.discount)
	p.PartnersCreateCodes = terms.partnersCreate
	ctx := c.Request().Context()
	explicitSlug := p.Slug != ""
	if !explicitSlug {
		p.Slug = slugify(p.Name, 40)
	}
	for attempt := 0; ; attempt++ {
		err = s.store.CreateProgram(ctx, p)
		if store.ConflictKey(err) != store.ProgramSlugKey || explicitSlug || attempt == 5 {
			break
		}
		p.Slug = withSuffix(slugify(p.Name, 40), 63)
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, p)
}

// readProgram copies the program fields present in b onto p, validating them.
func readProgram(b *body, p *store.Program, create bool) {
	if v, ok := b.text("name", create, validator.NameMax); ok {
		p.Name = v
	} else if !create && b.present("name") && !b.has("name") {
		b.errs.Add("name", "must not be null")
	}
	if v, ok := b.str("slug"); ok {
		if validator.Slug(v) != validator.CodeOK {
			b.errs.Add("slug", "must be 1–63 lower-case letters, digits or dashes, starting with a letter or digit")
		}
		p.Slug = v
	}
	if v, ok := b.text("destinationUrl", create, validator.URLMax); ok {
		if validator.URL(v, validator.URLMax) != validator.CodeOK {
			b.errs.Add("destinationUrl", "must be an absolute http(s) URL")
		}
		p.DestinationURL = v
	}
	if v, ok := b.str("currency"); ok {
		cur, code := validator.Currency(v)
		if code != validator.CodeOK {
			b.errs.Add("currency", "must be an ISO 4217 currency code such as USD")
		}
		p.Currency = cur
	}
	if v, ok := b.int("holdingPeriodDays", validator.HoldingDaysMin, validator.HoldingDaysMax); ok {
		p.HoldingPeriodDays = int(v)
	}
	if v, ok := b.int("cookieDays", validator.CookieDaysMin, validator.CookieDaysMax); ok {
		p.CookieDays = int(v)
	}
	if v, ok := b.int("minPayoutCents", 0, money.MaxSaleCents); ok {
		p.MinPayoutCents = v
	}
	if v, ok := b.boolean("autoApprove"); ok {
		p.AutoApprove = v
	}
	readPayoutSchedule(b, p)
	if !create {
		for _, f := range []string{"slug", "destinationUrl", "currency", "holdingPeriodDays", "cookieDays", "minPayoutCents", "autoApprove", "payoutSchedule"} {
			if b.present(f) && !b.has(f) {
				b.errs.Add(f, "must not be null")
			}
		}
	}
}

// readPayoutSchedule reads payoutSchedule and payoutDay onto p: a weekly
// or monthly schedule without a day is on day 1 (Monday; the 1st), a
// manual one has no day, and a day alone applies to the schedule p has.
func readPayoutSchedule(b *body, p *store.Program) {
	if p.PayoutSchedule == "" {
		p.PayoutSchedule = payout.ScheduleManual
	}
	schedule, day := p.PayoutSchedule, p.PayoutDay
	if v, ok := b.str("payoutSchedule"); ok {
		if v != schedule {
			day = nil
		}
		schedule = v
	}
	if v, ok := b.int("payoutDay", 1, 31); ok {
		d := int(v)
		day = &d
	} else if b.present("payoutDay") && !b.has("payoutDay") {
		day = nil
	}
	if day == nil && (schedule == payout.ScheduleWeekly || schedule == payout.ScheduleMonthly) && !b.has("payoutDay") {
		one := 1
		day = &one
	}
	if field, problem := payout.CheckSchedule(schedule, day); problem != "" {
		b.errs.Add(field, problem)
		return
	}
	p.PayoutSchedule, p.PayoutDay = schedule, day
}

// ListPrograms handles GET /api/programs.
func (s *Server) ListPrograms(c echo.Context) error {
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	rows, next, err := s.store.ListPrograms(c.Request().Context(), workspaceOf(c), page)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(rows, next))
}

// program loads the :id program of the caller's workspace.
func (s *Server) program(c echo.Context) (*store.Program, error) {
	p, err := s.store.Program(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("program")
	}
	return p, err
}

// GetProgram handles GET /api/programs/{id}.
func (s *Server) GetProgram(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// UpdateProgram handles PATCH /api/programs/{id}.
func (s *Server) UpdateProgram(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	readProgram(b, p, false)
	terms := readCodeTerms(b, p)
	if err := b.err(); err != nil {
		return err
	}
	err = s.store.InTx(c.Request().Context(), func(tx *store.Tx) error {
		if err := tx.UpdateProgram(c.Request().Context(), p); err != nil {
			return err
		}
		if terms.set {
			_, err := tx.SetProgramCodeTerms(c.Request().Context(), p, terms.discount, terms.partnersCreate)
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, p)
}

// CreateGroup handles POST /api/programs/{id}/groups.
func (s *Server) CreateGroup(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	g := &store.Group{ID: ids.New(ids.Group), WorkspaceID: p.WorkspaceID, ProgramID: p.ID}
	g.Name, _ = b.text("name", true, validator.GroupNameMax)
	if v, ok := b.int("holdingPeriodDays", validator.HoldingDaysMin, validator.HoldingDaysMax); ok {
		days := int(v)
		g.HoldingPeriodDays = &days
	}
	if err := b.err(); err != nil {
		return err
	}
	err = s.store.CreateGroup(c.Request().Context(), g)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, g)
}

// ListGroups handles GET /api/programs/{id}/groups.
func (s *Server) ListGroups(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	gs, err := s.store.ListGroups(c.Request().Context(), p.WorkspaceID, p.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(gs, nil))
}

// slugify makes a URL slug from a name: "Zoë Doe!" → "zoe-doe".
func slugify(name string, max int) string { return validator.Slugify(name, max) }

// withSuffix appends a short random suffix, keeping within max characters.
func withSuffix(base string, max int) string {
	suffix := "-" + ids.Random(3)[:5]
	if len(base)+len(suffix) > max {
		base = base[:max-len(suffix)]
	}
	return base + suffix
}
