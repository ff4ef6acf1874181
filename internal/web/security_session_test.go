package web_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/config"
)

// Attacks on what a sign-in leaves in the browser: its session cookie, the
// CSRF token, cached pages and frames.

// cookie returns the value of the browser's cookie name ("" when none).
func (s *session) cookie(name string) string {
	u, _ := url.Parse(s.e.URL)
	for _, c := range s.client.Jar.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// browserWith is a new browser holding just these cookies (name → value):
// one an attacker has put together from stolen or planted ones.
func (e *env) browserWith(t testing.TB, cookies map[string]string) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse(e.URL)
	for name, value := range cookies {
		jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
	}
	return &session{t: t, e: e, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// signedOut fails the test unless path sends s to sign in.
func signedOut(t *testing.T, s *session, path, why string) {
	t.Helper()
	if r := s.get(path); r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "login") {
		t.Errorf("%s: GET %s = %d %q, want a redirect to sign in", why, path, r.Status, r.Header.Get("Location"))
	}
}

// The signed session cookie stayed valid for 30 days and after sign-out:
// a copy of it kept working. Sessions now live on the server, which ends
// them on sign-out (every browser of that person), on a role change and on
// removal, after 12 idle hours and 7 days after the sign-in.
func TestSecuritySessionsEndOnTheServer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.SignInLimit = 1000 })

	// A copied cookie dies with the sign-out, and so does the person's
	// other browser.
	a := e.signIn(t)
	phone := e.signIn(t)
	stolen := e.browserWith(t, map[string]string{"partli_session": a.cookie("partli_session")})
	if r := stolen.get("/"); r.Status != http.StatusOK {
		t.Fatalf("the copied cookie before sign-out: %d", r.Status)
	}
	if r := a.post("/logout", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("sign out: %d", r.Status)
	}
	signedOut(t, stolen, "/", "the copied cookie after sign-out")
	signedOut(t, phone, "/", "the person's other browser after sign-out")
	if n := e.count(t, `SELECT count(*) FROM sessions WHERE user_id = $1`, e.WS.Owner.ID); n != 0 {
		t.Errorf("%d sessions of the owner left after sign-out", n)
	}

	// The portal's the same.
	e.program(t, map[string]any{"slug": "ss", "autoApprove": true})
	e.apply(t, e.WS.Workspace.Slug, "ss", "Sam", "sam@example.com", "sam password")
	p := e.signInPartner(t, "sam@example.com", "sam password")
	copied := e.browserWith(t, map[string]string{"partli_partner": p.cookie("partli_partner")})
	if r := p.post("/partner/logout", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("partner sign out: %d", r.Status)
	}
	signedOut(t, copied, "/partner", "a copied portal cookie after sign-out")
	// A session of one surface is nothing on the other.
	owner := e.signIn(t)
	swapped := e.browserWith(t, map[string]string{"partli_partner": owner.cookie("partli_session")})
	signedOut(t, swapped, "/partner", "a dashboard session in the portal's cookie")

	// A role change and a removal sign the user out.
	e.addTeammate(t, owner, "fin@acme.example", "Fin", "finance", "finance password")
	var finID string
	if err := e.DB.QueryRow(`SELECT id FROM users WHERE email = 'fin@acme.example'`).Scan(&finID); err != nil {
		t.Fatal(err)
	}
	fin := e.signInAs(t, "fin@acme.example", "finance password")
	if r := owner.post("/settings/users/"+finID+"/role", url.Values{"role": {"owner"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("make owner: %d %s", r.Status, r.Body)
	}
	signedOut(t, fin, "/", "the user after a role change")
	fin = e.signInAs(t, "fin@acme.example", "finance password")
	if got := testid(fin.page("/"), "user-role").Text(); got != "owner" {
		t.Errorf("role after signing in again: %q", got)
	}
	if r := owner.post("/settings/users/"+finID+"/remove", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("remove user: %d %s", r.Status, r.Body)
	}
	signedOut(t, fin, "/", "a removed user")

	// Expiry: the idle deadline moves with use, never past the absolute end.
	s := e.anonymous(t)
	r := s.post("/login", url.Values{"email": {e.WS.Owner.Email}, "password": {"correct horse battery"}})
	maxAge := cookieMaxAge(r, "partli_session")
	if maxAge < 12*3600-60 || maxAge > 12*3600 {
		t.Errorf("session cookie Max-Age %d s, want the 12-hour idle timeout", maxAge)
	}
	token := s.cookie("partli_session")
	if _, err := e.DB.Exec(`UPDATE sessions SET seen_at = now() - interval '2 hours', expires_at = now() + interval '10 hours' WHERE user_id = $1`, e.WS.Owner.ID); err != nil {
		t.Fatal(err)
	}
	r = s.get("/")
	if got := cookieMaxAge(r, "partli_session"); got < 12*3600-60 || s.cookie("partli_session") != token {
		t.Errorf("a used session: cookie Max-Age %d s (token kept: %v), want 12 hours again", got, s.cookie("partli_session") == token)
	}
	if _, err := e.DB.Exec(`UPDATE sessions SET seen_at = now() - interval '2 hours', ends_at = now() + interval '90 seconds',
		expires_at = now() + interval '90 seconds' WHERE user_id = $1`, e.WS.Owner.ID); err != nil {
		t.Fatal(err)
	}
	if got := cookieMaxAge(s.get("/"), "partli_session"); got > 90 || got < 1 {
		t.Errorf("a session near its absolute end: cookie Max-Age %d s, want at most the 90 s left", got)
	}
	if n := e.count(t, `SELECT count(*) FROM sessions WHERE user_id = $1 AND expires_at > ends_at`, e.WS.Owner.ID); n != 0 {
		t.Error("use moved a session past its absolute end")
	}
	if _, err := e.DB.Exec(`UPDATE sessions SET expires_at = now() - interval '1 second', ends_at = now() - interval '1 second' WHERE user_id = $1`, e.WS.Owner.ID); err != nil {
		t.Fatal(err)
	}
	signedOut(t, s, "/", "an expired session")
}

// cookieMaxAge reads Max-Age of the reply's Set-Cookie for name (-1: none).
func cookieMaxAge(r reply, name string) int {
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == name {
			return c.MaxAge
		}
	}
	return -1
}

