package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/web"
)

// The security tests take their route list from the echo router itself, so
// a route added later is covered without anyone remembering to list it.

// secRoute is one method and path of the router, such as GET /api/programs/:id.
type secRoute struct{ Method, Path string }

func (r secRoute) String() string { return r.Method + " " + r.Path }

// secPublicAPI are the /api routes that need no API key (security: [] in the
// OpenAPI document): partli.js's click tracking, the API description and
// Stripe's signed deliveries.
func secPublicAPI(path string) bool {
	return path == "/api/track/click" || path == "/api/openapi.json" ||
		path == "/api/stripe/webhook" || strings.HasPrefix(path, "/api/stripe/webhook/")
}

// secOpenPage are the browser paths anyone may load: the referral
// redirect, assets, health, the sign-in pages, the public application and
// invitation pages, and the pages mail links lead to (password resets,
// verification, teammates' invitations, unsubscribing).
func secOpenPage(path string) bool {
	for _, p := range []string{"/r/", "/static/", "/apply/", "/partner/invite/", "/password/", "/partner/password/",
		"/partner/verify", "/invite/", "/unsubscribe/"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return slices.Contains([]string{"/healthz", "/login", "/logout", "/partner/login", "/static/*"}, path)
}

// secPortalPath reports whether path belongs to the partner portal (not the
// dashboard's /partners pages).
func secPortalPath(path string) bool {
	return path == "/partner" || strings.HasPrefix(path, "/partner/")
}

// secRouterRoutes lists the routes of a router built the way the server builds
// its own, with echo's internal "route not found" entries left out.
func secRouterRoutes(t *testing.T, e *env) []secRoute {
	t.Helper()
	app := web.New(e.Cfg, e.Store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	seen := map[secRoute]bool{}
	var out []secRoute
	for _, r := range app.Routes() {
		switch r.Method {
		case http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		default:
			continue // HEAD/OPTIONS/CONNECT/… of Any routes, and echo's not-found routes
		}
		k := secRoute{r.Method, r.Path}
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b secRoute) int { return strings.Compare(a.String(), b.String()) })
	if len(out) < 20 {
		t.Fatalf("the router lists only %d routes: %v", len(out), out)
	}
	return out
}

// secFillPath replaces each :param and * of a route path with the value ids gives
// for it (by the segment before it, or the parameter's name), else a dummy.
func secFillPath(path string, ids map[string]string) string {
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if !strings.HasPrefix(s, ":") && s != "*" {
			continue
		}
		v := "dummy_0000000000000000"
		if s == "*" {
			v = "anything"
		}
		if id, ok := ids[s]; ok {
			v = id
		} else if i > 0 {
			if id, ok := ids[segs[i-1]]; ok {
				v = id
			}
		}
		segs[i] = url.PathEscape(v)
	}
	return strings.Join(segs, "/")
}

func TestSecurityAPIRoutesNeedAKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	var checked int
	for _, r := range secRouterRoutes(t, e) {
		if !strings.HasPrefix(r.Path, "/api/") || secPublicAPI(r.Path) {
			continue
		}
		checked++
		path := secFillPath(r.Path, nil)
		var body any
		if r.Method != http.MethodGet && r.Method != http.MethodDelete {
			body = map[string]any{}
		}
		for name, auth := range map[string]string{
			"no key":        "",
			"malformed key": "Bearer not-a-key",
			"unknown key":   "Bearer pk_live_00000000000000000000000000000000",
		} {
			h := http.Header{}
			if auth != "" {
				h.Set("Authorization", auth)
			}
			got := e.callWith(r.Method, path, "", body, h)
			if got.Status != http.StatusUnauthorized {
				t.Errorf("%s (%s) with %s: status %d, want 401: %s", r, path, name, got.Status, got.Body)
				continue
			}
			if code := got.ErrorCode(t); code != "unauthorized" {
				t.Errorf("%s with %s: error code %q, want unauthorized: %s", r, name, code, got.Body)
			}
		}
	}
	if checked < 15 {
		t.Fatalf("only %d key-protected /api routes found in the router", checked)
	}

	// The public Stripe endpoints are authenticated by their signature instead.
	for _, path := range []string{"/api/stripe/webhook", "/api/stripe/webhook/" + e.WS.Workspace.ID} {
		got := e.callWith("POST", path, "", `{"id":"evt_1","type":"invoice.paid","data":{"object":{}}}`,
			http.Header{"Stripe-Signature": {"t=1,v1=00"}})
		if got.Status < 400 || got.Status >= 500 {
			t.Errorf("POST %s with a bad signature: status %d, want a 4xx refusal: %s", path, got.Status, got.Body)
		}
	}
}

