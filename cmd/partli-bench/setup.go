package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/lib/pq"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/pg"
)

// env is what the benchmark runs against: a cluster, a Partli server and
// the data it set up.
type env struct {
	dir       string
	removeDir bool
	cluster   *pg.Cluster
	db        *sql.DB // the partli database, for seeding and checks
	bin       string  // the partli binary
	runID     string  // keeps this run's external ids apart

	server      *exec.Cmd
	serverDone  chan struct{} // closed when the server has exited
	addr        string
	baseURL     string
	debugAddr   string // the server's PARTLI_DEBUG_ADDR when profiling
	metricsAddr string // the server's PARTLI_METRICS_ADDR (GET /metrics)
	client      *http.Client

	apiKey      string
	workspaceID string
	programID   string
	slugs       []string
	nClicks     int
	existing    int64 // sales in the workspace so far

	pgSettings map[string]string
	statements bool // pg_stat_statements is loaded
}

// Settings for the benchmark's cluster on top of pg's defaults: a buffer
// cache and WAL budget a small production server would have (shared_buffers
// below the customary quarter of the 24 GB of the 2-core AMD EPYC VM the
// README's runs are from, 2026-11-25). Both Partli and pgbench run against
// exactly these.
var pgTuning = map[string]string{
	"shared_buffers":  "2GB",
	"max_wal_size":    "4GB",
	"wal_compression": "on",
	"work_mem":        "16MB",
	// The benchmark vacuums and analyzes between phases itself (settle):
	// at 10k existing sales one phase doubles the tables, and autovacuum,
	// with the new statistics that make every connection plan its
	// statements anew, would land in the middle of the next phase.
	"autovacuum": "off",
	// Diagnostics for a tail: what ran long, waited on a lock, or ran
	// behind the load (checkpoints, autovacuum), in postgres.log (-keep).
	"log_min_duration_statement":  "200ms",
	"log_lock_waits":              "on",
	"log_checkpoints":             "on",
	"log_autovacuum_min_duration": "0",
}

func setUp(ctx context.Context, o options, rep *report) (*env, error) {
	e := &env{runID: strings.ToLower(accounts.RandomText(6)), client: &http.Client{Timeout: 30 * time.Second}}
	var err error
	if o.dir != "" {
		e.dir, err = filepath.Abs(o.dir)
		if err == nil {
			err = os.MkdirAll(e.dir, 0o755)
		}
	} else {
		// Not under $HOME: as root, PostgreSQL runs as the postgres user,
		// who must be able to enter the folder.
		e.dir, err = os.MkdirTemp("", "partli-bench-")
		e.removeDir = !o.keep
	}
	if err != nil {
		return nil, err
	}
	if err := pg.ChownToServerUser(e.dir); err != nil {
		return e, err
	}
	o.logf("working in %s", e.dir)

	e.bin = o.partli
	if e.bin == "" {
		e.bin = filepath.Join(e.dir, "partli")
		o.logf("building partli")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", e.bin, "./cmd/partli")
		if out, err := cmd.CombinedOutput(); err != nil {
			return e, fmt.Errorf("go build ./cmd/partli (run partli-bench from the repository root): %w\n%s", err, out)
		}
	}

	o.logf("starting PostgreSQL")
	if e.cluster, err = pg.Start(ctx, pg.Options{Dir: filepath.Join(e.dir, "pg"), Fast: o.fast}); err != nil {
		return e, err
	}
	if err := e.tune(ctx); err != nil {
		return e, err
	}
	if err := e.cluster.CreateDatabase(ctx, "partli", ""); err != nil {
		return e, err
	}
	if e.db, err = sql.Open("postgres", e.cluster.URL("partli")); err != nil {
		return e, err
	}
	e.db.SetMaxOpenConns(4)
	if e.statements {
		if _, err := e.db.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
			e.statements = false
		}
	}
	if e.statements {
		// Planning time too: a statement planned anew on every call (a
		// custom plan) shows it in the statement lines.
		for _, q := range []string{"ALTER SYSTEM SET pg_stat_statements.track_planning = on", "SELECT pg_reload_conf()"} {
			if _, err := e.db.ExecContext(ctx, q); err != nil {
				return e, fmt.Errorf("%s: %w", q, err)
			}
		}
	}
	e.pgSettings = map[string]string{}
	for _, name := range []string{"server_version", "shared_buffers", "max_wal_size", "wal_compression", "fsync",
		"synchronous_commit", "full_page_writes", "max_connections", "checkpoint_timeout"} {
		var v string
		if err := e.db.QueryRowContext(ctx, "SELECT current_setting($1)", name).Scan(&v); err == nil {
			e.pgSettings[name] = v
		}
	}

	if _, err := e.partli(ctx, "migrate"); err != nil {
		return e, err
	}
	out, err := e.partli(ctx, "workspace", "create", "--name", "Bench store", "--owner-email", "bench@partli.dev",
		"--owner-password", accounts.RandomText(16))
	if err != nil {
		return e, err
	}
	var created struct{ WorkspaceID, APIKey string }
	if err := json.Unmarshal(out, &created); err != nil {
		return e, fmt.Errorf("workspace create printed %q: %w", out, err)
	}
	e.workspaceID, e.apiKey = created.WorkspaceID, created.APIKey

	if e.metricsAddr, err = freeAddr(); err != nil {
		return e, err
	}
	if o.profile != "" {
		if e.debugAddr, err = freeAddr(); err != nil {
			return e, err
		}
	}
	if err := e.startServer(ctx); err != nil {
		return e, err
	}
	o.logf("creating a program, rewards and %d partners", o.partners)
	if err := e.createProgram(ctx, o); err != nil {
		return e, err
	}
	if err := e.createClicks(ctx, o); err != nil {
		return e, err
	}
	return e, nil
}

