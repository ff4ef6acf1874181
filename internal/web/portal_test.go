package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/partli/partli/internal/store"
)

// signInPartner signs a partner in to the portal.
func (e *env) signInPartner(t testing.TB, email, password string) *session {
	t.Helper()
	s := e.anonymous(t)
	r := s.post("/partner/login", url.Values{"email": {email}, "password": {password}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/partner" {
		t.Fatalf("partner sign-in as %s: %d %q\n%s", email, r.Status, r.Header.Get("Location"), r.Body)
	}
	s.get("/partner") // as a browser does: the page carries the session's CSRF token
	return s
}

func TestPortalApplyApproveSignInAndEarn(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, map[string]any{"slug": "pro", "holdingPeriodDays": 14})
	pid := p["id"].(string)
	e.reward(t, pid, map[string]any{"percent": 20, "interval": "recurring", "durationMonths": 12})

	// The public page states the terms in plain words.
	page := e.anonymous(t).page("/apply/" + e.WS.Workspace.Slug + "/pro")
	terms := testid(page, "terms").Text()
	if !strings.Contains(terms, "20% of every payment for 12 months") || !strings.Contains(terms, "14 days") {
		t.Fatalf("terms: %q", terms)
	}
	// Bad input re-renders with errors and stores nothing.
	r := e.apply(t, e.WS.Workspace.Slug, "pro", "", "not-an-email", "short")
	if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "apply-form").Length() != 1 {
		t.Fatalf("bad application: %d", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM partners WHERE program_id = $1`, pid); n != 0 {
		t.Fatalf("%d partners after a refused application", n)
	}
	r = e.apply(t, e.WS.Workspace.Slug, "pro", "Jane Writer", "jane@example.com", "jane password")
	if r.Status != http.StatusOK || testid(r.Doc(t), "apply-done").Length() != 1 {
		t.Fatalf("application: %d\n%s", r.Status, r.Body)
	}
	var partnerID, slug, status string
	if err := e.DB.QueryRow(`SELECT id, slug, status FROM partners WHERE program_id = $1`, pid).Scan(&partnerID, &slug, &status); err != nil {
		t.Fatal(err)
	}
	if status != "pending" {
		t.Fatalf("applied partner status %q, want pending", status)
	}
	// A pending partner's link takes visitors to the site but credits
	// nothing yet, and the portal says why.
	if r := e.call(http.MethodGet, "/r/"+slug, "", nil); r.Status != http.StatusFound || strings.Contains(r.Header.Get("Location"), "pref_cid") {
		t.Fatalf("pending partner's link: %d %q, want a 302 without a click", r.Status, r.Header.Get("Location"))
	}
	ps := e.signInPartner(t, "jane@example.com", "jane password")
	if got := testid(ps.page("/partner/programs/"+partnerID), "not-approved").Length(); got != 1 {
		t.Fatal("pending partner sees no explanation")
	}

	// The owner approves; a referred customer pays.
	e.call(http.MethodPatch, "/api/partners/"+partnerID, e.Key, map[string]any{"status": "approved"}).must(t, 200)
	cid := e.click(t, slug)
	e.sale(t, e.Key, map[string]any{"amountCents": 4999, "clickId": cid, "customerExternalId": "cus-portal"})

	home := ps.page("/partner")
	if n := testid(home, "enrollment").Length(); n != 1 {
		t.Fatalf("%d enrollments on the portal home", n)
	}
	if got := testid(home, "pending").First().Text(); got != "$10.00" {
		t.Fatalf("pending earnings %q, want $10.00 (20%% of $49.99 = 999.8 → 1000)", got)
	}
	d := ps.page("/partner/programs/" + partnerID)
	if got := testid(d, "referral-link").AttrOr("value", ""); got != e.Cfg.BaseURL+"/r/"+slug {
		t.Fatalf("referral link %q", got)
	}
	if got := testid(d, "deep-link").Text(); !strings.Contains(got, "?via="+slug) {
		t.Fatalf("deep link %q", got)
	}
	if got := testid(d, "stat-clicks").Text(); got != "1" {
		t.Fatalf("clicks %q", got)
	}
	if got := testid(d, "stat-sales").Text(); got != "1" {
		t.Fatalf("sales %q", got)
	}
	if got := testid(d, "stat-conversion").Text(); got != "100.0%" {
		t.Fatalf("conversion %q", got)
	}
	row := testid(d, "commission-row")
	if row.Length() != 1 || testid(d, "commission-amount").Text() != "$10.00" {
		t.Fatalf("commission feed: %d rows, amount %q", row.Length(), testid(d, "commission-amount").Text())
	}
	wantPayable := time.Now().UTC().AddDate(0, 0, 14).Format("Jan 2, 2006")
	if got := testid(d, "payable-at").Text(); got != wantPayable {
		t.Fatalf("payable date %q, want %q", got, wantPayable)
	}
	if got := testid(d, "term").First().Text(); got != "20% of every payment for 12 months" {
		t.Fatalf("terms %q", got)
	}

	// A clawback shows its reason in the feed.
	var commissionID string
	if err := e.DB.QueryRow(`SELECT id FROM commissions WHERE partner_id = $1`, partnerID).Scan(&commissionID); err != nil {
		t.Fatal(err)
	}
	e.call(http.MethodPatch, "/api/commissions/"+commissionID, e.Key, map[string]any{"status": "clawed_back", "reason": "customer refunded"}).must(t, 200)
	d = ps.page("/partner/programs/" + partnerID)
	if got := testid(d, "clawback-reason").Text(); got != "customer refunded" {
		t.Fatalf("clawback reason %q", got)
	}
}

func TestPortalIsolation(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, map[string]any{"slug": "iso", "autoApprove": true})
	e.reward(t, p["id"].(string), nil)
	e.apply(t, e.WS.Workspace.Slug, "iso", "Ann", "ann@example.com", "ann password")
	e.apply(t, e.WS.Workspace.Slug, "iso", "Bob", "bob@example.com", "bob password")
	var annID, bobID string
	e.DB.QueryRow(`SELECT id FROM partners WHERE email = 'ann@example.com'`).Scan(&annID)
	e.DB.QueryRow(`SELECT id FROM partners WHERE email = 'bob@example.com'`).Scan(&bobID)

	// Another workspace's partner with its own account.
	_, otherKey := e.newWorkspace("Initech")
	op := e.programAs(t, otherKey, map[string]any{"slug": "other"})
	other := e.partnerAs(t, otherKey, op["id"].(string), map[string]any{"email": "carl@example.com"})

	ann := e.signInPartner(t, "ann@example.com", "ann password")
	if r := ann.get("/partner/programs/" + bobID); r.Status != http.StatusNotFound {
		t.Fatalf("Ann opening Bob's enrollment: %d", r.Status)
	}
	if r := ann.get("/partner/programs/" + other["id"].(string)); r.Status != http.StatusNotFound {
		t.Fatalf("Ann opening another workspace's partner: %d", r.Status)
	}
	if r := ann.get("/partner/programs/" + annID); r.Status != http.StatusOK {
		t.Fatalf("Ann opening her own enrollment: %d", r.Status)
	}
	home := ann.page("/partner")
	if n := testid(home, "enrollment").Length(); n != 1 || strings.Contains(home.Text(), "Bob") {
		t.Fatalf("Ann's home shows %d enrollments: %s", n, testid(home, "enrollment").Text())
	}
	// The dashboard session is not a portal session, and the other way round.
	if r := ann.get("/"); r.Status != http.StatusSeeOther {
		t.Fatalf("partner opening the dashboard: %d", r.Status)
	}
	owner := e.signIn(t)
	if r := owner.get("/partner"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/partner/login" {
		t.Fatalf("owner opening the portal: %d %q", r.Status, r.Header.Get("Location"))
	}
}

func TestPortalAccountAcrossPrograms(t *testing.T) {
	e := newEnv(t)
	e.program(t, map[string]any{"slug": "one", "autoApprove": true})
	two := e.program(t, map[string]any{"slug": "two"})
	e.program(t, map[string]any{"slug": "three"})
	// Dee has not opened the link mailed to her yet.
	if r, q := e.applyUnconfirmed(t, e.WS.Workspace.Slug, "one", "Dee", "dee@example.com", "dee password"); testid(r.Doc(t), "apply-done").Length() != 1 || testid(r.Doc(t), "apply-confirm").Length() != 1 || q.Get("confirm") != "1" {
		t.Fatalf("first application refused: %s", r.Body)
	}
	// Another password with the same email does not join that account (its
	// email is not proven, so it blocks nobody either: the application is
	// taken, without the account, and the page says so).
	r, _ := e.applyUnconfirmed(t, e.WS.Workspace.Slug, "two", "Dee", "dee@example.com", "not her password")
	if r.Status != http.StatusOK || testid(r.Doc(t), "apply-unlinked").Length() != 1 {
		t.Fatalf("second application with another password: %d\n%s", r.Status, r.Body)
	}
	if n := e.count(t, `SELECT count(*) FROM partners WHERE program_id = $1 AND account_id IS NULL`, two["id"]); n != 1 {
		t.Fatalf("%d unlinked applications to program two, want 1", n)
	}
	// With the account's password, the application joins the account.
	r, _ = e.applyUnconfirmed(t, e.WS.Workspace.Slug, "three", "Dee", "dee@example.com", "dee password")
	if testid(r.Doc(t), "apply-done").Length() != 1 || testid(r.Doc(t), "apply-unlinked").Length() != 0 {
		t.Fatalf("third application: %s", r.Body)
	}
	// Each application with the account mailed her a link; the newest works.
	if n := len(e.outboxTo(t, "dee@example.com", store.MailEmailVerification)); n != 2 {
		t.Fatalf("%d verification mails, want 2 (one per application with her account)", n)
	}
	e.confirmEmail(t, "dee@example.com")
	home := e.signInPartner(t, "dee@example.com", "dee password").page("/partner")
	if n := testid(home, "enrollment").Length(); n != 2 {
		t.Fatalf("%d enrollments, want 2", n)
	}
	// Unknown program → 404 page.
	if r := e.anonymous(t).get("/apply/" + e.WS.Workspace.Slug + "/nope"); r.Status != http.StatusNotFound {
		t.Fatalf("unknown program: %d", r.Status)
	}
}

func TestPortalInvite(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	pa := e.partner(t, p["id"].(string), map[string]any{"email": "ivy@example.com", "name": "Ivy"})
	owner := e.signIn(t)
	path := e.invite(t, owner, pa["id"].(string))
	// The same link was mailed to the partner.
	if got := e.mailLink(t, "ivy@example.com", store.MailPartnerInvite); got != path {
		t.Fatalf("mailed invite link %q, shown %q", got, path)
	}
	// The log says an invite was made, never its token.
	token := strings.TrimPrefix(path, "/partner/invite/")
	if logs := e.Log.String(); !strings.Contains(logs, "partner invite created") || strings.Contains(logs, token) {
		t.Fatalf("the log does not record the invite, or holds its token %q:\n%s", token, logs)
	}
	ivy := e.anonymous(t)
	if d := ivy.page(path); testid(d, "invite-form").Length() != 1 {
		t.Fatal("no invite form")
	}
	if r := ivy.post(path, url.Values{"password": {"short"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", r.Status)
	}
	if r := ivy.post(path, url.Values{"password": {"ivy password"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("accept: %d\n%s", r.Status, r.Body)
	}
	if n := testid(ivy.page("/partner"), "enrollment").Length(); n != 1 {
		t.Fatalf("%d enrollments after accepting the invite", n)
	}
	// The link works once.
	if r := e.anonymous(t).get(path); r.Status != http.StatusNotFound {
		t.Fatalf("used invite: %d", r.Status)
	}
	// Nobody signed out can make invites.
	if r := e.anonymous(t).post("/partners/"+pa["id"].(string)+"/invite", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("invite without a session: %d", r.Status)
	}
}

func TestPortalSignInLockoutAndRedirect(t *testing.T) {
	e := newEnv(t)
	e.program(t, map[string]any{"slug": "lk", "autoApprove": true})
	e.apply(t, e.WS.Workspace.Slug, "lk", "Lou", "lou@example.com", "lou password")
	s := e.anonymous(t)
	if r := s.get("/partner"); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/partner/login" {
		t.Fatalf("portal without a session: %d %q", r.Status, r.Header.Get("Location"))
	}
	for range 5 {
		s.post("/partner/login", url.Values{"email": {"lou@example.com"}, "password": {"wrong"}})
	}
	r := s.post("/partner/login", url.Values{"email": {"lou@example.com"}, "password": {"lou password"}})
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("locked partner account: %d", r.Status)
	}
	// CSRF applies to the portal too.
	r = s.do(http.MethodPost, "/partner/login", strings.NewReader("email=lou%40example.com&password=x"),
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("portal sign-in without a CSRF token: %d", r.Status)
	}
}
