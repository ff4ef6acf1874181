package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/mailpit"
	"github.com/partli/partli/internal/pg"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/web"
)

func TestMain(m *testing.M) {
	// partli dev starts mailpit: find (or build) it once, from the checkout,
	// before the dev tests move to folders of their own.
	if _, err := mailpit.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "cli tests: mailpit:", err)
	}
	os.Exit(testdb.Main(m))
}

// configVars are every variable config.FromEnv and `partli dev` read; each
// test starts with them empty, so the caller's environment cannot leak in.
var configVars = []string{
	"DATABASE_URL", "PARTLI_ADDR", "PARTLI_BASE_URL", "PARTLI_SESSION_SECRET", "PARTLI_ENV",
	"PARTLI_TRUST_PROXY", "PARTLI_AUTO_APPROVE_INTERVAL", "PARTLI_TRACK_RATE_LIMIT",
	"PARTLI_CLICK_RATE_LIMIT", "PARTLI_SIGNIN_LIMIT", "PARTLI_DB_MAX_CONNS", "PARTLI_WEBHOOK_ALLOW_PRIVATE", "PARTLI_DEBUG_ADDR",
	"PARTLI_ENCRYPTION_KEY", "PARTLI_ENCRYPTION_KEY_PREVIOUS", "PARTLI_METRICS_ADDR", "PARTLI_PAYOUT_INTERVAL",
	"PARTLI_SMTP_URL", "PARTLI_MAIL_FROM",
}

// cleanEnv empties every config variable for the test and sets the given
// name=value pairs. t.Setenv also restores what `partli dev` sets itself.
func cleanEnv(t *testing.T, kv ...string) {
	t.Helper()
	for _, name := range configVars {
		t.Setenv(name, "")
	}
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

const testSecret = "cli-test-secret-cli-test-secret-cli-test-secret"

// unmigratedDB creates an empty database on the test server that served
// migratedURL and returns its URL; it is dropped when the test ends.
func unmigratedDB(t *testing.T) string {
	t.Helper()
	db, migratedURL := testdb.New(t)
	name := fmt.Sprintf("partli_cli_empty_%d", time.Now().UnixNano())
	if _, err := db.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name)); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		if _, err := db.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(migratedURL)
	if err != nil {
		t.Fatalf("test database URL %q: %v", migratedURL, err)
	}
	u.Path, u.RawPath = "/"+name, ""
	return u.String()
}

// freeAddr returns a loopback address with a port nobody listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// syncBuffer is a bytes.Buffer that a running command may write while the
// test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// background is run(ctx, args) on a goroutine.
type background struct {
	stdout, stderr *syncBuffer
	cancel         context.CancelFunc
	done           chan error
}

func runInBackground(t *testing.T, args ...string) *background {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	b := &background{stdout: &syncBuffer{}, stderr: &syncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	go func() { b.done <- run(ctx, args, b.stdout, b.stderr) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-b.done:
		case <-time.After(60 * time.Second):
			t.Errorf("partli %s did not return after cancel", strings.Join(args, " "))
		}
	})
	return b
}

// waitHealthy polls base/healthz until it answers 200, failing if the command
// returns first or within timeout.
func (b *background) waitHealthy(t *testing.T, base string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-b.done:
			b.done <- err // keep it for stop
			t.Fatalf("partli returned before serving: %v\nstdout:\n%s\nstderr:\n%s", err, b.stdout, b.stderr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("/healthz not 200 within %s (last error %v)\nstdout:\n%s\nstderr:\n%s", timeout, err, b.stdout, b.stderr)
		}
	}
}

