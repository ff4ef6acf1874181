package web

import (
	"context"
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/layouts"
	"github.com/partli/partli/views/pages"
)

const (
	userSession    = "partli_session"
	sessionUserKey = "uid"
	userKey        = "user"
	csrfKey        = "csrf"
	maxFailures    = 5
	lockFor        = 15 * time.Minute
)

// newCookieStore makes the one session store, its keys derived from the
// session secret: signed (HMAC) and encrypted (AES-256).
func newCookieStore(secret string, secure bool) *sessions.CookieStore {
	hashKey := sha256.Sum256([]byte("partli session hash\x00" + secret))
	blockKey := sha256.Sum256([]byte("partli session block\x00" + secret))
	cs := sessions.NewCookieStore(hashKey[:], blockKey[:])
	cs.Options = &sessions.Options{Path: "/", MaxAge: 12 * 3600, HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	return cs
}

// csrf protects every state-changing request of the browser surfaces. The
// token travels in the form field _csrf or, for HTMX, the X-CSRF-Token
// header that the layout sets on <body hx-headers>.
func (s *Server) csrf() echo.MiddlewareFunc {
	return middleware.CSRFWithConfig(middleware.CSRFConfig{
		TokenLookup:    "header:X-CSRF-Token,form:_csrf",
		ContextKey:     csrfKey,
		CookieName:     "partli_csrf",
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSecure:   s.cfg.SecureCookies(),
		CookieSameSite: http.SameSiteLaxMode,
		ErrorHandler: func(err error, c echo.Context) error {
			return echo.NewHTTPError(http.StatusForbidden, "This form has expired or did not come from Partli. Go back, reload the page and try again.")
		},
	})
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get(csrfKey).(string)
	return t
}

// requireUser loads the signed-in dashboard user, or sends the visitor to
// the sign-in page (303, or HX-Redirect for HTMX requests).
func (s *Server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, _ := s.sessions.Get(c.Request(), userSession)
		id, _ := sess.Values[sessionUserKey].(string)
		if id != "" {
			u, err := s.store.UserByID(c.Request().Context(), id)
			if err == nil {
				ws, err := s.store.WorkspaceByID(c.Request().Context(), u.WorkspaceID)
				if err != nil {
					return err
				}
				c.Set(userKey, u)
				c.Set("workspace", ws)
				c.Set(workspaceKey, u.WorkspaceID)
				return next(c)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		target := "/login"
		if c.Request().Method == http.MethodGet && c.Request().URL.Path != "/" {
			target += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
		}
		return redirect(c, target)
	}
}

// requireOwner lets only owners through: finance staff see configuration
// but cannot change it.
func (s *Server) requireOwner(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if currentUser(c).Role != "owner" {
			return echo.NewHTTPError(http.StatusForbidden, "Only the workspace owner can change this.")
		}
		return next(c)
	}
}

func currentUser(c echo.Context) *store.User { return c.Get(userKey).(*store.User) }

// redirect sends the browser to target: HX-Redirect for HTMX, 303 otherwise.
func redirect(c echo.Context, target string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", target)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, target)
}

// LoginPage handles GET /login.
func (s *Server) LoginPage(c echo.Context) error {
	return s.render(c, http.StatusOK, pages.Login(pages.LoginView{CSRF: csrfToken(c), Next: safeNext(c.QueryParam("next"))}))
}

// dummyHash keeps sign-in with an unknown email as slow as with a known one.
var dummyHash, _ = accounts.HashPassword("partli-timing-equalizer")

// Login handles POST /login: email and password, with a lockout after
// repeated failures.
func (s *Server) Login(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	view := pages.LoginView{CSRF: csrfToken(c), Email: email, Next: safeNext(c.FormValue("next"))}
	fail := func(status int, msg string) error {
		view.Error = msg
		return s.render(c, status, pages.Login(view))
	}
	if email == "" || password == "" {
		return fail(http.StatusBadRequest, "Enter your email address and password.")
	}
	u, err := s.store.UserByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		accounts.CheckPassword(dummyHash, password)
		return fail(http.StatusUnauthorized, wrongPassword)
	}
	if err != nil {
		return err
	}
	if status, msg, err := s.checkPassword(ctx, "users", u.ID, u.PasswordHash, u.LockedUntil, password); err != nil || status != 0 {
		if err != nil {
			return err
		}
		return fail(status, msg)
	}
	sess, _ := s.sessions.New(c.Request(), userSession)
	sess.Values[sessionUserKey] = u.ID
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, orRoot(view.Next))
}

// checkPassword applies the lockout and checks a password for a row of
// users or partner_accounts. A refusal comes back as a status and message
// for the form; a status of 0 means signed in (the failure count is reset).
func (s *Server) checkPassword(ctx context.Context, table, id, hash string, lockedUntil *time.Time, password string) (int, string, error) {
	if lockedUntil != nil && lockedUntil.After(time.Now()) {
		mins := int(time.Until(*lockedUntil).Minutes()) + 1
		return http.StatusTooManyRequests, "Too many failed attempts. Try again in " + strconv.Itoa(mins) + " minutes.", nil
	}
	if hash == "" || !accounts.CheckPassword(hash, password) {
		if err := s.store.RecordLoginFailure(ctx, table, id, maxFailures, lockFor); err != nil {
			return 0, "", err
		}
		return http.StatusUnauthorized, wrongPassword, nil
	}
	return 0, "", s.store.ResetLoginFailures(ctx, table, id)
}

const wrongPassword = "That email and password do not match an account."

// Logout handles POST /logout.
func (s *Server) Logout(c echo.Context) error {
	sess, _ := s.sessions.Get(c.Request(), userSession)
	sess.Options.MaxAge = -1
	delete(sess.Values, sessionUserKey)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	return redirect(c, "/login")
}

// safeNext keeps only local paths, so ?next= cannot send people elsewhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return ""
	}
	return next
}

func orRoot(s string) string {
	if s == "" {
		return "/"
	}
	return s
}

// meta is the layout's view of the signed-in user and the page.
func (s *Server) meta(c echo.Context, title, active string) layouts.Meta {
	u := currentUser(c)
	ws, _ := c.Get("workspace").(*store.Workspace)
	name := ""
	if ws != nil {
		name = ws.Name
	}
	return layouts.Meta{Title: title, Active: active, UserEmail: u.Email, Role: u.Role, Workspace: name, CSRF: csrfToken(c)}
}

// page renders a dashboard page: just the content for an HTMX request that
// is not boosted, else inside the dashboard layout.
func (s *Server) page(c echo.Context, status int, m layouts.Meta, content templ.Component) error {
	if c.Request().Header.Get("HX-Request") == "true" && c.Request().Header.Get("HX-Boosted") != "true" {
		return s.render(c, status, content)
	}
	return s.render(c, status, layouts.Dashboard(m, content))
}
