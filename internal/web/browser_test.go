package web_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// session is a signed-in dashboard user driving the real router over HTTP,
// the way a browser would: a cookie jar, the CSRF token from the page, and
// HTMX headers when asked for.
type session struct {
	t      testing.TB
	e      *env
	client *http.Client
	csrf   string
}

var csrfInput = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

// signIn signs in as the env's workspace owner.
func (e *env) signIn(t testing.TB) *session {
	t.Helper()
	return e.signInAs(t, e.WS.Owner.Email, "correct horse battery")
}

// signInAs signs in with an email and password and fails the test if that does not work.
func (e *env) signInAs(t testing.TB, email, password string) *session {
	t.Helper()
	s := e.anonymous(t)
	r := s.post("/login", url.Values{"email": {email}, "password": {password}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("sign in as %s: status %d\n%s", email, r.Status, r.Body)
	}
	s.get(r.Header.Get("Location")) // as a browser does: the page carries the session's CSRF token
	return s
}

// anonymous is a browser without a session (it still gets a CSRF token).
func (e *env) anonymous(t testing.TB) *session {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	s := &session{t: t, e: e, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	s.get("/login")
	return s
}

func (s *session) do(method, path string, body io.Reader, header http.Header) reply {
	s.t.Helper()
	req, err := http.NewRequest(method, s.e.URL+path, body)
	if err != nil {
		s.t.Fatalf("new request: %v", err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfInput.FindSubmatch(b); m != nil {
		s.csrf = string(m[1])
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// get fetches a page.
func (s *session) get(path string) reply {
	s.t.Helper()
	return s.do(http.MethodGet, path, nil, nil)
}

// page fetches a page, requires 200 and parses it.
func (s *session) page(path string) *goquery.Document {
	s.t.Helper()
	r := s.get(path)
	if r.Status != http.StatusOK {
		s.t.Fatalf("GET %s: status %d\n%s", path, r.Status, r.Body)
	}
	return r.Doc(s.t)
}

// post submits a form with the CSRF token, as a plain browser form post.
func (s *session) post(path string, form url.Values) reply {
	s.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if form.Get("_csrf") == "" {
		form.Set("_csrf", s.csrf)
	}
	return s.do(http.MethodPost, path, strings.NewReader(form.Encode()),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
}

// htmx sends an HTMX request (HX-Request, the CSRF header) with a form body.
func (s *session) htmx(method, path string, form url.Values) reply {
	s.t.Helper()
	h := http.Header{"HX-Request": {"true"}, "X-CSRF-Token": {s.csrf}}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	return s.do(method, path, body, h)
}

// Doc parses an HTML reply.
func (r reply) Doc(t testing.TB) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(bytes.NewReader(r.Body))
	if err != nil {
		t.Fatalf("parse HTML: %v", err)
	}
	return d
}

// testid selects elements by data-testid.
func testid(d *goquery.Document, id string) *goquery.Selection {
	return d.Find(`[data-testid="` + id + `"]`)
}
