package testdb

import (
	"context"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func hasTable(t *testing.T, db *sqlx.DB, table string) bool {
	t.Helper()
	var ok bool
	if err := db.Get(&ok, "SELECT to_regclass($1) IS NOT NULL", table); err != nil {
		t.Fatal(err)
	}
	return ok
}

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	if strings.Contains(dbURL, "://") {
		u, err := url.Parse(dbURL)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(u.Path, "/")
	}
	i := strings.LastIndex(dbURL, "dbname='")
	return strings.TrimSuffix(dbURL[i+len("dbname='"):], "'")
}

func TestNew(t *testing.T) {
	start := time.Now()
	a, aURL := New(t)
	t.Logf("first New (cluster setup + one database): %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	b, bURL := New(t)
	t.Logf("second New: %s", time.Since(start).Round(time.Millisecond))

	if aURL == bURL {
		t.Fatalf("both databases at %s", aURL)
	}
	for _, db := range []*sqlx.DB{a, b} {
		if !hasTable(t, db, "workspaces") {
			t.Fatal("no workspaces table: migrations not applied")
		}
		var n int
		if err := db.Get(&n, "SELECT count(*) FROM goose_db_version WHERE version_id > 0"); err != nil || n == 0 {
			t.Fatalf("goose_db_version: %d rows, %v", n, err)
		}
	}

	// Isolation: what one test makes, the other does not see.
	if _, err := a.Exec("CREATE TABLE only_in_a (n int)"); err != nil {
		t.Fatal(err)
	}
	if hasTable(t, b, "only_in_a") {
		t.Error("a table made in one test database shows in another")
	}

	// The URL opens the same database.
	c, err := sqlx.Open("postgres", aURL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !hasTable(t, c, "only_in_a") {
		t.Errorf("%s is not the database New returned", aURL)
	}
}

func TestNewDropsOnCleanup(t *testing.T) {
	var name string
	t.Run("inner", func(t *testing.T) {
		db, u := New(t)
		name = dbName(t, u)
		// An open transaction must not keep the database from being dropped.
		tx, err := db.Beginx()
		if err != nil {
			t.Fatal(err)
		}
		_ = tx
	})
	db, _ := New(t)
	var n int
	if err := db.Get(&n, "SELECT count(*) FROM pg_database WHERE datname = $1", name); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("database %s still exists after its test ended", name)
	}
}

// TestNewParallel: many tests asking at once all get their own database.
func TestNewParallel(t *testing.T) {
	const n = 12
	var mu sync.Mutex
	seen := map[string]bool{}
	start := time.Now()
	t.Run("group", func(t *testing.T) {
		for i := 0; i < n; i++ {
			t.Run("", func(t *testing.T) {
				t.Parallel()
				db, u := New(t)
				if !hasTable(t, db, "workspaces") {
					t.Error("no workspaces table")
				}
				mu.Lock()
				seen[u] = true
				mu.Unlock()
			})
		}
	})
	t.Logf("%d parallel New + drop: %s", n, time.Since(start).Round(time.Millisecond))
	if len(seen) != n {
		t.Errorf("%d distinct databases for %d tests", len(seen), n)
	}
}

func TestNewCluster(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	c := NewCluster(t)
	t.Logf("first NewCluster (initdb + migrate + copy + start): %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	other := NewCluster(t)
	t.Logf("second NewCluster (copy + start): %s", time.Since(start).Round(time.Millisecond))
	if other.URL("partli") == c.URL("partli") {
		t.Fatalf("two NewCluster calls share %s", c.URL("partli"))
	}

	db, err := sqlx.Open("postgres", c.URL("partli"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if !hasTable(t, db, "workspaces") {
		t.Fatal("no workspaces table in database partli")
	}

	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(ctx); err == nil {
		t.Fatal("ping works with the server stopped")
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var ok bool
	for i := 0; i < 3; i++ { // the pool drops its dead connections first
		if err = db.Get(&ok, "SELECT to_regclass('workspaces') IS NOT NULL"); err == nil {
			break
		}
	}
	if err != nil || !ok {
		t.Fatalf("after restart: %v, %v", ok, err)
	}

	// The other cluster is its own.
	if _, err := db.Exec("CREATE TABLE only_in_c (n int)"); err != nil {
		t.Fatal(err)
	}
	odb, err := sqlx.Open("postgres", other.URL("partli"))
	if err != nil {
		t.Fatal(err)
	}
	defer odb.Close()
	if !hasTable(t, odb, "workspaces") || hasTable(t, odb, "only_in_c") {
		t.Error("the second cluster is not a migrated cluster of its own")
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:p@db:5432/postgres?sslmode=disable", "postgres://u:p@db:5432/x?sslmode=disable"},
		{"postgresql://u@/postgres?host=/run/pg&port=5432", "postgresql://u@/x?host=/run/pg&port=5432"},
		{"host=/run/pg user=u dbname=postgres", "host=/run/pg user=u dbname=postgres dbname='x'"},
	} {
		if got := withDatabase(tc.in, "x"); got != tc.want {
			t.Errorf("withDatabase(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// BenchmarkNew measures what New and its cleanup cost per test, past the
// one-time setup.
func BenchmarkNew(b *testing.B) {
	if err := ensureShared(); err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var create, drop time.Duration
	for b.Loop() {
		start := time.Now()
		name, err := createDatabase(ctx)
		if err != nil {
			b.Fatal(err)
		}
		create += time.Since(start)
		start = time.Now()
		if err := dropDatabase(ctx, name); err != nil {
			b.Fatal(err)
		}
		drop += time.Since(start)
	}
	b.ReportMetric(float64(create.Milliseconds())/float64(b.N), "create-ms/op")
	b.ReportMetric(float64(drop.Milliseconds())/float64(b.N), "drop-ms/op")
}
