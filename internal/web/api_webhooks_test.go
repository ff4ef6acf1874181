package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/partli/partli/internal/config"
)

// HTTP tests of the webhook endpoints API (POST/GET /api/webhooks, PATCH and
// DELETE /api/webhooks/{id}, POST /api/webhooks/{id}/rotate-secret); every
// exchange goes through e.call, which checks it against the OpenAPI document.

func TestWebhookAPILifecycle(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Create: 201 with the secret, this once.
	m := e.call("POST", "/api/webhooks", e.Key, map[string]any{
		"url": "  https://hooks.example.com/partli  ", "events": []string{"commission.updated", "sale.created", "sale.created"},
	}).must(t, http.StatusCreated).Map(t)
	id, secret := str(m, "id"), str(m, "secret")
	if id == "" || !strings.HasPrefix(secret, "whsec_") || len(secret) < 30 {
		t.Fatalf("created %v", m)
	}
	if str(m, "url") != "https://hooks.example.com/partli" || m["enabled"] != true || str(m, "disabledReason") != "" {
		t.Fatalf("created %v", m)
	}
	// Events come back without repeats, in the canonical order.
	if evs, _ := m["events"].([]any); len(evs) != 2 || evs[0] != "sale.created" || evs[1] != "commission.updated" {
		t.Fatalf("events %v", m["events"])
	}
	if stored := e.opened(t, `SELECT secret FROM webhook_endpoints WHERE id = $1`, id); stored != secret {
		t.Fatalf("stored secret %q, want the one returned", stored)
	}

	// List: without the secret.
	second := str(e.call("POST", "/api/webhooks", e.Key, map[string]any{"url": "https://hooks.example.com/second", "events": []string{"lead.created"}}).
		must(t, http.StatusCreated).Map(t), "id")
	r := e.call("GET", "/api/webhooks", e.Key, nil).must(t, http.StatusOK)
	if strings.Contains(string(r.Body), "whsec_") || strings.Contains(string(r.Body), `"secret"`) {
		t.Fatalf("the list shows secrets: %s", r.Body)
	}
	var list struct {
		Data []struct {
			ID  string `json:"id"`
			URL string `json:"url"`
		} `json:"data"`
		NextCursor *string `json:"nextCursor"`
	}
	r.JSON(t, &list)
	if len(list.Data) != 2 || list.Data[0].ID != second || list.Data[1].ID != id || list.NextCursor != nil {
		t.Fatalf("list %+v, want the two endpoints newest first", list)
	}
	// Keyset pages of one.
	r = e.call("GET", "/api/webhooks?limit=1", e.Key, nil).must(t, http.StatusOK)
	r.JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != second || list.NextCursor == nil {
		t.Fatalf("first page %+v", list)
	}
	r = e.call("GET", "/api/webhooks?limit=1&cursor="+*list.NextCursor, e.Key, nil).must(t, http.StatusOK)
	r.JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != id || list.NextCursor != nil {
		t.Fatalf("second page %+v", list)
	}

	// PATCH the URL and events; fields not sent stay.
	m = e.call("PATCH", "/api/webhooks/"+id, e.Key, map[string]any{"url": "https://hooks.example.com/v2", "events": []string{"lead.created"}}).
		must(t, http.StatusOK).Map(t)
	if str(m, "url") != "https://hooks.example.com/v2" || m["enabled"] != true || m["secret"] != nil {
		t.Fatalf("patched %v", m)
	}
	if evs, _ := m["events"].([]any); len(evs) != 1 || evs[0] != "lead.created" {
		t.Fatalf("events %v", m["events"])
	}
	m = e.call("PATCH", "/api/webhooks/"+id, e.Key, map[string]any{"events": []string{"sale.created"}}).must(t, http.StatusOK).Map(t)
	if str(m, "url") != "https://hooks.example.com/v2" {
		t.Fatalf("the URL changed with only events sent: %v", m)
	}

	// Disable, then enable.
	m = e.call("PATCH", "/api/webhooks/"+id, e.Key, map[string]any{"enabled": false}).must(t, http.StatusOK).Map(t)
	if m["enabled"] != false || str(m, "disabledReason") != "Disabled by a user." {
		t.Fatalf("disabled %v", m)
	}
	m = e.call("PATCH", "/api/webhooks/"+id, e.Key, map[string]any{"enabled": true}).must(t, http.StatusOK).Map(t)
	if m["enabled"] != true || str(m, "disabledReason") != "" {
		t.Fatalf("enabled %v", m)
	}

	// Rotate: a new secret, shown once; the old one still signs for a while.
	m = e.call("POST", "/api/webhooks/"+id+"/rotate-secret", e.Key, nil).must(t, http.StatusOK).Map(t)
	rotated := str(m, "secret")
	if str(m, "id") != id || !strings.HasPrefix(rotated, "whsec_") || rotated == secret {
		t.Fatalf("rotated %v", m)
	}
	stored := e.opened(t, `SELECT secret FROM webhook_endpoints WHERE id = $1`, id)
	previous := e.opened(t, `SELECT previous_secret FROM webhook_endpoints WHERE id = $1`, id)
	if stored != rotated || previous != secret {
		t.Fatalf("after rotation: secret %q previous %q", stored, previous)
	}

	// Delete: 204, then gone.
	r = e.call("DELETE", "/api/webhooks/"+id, e.Key, nil).must(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Fatalf("DELETE body %q", r.Body)
	}
	if code := e.call("DELETE", "/api/webhooks/"+id, e.Key, nil).must(t, http.StatusNotFound).ErrorCode(t); code != "not_found" {
		t.Fatalf("second delete: %s", code)
	}
	e.call("PATCH", "/api/webhooks/"+id, e.Key, map[string]any{"enabled": true}).must(t, http.StatusNotFound)
	e.call("POST", "/api/webhooks/"+id+"/rotate-secret", e.Key, nil).must(t, http.StatusNotFound)
	r = e.call("GET", "/api/webhooks", e.Key, nil).must(t, http.StatusOK)
	r.JSON(t, &list)
	if len(list.Data) != 1 || list.Data[0].ID != second {
		t.Fatalf("list after delete %+v", list)
	}
}

func TestWebhookAPIValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := str(e.call("POST", "/api/webhooks", e.Key, map[string]any{"url": "https://hooks.example.com/ok", "events": []string{"sale.created"}}).
		must(t, http.StatusCreated).Map(t), "id")
	for _, tc := range []struct {
		name, method, path string
		body               any
		field              string
	}{
		{"bad URL", "POST", "/api/webhooks", map[string]any{"url": "not a url", "events": []string{"sale.created"}}, "url"},
		{"ftp URL", "POST", "/api/webhooks", map[string]any{"url": "ftp://files.example.com/x", "events": []string{"sale.created"}}, "url"},
		{"no host", "POST", "/api/webhooks", map[string]any{"url": "https:///path", "events": []string{"sale.created"}}, "url"},
		{"URL too long", "POST", "/api/webhooks", map[string]any{"url": "https://hooks.example.com/" + strings.Repeat("a", 2050), "events": []string{"sale.created"}}, "url"},
		{"no URL", "POST", "/api/webhooks", map[string]any{"events": []string{"sale.created"}}, "url"},
		{"URL not a string", "POST", "/api/webhooks", map[string]any{"url": 42, "events": []string{"sale.created"}}, "url"},
		{"no events", "POST", "/api/webhooks", map[string]any{"url": "https://hooks.example.com/x"}, "events"},
		{"empty events", "POST", "/api/webhooks", map[string]any{"url": "https://hooks.example.com/x", "events": []string{}}, "events"},
		{"unknown event", "POST", "/api/webhooks", map[string]any{"url": "https://hooks.example.com/x", "events": []string{"sale.exploded"}}, "events"},
		{"events not an array", "POST", "/api/webhooks", map[string]any{"url": "https://hooks.example.com/x", "events": "sale.created"}, "events"},
		{"PATCH bad URL", "PATCH", "/api/webhooks/" + id, map[string]any{"url": "mailto:a@example.com"}, "url"},
		{"PATCH empty events", "PATCH", "/api/webhooks/" + id, map[string]any{"events": []string{}}, "events"},
		{"PATCH enabled not a boolean", "PATCH", "/api/webhooks/" + id, map[string]any{"enabled": "yes"}, "enabled"},
	} {
		r := e.call(tc.method, tc.path, e.Key, tc.body)
		if r.Status != http.StatusBadRequest || r.ErrorCode(t) != "validation_failed" {
			t.Errorf("%s: status %d %s, want 400 validation_failed", tc.name, r.Status, r.Body)
			continue
		}
		if f := r.ErrorFields(t); f[tc.field] == "" {
			t.Errorf("%s: fields %v, want one for %s", tc.name, f, tc.field)
		}
	}
	// Not JSON, and no key.
	if r := e.call("POST", "/api/webhooks", e.Key, "{"); r.Status != http.StatusBadRequest || r.ErrorCode(t) != "invalid_json" {
		t.Errorf("broken JSON: %d %s", r.Status, r.Body)
	}
	if r := e.call("GET", "/api/webhooks", "", nil); r.Status != http.StatusUnauthorized {
		t.Errorf("no key: %d", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints`); n != 1 {
		t.Fatalf("%d endpoints after invalid requests, want 1", n)
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE url = 'https://hooks.example.com/ok' AND events = '{sale.created}' AND enabled`); n != 1 {
		t.Fatal("an invalid PATCH changed the endpoint")
	}
}

