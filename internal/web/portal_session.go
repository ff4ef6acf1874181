package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/store"
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
