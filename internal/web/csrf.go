package web

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
)

const (
	csrfKey = "csrf"
	// preSessionCookie binds the CSRF tokens of the forms that come before
	// a session (sign-in, application, invitation) to one browser.
	preSessionCookie = "partli_csrf"
)

func csrfKeyFrom(secret string) []byte {
	k := sha256.Sum256([]byte("partli csrf\x00" + secret))
	return k[:]
}

// csrf protects every state-changing request of the browser surfaces. The
// token is an HMAC of the browser's server-side session (the one
// requireUser or requirePartner loaded, which must run first on signed-in
// routes) or, on the pages before a sign-in, of a random pre-session
// cookie. So a token is good only with the session it was made for: one
// copied from another browser, or sent beside a planted cookie, is refused.
// It travels in the form field _csrf or, for HTMX, the X-CSRF-Token header
// that the layouts set on <body hx-headers>. A browser that says the
// request is cross-site (Sec-Fetch-Site) is refused outright.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		c.Response().Header().Add(echo.HeaderVary, echo.HeaderCookie)
		safe := false
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			safe = true
		}
		binding := s.csrfBinding(c, safe)
		want := s.csrfTokenFor(binding)
		c.Set(csrfKey, want)
		if safe {
			return next(c)
		}
		if binding == "" || c.Request().Header.Get(echo.HeaderSecFetchSite) == "cross-site" ||
			!(csrfMatch(want, c.Request().Header.Get("X-CSRF-Token")) || csrfMatch(want, c.FormValue("_csrf"))) {
			return echo.NewHTTPError(http.StatusForbidden, "This form has expired or did not come from Partli. Go back, reload the page and try again.")
		}
		return next(c)
	}
}

// csrfBinding is what the request's token is made from: its session, else
// its pre-session cookie, which a safe request sets when missing. Empty
// when an unsafe request has neither.
func (s *Server) csrfBinding(c echo.Context, safe bool) string {
	if sess := currentSession(c); sess != nil {
		return "session\x00" + sess.ID
	}
	if ck, err := c.Cookie(preSessionCookie); err == nil && len(ck.Value) >= 32 {
		return "pre\x00" + ck.Value
	}
	if !safe {
		return ""
	}
	v := ids.Random(32)
	c.SetCookie(&http.Cookie{Name: preSessionCookie, Value: v, Path: "/", HttpOnly: true,
		Secure: s.cfg.SecureCookies(), SameSite: http.SameSiteLaxMode})
	return "pre\x00" + v
}

func (s *Server) csrfTokenFor(binding string) string {
	if binding == "" {
		return ""
	}
	m := hmac.New(sha256.New, s.csrfKey)
	m.Write([]byte(binding))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func csrfMatch(want, got string) bool {
	return want != "" && got != "" && hmac.Equal([]byte(want), []byte(got))
}

func csrfToken(c echo.Context) string {
	t, _ := c.Get(csrfKey).(string)
	return t
}
