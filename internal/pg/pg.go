// Package pg finds the PostgreSQL server binaries on this machine and runs a
// private cluster with them: `partli dev` keeps one under ./.data, tests make
// throwaway ones.
//
// The cluster listens on a unix socket in its own folder only
// (no TCP listen address), so it never clashes with another PostgreSQL on the
// machine, and it trusts every local connection (initdb -A trust).
//
// PostgreSQL refuses to run as root. When this process is root, every
// PostgreSQL binary runs as the `postgres` OS user instead, and the cluster's
// folder is chowned to that user; the folders above it must let that user in.
package pg

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

// Options say where and how to run a cluster.
type Options struct {
	// Dir holds everything: the cluster in Dir/data, its unix socket in
	// Dir/run and its log in Dir/postgres.log. It is created if missing.
	Dir string
	// Fast trades durability for speed, for tests: fsync, synchronous_commit
	// and full_page_writes off, initdb --no-sync, no autovacuum, no JIT.
	Fast bool
	// Log receives the output of initdb and pg_ctl; nil discards it (it still
	// appears in errors).
	Log io.Writer
	// Preload are extensions loaded at server start (shared_preload_libraries),
	// such as "citus".
	Preload []string
}

// DefaultPort is the port a cluster's socket is named after. It needs no
// choosing: the socket lives in the cluster's own folder and no TCP port is
// opened, so two clusters on one machine never clash.
const DefaultPort = 5432

// Cluster is a PostgreSQL cluster in a folder of its own. Stop and Start may
// be called any number of times on one Cluster.
type Cluster struct {
	Dir       string // absolute Options.Dir
	DataDir   string // Dir/data, PGDATA
	SocketDir string // Dir/run, unless a server that was already running says otherwise
	LogFile   string // Dir/postgres.log
	Port      int
	BinDir    string // from FindBinDir

	opts  Options
	runAs *osUser // nil: run the binaries as ourselves
	major string  // major version of the binaries, e.g. "15"

	mu sync.Mutex
}

// Start runs the cluster in opts.Dir, making it first with initdb if needed.
// A server already running on that folder is reused.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	c, err := newCluster(opts)
	if err != nil {
		return nil, err
	}
	if err := c.Start(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func newCluster(opts Options) (*Cluster, error) {
	if opts.Dir == "" {
		return nil, errors.New("pg: Options.Dir is empty")
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("pg: %w", err)
	}
	bin, err := FindBinDir()
	if err != nil {
		return nil, fmt.Errorf("pg: %w", err)
	}
	c := &Cluster{
		Dir:       dir,
		DataDir:   filepath.Join(dir, "data"),
		SocketDir: filepath.Join(dir, "run"),
		LogFile:   filepath.Join(dir, "postgres.log"),
		Port:      DefaultPort,
		BinDir:    bin,
		opts:      opts,
	}
	if os.Geteuid() == 0 {
		c.runAs, err = lookupPostgresUser()
		if err != nil {
			return nil, err
		}
	}
	// 107 bytes is the most a unix socket path may hold on Linux (103 on macOS).
	if sock := filepath.Join(c.SocketDir, ".s.PGSQL."+strconv.Itoa(c.Port)); len(sock) > 103 {
		return nil, fmt.Errorf("pg: the socket path %s is %d bytes, more than unix sockets allow (103); choose a shorter data folder than %s", sock, len(sock), dir)
	}
	return c, nil
}

// URL returns a connection URL for database dbname, over the unix socket, for
// lib/pq (sqlx.Open("postgres", url)), pgx and psql alike.
func (c *Cluster) URL(dbname string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.url(dbname)
}

// url is URL for callers that hold c.mu.
func (c *Cluster) url(dbname string) string {
	// '/' may stay as it is in a query; it reads better in logs.
	esc := func(s string) string { return strings.ReplaceAll(url.QueryEscape(s), "%2F", "/") }
	return "postgres://postgres@/" + url.PathEscape(dbname) +
		"?host=" + esc(c.SocketDir) + "&port=" + strconv.Itoa(c.Port) + "&sslmode=disable"
}

// Start starts the cluster again after Stop; on a running cluster it does
// nothing.
func (c *Cluster) Start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.prepareDir(); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); errors.Is(err, fs.ErrNotExist) {
		if err := c.initdb(ctx); err != nil {
			return err
		}
	} else if err != nil {
		return fmt.Errorf("pg: %w", err)
	} else if err := c.checkVersion(ctx); err != nil {
		return err
	}
	if err := c.writeConfig(); err != nil {
		return err
	}

	up, err := c.running(ctx)
	if err != nil {
		return err
	}
	if up {
		return c.adopt(ctx)
	}

	// A postmaster.pid left by a killed server is fine: the new postmaster
	// sees its process is gone and replaces it. What may still be around is
	// the old server's children, holding its shared memory for a moment
	// after the postmaster died; so retry for a little while.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err = c.run(ctx, "pg_ctl", "start", "-w", "-t", "60", "-s",
			"-D", c.DataDir, "-l", c.LogFile)
		if err == nil {
			c.SocketDir, c.Port = filepath.Join(c.Dir, "run"), DefaultPort
			return nil
		}
		logTail := tail(c.LogFile, 15)
		if strings.Contains(logTail, "pre-existing shared memory block") && time.Now().Before(deadline) {
			select {
			case <-ctx.Done():
				return fmt.Errorf("pg: start %s: %w", c.DataDir, ctx.Err())
			case <-time.After(250 * time.Millisecond):
				continue
			}
		}
		return fmt.Errorf("pg: start %s: %w\n%s:\n%s", c.DataDir, err, c.LogFile, logTail)
	}
}