// stop cancels the command and expects it to return nil within a few seconds.
func (b *background) stop(t *testing.T) {
	t.Helper()
	b.cancel()
	select {
	case err := <-b.done:
		b.done <- err
		if err != nil {
			t.Fatalf("run returned %v after cancel, want nil (graceful shutdown)\nstderr:\n%s", err, b.stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("run did not return within 20s of cancel\nstderr:\n%s", b.stderr)
	}
}

func runCmd(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	err = run(ctx, args, &out, &errOut)
	return out.String(), errOut.String(), err
}

func isUsageError(err error) bool {
	var ue usageError
	return errors.As(err, &ue)
}

var appliedRe = regexp.MustCompile(`applied (\d+) migration`)

func TestMigrateAppliesOnceThenNothing(t *testing.T) {
	dbURL := unmigratedDB(t)
	cleanEnv(t, "DATABASE_URL", dbURL)

	out, _, err := runCmd(t, "migrate")
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	m := appliedRe.FindStringSubmatch(out)
	if m == nil || m[1] == "0" {
		t.Fatalf("first migrate printed %q, want a positive number of applied migrations", out)
	}

	out, _, err = runCmd(t, "migrate")
	if err != nil {
		t.Fatalf("second migrate: %v", err)
	}
	if m := appliedRe.FindStringSubmatch(out); m == nil || m[1] != "0" {
		t.Fatalf("second migrate printed %q, want 0 applied", out)
	}

	db, err := store.Open(context.Background(), dbURL, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := store.CheckSchema(context.Background(), db.DB); err != nil {
		t.Fatalf("schema after migrate: %v", err)
	}
}

func TestMigrateWithoutDatabaseURL(t *testing.T) {
	cleanEnv(t)
	_, _, err := runCmd(t, "migrate")
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Fatalf("migrate without DATABASE_URL: %v, want an error naming DATABASE_URL", err)
	}
}

func TestServeRefusesUnmigratedDatabase(t *testing.T) {
	addr := freeAddr(t)
	cleanEnv(t, "DATABASE_URL", unmigratedDB(t), "PARTLI_ADDR", addr, "PARTLI_SESSION_SECRET", testSecret)

	_, _, err := runCmd(t, "serve")
	if err == nil {
		t.Fatal("serve on an unmigrated database returned nil")
	}
	if !strings.Contains(err.Error(), "partli migrate") {
		t.Fatalf("serve error %q does not mention `partli migrate`", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on %s after serve refused to start", addr)
	}
}

// A hot-path statement the database refuses stops serve at boot, with an
// error naming it, before anything listens: not the first sale.
func TestServeRefusesABrokenHotStatement(t *testing.T) {
	db, dbURL := testdb.New(t)
	if _, err := db.Exec(`ALTER TABLE programs RENAME COLUMN verified_at TO verified_at_gone`); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_ADDR", addr, "PARTLI_SESSION_SECRET", testSecret)

	_, _, err := runCmd(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "preparing the tracking statements") ||
		!strings.Contains(err.Error(), "MarkProgramsVerified") {
		t.Fatalf("serve with a broken hot-path statement: %v, want an error naming the statement", err)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("something listens on %s after serve refused to start", addr)
	}
}

func TestServeNeedsSessionSecret(t *testing.T) {
	_, dbURL := testdb.New(t)
	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_ADDR", freeAddr(t))
	_, _, err := runCmd(t, "serve")
	if err == nil || !strings.Contains(err.Error(), "PARTLI_SESSION_SECRET") {
		t.Fatalf("serve without a session secret: %v, want an error naming PARTLI_SESSION_SECRET", err)
	}
}

func TestWorkspaceCreate(t *testing.T) {
	db, dbURL := testdb.New(t)
	cleanEnv(t, "DATABASE_URL", dbURL)

	out, _, err := runCmd(t, "workspace", "create", "--name", "Acme Inc", "--owner-email", "owner@acme.test",
		"--owner-password", "correct horse battery")
	if err != nil {
		t.Fatalf("workspace create: %v", err)
	}
	if n := strings.Count(out, "\n"); n != 1 || !strings.HasSuffix(out, "\n") {
		t.Fatalf("workspace create printed %d lines, want exactly one JSON line:\n%s", n, out)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("workspace create output is not a JSON object of strings: %v\n%s", err, out)
	}
	if got["workspaceId"] == "" || got["slug"] != "acme-inc" || !strings.HasPrefix(got["apiKey"], "pk_live_") {
		t.Fatalf("workspace create printed %v; want workspaceId, slug acme-inc and a pk_live_ apiKey", got)
	}
	key := got["apiKey"]

	// The key works against the real router.
	cfg := config.Config{Addr: "127.0.0.1:0", BaseURL: "http://partli.test", SessionSecret: testSecret,
		Env: "development", ApproveEvery: time.Minute, TrackRate: 1000, ClickRate: 1000, DBMaxConns: 5}
	srv := httptest.NewServer(web.New(cfg, store.New(db), slog.New(slog.NewTextHandler(io.Discard, nil))))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/programs", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/programs with the new key: %d %s", resp.StatusCode, body)
	}

	// The key is stored hashed, never as text.
	var hash []byte
	var row string
	if err := db.QueryRow(`SELECT hash, row_to_json(k)::text FROM api_keys k WHERE workspace_id = $1`,
		got["workspaceId"]).Scan(&hash, &row); err != nil {
		t.Fatalf("reading the api_keys row: %v", err)
	}
	if sum := sha256.Sum256([]byte(key)); len(hash) != 32 || !bytes.Equal(hash, sum[:]) {
		t.Fatalf("api_keys.hash is %d bytes (%x), want the 32-byte SHA-256 of the key", len(hash), hash)
	}
	if strings.Contains(row, key) || strings.Contains(row, key[len("pk_live_"):]) {
		t.Fatalf("the api_keys row holds the key text: %s", row)
	}

	// A second workspace with the same owner email fails clearly and prints nothing.
	out, _, err = runCmd(t, "workspace", "create", "--name", "Other", "--owner-email", "owner@acme.test",
		"--owner-password", "another password")
	if err == nil {
		t.Fatalf("duplicate owner email: no error; printed %q", out)
	}
	if !strings.Contains(err.Error(), "owner@acme.test") || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("duplicate owner email: error %q does not say the user already exists", err)
	}
	if out != "" {
		t.Fatalf("duplicate owner email printed %q", out)
	}

	// An explicit --slug is kept.
	out, _, err = runCmd(t, "workspace", "create", "--name", "Beta", "--slug", "beta-shop",
		"--owner-email", "owner@beta.test", "--owner-password", "correct horse battery")
	if err != nil {
		t.Fatalf("workspace create --slug: %v", err)
	}
	got = nil
	if err := json.Unmarshal([]byte(out), &got); err != nil || got["slug"] != "beta-shop" {
		t.Fatalf("workspace create --slug beta-shop printed %q (%v)", out, err)
	}
}

