package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/store"
)

// Refreshing the page after a POST repeated the POST: each refresh made
// another API key, webhook endpoint, invite (a new valid token) or
// application. Every such form now posts, redirects and gets; a secret
// shown once is carried to that page in the session and shown there once.
// For each: POST, follow the redirect, GET again → nothing made twice, the
// secret not shown again.
func TestPostRedirectGetMakesNothingTwice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signIn(t)
	p := e.program(t, map[string]any{"slug": uniq("prg")})
	pa := e.partner(t, str(p, "id"), nil)
	ws := e.WS.Workspace.ID
	applicant := uniq("applicant") + "@example.com"

	applicantBrowser := e.anonymous(t)
	applicantBrowser.get("/apply/" + e.WS.Workspace.Slug + "/" + str(p, "slug"))

	for _, c := range []struct {
		name    string
		browser *session
		post    func(*session) reply
		secret  string // data-testid of the one-time secret ("" when none)
		count   string // what must not grow on a refresh
	}{
		{"API key", owner, func(b *session) reply { return b.post("/settings/keys", url.Values{"name": {"refresh"}}) },
			"new-api-key", `SELECT count(*) FROM api_keys WHERE workspace_id = '` + ws + `'`},
		{"webhook endpoint", owner, func(b *session) reply {
			return b.post("/webhooks", url.Values{"url": {"https://hooks.example.com/" + uniq("h")}, "events": {"sale.created"}})
		}, "new-webhook-secret", `SELECT count(*) FROM webhook_endpoints WHERE workspace_id = '` + ws + `'`},
		{"partner invite", owner, func(b *session) reply { return b.post("/partners/"+str(pa, "id")+"/invite", nil) },
			"invite-link", `SELECT count(*) FROM partner_invites WHERE workspace_id = '` + ws + `'`},
		{"teammate invite", owner, func(b *session) reply {
			return b.post("/settings/users", url.Values{"email": {uniq("mate") + "@example.com"}, "role": {"finance"}})
		}, "new-invite-link", `SELECT count(*) FROM user_invites WHERE workspace_id = '` + ws + `'`},
		{"application", applicantBrowser, func(b *session) reply {
			return b.post("/apply/"+e.WS.Workspace.Slug+"/"+str(p, "slug"), url.Values{"name": {"Ann"}, "email": {applicant},
				"password": {"applicant password"}})
		}, "", `SELECT count(*) FROM partners WHERE workspace_id = '` + ws + `'`},
	} {
		browser := c.browser
		r := c.post(browser)
		if r.Status != http.StatusSeeOther {
			t.Errorf("%s: POST answered %d, want 303\n%.300s", c.name, r.Status, r.Body)
			continue
		}
		loc := r.Header.Get("Location")
		before := e.count(t, c.count)
		mails := e.count(t, `SELECT count(*) FROM mail_outbox`)
		first := browser.get(loc)
		again := browser.get(loc)
		if first.Status != http.StatusOK || again.Status != http.StatusOK {
			t.Errorf("%s: GET %s answered %d then %d", c.name, loc, first.Status, again.Status)
			continue
		}
		if n := e.count(t, c.count); n != before {
			t.Errorf("%s: %d made by refreshing the page", c.name, n-before)
		}
		if n := e.count(t, `SELECT count(*) FROM mail_outbox`); n != mails {
			t.Errorf("%s: %d more mails written by refreshing the page", c.name, n-mails)
		}
		if c.secret == "" {
			if testid(first.Doc(t), "apply-done").Length() != 1 || testid(again.Doc(t), "apply-done").Length() != 1 {
				t.Errorf("%s: the thank-you page is not shown on both GETs", c.name)
			}
			continue
		}
		secret := testid(first.Doc(t), c.secret).AttrOr("value", "")
		if secret == "" {
			t.Errorf("%s: the page the POST redirects to does not show the secret", c.name)
			continue
		}
		if testid(again.Doc(t), c.secret).Length() != 0 || strings.Contains(string(again.Body), secret) {
			t.Errorf("%s: the secret is shown again on a refresh", c.name)
		}
		if strings.Contains(loc, secret) || strings.Contains(string(r.Body), secret) {
			t.Errorf("%s: the secret is in the redirect", c.name)
		}
	}
	// One application, one mail to its owners, one to confirm the address.
	if n := len(e.outboxTo(t, applicant, store.MailEmailVerification)); n != 1 {
		t.Errorf("%d verification mails for one application", n)
	}
	if n := len(e.outboxTo(t, e.WS.Owner.Email, store.MailApplicationReceived)); n != 1 {
		t.Errorf("%d new-application mails for one application", n)
	}
	// Nothing one-time is left in any session.
	if n := e.count(t, `SELECT count(*) FROM sessions WHERE flash IS NOT NULL`); n != 0 {
		t.Errorf("%d sessions still hold a one-time secret", n)
	}
	// A one-time secret is sealed in the session, never stored as it is.
	r := owner.post("/settings/keys", url.Values{"name": {"sealed"}})
	var sealed []byte
	if err := e.DB.QueryRow(`SELECT flash FROM sessions WHERE flash IS NOT NULL`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	key := testid(owner.page(r.Header.Get("Location")), "new-api-key").AttrOr("value", "")
	if key == "" || strings.Contains(string(sealed), key) || strings.Contains(string(sealed), "pk_live_") {
		t.Errorf("the session kept the key in plain text (%d bytes)", len(sealed))
	}
}