// Restart stops the cluster (if it runs) and starts it again.
func (c *Cluster) Restart(ctx context.Context) error {
	if err := c.Stop(); err != nil {
		return err
	}
	return c.Start(ctx)
}

// Stop shuts the server down (fast mode: open sessions are ended, then a
// clean checkpoint) and waits for it to be gone. Stopping a stopped cluster
// does nothing.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stop("fast")
}

// Destroy stops the server without the shutdown checkpoint (immediate mode)
// and removes Dir with everything in it. It is for throwaway clusters.
func (c *Cluster) Destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	err := c.stop("immediate")
	if rmErr := os.RemoveAll(c.Dir); rmErr != nil && err == nil {
		err = fmt.Errorf("pg: %w", rmErr)
	}
	return err
}

func (c *Cluster) stop(mode string) error {
	ctx := context.Background()
	up, err := c.running(ctx)
	if err != nil || !up {
		return err
	}
	if err := c.run(ctx, "pg_ctl", "stop", "-w", "-t", "60", "-s", "-m", mode, "-D", c.DataDir); err != nil {
		// It may have stopped on its own in between.
		if up, err2 := c.running(ctx); err2 == nil && !up {
			return nil
		}
		return fmt.Errorf("pg: stop %s: %w", c.DataDir, err)
	}
	return nil
}

// CreateDatabase creates database name, as a copy of template if that is not
// empty. Nobody may be connected to template meanwhile.
func (c *Cluster) CreateDatabase(ctx context.Context, name, template string) error {
	q := "CREATE DATABASE " + pq.QuoteIdentifier(name)
	if template != "" {
		q += " TEMPLATE " + pq.QuoteIdentifier(template)
	}
	if err := c.exec(ctx, q); err != nil {
		return fmt.Errorf("pg: create database %s: %w", name, err)
	}
	return nil
}

// DropDatabase drops database name if it exists, ending its sessions.
func (c *Cluster) DropDatabase(ctx context.Context, name string) error {
	if err := c.exec(ctx, "DROP DATABASE IF EXISTS "+pq.QuoteIdentifier(name)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("pg: drop database %s: %w", name, err)
	}
	return nil
}

