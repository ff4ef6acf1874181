package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/store"
)

// invite has the workspace's owner invite partner id and returns the
// invitation's path.
func (e *env) invite(t testing.TB, owner *session, partnerID string) string {
	t.Helper()
	r := owner.post("/partners/"+partnerID+"/invite", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/partners/"+partnerID+"/invite" {
		t.Fatalf("invite: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	link := testid(owner.page(r.Header.Get("Location")), "invite-link").AttrOr("value", "")
	if !strings.HasPrefix(link, e.Cfg.BaseURL+"/partner/invite/") {
		t.Fatalf("invite link %q", link)
	}
	return strings.TrimPrefix(link, e.Cfg.BaseURL)
}

// Anyone could apply with someone else's address and so own that person's
// portal account (it is global): the person then could not accept a
// merchant's invitation without the squatter's password. Now an account
// made by the application form is unproven: it cannot sign in until the
// link mailed to the address is opened, and an invitation to the address
// takes it over: the invited person's password replaces the squatter's,
// and the squatter keeps nothing.
func TestSecurityInviteBeatsEmailSquatter(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.program(t, map[string]any{"slug": "squat", "autoApprove": true})
	if r, q := e.applyUnconfirmed(t, e.WS.Workspace.Slug, "squat", "Not Vic", "victim@example.com", "attacker password"); testid(r.Doc(t), "apply-done").Length() != 1 || q.Get("confirm") != "1" {
		t.Fatalf("the squatter's application: %d %v", r.Status, q)
	}
	// The squatter cannot sign in: the link that proves the address went
	// to the victim's mailbox.
	squatter := e.anonymous(t)
	if r := squatter.post("/partner/login", url.Values{"email": {"victim@example.com"}, "password": {"attacker password"}}); r.Status != http.StatusForbidden || testid(r.Doc(t), "resend-verification").Length() != 1 {
		t.Fatalf("the squatter signing in to the unproven account: %d, want 403 offering the link again", r.Status)
	}

	// The merchant of another program invites the real person.
	merchant := e.program(t, nil)
	pa := e.partner(t, merchant["id"].(string), map[string]any{"email": "victim@example.com", "name": "Vic Tim"})
	path := e.invite(t, e.signIn(t), str(pa, "id"))
	victim := e.anonymous(t)
	page := victim.page(path)
	if label := page.Find(`label[for="password"]`).Text(); !strings.Contains(label, "Choose a password") {
		t.Fatalf("the invitation asks for %q, want a new password", label)
	}
	r := victim.post(path, url.Values{"password": {"victim password"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/partner" {
		t.Fatalf("the victim accepting the invitation: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	victim.get("/partner")

	// The squatter's password and session no longer work.
	if r := e.anonymous(t).post("/partner/login", url.Values{"email": {"victim@example.com"}, "password": {"attacker password"}}); r.Status != http.StatusUnauthorized {
		t.Errorf("the squatter's password after the invitation: %d, want 401", r.Status)
	}
	signedOut(t, squatter, "/partner", "the squatter after the invitation")
	// Nor does the link mailed to the victim when the squatter applied: its
	// account is another person's now (taken over, proven).
	if r := e.anonymous(t).get(e.mailLink(t, "victim@example.com", store.MailEmailVerification)); r.Status != http.StatusSeeOther {
		t.Errorf("the old verification link after the takeover: %d", r.Status)
	}
	// The victim's account holds the invited enrollment only, not what the
	// squatter applied for in the victim's name.
	home := e.signInPartner(t, "victim@example.com", "victim password").page("/partner")
	if n := testid(home, "enrollment").Length(); n != 1 || strings.Contains(home.Text(), "Not Vic") {
		t.Errorf("the victim's portal shows %d enrollments: %s", n, testid(home, "enrollment").Text())
	}
	if n := e.count(t, `SELECT count(*) FROM partner_accounts WHERE lower(email) = 'victim@example.com' AND email_verified_at IS NOT NULL AND name = 'Vic Tim'`); n != 1 {
		t.Error("the account is not marked proven, under the invited name")
	}

	// Proven now: applying with the address needs the victim's password,
	// and so does another invitation.
	e.program(t, map[string]any{"slug": "squat2"})
	r = e.apply(t, e.WS.Workspace.Slug, "squat2", "Not Vic", "victim@example.com", "attacker password")
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Doc(t).Find(".field-error").Text(), "enter its password") {
		t.Errorf("applying with a proven address and another password: %d", r.Status)
	}
	other := e.program(t, nil)
	pb := e.partner(t, other["id"].(string), map[string]any{"email": "victim@example.com"})
	path = e.invite(t, e.signIn(t), str(pb, "id"))
	b := e.anonymous(t)
	if label := b.page(path).Find(`label[for="password"]`).Text(); !strings.Contains(label, "enter its password") {
		t.Errorf("an invitation to a proven address asks for %q", label)
	}
	if r := b.post(path, url.Values{"password": {"attacker password"}}); r.Status != http.StatusUnprocessableEntity {
		t.Errorf("another invitation with a wrong password: %d, want 422", r.Status)
	}
	if r := b.post(path, url.Values{"password": {"victim password"}}); r.Status != http.StatusSeeOther {
		t.Errorf("another invitation with the victim's password: %d", r.Status)
	}
}

// Someone who applied, then is invited, keeps their applications when they
// enter the password they chose then.
func TestPortalInviteKeepsOwnApplications(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.program(t, map[string]any{"slug": "own", "autoApprove": true})
	e.applyUnconfirmed(t, e.WS.Workspace.Slug, "own", "Ola", "ola@example.com", "ola password")
	p := e.program(t, nil)
	pa := e.partner(t, p["id"].(string), map[string]any{"email": "ola@example.com", "name": "Ola"})
	path := e.invite(t, e.signIn(t), str(pa, "id"))
	b := e.anonymous(t)
	if testid(b.page(path), "invite-unproven").Length() != 1 {
		t.Fatal("the invitation does not say the earlier password keeps the applications")
	}
	if r := b.post(path, url.Values{"password": {"ola password"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("accept: %d\n%s", r.Status, r.Body)
	}
	if n := testid(b.page("/partner"), "enrollment").Length(); n != 2 {
		t.Fatalf("%d enrollments after accepting with the same password, want 2", n)
	}
}
