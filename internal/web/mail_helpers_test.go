package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/store"
)

// Mail in the tests. Most tests read what Partli would mail straight from
// the outbox (outboxTo, mailLink), composing it as the worker would; the
// tests of mail itself (mail_test.go) send it through a real SMTP server,
// mailpit, and read it back through mailpit's API.

// outboxTo lists the outbox rows to address of kind (any kind when ""),
// newest first.
func (e *env) outboxTo(t testing.TB, address, kind string) []store.MailRow {
	t.Helper()
	var rows []store.MailRow
	err := e.Store.DB().SelectContext(context.Background(), &rows, `SELECT id, workspace_id, kind, recipient, recipient_name,
			data, status, attempts, next_attempt_at, leased_until, subject, message_id, last_error, sent_at, created_at, updated_at
		FROM mail_outbox WHERE lower(recipient) = lower($1) ORDER BY created_at DESC, id DESC`, address)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.MailRow
	for _, r := range rows {
		if kind == "" || r.Kind == kind {
			out = append(out, r)
		}
	}
	return out
}

// links are the links e's server puts in mail.
func (e *env) links() email.Links { return email.NewLinks(e.Cfg.BaseURL, e.Cfg.SessionSecret) }

var linkRe = regexp.MustCompile(`https?://[^\s<>"]+`)

// mailLink is the path of the first link (its button) of the newest mail
// of kind to address, as the worker would send it.
func (e *env) mailLink(t testing.TB, address, kind string) string {
	t.Helper()
	rows := e.outboxTo(t, address, kind)
	if len(rows) == 0 {
		t.Fatalf("no %s mail to %s in the outbox", kind, address)
	}
	m, err := e.links().Compose(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	return linkPath(t, e, m.Text)
}

// linkPath is the path of the first link to e's server in text.
func linkPath(t testing.TB, e *env, text string) string {
	t.Helper()
	for _, l := range linkRe.FindAllString(text, -1) {
		if strings.HasPrefix(l, e.Cfg.BaseURL+"/") {
			return strings.TrimPrefix(l, e.Cfg.BaseURL)
		}
	}
	t.Fatalf("no link to %s in:\n%s", e.Cfg.BaseURL, text)
	return ""
}

// confirmEmail opens the verification link mailed to address, as its
// owner would.
func (e *env) confirmEmail(t testing.TB, address string) {
	t.Helper()
	r := e.anonymous(t).get(e.mailLink(t, address, store.MailEmailVerification))
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/partner/login?verified=1" {
		t.Fatalf("verification link of %s: %d %q\n%s", address, r.Status, r.Header.Get("Location"), r.Body)
	}
}

// applyUnconfirmed fills in a program's public application form and
// follows the redirect to its thank-you page; it returns that page (or the
// form again, with its errors) and the redirect's query.
func (e *env) applyUnconfirmed(t testing.TB, wsSlug, progSlug, name, address, password string) (reply, url.Values) {
	t.Helper()
	s := e.anonymous(t)
	s.get("/apply/" + wsSlug + "/" + progSlug)
	r := s.post("/apply/"+wsSlug+"/"+progSlug, url.Values{"name": {name}, "email": {address},
		"website": {"https://blog.example.com"}, "country": {"NL"}, "pitch": {"I write about tools."}, "password": {password}})
	if r.Status != http.StatusSeeOther {
		return r, nil
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Path != "/apply/"+wsSlug+"/"+progSlug {
		t.Fatalf("application redirected to %q", r.Header.Get("Location"))
	}
	return s.get(loc.RequestURI()), loc.Query()
}

// apply fills in a program's public application form, and opens the
// confirmation link when one was mailed, as the applicant would.
func (e *env) apply(t testing.TB, wsSlug, progSlug, name, address, password string) reply {
	t.Helper()
	r, q := e.applyUnconfirmed(t, wsSlug, progSlug, name, address, password)
	if q.Get("confirm") == "1" {
		e.confirmEmail(t, address)
	}
	return r
}

// addTeammate has owner invite address as role, and the invitee accept
// with name and password through the mailed link; it returns the invitee's
// session.
func (e *env) addTeammate(t testing.TB, owner *session, address, name, role, password string) *session {
	t.Helper()
	r := owner.post("/settings/users", url.Values{"email": {address}, "role": {role}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("invite %s: %d\n%s", address, r.Status, r.Body)
	}
	owner.get(r.Header.Get("Location")) // the one-time link is taken, as a browser would
	path := e.mailLink(t, address, store.MailTeammateInvite)
	s := e.anonymous(t)
	s.get(path)
	r = s.post(path, url.Values{"name": {name}, "password": {password}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("accepting the invitation of %s: %d %q\n%s", address, r.Status, r.Header.Get("Location"), r.Body)
	}
	s.get("/")
	return s
}
