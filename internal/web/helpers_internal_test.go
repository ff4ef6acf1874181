package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

// ctxOf is an echo context for a GET of target with the given headers.
func ctxOf(target string, header http.Header) echo.Context {
	req := httptest.NewRequest(http.MethodGet, target, nil)
	for k, v := range header {
		req.Header[http.CanonicalHeaderKey(k)] = v
	}
	return echo.New().NewContext(req, httptest.NewRecorder())
}

func TestWantsFragment(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header http.Header
		want   bool
	}{
		{"plain request", nil, false},
		{"htmx request", http.Header{"HX-Request": {"true"}}, true},
		{"boosted form or link", http.Header{"HX-Request": {"true"}, "HX-Boosted": {"true"}}, false},
	} {
		if got := wantsFragment(ctxOf("/commissions", tc.header)); got != tc.want {
			t.Errorf("%s: wantsFragment = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestRedirect(t *testing.T) {
	for _, tc := range []struct {
		name       string
		header     http.Header
		status     int
		hxRedirect string
		location   string
	}{
		{"plain form post", nil, http.StatusSeeOther, "", "/commissions/c1"},
		{"htmx request", http.Header{"HX-Request": {"true"}}, http.StatusNoContent, "/commissions/c1", ""},
		{"boosted form post", http.Header{"HX-Request": {"true"}, "HX-Boosted": {"true"}}, http.StatusNoContent, "/commissions/c1", ""},
	} {
		c := ctxOf("/commissions/c1/clawback", tc.header)
		if err := redirect(c, "/commissions/c1"); err != nil {
			t.Fatal(err)
		}
		rec := c.Response().Writer.(*httptest.ResponseRecorder)
		if rec.Code != tc.status || rec.Header().Get("HX-Redirect") != tc.hxRedirect || rec.Header().Get("Location") != tc.location {
			t.Errorf("%s: %d HX-Redirect %q Location %q", tc.name, rec.Code, rec.Header().Get("HX-Redirect"), rec.Header().Get("Location"))
		}
	}
}

func TestDoneMessages(t *testing.T) {
	if got := doneText(ctxOf("/programs/p1?done=saved", nil), donePrograms); got != "Settings saved." {
		t.Errorf("programs saved: %q", got)
	}
	// The same key says what it means on its own page.
	if got := doneText(ctxOf("/webhooks/w1?done=saved", nil), doneWebhooks); got != "Endpoint saved." {
		t.Errorf("webhooks saved: %q", got)
	}
	// A key the page does not know, or text of the URL, shows nothing.
	for _, q := range []string{"", "?done=", "?done=payout_paid", "?done=" + url.QueryEscape("<b>hi</b>")} {
		if got := doneText(ctxOf("/programs"+q, nil), donePrograms); got != "" {
			t.Errorf("programs %q: %q", q, got)
		}
		if got := doneFlash(ctxOf("/programs"+q, nil), donePrograms); got != (dashboard.Flash{}) {
			t.Errorf("programs %q: flash %+v", q, got)
		}
	}
	if got := doneFlash(ctxOf("/payouts/po1?done=payout_paid", nil), donePayouts); got.Kind != "success" || got.Message != "Payout marked paid; its commissions are paid." {
		t.Errorf("payout paid: %+v", got)
	}
	if got := doneFlash(ctxOf("/payouts/po1?done=payout_failed", nil), donePayouts); got.Kind != "error" || !strings.HasPrefix(got.Message, "Stripe refused the transfer") {
		t.Errorf("payout failed: %+v", got)
	}
	// Every page's table has texts, and no failure names a key its page lacks.
	for page, m := range doneMessages {
		for k, v := range m {
			if strings.TrimSpace(v) == "" || !strings.HasSuffix(v, ".") {
				t.Errorf("%s %q: %q", page, k, v)
			}
		}
	}
	for page, m := range doneFailures {
		for k := range m {
			if doneMessages[page][k] == "" {
				t.Errorf("failure %s %q has no message", page, k)
			}
		}
	}
}

func TestReadPage(t *testing.T) {
	cur := store.Cursor{CreatedAt: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ID: "cm_1"}
	enc := url.QueryEscape(cur.Encode())

	p, err := pageOf(ctxOf("/api/programs", nil))
	if err != nil || p.Limit != apiPageLimit || p.Cursor != nil {
		t.Fatalf("no parameters: %+v %v", p, err)
	}
	p, err = pageOf(ctxOf("/api/programs?limit=200&cursor="+enc, nil))
	if err != nil || p.Limit != 200 || p.Cursor == nil || *p.Cursor != cur {
		t.Fatalf("limit and cursor: %+v %v", p, err)
	}
	p, err = queryPage(ctxOf("/webhooks/w1?dcursor="+enc+"&limit=3", nil), "dcursor", 25)
	if err != nil || p.Limit != 25 || p.Cursor == nil || *p.Cursor != cur {
		t.Fatalf("a dashboard list ignores ?limit=: %+v %v", p, err)
	}

	// Refusals: 400, the fields named in error.fields and in the message.
	wantRefused := func(name string, err error, fields ...string) {
		t.Helper()
		var e *APIError
		if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "validation_failed" || len(e.Fields) != len(fields) {
			t.Fatalf("%s: %#v", name, err)
		}
		for _, f := range fields {
			if e.Fields[f] == "" || !strings.Contains(e.Message, "The page parameter "+f+" ") {
				t.Fatalf("%s: field %s not named: %+v", name, f, e)
			}
		}
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "limit=-1", "limit=1.5"} {
		_, err := pageOf(ctxOf("/api/programs?"+q, nil))
		wantRefused(q, err, "limit")
	}
	_, err = pageOf(ctxOf("/api/programs?cursor=garbage", nil))
	wantRefused("api cursor", err, "cursor")
	_, err = pageOf(ctxOf("/api/programs?cursor=garbage&limit=0", nil))
	wantRefused("both", err, "cursor", "limit")
	_, err = queryPage(ctxOf("/partners/p1?clicks=garbage", nil), "clicks", 20)
	wantRefused("dashboard cursor", err, "clicks")
	_, err = cursorPage("cursor", "garbage", 20)
	wantRefused("form cursor", err, "cursor")
	wantRefused("balance cursor", badPageParam("balances"), "balances")

	p, err = cursorPage("cursor", "", 20)
	if err != nil || p.Limit != 20 || p.Cursor != nil {
		t.Fatalf("empty form cursor: %+v %v", p, err)
	}
}

func TestNotFoundPage(t *testing.T) {
	var he *echo.HTTPError
	if err := notFoundPage("payout"); !errors.As(err, &he) || he.Code != http.StatusNotFound || he.Message != "There is no such payout in this workspace." {
		t.Fatalf("notFoundPage: %#v", err)
	}
}
