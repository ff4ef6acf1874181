package web_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Bad bodies are refused with a 400 that names the bad field, and refused
// bodies write nothing at all.

// tableCounts counts the rows a tracking call may write.
func (e *env) tableCounts(t testing.TB) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, table := range []string{"events", "customers", "commissions", "commission_history", "webhook_events", "clicks"} {
		out[table] = e.count(t, "SELECT count(*) FROM "+table)
	}
	return out
}

func TestBadSaleBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	// A valid body: each case spoils one part of it, so that only that part
	// stands between the request and a stored, attributed sale.
	valid := func() map[string]any {
		return map[string]any{"externalId": "order-ok", "customerExternalId": "cust-ok", "amountCents": 1000,
			"currency": "usd", "clickId": s.ClickID, "eventName": "sale", "metadata": map[string]any{"plan": "pro"},
			"occurredAt": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)}
	}
	with := func(field string, v any) string {
		b := valid()
		b[field] = v
		raw, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		return string(raw)
	}
	without := func(field string) string {
		b := valid()
		delete(b, field)
		raw, _ := json.Marshal(b)
		return string(raw)
	}
	bigMeta := map[string]any{"blob": strings.Repeat("m", 17<<10)}
	long := strings.Repeat("x", 256)
	cases := []struct {
		name  string
		body  string
		code  string // "invalid_json" or "validation_failed"
		field string // for validation_failed
	}{
		{"malformed JSON", `{"externalId": "o1", "amountCents": 10`, "invalid_json", ""},
		{"trailing garbage", with("amountCents", 1000) + `x`, "invalid_json", ""},
		{"array", `[{"externalId": "o1"}]`, "invalid_json", ""},
		{"string", `"order"`, "invalid_json", ""},
		{"number", `42`, "invalid_json", ""},
		{"null", `null`, "invalid_json", ""},
		{"empty", ``, "invalid_json", ""},
		{"amountCents as string", with("amountCents", "12"), "validation_failed", "amountCents"},
		{"amountCents as bool", with("amountCents", true), "validation_failed", "amountCents"},
		{"externalId as number", with("externalId", 5), "validation_failed", "externalId"},
		{"customerExternalId as object", with("customerExternalId", map[string]any{}), "validation_failed", "customerExternalId"},
		{"metadata as array", with("metadata", []int{1}), "validation_failed", "metadata"},
		{"metadata as string", with("metadata", "{}"), "validation_failed", "metadata"},
		{"amountCents 0", with("amountCents", 0), "validation_failed", "amountCents"},
		{"amountCents -5", with("amountCents", -5), "validation_failed", "amountCents"},
		{"amountCents 1.5", with("amountCents", 1.5), "validation_failed", "amountCents"},
		{"amountCents over the maximum", with("amountCents", int64(1000000000001)), "validation_failed", "amountCents"},
		{"amountCents 1e30", strings.Replace(with("amountCents", 7), `"amountCents":7`, `"amountCents":1e30`, 1), "validation_failed", "amountCents"},
		{"amountCents 1e400", strings.Replace(with("amountCents", 7), `"amountCents":7`, `"amountCents":1e400`, 1), "validation_failed", "amountCents"},
		{"amountCents huge integer", strings.Replace(with("amountCents", 7), `"amountCents":7`, `"amountCents":123456789012345678901234567890`, 1), "validation_failed", "amountCents"},
		{"amountCents missing", without("amountCents"), "validation_failed", "amountCents"},
		{"amountCents null", with("amountCents", nil), "validation_failed", "amountCents"},
		{"currency XXX1", with("currency", "XXX1"), "validation_failed", "currency"},
		{"currency US", with("currency", "US"), "validation_failed", "currency"},
		{"currency ABC", with("currency", "ABC"), "validation_failed", "currency"},
		{"currency number", with("currency", 840), "validation_failed", "currency"},
		{"externalId empty", with("externalId", ""), "validation_failed", "externalId"},
		{"externalId blank", with("externalId", "   "), "validation_failed", "externalId"},
		{"externalId 256 chars", with("externalId", long), "validation_failed", "externalId"},
		{"externalId missing", without("externalId"), "validation_failed", "externalId"},
		{"customerExternalId missing", without("customerExternalId"), "validation_failed", "customerExternalId"},
		{"customerExternalId 256 chars", with("customerExternalId", long), "validation_failed", "customerExternalId"},
		{"eventName 256 chars", with("eventName", long), "validation_failed", "eventName"},
		{"metadata over 16 KiB", with("metadata", bigMeta), "validation_failed", "metadata"},
		{"occurredAt not RFC 3339", with("occurredAt", "2026-01-02 15:04:05"), "validation_failed", "occurredAt"},
		{"occurredAt a date", with("occurredAt", "2026-01-02"), "validation_failed", "occurredAt"},
		{"occurredAt words", with("occurredAt", "yesterday"), "validation_failed", "occurredAt"},
		{"occurredAt a number", with("occurredAt", 1767225600), "validation_failed", "occurredAt"},
		{"occurredAt 10 minutes ahead", with("occurredAt", time.Now().Add(10*time.Minute).UTC().Format(time.RFC3339)), "validation_failed", "occurredAt"},
	}
	before := e.tableCounts(t)
	for _, c := range cases {
		r := e.call("POST", "/api/track/sale", e.Key, c.body)
		if r.Status != http.StatusBadRequest {
			t.Errorf("%s: status %d, want 400: %s", c.name, r.Status, r.Body)
			continue
		}
		if got := r.ErrorCode(t); got != c.code {
			t.Errorf("%s: code %q, want %q: %s", c.name, got, c.code, r.Body)
		}
		if c.field != "" && r.ErrorFields(t)[c.field] == "" {
			t.Errorf("%s: fields do not name %s: %s", c.name, c.field, r.Body)
		}
		if c.code == "validation_failed" && len(r.ErrorFields(t)) != 1 {
			t.Errorf("%s: fields name more than the one bad field: %s", c.name, r.Body)
		}
	}
	if after := e.tableCounts(t); !mapsEqual(before, after) {
		t.Fatalf("refused sales wrote rows: before %v, after %v", before, after)
	}

	// Several bad fields are all named at once.
	r := e.call("POST", "/api/track/sale", e.Key, map[string]any{"externalId": 5, "amountCents": -1, "currency": "US"})
	wantError(t, r, http.StatusBadRequest, "validation_failed", "externalId", "customerExternalId", "amountCents", "currency")

	// The valid body itself is accepted (so the cases above failed for their one fault).
	res := e.call("POST", "/api/track/sale", e.Key, with("amountCents", 1000)).must(t, http.StatusOK).Map(t)
	if res["attributed"] != true || obj(res, "commission") == nil {
		t.Fatalf("the valid body: %v", res)
	}
	// Limits are inclusive: 255 characters, 16 KiB of metadata, 1 … 10^12 cents, 4 minutes ahead.
	for name, body := range map[string]map[string]any{
		"255 chars": {"externalId": strings.Repeat("y", 255), "customerExternalId": strings.Repeat("z", 255)},
		"max cents": {"externalId": "max", "amountCents": int64(1000000000000)},
		"min cents": {"externalId": "min", "amountCents": 1},
		"1e3 cents": {"externalId": "exp", "amountCents": json.RawMessage("1e3")},
		"16 KiB":    {"externalId": "meta", "metadata": map[string]any{"blob": strings.Repeat("m", 16<<10-20)}},
		"soon":      {"externalId": "soon", "occurredAt": time.Now().Add(4 * time.Minute).UTC().Format(time.RFC3339)},
		"offset":    {"externalId": "offset", "occurredAt": "2026-01-02T10:00:00+02:00"},
		"JPY":       {"externalId": "yen", "currency": "jpy"},
	} {
		b := merge(map[string]any{"customerExternalId": "edge", "amountCents": 500, "clickId": s.ClickID}, body)
		r := e.call("POST", "/api/track/sale", e.Key, b)
		if r.Status != http.StatusOK || r.Map(t)["attributed"] != true {
			t.Errorf("%s: %d %s", name, r.Status, r.Body)
		}
	}
	var occurred time.Time
	if err := e.DB.Get(&occurred, `SELECT occurred_at FROM events WHERE external_id = 'offset'`); err != nil ||
		!occurred.Equal(time.Date(2026, 1, 2, 8, 0, 0, 0, time.UTC)) {
		t.Errorf("occurredAt with an offset stored as %v (%v)", occurred, err)
	}
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestBadClickBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, nil)
	pa := e.partner(t, str(p, "id"), nil)
	before := e.tableCounts(t)
	wantError(t, e.call("POST", "/api/track/click", "", map[string]any{"slug": "no-such-slug"}), http.StatusNotFound, "not_found")
	wantError(t, e.call("POST", "/api/track/click", "", `{"slug": `), http.StatusBadRequest, "invalid_json")
	wantError(t, e.call("POST", "/api/track/click", "", map[string]any{"slug": ""}), http.StatusBadRequest, "validation_failed", "slug")
	wantError(t, e.call("POST", "/api/track/click", "", map[string]any{"slug": pa["slug"], "url": 5}), http.StatusBadRequest, "validation_failed", "url")
	wantError(t, e.call("POST", "/api/track/click", "", map[string]any{"slug": pa["slug"], "referrer": []int{1}}), http.StatusBadRequest, "validation_failed", "referrer")
	if after := e.tableCounts(t); !mapsEqual(before, after) {
		t.Fatalf("refused clicks wrote rows: before %v, after %v", before, after)
	}
}

