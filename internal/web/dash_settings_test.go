package web_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/partli/partli/internal/store"
)

func TestDashSettingsPage(t *testing.T) {
	e := newEnv(t)
	s := e.signIn(t)
	d := s.page("/settings")
	if got := testid(d, "settings-workspace-name").Text(); got != "Acme" {
		t.Fatalf("workspace name %q", got)
	}
	if got := testid(d, "settings-workspace-slug").Text(); got != e.WS.Workspace.Slug {
		t.Fatalf("workspace slug %q", got)
	}
	if got := testid(d, "apply-url-pattern").Text(); got != "http://partli.test/apply/"+e.WS.Workspace.Slug+"/{programSlug}" {
		t.Fatalf("apply pattern %q", got)
	}
	users := testid(d, "user-row")
	if users.Length() != 1 || users.AttrOr("data-email", "") != e.WS.Owner.Email || testid(d, "user-role-badge").Text() != "owner" {
		t.Fatalf("users: %d %q", users.Length(), users.Text())
	}
	// The default key is listed by prefix, never in full.
	keys := testid(d, "key-row")
	if keys.Length() != 1 {
		t.Fatalf("%d keys, want the default key", keys.Length())
	}
	if got := testid(d, "key-prefix").Text(); got != e.Key[:12]+"…" {
		t.Fatalf("key shown as %q, want %q", got, e.Key[:12]+"…")
	}
	if got := strings.TrimSpace(testid(d, "key-last-used").Text()); got != "never" {
		t.Fatalf("last used %q, want never", got)
	}
	if strings.Contains(string(s.get("/settings").Body), e.Key) {
		t.Fatal("the settings page shows a full API key")
	}
	if testid(d, "create-key-form").Length() != 1 || testid(d, "add-user-form").Length() != 1 {
		t.Fatal("the owner has no forms")
	}
	// Each program's apply page is listed.
	e.program(t, map[string]any{"name": "Shoes", "slug": "shoes"})
	if !strings.Contains(testid(s.page("/settings"), "apply-urls").Text(), "http://partli.test/apply/"+e.WS.Workspace.Slug+"/shoes") {
		t.Fatal("no apply URL for the program")
	}
}

// settingsKeyRow finds the key list row whose prefix starts key.
func settingsKeyRow(d *goquery.Document, key string) *goquery.Selection {
	return testid(d, "key-row").FilterFunction(func(_ int, r *goquery.Selection) bool {
		p := strings.TrimSuffix(r.Find(`[data-testid="key-prefix"]`).Text(), "…")
		return p != "" && strings.HasPrefix(key, p)
	})
}

