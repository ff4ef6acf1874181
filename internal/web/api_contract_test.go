package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partli/partli/internal/config"
)

// The HTTP contract of /api (the OpenAPI document in internal/apispec and the
// README), from its conventions through sales and commissions: error
// statuses and codes, workspace isolation, idempotency under concurrency,
// attribution windows, CRUD and PATCH semantics, pagination, the commission
// state machine, and the referral redirect.

// wantError fails unless r is a JSON error reply with status and code, with a
// message, and (when fields are named) a fields entry for each of them.
func wantError(t testing.TB, r reply, status int, code string, fields ...string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d (%s): %s", r.Status, status, code, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("error reply has Content-Type %q, want JSON: %s", ct, r.Body)
	}
	m := r.Map(t)
	e := obj(m, "error")
	if e == nil {
		t.Fatalf("error reply without an error object: %s", r.Body)
	}
	if got := str(e, "code"); got != code {
		t.Fatalf("error.code %q, want %q: %s", got, code, r.Body)
	}
	if strings.TrimSpace(str(e, "message")) == "" {
		t.Fatalf("error.message is empty: %s", r.Body)
	}
	got := r.ErrorFields(t)
	for _, f := range fields {
		if got[f] == "" {
			t.Fatalf("error.fields has no %q: %s", f, r.Body)
		}
	}
}

// ---- error statuses ----

func TestValidationFailedNamesFields(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call("POST", "/api/programs", e.Key, map[string]any{})
	wantError(t, r, http.StatusBadRequest, "validation_failed", "name", "destinationUrl")

	// All bad fields at once, each named.
	r = e.call("POST", "/api/programs", e.Key, map[string]any{
		"name": "Shop", "destinationUrl": "https://shop.example.com", "currency": 12, "cookieDays": "ninety"})
	wantError(t, r, http.StatusBadRequest, "validation_failed", "currency", "cookieDays")
}

func TestInvalidJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, body := range []string{`{"name": "Shop",`, `{"name": }`, `[1, 2]`, `"shop"`, `null`, ``, `{"a":1}{"b":2}`} {
		r := e.call("POST", "/api/programs", e.Key, []byte(body))
		wantError(t, r, http.StatusBadRequest, "invalid_json")
	}
	if n := e.count(t, `SELECT count(*) FROM programs`); n != 0 {
		t.Fatalf("%d programs stored from invalid JSON", n)
	}
}

func TestUnauthorized(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for name, auth := range map[string]string{
		"missing":        "",
		"basic":          "Basic dXNlcjpwYXNz",
		"bearer only":    "Bearer",
		"no scheme":      e.Key,
		"wrong prefix":   "Bearer sk_live_abcdef",
		"unknown key":    "Bearer pk_live_thisisnotakeythisisnotakey",
		"too long":       "Bearer pk_live_" + strings.Repeat("a", 300),
		"glued together": "Bearer" + e.Key,
	} {
		h := http.Header{}
		if auth != "" {
			h.Set("Authorization", auth)
		}
		r := e.callWith("GET", "/api/programs", "", nil, h)
		if r.Status != http.StatusUnauthorized {
			t.Errorf("%s: status %d, want 401: %s", name, r.Status, r.Body)
			continue
		}
		wantError(t, r, http.StatusUnauthorized, "unauthorized")
	}

	// Track endpoints need a key too.
	wantError(t, e.call("POST", "/api/track/sale", "", map[string]any{"externalId": "o1"}), http.StatusUnauthorized, "unauthorized")

	ctx := context.Background()
	wsID := e.WS.Workspace.ID
	keyID := func(t *testing.T, ws string) string {
		keys, err := e.Store.ListAPIKeys(ctx, ws)
		if err != nil || len(keys) != 1 {
			t.Fatalf("list api keys: %v (%d keys)", err, len(keys))
		}
		return keys[0].ID
	}

	t.Run("revoked before first use", func(t *testing.T) {
		ws, key := e.newWorkspace("Revoked")
		if err := e.Store.RevokeAPIKey(ctx, ws.Workspace.ID, keyID(t, ws.Workspace.ID)); err != nil {
			t.Fatal(err)
		}
		wantError(t, e.call("GET", "/api/programs", key, nil), http.StatusUnauthorized, "unauthorized")
	})

	t.Run("revoked after use", func(t *testing.T) {
		e.call("GET", "/api/programs", e.Key, nil).must(t, http.StatusOK)
		if err := e.Store.RevokeAPIKey(ctx, wsID, keyID(t, wsID)); err != nil {
			t.Fatal(err)
		}
		// The server caches key look-ups for a few seconds (keyTTL); the
		// revocation must take effect within that.
		deadline := time.Now().Add(8 * time.Second)
		for {
			r := e.call("GET", "/api/programs", e.Key, nil)
			if r.Status == http.StatusUnauthorized {
				wantError(t, r, http.StatusUnauthorized, "unauthorized")
				break
			}
			r.must(t, http.StatusOK)
			if time.Now().After(deadline) {
				t.Fatal("a revoked key still works after 8 s")
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
}

func TestNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/programs/prg_nope"},
		{"PATCH", "/api/programs/prg_nope"},
		{"GET", "/api/programs/prg_nope/groups"},
		{"POST", "/api/programs/prg_nope/groups"},
		{"GET", "/api/programs/prg_nope/rewards"},
		{"POST", "/api/programs/prg_nope/rewards"},
		{"GET", "/api/programs/prg_nope/partners"},
		{"POST", "/api/programs/prg_nope/partners"},
		{"PATCH", "/api/rewards/rew_nope"},
		{"DELETE", "/api/rewards/rew_nope"},
		{"GET", "/api/partners/ptn_nope"},
		{"PATCH", "/api/partners/ptn_nope"},
		{"GET", "/api/commissions/com_nope"},
		{"PATCH", "/api/commissions/com_nope"},
	} {
		var body any
		switch c.path {
		case "/api/commissions/com_nope":
			if c.method == "PATCH" {
				body = map[string]any{"status": "approved"}
			}
		default:
			if c.method != "GET" && c.method != "DELETE" {
				body = map[string]any{"name": "x"}
			}
		}
		r := e.call(c.method, c.path, e.Key, body)
		if r.Status != http.StatusNotFound {
			t.Errorf("%s %s: status %d, want 404: %s", c.method, c.path, r.Status, r.Body)
			continue
		}
		wantError(t, r, http.StatusNotFound, "not_found")
	}
}

func TestUnknownAPIRouteIsJSON(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, path := range []string{"/api/nope", "/api/programs/x/nope/y", "/api/v2/sales"} {
		wantError(t, e.call("GET", path, e.Key, nil), http.StatusNotFound, "not_found")
		wantError(t, e.call("POST", path, "", map[string]any{}), http.StatusUnauthorized, "unauthorized")
	}
}

func TestConflict(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)

	// A partner slug is unique across the installation: same program, and
	// another workspace's program.
	r := e.call("POST", "/api/programs/"+s.ProgramID+"/partners", e.Key,
		map[string]any{"email": "other@example.com", "name": "Other", "slug": s.Slug})
	wantError(t, r, http.StatusConflict, "conflict", "slug")
	_, key2 := e.newWorkspace("Globex")
	p2 := e.programAs(t, key2, nil)
	r = e.call("POST", "/api/programs/"+str(p2, "id")+"/partners", key2,
		map[string]any{"email": "other@example.com", "name": "Other", "slug": s.Slug})
	wantError(t, r, http.StatusConflict, "conflict", "slug")

	// The same email twice in one program.
	r = e.call("POST", "/api/programs/"+s.ProgramID+"/partners", e.Key,
		map[string]any{"email": strings.ToUpper(str(s.Partner, "email")), "name": "Again"})
	wantError(t, r, http.StatusConflict, "conflict")

	// A second reward in the same slot: the program's default sale reward,
	// and a group's sale reward.
	r = e.call("POST", "/api/programs/"+s.ProgramID+"/rewards", e.Key,
		map[string]any{"event": "sale", "type": "flat", "amountCents": 500, "interval": "one_time"})
	wantError(t, r, http.StatusConflict, "conflict")
	g := e.group(t, s.ProgramID, nil)
	e.reward(t, s.ProgramID, map[string]any{"groupId": g["id"], "percent": 20})
	r = e.call("POST", "/api/programs/"+s.ProgramID+"/rewards", e.Key,
		map[string]any{"groupId": g["id"], "event": "sale", "type": "percentage", "percent": 30, "interval": "recurring"})
	wantError(t, r, http.StatusConflict, "conflict")
	// A lead reward of that group is another slot.
	e.reward(t, s.ProgramID, map[string]any{"groupId": g["id"], "event": "lead", "type": "flat", "amountCents": 300, "percent": nil})
	if n := e.count(t, `SELECT count(*) FROM rewards`); n != 3 {
		t.Fatalf("%d rewards, want 3", n)
	}

	// A group name twice in one program.
	r = e.call("POST", "/api/programs/"+s.ProgramID+"/groups", e.Key, map[string]any{"name": g["name"]})
	wantError(t, r, http.StatusConflict, "conflict")
}

// commissionOf posts a sale on s's click for a new customer and returns the commission.
func (e *env) commissionOf(t testing.TB, s setup) map[string]any {
	t.Helper()
	res := e.sale(t, e.Key, map[string]any{"customerExternalId": uniq("cust"), "clickId": s.ClickID})
	c := obj(res, "commission")
	if c == nil {
		t.Fatalf("sale without a commission: %v", res)
	}
	return c
}

func TestInvalidTransitionChangesNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	c := e.commissionOf(t, s)
	path := "/api/commissions/" + str(c, "id")

	before := e.call("GET", path, e.Key, nil).must(t, http.StatusOK).Map(t)
	for _, to := range []string{"paid", "pending"} {
		wantError(t, e.call("PATCH", path, e.Key, map[string]any{"status": to}), http.StatusConflict, "invalid_transition")
	}
	after := e.call("GET", path, e.Key, nil).must(t, http.StatusOK).Map(t)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("a refused transition changed the commission:\nbefore %v\nafter  %v", before, after)
	}

	e.call("PATCH", path, e.Key, map[string]any{"status": "approved"}).must(t, http.StatusOK)
	e.call("PATCH", path, e.Key, map[string]any{"status": "paid"}).must(t, http.StatusOK)
	before = e.call("GET", path, e.Key, nil).must(t, http.StatusOK).Map(t)
	for _, to := range []string{"approved", "pending", "paid"} {
		wantError(t, e.call("PATCH", path, e.Key, map[string]any{"status": to}), http.StatusConflict, "invalid_transition")
	}
	wantError(t, e.call("PATCH", path, e.Key, map[string]any{"status": "clawed_back", "reason": "refund"}),
		http.StatusConflict, "invalid_transition")
	after = e.call("GET", path, e.Key, nil).must(t, http.StatusOK).Map(t)
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("a refused transition changed the commission:\nbefore %v\nafter  %v", before, after)
	}
	if st := str(after, "status"); st != "paid" {
		t.Fatalf("status %q, want paid", st)
	}

	// A clawed-back commission is final.
	c2 := e.commissionOf(t, s)
	p2 := "/api/commissions/" + str(c2, "id")
	e.call("PATCH", p2, e.Key, map[string]any{"status": "clawed_back", "reason": "fraud"}).must(t, http.StatusOK)
	for _, to := range []string{"pending", "approved", "paid"} {
		wantError(t, e.call("PATCH", p2, e.Key, map[string]any{"status": to}), http.StatusConflict, "invalid_transition")
	}
	if n := e.count(t, `SELECT count(*) FROM commission_history WHERE commission_id = $1`, str(c2, "id")); n != 2 {
		t.Fatalf("%d history rows after a refused change, want 2", n)
	}
}

