package web

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/web/htmx"
	"github.com/partli/partli/views/layouts"
)

// Sessions are server-side (store.Session): the cookie holds a random
// token, the database the token's hash, so ending a session on the server
// (sign-out, a password set, a role change, a user removed) signs that
// browser out on every replica at once.
const (
	userCookie    = "partli_session" // a dashboard user's session
	partnerCookie = "partli_partner" // a partner-portal account's session
	sessionKey    = "session"
	userKey       = "user"

	// A session ends after sessionIdle without a request, and sessionLifetime
	// after its sign-in however busy it is; the cookie's Max-Age follows the
	// first of the two.
	sessionIdle     = 12 * time.Hour
	sessionLifetime = 7 * 24 * time.Hour
	// sessionTouchEvery bounds the writes a busy session costs: its idle
	// clock moves at most once a minute.
	sessionTouchEvery = time.Minute
	// deadSessionsSwept is how many expired sessions each sign-in deletes.
	deadSessionsSwept = 100
)

// newFlowStore makes the signed (HMAC) and encrypted (AES-256) cookie store
// for the short-lived state of a flow that leaves Partli and comes back
// (Stripe Connect's OAuth state); its keys are derived from the session
// secret. Sign-in sessions are not kept in it.
func newFlowStore(secret string, secure bool) *sessions.CookieStore {
	hashKey := sha256.Sum256([]byte("partli session hash\x00" + secret))
	blockKey := sha256.Sum256([]byte("partli session block\x00" + secret))
	cs := sessions.NewCookieStore(hashKey[:], blockKey[:])
	cs.Options = &sessions.Options{Path: "/", HttpOnly: true, Secure: secure, SameSite: http.SameSiteLaxMode}
	cs.MaxAge(int(stripeStateTTL.Seconds()))
	return cs
}

func sessionTokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// startSession signs the browser in as sess.UserID or sess.AccountID: a new
// session with a new token in cookie. The browser's previous session of
// that cookie, if any, ends.
func (s *Server) startSession(c echo.Context, cookie string, sess *store.Session) error {
	ctx := c.Request().Context()
	if ck, err := c.Cookie(cookie); err == nil && ck.Value != "" {
		old, err := s.store.LiveSession(ctx, sessionTokenHash(ck.Value))
		if err == nil {
			err = s.store.EndSession(ctx, old.ID)
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	token := ids.Random(32)
	sess.ID = ids.New(ids.Session)
	if err := s.store.CreateSession(ctx, sess, sessionTokenHash(token), sessionIdle, sessionLifetime); err != nil {
		return err
	}
	if err := s.store.DeleteDeadSessions(ctx, deadSessionsSwept); err != nil {
		s.log.Warn("sweeping expired sessions failed", "request_id", requestID(c), "err", err)
	}
	s.setSessionCookie(c, cookie, token, sess.ExpiresAt)
	return nil
}

// liveSession returns the browser's live session in cookie (nil when there
// is none), moving its idle clock and the cookie's expiry along.
func (s *Server) liveSession(c echo.Context, cookie string) (*store.Session, error) {
	ck, err := c.Cookie(cookie)
	if err != nil || ck.Value == "" {
		return nil, nil
	}
	ctx := c.Request().Context()
	sess, err := s.store.LiveSession(ctx, sessionTokenHash(ck.Value))
	if err == nil && time.Since(sess.SeenAt) >= sessionTouchEvery {
		if err = s.store.TouchSession(ctx, sess, sessionIdle); err == nil {
			s.setSessionCookie(c, cookie, ck.Value, sess.ExpiresAt)
		}
	}
	if errors.Is(err, store.ErrNotFound) {
		s.clearCookie(c, cookie) // expired or ended: the browser may forget it
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return sess, nil
}

func (s *Server) setSessionCookie(c echo.Context, name, token string, expires time.Time) {
	c.SetCookie(&http.Cookie{Name: name, Value: token, Path: "/", MaxAge: max(1, int(time.Until(expires).Seconds())),
		HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
}

func (s *Server) clearCookie(c echo.Context, name string) {
	c.SetCookie(&http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
}

// currentSession is the session requireUser or requirePartner loaded.
func currentSession(c echo.Context) *store.Session {
	sess, _ := c.Get(sessionKey).(*store.Session)
	return sess
}

// signedIn marks a reply of a signed-in page: it holds one person's data,
// so no cache (the browser's included) keeps it.
func signedIn(c echo.Context, sess *store.Session) {
	c.Set(sessionKey, sess)
	c.Response().Header().Set("Cache-Control", "no-store")
}

// requireUser loads the signed-in dashboard user, or sends the visitor to
// the sign-in page (303, or HX-Redirect for HTMX requests).
func (s *Server) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx := c.Request().Context()
		sess, err := s.liveSession(c, userCookie)
		if err != nil {
			return err
		}
		if sess != nil && sess.UserID != nil {
			u, err := s.store.UserByID(ctx, *sess.Workspace, *sess.UserID)
			if err == nil {
				ws, err := s.store.WorkspaceByID(ctx, u.WorkspaceID)
				if err != nil {
					return err
				}
				signedIn(c, sess)
				c.Set(userKey, u)
				c.Set("workspace", ws)
				c.Set(workspaceKey, u.WorkspaceID)
				return next(c)
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return redirect(c, signInTarget(c, "/login"))
	}
}

// signInTarget is the sign-in page at path, with ?next= bringing a GET
// back to the page it asked for.
func signInTarget(c echo.Context, path string) string {
	if c.Request().Method == http.MethodGet && c.Request().URL.Path != "/" && c.Request().URL.Path != "/partner" {
		return path + "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
	}
	return path
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

// redirect sends the browser to target: HX-Redirect for any HTMX request
// (boosted or not: a full page load of target), 303 otherwise.
func redirect(c echo.Context, target string) error {
	if hx(c).Enabled {
		htmx.Response{Redirect: target}.Apply(c.Response().Header())
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, target)
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
	if wantsFragment(c) {
		return s.render(c, status, content)
	}
	return s.render(c, status, layouts.Dashboard(m, content))
}
