// Package testdb gives each test its own migrated PostgreSQL database.
//
// A package's tests opt in with
//
//	func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }
//
// and then call New (a fresh database, dropped when the test ends) or
// NewCluster (a whole private server, for tests that stop and restart it).
//
// A test binary starts one server, on its first New, with a migrated
// database partli_template; each New copies it (CREATE DATABASE ... TEMPLATE,
// tens of milliseconds). NewCluster, on first use, makes one more cluster,
// migrated and stopped, and each call starts a file copy of it: no initdb or
// migration per test. Everything lives in one os.MkdirTemp folder that is
// removed at the end, also when the test binary is killed or times out: a
// small watchdog process stops the servers and removes it once the binary is
// gone.
//
// With PARTLI_TEST_DATABASE_URL set to an existing PostgreSQL on which we may
// create databases, New uses that server instead of starting one.
//
// With PARTLI_TEST_CITUS=1, and the citus extension installed beside the
// PostgreSQL binaries, New's server is a Citus cluster instead: a
// coordinator and two workers (three private servers), whose template is
// migrated on the coordinator (partli migrate distributes the tables) and
// copied on every node for each test. Without the extension the tests say
// so once and run on plain PostgreSQL.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/partli/partli/internal/pg"
	"github.com/partli/partli/internal/store"
)

// EnvURL names the environment variable that points New at an existing
// server, e.g. postgres://postgres@localhost:5432/postgres?sslmode=disable.
const EnvURL = "PARTLI_TEST_DATABASE_URL"

// Template is the migrated database every test database is copied from.
const Template = "partli_template"

// EnvCitus names the environment variable that asks for a Citus cluster.
const EnvCitus = "PARTLI_TEST_CITUS"

var (
	mainCalled atomic.Bool
	runID      = newRunID() // keeps names apart on a shared external server
	seq        atomic.Int64

	rootOnce sync.Once
	rootErr  error
	root     string   // MkdirTemp folder holding every cluster below
	watchdog *os.File // closing it, or exiting, sets the watchdog off

	pristineOnce sync.Once
	pristineErr  error
	pristineDir  string // root/pristine: migrated, stopped; NewCluster copies it

	sharedOnce sync.Once
	sharedErr  error
	shared     *pg.Cluster // nil when using EnvURL
	admin      *sql.DB     // maintenance connection to New's server
	serverURL  string      // URL of New's server; withDatabase swaps the database in
	template   string      // Template, or a name of our own on an external server
	strategy   string      // CREATE DATABASE option, see chooseStrategy

	// PostgreSQL refuses to copy a template that is being copied.
	templateMu sync.Mutex

	// Citus: the workers and their maintenance connections (nil otherwise).
	workers      []*pg.Cluster
	workerAdmins []*sql.DB
)

// Citus reports whether New's databases are on a Citus cluster.
func Citus() bool { return len(workers) > 0 }