func TestPayloadTooLarge(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	big := `{"externalId": "o-big", "customerExternalId": "c", "amountCents": 100, "clickId": "` + s.ClickID +
		`", "eventName": "` + strings.Repeat("x", 70<<10) + `"}`
	for _, path := range []string{"/api/track/sale", "/api/programs", "/api/track/click"} {
		r := e.call("POST", path, e.Key, big)
		wantError(t, r, http.StatusRequestEntityTooLarge, "payload_too_large")
	}
	// Just under the limit is read (and here refused for its content, not its size).
	under := `{"externalId": "o-under", "customerExternalId": "c", "amountCents": 100, "eventName": "` +
		strings.Repeat("x", 60<<10) + `"}`
	wantError(t, e.call("POST", "/api/track/sale", e.Key, under), http.StatusBadRequest, "validation_failed", "eventName")
	if n := e.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("%d events stored", n)
	}
}

func TestUnsupportedMediaType(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		h := http.Header{"Content-Type": {ct}}
		for _, path := range []string{"/api/programs", "/api/track/sale", "/api/track/click"} {
			r := e.callWith("POST", path, e.Key, `{"name": "x"}`, h)
			wantError(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
		}
	}
	// application/json with a charset is JSON.
	h := http.Header{"Content-Type": {"application/json; charset=utf-8"}}
	e.callWith("POST", "/api/programs", e.Key, `{"name": "Shop", "destinationUrl": "https://shop.example.com"}`, h).
		must(t, http.StatusCreated)
}

func TestRateLimited(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.ClickRate = 1 })
	p := e.program(t, nil)
	pa := e.partner(t, str(p, "id"), nil)
	var limited reply
	for i := 0; i < 50 && limited.Status == 0; i++ {
		r := e.callWith("POST", "/api/track/click", "", map[string]any{"slug": pa["slug"]},
			http.Header{"Origin": {"https://shop.example.com"}})
		switch r.Status {
		case http.StatusOK:
		case http.StatusTooManyRequests:
			limited = r
		default:
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
	}
	if limited.Status == 0 {
		t.Fatal("50 clicks in a row at 1/s were never rate-limited")
	}
	wantError(t, limited, http.StatusTooManyRequests, "rate_limited")
	ra, err := strconv.Atoi(limited.Header.Get("Retry-After"))
	if err != nil || ra < 1 {
		t.Fatalf("Retry-After %q, want a positive number of seconds", limited.Header.Get("Retry-After"))
	}
	if limited.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Error("a rate-limited click reply has no CORS header; the browser cannot read it")
	}
	// Another endpoint is not affected by the click limit.
	e.call("GET", "/api/programs", e.Key, nil).must(t, http.StatusOK)
}

// ---- workspaces ----