func TestBadProgramAndPartnerBodies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ok := map[string]any{"name": "Shop", "destinationUrl": "https://shop.example.com"}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"destinationUrl": "ftp://x"}, "destinationUrl"},
		{map[string]any{"destinationUrl": "shop.example.com"}, "destinationUrl"},
		{map[string]any{"destinationUrl": "https://"}, "destinationUrl"},
		{map[string]any{"destinationUrl": "javascript:alert(1)"}, "destinationUrl"},
		{map[string]any{"currency": "usd1"}, "currency"},
		{map[string]any{"currency": "ZZZ"}, "currency"},
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"name": strings.Repeat("n", 201)}, "name"},
		{map[string]any{"slug": "Has Spaces"}, "slug"},
		{map[string]any{"slug": "-dash"}, "slug"},
		{map[string]any{"holdingPeriodDays": -1}, "holdingPeriodDays"},
		{map[string]any{"holdingPeriodDays": 3651}, "holdingPeriodDays"},
		{map[string]any{"cookieDays": 0}, "cookieDays"},
		{map[string]any{"cookieDays": 1.5}, "cookieDays"},
		{map[string]any{"autoApprove": "yes"}, "autoApprove"},
	} {
		r := e.call("POST", "/api/programs", e.Key, merge(ok, c.body))
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "validation_failed" || r.ErrorFields(t)[c.field] == "" {
			t.Errorf("program %v: %d, want 400 naming %s: %s", c.body, r.Status, c.field, r.Body)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM programs`); n != 0 {
		t.Fatalf("%d programs stored from bad bodies", n)
	}

	p := e.program(t, nil)
	pid := str(p, "id")
	wantError(t, e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"destinationUrl": "ftp://x"}), http.StatusBadRequest, "validation_failed", "destinationUrl")
	wantError(t, e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"currency": "usd1"}), http.StatusBadRequest, "validation_failed", "currency")
	got := e.call("GET", "/api/programs/"+pid, e.Key, nil).must(t, http.StatusOK).Map(t)
	if str(got, "destinationUrl") != str(p, "destinationUrl") || str(got, "currency") != "USD" {
		t.Fatalf("a refused PATCH changed the program: %v", got)
	}

	okPartner := map[string]any{"email": "jane@example.com", "name": "Jane"}
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"email": "not-an-email"}, "email"},
		{map[string]any{"email": "jane@localhost"}, "email"},
		{map[string]any{"email": "Jane <jane@example.com>"}, "email"},
		{map[string]any{"email": ""}, "email"},
		{map[string]any{"email": 7}, "email"},
		{map[string]any{"name": ""}, "name"},
		{map[string]any{"slug": "UPPER"}, "slug"},
		{map[string]any{"status": "vip"}, "status"},
		{map[string]any{"groupId": 3}, "groupId"},
	} {
		r := e.call("POST", "/api/programs/"+pid+"/partners", e.Key, merge(okPartner, c.body))
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "validation_failed" || r.ErrorFields(t)[c.field] == "" {
			t.Errorf("partner %v: %d, want 400 naming %s: %s", c.body, r.Status, c.field, r.Body)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM partners`); n != 0 {
		t.Fatalf("%d partners stored from bad bodies", n)
	}
}

