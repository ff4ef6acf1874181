package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/partli/partli/internal/apispec"
	"github.com/partli/partli/internal/secret"
)

// Fixtures: the API calls most tests start with. Each fails the test unless
// the server answers with the documented success status, and returns the
// decoded reply.

var fixtureSeq atomic.Int64

// uniq returns a short name unique within the test binary (partner slugs
// are unique across the installation, not only the workspace).
func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, fixtureSeq.Add(1)) }

// merge returns base with over's keys replacing or (nil values) removing its own.
func merge(base, over map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range over {
		out[k] = v
	}
	return out
}

// program creates a program in e's workspace; body overrides the defaults.
func (e *env) program(t testing.TB, body map[string]any) map[string]any {
	t.Helper()
	return e.programAs(t, e.Key, body)
}

func (e *env) programAs(t testing.TB, key string, body map[string]any) map[string]any {
	t.Helper()
	b := merge(map[string]any{"name": "Program " + uniq("p"), "destinationUrl": "https://shop.example.com/landing"}, body)
	return e.call("POST", "/api/programs", key, b).must(t, http.StatusCreated).Map(t)
}

// group creates a partner group in a program.
func (e *env) group(t testing.TB, programID string, body map[string]any) map[string]any {
	t.Helper()
	b := merge(map[string]any{"name": uniq("group")}, body)
	return e.call("POST", "/api/programs/"+programID+"/groups", e.Key, b).must(t, http.StatusCreated).Map(t)
}

// reward creates a reward; the default is the program's 10 % one-time sale reward.
func (e *env) reward(t testing.TB, programID string, body map[string]any) map[string]any {
	t.Helper()
	return e.rewardAs(t, e.Key, programID, body)
}

func (e *env) rewardAs(t testing.TB, key, programID string, body map[string]any) map[string]any {
	t.Helper()
	b := merge(map[string]any{"event": "sale", "type": "percentage", "percent": 10, "interval": "one_time"}, body)
	return e.call("POST", "/api/programs/"+programID+"/rewards", key, b).must(t, http.StatusCreated).Map(t)
}

// partner adds an (approved) partner to a program with a unique slug.
func (e *env) partner(t testing.TB, programID string, body map[string]any) map[string]any {
	t.Helper()
	return e.partnerAs(t, e.Key, programID, body)
}

func (e *env) partnerAs(t testing.TB, key, programID string, body map[string]any) map[string]any {
	t.Helper()
	slug := uniq("ptn")
	b := merge(map[string]any{"email": slug + "@partners.example.com", "name": "Partner " + slug, "slug": slug}, body)
	return e.call("POST", "/api/programs/"+programID+"/partners", key, b).must(t, http.StatusCreated).Map(t)
}

// click records a click for slug through POST /api/track/click and returns its id.
func (e *env) click(t testing.TB, slug string) string {
	t.Helper()
	m := e.call("POST", "/api/track/click", "", map[string]any{"slug": slug}).must(t, http.StatusOK).Map(t)
	id, _ := m["clickId"].(string)
	if !strings.HasPrefix(id, "c_") {
		t.Fatalf("click id %q does not start with c_", id)
	}
	return id
}

// sale posts a sale with key; body overrides a 100.00 USD sale with a new
// externalId for customer "cust-1".
func (e *env) sale(t testing.TB, key string, body map[string]any) map[string]any {
	t.Helper()
	b := merge(map[string]any{"externalId": uniq("order"), "customerExternalId": "cust-1", "amountCents": 10000}, body)
	return e.call("POST", "/api/track/sale", key, b).must(t, http.StatusOK).Map(t)
}

// opened is a secret as stored (query selects one column of one row),
// which must be sealed, opened with the tests' key; "" stays "".
func (e *env) opened(t testing.TB, query string, args ...any) string {
	t.Helper()
	var stored string
	if err := e.DB.GetContext(context.Background(), &stored, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	if stored == "" {
		return ""
	}
	if _, sealed := secret.SealedBy(stored); !sealed || strings.Contains(stored, "whsec_") {
		t.Fatalf("%s: %q is stored in plain text", query, stored)
	}
	plain, err := testKeys.Open(stored)
	if err != nil {
		t.Fatalf("%s: opening %q: %v", query, stored, err)
	}
	return plain
}

// count runs a SELECT count(*) … and returns the number.
func (e *env) count(t testing.TB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.DB.GetContext(context.Background(), &n, query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// setup is the usual starting point: a program with a 10 % one-time sale
// reward, one approved partner and a click of that partner.
type setup struct {
	Program, Reward, Partner map[string]any
	ProgramID, PartnerID     string
	Slug, ClickID            string
}

func (e *env) setup(t testing.TB) setup {
	t.Helper()
	p := e.program(t, nil)
	pid := p["id"].(string)
	r := e.reward(t, pid, nil)
	pa := e.partner(t, pid, nil)
	s := setup{Program: p, Reward: r, Partner: pa, ProgramID: pid, PartnerID: pa["id"].(string), Slug: pa["slug"].(string)}
	s.ClickID = e.click(t, s.Slug)
	return s
}

// do is call for other goroutines: it never stops the test, it returns the
// transport error instead, and reports a mismatch with the OpenAPI
// document with t.Errorf (safe from any goroutine).
func (e *env) do(t testing.TB, client *http.Client, method, path, key string, body any) (reply, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return reply{}, err
	}
	req, err := http.NewRequest(method, e.URL+path, bytes.NewReader(raw))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if client == nil {
		client = e.NoRedirect
	}
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	if err := specValidator(t).Check(req, raw, resp.StatusCode, resp.Header, got); err != nil && !errors.Is(err, apispec.ErrUndocumented) {
		t.Errorf("%s %s → %d does not match the OpenAPI document: %v\n%s", method, path, resp.StatusCode, err, got)
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: got}, nil
}

// str reads a string field of a decoded JSON object ("" when absent or null).
func str(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}

// obj reads an object field of a decoded JSON object (nil when absent or null).
func obj(m map[string]any, key string) map[string]any {
	o, _ := m[key].(map[string]any)
	return o
}