// Main runs the package's tests and then removes every server and database
// they made. Use it from TestMain: os.Exit(testdb.Main(m)).
func Main(m *testing.M) int {
	mainCalled.Store(true)
	code := m.Run()
	if err := teardown(); err != nil {
		fmt.Fprintln(os.Stderr, "testdb:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// New returns a connection to a new database with every migration applied,
// and its URL. It is dropped when the test ends.
func New(t testing.TB) (*sqlx.DB, string) {
	t.Helper()
	if err := ensureShared(); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	ctx := context.Background()
	name, err := createDatabase(ctx)
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}

	dbURL := withDatabase(serverURL, name)
	db, err := sqlx.Open("postgres", dbURL)
	if err == nil {
		err = db.PingContext(ctx)
	}
	t.Cleanup(func() {
		if db != nil {
			db.Close()
		}
		if err := dropDatabase(ctx, name); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	if err != nil {
		t.Fatalf("testdb: open %s: %v", dbURL, err)
	}
	return db, dbURL
}

// createDatabase copies the template into a database of a new name.
func createDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("partli_test_%s_%d", runID, seq.Add(1))
	templateMu.Lock()
	defer templateMu.Unlock()
	// On Citus, the workers' copies first: the coordinator's copy names
	// shards that live in the workers' databases of the same name.
	for _, db := range append(append([]*sql.DB{}, workerAdmins...), admin) {
		_, err := db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name)+" TEMPLATE "+pq.QuoteIdentifier(template)+strategy)
		if err != nil {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return name, nil
}

// dropDatabase drops the database on every node. On Citus a DROP can
// meet the database's citus maintenance daemon (a background worker, which
// FORCE asks to stop but does not end) opening a connection to it, which
// waits for the DROP's lock while the DROP waits for the daemon, until the
// DROP gives up (after 5 s). So the database first stops taking
// connections, which makes such a connection fail once the DROP gave up,
// and the daemon stop; the DROP is then tried again.
func dropDatabase(ctx context.Context, name string) error {
	for _, db := range append([]*sql.DB{admin}, workerAdmins...) {
		if Citus() {
			if _, err := db.ExecContext(ctx, "ALTER DATABASE "+pq.QuoteIdentifier(name)+" WITH ALLOW_CONNECTIONS false"); err != nil {
				return fmt.Errorf("drop database %s: %w", name, err)
			}
		}
		for attempt := 1; ; attempt++ {
			_, err := db.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)")
			var pe *pq.Error
			if err != nil && Citus() && attempt < 4 && errors.As(err, &pe) && pe.Code == "55006" { // object_in_use
				continue
			}
			if err != nil {
				return fmt.Errorf("drop database %s: %w", name, err)
			}
			break
		}
	}
	return nil
}

// NewCluster starts a private PostgreSQL server, for tests that stop and
// restart it, with a migrated database "partli" (c.URL("partli")). It is
// stopped and removed when the test ends.
func NewCluster(t testing.TB) *pg.Cluster {
	t.Helper()
	if err := ensurePristine(); err != nil {
		t.Fatalf("testdb: %v", err)
	}
	dir, err := os.MkdirTemp(root, "cluster-")
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := copyTree(filepath.Join(pristineDir, "data"), filepath.Join(dir, "data")); err != nil {
		t.Fatalf("testdb: copy the pristine cluster: %v", err)
	}
	c, err := pg.Start(context.Background(), pg.Options{Dir: dir, Fast: true})
	if err != nil {
		t.Fatalf("testdb: %v", err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("testdb: %v", err)
		}
	})
	return c
}

var errNoMain = errors.New("the package's TestMain must call testdb.Main: func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }")

func ensureRoot() error {
	rootOnce.Do(func() { rootErr = setupRoot() })
	return rootErr
}

func ensureShared() error {
	sharedOnce.Do(func() { sharedErr = setupShared() })
	return sharedErr
}

func ensurePristine() error {
	pristineOnce.Do(func() { pristineErr = setupPristine() })
	return pristineErr
}

// setupRoot makes the folder every cluster of this test binary lives in.
func setupRoot() error {
	if !mainCalled.Load() {
		return errNoMain
	}
	if _, err := pg.FindBinDir(); err != nil {
		return fmt.Errorf("%w; or set %s to a PostgreSQL server where tests may create databases", err, EnvURL)
	}
	// Not t.TempDir(): as root, PostgreSQL runs as the postgres user, who
	// may not enter it. pg.Start hands the folders below to that user.
	var err error
	root, err = os.MkdirTemp("", "partli-test-")
	if err != nil {
		return err
	}
	if err := startWatchdog(root); err != nil {
		return err
	}
	return pg.ChownToServerUser(root)
}

// setupShared starts the server New makes its databases on, with the
// migrated template, or prepares the one EnvURL names.
func setupShared() error {
	if !mainCalled.Load() {
		return errNoMain
	}
	ctx := context.Background()
	if u := os.Getenv(EnvURL); u != "" {
		serverURL = u
		template = Template + "_" + runID
		if err := openAdmin(ctx); err != nil {
			return fmt.Errorf("%s: %w", EnvURL, err)
		}
		if _, err := admin.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(template)); err != nil {
			return fmt.Errorf("%s: create database %s: %w", EnvURL, template, err)
		}
		return migrate(ctx, withDatabase(serverURL, template))
	}

	if err := ensureRoot(); err != nil {
		return err
	}
	if os.Getenv(EnvCitus) != "" {
		if pg.HasExtension("citus") {
			return setupCitus(ctx)
		}
		fmt.Fprintf(os.Stderr, "testdb: %s is set but the citus extension is not installed: these tests run on plain PostgreSQL\n", EnvCitus)
	}
	c, err := pg.Start(ctx, pg.Options{Dir: filepath.Join(root, "shared"), Fast: true})
	if err != nil {
		return err
	}
	shared, serverURL, template = c, c.URL("postgres"), Template
	if err := c.CreateDatabase(ctx, Template, ""); err != nil {
		return err
	}
	if err := migrate(ctx, c.URL(Template)); err != nil {
		return err
	}
	return openAdmin(ctx)
}