// secWorkspace is one workspace's resources of every kind, with their ids.
type secWorkspace struct {
	ProgramID, GroupID, RewardID, PartnerID, CommissionID, SaleID, WebhookID, ClickID, CustomerID, ExternalID string
}

func (d secWorkspace) all() []string {
	return []string{d.ProgramID, d.GroupID, d.RewardID, d.PartnerID, d.CommissionID, d.SaleID, d.WebhookID,
		d.ClickID, d.CustomerID, d.ExternalID}
}

// secSeedWorkspace gives e's workspace one resource of every kind.
func secSeedWorkspace(t *testing.T, e *env) secWorkspace {
	t.Helper()
	s := e.setup(t)
	d := secWorkspace{ProgramID: s.ProgramID, RewardID: str(s.Reward, "id"), PartnerID: s.PartnerID, ClickID: s.ClickID,
		CustomerID: uniq("secret-customer"), ExternalID: uniq("secret-order")}
	d.GroupID = str(e.group(t, s.ProgramID, nil), "id")
	sale := e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "customerExternalId": d.CustomerID, "externalId": d.ExternalID})
	d.SaleID, d.CommissionID = str(sale, "eventId"), str(obj(sale, "commission"), "id")
	d.WebhookID = str(e.call("POST", "/api/webhooks", e.Key, map[string]any{
		"url": "https://hooks.example.com/partli", "events": []string{"sale.created"}}).must(t, http.StatusCreated).Map(t), "id")
	for name, id := range map[string]string{"sale": d.SaleID, "commission": d.CommissionID, "webhook": d.WebhookID, "group": d.GroupID} {
		if id == "" {
			t.Fatalf("seeding: no %s id", name)
		}
	}
	return d
}

// ids maps path segments (the one before a parameter, or its name) to this
// workspace's ids, for fill.
func (d secWorkspace) ids() map[string]string {
	return map[string]string{
		"programs": d.ProgramID, "groups": d.GroupID, ":groupId": d.GroupID, "rewards": d.RewardID,
		"partners": d.PartnerID, "commissions": d.CommissionID, "sales": d.SaleID, "webhooks": d.WebhookID,
	}
}

// secCrossBodies are valid bodies for the routes that take one, so that a
// refusal comes from the workspace check and not from validation.
var secCrossBodies = map[string]any{
	"POST /api/payouts/:id/mark-paid":     map[string]any{"reference": "TAKEN-OVER"},
	"PUT /api/partners/:id/payout-method": map[string]any{"type": "manual"},
	"PATCH /api/programs/:id":             map[string]any{"name": "Taken over"},
	"POST /api/programs/:id/groups":       map[string]any{"name": "Intruders"},
	"POST /api/programs/:id/rewards":      map[string]any{"event": "sale", "type": "percentage", "percent": 99, "interval": "recurring", "groupId": nil},
	"POST /api/programs/:id/partners": map[string]any{"email": "intruder@example.com", "name": "Intruder",
		"slug": "intruder-" + strconv.FormatInt(time.Now().UnixNano(), 36)},
	"PATCH /api/rewards/:id":               map[string]any{"percent": 99},
	"PATCH /api/partners/:id":              map[string]any{"status": "suspended"},
	"PATCH /api/commissions/:id":           map[string]any{"status": "approved"},
	"PATCH /api/webhooks/:id":              map[string]any{"enabled": false},
	"POST /api/webhooks/:id/rotate-secret": nil,
}

func TestSecurityAPIOtherWorkspaceIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := secSeedWorkspace(t, e)
	_, keyB := e.newWorkspace("Intruder")
	e.programAs(t, keyB, nil) // B is not empty, so its lists have rows of its own

	var checked int
	for _, r := range secRouterRoutes(t, e) {
		if !strings.HasPrefix(r.Path, "/api/") || secPublicAPI(r.Path) || !strings.Contains(r.Path, "/:") {
			continue
		}
		checked++
		path := secFillPath(r.Path, a.ids())
		body, known := secCrossBodies[r.String()]
		if !known && r.Method != http.MethodGet && r.Method != http.MethodDelete {
			body = map[string]any{}
		}
		got := e.call(r.Method, path, keyB, body)
		if got.Status == http.StatusBadRequest && !known && r.Method != http.MethodGet && r.Method != http.MethodDelete {
			t.Errorf("%s answered 400 to an empty body; add a valid body for it to crossBodies: %s", r, got.Body)
			continue
		}
		if got.Status != http.StatusNotFound {
			t.Errorf("%s (%s) with another workspace's key: status %d, want 404: %s", r, path, got.Status, got.Body)
			continue
		}
		if code := got.ErrorCode(t); code != "not_found" {
			t.Errorf("%s with another workspace's key: error code %q, want not_found", r, code)
		}
		secLeaks(t, r.String(), got.Body, a)
	}
	if checked < 10 {
		t.Fatalf("only %d /api routes with an id found in the router", checked)
	}

	// Every list, filtered by the other workspace's ids, shows none of its rows.
	q := url.Values{"programId": {a.ProgramID}, "partnerId": {a.PartnerID}, "customerExternalId": {a.CustomerID},
		"status": {"pending"}}
	for _, r := range secRouterRoutes(t, e) {
		if r.Method != http.MethodGet || !strings.HasPrefix(r.Path, "/api/") || secPublicAPI(r.Path) ||
			strings.ContainsAny(r.Path, ":*") {
			continue
		}
		for _, path := range []string{r.Path, r.Path + "?" + q.Encode(), r.Path + "?programId=" + a.ProgramID,
			r.Path + "?partnerId=" + a.PartnerID, r.Path + "?customerExternalId=" + url.QueryEscape(a.CustomerID)} {
			got := e.call("GET", path, keyB, nil)
			switch got.Status {
			case http.StatusOK:
				secLeaks(t, "GET "+path, got.Body, a)
			case http.StatusNotFound:
				if code := got.ErrorCode(t); code != "not_found" {
					t.Errorf("GET %s: error code %q, want not_found", path, code)
				}
			default:
				t.Errorf("GET %s with another workspace's key: status %d, want 200 (empty) or 404: %s", path, got.Status, got.Body)
			}
		}
	}

	// Another workspace's ids cannot be used in one's own resources either.
	bProgram := str(e.programAs(t, keyB, nil), "id")
	bPartner := str(e.partnerAs(t, keyB, bProgram, nil), "id")
	for _, c := range []struct {
		method, path string
		body         any
	}{
		{"POST", "/api/programs/" + bProgram + "/partners", map[string]any{"email": "z@example.com", "name": "Z", "groupId": a.GroupID}},
		{"POST", "/api/programs/" + bProgram + "/rewards", map[string]any{"groupId": a.GroupID, "event": "lead", "type": "flat", "amountCents": 100, "interval": "one_time"}},
		{"PATCH", "/api/partners/" + bPartner, map[string]any{"groupId": a.GroupID}},
		{"POST", "/api/track/refund", map[string]any{"externalId": a.ExternalID}},
	} {
		got := e.call(c.method, c.path, keyB, c.body)
		if got.Status != http.StatusNotFound && got.Status != http.StatusBadRequest {
			t.Errorf("%s %s naming another workspace's id: status %d, want 404 (or 400): %s", c.method, c.path, got.Status, got.Body)
		}
		secLeaks(t, c.method+" "+c.path, got.Body, a)
	}
	res := e.sale(t, keyB, map[string]any{"clickId": a.ClickID, "customerExternalId": a.CustomerID, "externalId": a.ExternalID})
	if res["attributed"] != false || res["duplicate"] != false || res["commission"] != nil {
		t.Errorf("a sale with another workspace's click, customer and order id: %v", res)
	}

	// Nothing of A changed.
	pa := e.call("GET", "/api/partners/"+a.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(pa, "status") != "approved" {
		t.Errorf("A's partner was changed by B: %v", pa)
	}
	com := e.call("GET", "/api/commissions/"+a.CommissionID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(com, "status") != "pending" {
		t.Errorf("A's commission was changed by B: %v", com)
	}
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE id = $1`, a.RewardID); n != 1 {
		t.Error("A's reward was deleted by B")
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND enabled`, a.WebhookID); n != 1 {
		t.Error("A's webhook was deleted or disabled by B")
	}
	if n := e.count(t, `SELECT count(*) FROM partner_groups WHERE program_id = $1`, a.ProgramID); n != 1 {
		t.Errorf("A's program has %d groups, want 1", n)
	}
}

// secLeaks fails the test when body mentions any of d's ids.
func secLeaks(t *testing.T, what string, body []byte, d secWorkspace) {
	t.Helper()
	for _, id := range d.all() {
		if strings.Contains(string(body), id) {
			t.Errorf("%s with another workspace's key shows its id %s: %s", what, id, body)
		}
	}
}

