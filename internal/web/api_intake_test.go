package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Input that amplifies or merges is refused at intake, by the one JSON
// decoder every body goes through, naming the field; nothing is stored.

// nested is v inside depth arrays.
func nested(depth int, v string) string {
	return strings.Repeat("[", depth) + v + strings.Repeat("]", depth)
}

func TestDeepJSONIsRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	sale := func(metadata string) string {
		return `{"externalId": "` + uniq("deep") + `", "customerExternalId": "c-deep", "amountCents": 1000, "clickId": "` +
			s.ClickID + `", "metadata": ` + metadata + `}`
	}
	before := e.tableCounts(t)
	for _, tc := range []struct {
		name, path, body, field string
	}{
		// 16 KiB of brackets, within the metadata size limit: 8,000 levels.
		{"metadata 8,000 levels deep", "/api/track/sale", sale(`{"a": ` + nested(8000, "0") + `}`), "metadata"},
		{"metadata 17 levels deep", "/api/track/sale", sale(`{"a": ` + nested(16, "0") + `}`), "metadata"},
		{"metadata deeper than encoding/json goes", "/api/track/sale", sale(`{"a": ` + nested(12000, "0") + `}`), "metadata"},
		{"lead metadata", "/api/track/lead", `{"externalId": "lead-deep", "clickId": "` + s.ClickID + `", "metadata": {"a": ` + nested(20, "{}") + `}}`, "metadata"},
		{"a program's name", "/api/programs", `{"name": ` + nested(40, `"x"`) + `, "destinationUrl": "https://shop.example.com/"}`, "name"},
		{"a webhook's events", "/api/webhooks", `{"url": "https://hooks.example.com/x", "events": ` + nested(30, `"sale.created"`) + `}`, "events"},
	} {
		r := e.call("POST", tc.path, e.Key, tc.body)
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "validation_failed" ||
			!strings.Contains(r.ErrorFields(t)[tc.field], "levels deep") {
			t.Errorf("%s: %d %.300s, want 400 validation_failed naming %s", tc.name, r.Status, r.Body, tc.field)
		}
	}
	if after := e.tableCounts(t); !mapsEqual(before, after) {
		t.Fatalf("refused bodies wrote rows: before %v, after %v", before, after)
	}
	if n := e.count(t, `SELECT count(*) FROM programs WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d programs, want the setup's one", n)
	}
	// 16 levels is the limit, inclusive.
	res := e.call("POST", "/api/track/sale", e.Key, sale(`{"a": `+nested(15, "0")+`}`)).must(t, http.StatusOK).Map(t)
	if res["attributed"] != true {
		t.Fatalf("a sale with metadata 16 levels deep: %v", res)
	}
}

// Stored JSON is shown compact: a sale's page and its webhook delivery's
// page grow with the metadata's size, not with its depth.
func TestStoredJSONRendersCompact(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	endpoint, _ := e.whEndpoint(t, e.Key, "https://hooks.example.com/compact", "sale.created")
	// 15 levels of arrays around 5,000 numbers: 10 KiB of JSON, but a line of
	// 30-odd spaces per number when indented.
	meta := `{"a": ` + nested(15, strings.TrimSuffix(strings.Repeat("0,", 5000), ",")) + `}`
	pages := func(metadata string) (salePage, deliveryPage int) {
		t.Helper()
		body := map[string]any{"clickId": s.ClickID, "customerExternalId": uniq("cust")}
		if metadata != "" {
			body["metadata"] = json.RawMessage(metadata)
		}
		id := str(e.sale(t, e.Key, body), "eventId")
		var delivery string
		if err := e.DB.Get(&delivery, `SELECT d.id FROM webhook_deliveries d JOIN webhook_events ev ON ev.workspace_id = d.workspace_id AND ev.id = d.event_id
			WHERE d.endpoint_id = $1 AND ev.payload->'data'->>'id' = $2`, endpoint, id); err != nil {
			t.Fatalf("the sale's delivery: %v", err)
		}
		owner := e.signIn(t)
		sp := owner.get("/sales/"+id).must(t, http.StatusOK)
		dp := owner.get("/webhooks/"+endpoint+"/deliveries/"+delivery).must(t, http.StatusOK)
		return len(sp.Body), len(dp.Body)
	}
	plainSale, plainDelivery := pages("")
	metaSale, metaDelivery := pages(meta)
	// Compact JSON in HTML: the metadata's bytes, its quotes escaped.
	bound := 2 * len(meta)
	if metaSale-plainSale > bound || metaDelivery-plainDelivery > bound {
		t.Fatalf("%d bytes of metadata made the sale page %d bytes larger and the delivery page %d, want at most %d",
			len(meta), metaSale-plainSale, metaDelivery-plainDelivery, bound)
	}
}

// Invalid UTF-8 and lone surrogate escapes are refused in every JSON body,
// naming the field (a path into objects), instead of becoming U+FFFD: two
// different externalIds were one, and the second sale was lost as a
// duplicate.
func TestInvalidTextIsRefusedInEveryBody(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	cm := str(obj(e.sale(t, e.Key, map[string]any{"clickId": s.ClickID, "customerExternalId": uniq("cust")}), "commission"), "id")
	before := e.tableCounts(t)
	sale := func(externalID string) string {
		return `{"externalId": "` + externalID + `", "customerExternalId": "c-utf", "amountCents": 1000, "clickId": "` + s.ClickID + `"}`
	}
	for _, tc := range []struct {
		name, method, path, body, field string
	}{
		{"invalid byte in externalId", "POST", "/api/track/sale", sale("order-\xff"), "externalId"},
		{"another invalid byte", "POST", "/api/track/sale", sale("order-\xfe"), "externalId"},
		{"UTF-8 encoded surrogate", "POST", "/api/track/sale", sale("order-\xed\xa0\x80"), "externalId"},
		{"lone high surrogate", "POST", "/api/track/sale", sale(`order-\ud800`), "externalId"},
		{"lone low surrogate", "POST", "/api/track/sale", sale(`order-\udc00`), "externalId"},
		{"high surrogate then a letter", "POST", "/api/track/sale", sale(`order-\ud800\u0041`), "externalId"},
		{"in metadata", "POST", "/api/track/sale", `{"externalId": "o-meta", "customerExternalId": "c", "amountCents": 1,
			"metadata": {"plan": "pro` + "\xff" + `"}}`, "metadata.plan"},
		{"in a metadata array", "POST", "/api/track/sale", `{"externalId": "o-meta", "customerExternalId": "c", "amountCents": 1,
			"metadata": {"items": ["ok", "\udfff"]}}`, "metadata.items.1"},
		{"in a metadata field name", "POST", "/api/track/sale", `{"externalId": "o-meta", "customerExternalId": "c", "amountCents": 1,
			"metadata": {"pl` + "\xff" + `an": "pro"}}`, "metadata"},
		{"lead", "POST", "/api/track/lead", `{"externalId": "lead-utf", "customerName": "Ann ` + "\xc3" + `"}`, "customerName"},
		{"refund", "POST", "/api/track/refund", `{"externalId": "order-\ud83d"}`, "externalId"},
		{"click", "POST", "/api/track/click", `{"slug": "` + s.Slug + "\xff" + `"}`, "slug"},
		{"program", "POST", "/api/programs", `{"name": "Shop ` + "\xff" + `", "destinationUrl": "https://shop.example.com/"}`, "name"},
		{"program update", "PATCH", "/api/programs/" + s.ProgramID, `{"name": "Shop \udc01"}`, "name"},
		{"partner", "POST", "/api/programs/" + s.ProgramID + "/partners", `{"email": "utf@example.com", "name": "B` + "\xff" + `b"}`, "name"},
		{"reward", "POST", "/api/programs/" + s.ProgramID + "/rewards", `{"event": "lead` + "\xff" + `", "type": "flat", "amountCents": 100, "interval": "one_time"}`, "event"},
		{"webhook", "POST", "/api/webhooks", `{"url": "https://hooks.example.com/` + "\xff" + `", "events": ["sale.created"]}`, "url"},
		{"webhook events", "POST", "/api/webhooks", `{"url": "https://hooks.example.com/x", "events": ["sale.created\ud800"]}`, "events.0"},
		{"commission", "PATCH", "/api/commissions/" + cm, `{"status": "clawed_back", "reason": "fraud ` + "\xff" + `"}`, "reason"},
		{"Stripe", "PUT", "/api/integrations/stripe", `{"webhookSecret": "whsec_` + "\xff" + `"}`, "webhookSecret"},
	} {
		key := e.Key
		if tc.path == "/api/track/click" {
			key = ""
		}
		r := e.call(tc.method, tc.path, key, tc.body)
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "validation_failed" || r.ErrorFields(t)[tc.field] == "" {
			t.Errorf("%s: %d %s, want 400 validation_failed naming %s", tc.name, r.Status, r.Body, tc.field)
		}
	}
	if r := e.call("POST", "/api/programs", e.Key, `{"na`+"\xff"+`me": "Shop", "destinationUrl": "https://shop.example.com/"}`); r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_json" {
		t.Errorf("an invalid top-level field name: %d %s, want 400 invalid_json", r.Status, r.Body)
	}
	if after := e.tableCounts(t); !mapsEqual(before, after) {
		t.Fatalf("refused bodies wrote rows: before %v, after %v", before, after)
	}
	if n := e.count(t, `SELECT count(*) FROM programs WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d programs, want the setup's one", n)
	}
	// Real text, escaped pairs included, is kept as sent.
	for _, ext := range []string{`order-\ud83d\ude00`, "order-😀-2", `order-\u00e9`} {
		e.call("POST", "/api/track/sale", e.Key, sale(ext)).must(t, http.StatusOK)
	}
	if n := e.count(t, `SELECT count(*) FROM events WHERE external_id IN ('order-😀', 'order-😀-2', 'order-é')`); n != 3 {
		t.Fatalf("%d of the 3 sales with real text were stored as sent", n)
	}
}

