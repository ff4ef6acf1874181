package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// Attacks on the sign-in forms of both surfaces: where they send the
// browser afterwards, guessing passwords, and passwords bcrypt cannot take.

// secSignInForm is one of the two sign-in forms.
type secSignInForm struct {
	path, home string
	// account makes an account that can sign in there with password.
	account func(t *testing.T, e *env, email, password string)
	table   string
}

var secSignInForms = []secSignInForm{
	{path: "/login", home: "/", table: "users", account: func(t *testing.T, e *env, email, password string) {
		hash, err := accounts.HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		u := &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID, Email: email, PasswordHash: hash, Role: "finance"}
		if err := e.Store.CreateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
	}},
	{path: "/partner/login", home: "/partner", table: "partner_accounts", account: func(t *testing.T, e *env, email, password string) {
		hash, err := accounts.HashPassword(password)
		if err != nil {
			t.Fatal(err)
		}
		// Proven, as every account that may sign in is.
		if _, err := e.Store.ProvePartnerAccount(context.Background(), &store.PartnerAccount{ID: ids.New(ids.Account), Email: email, PasswordHash: &hash}); err != nil {
			t.Fatal(err)
		}
	}},
}

// ?next= values that a browser reads as another origin were followed
// after a sign-in; now only a path of this origin is.
func TestSecuritySignInRedirectStaysLocal(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.SignInLimit = 1000 })
	attacks := []string{
		"/\t/evil.example", `/\evil.example`, `\/evil.example`, `\\evil.example`, "/\t\\evil.example", "\\\t/evil.example",
		"/\r\n/evil.example", "//evil.example", "https://evil.example/x", "java\tscript:alert(1)",
		"/%2F/evil.example", "/%5Cevil.example", "/%09/evil.example",
	}
	for _, f := range secSignInForms {
		f.account(t, e, "next-"+f.table+"@example.com", "next password")
		for _, next := range attacks {
			b := e.anonymous(t)
			// The link in a phishing mail: the query string percent-encoded.
			page := b.get(f.path + "?next=" + url.QueryEscape(next))
			if got := page.Doc(t).Find(`input[name="next"]`).AttrOr("value", ""); got != "" {
				t.Errorf("GET %s?next=%q: the form carries next=%q", f.path, next, got)
			}
			r := b.post(f.path, url.Values{"email": {"next-" + f.table + "@example.com"}, "password": {"next password"}, "next": {next}})
			if r.Status != http.StatusSeeOther || r.Header.Get("Location") != f.home {
				t.Errorf("POST %s with next=%q: %d to %q, want 303 to %s", f.path, next, r.Status, r.Header.Get("Location"), f.home)
			}
		}
		// A local path is where the sign-in goes, on both forms.
		b := e.anonymous(t)
		r := b.post(f.path, url.Values{"email": {"next-" + f.table + "@example.com"}, "password": {"next password"}, "next": {f.home + "?x=1"}})
		if r.Header.Get("Location") != f.home+"?x=1" {
			t.Errorf("POST %s with a local next: Location %q", f.path, r.Header.Get("Location"))
		}
	}
	// The portal sends a signed-out partner to sign in and back.
	r := e.anonymous(t).get("/partner/programs/ptn_x")
	if loc := r.Header.Get("Location"); loc != "/partner/login?next=%2Fpartner%2Fprograms%2Fptn_x" {
		t.Fatalf("portal page without a session: Location %q", loc)
	}
}