func TestSecurityPagesNeedASession(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := secSeedWorkspace(t, e)
	keys, err := e.Store.ListAPIKeys(context.Background(), e.WS.Workspace.ID)
	if err != nil || len(keys) == 0 {
		t.Fatalf("list api keys: %v", err)
	}
	ids := a.ids()
	ids["keys"] = keys[0].ID
	browser := e.anonymous(t) // no session, but a CSRF token: POSTs get past CSRF to the session check
	if browser.csrf == "" {
		t.Fatal("the sign-in page has no CSRF token")
	}

	var checked int
	for _, r := range secRouterRoutes(t, e) {
		if strings.HasPrefix(r.Path, "/api/") || secOpenPage(r.Path) {
			continue
		}
		checked++
		signIn := "/login"
		if secPortalPath(r.Path) {
			signIn = "/partner/login"
		}
		path := secFillPath(r.Path, ids)
		var got reply
		if r.Method == http.MethodGet {
			got = browser.get(path)
		} else {
			form := url.Values{"_csrf": {browser.csrf}, "status": {"approved"}, "reason": {"x"}, "name": {"Taken over"}}
			got = browser.do(r.Method, path, strings.NewReader(form.Encode()), http.Header{
				"Content-Type": {"application/x-www-form-urlencoded"}, "X-CSRF-Token": {browser.csrf}})
		}
		if got.Status != http.StatusSeeOther {
			t.Errorf("%s (%s) without a session: status %d, want 303 to %s: %.300s", r, path, got.Status, signIn, got.Body)
			continue
		}
		if loc, err := url.Parse(got.Header.Get("Location")); err != nil || loc.Path != signIn || loc.Host != "" {
			t.Errorf("%s without a session: redirected to %q, want %s", r, got.Header.Get("Location"), signIn)
		}

		// HTMX requests are sent to sign-in with HX-Redirect instead.
		hx := browser.htmx(r.Method, path, url.Values{"_csrf": {browser.csrf}})
		if loc := hx.Header.Get("HX-Redirect"); !strings.HasPrefix(loc, signIn) || (hx.Status != http.StatusNoContent && hx.Status != http.StatusSeeOther) {
			t.Errorf("%s as HTMX without a session: status %d, HX-Redirect %q, want %s", r, hx.Status, loc, signIn)
		}
	}
	if checked < 20 {
		t.Fatalf("only %d dashboard and portal routes found in the router", checked)
	}

	// Nothing was changed on the way.
	pa := e.call("GET", "/api/partners/"+a.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(pa, "status") != "approved" {
		t.Errorf("partner changed without a session: %v", pa)
	}
	com := e.call("GET", "/api/commissions/"+a.CommissionID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(com, "status") != "pending" {
		t.Errorf("commission changed without a session: %v", com)
	}
	if n := e.count(t, `SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL`); n != 0 {
		t.Errorf("%d API keys revoked without a session", n)
	}
}

func TestSecurityTrackRateLimitPerKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.TrackRate = 5 })
	_, keyB := e.newWorkspace("Neighbour")
	saleBody := func() map[string]any {
		return map[string]any{"externalId": uniq("order"), "customerExternalId": "cust-1", "amountCents": 1000}
	}

	// burst sends n requests at once, so that the test does not depend on
	// how fast this machine answers them one by one.
	burst := func(n int, path, key string, body func() map[string]any) (statuses map[int]int, limited reply) {
		var mu sync.Mutex
		var wg sync.WaitGroup
		statuses = map[int]int{}
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := e.do(t, nil, "POST", path, key, body())
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					t.Errorf("POST %s: %v", path, err)
					return
				}
				statuses[r.Status]++
				if r.Status == http.StatusTooManyRequests {
					limited = r
				}
			}()
		}
		wg.Wait()
		return statuses, limited
	}

	statuses, limited := burst(30, "/api/track/sale", e.Key, saleBody)
	if statuses[http.StatusOK] < 5 || statuses[http.StatusTooManyRequests] == 0 ||
		statuses[http.StatusOK]+statuses[http.StatusTooManyRequests] != 30 {
		t.Fatalf("30 sales at once with a limit of 5/s: replies %v, want at least the burst of 5 served and the rest 429", statuses)
	}
	wantError(t, limited, http.StatusTooManyRequests, "rate_limited")
	retry, err := strconv.Atoi(limited.Header.Get("Retry-After"))
	if err != nil || retry < 1 {
		t.Fatalf("Retry-After %q, want a whole number of seconds ≥ 1", limited.Header.Get("Retry-After"))
	}

	// The other /api/track routes count against the same key.
	for _, path := range []string{"/api/track/lead", "/api/track/refund"} {
		if st, _ := burst(15, path, e.Key, func() map[string]any { return map[string]any{"externalId": uniq("x")} }); st[http.StatusTooManyRequests] == 0 {
			t.Errorf("15 × POST %s right after the limit: replies %v, want some 429", path, st)
		}
	}

	// The limit is per key: another workspace's key is still served, and
	// so is the limited key outside /api/track.
	e.call("POST", "/api/track/sale", keyB, saleBody()).must(t, http.StatusOK)
	e.call("GET", "/api/programs", e.Key, nil).must(t, http.StatusOK)

	// After Retry-After, the key is served again.
	time.Sleep(time.Duration(retry) * time.Second)
	e.call("POST", "/api/track/sale", e.Key, saleBody()).must(t, http.StatusOK)
}

