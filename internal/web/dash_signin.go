package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages"
)

const (
	// An account is locked for lockFor after maxFailures wrong passwords
	// in a row; at most maxFailures are checked, however many arrive at once.
	maxFailures = 5
	lockFor     = 15 * time.Minute
)

const wrongPassword = "That email and password do not match an account."

// LoginPage handles GET /login.
func (s *Server) LoginPage(c echo.Context) error {
	v := pages.LoginView{CSRF: csrfToken(c), Next: localPath(c.QueryParam("next"), "")}
	if c.QueryParam("reset") != "" {
		v.Notice = "Your new password is set, and your other sessions are signed out. Sign in with it."
	}
	return s.render(c, http.StatusOK, pages.Login(v))
}

// dummyHash keeps sign-in with an unknown email as slow as with a known one.
var dummyHash, _ = accounts.HashPassword("partli-timing-equalizer")

// Login handles POST /login: email and password, with a lockout after
// repeated failures.
func (s *Server) Login(c echo.Context) error {
	ctx := c.Request().Context()
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	view := pages.LoginView{CSRF: csrfToken(c), Email: email, Next: localPath(c.FormValue("next"), "")}
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
	if status, msg, err := s.checkPassword(ctx, store.SignInOf{Workspace: u.WorkspaceID, ID: u.ID}, u.PasswordHash, password); err != nil || status != 0 {
		if err != nil {
			return err
		}
		return fail(status, msg)
	}
	if err := s.startSession(c, userCookie, &store.Session{UserID: &u.ID, Workspace: &u.WorkspaceID}); err != nil {
		return err
	}
	return redirect(c, localPath(view.Next, "/"))
}

// checkPassword applies the lockout and checks a password for a row of
// a user or a portal account. The attempt is counted before the password is
// checked (store.ClaimSignInAttempt), so parallel guesses cannot outrun the
// lock. A refusal comes back as a status and message for the form; a
// status of 0 means the password is right (the count is cleared).
func (s *Server) checkPassword(ctx context.Context, who store.SignInOf, hash, password string) (int, string, error) {
	ok, lockedUntil, err := s.store.ClaimSignInAttempt(ctx, who, maxFailures, lockFor)
	if err != nil {
		return 0, "", err
	}
	if !ok {
		wait := lockFor
		if lockedUntil != nil {
			wait = time.Until(*lockedUntil)
		}
		return http.StatusTooManyRequests, "Too many failed attempts. Try again in " + inMinutes(wait) + ".", nil
	}
	if hash == "" || !accounts.CheckPassword(hash, password) {
		return http.StatusUnauthorized, wrongPassword, nil
	}
	return 0, "", s.store.ResetSignInAttempts(ctx, who)
}

// Logout handles POST /logout: it ends every session of the user, in
// every browser, and forgets the cookie.
func (s *Server) Logout(c echo.Context) error {
	if _, err := s.store.EndUserSessions(c.Request().Context(), currentUser(c).ID, ""); err != nil {
		return err
	}
	s.clearCookie(c, userCookie)
	return redirect(c, "/login")
}

// localPath returns next when a browser would read it as a path on this
// origin, else fallback: it is where a sign-in sends the browser on to
// (?next=), so nothing else may pass. Browsers drop ASCII tab, CR and LF
// anywhere in a URL and read "\" as "/", so "/\t/evil.example" and
// "/\evil.example" mean //evil.example, another host: next is judged after
// the same clean-up, and its percent-decoded path too (a proxy may decode
// it). It must then start with exactly one "/" and name no scheme or host.
func localPath(next, fallback string) string {
	p := browserClean(next)
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") {
		return fallback
	}
	for _, r := range p {
		if r < 0x20 || r == 0x7f {
			return fallback
		}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return fallback
	}
	if d := browserClean(u.Path); !strings.HasPrefix(d, "/") || strings.HasPrefix(d, "//") {
		return fallback
	}
	return p
}

// browserClean does to a URL what a browser's parser does before it reads
// it: ASCII tab, CR and LF go, and "\" is "/".
func browserClean(s string) string {
	return strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\r', '\n':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, s)
}
