package web

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/layouts"
	"github.com/partli/partli/views/pages/dashboard"
	"github.com/partli/partli/views/pages/portal"
)

const (
	partnerSession = "partli_partner"
	accountKey     = "partnerAccount"
	inviteTTL      = 14 * 24 * time.Hour
)

// portalRoutes is the route table of the partner portal and the public
// application pages.
func (s *Server) portalRoutes(e *echo.Echo) {
	csrf := s.csrf()
	e.GET("/apply/:ws/:program", s.ApplyPage, csrf)
	e.POST("/apply/:ws/:program", s.Apply, csrf)
	e.GET("/partner/login", s.PartnerLoginPage, csrf)
	e.POST("/partner/login", s.PartnerLogin, csrf)
	e.POST("/partner/logout", s.PartnerLogout, csrf)
	e.GET("/partner/invite/:token", s.InvitePage, csrf)
	e.POST("/partner/invite/:token", s.AcceptInvite, csrf)

	// Owners invite partners from the dashboard.
	e.POST("/partners/:id/invite", s.InvitePartner, csrf, s.requireUser, s.requireOwner)

	p := e.Group("/partner", csrf, s.requirePartner)
	p.GET("", s.PortalHome)
	p.GET("/programs/:id", s.PortalProgram)
	s.portalPayoutRoutes(p) // portal_payouts.go
}

