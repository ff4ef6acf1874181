package apispec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

func TestDocumentLoadsAndValidates(t *testing.T) {
	doc, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi = %q, want 3.1.x", doc.OpenAPI)
	}
	if !bytes.Contains(YAML(), []byte("openapi: 3.1.0")) {
		t.Error("YAML() does not look like the document")
	}
	if doc.Paths.Len() == 0 {
		t.Fatal("no paths")
	}
	for path, item := range doc.Paths.Map() {
		if !strings.HasPrefix(path, "/api/") {
			t.Errorf("path %q does not start with /api/", path)
		}
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			if op.Responses.Status(500) != nil || op.Responses.Default() != nil {
				t.Errorf("%s %s documents a 500/default response", method, path)
			}
		}
	}
	for _, ev := range []string{"sale.created", "lead.created", "commission.created", "commission.updated", "payout.created", "payout.paid", "payout.failed"} {
		if doc.Webhooks[ev] == nil {
			t.Errorf("webhook event %q is not documented", ev)
		}
	}
}

func TestJSONRoundTrips(t *testing.T) {
	b, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v", m["openapi"])
	}
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	b2, _ := JSON()
	if &b[0] != &b2[0] {
		t.Error("JSON() is not cached")
	}
}

func TestSecurity(t *testing.T) {
	doc, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	if len(doc.Security) != 1 || doc.Security[0]["bearerAuth"] == nil {
		t.Errorf("global security = %v, want bearerAuth", doc.Security)
	}
	public := map[string]bool{"POST /api/track/click": true, "GET /api/openapi.json": true}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			isPublic := op.Security != nil && len(*op.Security) == 0
			if isPublic != public[key] {
				t.Errorf("%s: public = %v, want %v", key, isPublic, public[key])
			}
		}
	}
}

const (
	testCommission = `{"id":"cm_1","programId":"p1","partnerId":"pa1","eventId":"ev1",` +
		`"customerExternalId":"cus1","rewardId":"r1","adjustsId":null,"type":"sale","amountCents":1000,` +
		`"currency":"USD","status":"pending","payableAt":"2026-01-01T00:00:00Z",` +
		`"createdAt":"2025-12-01T00:00:00.123456Z","updatedAt":"2025-12-01T00:00:00Z"}`
	testSaleBody = `{"externalId":"inv_1","customerExternalId":"cus1","amountCents":10000,"currency":"usd",` +
		`"clickId":"c_abc","metadata":{"plan":"pro","n":[1,2],"x":{"y":null}},"occurredAt":"2025-12-01T10:00:00+02:00"}`
	testNoop = `{"eventId":null,"attributed":false,"duplicate":false,"commission":null}`
)

type exchange struct {
	name       string
	method     string
	url        string
	auth       string
	reqCT      string
	reqBody    string
	status     int
	respHeader http.Header
	respBody   string
	ok         bool
}