func TestOtherWorkspaceIsInvisible(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.setup(t)
	g := e.group(t, a.ProgramID, nil)
	sale := e.sale(t, e.Key, map[string]any{"clickId": a.ClickID, "customerExternalId": "a-cust", "externalId": "a-order-1"})
	com := obj(sale, "commission")
	if com == nil {
		t.Fatalf("no commission: %v", sale)
	}

	_, keyB := e.newWorkspace("Globex")
	b := e.programAs(t, keyB, nil)
	bID := str(b, "id")

	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"GET", "/api/programs/" + a.ProgramID, nil},
		{"PATCH", "/api/programs/" + a.ProgramID, map[string]any{"name": "Mine now"}},
		{"GET", "/api/programs/" + a.ProgramID + "/groups", nil},
		{"POST", "/api/programs/" + a.ProgramID + "/groups", map[string]any{"name": "intruders"}},
		{"GET", "/api/programs/" + a.ProgramID + "/rewards", nil},
		{"POST", "/api/programs/" + a.ProgramID + "/rewards", map[string]any{"event": "lead", "groupId": g["id"], "type": "flat", "amountCents": 1, "interval": "one_time"}},
		{"GET", "/api/programs/" + a.ProgramID + "/partners", nil},
		{"POST", "/api/programs/" + a.ProgramID + "/partners", map[string]any{"email": "x@example.com", "name": "X"}},
		{"PATCH", "/api/rewards/" + str(a.Reward, "id"), map[string]any{"percent": 99}},
		{"DELETE", "/api/rewards/" + str(a.Reward, "id"), nil},
		{"GET", "/api/partners/" + a.PartnerID, nil},
		{"PATCH", "/api/partners/" + a.PartnerID, map[string]any{"status": "suspended"}},
		{"GET", "/api/commissions/" + str(com, "id"), nil},
		{"PATCH", "/api/commissions/" + str(com, "id"), map[string]any{"status": "approved"}},
	} {
		r := e.call(c.method, c.path, keyB, c.body)
		if r.Status != http.StatusNotFound {
			t.Errorf("%s %s with another workspace's key: status %d, want 404: %s", c.method, c.path, r.Status, r.Body)
			continue
		}
		wantError(t, r, http.StatusNotFound, "not_found")
	}

	// Another workspace's group cannot be used in one's own program.
	r := e.call("POST", "/api/programs/"+bID+"/partners", keyB, map[string]any{"email": "y@example.com", "name": "Y", "groupId": g["id"]})
	wantError(t, r, http.StatusNotFound, "not_found", "groupId")
	r = e.call("POST", "/api/programs/"+bID+"/rewards", keyB, map[string]any{"groupId": g["id"], "event": "sale", "type": "percentage", "percent": 5, "interval": "one_time"})
	wantError(t, r, http.StatusNotFound, "not_found", "groupId")

	// Nothing of A changed.
	got := e.call("GET", "/api/programs/"+a.ProgramID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(got, "name") != str(a.Program, "name") {
		t.Fatalf("program renamed by another workspace: %v", got)
	}
	gotC := e.call("GET", "/api/commissions/"+str(com, "id"), e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(gotC, "status") != "pending" {
		t.Fatalf("commission changed by another workspace: %v", gotC)
	}
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE id = $1`, str(a.Reward, "id")); n != 1 {
		t.Fatal("reward deleted by another workspace")
	}
	pa := e.call("GET", "/api/partners/"+a.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(pa, "status") != "approved" {
		t.Fatalf("partner changed by another workspace: %v", pa)
	}

	// A's click in B's sale: not attributed, nothing stored.
	counts := func() [4]int {
		return [4]int{e.count(t, `SELECT count(*) FROM events`), e.count(t, `SELECT count(*) FROM customers`),
			e.count(t, `SELECT count(*) FROM commissions`), e.count(t, `SELECT count(*) FROM webhook_events`)}
	}
	before := counts()
	res := e.sale(t, keyB, map[string]any{"clickId": a.ClickID, "customerExternalId": "b-cust"})
	if res["attributed"] != false || res["eventId"] != nil || res["commission"] != nil || res["duplicate"] != false {
		t.Fatalf("another workspace's click attributed: %v", res)
	}
	// Nor does A's customer carry over to B.
	res = e.sale(t, keyB, map[string]any{"customerExternalId": "a-cust"})
	if res["attributed"] != false {
		t.Fatalf("another workspace's customer attributed: %v", res)
	}
	// A's externalId is B's to use afresh (and not a duplicate).
	res = e.sale(t, keyB, map[string]any{"externalId": "a-order-1", "customerExternalId": "zz"})
	if res["duplicate"] != false {
		t.Fatalf("duplicate across workspaces: %v", res)
	}
	if after := counts(); after != before {
		t.Fatalf("rows written by unattributed sales: before %v, after %v", before, after)
	}

	// Lists never show another workspace's rows.
	for _, path := range []string{"/api/programs", "/api/sales", "/api/commissions",
		"/api/sales?programId=" + a.ProgramID, "/api/commissions?partnerId=" + a.PartnerID} {
		l := e.call("GET", path, keyB, nil).must(t, http.StatusOK).Map(t)
		for _, row := range l["data"].([]any) {
			m := row.(map[string]any)
			if str(m, "id") != bID {
				t.Errorf("%s with B's key lists %v", path, m)
			}
		}
	}
	l := e.call("GET", "/api/programs", e.Key, nil).must(t, http.StatusOK).Map(t)
	if n := len(l["data"].([]any)); n != 1 {
		t.Errorf("A lists %d programs, want 1", n)
	}
}

// ---- idempotency and concurrency ----

func TestDuplicateExternalID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	body := map[string]any{"externalId": "order-1", "customerExternalId": "cust-1", "amountCents": 5000, "clickId": s.ClickID}
	first := e.sale(t, e.Key, body)
	if first["duplicate"] != false || first["attributed"] != true || str(first, "eventId") == "" || obj(first, "commission") == nil {
		t.Fatalf("first sale: %v", first)
	}
	// Repeats, even with other values, change nothing.
	for _, over := range []map[string]any{nil, {"amountCents": 9999}, {"customerExternalId": "someone-else"}, {"currency": "eur"}} {
		again := e.sale(t, e.Key, merge(body, over))
		if again["duplicate"] != true || str(again, "eventId") != str(first, "eventId") || again["attributed"] != true {
			t.Fatalf("repeat %v: %v", over, again)
		}
		if fmt.Sprint(again["commission"]) != fmt.Sprint(first["commission"]) {
			t.Fatalf("repeat %v: commission\n%v\nwant\n%v", over, again["commission"], first["commission"])
		}
	}
	if n := e.count(t, `SELECT count(*) FROM events`); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM commissions`); n != 1 {
		t.Fatalf("%d commissions, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM customers`); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_events`); n != 2 {
		t.Fatalf("%d webhook events, want 2 (sale.created, commission.created)", n)
	}
}

// concurrently runs f(i) for i in [0, n) at once (all released together)
// over real HTTP and returns the replies.
func concurrently(t *testing.T, n int, f func(i int) (reply, error)) []reply {
	t.Helper()
	out := make([]reply, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = f(i)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

func TestConcurrentRepeatsOfOneExternalID(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	body := map[string]any{"externalId": "order-race", "customerExternalId": "cust-race", "amountCents": 1999, "clickId": s.ClickID}
	replies := concurrently(t, 50, func(int) (reply, error) {
		return e.do(t, client, "POST", "/api/track/sale", e.Key, body)
	})
	eventIDs := map[string]int{}
	commissionIDs := map[string]int{}
	fresh := 0
	for i, r := range replies {
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, r.Status, r.Body)
		}
		m := r.Map(t)
		eventIDs[str(m, "eventId")]++
		if c := obj(m, "commission"); c != nil {
			commissionIDs[str(c, "id")]++
		}
		if m["duplicate"] == false {
			fresh++
		}
	}
	if len(eventIDs) != 1 || eventIDs[""] != 0 {
		t.Fatalf("event ids %v, want one", eventIDs)
	}
	if len(commissionIDs) > 1 {
		t.Fatalf("commission ids %v, want at most one", commissionIDs)
	}
	if fresh != 1 {
		t.Errorf("%d replies with duplicate=false, want exactly 1", fresh)
	}
	if n := e.count(t, `SELECT count(*) FROM events WHERE external_id = 'order-race'`); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM commissions`); n > 1 {
		t.Fatalf("%d commissions, want at most 1", n)
	}
}

func TestConcurrentFirstSalesOnOneTimeReward(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t) // the default reward is one_time
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	replies := concurrently(t, 20, func(i int) (reply, error) {
		return e.do(t, client, "POST", "/api/track/sale", e.Key, map[string]any{
			"externalId": fmt.Sprintf("first-%d", i), "customerExternalId": "new-customer", "amountCents": 1000 + i, "clickId": s.ClickID})
	})
	with := 0
	for i, r := range replies {
		if r.Status != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, r.Status, r.Body)
		}
		m := r.Map(t)
		if m["attributed"] != true || m["duplicate"] != false {
			t.Fatalf("request %d: %v", i, m)
		}
		if obj(m, "commission") != nil {
			with++
		}
	}
	if with != 1 {
		t.Fatalf("%d replies carry a commission, want 1", with)
	}
	if n := e.count(t, `SELECT count(*) FROM commissions`); n != 1 {
		t.Fatalf("%d commissions, want exactly 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM events`); n != 20 {
		t.Fatalf("%d sales, want 20", n)
	}
	if n := e.count(t, `SELECT count(*) FROM customers`); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
}

