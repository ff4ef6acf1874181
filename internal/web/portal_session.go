package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/layouts"
	"github.com/partli/partli/views/pages/dashboard"
	"github.com/partli/partli/views/pages/portal"
)

const (
	accountKey = "partnerAccount"
	inviteTTL  = 14 * 24 * time.Hour
)

// requirePartner loads the signed-in partner account, or sends the visitor
// to the portal's sign-in page.
func (s *Server) requirePartner(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := s.liveSession(c, partnerCookie)
		if err != nil {
			return err
		}
		if sess != nil && sess.AccountID != nil {
			a, err := s.store.PartnerAccountByID(c.Request().Context(), *sess.AccountID)
			if err == nil && !a.Verified() {
				// No session is made for an unproven account; one from
				// before they were refused is not honoured either.
				err = store.ErrNotFound
			}
			if err == nil {
				signedIn(c, sess)
				c.Set(accountKey, a)
				return next(c)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return redirect(c, signInTarget(c, "/partner/login"))
	}
}

func currentAccount(c echo.Context) *store.PartnerAccount {
	return c.Get(accountKey).(*store.PartnerAccount)
}

func (s *Server) portalPage(c echo.Context, status int, title string, content templ.Component) error {
	m := layouts.PortalMeta{Title: title, CSRF: csrfToken(c)}
	if a, ok := c.Get(accountKey).(*store.PartnerAccount); ok {
		m.Email = a.Email
	}
	return s.render(c, status, layouts.Portal(m, content))
}

func (s *Server) signInPartner(c echo.Context, accountID string) error {
	return s.startSession(c, partnerCookie, &store.Session{AccountID: &accountID})
}

// PartnerLoginPage handles GET /partner/login.
func (s *Server) PartnerLoginPage(c echo.Context) error {
	v := portal.LoginView{CSRF: csrfToken(c), Next: localPath(c.QueryParam("next"), "")}
	switch {
	case c.QueryParam("joined") != "":
		v.Notice = "Your account is ready. Sign in with your email and password."
	case c.QueryParam("verified") != "":
		v.Notice = "Your email address is confirmed. Sign in with your email and password."
	case c.QueryParam("reset") != "":
		v.Notice = "Your new password is set, and your other sessions are signed out. Sign in with it."
	}
	return s.portalPage(c, http.StatusOK, "Sign in", portal.Login(v))
}

// PartnerLogin handles POST /partner/login, with the same lockout as the
// dashboard. An account made by the application form signs in once its
// address is proven (the link mailed to it); until then the right password
// is answered with a 403 that offers to mail the link again.
func (s *Server) PartnerLogin(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	v := portal.LoginView{CSRF: csrfToken(c), Email: email, Next: localPath(c.FormValue("next"), "")}
	fail := func(status int, msg string) error {
		v.Error = msg
		return s.portalPage(c, status, "Sign in", portal.Login(v))
	}
	if email == "" || password == "" {
		return fail(http.StatusBadRequest, "Enter your email address and password.")
	}
	a, err := s.store.PartnerAccountByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		accounts.CheckPassword(dummyHash, password)
		return fail(http.StatusUnauthorized, wrongPassword)
	}
	if err != nil {
		return err
	}
	if status, msg, err := s.checkPassword(ctx, store.SignInOf{Account: a.ID}, accountHash(a), password); err != nil || status != 0 {
		if err != nil {
			return err
		}
		return fail(status, msg)
	}
	if !a.Verified() {
		v.Unverified = true
		return fail(http.StatusForbidden, "Confirm your email address first: open the link we mailed to "+a.Email+".")
	}
	if err := s.signInPartner(c, a.ID); err != nil {
		return err
	}
	return redirect(c, localPath(v.Next, "/partner"))
}

func accountHash(a *store.PartnerAccount) string {
	if a.PasswordHash == nil {
		return ""
	}
	return *a.PasswordHash
}

// PartnerLogout handles POST /partner/logout: it ends every session of the
// account, in every browser.
func (s *Server) PartnerLogout(c echo.Context) error {
	if _, err := s.store.EndPartnerSessions(c.Request().Context(), currentAccount(c).ID, ""); err != nil {
		return err
	}
	s.clearCookie(c, partnerCookie)
	return redirect(c, "/partner/login")
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

func (s *Server) invitedPartner(c echo.Context) (*store.Partner, error) {
	p, err := s.store.Partner(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "No such partner in this workspace.")
	}
	return p, err
}

// InvitePartner handles POST /partners/{id}/invite (owners): a one-time
// invite link to the partner portal, mailed to the partner and carried in
// the session to the page the browser is sent to, which shows it once.
func (s *Server) InvitePartner(c echo.Context) error {
	p, err := s.invitedPartner(c)
	if err != nil {
		return err
	}
	link, err := s.NewInvite(c, p)
	if err != nil {
		return err
	}
	if err := s.setFlash(c, flashInviteLink, link); err != nil {
		return err
	}
	return redirect(c, "/partners/"+p.ID+"/invite")
}

// InvitedPage handles GET /partners/{id}/invite: the invite just made, its
// link shown this once; a refresh shows it no more and makes no other.
func (s *Server) InvitedPage(c echo.Context) error {
	p, err := s.invitedPartner(c)
	if err != nil {
		return err
	}
	v := dashboard.InviteView{CSRF: csrfToken(c), PartnerID: p.ID, PartnerName: p.Name, Email: p.Email, MailHeld: s.cfg.SMTPURL == ""}
	if _, err := s.takeFlash(c, flashInviteLink, &v.Link); err != nil {
		return err
	}
	return s.page(c, http.StatusOK, s.meta(c, "Invite "+p.Name, "partners"), dashboard.Invite(v))
}