// Forty wrong passwords sent at once, from forty addresses, were nearly all
// checked before the lock took hold. Now each attempt is counted before its
// check, so exactly the allowed five are checked (401) and the rest refused
// unchecked (429), and then even the right password waits out the lock.
func TestSecuritySignInLockHoldsUnderParallelGuesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.TrustProxy = true })
	for _, f := range secSignInForms {
		email := "target-" + f.table + "@example.com"
		f.account(t, e, email, "the right password")
		b := e.anonymous(t)
		var mu sync.Mutex
		var wg sync.WaitGroup
		statuses := map[int]int{}
		for i := range 40 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				form := url.Values{"_csrf": {b.csrf}, "email": {email}, "password": {"guess " + strconv.Itoa(i)}}
				req, _ := http.NewRequest(http.MethodPost, e.URL+f.path, strings.NewReader(form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("X-Forwarded-For", "198.51.100."+strconv.Itoa(i+1)) // a botnet: the per-address limit does not apply
				resp, err := b.client.Do(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("POST %s: %v", f.path, err)
					return
				}
				resp.Body.Close()
				statuses[resp.StatusCode]++
			}()
		}
		wg.Wait()
		if statuses[http.StatusUnauthorized] != 5 || statuses[http.StatusTooManyRequests] != 35 {
			t.Errorf("%s: 40 wrong passwords at once: replies %v, want 5 checked (401) and 35 refused unchecked (429)", f.path, statuses)
		}
		var locked bool
		if err := e.DB.QueryRow(`SELECT locked_until > now() FROM `+f.table+` WHERE email = $1`, email).Scan(&locked); err != nil {
			t.Fatal(err)
		}
		if !locked {
			t.Errorf("%s: the account is not locked after 40 wrong passwords", f.path)
		}
		r := b.post(f.path, url.Values{"email": {email}, "password": {"the right password"}})
		if r.Status != http.StatusTooManyRequests || !strings.Contains(r.Doc(t).Find(`[data-testid="login-error"]`).Text(), "Too many failed attempts") {
			t.Errorf("%s: the right password while locked: %d, want 429 and the lock's message", f.path, r.Status)
		}
		// When the lock has run out, the right password signs in and clears the count.
		if _, err := e.DB.Exec(`UPDATE `+f.table+` SET locked_until = now() - interval '1 second' WHERE email = $1`, email); err != nil {
			t.Fatal(err)
		}
		if r := b.post(f.path, url.Values{"email": {email}, "password": {"the right password"}}); r.Status != http.StatusSeeOther {
			t.Errorf("%s: the right password after the lock: %d", f.path, r.Status)
		}
		if n := e.count(t, `SELECT failed_logins FROM `+f.table+` WHERE email = $1`, email); n != 0 {
			t.Errorf("%s: %d failures still counted after signing in", f.path, n)
		}
	}
}

// One address could try passwords without end (each account only locks
// itself). Now the sign-in forms answer 429 with Retry-After once an
// address has spent PARTLI_SIGNIN_LIMIT attempts (20 per 10 minutes by
// default; TestAttemptLimiter checks those numbers on a fixed clock),
// counted across both forms; other addresses are still served. Here the
// limit is 4, so an attempt comes back only after 150 s, far longer than
// the test takes however loaded the machine.
func TestSecuritySignInLimitPerAddress(t *testing.T) {
	t.Parallel()
	const limit = 4
	e := newEnv(t, func(c *config.Config) { c.TrustProxy = true; c.SignInLimit = limit })
	b := e.anonymous(t)
	from := func(ip, path string) reply {
		form := url.Values{"_csrf": {b.csrf}, "email": {"nobody-" + uniq("x") + "@example.com"}, "password": {"some password"}}
		return b.do(http.MethodPost, path, strings.NewReader(form.Encode()), http.Header{
			"Content-Type": {"application/x-www-form-urlencoded"}, "X-Forwarded-For": {ip}})
	}
	for i := range limit {
		path := secSignInForms[i%2].path
		if r := from("203.0.113.9", path); r.Status != http.StatusUnauthorized {
			t.Fatalf("attempt %d of %d at %s: %d, want 401", i+1, limit, path, r.Status)
		}
	}
	for _, f := range secSignInForms {
		r := from("203.0.113.9", f.path)
		if r.Status != http.StatusTooManyRequests {
			t.Fatalf("%s: an attempt past the limit from one address: %d, want 429", f.path, r.Status)
		}
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 150 {
			t.Fatalf("%s: Retry-After %q, want whole seconds until the next attempt (at most 150)", f.path, r.Header.Get("Retry-After"))
		}
		if !strings.Contains(string(r.Body), "Too many attempts from your network") {
			t.Fatalf("%s: the 429 page does not say why: %.300s", f.path, r.Body)
		}
	}
	// Another address, and the pages themselves, are still served.
	if r := from("203.0.113.10", "/login"); r.Status != http.StatusUnauthorized {
		t.Fatalf("another address: %d, want 401", r.Status)
	}
	if r := b.get("/login"); r.Status != http.StatusOK {
		t.Fatalf("GET /login from a limited address: %d", r.Status)
	}
}