// exec runs q in the maintenance database, on a connection of its own: the
// server may have been restarted since the last call.
func (c *Cluster) exec(ctx context.Context, q string) error {
	db, err := sql.Open("postgres", c.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	_, err = db.ExecContext(ctx, q)
	return err
}

func (c *Cluster) initdb(ctx context.Context) error {
	args := []string{"-D", c.DataDir, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C"}
	if c.opts.Fast {
		args = append(args, "--no-sync")
	}
	if err := c.run(ctx, "initdb", args...); err != nil {
		return fmt.Errorf("pg: initdb %s: %w", c.DataDir, err)
	}
	return nil
}

// running asks pg_ctl whether a server runs on DataDir.
func (c *Cluster) running(ctx context.Context) (bool, error) {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	// A killed postmaster stays a zombie until whoever inherited it reaps it
	// (at once under a proper init, after a second or so in some
	// containers). Until then pg_ctl and the new postmaster take it for
	// alive, so wait for it to go.
	if pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0]); err == nil {
		deadline := time.Now().Add(10 * time.Second)
		for isZombie(pid) {
			if time.Now().After(deadline) {
				return false, fmt.Errorf("pg: the server on %s (pid %d) died, but its parent does not reap it; kill that parent or reboot", c.DataDir, pid)
			}
			select {
			case <-ctx.Done():
				return false, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	err = c.runLog(ctx, nil, "pg_ctl", "status", "-D", c.DataDir) // routine, not worth logging
	var exit *exec.ExitError
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &exit) && (exit.ExitCode() == 3 || exit.ExitCode() == 4):
		return false, nil
	default:
		return false, fmt.Errorf("pg: status %s: %w", c.DataDir, err)
	}
}

// isZombie tells whether process pid has died but not been reaped, where
// /proc says so (Linux).
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	// "pid (comm) S ...": the state follows the last ')'.
	i := bytes.LastIndexByte(b, ')')
	return i >= 0 && i+2 < len(b) && b[i+2] == 'Z'
}

// adopt takes over a server that was already running on DataDir: its socket
// and port come from postmaster.pid, and it must answer within a while.
func (c *Cluster) adopt(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	// pid, data dir, start time, port, first socket dir, listen address, shmem key, status
	lines := strings.Split(string(b), "\n")
	if len(lines) < 5 || strings.TrimSpace(lines[4]) == "" {
		return fmt.Errorf("pg: the server already running on %s has no unix socket; stop it (pg_ctl stop -D %s)", c.DataDir, c.DataDir)
	}
	port, err := strconv.Atoi(strings.TrimSpace(lines[3]))
	if err != nil {
		return fmt.Errorf("pg: %s/postmaster.pid: bad port %q", c.DataDir, lines[3])
	}
	c.SocketDir, c.Port = strings.TrimSpace(lines[4]), port

	db, err := sql.Open("postgres", c.url("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		err := db.PingContext(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("pg: a server runs on %s but does not answer: %w", c.DataDir, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// run runs one of the PostgreSQL binaries, as the postgres user when we are
// root; its output goes to Options.Log and, on failure, into the error.
func (c *Cluster) run(ctx context.Context, name string, args ...string) error {
	return c.runLog(ctx, c.opts.Log, name, args...)
}

func (c *Cluster) runLog(ctx context.Context, log io.Writer, name string, args ...string) error {
	var out bytes.Buffer
	cmd := c.command(ctx, name, args...)
	var w io.Writer = &out
	if log != nil {
		w = io.MultiWriter(&out, log)
	}
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(out.String()); msg != "" {
			return fmt.Errorf("%s: %w: %s", name, err, msg)
		}
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

func (c *Cluster) output(ctx context.Context, name string, args ...string) (string, error) {
	cmd := c.command(ctx, name, args...)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}

func (c *Cluster) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(c.BinDir, name), args...)
	cmd.Dir = c.Dir
	// The server redirects its own output to LogFile; should anything keep
	// our pipes open regardless, do not wait for it forever.
	cmd.WaitDelay = 5 * time.Second
	env := []string{"LC_ALL=C"}
	for _, kv := range os.Environ() {
		// PGDATA, PGPORT, PGHOST... would point the tools elsewhere.
		if strings.HasPrefix(kv, "PG") || strings.HasPrefix(kv, "LC_ALL=") {
			continue
		}
		if c.runAs != nil && strings.HasPrefix(kv, "HOME=") {
			continue
		}
		env = append(env, kv)
	}
	if c.runAs != nil {
		env = append(env, "HOME="+c.runAs.home)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{
			Uid: c.runAs.uid, Gid: c.runAs.gid, Groups: c.runAs.groups,
		}}
	}
	cmd.Env = env
	return cmd
}

// tail returns the last n lines of a file, for error messages.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