// ---- attribution ----

func TestExpiredClickDoesNotAttribute(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t) // cookieDays 90
	if _, err := e.DB.Exec(`UPDATE clicks SET created_at = now() - interval '100 days' WHERE id = $1`, s.ClickID); err != nil {
		t.Fatal(err)
	}
	res := e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "customerExternalId": "late"})
	if res["attributed"] != false || res["eventId"] != nil || res["commission"] != nil {
		t.Fatalf("an expired click attributed: %v", res)
	}
	// A backfilled occurredAt inside the window does not revive it.
	res = e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "customerExternalId": "late",
		"occurredAt": time.Now().Add(-99 * 24 * time.Hour).UTC().Format(time.RFC3339)})
	if res["attributed"] != false {
		t.Fatalf("a backfill moved the cookie window: %v", res)
	}
	// Just inside the window it still attributes.
	c2 := e.click(t, s.Slug)
	if _, err := e.DB.Exec(`UPDATE clicks SET created_at = now() - interval '89 days' WHERE id = $1`, c2); err != nil {
		t.Fatal(err)
	}
	res = e.sale(t, e.Key, map[string]any{"clickId": c2, "customerExternalId": "in-time"})
	if res["attributed"] != true {
		t.Fatalf("a click of 89 days on a 90-day cookie did not attribute: %v", res)
	}
	// An unknown click id does not attribute either.
	res = e.sale(t, e.Key, map[string]any{"clickId": "c_doesnotexist", "customerExternalId": "ghost"})
	if res["attributed"] != false {
		t.Fatalf("an unknown click attributed: %v", res)
	}
	if n := e.count(t, `SELECT count(*) FROM customers`); n != 1 {
		t.Fatalf("%d customers, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM events`); n != 1 {
		t.Fatalf("%d events, want 1", n)
	}
}

func TestFirstPartnerKeepsCustomer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	e.call("PATCH", "/api/rewards/"+str(s.Reward, "id"), e.Key, map[string]any{"interval": "recurring"}).must(t, http.StatusOK)
	other := e.partner(t, s.ProgramID, nil)
	meta := map[string]any{"plan": "pro"} // see TestListSalesWithoutMetadata
	first := e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "customerExternalId": "loyal", "metadata": meta})
	if str(obj(first, "commission"), "partnerId") != s.PartnerID {
		t.Fatalf("first sale: %v", first)
	}
	newer := e.click(t, str(other, "slug"))
	second := e.sale(t, e.Key, map[string]any{"clickId": newer, "customerExternalId": "loyal", "metadata": meta})
	if second["attributed"] != true || str(obj(second, "commission"), "partnerId") != s.PartnerID {
		t.Fatalf("second sale went to the newer click's partner: %v", second)
	}
	// And without a click at all.
	third := e.sale(t, e.Key, map[string]any{"customerExternalId": "loyal", "metadata": meta})
	if third["attributed"] != true || str(obj(third, "commission"), "partnerId") != s.PartnerID {
		t.Fatalf("third sale: %v", third)
	}
	sales := e.call("GET", "/api/sales?customerExternalId=loyal", e.Key, nil).must(t, http.StatusOK).Map(t)
	for _, row := range sales["data"].([]any) {
		if p := str(row.(map[string]any), "partnerId"); p != s.PartnerID {
			t.Fatalf("sale of partner %s, want %s", p, s.PartnerID)
		}
	}
	if n := len(sales["data"].([]any)); n != 3 {
		t.Fatalf("%d sales, want 3", n)
	}
}

// ---- programs, groups, rewards, partners ----

func TestProgramCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.call("POST", "/api/programs", e.Key, map[string]any{"name": "Acme Pro", "destinationUrl": "https://acme.example.com/?a=1"}).
		must(t, http.StatusCreated).Map(t)
	id := str(p, "id")
	if str(p, "slug") != "acme-pro" || str(p, "currency") != "USD" || p["holdingPeriodDays"] != 30.0 || p["cookieDays"] != 90.0 {
		t.Fatalf("defaults: %v", p)
	}
	if _, err := time.Parse(time.RFC3339, str(p, "createdAt")); err != nil || !strings.HasSuffix(str(p, "createdAt"), "Z") {
		t.Fatalf("createdAt %q is not RFC 3339 in UTC", p["createdAt"])
	}
	got := e.call("GET", "/api/programs/"+id, e.Key, nil).must(t, http.StatusOK).Map(t)
	for _, k := range []string{"id", "name", "slug", "destinationUrl", "currency", "holdingPeriodDays", "cookieDays", "createdAt"} {
		if fmt.Sprint(got[k]) != fmt.Sprint(p[k]) {
			t.Errorf("GET %s = %v, POST said %v", k, got[k], p[k])
		}
	}

	// Explicit fields, currency in lower case.
	q := e.program(t, map[string]any{"name": "Yen", "slug": "yen-shop", "currency": "jpy", "holdingPeriodDays": 0, "cookieDays": 7})
	if str(q, "slug") != "yen-shop" || str(q, "currency") != "JPY" || q["holdingPeriodDays"] != 0.0 || q["cookieDays"] != 7.0 {
		t.Fatalf("explicit fields: %v", q)
	}
	// The same name again gets another slug; an explicit slug taken is 409.
	again := e.program(t, map[string]any{"name": "Acme Pro"})
	if s := str(again, "slug"); s == "acme-pro" || !strings.HasPrefix(s, "acme-pro") {
		t.Fatalf("second program's slug %q", s)
	}
	wantError(t, e.call("POST", "/api/programs", e.Key, map[string]any{"name": "X", "slug": "yen-shop", "destinationUrl": "https://x.example.com"}),
		http.StatusConflict, "conflict", "slug")

	// PATCH changes only what it names.
	upd := e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"name": "Acme Plus", "cookieDays": 30, "currency": "eur"}).
		must(t, http.StatusOK).Map(t)
	if str(upd, "name") != "Acme Plus" || upd["cookieDays"] != 30.0 || str(upd, "currency") != "EUR" ||
		str(upd, "destinationUrl") != str(p, "destinationUrl") || str(upd, "slug") != "acme-pro" || upd["holdingPeriodDays"] != 30.0 {
		t.Fatalf("patched: %v", upd)
	}
	got = e.call("GET", "/api/programs/"+id, e.Key, nil).must(t, http.StatusOK).Map(t)
	if fmt.Sprintln(got["name"], got["cookieDays"], got["currency"]) != "Acme Plus 30 EUR\n" {
		t.Fatalf("GET after PATCH: %v", got)
	}
	wantError(t, e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"destinationUrl": nil}), http.StatusBadRequest, "validation_failed", "destinationUrl")
	wantError(t, e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"slug": "yen-shop"}), http.StatusConflict, "conflict", "slug")
	wantError(t, e.call("PATCH", "/api/programs/"+id, e.Key, map[string]any{"cookieDays": 0}), http.StatusBadRequest, "validation_failed", "cookieDays")

	l := e.call("GET", "/api/programs", e.Key, nil).must(t, http.StatusOK).Map(t)
	if n := len(l["data"].([]any)); n != 3 || l["nextCursor"] != nil {
		t.Fatalf("list: %d programs, nextCursor %v", n, l["nextCursor"])
	}
	if str(l["data"].([]any)[0].(map[string]any), "id") != str(again, "id") {
		t.Fatalf("list is not newest first: %v", l["data"])
	}
}

func TestGroupCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, nil)
	pid := str(p, "id")
	g1 := e.group(t, pid, map[string]any{"name": "VIP", "holdingPeriodDays": 7})
	g2 := e.group(t, pid, map[string]any{"name": "Default", "holdingPeriodDays": nil})
	if g1["holdingPeriodDays"] != 7.0 || g2["holdingPeriodDays"] != nil || str(g1, "programId") != pid || str(g1, "name") != "VIP" {
		t.Fatalf("groups: %v %v", g1, g2)
	}
	l := e.call("GET", "/api/programs/"+pid+"/groups", e.Key, nil).must(t, http.StatusOK).Map(t)
	if n := len(l["data"].([]any)); n != 2 {
		t.Fatalf("%d groups, want 2", n)
	}
	wantError(t, e.call("POST", "/api/programs/"+pid+"/groups", e.Key, map[string]any{"name": ""}), http.StatusBadRequest, "validation_failed", "name")
	wantError(t, e.call("POST", "/api/programs/"+pid+"/groups", e.Key, map[string]any{"name": "X", "holdingPeriodDays": -1}), http.StatusBadRequest, "validation_failed", "holdingPeriodDays")

	// The group's holding period decides payableAt; null uses the program's (30).
	pa1 := e.partner(t, pid, map[string]any{"groupId": g1["id"]})
	pa2 := e.partner(t, pid, map[string]any{"groupId": g2["id"]})
	e.reward(t, pid, nil)
	for _, c := range []struct {
		partner map[string]any
		days    int
	}{{pa1, 7}, {pa2, 30}} {
		res := e.sale(t, e.Key, map[string]any{"customerExternalId": uniq("c"), "clickId": e.click(t, str(c.partner, "slug"))})
		com := obj(res, "commission")
		payable, err := time.Parse(time.RFC3339, str(com, "payableAt"))
		if err != nil {
			t.Fatalf("payableAt: %v", res)
		}
		want := time.Now().Add(time.Duration(c.days) * 24 * time.Hour)
		if d := payable.Sub(want); d < -time.Minute || d > time.Minute {
			t.Errorf("payableAt %v, want about now + %d days", payable, c.days)
		}
	}
}

func TestRewardCRUDAndValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, map[string]any{"currency": "EUR"})
	pid := str(p, "id")
	rw := e.reward(t, pid, map[string]any{"percent": 12.5, "interval": "recurring", "durationMonths": 12})
	if rw["percent"] != 12.5 || rw["groupId"] != nil || rw["amountCents"] != nil || rw["currency"] != nil ||
		rw["durationMonths"] != 12.0 || str(rw, "programId") != pid || str(rw, "event") != "sale" {
		t.Fatalf("reward: %v", rw)
	}
	rid := str(rw, "id")
	l := e.call("GET", "/api/programs/"+pid+"/rewards", e.Key, nil).must(t, http.StatusOK).Map(t)
	if n := len(l["data"].([]any)); n != 1 || l["data"].([]any)[0].(map[string]any)["percent"] != 12.5 {
		t.Fatalf("list: %v", l)
	}
	// Decimal percents round-trip exactly.
	for _, pc := range []float64{0.01, 7.25, 33.33, 99.99, 100} {
		r := e.call("PATCH", "/api/rewards/"+rid, e.Key, map[string]any{"percent": pc}).must(t, http.StatusOK).Map(t)
		if r["percent"] != pc {
			t.Errorf("percent %v came back as %v", pc, r["percent"])
		}
	}
	// Switching to flat: the amount in the program's currency; percent cleared.
	r := e.call("PATCH", "/api/rewards/"+rid, e.Key, map[string]any{"type": "flat", "amountCents": 250}).must(t, http.StatusOK).Map(t)
	if r["percent"] != nil || r["amountCents"] != 250.0 || str(r, "currency") != "EUR" || r["durationMonths"] != 12.0 {
		t.Fatalf("flat: %v", r)
	}
	// durationMonths null = lifetime; one_time drops the cap.
	r = e.call("PATCH", "/api/rewards/"+rid, e.Key, map[string]any{"durationMonths": nil}).must(t, http.StatusOK).Map(t)
	if r["durationMonths"] != nil || str(r, "interval") != "recurring" {
		t.Fatalf("lifetime: %v", r)
	}
	wantError(t, e.call("PATCH", "/api/rewards/"+rid, e.Key, map[string]any{"event": "lead"}), http.StatusBadRequest, "validation_failed", "event")

	g := e.group(t, pid, nil)
	bad := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"percent 0", map[string]any{"percent": 0}, "percent"},
		{"percent above 100", map[string]any{"percent": 100.001}, "percent"},
		{"percent 101", map[string]any{"percent": 101}, "percent"},
		{"percent negative", map[string]any{"percent": -5}, "percent"},
		{"three decimals", map[string]any{"percent": 12.345}, "percent"},
		{"percent as string", map[string]any{"percent": "12"}, "percent"},
		{"percentage without percent", map[string]any{"percent": nil}, "percent"},
		{"flat without amountCents", map[string]any{"type": "flat", "percent": nil}, "amountCents"},
		{"flat with amountCents 0", map[string]any{"type": "flat", "percent": nil, "amountCents": 0}, "amountCents"},
		{"flat with a percent", map[string]any{"type": "flat", "amountCents": 100}, "percent"},
		{"durationMonths on one_time", map[string]any{"durationMonths": 6}, "durationMonths"},
		{"durationMonths 0", map[string]any{"interval": "recurring", "durationMonths": 0}, "durationMonths"},
		{"lead without group", map[string]any{"groupId": nil, "event": "lead", "type": "flat", "percent": nil, "amountCents": 100}, "groupId"},
		{"lead as percentage", map[string]any{"event": "lead", "groupId": g["id"]}, "type"},
		{"unknown event", map[string]any{"event": "click"}, "event"},
		{"unknown type", map[string]any{"type": "tiered"}, "type"},
		{"unknown interval", map[string]any{"interval": "weekly"}, "interval"},
		{"missing interval", map[string]any{"interval": nil}, "interval"},
	}
	for _, c := range bad {
		body := merge(map[string]any{"groupId": g["id"], "event": "sale", "type": "percentage", "percent": 10, "interval": "one_time"}, c.body)
		for k, v := range body {
			if v == nil && k != "groupId" {
				delete(body, k)
			}
		}
		r := e.call("POST", "/api/programs/"+pid+"/rewards", e.Key, body)
		if r.Status != http.StatusBadRequest || r.ErrorFields(t)[c.field] == "" {
			t.Errorf("%s: status %d, want 400 naming %s: %s", c.name, r.Status, c.field, r.Body)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM rewards`); n != 1 {
		t.Fatalf("%d rewards after refused creations, want 1", n)
	}

	// A lead reward of a group; then delete it.
	lead := e.reward(t, pid, map[string]any{"groupId": g["id"], "event": "lead", "type": "flat", "percent": nil, "amountCents": 500})
	if str(lead, "currency") != "EUR" || str(lead, "groupId") != str(g, "id") {
		t.Fatalf("lead reward: %v", lead)
	}
	del := e.call("DELETE", "/api/rewards/"+str(lead, "id"), e.Key, nil).must(t, http.StatusNoContent)
	if len(del.Body) != 0 {
		t.Fatalf("204 with a body: %s", del.Body)
	}
	wantError(t, e.call("DELETE", "/api/rewards/"+str(lead, "id"), e.Key, nil), http.StatusNotFound, "not_found")
}

func TestPercentRewardAmount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	e.call("PATCH", "/api/rewards/"+str(s.Reward, "id"), e.Key, map[string]any{"percent": 12.5, "interval": "recurring"}).must(t, http.StatusOK)
	for _, c := range []struct {
		sale, want int64
	}{{10000, 1250}, {999, 125}, {3, 0}, {4, 1}} { // 124.875 → 125; 0.375 → no commission; 0.5 → 1
		res := e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "amountCents": c.sale, "customerExternalId": "pc"})
		com := obj(res, "commission")
		switch {
		case c.want == 0 && com != nil:
			t.Errorf("sale %d: commission %v, want none", c.sale, com)
		case c.want != 0 && (com == nil || com["amountCents"] != float64(c.want)):
			t.Errorf("sale %d: commission %v, want %d", c.sale, com, c.want)
		}
	}
}

func TestPartnerCRUD(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, nil)
	pid := str(p, "id")
	g := e.group(t, pid, nil)

	pa := e.call("POST", "/api/programs/"+pid+"/partners", e.Key, map[string]any{"email": "jane@example.com", "name": "Jane Doe!"}).
		must(t, http.StatusCreated).Map(t)
	if str(pa, "slug") != "jane-doe" || str(pa, "link") != e.Cfg.BaseURL+"/r/jane-doe" || str(pa, "status") != "approved" ||
		pa["groupId"] != nil || str(pa, "programId") != pid || str(pa, "email") != "jane@example.com" {
		t.Fatalf("partner: %v", pa)
	}
	// The same name again: another generated slug, never a 409.
	p2 := e.program(t, nil)
	pb := e.call("POST", "/api/programs/"+str(p2, "id")+"/partners", e.Key, map[string]any{"email": "jane2@example.com", "name": "Jane Doe"}).
		must(t, http.StatusCreated).Map(t)
	if s := str(pb, "slug"); s == "jane-doe" || !strings.HasPrefix(s, "jane-doe-") || str(pb, "link") != e.Cfg.BaseURL+"/r/"+s {
		t.Fatalf("second Jane: %v", pb)
	}
	// An explicit slug that is taken is a 409; a free one is used as given.
	wantError(t, e.call("POST", "/api/programs/"+pid+"/partners", e.Key, map[string]any{"email": "j3@example.com", "name": "J", "slug": "jane-doe"}),
		http.StatusConflict, "conflict", "slug")
	pc := e.partner(t, pid, map[string]any{"slug": "j_3", "groupId": g["id"]})
	if str(pc, "slug") != "j_3" || str(pc, "groupId") != str(g, "id") {
		t.Fatalf("explicit slug and group: %v", pc)
	}
	wantError(t, e.call("POST", "/api/programs/"+pid+"/partners", e.Key, map[string]any{"email": "j4@example.com", "name": "J", "slug": "Bad Slug"}),
		http.StatusBadRequest, "validation_failed", "slug")

	id := str(pa, "id")
	got := e.call("GET", "/api/partners/"+id, e.Key, nil).must(t, http.StatusOK).Map(t)
	if fmt.Sprint(got["slug"], got["link"]) != fmt.Sprint(pa["slug"], pa["link"]) {
		t.Fatalf("GET: %v", got)
	}
	// PATCH: groupId set, then null clears it; status; name alone keeps the rest.
	up := e.call("PATCH", "/api/partners/"+id, e.Key, map[string]any{"groupId": g["id"]}).must(t, http.StatusOK).Map(t)
	if str(up, "groupId") != str(g, "id") {
		t.Fatalf("group not set: %v", up)
	}
	up = e.call("PATCH", "/api/partners/"+id, e.Key, map[string]any{"status": "suspended"}).must(t, http.StatusOK).Map(t)
	if str(up, "groupId") != str(g, "id") || str(up, "status") != "suspended" {
		t.Fatalf("status PATCH touched the group: %v", up)
	}
	up = e.call("PATCH", "/api/partners/"+id, e.Key, map[string]any{"groupId": nil}).must(t, http.StatusOK).Map(t)
	if up["groupId"] != nil || str(up, "status") != "suspended" {
		t.Fatalf("groupId null did not clear it: %v", up)
	}
	got = e.call("GET", "/api/partners/"+id, e.Key, nil).must(t, http.StatusOK).Map(t)
	if got["groupId"] != nil || str(got, "status") != "suspended" || str(got, "link") != e.Cfg.BaseURL+"/r/jane-doe" {
		t.Fatalf("GET after PATCH: %v", got)
	}
	wantError(t, e.call("PATCH", "/api/partners/"+id, e.Key, map[string]any{"status": "banned"}), http.StatusBadRequest, "validation_failed", "status")
	wantError(t, e.call("PATCH", "/api/partners/"+id, e.Key, map[string]any{"groupId": "grp_nope"}), http.StatusNotFound, "not_found", "groupId")
	// A group of another program is not this partner's to join.
	g2 := e.group(t, str(p2, "id"), nil)
	wantError(t, e.call("PATCH", "/api/partners/"+id, e.Key, map[string]any{"groupId": g2["id"]}), http.StatusNotFound, "not_found", "groupId")

	l := e.call("GET", "/api/programs/"+pid+"/partners", e.Key, nil).must(t, http.StatusOK).Map(t)
	rows := l["data"].([]any)
	if len(rows) != 2 || str(rows[0].(map[string]any), "id") != str(pc, "id") {
		t.Fatalf("list (newest first): %v", rows)
	}
	for _, row := range rows {
		m := row.(map[string]any)
		if str(m, "link") != e.Cfg.BaseURL+"/r/"+str(m, "slug") {
			t.Errorf("listed link %v", m)
		}
	}
	// A suspended partner's link still takes the visitor to the merchant's
	// site, with nothing to attribute.
	r := e.call("GET", "/r/jane-doe", "", nil)
	if loc := r.Header.Get("Location"); r.Status != http.StatusFound || strings.Contains(loc, "pref_cid") || r.Header.Get("Set-Cookie") != "" {
		t.Errorf("suspended partner's link: status %d Location %q Set-Cookie %q, want 302 to the destination without a click",
			r.Status, loc, r.Header.Get("Set-Cookie"))
	}
	if r := e.call("GET", "/r/no-such-partner", "", nil); r.Status != http.StatusNotFound {
		t.Errorf("unknown slug: status %d, want 404", r.Status)
	}
}

// ---- pagination ----

func TestKeysetPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	e.call("PATCH", "/api/rewards/"+str(s.Reward, "id"), e.Key, map[string]any{"interval": "recurring"}).must(t, http.StatusOK)
	var created []string
	for i := range 7 {
		res := e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "externalId": fmt.Sprintf("page-%d", i), "customerExternalId": "pager",
			"metadata": map[string]any{"n": i}}) // see TestListSalesWithoutMetadata
		created = append(created, str(res, "eventId"))
	}
	slices.Reverse(created) // newest first

	for _, list := range []string{"/api/sales", "/api/commissions"} {
		var ids []string
		var sizes []int
		cursor := ""
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatalf("%s: no end to the pages", list)
			}
			path := list + "?limit=3"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			m := e.call("GET", path, e.Key, nil).must(t, http.StatusOK).Map(t)
			rows := m["data"].([]any)
			sizes = append(sizes, len(rows))
			for _, row := range rows {
				r := row.(map[string]any)
				id := str(r, "id")
				if list == "/api/commissions" {
					id = str(r, "eventId")
				}
				ids = append(ids, id)
			}
			if m["nextCursor"] == nil {
				break
			}
			cursor = str(m, "nextCursor")
		}
		if fmt.Sprint(sizes) != "[3 3 1]" {
			t.Errorf("%s: page sizes %v, want [3 3 1]", list, sizes)
		}
		if !slices.Equal(ids, created) {
			t.Errorf("%s: rows %v, want newest first %v", list, ids, created)
		}
	}

	// Filters apply with the cursor.
	m := e.call("GET", "/api/sales?limit=200&partnerId="+s.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if n := len(m["data"].([]any)); n != 7 || m["nextCursor"] != nil {
		t.Fatalf("limit=200: %d rows, nextCursor %v", n, m["nextCursor"])
	}
	m = e.call("GET", "/api/sales?partnerId=ptn_other", e.Key, nil).must(t, http.StatusOK).Map(t)
	if n := len(m["data"].([]any)); n != 0 {
		t.Fatalf("another partner's filter: %d rows", n)
	}

	for _, list := range []string{"/api/sales", "/api/commissions", "/api/programs", "/api/programs/" + s.ProgramID + "/partners"} {
		sep := "?"
		if strings.Contains(list, "?") {
			sep = "&"
		}
		for _, q := range []string{"limit=0", "limit=201", "limit=x", "limit=-1", "limit=1.5"} {
			wantError(t, e.call("GET", list+sep+q, e.Key, nil), http.StatusBadRequest, "validation_failed", "limit")
		}
		for _, c := range []string{"garbage!", "bm90IGEgY3Vyc29y", "%00"} {
			wantError(t, e.call("GET", list+sep+"cursor="+c, e.Key, nil), http.StatusBadRequest, "validation_failed", "cursor")
		}
	}
	wantError(t, e.call("GET", "/api/commissions?status=lost", e.Key, nil), http.StatusBadRequest, "validation_failed", "status")
}

// TestListSalesWithoutMetadata: metadata is optional, and a sale stored
// without it must still list (as "metadata": null).
func TestListSalesWithoutMetadata(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	res := e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "externalId": "plain", "customerExternalId": "c", "amountCents": 4200, "currency": "eur"})
	r := e.call("GET", "/api/sales", e.Key, nil)
	if r.Status == http.StatusInternalServerError {
		t.Fatalf("GET /api/sales answers 500 once a sale without metadata is stored (internal/store saleSelect " +
			"scans a NULL events.metadata into json.RawMessage; see the server log with -v)")
	}
	l := r.must(t, http.StatusOK).Map(t)
	rows := l["data"].([]any)
	if len(rows) != 1 {
		t.Fatalf("%d sales, want 1", len(rows))
	}
	sale := rows[0].(map[string]any)
	if v, ok := sale["metadata"]; !ok || v != nil {
		t.Errorf("metadata %v, want null", v)
	}
	for k, want := range map[string]any{"id": res["eventId"], "externalId": "plain", "customerExternalId": "c", "programId": s.ProgramID,
		"partnerId": s.PartnerID, "clickId": s.ClickID, "amountCents": 4200.0, "currency": "EUR", "eventName": "sale"} {
		if sale[k] != want {
			t.Errorf("sale %s = %v, want %v", k, sale[k], want)
		}
	}
}

// ---- commissions ----

func TestCommissionTransitionsAndHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	keys, err := e.Store.ListAPIKeys(context.Background(), e.WS.Workspace.ID)
	if err != nil || len(keys) != 1 {
		t.Fatal(err)
	}
	keyID := keys[0].ID

	c := e.commissionOf(t, s)
	path := "/api/commissions/" + str(c, "id")
	if str(c, "status") != "pending" || str(c, "type") != "sale" || str(c, "rewardId") != str(s.Reward, "id") {
		t.Fatalf("new commission: %v", c)
	}
	d := e.call("GET", path, e.Key, nil).must(t, http.StatusOK).Map(t)
	if h, ok := d["history"].([]any); !ok || len(h) != 1 || h[0].(map[string]any)["to"] != "pending" {
		t.Fatalf("history of a new commission: %v", d["history"])
	}

	up := e.call("PATCH", path, e.Key, map[string]any{"status": "approved", "reason": "checked"}).must(t, http.StatusOK).Map(t)
	if str(up, "status") != "approved" || len(up["history"].([]any)) != 2 {
		t.Fatalf("approved: %v", up)
	}
	up = e.call("PATCH", path, e.Key, map[string]any{"status": "paid"}).must(t, http.StatusOK).Map(t)
	if str(up, "status") != "paid" {
		t.Fatalf("paid: %v", up)
	}
	d = e.call("GET", path, e.Key, nil).must(t, http.StatusOK).Map(t)
	h := d["history"].([]any)
	if len(h) != 3 {
		t.Fatalf("history %v, want 3 entries", h)
	}
	want := [][3]any{{nil, "pending", ""}, {"pending", "approved", "checked"}, {"approved", "paid", ""}}
	for i, w := range want {
		en := h[i].(map[string]any)
		if en["from"] != w[0] || en["to"] != w[1] || (w[2] != "" && en["reason"] != w[2]) {
			t.Errorf("history[%d] = %v, want from %v to %v reason %q", i, en, w[0], w[1], w[2])
		}
		if i > 0 && !strings.Contains(str(en, "actor"), keyID) {
			t.Errorf("history[%d] actor %q does not name the API key %s", i, en["actor"], keyID)
		}
		if _, err := time.Parse(time.RFC3339, str(en, "at")); err != nil {
			t.Errorf("history[%d] at %q", i, en["at"])
		}
	}
	if str(d, "updatedAt") == str(c, "updatedAt") {
		t.Errorf("updatedAt did not move")
	}
	l := e.call("GET", "/api/commissions?status=paid", e.Key, nil).must(t, http.StatusOK).Map(t)
	if n := len(l["data"].([]any)); n != 1 {
		t.Fatalf("status=paid lists %d", n)
	}

	// Clawback needs a reason; from pending and from approved.
	c2 := e.commissionOf(t, s)
	p2 := "/api/commissions/" + str(c2, "id")
	for _, body := range []map[string]any{{"status": "clawed_back"}, {"status": "clawed_back", "reason": "   "}} {
		wantError(t, e.call("PATCH", p2, e.Key, body), http.StatusBadRequest, "validation_failed", "reason")
	}
	if n := e.count(t, `SELECT count(*) FROM commission_history WHERE commission_id = $1`, str(c2, "id")); n != 1 {
		t.Fatalf("%d history rows after a refused clawback", n)
	}
	cb := e.call("PATCH", p2, e.Key, map[string]any{"status": "clawed_back", "reason": "customer refunded"}).must(t, http.StatusOK).Map(t)
	hist := cb["history"].([]any)
	last := hist[len(hist)-1].(map[string]any)
	if str(cb, "status") != "clawed_back" || last["reason"] != "customer refunded" || last["from"] != "pending" {
		t.Fatalf("clawback: %v", cb)
	}
	c3 := e.commissionOf(t, s)
	p3 := "/api/commissions/" + str(c3, "id")
	e.call("PATCH", p3, e.Key, map[string]any{"status": "approved"}).must(t, http.StatusOK)
	e.call("PATCH", p3, e.Key, map[string]any{"status": "clawed_back", "reason": "fraud"}).must(t, http.StatusOK)

	wantError(t, e.call("PATCH", p3, e.Key, map[string]any{}), http.StatusBadRequest, "validation_failed", "status")
	wantError(t, e.call("PATCH", p3, e.Key, map[string]any{"status": "void"}), http.StatusBadRequest, "validation_failed", "status")

	// Each change is also an outbox event.
	if n := e.count(t, `SELECT count(*) FROM webhook_events WHERE type = 'commission.updated'`); n != 5 {
		t.Errorf("%d commission.updated events, want 5", n)
	}
}

// ---- clicks ----

const browserUA = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

func (e *env) visit(t testing.TB, slug, ua string) reply {
	t.Helper()
	return e.callWith("GET", "/r/"+slug, "", nil, http.Header{"User-Agent": {ua}, "Referer": {"https://blog.example.org/post"}})
}

func TestRedirect(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, map[string]any{"destinationUrl": "https://shop.example.com/landing?utm_source=partli", "cookieDays": 45})
	pa := e.partner(t, str(p, "id"), nil)
	slug := str(pa, "slug")

	r := e.visit(t, slug, browserUA)
	if r.Status != http.StatusFound {
		t.Fatalf("status %d, want 302: %s", r.Status, r.Body)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Host != "shop.example.com" || loc.Path != "/landing" {
		t.Fatalf("Location %q", r.Header.Get("Location"))
	}
	q := loc.Query()
	cid := q.Get("pref_cid")
	if !strings.HasPrefix(cid, "c_") || q.Get("via") != slug || q.Get("utm_source") != "partli" {
		t.Fatalf("Location query %v", q)
	}
	var cookie *http.Cookie
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "pref_cid" {
			cookie = c
		}
	}
	if cookie == nil {
		t.Fatalf("no pref_cid cookie: %v", r.Header["Set-Cookie"])
	}
	if cookie.Value != cid || cookie.MaxAge != 45*86400 || cookie.SameSite != http.SameSiteLaxMode || cookie.Path != "/" {
		t.Fatalf("cookie %+v, want value %s, Max-Age %d, SameSite=Lax, Path=/", cookie, cid, 45*86400)
	}

	var row struct {
		IPHash  []byte `db:"ip_hash"`
		UA      string `db:"user_agent"`
		Referer string `db:"referer"`
		Flags   string `db:"flags"`
		Partner string `db:"partner_id"`
	}
	if err := e.DB.Get(&row, `SELECT ip_hash, user_agent, referer, flags::text AS flags, partner_id FROM clicks WHERE id = $1`, cid); err != nil {
		t.Fatalf("click row: %v", err)
	}
	if len(row.IPHash) != 32 || strings.Contains(string(row.IPHash), "127.0.0.1") {
		t.Fatalf("ip_hash %x is not a 32-byte hash", row.IPHash)
	}
	if row.UA != browserUA || row.Referer != "https://blog.example.org/post" || row.Flags != "{}" || row.Partner != str(pa, "id") {
		t.Fatalf("click row %+v", row)
	}
	// No column of the click holds the raw IP.
	if n := e.count(t, `SELECT count(*) FROM clicks c WHERE strpos(row_to_json(c)::text, '127.0.0.1') > 0`); n != 0 {
		t.Fatalf("%d clicks store the raw IP", n)
	}

	// The click attributes a sale.
	e.reward(t, str(p, "id"), nil)
	res := e.sale(t, e.Key, map[string]any{"clickId": cid})
	if res["attributed"] != true {
		t.Fatalf("a redirect's click did not attribute: %v", res)
	}

	// Unknown slug: a 404 page, not JSON.
	r = e.visit(t, "no-such-partner", browserUA)
	if r.Status != http.StatusNotFound || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") ||
		!strings.Contains(strings.ToLower(string(r.Body)), "<html") {
		t.Fatalf("unknown slug: %d %q %.200s", r.Status, r.Header.Get("Content-Type"), r.Body)
	}
}

func TestClickFraudFlags(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, nil)
	bot := e.partner(t, str(p, "id"), nil)
	busy := e.partner(t, str(p, "id"), nil)

	flagsOf := func(r reply) string {
		t.Helper()
		if r.Status != http.StatusFound {
			t.Fatalf("status %d: %s", r.Status, r.Body)
		}
		loc, _ := url.Parse(r.Header.Get("Location"))
		var flags string
		if err := e.DB.Get(&flags, `SELECT flags::text FROM clicks WHERE id = $1`, loc.Query().Get("pref_cid")); err != nil {
			t.Fatal(err)
		}
		return flags
	}
	for _, ua := range []string{"Googlebot/2.1 (+http://www.google.com/bot.html)", "curl/8.5.0", ""} {
		if f := flagsOf(e.visit(t, str(bot, "slug"), ua)); !strings.Contains(f, "bot") {
			t.Errorf("user agent %q: flags %s, want bot", ua, f)
		}
	}
	// More than 10 clicks from one IP on one partner within 10 minutes.
	for i := 1; i <= 12; i++ {
		f := flagsOf(e.visit(t, str(busy, "slug"), browserUA))
		if velocity := strings.Contains(f, "velocity"); velocity != (i > 10) {
			t.Errorf("click %d: flags %s", i, f)
		}
	}
	// The window is per partner: the bot partner's earlier clicks don't count for busy, and vice versa.
	if f := flagsOf(e.visit(t, str(bot, "slug"), browserUA)); f != "{}" {
		t.Errorf("4th click on another partner: flags %s", f)
	}
}

func TestTrackClick(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, nil)
	pa := e.partner(t, str(p, "id"), nil)
	origin := http.Header{"Origin": {"https://shop.example.com"}}

	r := e.callWith("POST", "/api/track/click", "", map[string]any{"slug": pa["slug"], "url": "https://shop.example.com/?via=x", "referrer": "https://t.co/"}, origin).
		must(t, http.StatusOK)
	if r.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("POST without Access-Control-Allow-Origin: %v", r.Header)
	}
	cid := str(r.Map(t), "clickId")
	var row struct {
		URL     string `db:"url"`
		Referer string `db:"referer"`
	}
	if err := e.DB.Get(&row, `SELECT url, referer FROM clicks WHERE id = $1`, cid); err != nil {
		t.Fatal(err)
	}
	if row.URL != "https://shop.example.com/?via=x" || row.Referer != "https://t.co/" {
		t.Fatalf("click row %+v", row)
	}

	pre := e.callWith("OPTIONS", "/api/track/click", "", nil, http.Header{
		"Origin": {"https://shop.example.com"}, "Access-Control-Request-Method": {"POST"},
		"Access-Control-Request-Headers": {"content-type"}})
	if pre.Status >= 300 || pre.Header.Get("Access-Control-Allow-Origin") == "" ||
		!strings.Contains(pre.Header.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(strings.ToLower(pre.Header.Get("Access-Control-Allow-Headers")), "content-type") {
		t.Fatalf("preflight: %d %v", pre.Status, pre.Header)
	}

	before := e.count(t, `SELECT count(*) FROM clicks`)
	nf := e.callWith("POST", "/api/track/click", "", map[string]any{"slug": "no-such-slug"}, origin)
	wantError(t, nf, http.StatusNotFound, "not_found")
	if nf.Header.Get("Access-Control-Allow-Origin") == "" {
		t.Errorf("404 without Access-Control-Allow-Origin")
	}
	wantError(t, e.call("POST", "/api/track/click", "", map[string]any{}), http.StatusBadRequest, "validation_failed", "slug")
	wantError(t, e.call("POST", "/api/track/click", "", map[string]any{"slug": 5}), http.StatusBadRequest, "validation_failed", "slug")
	if after := e.count(t, `SELECT count(*) FROM clicks`); after != before {
		t.Fatalf("refused clicks stored: %d → %d", before, after)
	}
}