// requirePartner loads the signed-in partner account, or sends the visitor
// to the portal's sign-in page.
func (s *Server) requirePartner(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, _ := s.sessions.Get(c.Request(), partnerSession)
		if id, _ := sess.Values[sessionUserKey].(string); id != "" {
			a, err := s.store.PartnerAccountByID(c.Request().Context(), id)
			if err == nil {
				c.Set(accountKey, a)
				return next(c)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return redirect(c, "/partner/login")
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
	sess, _ := s.sessions.New(c.Request(), partnerSession)
	sess.Values[sessionUserKey] = accountID
	return sess.Save(c.Request(), c.Response())
}

// PartnerLoginPage handles GET /partner/login.
func (s *Server) PartnerLoginPage(c echo.Context) error {
	v := portal.LoginView{CSRF: csrfToken(c)}
	if c.QueryParam("joined") != "" {
		v.Notice = "Your account is ready. Sign in with your email and password."
	}
	return s.portalPage(c, http.StatusOK, "Sign in", portal.Login(v))
}

// PartnerLogin handles POST /partner/login, with the same lockout as the dashboard.
func (s *Server) PartnerLogin(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	v := portal.LoginView{CSRF: csrfToken(c), Email: email}
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
	hash := ""
	if a.PasswordHash != nil {
		hash = *a.PasswordHash
	}
	if status, msg, err := s.checkPassword(ctx, "partner_accounts", a.ID, hash, a.LockedUntil, password); err != nil || status != 0 {
		if err != nil {
			return err
		}
		return fail(status, msg)
	}
	if err := s.signInPartner(c, a.ID); err != nil {
		return err
	}
	return redirect(c, "/partner")
}

// PartnerLogout handles POST /partner/logout.
func (s *Server) PartnerLogout(c echo.Context) error {
	sess, _ := s.sessions.Get(c.Request(), partnerSession)
	sess.Options.MaxAge = -1
	delete(sess.Values, sessionUserKey)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
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
	ctx := c.Request().Context()
	v := portal.ProgramView{Enrollment: *e, Link: s.cfg.BaseURL + "/r/" + e.Slug}
	var err error
	if v.PayoutMethod, err = s.payoutMethodView(c, e); err != nil {
		return err
	}
	if method != nil {
		method(&v.PayoutMethod)
	}
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

// applyTarget loads the workspace and program of /apply/{ws}/{program}.
func (s *Server) applyTarget(c echo.Context) (*store.Workspace, *store.Program, []string, error) {
	ctx := c.Request().Context()
	ws, err := s.store.WorkspaceBySlug(ctx, c.Param("ws"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, echo.NewHTTPError(http.StatusNotFound, "This program does not exist or does not take applications.")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := s.store.ProgramBySlug(ctx, ws.ID, c.Param("program"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, echo.NewHTTPError(http.StatusNotFound, "This program does not exist or does not take applications.")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	rewards, err := s.store.PartnerRewards(ctx, ws.ID, p.ID, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return ws, p, portal.Terms(rewards, nil, p.HoldingPeriodDays), nil
}

// ApplyPage handles GET /apply/{workspaceSlug}/{programSlug}.
func (s *Server) ApplyPage(c echo.Context) error {
	ws, p, terms, err := s.applyTarget(c)
	if err != nil {
		return err
	}
	v := portal.ApplyView{CSRF: csrfToken(c), WorkspaceName: ws.Name, Program: p, Terms: terms}
	return s.portalPage(c, http.StatusOK, "Apply to "+p.Name, portal.Apply(v))
}

// Apply handles POST /apply/{workspaceSlug}/{programSlug}: a pending partner
// (approved at once when the program auto-approves) with a portal account.
func (s *Server) Apply(c echo.Context) error {
	ws, p, terms, err := s.applyTarget(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := map[string]string{}
	for _, k := range []string{"name", "email", "website", "country", "pitch"} {
		form[k] = strings.TrimSpace(c.FormValue(k))
	}
	password := c.FormValue("password")
	errs := map[string]string{}
	switch {
	case form["name"] == "":
		errs["name"] = "Enter your name."
	case len(form["name"]) > 200:
		errs["name"] = "At most 200 characters."
	}
	if !validEmail(form["email"]) {
		errs["email"] = "Enter an email address such as jane@example.com."
	}
	if w := form["website"]; w != "" {
		if u, err := url.Parse(w); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(w) > 500 {
			errs["website"] = "Enter a full address starting with https://."
		}
	}
	if len(form["country"]) > 100 {
		errs["country"] = "At most 100 characters."
	}
	if len(form["pitch"]) > 2000 {
		errs["pitch"] = "At most 2000 characters."
	}
	if len(password) < accounts.MinPasswordLen {
		errs["password"] = "At least 8 characters."
	}
	v := portal.ApplyView{CSRF: csrfToken(c), WorkspaceName: ws.Name, Program: p, Terms: terms, Form: form, Errors: errs}
	if len(errs) == 0 {
		account, msg, err := s.accountFor(c, form["email"], form["name"], password)
		if err != nil {
			return err
		}
		if msg != "" {
			errs["password"] = msg
		} else {
			pa := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: ws.ID, ProgramID: p.ID, AccountID: &account.ID,
				Email: form["email"], Name: form["name"], Status: "pending",
				Website: form["website"], Country: form["country"], Pitch: form["pitch"]}
			if p.AutoApprove {
				pa.Status = "approved"
			}
			err := s.insertPartner(ctx, pa)
			var apiErr *APIError
			if errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict {
				errs["email"] = "You have already applied to this program with this email address."
			} else if err != nil {
				return err
			} else {
				v.Done, v.AutoApproved = true, pa.Status == "approved"
				s.log.Info("partner application", "workspace", ws.ID, "program", p.ID, "partner", pa.ID, "status", pa.Status)
			}
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusUnprocessableEntity
	}
	return s.portalPage(c, status, "Apply to "+p.Name, portal.Apply(v))
}

// accountFor returns the portal account for email: an existing one when the
// password is its password (msg explains otherwise), or a new one.
func (s *Server) accountFor(c echo.Context, email, name, password string) (*store.PartnerAccount, string, error) {
	ctx := c.Request().Context()
	a, err := s.store.PartnerAccountByEmail(ctx, email)
	if err == nil {
		hash := ""
		if a.PasswordHash != nil {
			hash = *a.PasswordHash
		}
		status, _, err := s.checkPassword(ctx, "partner_accounts", a.ID, hash, a.LockedUntil, password)
		if err != nil {
			return nil, "", err
		}
		if status != 0 {
			return nil, "This email already has a partner account: enter its password.", nil
		}
		return a, "", nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, "", err
	}
	hash, err := accounts.HashPassword(password)
	if err != nil {
		return nil, "", err
	}
	a = &store.PartnerAccount{ID: ids.New(ids.Account), Email: email, Name: name, PasswordHash: &hash}
	if err := s.store.CreatePartnerAccount(ctx, a); err != nil {
		if errors.Is(err, store.ErrConflict) { // created by a concurrent request
			return nil, "This email already has a partner account: enter its password.", nil
		}
		return nil, "", err
	}
	return a, "", nil
}

// NewInvite makes an invite link for a partner; the token is stored hashed
// and the link is shown to the owner who asked for it. The log records that
// an invite was made, never its link: the token signs the partner in.
func (s *Server) NewInvite(c echo.Context, p *store.Partner) (string, error) {
	token := accounts.RandomText(32)
	sum := sha256.Sum256([]byte(token))
	id := ids.New(ids.Invite)
	if err := s.store.CreateInvite(c.Request().Context(), id, p.WorkspaceID, p.ID, sum[:], time.Now().Add(inviteTTL)); err != nil {
		return "", err
	}
	s.log.Info("partner invite created", "request_id", requestID(c), "workspace", p.WorkspaceID, "partner", p.ID, "invite", id)
	return s.cfg.BaseURL + "/partner/invite/" + token, nil
}

func (s *Server) invite(c echo.Context) (*store.Invite, error) {
	sum := sha256.Sum256([]byte(c.Param("token")))
	inv, err := s.store.InviteByTokenHash(c.Request().Context(), sum[:])
	if errors.Is(err, store.ErrNotFound) || (err == nil && (inv.AcceptedAt != nil || inv.ExpiresAt.Before(time.Now()))) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "This invitation link is not valid any more. Ask the program owner for a new one.")
	}
	return inv, err
}

// InvitePage handles GET /partner/invite/{token}.
func (s *Server) InvitePage(c echo.Context) error {
	inv, err := s.invite(c)
	if err != nil {
		return err
	}
	_, lookErr := s.store.PartnerAccountByEmail(c.Request().Context(), inv.Email)
	v := portal.InviteView{CSRF: csrfToken(c), Email: inv.Email, Name: inv.Name, Program: inv.ProgramName, HasAccount: lookErr == nil}
	return s.portalPage(c, http.StatusOK, "Join "+inv.ProgramName, portal.Invite(v))
}

// AcceptInvite handles POST /partner/invite/{token}: sets the password (or
// checks the existing account's), links the enrollment and signs in.
func (s *Server) AcceptInvite(c echo.Context) error {
	inv, err := s.invite(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	password := c.FormValue("password")
	v := portal.InviteView{CSRF: csrfToken(c), Email: inv.Email, Name: inv.Name, Program: inv.ProgramName}
	if _, err := s.store.PartnerAccountByEmail(ctx, inv.Email); err == nil {
		v.HasAccount = true
	}
	if len(password) < accounts.MinPasswordLen {
		v.Error = "The password must be at least 8 characters."
		return s.portalPage(c, http.StatusUnprocessableEntity, "Join "+inv.ProgramName, portal.Invite(v))
	}
	account, msg, err := s.accountFor(c, inv.Email, inv.Name, password)
	if err != nil {
		return err
	}
	if msg != "" {
		v.Error = msg
		return s.portalPage(c, http.StatusUnprocessableEntity, "Join "+inv.ProgramName, portal.Invite(v))
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if ok, err := tx.AcceptInvite(ctx, inv.ID); err != nil {
			return err
		} else if !ok {
			return echo.NewHTTPError(http.StatusConflict, "This invitation was already used.")
		}
		return tx.LinkPartnerAccount(ctx, inv.WorkspaceID, inv.PartnerID, account.ID)
	})
	if err != nil {
		return err
	}
	if err := s.signInPartner(c, account.ID); err != nil {
		return err
	}
	return redirect(c, "/partner")
}

// InvitePartner handles POST /partners/{id}/invite (owners): a one-time
// invite link to the partner portal.
func (s *Server) InvitePartner(c echo.Context) error {
	p, err := s.store.Partner(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return echo.NewHTTPError(http.StatusNotFound, "No such partner in this workspace.")
	}
	if err != nil {
		return err
	}
	link, err := s.NewInvite(c, p)
	if err != nil {
		return err
	}
	v := dashboard.InviteView{PartnerID: p.ID, PartnerName: p.Name, Email: p.Email, Link: link}
	return s.page(c, http.StatusOK, s.meta(c, "Invite "+p.Name, "partners"), dashboard.Invite(v))
}