// setupPristine makes the cluster NewCluster copies: migrated database
// partli, cleanly stopped so that copies start without recovery. It is an
// initdb of its own rather than a copy of the shared server, which runs.
func setupPristine() error {
	if err := ensureRoot(); err != nil {
		return err
	}
	ctx := context.Background()
	pristineDir = filepath.Join(root, "pristine")
	c, err := pg.Start(ctx, pg.Options{Dir: pristineDir, Fast: true})
	if err != nil {
		return err
	}
	defer c.Stop()
	if err := c.CreateDatabase(ctx, "partli", ""); err != nil {
		return err
	}
	if err := migrate(ctx, c.URL("partli")); err != nil {
		return err
	}
	return c.Stop()
}

func openAdmin(ctx context.Context) error {
	db, err := sql.Open("postgres", serverURL)
	if err != nil {
		return err
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return err
	}
	admin = db
	return chooseStrategy(ctx)
}

// chooseStrategy picks FILE_COPY where PostgreSQL (15+) offers a choice: it
// copies a small template's files at once, where the default, WAL_LOG, reads
// and logs it block by block; the checkpoints FILE_COPY needs are cheap with
// fsync off.
func chooseStrategy(ctx context.Context) error {
	var version int
	if err := admin.QueryRowContext(ctx, "SELECT current_setting('server_version_num')::int").Scan(&version); err != nil {
		return err
	}
	if version >= 150000 {
		strategy = " STRATEGY FILE_COPY"
	}
	return nil
}

func migrate(ctx context.Context, dbURL string) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db); err != nil {
		return err
	}
	// Close now: a template with a session open cannot be copied.
	return db.Close()
}

func teardown() error {
	var errs []error
	if admin != nil {
		if shared == nil { // external server: drop what we made
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if _, err := admin.ExecContext(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(template)+" WITH (FORCE)"); err != nil {
				errs = append(errs, fmt.Errorf("drop database %s: %w", template, err))
			}
			cancel()
		}
		admin.Close()
	}
	for _, db := range workerAdmins {
		db.Close()
	}
	for _, w := range workers {
		if err := w.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if shared != nil {
		if err := shared.Destroy(); err != nil {
			errs = append(errs, err)
		}
	}
	if root != "" {
		if err := os.RemoveAll(root); err != nil {
			errs = append(errs, err)
		}
	}
	if watchdog != nil {
		watchdog.Close()
	}
	return errors.Join(errs...)
}

// withDatabase points a server URL, in URL or key=value form, at database
// name.
func withDatabase(server, name string) string {
	if strings.HasPrefix(server, "postgres://") || strings.HasPrefix(server, "postgresql://") {
		u, err := url.Parse(server)
		if err == nil {
			u.Path, u.RawPath = "/"+name, ""
			return u.String()
		}
	}
	// In key=value form the last of a repeated key wins.
	return server + " dbname='" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(name) + "'"
}

func newRunID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
