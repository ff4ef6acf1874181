package web_test

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
)

// TestDatabaseGoesAway stops PostgreSQL under a running server: tracking
// calls answer 503 "unavailable" with Retry-After, quickly and never 500, and
// succeed again once the database is back.
func TestDatabaseGoesAway(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t0 := time.Now()
	cluster := testdb.NewCluster(t)
	t.Logf("cluster up after %v", time.Since(t0))
	db, err := store.Open(ctx, cluster.URL("partli"), 5)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := newEnvOn(t, db, testConfig())
	s := e.setup(t)
	client := &http.Client{Timeout: 15 * time.Second}

	post := func(i int) (reply, time.Duration) {
		t.Helper()
		start := time.Now()
		r, err := e.do(t, client, "POST", "/api/track/sale", e.Key, map[string]any{
			"externalId": fmt.Sprintf("o-%d", i), "customerExternalId": "c", "amountCents": 1000, "clickId": s.ClickID})
		if err != nil {
			t.Fatalf("sale %d: %v (after %v)", i, err, time.Since(start))
		}
		return r, time.Since(start)
	}
	for i := range 3 {
		if r, _ := post(i); r.Status != http.StatusOK {
			t.Fatalf("sale %d with the database up: %d %s", i, r.Status, r.Body)
		}
	}

	t.Logf("stopping after %v", time.Since(t0))
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = cluster.Start(context.Background())
		}
	})
	for i := 10; i < 15; i++ {
		r, took := post(i)
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("sale %d with the database down: status %d, want 503: %s", i, r.Status, r.Body)
		}
		wantError(t, r, http.StatusServiceUnavailable, "unavailable")
		if n, err := strconv.Atoi(r.Header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After %q, want whole seconds", r.Header.Get("Retry-After"))
		}
		if took > 12*time.Second {
			t.Fatalf("the 503 took %v", took)
		}
	}
	// Reads too; and the health check says so.
	wantError(t, e.call("GET", "/api/commissions", e.Key, nil), http.StatusServiceUnavailable, "unavailable")
	if r := e.call("GET", "/healthz", "", nil); r.Status != http.StatusServiceUnavailable {
		t.Errorf("/healthz with the database down: %d", r.Status)
	}

	t.Logf("starting after %v", time.Since(t0))
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	t.Logf("started after %v", time.Since(t0))
	deadline := time.Now().Add(15 * time.Second)
	for i := 20; ; i++ {
		r, _ := post(i)
		if r.Status == http.StatusOK {
			if m := r.Map(t); m["attributed"] != true || m["duplicate"] != false {
				t.Fatalf("first sale after the restart: %v", m)
			}
			break
		}
		if r.Status != http.StatusServiceUnavailable {
			t.Fatalf("sale %d after the restart: status %d: %s", i, r.Status, r.Body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("still 503 15 s after the database came back: %s", r.Body)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for i := 40; i < 43; i++ {
		if r, _ := post(i); r.Status != http.StatusOK {
			t.Fatalf("sale %d after the restart: %d %s", i, r.Status, r.Body)
		}
	}
	// Nothing was half-written while the database was away.
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM events`); err != nil {
		t.Fatal(err)
	}
	if n != 7 {
		t.Fatalf("%d sales stored, want 7 (3 before, 4 after)", n)
	}
}