func TestSecurityTrackRateLimitDefault(t *testing.T) {
	// The default must leave room for the benchmark's load on one key.
	t.Setenv("PARTLI_TRACK_RATE_LIMIT", "")
	cfg, err := config.FromEnv()
	if err != nil {
		t.Fatalf("config.FromEnv: %v", err)
	}
	if cfg.TrackRate < 1000 {
		t.Errorf("default PARTLI_TRACK_RATE_LIMIT %v/s per key, want at least 1000/s", cfg.TrackRate)
	}
}

func TestSecurityPagesOtherWorkspaceIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := secSeedWorkspace(t, e)
	keys, err := e.Store.ListAPIKeys(context.Background(), e.WS.Workspace.ID)
	if err != nil || len(keys) == 0 {
		t.Fatalf("list api keys: %v", err)
	}
	ids := a.ids()
	ids["keys"] = keys[0].ID
	wsB, _ := e.newWorkspace("Intruder")
	b := e.signInAs(t, wsB.Owner.Email, "correct horse battery")
	b.get("/") // a CSRF token of the signed-in session

	var checked int
	for _, r := range secRouterRoutes(t, e) {
		if strings.HasPrefix(r.Path, "/api/") || secOpenPage(r.Path) || secPortalPath(r.Path) || !strings.Contains(r.Path, "/:") {
			continue
		}
		path := secFillPath(r.Path, ids)
		if path == secFillPath(r.Path, nil) {
			continue // no id of A's in it (a payout, say): nothing to compare
		}
		checked++
		var got reply
		if r.Method == http.MethodGet {
			got = b.get(path)
			// A page may send the browser on to another page of the same resource.
			if got.Status == http.StatusSeeOther {
				if loc := got.Header.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "/login") {
					got = b.get(loc)
				}
			}
		} else {
			form := url.Values{"_csrf": {b.csrf}, "status": {"suspended"}, "reason": {"x"}, "name": {"Taken over"},
				"percent": {"99"}, "type": {"percentage"}, "event": {"sale"}, "interval": {"one_time"}}
			got = b.do(r.Method, path, strings.NewReader(form.Encode()), http.Header{
				"Content-Type": {"application/x-www-form-urlencoded"}, "X-CSRF-Token": {b.csrf}})
		}
		if got.Status != http.StatusNotFound {
			t.Errorf("%s (%s) signed in to another workspace: status %d, want 404: %.300s", r, path, got.Status, got.Body)
			continue
		}
		secLeaks(t, r.String(), got.Body, a)
	}
	if checked < 10 {
		t.Fatalf("only %d dashboard routes with an id found in the router", checked)
	}

	pa := e.call("GET", "/api/partners/"+a.PartnerID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(pa, "status") != "approved" || str(pa, "groupId") != "" {
		t.Errorf("A's partner was changed from another workspace: %v", pa)
	}
	com := e.call("GET", "/api/commissions/"+a.CommissionID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(com, "status") != "pending" {
		t.Errorf("A's commission was changed from another workspace: %v", com)
	}
	prog := e.call("GET", "/api/programs/"+a.ProgramID, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(prog, "name") == "Taken over" {
		t.Errorf("A's program was renamed from another workspace: %v", prog)
	}
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE id = $1`, a.RewardID); n != 1 {
		t.Error("A's reward was deleted from another workspace")
	}
	if n := e.count(t, `SELECT count(*) FROM api_keys WHERE revoked_at IS NOT NULL`); n != 0 {
		t.Errorf("%d API keys revoked from another workspace", n)
	}
}