// The CSRF token was checked against its own cookie only, so a token and
// cookie taken from one browser (or planted) worked with another browser's
// session. Now a token is good only with the session it was made for.
func TestSecurityCSRFTokenIsBoundToItsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	attacker := e.signIn(t) // session A: the attacker's own, token and all
	victim := e.signIn(t)   // session B
	keys := func() int {
		return e.count(t, `SELECT count(*) FROM api_keys WHERE workspace_id = $1`, e.WS.Workspace.ID)
	}
	before := keys()

	// B's session cookie with A's CSRF cookie and token.
	forged := e.browserWith(t, map[string]string{
		"partli_session": victim.cookie("partli_session"), "partli_csrf": attacker.cookie("partli_csrf")})
	form := url.Values{"_csrf": {attacker.csrf}, "name": {"planted"}}
	r := forged.do(http.MethodPost, "/settings/keys", strings.NewReader(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if r.Status != http.StatusForbidden {
		t.Errorf("a token of session A with session B's cookie: %d, want 403", r.Status)
	}
	r = forged.do(http.MethodPost, "/settings/keys", strings.NewReader("name=planted"), http.Header{
		"Content-Type": {"application/x-www-form-urlencoded"}, "HX-Request": {"true"}, "X-CSRF-Token": {attacker.csrf}})
	if r.Status != http.StatusForbidden {
		t.Errorf("HTMX with a token of session A and session B's cookie: %d, want 403", r.Status)
	}
	if n := keys(); n != before {
		t.Fatalf("%d API keys created with another session's token", n-before)
	}
	// B's own token still works, in a form and in HTMX's header.
	if r := victim.post("/settings/keys", url.Values{"name": {"mine"}}); r.Status != http.StatusSeeOther {
		t.Errorf("B's own token: %d", r.Status)
	}
	if r := victim.htmx(http.MethodPost, "/settings/keys", url.Values{"name": {"mine too"}}); r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") == "" {
		t.Errorf("B's own token in X-CSRF-Token: %d", r.Status)
	}

	// Before a sign-in, the token is bound to the browser's pre-session
	// cookie: another browser's token cannot sign this one in (login CSRF).
	other := e.anonymous(t)
	mine := e.anonymous(t)
	r = mine.post("/login", url.Values{"_csrf": {other.csrf}, "email": {e.WS.Owner.Email}, "password": {"correct horse battery"}})
	if r.Status != http.StatusForbidden {
		t.Errorf("sign-in with another browser's pre-session token: %d, want 403", r.Status)
	}
	// A pre-session token is not a session's either.
	if r := victim.post("/settings/keys", url.Values{"_csrf": {other.csrf}}); r.Status != http.StatusForbidden {
		t.Errorf("a pre-session token in a session: %d, want 403", r.Status)
	}
	// And a dashboard session's token is not the portal's.
	e.program(t, map[string]any{"slug": "cs", "autoApprove": true})
	e.apply(t, e.WS.Workspace.Slug, "cs", "Cy", "cy@example.com", "cy password")
	p := e.signInPartner(t, "cy@example.com", "cy password")
	if r := p.post("/partner/logout", url.Values{"_csrf": {victim.csrf}}); r.Status != http.StatusForbidden {
		t.Errorf("portal sign-out with a dashboard session's token: %d, want 403", r.Status)
	}
}