// tune applies pgTuning and loads pg_stat_statements when it is installed,
// then restarts the cluster.
func (e *env) tune(ctx context.Context) error {
	db, err := sql.Open("postgres", e.cluster.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	for k, v := range pgTuning {
		if _, err := db.ExecContext(ctx, fmt.Sprintf("ALTER SYSTEM SET %s = '%s'", k, v)); err != nil {
			return fmt.Errorf("ALTER SYSTEM SET %s: %w", k, err)
		}
	}
	var libdir string
	if err := db.QueryRowContext(ctx, "SELECT setting FROM pg_config WHERE name = 'PKGLIBDIR'").Scan(&libdir); err == nil {
		if _, err := os.Stat(filepath.Join(libdir, "pg_stat_statements.so")); err == nil {
			if _, err := db.ExecContext(ctx, "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"); err == nil {
				e.statements = true
			}
		}
	}
	db.Close()
	return e.cluster.Restart(ctx)
}

// partli runs a partli command against the benchmark database.
func (e *env) partli(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, e.bin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+e.cluster.URL("partli"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("partli %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out, nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startServer runs `partli serve` and waits until it answers.
func (e *env) startServer(ctx context.Context) error {
	if e.addr == "" {
		addr, err := freeAddr()
		if err != nil {
			return err
		}
		e.addr, e.baseURL = addr, "http://"+addr
	}

	logf, err := os.OpenFile(filepath.Join(e.dir, "partli.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(e.bin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+e.cluster.URL("partli"),
		"PARTLI_ADDR="+e.addr,
		"PARTLI_BASE_URL="+e.baseURL,
		"PARTLI_SESSION_SECRET=bench-"+e.runID+"-"+accounts.RandomText(24),
		"PARTLI_TRACK_RATE_LIMIT=1000000000",
		"PARTLI_CLICK_RATE_LIMIT=1000000000",
	)
	if e.metricsAddr != "" {
		cmd.Env = append(cmd.Env, "PARTLI_METRICS_ADDR="+e.metricsAddr)
	}
	if e.debugAddr != "" {
		cmd.Env = append(cmd.Env, "PARTLI_DEBUG_ADDR="+e.debugAddr)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	logf.Close()
	e.server = cmd
	exited := make(chan error, 1)
	done := make(chan struct{})
	e.serverDone = done
	go func() {
		err := cmd.Wait()
		close(done)
		exited <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := e.client.Get(e.baseURL + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			e.server = nil
			return fmt.Errorf("partli serve exited: %v (see %s)", err, filepath.Join(e.dir, "partli.log"))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("partli serve did not answer /healthz within 30 s (see %s)", filepath.Join(e.dir, "partli.log"))
		}
	}
}

// metrics is the server's GET /metrics, "" when it serves none.
func (e *env) metrics() string {
	if e.metricsAddr == "" {
		return ""
	}
	return "http://" + e.metricsAddr + "/metrics"
}

func (e *env) stopServer() {
	if e.server == nil {
		return
	}
	_ = e.server.Process.Signal(syscall.SIGTERM)
	select {
	case <-e.serverDone:
	case <-time.After(20 * time.Second):
		_ = e.server.Process.Kill()
		<-e.serverDone
	}
	e.server = nil
}

func (e *env) tearDown(o options) {
	e.stopServer()
	if e.db != nil {
		e.db.Close()
	}
	if e.cluster != nil {
		if e.removeDir {
			_ = e.cluster.Destroy()
		} else {
			_ = e.cluster.Stop()
		}
	}
	if e.removeDir {
		os.RemoveAll(e.dir)
	} else {
		o.logf("kept %s", e.dir)
	}
}

// api calls the JSON API with the workspace's key and decodes the reply.
func (e *env) api(ctx context.Context, method, path string, body, into any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, e.baseURL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+e.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := e.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if into != nil {
		return json.Unmarshal(data, into)
	}
	return nil
}

// createProgram makes the program (20 % recurring for 12 months), a group
// with its own reward (30 % one-time) holding every other partner, and the
// partners.
func (e *env) createProgram(ctx context.Context, o options) error {
	var prog, group struct{ ID string }
	if err := e.api(ctx, "POST", "/api/programs", map[string]any{"name": "Bench program", "slug": "bench",
		"destinationUrl": "https://shop.example.com/pricing", "currency": "USD", "holdingPeriodDays": 30, "cookieDays": 90}, &prog); err != nil {
		return err
	}
	e.programID = prog.ID
	if err := e.api(ctx, "POST", "/api/programs/"+prog.ID+"/groups", map[string]any{"name": "Creators"}, &group); err != nil {
		return err
	}
	if err := e.api(ctx, "POST", "/api/programs/"+prog.ID+"/rewards", map[string]any{"event": "sale", "type": "percentage",
		"percent": 20, "interval": "recurring", "durationMonths": 12}, nil); err != nil {
		return err
	}
	if err := e.api(ctx, "POST", "/api/programs/"+prog.ID+"/rewards", map[string]any{"groupId": group.ID, "event": "sale",
		"type": "percentage", "percent": 30, "interval": "one_time"}, nil); err != nil {
		return err
	}
	e.slugs = make([]string, o.partners)
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		ferr error
		next = make(chan int)
	)
	for range 4 {
		wg.Go(func() {
			for i := range next {
				body := map[string]any{"email": fmt.Sprintf("partner%d@bench.example", i), "name": fmt.Sprintf("Partner %d", i),
					"slug": fmt.Sprintf("bench-%s-%d", e.runID, i)}
				if i%2 == 1 {
					body["groupId"] = group.ID
				}
				var p struct{ Slug string }
				err := e.api(ctx, "POST", "/api/programs/"+prog.ID+"/partners", body, &p)
				mu.Lock()
				if err != nil && ferr == nil {
					ferr = err
				}
				e.slugs[i] = p.Slug
				mu.Unlock()
			}
		})
	}
	for i := range o.partners {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if ferr == nil {
		ferr = ctx.Err()
	}
	return ferr
}

// clickID is the id of the benchmark's n-th click (1-based): made up, so
// that pgbench can name the same clicks, and as long as a real one.
func clickID(n int) string { return fmt.Sprintf("c_bench%021d", n) }

// createClicks records o.clicks clicks for each partner, spread over the
// last 30 days (inside the program's 90-day cookie window).
func (e *env) createClicks(ctx context.Context, o options) error {
	e.nClicks = o.partners * o.clicks
	_, err := e.db.ExecContext(ctx, `
		INSERT INTO clicks (id, workspace_id, program_id, partner_id, ip_hash, user_agent, url, created_at)
		SELECT 'c_bench' || lpad(n::text, 21, '0'), $1, $2, p.id, decode(md5(n::text), 'hex'),
			'Mozilla/5.0 (X11; Linux x86_64) bench', 'https://shop.example.com/pricing', now() - random() * interval '30 days'
		FROM generate_series(1, $3::int) AS n
		JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM partners WHERE workspace_id = $1) p
		  ON p.k = (n - 1) % $4`, e.workspaceID, e.programID, e.nClicks, o.partners)
	if err != nil {
		return fmt.Errorf("create clicks: %w", err)
	}
	_, err = e.db.ExecContext(ctx, "ANALYZE")
	return err
}

// checkpoint makes every measured phase start from the same state: no
// dirty buffers from the one before, no checkpoint under way.
func (e *env) checkpoint(ctx context.Context) error {
	_, err := e.db.ExecContext(ctx, "CHECKPOINT")
	return err
}

var errNoServer = errors.New("partli serve is not running")

func (e *env) serverPID() (int, error) {
	if e.server == nil || e.server.Process == nil {
		return 0, errNoServer
	}
	return e.server.Process.Pid, nil
}

func itoa(n int) string { return strconv.Itoa(n) }

// postmasterPID reads the running server's pid from postmaster.pid.
func (e *env) postmasterPID() int {
	b, err := os.ReadFile(filepath.Join(e.cluster.DataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, _ := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0])
	return pid
}

// profile says where the server's CPU profile of the phase name goes, when
// -profile asked for them; nil otherwise.
func (e *env) profile(o options, name string) *profileTo {
	if o.profile == "" || e.debugAddr == "" {
		return nil
	}
	file := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(name))
	return &profileTo{url: "http://" + e.debugAddr + "/debug/pprof/profile", file: filepath.Join(o.profile, file+".pprof")}
}