func jsonHeader(kv ...string) http.Header {
	h := http.Header{"Content-Type": {"application/json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func (x exchange) run(t *testing.T, v *Validator) {
	t.Helper()
	req := httptest.NewRequest(x.method, x.url, strings.NewReader(x.reqBody))
	if x.auth != "" {
		req.Header.Set("Authorization", x.auth)
	}
	if x.reqCT != "" {
		req.Header.Set("Content-Type", x.reqCT)
	}
	err := v.Check(req, []byte(x.reqBody), x.status, x.respHeader, []byte(x.respBody))
	if x.ok && err != nil {
		t.Errorf("%s: want pass, got %v", x.name, err)
	}
	if !x.ok && err == nil {
		t.Errorf("%s: want failure, got pass", x.name)
	}
	if !x.ok && err != nil {
		t.Logf("%s: %v", x.name, err)
	}
}

func TestCheckTrackSale(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	const key = "Bearer pk_live_test"
	attributed := `{"eventId":"ev1","attributed":true,"duplicate":false,"commission":` + testCommission + `}`
	for _, x := range []exchange{
		{name: "valid attributed sale", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 200, respHeader: jsonHeader(), respBody: attributed, ok: true},
		{name: "valid no-op sale", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json; charset=utf-8",
			reqBody: `{"externalId":"i","customerExternalId":"c","amountCents":1000000000000}`, status: 200,
			respHeader: http.Header{"Content-Type": {"application/json; charset=utf-8"}}, respBody: testNoop, ok: true},
		{name: "amountCents as a string, accepted", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: `{"externalId":"i","customerExternalId":"c","amountCents":"100"}`, status: 200,
			respHeader: jsonHeader(), respBody: testNoop, ok: false},
		{name: "amountCents as a string, refused", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: `{"externalId":"i","customerExternalId":"c","amountCents":"100"}`, status: 400,
			respHeader: jsonHeader(), respBody: `{"error":{"code":"validation_failed","message":"bad body","fields":{"amountCents":"must be an integer"}}}`, ok: true},
		{name: "amountCents over the maximum, accepted", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: `{"externalId":"i","customerExternalId":"c","amountCents":1000000000001}`, status: 200,
			respHeader: jsonHeader(), respBody: testNoop, ok: false},
		{name: "response missing a field", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 200, respHeader: jsonHeader(),
			respBody: `{"eventId":null,"attributed":false,"commission":null}`, ok: false},
		{name: "response with a stray field", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 200, respHeader: jsonHeader(),
			respBody: `{"eventId":null,"attributed":false,"duplicate":false,"commission":null,"extra":1}`, ok: false},
		{name: "commission missing a field", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 200, respHeader: jsonHeader(),
			respBody: strings.Replace(attributed, `"adjustsId":null,`, ``, 1), ok: false},
		{name: "commission with lower-case currency", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 200, respHeader: jsonHeader(),
			respBody: strings.Replace(attributed, `"USD"`, `"usd"`, 1), ok: false},
		{name: "commission with a bad time", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 200, respHeader: jsonHeader(),
			respBody: strings.Replace(attributed, `"2026-01-01T00:00:00Z"`, `"2026-01-01 00:00"`, 1), ok: false},
		{name: "undocumented status", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 500, respHeader: jsonHeader(),
			respBody: `{"error":{"code":"internal","message":"request abc"}}`, ok: false},
		{name: "unknown error code", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 400, respHeader: jsonHeader(),
			respBody: `{"error":{"code":"bad","message":"x"}}`, ok: false},
		{name: "no key, accepted", method: "POST", url: "/api/track/sale", reqCT: "application/json",
			reqBody: testSaleBody, status: 200, respHeader: jsonHeader(), respBody: testNoop, ok: false},
		{name: "no key, refused", method: "POST", url: "/api/track/sale", reqCT: "application/json",
			reqBody: testSaleBody, status: 401, respHeader: jsonHeader(),
			respBody: `{"error":{"code":"unauthorized","message":"missing API key"}}`, ok: true},
		{name: "not JSON, refused", method: "POST", url: "/api/track/sale", auth: key, reqCT: "text/plain",
			reqBody: `amount=1`, status: 415, respHeader: jsonHeader(),
			respBody: `{"error":{"code":"unsupported_media_type","message":"send JSON"}}`, ok: true},
		{name: "rate limited without Retry-After", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 429, respHeader: jsonHeader(),
			respBody: `{"error":{"code":"rate_limited","message":"slow down"}}`, ok: false},
		{name: "rate limited", method: "POST", url: "/api/track/sale", auth: key, reqCT: "application/json",
			reqBody: testSaleBody, status: 429, respHeader: jsonHeader("Retry-After", "2"),
			respBody: `{"error":{"code":"rate_limited","message":"slow down"}}`, ok: true},
	} {
		x.run(t, v)
	}
}

func TestCheckOtherOperations(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	const key = "Bearer pk_live_test"
	for _, x := range []exchange{
		{name: "public click", method: "POST", url: "/api/track/click", reqCT: "application/json",
			reqBody: `{"slug":"alice","url":"https://shop.example/?via=alice"}`, status: 200, respHeader: jsonHeader(),
			respBody: `{"clickId":"c_123"}`, ok: true},
		{name: "click id without c_", method: "POST", url: "/api/track/click", reqCT: "application/json",
			reqBody: `{"slug":"alice"}`, status: 200, respHeader: jsonHeader(), respBody: `{"clickId":"123"}`, ok: false},
		{name: "list page", method: "GET", url: "/api/programs?limit=2&cursor=abc", auth: key, status: 200,
			respHeader: jsonHeader(), respBody: `{"data":[],"nextCursor":"def"}`, ok: true},
		{name: "list without nextCursor", method: "GET", url: "/api/programs", auth: key, status: 200,
			respHeader: jsonHeader(), respBody: `{"data":[]}`, ok: false},
		{name: "limit over 200, accepted", method: "GET", url: "/api/sales?limit=201", auth: key, status: 200,
			respHeader: jsonHeader(), respBody: `{"data":[],"nextCursor":null}`, ok: false},
		{name: "group with null holding period", method: "POST", url: "/api/programs/p1/groups", auth: key,
			reqCT: "application/json", reqBody: `{"name":"VIP","holdingPeriodDays":null}`, status: 201, respHeader: jsonHeader(),
			respBody: `{"id":"g1","programId":"p1","name":"VIP","holdingPeriodDays":null,"createdAt":"2025-01-01T00:00:00Z"}`, ok: true},
		{name: "created with 200 instead of 201", method: "POST", url: "/api/programs/p1/groups", auth: key,
			reqCT: "application/json", reqBody: `{"name":"VIP"}`, status: 200, respHeader: jsonHeader(),
			respBody: `{"id":"g1","programId":"p1","name":"VIP","holdingPeriodDays":7,"createdAt":"2025-01-01T00:00:00Z"}`, ok: false},
		{name: "delete", method: "DELETE", url: "/api/rewards/r1", auth: key, status: 204, respHeader: http.Header{}, ok: true},
		{name: "delete with a body", method: "DELETE", url: "/api/webhooks/w1", auth: key, status: 204,
			respHeader: jsonHeader(), respBody: `{}`, ok: false},
		{name: "commission with history", method: "GET", url: "/api/commissions/cm_1", auth: key, status: 200,
			respHeader: jsonHeader(), respBody: strings.TrimSuffix(testCommission, "}") +
				`,"history":[{"from":null,"to":"pending","reason":"created","actor":"system","at":"2025-12-01T00:00:00Z"}]}`, ok: true},
		{name: "invalid transition", method: "PATCH", url: "/api/commissions/cm_1", auth: key, reqCT: "application/json",
			reqBody: `{"status":"pending"}`, status: 409, respHeader: jsonHeader(),
			respBody: `{"error":{"code":"invalid_transition","message":"paid → pending is not allowed"}}`, ok: true},
		{name: "unavailable", method: "GET", url: "/api/partners/pa1", auth: key, status: 503,
			respHeader: jsonHeader("Retry-After", "1"), respBody: `{"error":{"code":"unavailable","message":"try again"}}`, ok: true},
	} {
		x.run(t, v)
	}

	req := httptest.NewRequest("GET", "/api/nope", nil)
	req.Header.Set("Authorization", key)
	if err := v.Check(req, nil, 404, jsonHeader(), []byte(`{"error":{"code":"not_found","message":"x"}}`)); !errors.Is(err, ErrUndocumented) {
		t.Errorf("unknown path: got %v, want ErrUndocumented", err)
	}
}

func TestCheckAbsoluteClientURL(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", "http://127.0.0.1:1234/api/openapi.json", nil)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := JSON()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Check(req, nil, 200, jsonHeader(), doc); err != nil {
		t.Fatal(err)
	}
}

func TestCoverageBookkeeping(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ops := v.Operations()
	if len(ops) < 29 {
		t.Fatalf("only %d operations: %v", len(ops), ops)
	}
	if len(v.Seen()) != 0 || len(v.Missing()) != len(ops) {
		t.Fatal("fresh validator has seen something")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			req := httptest.NewRequest("POST", "/api/track/click", strings.NewReader(`{"slug":"a"}`))
			req.Header.Set("Content-Type", "application/json")
			if err := v.Check(req, []byte(`{"slug":"a"}`), 200, jsonHeader(), []byte(`{"clickId":"c_1"}`)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := v.Seen(); len(got) != 1 || got[0] != "POST /api/track/click" {
		t.Errorf("Seen() = %v", got)
	}
	if len(v.Missing()) != len(ops)-1 {
		t.Errorf("Missing() has %d, want %d", len(v.Missing()), len(ops)-1)
	}
}

func TestCheckEvent(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	ev := `{"id":"evt_1","type":"commission.created","createdAt":"2025-12-01T00:00:00Z","data":` + testCommission + `}`
	if err := v.CheckEvent("commission.created", []byte(ev)); err != nil {
		t.Error(err)
	}
	if err := v.CheckEvent("commission.updated", []byte(ev)); err == nil {
		t.Error("an event with the wrong type passed")
	}
	if err := v.CheckEvent("commission.created", []byte(strings.Replace(ev, `"status":"pending"`, `"status":"nope"`, 1))); err == nil {
		t.Error("an event with a bad commission passed")
	}
	if err := v.CheckEvent("nope.created", []byte(ev)); err == nil {
		t.Error("an unknown event type passed")
	}
}

func TestTransport(t *testing.T) {
	v, err := NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		if !bytes.Contains(body, []byte(`"slug"`)) {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"error":{"code":"validation_failed","message":"slug","fields":{"slug":"required"}}}`)
			return
		}
		if r.URL.Query().Get("bad") != "" {
			_, _ = io.WriteString(w, `{"clickId":"c_1","extra":true}`)
			return
		}
		_, _ = io.WriteString(w, `{"clickId":"c_1"}`)
	}))
	defer srv.Close()

	var mu sync.Mutex
	var reported []error
	client := &http.Client{Transport: v.Transport(nil, func(err error) {
		mu.Lock()
		defer mu.Unlock()
		reported = append(reported, err)
	})}
	post := func(query, body string) string {
		resp, err := client.Post(srv.URL+"/api/track/click"+query, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if got := post("", `{"slug":"a"}`); got != `{"clickId":"c_1"}` {
		t.Errorf("body = %q", got)
	}
	post("", `{}`)
	if len(reported) != 0 {
		t.Fatalf("reported %v", reported)
	}
	post("?bad=1", `{"slug":"a"}`)
	if len(reported) != 1 {
		t.Fatalf("want one report, got %v", reported)
	}
}