func TestWebhookAPIPrivateAddressRefusedInProduction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Env = "production"; c.WebhookAllowPrivate = false })
	for _, u := range []string{
		"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://api.localhost/hook", "http://10.0.0.5/hook",
		"http://192.168.1.1/hook", "http://169.254.169.254/latest/meta-data", "http://[::1]/hook", "http://0.0.0.0/hook",
		"http://intranet/hook", "http://db.internal/hook",
	} {
		r := e.call("POST", "/api/webhooks", e.Key, map[string]any{"url": u, "events": []string{"sale.created"}})
		if r.Status != http.StatusBadRequest || !strings.Contains(r.ErrorFields(t)["url"], "loopback, private or link-local") {
			t.Errorf("%s: status %d %s, want 400 naming the private address", u, r.Status, r.Body)
		}
	}
	// A public address is fine, and cannot be changed to a private one.
	id := str(e.call("POST", "/api/webhooks", e.Key, map[string]any{"url": "https://93.184.216.34/hook", "events": []string{"sale.created"}}).
		must(t, http.StatusCreated).Map(t), "id")
	r := e.call("PATCH", "/api/webhooks/"+id, e.Key, map[string]any{"url": "http://127.0.0.1/hook"})
	if r.Status != http.StatusBadRequest || r.ErrorFields(t)["url"] == "" {
		t.Fatalf("PATCH to a private address: %d %s", r.Status, r.Body)
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints`); n != 1 {
		t.Fatalf("%d endpoints, want only the public one", n)
	}
}

func TestWebhookAPIPrivateAddressAllowedWhenConfigured(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Env = "production"; c.WebhookAllowPrivate = true })
	e.call("POST", "/api/webhooks", e.Key, map[string]any{"url": "http://127.0.0.1:9999/hook", "events": []string{"sale.created"}}).
		must(t, http.StatusCreated)
}

func TestWebhookAPIOtherWorkspace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := str(e.call("POST", "/api/webhooks", e.Key, map[string]any{"url": "https://acme.example.com/hook", "events": []string{"sale.created"}}).
		must(t, http.StatusCreated).Map(t), "id")
	_, otherKey := e.newWorkspace("Globex")
	for _, tc := range []struct {
		method, path string
		body         any
	}{
		{"PATCH", "/api/webhooks/" + id, map[string]any{"enabled": false}},
		{"PATCH", "/api/webhooks/" + id, map[string]any{"url": "https://globex.example.com/steal"}},
		{"POST", "/api/webhooks/" + id + "/rotate-secret", nil},
		{"DELETE", "/api/webhooks/" + id, nil},
	} {
		r := e.call(tc.method, tc.path, otherKey, tc.body)
		if r.Status != http.StatusNotFound || r.ErrorCode(t) != "not_found" {
			t.Errorf("%s %s with another workspace's key: %d %s, want 404", tc.method, tc.path, r.Status, r.Body)
		}
	}
	r := e.call("GET", "/api/webhooks", otherKey, nil).must(t, http.StatusOK)
	if strings.Contains(string(r.Body), id) {
		t.Fatal("another workspace lists the endpoint")
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND enabled AND url = 'https://acme.example.com/hook' AND previous_secret = ''`, id); n != 1 {
		t.Fatal("another workspace changed the endpoint")
	}
}