// Passwords over bcrypt's 72 bytes were a 500 on every form that sets one,
// and one past an account's 72-byte password signed in (bcrypt compares
// the first 72 bytes). Now every form says what the rule is, and sign-in
// with a longer password is just a wrong password.
func TestSecurityLongPasswords(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.SignInLimit = 1000 })
	long := strings.Repeat("p", 73)
	wantRule := "at most 72 bytes"

	// The application form.
	e.program(t, map[string]any{"slug": "lp", "autoApprove": true})
	for pw, want := range map[string]string{long: wantRule, strings.Repeat("é", 40): wantRule, "seven77": "at least 8", "ééééééé": "at least 8"} {
		r := e.apply(t, e.WS.Workspace.Slug, "lp", "Lee", uniq("lee")+"@example.com", pw)
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Doc(t).Find(".field-error").Text(), want) {
			t.Errorf("apply with a %d-byte password: %d %q, want 422 saying %q", len(pw), r.Status, r.Doc(t).Find(".field-error").Text(), want)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM partner_accounts`); n != 0 {
		t.Errorf("%d partner accounts after refused applications", n)
	}

	// An invitation.
	p := e.program(t, nil)
	pa := e.partner(t, p["id"].(string), map[string]any{"email": "inv-long@example.com"})
	owner := e.signIn(t)
	path := e.invite(t, owner, str(pa, "id"))
	guest := e.anonymous(t)
	guest.get(path)
	r := guest.post(path, url.Values{"password": {long}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "invite-error").Text(), wantRule) {
		t.Errorf("invite with a 73-byte password: %d %q", r.Status, testid(r.Doc(t), "invite-error").Text())
	}
	if r := guest.post(path, url.Values{"password": {strings.Repeat("p", 72)}}); r.Status != http.StatusSeeOther {
		t.Errorf("invite with a 72-byte password: %d", r.Status)
	}

	// A teammate accepting an invitation.
	r = owner.post("/settings/users", url.Values{"email": {"long@acme.example"}, "role": {"finance"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("invite a teammate: %d", r.Status)
	}
	mate := e.anonymous(t)
	invitation := e.mailLink(t, "long@acme.example", store.MailTeammateInvite)
	mate.get(invitation)
	r = mate.post(invitation, url.Values{"name": {"Long"}, "password": {long}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Doc(t).Find(".field-error").Text(), wantRule) {
		t.Errorf("accept an invitation with a 73-byte password: %d %q", r.Status, r.Doc(t).Find(".field-error").Text())
	}

	// A password reset, and a change of password.
	b := e.anonymous(t)
	b.get("/password/forgot")
	if r := b.post("/password/forgot", url.Values{"email": {e.WS.Owner.Email}}); r.Status != http.StatusSeeOther {
		t.Fatalf("forgot: %d", r.Status)
	}
	reset := e.mailLink(t, e.WS.Owner.Email, store.MailPasswordReset)
	b.get(reset)
	if r := b.post(reset, url.Values{"password": {long}}); r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Doc(t).Find(".field-error").Text(), wantRule) {
		t.Errorf("reset with a 73-byte password: %d %q", r.Status, r.Doc(t).Find(".field-error").Text())
	}
	owner.get("/settings/password")
	r = owner.post("/settings/password", url.Values{"current": {"correct horse battery"}, "password": {long}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Doc(t).Find(".field-error").Text(), wantRule) {
		t.Errorf("change to a 73-byte password: %d %q", r.Status, r.Doc(t).Find(".field-error").Text())
	}

	// Sign-in: a longer password than any stored is a wrong password, also
	// when its first 72 bytes are the account's password.
	for _, f := range secSignInForms {
		email := "long-" + f.table + "@example.com"
		f.account(t, e, email, strings.Repeat("p", 72))
		b := e.anonymous(t)
		for _, pw := range []string{long, strings.Repeat("p", 72) + "anything", strings.Repeat("x", 4000)} {
			r := b.post(f.path, url.Values{"email": {email}, "password": {pw}})
			if r.Status != http.StatusUnauthorized || !strings.Contains(testid(r.Doc(t), "login-error").Text(), "do not match") {
				t.Errorf("%s with a %d-byte password: %d, want 401 wrong password", f.path, len(pw), r.Status)
			}
		}
		if r := b.post(f.path, url.Values{"email": {email}, "password": {strings.Repeat("p", 72)}}); r.Status != http.StatusSeeOther {
			t.Errorf("%s with the 72-byte password: %d", f.path, r.Status)
		}
	}
}

// The rule is the same in the one function every surface calls.
func TestSecurityPasswordRule(t *testing.T) {
	for pw, ok := range map[string]bool{
		"":                      false,
		"1234567":               false,
		"ééééééé":               false, // 7 characters, 14 bytes
		"12345678":              true,
		"éééééééé":              true,
		strings.Repeat("a", 72): true,
		strings.Repeat("a", 73): false,
		strings.Repeat("é", 36): true,
		strings.Repeat("é", 37): false, // 37 characters, 74 bytes
		strings.Repeat("😀", 18): true,
		strings.Repeat("😀", 19): false,
	} {
		if err := accounts.CheckNewPassword(pw); (err == nil) != ok {
			t.Errorf("CheckNewPassword(%d bytes, %d characters) = %v, want ok=%v", len(pw), len([]rune(pw)), err, ok)
		}
	}
}