// A password bcrypt cannot take (over 72 bytes) was an internal error; now
// the same rule as every form, with its words, and nothing is created.
func TestWorkspaceCreatePasswordRule(t *testing.T) {
	db, dbURL := testdb.New(t)
	cleanEnv(t, "DATABASE_URL", dbURL)
	for pw, want := range map[string]string{strings.Repeat("p", 73): "at most 72 bytes", "short": "at least 8 characters"} {
		out, _, err := runCmd(t, "workspace", "create", "--name", "Acme", "--owner-email", "owner@acme.test", "--owner-password", pw)
		if err == nil || !strings.Contains(err.Error(), "owner password must be "+want) || out != "" {
			t.Errorf("a %d-byte owner password: error %v, printed %q; want an error saying %q", len(pw), err, out, want)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT count(*) FROM workspaces`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d workspaces (%v) after refused passwords", n, err)
	}
}

func TestWorkspaceCreateUsage(t *testing.T) {
	cleanEnv(t) // no database needed: flags are checked first
	for _, args := range [][]string{
		{"workspace"},
		{"workspace", "delete"},
		{"workspace", "create"},
		{"workspace", "create", "--name", "X", "--owner-email", "x@example.com"},
		{"workspace", "create", "--name", "X", "--owner-password", "long enough"},
		{"workspace", "create", "--owner-email", "x@example.com", "--owner-password", "long enough"},
		{"workspace", "create", "--bogus"},
	} {
		out, _, err := runCmd(t, args...)
		if !isUsageError(err) {
			t.Errorf("partli %s: %v, want a usage error", strings.Join(args, " "), err)
		}
		if out != "" {
			t.Errorf("partli %s printed %q", strings.Join(args, " "), out)
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	cleanEnv(t)
	for _, args := range [][]string{nil, {"frobnicate"}} {
		_, _, err := runCmd(t, args...)
		if !isUsageError(err) {
			t.Fatalf("partli %v: %v, want a usage error", args, err)
		}
		if !strings.Contains(err.Error(), "Usage:") {
			t.Fatalf("usage error %q does not show the usage", err)
		}
	}
	_, _, err := runCmd(t, "frobnicate")
	if !strings.Contains(err.Error(), `"frobnicate"`) {
		t.Fatalf("usage error %q does not name the unknown command", err)
	}
	out, _, err := runCmd(t, "help")
	if err != nil || !strings.Contains(out, "partli workspace create") {
		t.Fatalf("partli help: %v, %q", err, out)
	}
}

func TestServeEndToEnd(t *testing.T) {
	_, dbURL := testdb.New(t)
	addr := freeAddr(t)
	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_ADDR", addr, "PARTLI_SESSION_SECRET", testSecret)

	b := runInBackground(t, "serve")
	b.waitHealthy(t, "http://"+addr, 15*time.Second)
	// Without PARTLI_SMTP_URL it says at start that mail is kept unsent.
	if logs := b.stderr.String(); !strings.Contains(logs, "PARTLI_SMTP_URL is not set") {
		t.Errorf("serve without PARTLI_SMTP_URL did not warn:\n%s", logs)
	}
	start := time.Now()
	b.stop(t)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("graceful shutdown took %s", d)
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("%s still accepts connections after shutdown", addr)
	}
}

var keyRe = regexp.MustCompile(`pk_live_[0-9A-Za-z]+`)

func TestDevEndToEnd(t *testing.T) {
	if _, err := pg.FindBinDir(); err != nil {
		t.Skipf("no PostgreSQL server binaries: %v", err)
	}
	// Not t.TempDir(): as root, PostgreSQL runs as the postgres user, who
	// must be able to enter the folder.
	dir, err := os.MkdirTemp("", "partli-cli-dev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	addr := freeAddr(t)
	cleanEnv(t, "PARTLI_ADDR", addr)
	base := "http://" + addr
	pgData := filepath.Join(dir, ".data", "pg", "data")
	noRedirect := &http.Client{Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// First run: initdb, migrate, seed, serve.
	first := runInBackground(t, "dev")
	first.waitHealthy(t, base, 90*time.Second)
	out := first.stdout.String()
	key := keyRe.FindString(out)
	if !strings.Contains(out, "owner@demo.partli.dev") || key == "" {
		t.Fatalf("dev did not print the owner login and an API key:\n%s", out)
	}
	if !strings.Contains(out, "password:") {
		t.Fatalf("dev did not print the owner's password:\n%s", out)
	}
	// It catches mail in mailpit, and says where to read it: a password
	// reset asked for now arrives there.
	ui := mailpitUI.FindStringSubmatch(out)
	if ui == nil {
		t.Fatalf("dev did not say where to read mail:\n%s", out)
	}
	resp, err := noRedirect.PostForm(base+"/password/forgot", url.Values{"email": {"owner@demo.partli.dev"}})
	if err == nil {
		resp.Body.Close()
	}
	if err != nil || resp.StatusCode != http.StatusForbidden { // no CSRF token: refused, nothing mailed
		t.Fatalf("POST /password/forgot without a token: %v %v", err, resp)
	}
	waitForMail(t, ui[1], base, noRedirect)

	req, _ := http.NewRequest(http.MethodGet, base+"/api/programs", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var programs struct {
		Data []struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"data"`
	}
	err = json.NewDecoder(resp.Body).Decode(&programs)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || err != nil || len(programs.Data) != 1 || programs.Data[0].Name != "Demo Pro plan" {
		t.Fatalf("GET /api/programs with the demo key: %d %v %+v", resp.StatusCode, err, programs)
	}

	resp, err = noRedirect.Get(base + "/r/ada")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.Contains(resp.Header.Get("Location"), "pref_cid=c_") {
		t.Fatalf("GET /r/ada: %d Location %q, want 302 with pref_cid", resp.StatusCode, resp.Header.Get("Location"))
	}

	first.stop(t)
	assertStopped(t, pgData)
	if _, err := os.Stat(filepath.Join(dir, ".data", "demo.txt")); err != nil {
		t.Fatalf("dev did not keep the demo credentials: %v", err)
	}
	keyFile := filepath.Join(dir, ".data", "encryption-key")
	firstKey, err := os.ReadFile(keyFile)
	if _, perr := secret.ParseKey(string(firstKey)); err != nil || perr != nil {
		t.Fatalf("dev did not keep an encryption key in %s: %v %v", keyFile, err, perr)
	}

	// Second run: same cluster, no second workspace, the kept credentials again.
	second := runInBackground(t, "dev")
	second.waitHealthy(t, base, 60*time.Second)
	out2 := second.stdout.String()
	if !strings.Contains(out2, key) || !strings.Contains(out2, "owner@demo.partli.dev") {
		t.Fatalf("second dev run did not reprint the kept credentials (key %s):\n%s", key, out2)
	}
	socket := filepath.Join(dir, ".data", "pg", "run")
	db, err := store.Open(context.Background(), "postgres://postgres@/partli?host="+url.QueryEscape(socket)+"&port=5432&sslmode=disable", 1)
	if err != nil {
		t.Fatalf("connecting to the dev cluster: %v", err)
	}
	var n int
	err = db.Get(&n, `SELECT count(*) FROM workspaces`)
	db.Close()
	if err != nil || n != 1 {
		t.Fatalf("after two dev runs: %d workspaces (%v), want 1", n, err)
	}
	req, _ = http.NewRequest(http.MethodGet, base+"/api/programs", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/programs on the second run: %d", resp.StatusCode)
	}

	second.stop(t)
	assertStopped(t, pgData)
	if again, err := os.ReadFile(keyFile); err != nil || string(again) != string(firstKey) {
		t.Fatalf("the second dev run changed the encryption key (%v)", err)
	}
}

var mailpitUI = regexp.MustCompile(`read them at (http://[0-9.:]+)`)

// waitForMail asks partli at base for a password reset of the demo owner,
// as a browser does, and waits until mailpit at ui has it.
func waitForMail(t *testing.T, ui, base string, client *http.Client) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	b := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: client.CheckRedirect}
	resp, err := b.Get(base + "/password/forgot")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatalf("no CSRF token on /password/forgot:\n%s", page)
	}
	resp, err = b.PostForm(base+"/password/forgot", url.Values{"_csrf": {string(m[1])}, "email": {"owner@demo.partli.dev"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /password/forgot: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		resp, err := http.Get(ui + "/api/v1/search?query=" + url.QueryEscape("to:owner@demo.partli.dev"))
		if err == nil {
			var res struct {
				Messages []struct{ Subject string } `json:"messages"`
			}
			err = json.NewDecoder(resp.Body).Decode(&res)
			resp.Body.Close()
			if err == nil && len(res.Messages) > 0 && res.Messages[0].Subject == "Reset your Partli password" {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reset mail did not reach dev's mailpit at %s (%v)", ui, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// assertStopped checks that no server runs on the cluster in dataDir.
func assertStopped(t *testing.T, dataDir string) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dataDir, "postmaster.pid")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("postmaster.pid still present after dev returned (stat: %v)", err)
	}
	if os.Geteuid() == 0 {
		return // pg_ctl refuses to run as root; postmaster.pid is the word
	}
	bin, err := pg.FindBinDir()
	if err != nil {
		return
	}
	// pg_ctl status exits 3 when no server runs on the folder.
	out, err := exec.Command(filepath.Join(bin, "pg_ctl"), "status", "-D", dataDir).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Fatalf("pg_ctl status: %v, want exit status 3 (no server running):\n%s", err, out)
	}
}

// devDir makes a folder for a dev run and moves into it; mode is its
// permission (0o755: the postgres user may enter it; 0o700: as root, it may
// not, as a clone under /root or a mktemp -d folder).
func devDir(t *testing.T, mode os.FileMode) string {
	t.Helper()
	if _, err := pg.FindBinDir(); err != nil {
		t.Skipf("no PostgreSQL server binaries: %v", err)
	}
	dir, err := os.MkdirTemp("", "partli-cli-dev-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, mode); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	return dir
}

// apiStatus is the status of GET base/api/programs with key.
func apiStatus(t *testing.T, base, key string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/api/programs", nil)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// partli seed run while partli dev serves shares dev's cluster and leaves it
// running: dev keeps answering. The cluster stops when the last one is done.
func TestSeedBesideDevKeepsTheClusterRunning(t *testing.T) {
	dir := devDir(t, 0o755)
	addr := freeAddr(t)
	cleanEnv(t, "PARTLI_ADDR", addr)
	base := "http://" + addr
	dev := runInBackground(t, "dev")
	dev.waitHealthy(t, base, 90*time.Second)
	key := keyRe.FindString(dev.stdout.String())

	if out, errOut, err := runCmd(t, "seed", "--sales", "20", "--partners", "2"); err != nil {
		t.Fatalf("partli seed beside partli dev: %v\n%s\n%s", err, out, errOut)
	}
	if st := apiStatus(t, base, key); st != http.StatusOK {
		t.Fatalf("after partli seed returned, partli dev answers %d, want 200 (seed stopped the cluster it did not start)", st)
	}
	if _, err := os.Stat(filepath.Join(dir, ".data", "pg", "data", "postmaster.pid")); err != nil {
		t.Fatalf("the cluster is not running after seed: %v", err)
	}
	dev.stop(t)
	assertStopped(t, filepath.Join(dir, ".data", "pg", "data"))
}

// As root, from a folder the postgres user may not enter, partli dev keeps
// its cluster in a folder of that user's outside the checkout, says where,
// and finds it again on the next run.
func TestDevAsRootFromAPrivateFolder(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("only root runs PostgreSQL as another user")
	}
	dir := devDir(t, 0o700)
	addr := freeAddr(t)
	cleanEnv(t, "PARTLI_ADDR", addr)
	base := "http://" + addr

	first := runInBackground(t, "dev")
	first.waitHealthy(t, base, 90*time.Second)
	b, err := os.ReadFile(filepath.Join(dir, ".data", "pg-location"))
	if err != nil {
		t.Fatalf("dev did not record where its cluster is: %v\n%s", err, first.stdout)
	}
	alt := strings.TrimSpace(string(b))
	t.Cleanup(func() { os.RemoveAll(alt) })
	if !strings.HasPrefix(alt, "/var/lib/partli/dev-") || !strings.Contains(first.stdout.String(), alt) {
		t.Fatalf("cluster folder %q, not named in the output:\n%s", alt, first.stdout)
	}
	key := keyRe.FindString(first.stdout.String())
	if st := apiStatus(t, base, key); st != http.StatusOK {
		t.Fatalf("GET /api/programs: %d", st)
	}
	first.stop(t)
	assertStopped(t, filepath.Join(alt, "data"))

	second := runInBackground(t, "dev")
	second.waitHealthy(t, base, 90*time.Second)
	if !strings.Contains(second.stdout.String(), key) {
		t.Fatalf("the second run did not find the first run's cluster (no demo key %s):\n%s", key, second.stdout)
	}
	second.stop(t)
	assertStopped(t, filepath.Join(alt, "data"))
}

// partli serve with PARTLI_METRICS_ADDR serves the Prometheus text format
// there: requests by route and status, the database pool, the outboxes;
// a public address is refused at start.
func TestServeMetrics(t *testing.T) {
	_, dbURL := testdb.New(t)
	addr, maddr := freeAddr(t), freeAddr(t)
	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_ADDR", addr, "PARTLI_SESSION_SECRET", testSecret, "PARTLI_METRICS_ADDR", maddr)
	b := runInBackground(t, "serve")
	b.waitHealthy(t, "http://"+addr, 60*time.Second)
	client := &http.Client{Timeout: 30 * time.Second}
	if resp, err := client.Get("http://" + addr + "/r/no-such-link"); err == nil {
		resp.Body.Close()
	}
	resp, err := client.Get("http://" + maddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`partli_http_requests_total{method="GET",route="/healthz",status="200"}`,
		`partli_http_requests_total{method="GET",route="/r/:slug",status="404"} 1`,
		`partli_http_request_duration_seconds_bucket{route="/healthz",status="200",le="`,
		`go_sql_in_use_connections{db_name="partli"}`,
		`go_sql_wait_count_total{db_name="partli"}`,
		`partli_outbox_pending{outbox="webhook"} 0`,
		`partli_worker_lag_seconds{outbox="webhook"} 0`,
		`partli_outbox_pending{outbox="mail"} `,
		`partli_worker_lag_seconds{outbox="mail"} `,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The metrics are not on the public address.
	if resp, err := client.Get("http://" + addr + "/metrics"); err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(b), "partli_http_requests_total") {
			t.Error("/metrics is served on PARTLI_ADDR")
		}
	}
	b.stop(t)

	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_SESSION_SECRET", testSecret, "PARTLI_METRICS_ADDR", "8.8.8.8:9090")
	if _, _, err := runCmd(t, "serve"); err == nil || !strings.Contains(err.Error(), "PARTLI_METRICS_ADDR") {
		t.Fatalf("serve with a public metrics address: %v", err)
	}
}