// Times far outside any plausible range are refused, naming the field.
func TestImplausibleTimesAreRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	before := e.tableCounts(t)
	for _, at := range []string{"0000-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "1970-01-01T00:00:00Z",
		"1999-12-31T23:59:59Z", "9999-12-31T23:59:59Z", time.Now().AddDate(6, 0, 0).UTC().Format(time.RFC3339)} {
		for _, path := range []string{"/api/track/sale", "/api/track/lead"} {
			body := map[string]any{"externalId": uniq("when"), "customerExternalId": "c-when", "amountCents": 1000,
				"clickId": s.ClickID, "occurredAt": at}
			if path == "/api/track/lead" {
				delete(body, "amountCents")
			}
			r := e.call("POST", path, e.Key, body)
			if r.Status != http.StatusBadRequest || r.ErrorFields(t)["occurredAt"] == "" {
				t.Errorf("%s occurredAt %s: %d %s, want 400 naming occurredAt", path, at, r.Status, r.Body)
			}
		}
	}
	if after := e.tableCounts(t); !mapsEqual(before, after) {
		t.Fatalf("refused bodies wrote rows: before %v, after %v", before, after)
	}
	// The earliest plausible time is taken.
	res := e.call("POST", "/api/track/sale", e.Key, map[string]any{"externalId": uniq("y2k"), "customerExternalId": "c-y2k",
		"amountCents": 1000, "clickId": s.ClickID, "occurredAt": "2000-01-01T00:00:00Z"}).must(t, http.StatusOK).Map(t)
	if res["eventId"] == nil {
		t.Fatalf("a sale of 2000-01-01: %v", res)
	}
	// The sales page's date filters too.
	owner := e.signIn(t)
	for _, q := range []string{"from=0000-01-01", "to=9999-12-31"} {
		r := owner.get("/sales?" + q)
		if r.Status >= 500 || !strings.Contains(string(r.Body), "from 2000 to 5 years from now") {
			t.Errorf("/sales?%s: %d, want the filter's error", q, r.Status)
		}
	}
}
