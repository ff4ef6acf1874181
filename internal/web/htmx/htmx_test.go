package htmx

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestOf(t *testing.T) {
	r := httptest.NewRequest(http.MethodPost, "/commissions/c1/clawback", nil)
	// Header names are case-insensitive on the wire; htmx writes them so.
	r.Header["HX-Request"] = []string{"true"}
	r.Header.Set("Hx-Boosted", "true")
	r.Header.Set("HX-Target", "commission-c1")
	r.Header.Set("HX-Trigger", "clawback-c1")
	r.Header.Set("HX-Trigger-Name", "reason")
	r.Header.Set("HX-Current-URL", "https://partli.test/commissions")
	r.Header.Set("HX-History-Restore-Request", "true")
	// Parsed again, so the canonical form of the names is what is read.
	r2 := httptest.NewRequest(http.MethodPost, "/", nil)
	for k, v := range r.Header {
		r2.Header[http.CanonicalHeaderKey(k)] = v
	}
	got := Of(r2)
	want := Request{Enabled: true, Boosted: true, HistoryRestore: true, Target: "commission-c1", Trigger: "clawback-c1",
		TriggerName: "reason", CurrentURL: "https://partli.test/commissions"}
	if got != want {
		t.Fatalf("Of = %+v, want %+v", got, want)
	}
}

func TestFragment(t *testing.T) {
	for _, tc := range []struct {
		name             string
		request, boosted string
		want             bool
	}{
		{"plain browser request", "", "", false},
		{"htmx request", "true", "", true},
		{"boosted navigation", "true", "true", false},
		{"boosted without HX-Request", "", "true", false},
		{"not the text true", "1", "", false},
		{"boosted flag not true", "true", "false", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if tc.request != "" {
				r.Header.Set(HeaderRequest, tc.request)
			}
			if tc.boosted != "" {
				r.Header.Set(HeaderBoosted, tc.boosted)
			}
			if got := Of(r).Fragment(); got != tc.want {
				t.Fatalf("Fragment() = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestResponseApply(t *testing.T) {
	h := http.Header{}
	Response{Redirect: "/commissions/c1", Location: "/programs", PushURL: "false", Reswap: "innerHTML", Retarget: "#main", Refresh: true}.Apply(h)
	want := map[string]string{
		"HX-Redirect": "/commissions/c1", "HX-Location": "/programs", "HX-Push-Url": "false",
		"HX-Reswap": "innerHTML", "HX-Retarget": "#main", "HX-Refresh": "true",
	}
	for k, v := range want {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}

	h = http.Header{}
	h.Set("HX-Reswap", "outerHTML")
	Response{Retarget: "#main"}.Apply(h)
	if len(h) != 2 || h.Get("HX-Reswap") != "outerHTML" || h.Get("HX-Retarget") != "#main" {
		t.Fatalf("an empty field set or cleared a header: %v", h)
	}
}
