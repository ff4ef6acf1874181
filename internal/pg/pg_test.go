package pg

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
)

// newTestCluster starts a cluster in a folder the postgres user can reach
// (t.TempDir() is private to root) and destroys it when the test ends.
func newTestCluster(t *testing.T) *Cluster {
	t.Helper()
	dir, err := os.MkdirTemp("", "partli-pg-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	start := time.Now()
	var log bytes.Buffer
	c, err := Start(context.Background(), Options{Dir: dir, Fast: true, Log: &log})
	if err != nil {
		if errors.Is(err, ErrNoBinaries) {
			t.Skip(err)
		}
		t.Fatal(err)
	}
	t.Logf("initdb + start: %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(log.String(), "database system") {
		t.Errorf("initdb's output did not reach Options.Log: %q", log.String())
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Error(err)
		}
	})
	return c
}

func selectOne(ctx context.Context, url string) error {
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		return err
	}
	defer db.Close()
	var n int
	if err := db.GetContext(ctx, &n, "SELECT 1"); err != nil {
		return err
	}
	if n != 1 {
		return errors.New("SELECT 1 returned " + strconv.Itoa(n))
	}
	return nil
}

func TestFindBinDir(t *testing.T) {
	dir, err := FindBinDir()
	if errors.Is(err, ErrNoBinaries) {
		if !strings.Contains(err.Error(), "apt-get install postgresql") {
			t.Errorf("error does not say what to install: %v", err)
		}
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			t.Error(err)
		}
	}
}

func TestDirVersion(t *testing.T) {
	dirs := []string{
		"/usr/lib/postgresql/9.6/bin",
		"/usr/lib/postgresql/15/bin",
		"/usr/lib/postgresql/16/bin",
		"/usr/pgsql-14/bin",
		"/opt/homebrew/opt/postgresql@17/bin",
	}
	want := []string{"9.6", "15", "16", "14", "17"}
	for i, d := range dirs {
		var parts []string
		for _, n := range dirVersion(d) {
			parts = append(parts, strconv.Itoa(n))
		}
		if got := strings.Join(parts, "."); got != want[i] {
			t.Errorf("dirVersion(%q) = %q, want %q", d, got, want[i])
		}
	}
	if !versionLess(dirVersion(dirs[0]), dirVersion(dirs[1])) || versionLess(dirVersion(dirs[2]), dirVersion(dirs[1])) {
		t.Error("versionLess orders 9.6 < 15 < 16 wrongly")
	}
}

func TestURL(t *testing.T) {
	c := &Cluster{SocketDir: "/tmp/partli-x/run", Port: 5432}
	want := "postgres://postgres@/partli?host=/tmp/partli-x/run&port=5432&sslmode=disable"
	if got := c.URL("partli"); got != want {
		t.Errorf("URL = %q, want %q", got, want)
	}
}

// TestStopStart is what the app's tests rely on: the database goes away and
// comes back on the same Cluster value.
func TestStopStart(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newTestCluster(t)

	if err := c.CreateDatabase(ctx, "app", ""); err != nil {
		t.Fatal(err)
	}
	url := c.URL("app")
	if err := selectOne(ctx, url); err != nil {
		t.Fatalf("%s: %v", url, err)
	}

	// A pool kept across the outage, as the app keeps one.
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)"); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("stop: %s", time.Since(start).Round(time.Millisecond))
	if err := c.Stop(); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if err := selectOne(ctx, url); err == nil {
		t.Fatal("query works on a stopped cluster")
	}

	start = time.Now()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("start again: %s", time.Since(start).Round(time.Millisecond))
	if err := selectOne(ctx, url); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// The old pool recovers once its dead connections are thrown away.
	var n int
	for i := 0; i < 3; i++ {
		if err = db.GetContext(ctx, &n, "SELECT n FROM kept"); err == nil {
			break
		}
	}
	if err != nil || n != 42 {
		t.Fatalf("old pool after restart: n=%d, %v", n, err)
	}

	if err := c.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(ctx, url); err != nil {
		t.Fatalf("after Restart: %v", err)
	}
	for i := 0; i < 3; i++ { // the pool holds a live session on "app" again
		if err = db.PingContext(ctx); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatal(err)
	}

	db.Close() // PostgreSQL copies no template that has sessions
	if err := c.CreateDatabase(ctx, "copy", "app"); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(ctx, c.URL("copy")); err != nil {
		t.Fatal(err)
	}
	if err := c.DropDatabase(ctx, "copy"); err != nil {
		t.Fatal(err)
	}
	if err := c.DropDatabase(ctx, "copy"); err != nil {
		t.Fatalf("dropping a missing database: %v", err)
	}
	if err := selectOne(ctx, c.URL("copy")); err == nil {
		t.Error("dropped database still answers")
	}
}

// TestKilled: a server killed without a chance to clean up leaves
// postmaster.pid behind; Start must cope, on the same value and on a new one.
func TestKilled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := newTestCluster(t)

	// An open session: its backend outlives the postmaster for a moment.
	db, err := sqlx.Open("postgres", c.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.PingContext(ctx); err != nil {
		t.Fatal(err)
	}

	pidFile := filepath.Join(c.DataDir, "postmaster.pid")
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for i := 0; syscall.Kill(pid, 0) == nil && !isZombie(pid) && i < 100; i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(pidFile); err != nil {
		t.Fatalf("expected a stale postmaster.pid: %v", err)
	}

	start := time.Now()
	c2, err := Start(ctx, Options{Dir: c.Dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("start after kill -9: %s", time.Since(start).Round(time.Millisecond))
	if err := selectOne(ctx, c2.URL("postgres")); err != nil {
		t.Fatal(err)
	}

	// A second Start on a running folder adopts the server.
	c3, err := Start(ctx, Options{Dir: c.Dir, Fast: true})
	if err != nil {
		t.Fatal(err)
	}
	if c3.URL("postgres") != c.URL("postgres") {
		t.Errorf("adopted URL %q, want %q", c3.URL("postgres"), c.URL("postgres"))
	}
	if err := selectOne(ctx, c3.URL("postgres")); err != nil {
		t.Fatal(err)
	}
}

func TestUnreachableDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs PostgreSQL as another user")
	}
	if _, err := FindBinDir(); err != nil {
		t.Skip(err)
	}
	private, err := os.MkdirTemp("", "partli-pg-private-") // 0700, owned by root
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(private) })
	dir := filepath.Join(private, "pg")
	_, err = Start(context.Background(), Options{Dir: dir, Fast: true})
	if err == nil {
		t.Fatal("started a cluster the postgres user cannot reach")
	}
	if !strings.Contains(err.Error(), "may not enter "+private+" ") {
		t.Errorf("error does not name %s: %v", private, err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("created %s anyway", dir)
	}
}