func TestDashSettingsAPIKeys(t *testing.T) {
	e := newEnv(t)
	s := e.signIn(t)
	s.page("/settings")

	r := s.post("/settings/keys", url.Values{"name": {"Production backend"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/settings?done=key-created#api-keys" {
		t.Fatalf("create key: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	if strings.Contains(r.Header.Get("Location"), "pk_live_") || strings.Contains(string(r.Body), "pk_live_") {
		t.Fatal("the POST's reply holds the key")
	}
	// The page the browser is sent to shows it, once.
	shown := s.get(r.Header.Get("Location"))
	if cc := shown.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q on the one-time reveal", cc)
	}
	d := shown.Doc(t)
	key := testid(d, "new-api-key").AttrOr("value", "")
	if !strings.HasPrefix(key, "pk_live_") || len(key) < 30 {
		t.Fatalf("new key %q", key)
	}
	if !strings.Contains(testid(d, "new-key-box").Text(), "not be shown again") {
		t.Fatal("no one-time note")
	}
	row := settingsKeyRow(d, key)
	if row.Length() != 1 || !strings.Contains(row.Text(), "Production backend") {
		t.Fatalf("new key's row: %d %q", row.Length(), row.Text())
	}
	keyID := row.AttrOr("data-id", "")
	if n := e.count(t, `SELECT count(*) FROM sessions WHERE flash IS NOT NULL`); n != 0 {
		t.Fatalf("%d sessions still hold a one-time value after it was shown", n)
	}

	// Reloading shows it by prefix only, and makes no other key.
	reload := s.get("/settings?done=key-created")
	if strings.Contains(string(reload.Body), key) {
		t.Fatal("the full key is still on the page after a reload")
	}
	if testid(reload.Doc(t), "new-api-key").Length() != 0 {
		t.Fatal("the reveal box is shown again")
	}
	if !strings.Contains(testid(reload.Doc(t), "flash").Text(), "shown once") {
		t.Fatalf("the reload says %q", testid(reload.Doc(t), "flash").Text())
	}
	if settingsKeyRow(reload.Doc(t), key).Length() != 1 {
		t.Fatal("the new key is not listed")
	}
	if n := e.count(t, `SELECT count(*) FROM api_keys WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 2 {
		t.Fatalf("%d keys after creating one and reloading, want 2 (the default and the new one)", n)
	}

	// It works on the API, and then records its use.
	e.call(http.MethodGet, "/api/programs", key, nil).must(t, http.StatusOK)
	for i := 0; e.count(t, `SELECT count(*) FROM api_keys WHERE id = $1 AND last_used_at IS NOT NULL`, keyID) == 0; i++ {
		if i == 100 {
			t.Fatal("the key's use was never recorded")
		}
		time.Sleep(20 * time.Millisecond) // the use is recorded in the background
	}

	// A too long name is refused, with what was typed kept.
	long := strings.Repeat("x", 101)
	r = s.post("/settings/keys", url.Values{"name": {long}})
	if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "new-api-key").Length() != 0 {
		t.Fatalf("long name: %d", r.Status)
	}
	if got := testid(r.Doc(t), "key-name-input").AttrOr("value", ""); got != long {
		t.Fatal("long name not kept in the form")
	}

	// Revoke: the key stops working at once and is listed as revoked.
	r = s.post("/settings/keys/"+keyID+"/revoke", nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Status)
	}
	d = s.page(r.Header.Get("Location"))
	if testid(d, "flash").Length() != 1 {
		t.Fatal("no confirmation after revoking")
	}
	row = settingsKeyRow(d, key)
	if got := strings.TrimSpace(row.Find(`[data-testid="key-status"]`).Text()); got != "revoked" {
		t.Fatalf("status %q after revoking", got)
	}
	if row.Find(`[data-testid="revoke-key"]`).Length() != 0 {
		t.Fatal("a revoked key still has a Revoke button")
	}
	if got := strings.TrimSpace(row.Find(`[data-testid="key-last-used"]`).Text()); got == "never" {
		t.Fatal("last used still says never after an API call")
	}
	if r := e.call(http.MethodGet, "/api/programs", key, nil); r.Status != http.StatusUnauthorized {
		t.Fatalf("revoked key on /api: %d, want 401", r.Status)
	}
	// The default key is untouched.
	e.call(http.MethodGet, "/api/programs", e.Key, nil).must(t, http.StatusOK)

	// Another workspace's key cannot be revoked from here.
	other, otherKey := e.newWorkspace("Globex")
	od := e.signInAs(t, other.Owner.Email, "correct horse battery").page("/settings")
	otherID := settingsKeyRow(od, otherKey).AttrOr("data-id", "")
	if otherID == "" {
		t.Fatal("Globex's key not listed for Globex")
	}
	if r := s.post("/settings/keys/"+otherID+"/revoke", nil); r.Status != http.StatusNotFound {
		t.Fatalf("revoking another workspace's key: %d, want 404", r.Status)
	}
	e.call(http.MethodGet, "/api/programs", otherKey, nil).must(t, http.StatusOK)
	if settingsKeyRow(s.page("/settings"), otherKey).Length() != 0 {
		t.Fatal("Acme's settings list Globex's key")
	}
}

// Owners invite teammates by email; the invitee chooses their own name and
// password. No owner types a teammate's password.
func TestDashSettingsInviteTeammate(t *testing.T) {
	e := newEnv(t)
	s := e.signIn(t)
	d := s.page("/settings")
	if testid(d, "add-user-form").Find(`input[type="password"]`).Length() != 0 {
		t.Fatal("the team form asks the owner for a password")
	}

	// Refused forms keep what was typed and say what is wrong.
	r := s.post("/settings/users", url.Values{"email": {"nope"}, "role": {"finance"}})
	if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "user-email-input").AttrOr("value", "") != "nope" {
		t.Fatalf("bad email: %d", r.Status)
	}
	if r := s.post("/settings/users", url.Values{"email": {"fin@acme.example"}, "role": {"admin"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad role: %d", r.Status)
	}
	r = s.post("/settings/users", url.Values{"email": {strings.ToUpper(e.WS.Owner.Email)}, "role": {"finance"}})
	if r.Status != http.StatusConflict || !strings.Contains(r.Doc(t).Find(".field-error").Text(), "already exists") {
		t.Fatalf("duplicate email: %d", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM user_invites`); n != 0 {
		t.Fatalf("%d invitations after refused forms", n)
	}

	// Post, redirect, get: the link is shown once, and mailed.
	r = s.post("/settings/users", url.Values{"email": {"fin@acme.example"}, "role": {"finance"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("invite: %d\n%s", r.Status, r.Body)
	}
	d = s.page(r.Header.Get("Location"))
	link := testid(d, "new-invite-link").AttrOr("value", "")
	path := strings.TrimPrefix(link, e.Cfg.BaseURL)
	if !strings.HasPrefix(path, "/invite/") || testid(d, "flash").Length() != 1 {
		t.Fatalf("invite link %q", link)
	}
	if got := e.mailLink(t, "fin@acme.example", store.MailTeammateInvite); got != path {
		t.Fatalf("mailed link %q, shown %q", got, path)
	}
	if d.Find(`[data-testid="invite-row"][data-email="fin@acme.example"]`).Length() != 1 {
		t.Fatal("the open invitation is not listed")
	}
	again := s.page(r.Header.Get("Location"))
	if testid(again, "new-invite-link").Length() != 0 || strings.Contains(again.Text(), path) {
		t.Fatal("the link is shown again on a reload")
	}
	if n := e.count(t, `SELECT count(*) FROM user_invites`); n != 1 {
		t.Fatalf("%d invitations after inviting once and reloading, want 1", n)
	}
	if n := len(e.outboxTo(t, "fin@acme.example", store.MailTeammateInvite)); n != 1 {
		t.Fatalf("%d invitation mails, want 1", n)
	}

	// The invitee chooses their name and password.
	fin := e.anonymous(t)
	page := fin.page(path)
	if !strings.Contains(testid(page, "password-heading").Text(), "Join Acme") || page.Find(`input[name="name"]`).Length() != 1 {
		t.Fatalf("invitation page: %q", testid(page, "password-heading").Text())
	}
	if r := fin.post(path, url.Values{"name": {"Fin Ance"}, "password": {"short"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("short password: %d", r.Status)
	}
	if r := fin.post(path, url.Values{"name": {"Fin Ance"}, "password": {"finance password"}}); r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/" {
		t.Fatalf("accept: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	fd := fin.page("/settings")
	if got := testid(fd, "user-role").Text(); got != "finance" {
		t.Fatalf("signed in with role %q", got)
	}
	row := fd.Find(`[data-testid="user-row"][data-email="fin@acme.example"]`)
	if row.Length() != 1 || !strings.Contains(row.Text(), "Fin Ance") || fd.Find(`[data-testid="invite-row"]`).Length() != 0 {
		t.Fatalf("new user row %q", row.Text())
	}
	// The link works once.
	if r := e.anonymous(t).get(path); r.Status != http.StatusNotFound || testid(r.Doc(t), "link-gone").Length() != 1 {
		t.Fatalf("used invitation: %d", r.Status)
	}
	// They sign in with their own password.
	e.signInAs(t, "fin@acme.example", "finance password")

	// Finance cannot change settings.
	if testid(fd, "create-key-form").Length() != 0 || testid(fd, "add-user-form").Length() != 0 || testid(fd, "revoke-key").Length() != 0 {
		t.Fatal("finance sees the owner's forms")
	}
	keyID := settingsKeyRow(fd, e.Key).AttrOr("data-id", "")
	for path, form := range map[string]url.Values{
		"/settings/keys":                      {"name": {"sneaky"}},
		"/settings/keys/" + keyID + "/revoke": nil,
		"/settings/users":                     {"email": {"x@acme.example"}, "role": {"owner"}},
	} {
		if r := fin.post(path, form); r.Status != http.StatusForbidden {
			t.Errorf("finance POST %s: %d, want 403", path, r.Status)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM api_keys WHERE workspace_id = $1 AND revoked_at IS NULL`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d active keys after finance's attempts, want the 1 there was", n)
	}
	if n := e.count(t, `SELECT count(*) FROM user_invites`); n != 1 {
		t.Fatalf("%d invitations after finance's attempt to make one, want 1", n)
	}

	// An owner is invited as owner; a revoked invitation stops working.
	ops := e.addTeammate(t, s, "ops@acme.example", "Ops", "owner", "owner password")
	if got := testid(ops.page("/settings"), "user-role").Text(); got != "owner" {
		t.Fatalf("invited owner signed in as %q", got)
	}
	r = s.post("/settings/users", url.Values{"email": {"late@acme.example"}, "role": {"finance"}})
	s.get(r.Header.Get("Location"))
	late := e.mailLink(t, "late@acme.example", store.MailTeammateInvite)
	var inviteID string
	if err := e.DB.QueryRow(`SELECT id FROM user_invites WHERE email = 'late@acme.example'`).Scan(&inviteID); err != nil {
		t.Fatal(err)
	}
	if r := s.post("/settings/invites/"+inviteID+"/revoke", nil); r.Status != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.Status)
	}
	if r := e.anonymous(t).get(late); r.Status != http.StatusNotFound {
		t.Fatalf("revoked invitation: %d", r.Status)
	}
}

func TestDashSettingsChangeRoleAndRemoveUser(t *testing.T) {
	e := newEnv(t)
	owner := e.signIn(t)
	for _, email := range []string{"fin@acme.example", "ops@acme.example"} {
		e.addTeammate(t, owner, email, "", "finance", "finance password")
	}
	userID := func(email string) string {
		var id string
		if err := e.DB.QueryRow(`SELECT id FROM users WHERE email = $1`, email).Scan(&id); err != nil {
			t.Fatal(err)
		}
		return id
	}
	fin, ops := userID("fin@acme.example"), userID("ops@acme.example")
	row := func(d *goquery.Document, email string) *goquery.Selection {
		return d.Find(`[data-testid="user-row"][data-email="` + email + `"]`)
	}

	// The owner's own row has no buttons; the others' have.
	d := owner.page("/settings")
	if row(d, e.WS.Owner.Email).Find(`[data-testid="change-role"]`).Length() != 0 {
		t.Fatal("the owner can change their own role")
	}
	if got := strings.TrimSpace(row(d, "fin@acme.example").Find(`[data-testid="change-role"]`).Text()); got != "Make owner" {
		t.Fatalf("finance user's role button %q", got)
	}
	r := owner.post("/settings/users/"+fin+"/role", url.Values{"role": {"owner"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("make owner: %d", r.Status)
	}
	d = owner.page(r.Header.Get("Location"))
	if got := strings.TrimSpace(row(d, "fin@acme.example").Find(`[data-testid="user-role-badge"]`).Text()); got != "owner" || testid(d, "flash").Length() != 1 {
		t.Fatalf("after make owner: role %q", got)
	}

	// Refused: a bad role, one's own account, finance staff, another workspace's user.
	for _, c := range []struct {
		who    *session
		path   string
		form   url.Values
		status int
	}{
		{owner, "/settings/users/" + ops + "/role", url.Values{"role": {"admin"}}, http.StatusUnprocessableEntity},
		{owner, "/settings/users/" + e.WS.Owner.ID + "/role", url.Values{"role": {"finance"}}, http.StatusConflict},
		{owner, "/settings/users/" + e.WS.Owner.ID + "/remove", nil, http.StatusConflict},
		{e.signInAs(t, "ops@acme.example", "finance password"), "/settings/users/" + fin + "/remove", nil, http.StatusForbidden},
	} {
		if r := c.who.post(c.path, c.form); r.Status != c.status {
			t.Errorf("POST %s %v: %d, want %d", c.path, c.form, r.Status, c.status)
		}
	}
	other, _ := e.newWorkspace("Globex")
	for _, path := range []string{"/settings/users/" + other.Owner.ID + "/role", "/settings/users/" + other.Owner.ID + "/remove"} {
		if r := owner.post(path, url.Values{"role": {"finance"}}); r.Status != http.StatusNotFound {
			t.Errorf("POST %s for another workspace's owner: %d, want 404", path, r.Status)
		}
	}

	r = owner.post("/settings/users/"+ops+"/remove", nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.Status)
	}
	if d := owner.page(r.Header.Get("Location")); row(d, "ops@acme.example").Length() != 0 {
		t.Fatal("a removed user is still listed")
	}
	if r := e.anonymous(t).post("/login", url.Values{"email": {"ops@acme.example"}, "password": {"finance password"}}); r.Status != http.StatusUnauthorized {
		t.Fatalf("a removed user signs in: %d", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM users WHERE workspace_id = $1`, other.Workspace.ID); n != 1 {
		t.Fatal("Globex's owner was touched")
	}
}

// The store keeps a workspace's last owner, whatever the caller.
func TestDashSettingsKeepsTheLastOwner(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	if err := e.Store.SetUserRole(ctx, e.WS.Workspace.ID, e.WS.Owner.ID, "finance"); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("demoting the last owner: %v, want ErrLastOwner", err)
	}
	if err := e.Store.RemoveUser(ctx, e.WS.Workspace.ID, e.WS.Owner.ID); !errors.Is(err, store.ErrLastOwner) {
		t.Fatalf("removing the last owner: %v, want ErrLastOwner", err)
	}
	if n := e.count(t, `SELECT count(*) FROM users WHERE workspace_id = $1 AND role = 'owner'`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d owners", n)
	}
}
