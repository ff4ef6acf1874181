package web

import (
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/layouts"
	"github.com/partli/partli/views/pages/dashboard"
	"github.com/partli/partli/views/pages/portal"
)

// The portal's pages of a signed-in partner: every program they are in,
// and one of them.

// portalPage renders content in the portal's layout.
func (s *Server) portalPage(c echo.Context, status int, title string, content templ.Component) error {
	m := layouts.PortalMeta{Title: title, CSRF: csrfToken(c)}
	if a, ok := c.Get(accountKey).(*store.PartnerAccount); ok {
		m.Email = a.Email
	}
	return s.render(c, status, layouts.Portal(m, content))
}

// PortalHome handles GET /partner: every program of the partner with
// earnings per status and currency.
func (s *Server) PortalHome(c echo.Context) error {
	ctx := c.Request().Context()
	es, err := s.store.Enrollments(ctx, currentAccount(c).ID)
	if err != nil {
		return err
	}
	v := portal.HomeView{}
	for _, e := range es {
		rows, err := s.store.Earnings(ctx, e.WorkspaceID, e.ID)
		if err != nil {
			return err
		}
		v.Programs = append(v.Programs, portal.HomeProgram{Enrollment: e, Balances: portal.Balances(rows)})
	}
	return s.portalPage(c, http.StatusOK, "Your programs", portal.Home(v))
}

// PortalProgram handles GET /partner/programs/{partnerId}: one enrollment.
// Another partner's enrollment is a 404, exactly like one that does not exist.
func (s *Server) PortalProgram(c echo.Context) error {
	e, err := s.portalEnrollment(c)
	if err != nil {
		return err
	}
	return s.portalProgramPage(c, e, http.StatusOK, nil)
}

// portalProgramPage renders an enrollment's page; method, when set, changes
// its payout method section (a form refused, with why).
func (s *Server) portalProgramPage(c echo.Context, e *store.Enrollment, status int, method func(*portal.PayoutMethodView)) error {
	return s.portalProgramPageWith(c, e, status, func(v *portal.ProgramView) {
		if method != nil {
			method(&v.PayoutMethod)
		}
	})
}

// portalProgramPageWith renders an enrollment's page, changed by edit (a
// form refused, with why).
func (s *Server) portalProgramPageWith(c echo.Context, e *store.Enrollment, status int, edit func(*portal.ProgramView)) error {
	ctx := c.Request().Context()
	v := portal.ProgramView{Enrollment: *e, Link: s.cfg.BaseURL + "/r/" + e.Slug}
	var err error
	if v.PayoutMethod, err = s.payoutMethodView(c, e); err != nil {
		return err
	}
	if v.Codes, err = s.portalCodesView(c, e); err != nil {
		return err
	}
	edit(&v)
	counts, err := s.store.CountsOf(ctx, e.WorkspaceID, e.ID)
	if err != nil {
		return err
	}
	v.Counts = *counts
	rows, err := s.store.Earnings(ctx, e.WorkspaceID, e.ID)
	if err != nil {
		return err
	}
	v.Balances = portal.Balances(rows)
	rewards, err := s.store.PartnerRewards(ctx, e.WorkspaceID, e.ProgramID, e.GroupID)
	if err != nil {
		return err
	}
	v.Terms = portal.Terms(rewards, e.GroupID, e.HoldingDays)
	if v.Commissions, err = s.store.RecentCommissions(ctx, e.WorkspaceID, e.ID, 25); err != nil {
		return err
	}
	if v.Payouts, err = s.store.PayoutsOf(ctx, e.WorkspaceID, e.ID, 25); err != nil {
		return err
	}
	currency, days, err := s.store.EarningsByDay(ctx, e.WorkspaceID, e.ID, time.Now().UTC())
	if err != nil {
		return err
	}
	if currency != "" {
		v.Chart = dashboard.NewChart(currency, days)
	}
	return s.portalPage(c, status, e.ProgramName, portal.Program(v))
}