// Signed-in pages were cacheable, and every reply could be framed and
// sniffed. Now every reply says nosniff and refuses frames; signed-in pages
// say no-store. partli.js and the API still load from other origins.
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	set := e.setup(t)
	dash := e.signIn(t)
	e.program(t, map[string]any{"slug": "hd", "autoApprove": true})
	e.apply(t, e.WS.Workspace.Slug, "hd", "Hal", "hal@example.com", "hal password")
	portal := e.signInPartner(t, "hal@example.com", "hal password")

	every := func(what string, r reply) {
		t.Helper()
		h := r.Header
		if h.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: X-Content-Type-Options %q", what, h.Get("X-Content-Type-Options"))
		}
		if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
			t.Errorf("%s: framing allowed: X-Frame-Options %q, CSP %q", what, h.Get("X-Frame-Options"), h.Get("Content-Security-Policy"))
		}
		for _, d := range []string{"base-uri 'self'", "form-action 'self'", "object-src 'none'"} {
			if !strings.Contains(h.Get("Content-Security-Policy"), d) {
				t.Errorf("%s: CSP %q lacks %s", what, h.Get("Content-Security-Policy"), d)
			}
		}
		if h.Get("Cross-Origin-Resource-Policy") != "" {
			t.Errorf("%s: Cross-Origin-Resource-Policy %q would stop merchants' pages loading it", what, h.Get("Cross-Origin-Resource-Policy"))
		}
	}
	noStore := func(what string, r reply) {
		t.Helper()
		if r.Status != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: %d, Cache-Control %q, want 200 and no-store", what, r.Status, r.Header.Get("Cache-Control"))
		}
	}

	for _, path := range []string{"/", "/sales", "/settings"} {
		r := dash.get(path)
		every("dashboard "+path, r)
		noStore("dashboard "+path, r)
	}
	r := dash.htmx(http.MethodGet, "/commissions", nil)
	noStore("an HTMX fragment", r)
	r = portal.get("/partner")
	every("portal home", r)
	noStore("portal home", r)
	every("the sign-in page", e.anonymous(t).get("/login"))
	every("an error page", dash.get("/nowhere"))

	api := e.call(http.MethodGet, "/api/programs", e.Key, nil).must(t, http.StatusOK)
	every("an API reply", api)
	if !strings.HasPrefix(api.Header.Get("Content-Type"), "application/json") {
		t.Errorf("API Content-Type %q", api.Header.Get("Content-Type"))
	}
	every("an API error", e.call(http.MethodGet, "/api/programs", "", nil))

	js := e.call(http.MethodGet, "/static/partli.js", "", nil).must(t, http.StatusOK)
	every("partli.js", js)
	if ct := js.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("partli.js Content-Type %q: nosniff needs a script type", ct)
	}
	every("the referral redirect", e.call(http.MethodGet, "/r/"+set.Slug, "", nil))
	pre := e.callWith(http.MethodOptions, "/api/track/click", "", nil, http.Header{
		"Origin": {"https://shop.example.com"}, "Access-Control-Request-Method": {"POST"}})
	if pre.Header.Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("click preflight: Access-Control-Allow-Origin %q", pre.Header.Get("Access-Control-Allow-Origin"))
	}
}
