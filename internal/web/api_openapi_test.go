package web_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/partli/partli/internal/apispec"
)

// The OpenAPI document is served, and it describes what the server does:
// one request per implemented operation, each checked against the document
// by a validator of this test's own.

func TestOpenAPIDocumentIsServed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call("GET", "/api/openapi.json", "", nil).must(t, http.StatusOK)
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	doc := r.Map(t)
	if v := str(doc, "openapi"); !strings.HasPrefix(v, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", v)
	}
	paths := obj(doc, "paths")
	for _, p := range []string{"/api/programs", "/api/track/sale", "/api/commissions/{id}"} {
		if obj(paths, p) == nil {
			t.Errorf("the served document has no path %s", p)
		}
	}
	// Also with a key, and the same bytes as the embedded document.
	r2 := e.call("GET", "/api/openapi.json", e.Key, nil).must(t, http.StatusOK)
	want, err := apispec.JSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Body, want) || !bytes.Equal(r2.Body, want) {
		t.Fatal("the served document differs from apispec.JSON()")
	}
}

// notImplemented names the documented operations this server does not serve yet: none.
func notImplemented(op string) bool { return false }

func TestOpenAPICoverage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	v, err := apispec.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{
		Transport: v.Transport(nil, func(err error) { t.Errorf("does not match the OpenAPI document: %v", err) }),
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	// send makes one request through the checking transport and fails the
	// test unless the status is want.
	send := func(method, path, key string, body any, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != nil {
			raw, err := json.Marshal(body)
			if err != nil {
				t.Fatal(err)
			}
			rd = bytes.NewReader(raw)
		}
		req, err := http.NewRequest(method, e.URL+path, rd)
		if err != nil {
			t.Fatal(err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		defer resp.Body.Close()
		got, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: status %d, want %d: %s", method, path, resp.StatusCode, want, got)
		}
		var m map[string]any
		if len(got) > 0 {
			if err := json.Unmarshal(got, &m); err != nil {
				t.Fatalf("%s %s: reply is not a JSON object: %v", method, path, err)
			}
		}
		return m
	}

	send("GET", "/api/openapi.json", "", nil, 200)
	p := send("POST", "/api/programs", e.Key, map[string]any{"name": "Shop", "destinationUrl": "https://shop.example.com", "currency": "eur"}, 201)
	pid := str(p, "id")
	send("GET", "/api/programs", e.Key, nil, 200)
	send("GET", "/api/programs/"+pid, e.Key, nil, 200)
	send("PATCH", "/api/programs/"+pid, e.Key, map[string]any{"cookieDays": 60, "partnersCreateCodes": true,
		"discount": map[string]any{"type": "percentage", "percent": 10, "duration": "repeating", "durationMonths": 3}}, 200)

	g := send("POST", "/api/programs/"+pid+"/groups", e.Key, map[string]any{"name": "VIP", "holdingPeriodDays": nil}, 201)
	send("GET", "/api/programs/"+pid+"/groups", e.Key, nil, 200)

	rw := send("POST", "/api/programs/"+pid+"/rewards", e.Key,
		map[string]any{"event": "sale", "type": "percentage", "percent": 12.5, "interval": "recurring", "durationMonths": 12}, 201)
	lead := send("POST", "/api/programs/"+pid+"/rewards", e.Key,
		map[string]any{"groupId": g["id"], "event": "lead", "type": "flat", "amountCents": 200, "interval": "one_time"}, 201)
	send("GET", "/api/programs/"+pid+"/rewards", e.Key, nil, 200)
	send("PATCH", "/api/rewards/"+str(rw, "id"), e.Key, map[string]any{"percent": 15}, 200)

	pa := send("POST", "/api/programs/"+pid+"/partners", e.Key, map[string]any{"email": "jane@example.com", "name": "Jane Doe", "groupId": g["id"]}, 201)
	send("GET", "/api/programs/"+pid+"/partners?q=jane", e.Key, nil, 200)
	send("GET", "/api/partners/"+str(pa, "id"), e.Key, nil, 200)
	code := send("POST", "/api/partners/"+str(pa, "id")+"/codes", e.Key, map[string]any{"code": "JANE20"}, 201)
	send("GET", "/api/partners/"+str(pa, "id")+"/codes", e.Key, nil, 200)
	send("POST", "/api/track/sale", e.Key, map[string]any{"externalId": "inv-code", "customerExternalId": "cus-code",
		"amountCents": 1000, "couponCode": "jane20"}, 200)
	send("DELETE", "/api/codes/"+str(code, "id"), e.Key, nil, 204)

	click := send("POST", "/api/track/click", "", map[string]any{"slug": pa["slug"], "url": "https://shop.example.com/?via=jane-doe"}, 200)
	send("POST", "/api/track/lead", e.Key, map[string]any{"externalId": "lead-1", "customerExternalId": "cus-1",
		"customerEmail": "buyer@example.com", "clickId": click["clickId"]}, 200)
	send("DELETE", "/api/rewards/"+str(lead, "id"), e.Key, nil, 204)
	sale := send("POST", "/api/track/sale", e.Key, map[string]any{"externalId": "inv-1", "customerExternalId": "cus-1",
		"amountCents": 4999, "currency": "eur", "metadata": map[string]any{"plan": "pro"}}, 200)
	com := obj(sale, "commission")
	if com == nil {
		t.Fatalf("sale without a commission: %v", sale)
	}
	send("PATCH", "/api/partners/"+str(pa, "id"), e.Key, map[string]any{"groupId": nil}, 200)
	send("GET", "/api/sales?limit=10", e.Key, nil, 200)
	send("GET", "/api/commissions?status=pending", e.Key, nil, 200)
	send("GET", "/api/commissions/"+str(com, "id"), e.Key, nil, 200)
	send("PATCH", "/api/commissions/"+str(com, "id"), e.Key, map[string]any{"status": "approved"}, 200)
	send("POST", "/api/track/refund", e.Key, map[string]any{"externalId": "inv-1", "amountCents": 999, "reason": "partial refund", "refundId": "re_1"}, 200)
	send("PUT", "/api/integrations/stripe", e.Key, map[string]any{"webhookSecret": "whsec_test_secret"}, 200)

	// Payouts: the approved commission (net of the partial refund's adjustment) is Jane's balance.
	send("PUT", "/api/partners/"+str(pa, "id")+"/payout-method", e.Key, map[string]any{"type": "paypal", "email": "jane@paypal.example.com"}, 200)
	send("POST", "/api/partners/"+str(pa, "id")+"/stripe-onboarding", e.Key, nil, 409) // no Stripe key: not set up
	created := send("POST", "/api/payouts", e.Key, map[string]any{"programId": pid}, 201)
	payouts, _ := created["data"].([]any)
	if len(payouts) != 1 {
		t.Fatalf("created %v", created)
	}
	poID := str(payouts[0].(map[string]any), "id")
	send("GET", "/api/payouts?status=pending&programId="+pid, e.Key, nil, 200)
	send("GET", "/api/payouts/"+poID, e.Key, nil, 200)
	exportReq, _ := http.NewRequest("GET", e.URL+"/api/payouts/export?format=paypal", nil)
	exportReq.Header.Set("Authorization", "Bearer "+e.Key)
	if resp, err := client.Do(exportReq); err != nil || resp.StatusCode != 200 {
		t.Fatalf("export: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	send("POST", "/api/payouts/"+poID+"/send", e.Key, nil, 409) // PayPal: paid with the file
	send("POST", "/api/payouts/"+poID+"/mark-paid", e.Key, map[string]any{"reference": "PAYPAL-BATCH-1"}, 200)
	sale2 := send("POST", "/api/track/sale", e.Key, map[string]any{"externalId": "inv-2", "customerExternalId": "cus-1",
		"amountCents": 2000, "currency": "eur"}, 200)
	send("PATCH", "/api/commissions/"+str(obj(sale2, "commission"), "id"), e.Key, map[string]any{"status": "approved"}, 200)
	second, _ := send("POST", "/api/payouts", e.Key, map[string]any{"programId": pid, "partnerIds": []string{str(pa, "id")}}, 201)["data"].([]any)
	if len(second) != 1 {
		t.Fatalf("second payout: %v", second)
	}
	send("POST", "/api/payouts/"+str(second[0].(map[string]any), "id")+"/cancel", e.Key, nil, 200)

	wh := send("POST", "/api/webhooks", e.Key, map[string]any{"url": "https://hooks.example.com/partli", "events": []string{"sale.created", "commission.updated"}}, 201)
	send("GET", "/api/webhooks", e.Key, nil, 200)
	send("PATCH", "/api/webhooks/"+str(wh, "id"), e.Key, map[string]any{"enabled": false}, 200)
	send("POST", "/api/webhooks/"+str(wh, "id")+"/rotate-secret", e.Key, nil, 200)
	send("DELETE", "/api/webhooks/"+str(wh, "id"), e.Key, nil, 204)

	var missing []string
	for _, op := range v.Missing() {
		if !notImplemented(op) {
			missing = append(missing, op)
		}
	}
	if len(missing) > 0 {
		t.Errorf("implemented operations not exercised by this test: %v", missing)
	}
	if len(v.Seen()) < 20 {
		t.Errorf("only %d operations seen: %v", len(v.Seen()), v.Seen())
	}
}