func TestBadInputNULCharacters(t *testing.T) {
	e := newEnv(t)
	st := e.setup(t)
	for _, body := range []map[string]any{
		{"externalId": "inv\u0000", "customerExternalId": "c", "amountCents": 100, "clickId": st.ClickID},
		{"externalId": "inv", "customerExternalId": "c", "amountCents": 100, "metadata": map[string]any{"k": "\u0000"}},
	} {
		r := e.call(http.MethodPost, "/api/track/sale", e.Key, body)
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "validation_failed" || len(r.ErrorFields(t)) == 0 {
			t.Fatalf("NUL in a sale: %d %s", r.Status, r.Body)
		}
	}
	if r := e.call(http.MethodPost, "/api/track/click", "", map[string]any{"slug": st.Slug, "url": "https://x.example/\u0000"}); r.Status != http.StatusBadRequest {
		t.Fatalf("NUL in a public click: %d %s", r.Status, r.Body)
	}
	// A form post with a NUL reaches the database's own check: still a 400, never a 500.
	s := e.signIn(t)
	r := s.post("/partners", url.Values{"programId": {st.ProgramID}, "name": {"Nul\x00Name"}, "email": {"nul@example.com"}})
	if r.Status >= 500 {
		t.Fatalf("NUL in a dashboard form: %d", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM events`); n != 0 {
		t.Fatalf("%d events stored from bad input", n)
	}
}
