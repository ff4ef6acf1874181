package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

func TestDashAuthSignInAndOut(t *testing.T) {
	e := newEnv(t)
	s := e.signIn(t)
	d := s.page("/")
	if got := testid(d, "user-email").Text(); got != e.WS.Owner.Email {
		t.Fatalf("signed in as %q, want %q", got, e.WS.Owner.Email)
	}
	if got := testid(d, "workspace-name").Text(); got != "Acme" {
		t.Fatalf("workspace %q, want Acme", got)
	}
	r := s.post("/logout", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %q", r.Status, r.Header.Get("Location"))
	}
	if r := s.get("/"); r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Fatalf("after logout GET / = %d %q, want a redirect to /login", r.Status, r.Header.Get("Location"))
	}
}

func TestDashAuthRedirectsWithoutSession(t *testing.T) {
	e := newEnv(t)
	s := e.anonymous(t)
	for _, path := range []string{"/", "/programs", "/partners", "/sales", "/commissions", "/payouts", "/settings"} {
		r := s.get(path)
		if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("GET %s without a session: %d %q, want 303 to /login", path, r.Status, r.Header.Get("Location"))
		}
	}
	r := s.htmx(http.MethodGet, "/commissions", nil)
	if r.Header.Get("HX-Redirect") == "" {
		t.Errorf("HTMX request without a session: no HX-Redirect (status %d)", r.Status)
	}
	// ?next= brings the user back, but only to a local path.
	r = s.get("/sales")
	if loc := r.Header.Get("Location"); loc != "/login?next=%2Fsales" {
		t.Fatalf("Location %q", loc)
	}
	r = s.post("/login", url.Values{"email": {e.WS.Owner.Email}, "password": {"correct horse battery"}, "next": {"/sales"}})
	if r.Header.Get("Location") != "/sales" {
		t.Fatalf("after sign-in with next=/sales: Location %q", r.Header.Get("Location"))
	}
	s2 := e.anonymous(t)
	r = s2.post("/login", url.Values{"email": {e.WS.Owner.Email}, "password": {"correct horse battery"}, "next": {"//evil.example"}})
	if r.Header.Get("Location") != "/" {
		t.Fatalf("open redirect: Location %q", r.Header.Get("Location"))
	}
}

func TestDashAuthWrongPasswordAndLockout(t *testing.T) {
	e := newEnv(t)
	s := e.anonymous(t)
	for i := range 5 {
		r := s.post("/login", url.Values{"email": {e.WS.Owner.Email}, "password": {"wrong password"}})
		if r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d: status %d", i+1, r.Status)
		}
		if msg := testid(r.Doc(t), "login-error").Text(); !strings.Contains(msg, "do not match") {
			t.Fatalf("attempt %d: error %q", i+1, msg)
		}
	}
	// Locked now: even the right password is refused, with a clear message.
	r := s.post("/login", url.Values{"email": {e.WS.Owner.Email}, "password": {"correct horse battery"}})
	if r.Status != http.StatusTooManyRequests {
		t.Fatalf("locked account: status %d", r.Status)
	}
	if msg := testid(r.Doc(t), "login-error").Text(); !strings.Contains(msg, "Too many failed attempts") {
		t.Fatalf("locked message %q", msg)
	}
	// Unknown emails get the same answer as wrong passwords.
	r = s.post("/login", url.Values{"email": {"nobody@example.com"}, "password": {"whatever1"}})
	if r.Status != http.StatusUnauthorized {
		t.Fatalf("unknown email: %d", r.Status)
	}
}

func TestDashAuthCSRF(t *testing.T) {
	e := newEnv(t)
	s := e.signIn(t)
	// A form post without the token is refused and changes nothing.
	r := s.do(http.MethodPost, "/logout", strings.NewReader(""), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("post without CSRF token: %d", r.Status)
	}
	if r := s.get("/"); r.Status != http.StatusOK {
		t.Fatalf("still signed in after the refused logout? GET / = %d", r.Status)
	}
	// An HTMX request with a wrong token header is refused too.
	r = s.do(http.MethodPost, "/logout", nil, http.Header{"HX-Request": {"true"}, "X-CSRF-Token": {"forged"}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("HTMX post with a forged token: %d", r.Status)
	}
	// A cross-site browser post is refused from its fetch metadata alone.
	r = s.do(http.MethodPost, "/logout", nil, http.Header{"Sec-Fetch-Site": {"cross-site"}})
	if r.Status != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", r.Status)
	}
	// The session cookie is HttpOnly and SameSite=Lax.
	a := e.anonymous(t)
	r = a.post("/login", url.Values{"email": {e.WS.Owner.Email}, "password": {"correct horse battery"}})
	var found bool
	for _, c := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, "partli_session=") {
			found = true
			if !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Lax") {
				t.Fatalf("session cookie attributes: %s", c)
			}
		}
	}
	if !found {
		t.Fatal("no session cookie set on sign-in")
	}
}

func TestDashAuthWorkspaceIsolationOnOverview(t *testing.T) {
	e := newEnv(t)
	other, _ := e.newWorkspace("Globex")
	ctx := context.Background()
	// A sale in Acme only.
	prog := &store.Program{ID: ids.New(ids.Program), WorkspaceID: e.WS.Workspace.ID, Name: "P", Slug: "p",
		DestinationURL: "https://acme.example", Currency: "EUR", HoldingPeriodDays: 30, CookieDays: 30}
	if err := e.Store.CreateProgram(ctx, prog); err != nil {
		t.Fatal(err)
	}
	pa := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: prog.WorkspaceID, ProgramID: prog.ID,
		Email: "p@example.com", Name: "P", Slug: "iso-p", Status: "approved"}
	if err := e.Store.CreatePartner(ctx, pa); err != nil {
		t.Fatal(err)
	}
	r := e.call(http.MethodGet, "/r/iso-p", "", nil)
	cid := strings.Split(strings.Split(r.Header.Get("Location"), "pref_cid=")[1], "&")[0]
	e.call(http.MethodPost, "/api/track/sale", e.Key, map[string]any{
		"externalId": "inv-1", "customerExternalId": "cus-1", "amountCents": 12345, "currency": "EUR", "clickId": cid}).must(t, 200)

	acme := e.signIn(t).page("/")
	if got := testid(acme, "sales-amount").Text(); got != "€123.45" {
		t.Fatalf("Acme's overview sales %q, want €123.45", got)
	}
	globex := e.signInAs(t, other.Owner.Email, "correct horse battery").page("/")
	if n := testid(globex, "sales-amount").Length(); n != 0 {
		t.Fatalf("Globex's overview shows %d sales amounts of another workspace", n)
	}
	if strings.Contains(globex.Text(), "123.45") {
		t.Fatal("Globex's overview shows Acme's sale")
	}
}

func TestDashAuthFinanceRole(t *testing.T) {
	e := newEnv(t)
	hash, _ := accounts.HashPassword("finance password")
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID, Email: "fin@example.com", PasswordHash: hash, Role: "finance"}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	s := e.signInAs(t, "fin@example.com", "finance password")
	if got := testid(s.page("/"), "user-role").Text(); got != "finance" {
		t.Fatalf("role %q", got)
	}
}
