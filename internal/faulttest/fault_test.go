// Package faulttest checks what POST /api/track/sale promises when things
// break: the real `partli serve` binary, real PostgreSQL clusters, real
// processes killed and restarted, load over loopback only. They run in
// `go test ./...` (and so in `make test` and CI); `make fault` runs just them.
//
// They must hold on a small machine that is busy with other test packages
// (2 cores at a load of 10 or more): every step waits for a condition, with
// a bound far above what it normally takes (see the constants below), and a
// request counts as hung only past hangAfter, beyond the server's own 30 s
// request deadline. The package normally takes about 30 s (measured
// 2026-11-25 on a 2-core AMD EPYC VM, 24 GB RAM, PostgreSQL 15.18).
//
//   - TestServerKilledDuringSales: kill -9 of the server under a load of
//     unique sales, then a restart: every sale that got a 200 is stored with
//     its commission, none twice, and retries after the crash are
//     recognised as repeats.
//   - TestPostgresRestartDuringSales: PostgreSQL restarts under load:
//     clients get 503 with Retry-After, never a 500 or a hang, and the
//     service recovers by itself.
//   - TestReplicasShareDuplicateSales: two replicas on one database, each
//     externalId posted many times at once across both: one sale each.
package faulttest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/partli/partli/internal/pg"
	"github.com/partli/partli/internal/testdb"
)

// Bounds. Each is far above the normal time (given in brackets; measured
// 2026-11-25 on a 2-core AMD EPYC VM, 24 GB RAM, PostgreSQL 15.18), so
// that only a real fault trips it, and keeps a failing test from running
// long.
const (
	// hangAfter: a request not answered within it hangs. The server gives
	// up on a request after 30 s (503); [< 100 ms].
	hangAfter = 35 * time.Second
	// buildBound: go build of cmd/partli in TestMain [seconds; a minute or
	// two on a cold build cache].
	buildBound = 5 * time.Minute
	// clusterBound: initdb and start of a durable cluster, or the restart
	// of a test cluster [1-3 s].
	clusterBound = 2 * time.Minute
	// cmdBound: one `partli` command such as migrate [< 1 s].
	cmdBound = time.Minute
	// startBound: `partli serve` answering /healthz after its start [< 1 s].
	startBound = time.Minute
	// phaseBound: one step of a test under load, such as "50 sales
	// acknowledged" or "PostgreSQL is back and a sale got a 200" [< 2 s].
	phaseBound = 30 * time.Second
	// loadBound: everything clients send in one test, start to finish
	// [5-10 s]; a sale not acknowledged by then fails the test.
	loadBound = 90 * time.Second
)

// partliBin is the binary built once by TestMain.
var partliBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "partli-faulttest-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	partliBin = filepath.Join(dir, "partli")
	ctx, cancel := context.WithTimeout(context.Background(), buildBound)
	build := exec.CommandContext(ctx, "go", "build", "-o", partliBin, "github.com/partli/partli/cmd/partli")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	err = build.Run()
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "faulttest: building partli:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := testdb.Main(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is one `partli serve` process.
type server struct {
	t      *testing.T
	dbURL  string
	log    *bytes.Buffer
	logMu  sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}

	mu      sync.Mutex
	base    string // http://addr; a restart may move it, see start
	metrics string // host:port of its GET /metrics (PARTLI_METRICS_ADDR)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// url is the server's base URL, for clients running during a restart.
func (s *server) url() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// startServer runs `partli serve` on a loopback port against dbURL and
// waits until it answers; it is killed when the test ends.
func startServer(t *testing.T, dbURL string) *server {
	t.Helper()
	s := &server{t: t, dbURL: dbURL, log: &bytes.Buffer{}, base: "http://" + freeAddr(t), metrics: freeAddr(t)}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("partli serve on %s logged, warnings and errors:\n%s\nlast lines:\n%s",
				s.url(), s.logProblems(40), s.logTail(40))
		}
	})
	s.start()
	return s
}

type lockedWriter struct {
	s *server
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.s.logMu.Lock()
	defer w.s.logMu.Unlock()
	return w.s.log.Write(p)
}

func (s *server) logTail(n int) string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	lines := strings.Split(strings.TrimRight(s.log.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logProblems returns the first n lines the server logged at level WARN or
// ERROR (its log is slog JSON), or lines that are not JSON.
func (s *server) logProblems(n int) string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	var out []string
	for line := range strings.Lines(s.log.String()) {
		if len(out) == n {
			out = append(out, "…")
			break
		}
		if !strings.HasPrefix(line, "{") || strings.Contains(line, `"level":"WARN"`) || strings.Contains(line, `"level":"ERROR"`) {
			out = append(out, strings.TrimRight(line, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

func (s *server) logLen() int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.Len()
}

func (s *server) logSince(n int) string {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.log.String()[n:]
}

// start runs the process (again, on the same address) and waits until
// /healthz answers 200. The port was free when freeAddr (or the previous
// run) held it, but another process on the machine may take it meanwhile;
// then the server exits at once, and it is started again on a new port.
func (s *server) start() {
	s.t.Helper()
	for attempt := 1; ; attempt++ {
		mark := s.logLen()
		err := s.tryStart()
		if err == nil {
			return
		}
		if attempt < 5 && strings.Contains(s.logSince(mark), "address already in use") {
			s.t.Logf("%s or %s is taken by another process; starting partli serve on other ports", s.url(), s.metricsAddr())
			s.mu.Lock()
			s.base, s.metrics = "http://"+freeAddr(s.t), freeAddr(s.t)
			s.mu.Unlock()
			continue
		}
		s.t.Fatalf("%v; partli serve logged:\n%s", err, s.logTail(20))
	}
}

func (s *server) tryStart() error {
	base := s.url()
	cmd := exec.Command(partliBin, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+s.dbURL,
		"PARTLI_ADDR="+strings.TrimPrefix(base, "http://"),
		"PARTLI_BASE_URL="+base,
		"PARTLI_SESSION_SECRET=faulttest-session-secret-0123456789abcdef",
		"PARTLI_TRACK_RATE_LIMIT=1000000",
		"PARTLI_DB_MAX_CONNS=10",
		"PARTLI_METRICS_ADDR="+s.metricsAddr(),
	)
	cmd.Stdout, cmd.Stderr = lockedWriter{s}, lockedWriter{s}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func(done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.exited)
	client := &http.Client{Timeout: 5 * time.Second}
	begun := time.Now()
	for {
		resp, err := client.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			s.cmd = nil
			return fmt.Errorf("partli serve on %s exited at start", base)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Since(begun) > startBound {
			s.kill()
			return fmt.Errorf("partli serve on %s did not answer /healthz within %s", base, startBound)
		}
	}
}

func (s *server) metricsAddr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.metrics
}

// saleBatches reads the running server's /metrics: how many sale batches it
// has written since it started, and how many of them carried more than one
// sale. An error (the server is down, say) reads as none.
func (s *server) saleBatches() (batches, shared uint64) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + s.metricsAddr() + "/metrics")
	if err != nil {
		return 0, 0
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil || families["partli_batch_size"] == nil {
		return 0, 0
	}
	for _, m := range families["partli_batch_size"].GetMetric() {
		kind := ""
		for _, l := range m.GetLabel() {
			if l.GetName() == "kind" {
				kind = l.GetValue()
			}
		}
		if kind != "sale" {
			continue
		}
		h := m.GetHistogram()
		batches = h.GetSampleCount()
		for _, b := range h.GetBucket() {
			if b.GetUpperBound() == 1 {
				shared = batches - b.GetCumulativeCount()
			}
		}
	}
	return batches, shared
}

// kill sends SIGKILL and waits for the process to be gone.
func (s *server) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// partli runs a partli command against dbURL and returns its stdout.
func partli(t *testing.T, dbURL string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, partliBin, args...)
	cmd.Env = append(os.Environ(), "DATABASE_URL="+dbURL)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("partli %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// shop is a workspace with a program paying 10 % on every sale (recurring,
// for life), one partner and one click of theirs.
type shop struct {
	key     string
	clickID string
	ws      string
}

func newShop(t *testing.T, s *server) shop {
	t.Helper()
	var created struct{ WorkspaceID, APIKey string }
	out := partli(t, s.dbURL, "workspace", "create", "--name", "Fault shop", "--owner-email", "owner@fault.example",
		"--owner-password", "correct-horse-battery")
	if err := json.Unmarshal(out, &created); err != nil {
		t.Fatalf("workspace create printed %q: %v", out, err)
	}
	sh := shop{key: created.APIKey, ws: created.WorkspaceID}
	var prog, partner struct{ ID, Slug string }
	sh.call(t, s, "POST", "/api/programs", map[string]any{"name": "Fault program",
		"destinationUrl": "https://shop.example.com/", "currency": "USD"}, &prog)
	sh.call(t, s, "POST", "/api/programs/"+prog.ID+"/rewards", map[string]any{"event": "sale",
		"type": "percentage", "percent": 10, "interval": "recurring"}, nil)
	sh.call(t, s, "POST", "/api/programs/"+prog.ID+"/partners", map[string]any{"email": "ada@fault.example",
		"name": "Ada"}, &partner)
	client := &http.Client{Timeout: hangAfter,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(s.url() + "/r/" + partner.Slug)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for _, c := range resp.Cookies() {
		if c.Name == "pref_cid" {
			sh.clickID = c.Value
		}
	}
	if resp.StatusCode != http.StatusFound || sh.clickID == "" {
		t.Fatalf("GET /r/%s: %s, no click id", partner.Slug, resp.Status)
	}
	return sh
}

func (sh shop) call(t *testing.T, s *server, method, path string, body, into any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, s.url()+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+sh.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: hangAfter}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %s: %s", method, path, resp.Status, data)
	}
	if into != nil {
		if err := json.Unmarshal(data, into); err != nil {
			t.Fatal(err)
		}
	}
}

// saleReply is the part of a track/sale reply the tests look at.
type saleReply struct {
	EventID    *string `json:"eventId"`
	Attributed bool    `json:"attributed"`
	Duplicate  bool    `json:"duplicate"`
	Commission *struct {
		ID string `json:"id"`
	} `json:"commission"`
	Error *struct {
		Code string `json:"code"`
	} `json:"error"`
}

// outcome is what one POST /api/track/sale gave: a status and reply, or a
// transport error (connection refused or reset, timeout).
type outcome struct {
	status     int
	retryAfter string
	reply      saleReply
	err        error
	took       time.Duration
}

// String describes the outcome for a failure message.
func (o outcome) String() string {
	took := o.took.Round(time.Millisecond)
	switch {
	case o.err != nil:
		return fmt.Sprintf("error %v after %s", o.err, took)
	case o.reply.Error != nil:
		return fmt.Sprintf("status %d (%s) after %s", o.status, o.reply.Error.Code, took)
	}
	return fmt.Sprintf("status %d, event %s, duplicate %t, commission %t after %s",
		o.status, deref(o.reply.EventID), o.reply.Duplicate, o.reply.Commission != nil, took)
}

func (sh shop) postSale(ctx context.Context, client *http.Client, base, externalID, customer string) outcome {
	start := time.Now()
	o := sh.post(ctx, client, base, externalID, customer)
	o.took = time.Since(start)
	return o
}

func (sh shop) post(ctx context.Context, client *http.Client, base, externalID, customer string) outcome {
	body := fmt.Sprintf(`{"externalId":%q,"customerExternalId":%q,"amountCents":2500,"currency":"USD","clickId":%q}`,
		externalID, customer, sh.clickID)
	req, err := http.NewRequestWithContext(ctx, "POST", base+"/api/track/sale", strings.NewReader(body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Authorization", "Bearer "+sh.key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return outcome{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return outcome{err: err}
	}
	o := outcome{status: resp.StatusCode, retryAfter: resp.Header.Get("Retry-After")}
	if err := json.Unmarshal(data, &o.reply); err != nil {
		o.err = fmt.Errorf("status %d, body %q: %w", resp.StatusCode, data, err)
	}
	return o
}

// stored is what the database holds for one external id.
type stored struct {
	Events      int `db:"events"`
	Commissions int `db:"commissions"`
	SaleEvents  int `db:"sale_events"`
	CommEvents  int `db:"commission_events"`
}

// checkStored asserts that each external id of want is stored exactly once,
// with one commission and one sale.created and commission.created outbox
// event each, and, where want names an event id, that it is that one.
func checkStored(t *testing.T, db *sqlx.DB, ws string, want map[string]string) {
	t.Helper()
	ext := make([]string, 0, len(want))
	for k := range want {
		ext = append(ext, k)
	}
	rows, err := db.Queryx(`
		SELECT x.ext, count(DISTINCT e.id) AS events, count(DISTINCT c.id) AS commissions,
			min(e.id) AS event_id,
			(SELECT count(*) FROM webhook_events w WHERE w.workspace_id = $1 AND w.type = 'sale.created'
				AND w.payload->'data'->>'externalId' = x.ext) AS sale_events,
			(SELECT count(*) FROM webhook_events w WHERE w.workspace_id = $1 AND w.type = 'commission.created'
				AND w.payload->'data'->>'eventId' = min(e.id)) AS commission_events
		FROM unnest($2::text[]) AS x(ext)
		LEFT JOIN events e ON e.workspace_id = $1 AND e.kind = 'sale' AND e.external_id = x.ext
		LEFT JOIN commissions c ON c.workspace_id = e.workspace_id AND c.event_id = e.id
		GROUP BY x.ext`, ws, pqArray(ext))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	bad := 0
	for rows.Next() {
		var r struct {
			stored
			Ext     string  `db:"ext"`
			EventID *string `db:"event_id"`
		}
		if err := rows.StructScan(&r); err != nil {
			t.Fatal(err)
		}
		ok := r.Events == 1 && r.Commissions == 1 && r.SaleEvents == 1 && r.CommEvents == 1
		if id := want[r.Ext]; ok && id != "" && (r.EventID == nil || *r.EventID != id) {
			ok = false
		}
		if !ok {
			if bad++; bad <= 10 {
				t.Errorf("sale %s: %d events, %d commissions, %d sale.created, %d commission.created (want 1 each), event %v, acknowledged as %q",
					r.Ext, r.Events, r.Commissions, r.SaleEvents, r.CommEvents, deref(r.EventID), want[r.Ext])
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if bad > 0 {
		t.Errorf("%d of %d sales are not stored exactly once", bad, len(want))
	}
}

func deref(s *string) string {
	if s == nil {
		return "<none>"
	}
	return *s
}

// pqArray writes a text[] literal; the values are the tests' own ids.
func pqArray(ss []string) string {
	return "{" + strings.Join(ss, ",") + "}"
}

func openDB(t *testing.T, url string) *sqlx.DB {
	t.Helper()
	db, err := sqlx.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// durableCluster starts a private PostgreSQL cluster with fsync and
// synchronous commit on, as in production, with a migrated database.
func durableCluster(t *testing.T) (*pg.Cluster, string) {
	t.Helper()
	dir, err := os.MkdirTemp("", "partli-fault-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := pg.ChownToServerUser(dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterBound)
	defer cancel()
	c, err := pg.Start(ctx, pg.Options{Dir: filepath.Join(dir, "pg")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy() })
	if err := c.CreateDatabase(ctx, "partli", ""); err != nil {
		t.Fatal(err)
	}
	url := c.URL("partli")
	partli(t, url, "migrate")
	return c, url
}

// waitFor polls cond until it holds, for at most bound, and says whether
// it held.
func waitFor(bound time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(bound)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// isTimeout tells a request that got no answer in time from one refused
// or reset.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// since is a duration for the logs.
func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

// TestServerKilledDuringSales kills the server with SIGKILL while clients
// post unique sales, and starts it again. Clients retry a sale whose
// request failed (as a merchant's webhook sender would) until it gets a
// 200. Every sale must then be stored exactly once, with its commission
// and outbox events, under the event id its 200 named.
func TestServerKilledDuringSales(t *testing.T) {
	_, url := durableCluster(t)
	srv := startServer(t, url)
	sh := newShop(t, srv)
	db := openDB(t, url)

	// Every sale a client starts must be acknowledged within loadBound.
	ctx, cancel := context.WithTimeout(context.Background(), loadBound)
	defer cancel()
	const clients = 8
	var (
		mu       sync.Mutex
		acked    = map[string]string{} // external id → event id of its 200
		retried  atomic.Int64          // requests that failed and were sent again
		repeats  atomic.Int64          // 200s for a retried sale that say duplicate
		stop     atomic.Bool
		wg       sync.WaitGroup
		failures = make(chan string, clients) // at most one per client, which then stops
		okBefore atomic.Int64                 // 200s before the kill
		okAfter  atomic.Int64                 // 200s after it
		hit      atomic.Int64                 // clients that had a request fail after the kill
		killed   atomic.Bool
		client   = &http.Client{Timeout: hangAfter}
	)
	for g := range clients {
		wg.Go(func() {
			hitByKill := false
			for i := 0; !stop.Load(); i++ {
				ext := fmt.Sprintf("kill-%d-%d", g, i)
				cust := fmt.Sprintf("kill-cus-%d-%d", g, i)
				failedBefore := false
				for {
					if err := ctx.Err(); err != nil {
						if err == context.DeadlineExceeded { // not cancelled by a failed test
							failures <- fmt.Sprintf("%s: no 200 within %s of the start of the load", ext, loadBound)
						}
						return
					}
					o := sh.postSale(ctx, client, srv.url(), ext, cust)
					if o.err == nil && o.status == http.StatusOK {
						if o.reply.EventID == nil || o.reply.Commission == nil {
							failures <- fmt.Sprintf("%s: 200 without an event or commission", ext)
							return
						}
						mu.Lock()
						acked[ext] = *o.reply.EventID
						mu.Unlock()
						if failedBefore && o.reply.Duplicate {
							repeats.Add(1)
						}
						if killed.Load() {
							okAfter.Add(1)
						} else {
							okBefore.Add(1)
						}
						break
					}
					if o.err == nil && o.status != http.StatusServiceUnavailable {
						failures <- fmt.Sprintf("%s: %s", ext, o)
						return
					}
					if o.err != nil && isTimeout(o.err) && ctx.Err() == nil {
						failures <- fmt.Sprintf("%s: no answer (a hang): %s", ext, o)
						return
					}
					// The server is down or restarting: retry shortly.
					failedBefore = true
					retried.Add(1)
					if killed.Load() && !hitByKill {
						hitByKill = true
						hit.Add(1)
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	// Stop the clients before the server goes away (t.Cleanup); each
	// finishes the sale it has begun, unless the test has failed already.
	// Report what they saw, if the test ends early.
	defer func() {
		if t.Failed() {
			cancel()
		}
		stop.Store(true)
		wg.Wait()
		for {
			select {
			case f, open := <-failures:
				if !open {
					return
				}
				t.Error(f)
			default:
				return
			}
		}
	}()

	// Let some sales through, kill the server in the middle of others,
	// leave it down until every client has had a request fail, start it
	// again, and carry on until it has acknowledged a number of sales.
	begun := time.Now()
	// The kill must land among batches of several sales: wait until the
	// server has written some (its /metrics says so) before killing it.
	var batches, shared uint64
	if !waitFor(phaseBound, func() bool {
		batches, shared = srv.saleBatches()
		return okBefore.Load() >= 50 && shared >= 5
	}) {
		t.Fatalf("within %s of the start, %d sales acknowledged in %d batches, %d of them of more than one sale", phaseBound, okBefore.Load(), batches, shared)
	}
	t.Logf("%d sales acknowledged in %s, in %d batches (%d of several sales); killing the server", okBefore.Load(), since(begun), batches, shared)
	killed.Store(true)
	srv.kill()
	down := time.Now()
	if !waitFor(phaseBound, func() bool { return hit.Load() == clients && time.Since(down) >= 300*time.Millisecond }) {
		t.Fatalf("only %d of %d clients had a request fail within %s of the kill", hit.Load(), clients, phaseBound)
	}
	srv.start()
	restarted := time.Now()
	t.Logf("server down for %s (restart included)", since(down))
	if !waitFor(phaseBound, func() bool { return okAfter.Load() >= 50 }) {
		t.Fatalf("only %d sales acknowledged within %s of the restart", okAfter.Load(), phaseBound)
	}
	t.Logf("50 sales acknowledged %s after the restart", since(restarted))
	stop.Store(true)
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if t.Failed() {
		return
	}
	if retried.Load() == 0 {
		t.Fatal("no request failed: the server was not killed under load")
	}
	t.Logf("%d sales acknowledged (%d before the kill); %d requests failed and were retried, %d retries answered as repeats",
		len(acked), okBefore.Load(), retried.Load(), repeats.Load())
	checkStored(t, db, sh.ws, acked)
	var total int
	if err := db.Get(&total, `SELECT count(*) FROM events WHERE workspace_id = $1`, sh.ws); err != nil {
		t.Fatal(err)
	}
	if total != len(acked) {
		t.Errorf("%d sales are stored, %d were acknowledged: every sale sent was retried until acknowledged", total, len(acked))
	}
}

// TestPostgresRestartDuringSales stops PostgreSQL under load and starts it
// again. While it is down, every reply is 503 with Retry-After (never a 500
// or a hang); afterwards the service recovers without help, and the sales
// that got a 503, sent again, are each stored once.
func TestPostgresRestartDuringSales(t *testing.T) {
	cluster := testdb.NewCluster(t)
	url := cluster.URL("partli")
	srv := startServer(t, url)
	sh := newShop(t, srv)

	const clients = 8
	// A hang is a request that the server does not answer within its own
	// bound (30 s per request), however loaded the machine is. No other
	// deadline cuts a request short: clients stop between requests.
	client := &http.Client{Timeout: hangAfter}
	var (
		mu          sync.Mutex
		acked       = map[string]string{}
		unavailable []string // external ids answered 503
		problems    []string
		counts      = map[string]int{}
		ok          [3]atomic.Int64 // 200s by phase
		down        atomic.Int64    // 503s in phase 1
		phase       atomic.Int32    // 0 up, 1 down, 2 up again
		recoveredAt atomic.Int64    // unix nanos of the first 200 after the restart
		stop        atomic.Bool
		wg          sync.WaitGroup
		seq         atomic.Int64
	)
	for range clients {
		wg.Go(func() {
			for !stop.Load() {
				n := seq.Add(1)
				ext, cust := fmt.Sprintf("pg-%d", n), fmt.Sprintf("pg-cus-%d", n)
				o := sh.postSale(context.Background(), client, srv.url(), ext, cust)
				p := phase.Load()
				mu.Lock()
				switch {
				case o.err != nil:
					problems = append(problems, fmt.Sprintf("%s: %s in phase %d", ext, o, p))
				case o.status == http.StatusOK:
					counts["200"]++
					acked[ext] = deref(o.reply.EventID)
					ok[p].Add(1)
					if p == 2 && recoveredAt.Load() == 0 {
						recoveredAt.Store(time.Now().UnixNano())
					}
				case o.status == http.StatusServiceUnavailable:
					counts["503"]++
					unavailable = append(unavailable, ext)
					if p == 1 {
						down.Add(1)
					}
					if o.retryAfter == "" || o.reply.Error == nil || o.reply.Error.Code != "unavailable" {
						problems = append(problems, fmt.Sprintf("%s: 503 without Retry-After or code unavailable", ext))
					}
				default:
					counts[fmt.Sprint(o.status)]++
					problems = append(problems, fmt.Sprintf("%s: %s in phase %d", ext, o, p))
				}
				mu.Unlock()
				if o.status == http.StatusServiceUnavailable {
					time.Sleep(20 * time.Millisecond)
				}
			}
		})
	}
	// Each client finishes the request it has sent, within hangAfter.
	stopClients := sync.OnceFunc(func() {
		stop.Store(true)
		wg.Wait()
	})
	defer stopClients()

	// Some sales go through; PostgreSQL stops, and stays down for at least
	// a second and until clients have had a number of 503s; it starts
	// again; the service must recover and carry on.
	begun := time.Now()
	// PostgreSQL must stop among batches of several sales: wait until the
	// server has written some (its /metrics says so).
	var batches, shared uint64
	if !waitFor(phaseBound, func() bool {
		batches, shared = srv.saleBatches()
		return ok[0].Load() >= 50 && shared >= 5
	}) {
		t.Fatalf("within %s of the start, %d sales acknowledged in %d batches, %d of them of more than one sale", phaseBound, ok[0].Load(), batches, shared)
	}
	t.Logf("%d sales acknowledged in %s, in %d batches (%d of several sales); stopping PostgreSQL", ok[0].Load(), since(begun), batches, shared)
	phase.Store(1)
	stopping := time.Now()
	if err := cluster.Stop(); err != nil {
		t.Fatal(err)
	}
	t.Logf("PostgreSQL stopped in %s", since(stopping))
	if !waitFor(phaseBound, func() bool { return down.Load() >= 2*clients && time.Since(stopping) >= time.Second }) {
		t.Errorf("only %d 503s within %s of stopping PostgreSQL", down.Load(), phaseBound)
	}
	ctx, cancel := context.WithTimeout(context.Background(), clusterBound)
	defer cancel()
	starting := time.Now()
	if err := cluster.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted := time.Now()
	t.Logf("PostgreSQL down for %s; it took %s to start", restarted.Sub(stopping).Round(time.Millisecond), restarted.Sub(starting).Round(time.Millisecond))
	phase.Store(2)
	if !waitFor(phaseBound, func() bool { return ok[2].Load() >= 50 }) {
		// Fatal below if there was not even one.
		t.Errorf("only %d sales acknowledged within %s of PostgreSQL coming back", ok[2].Load(), phaseBound)
	}
	stopClients() // from here on, only this goroutine touches what the clients wrote

	t.Logf("replies: %v", counts)
	for i, p := range problems {
		if i == 10 {
			t.Errorf("… and %d more", len(problems)-10)
			break
		}
		t.Error(p)
	}
	if counts["503"] == 0 {
		t.Error("no 503 while PostgreSQL was down")
	}
	if recoveredAt.Load() == 0 {
		t.Fatalf("no 200 within %s of PostgreSQL coming back", phaseBound)
	}
	t.Logf("recovered %s after PostgreSQL started again", time.Duration(recoveredAt.Load()-restarted.UnixNano()).Round(time.Millisecond))
	if t.Failed() {
		return
	}

	// "The client may retry safely": a sale answered 503 may or may not be
	// stored; sent again it is stored once.
	// They are sent again by as many clients as before.
	resent := time.Now()
	var (
		next    atomic.Int64
		resends sync.WaitGroup
		events  = make([]string, len(unavailable)) // event id of each one's 200
		errs    = make([]string, len(unavailable))
	)
	for range clients {
		resends.Go(func() {
			for i := int(next.Add(1)) - 1; i < len(unavailable); i = int(next.Add(1)) - 1 {
				ext := unavailable[i]
				n := strings.TrimPrefix(ext, "pg-")
				o := sh.postSale(context.Background(), client, srv.url(), ext, "pg-cus-"+n)
				if o.err != nil || o.status != http.StatusOK || o.reply.EventID == nil {
					errs[i] = fmt.Sprintf("%s sent again after the restart: %s", ext, o)
					continue
				}
				events[i] = *o.reply.EventID
			}
		})
	}
	resends.Wait()
	t.Logf("%d sales answered 503 sent again in %s", len(unavailable), since(resent))
	bad := 0
	for i, ext := range unavailable {
		if errs[i] != "" {
			if bad++; bad <= 10 {
				t.Error(errs[i])
			}
			continue
		}
		acked[ext] = events[i]
	}
	if bad > 0 {
		t.Fatalf("%d of %d sales answered 503 failed when sent again", bad, len(unavailable))
	}
	checkStored(t, openDB(t, url), sh.ws, acked)
}

// TestReplicasShareDuplicateSales runs two replicas on one database and
// posts each external id several times at once, spread over both: each is
// stored once, every reply names the same sale and commission, and exactly
// one reply says it was new. A post answered 503 (the service's "retry
// later", which a machine overloaded enough can give) is sent again, as a
// client would; the attempt that got the 503 may have stored the sale, so
// for that sale no reply may say new, but never more than one.
func TestReplicasShareDuplicateSales(t *testing.T) {
	_, url := testdb.New(t)
	a := startServer(t, url)
	b := startServer(t, url)
	sh := newShop(t, a)
	watchLocks(t, url)

	// All the posts together must be done within loadBound; each must be
	// answered within hangAfter.
	ctx, cancel := context.WithTimeout(context.Background(), loadBound)
	defer cancel()
	const (
		sales    = 60
		copies   = 6 // posts of each external id, alternating replicas
		inFlight = 24
	)
	client := &http.Client{Timeout: hangAfter, Transport: &http.Transport{MaxIdleConnsPerHost: inFlight}}
	replies := make([][]outcome, sales)
	for i := range replies {
		replies[i] = make([]outcome, copies)
	}
	var (
		mu          sync.Mutex
		unavailable = map[int][]string{} // sale → its 503s
	)
	begun := time.Now()
	var wg sync.WaitGroup
	slots := make(chan struct{}, inFlight)
	for i := range sales {
		// All copies of one sale start together, on both replicas.
		gate := make(chan struct{})
		for j := range copies {
			srv := a
			if j%2 == 1 {
				srv = b
			}
			wg.Go(func() {
				slots <- struct{}{}
				defer func() { <-slots }()
				<-gate
				for {
					o := sh.postSale(ctx, client, srv.url(), fmt.Sprintf("dup-%d", i), fmt.Sprintf("dup-cus-%d", i))
					if o.err != nil || o.status != http.StatusServiceUnavailable || ctx.Err() != nil {
						replies[i][j] = o
						return
					}
					msg := fmt.Sprintf("dup-%d, copy %d (replica %c): %s", i, j, "ab"[j%2], o)
					if o.retryAfter == "" || o.reply.Error == nil || o.reply.Error.Code != "unavailable" {
						replies[i][j] = o // a malformed 503 fails the test
						return
					}
					mu.Lock()
					unavailable[i] = append(unavailable[i], msg)
					mu.Unlock()
					time.Sleep(200 * time.Millisecond)
				}
			})
		}
		close(gate)
	}
	wg.Wait()
	t.Logf("%d posts answered in %s", sales*copies, since(begun))
	for i := range sales {
		for _, m := range unavailable[i] {
			t.Logf("answered 503 and sent again: %s", m)
		}
	}

	bad := 0
	for i, rs := range replies {
		for j, o := range rs {
			if o.err != nil || o.status != http.StatusOK || o.reply.EventID == nil || o.reply.Commission == nil {
				if bad++; bad <= 10 {
					t.Errorf("dup-%d, copy %d (replica %c): %s", i, j, "ab"[j%2], o)
				}
			}
		}
	}
	if bad > 0 {
		if ctx.Err() != nil {
			t.Errorf("the posts took more than %s in all", loadBound)
		}
		t.Fatalf("%d of %d posts failed", bad, sales*copies)
	}
	want := map[string]string{}
	for i, rs := range replies {
		ext := fmt.Sprintf("dup-%d", i)
		var event, comm string
		fresh := 0
		for _, o := range rs {
			if !o.reply.Duplicate {
				fresh++
			}
			if event == "" {
				event, comm = *o.reply.EventID, o.reply.Commission.ID
			} else if *o.reply.EventID != event || o.reply.Commission.ID != comm {
				t.Errorf("%s: replies name sale %s / commission %s and sale %s / commission %s",
					ext, event, comm, *o.reply.EventID, o.reply.Commission.ID)
			}
		}
		if fresh != 1 && (fresh != 0 || len(unavailable[i]) == 0) {
			t.Errorf("%s: %d of %d replies say the sale is new, want exactly 1", ext, fresh, copies)
		}
		want[ext] = event
	}
	db := openDB(t, url)
	checkStored(t, db, sh.ws, want)
	var total int
	if err := db.Get(&total, `SELECT count(*) FROM events WHERE workspace_id = $1`, sh.ws); err != nil {
		t.Fatal(err)
	}
	if total != sales {
		t.Errorf("%d sales stored, want %d", total, sales)
	}
}

// watchLocks logs, while the test runs, every backend that has waited on a
// lock or for longer than a few seconds, with the backends blocking it and
// what they run: a stall in the sale pipeline shows its cause here.
func watchLocks(t *testing.T, dbURL string) {
	t.Helper()
	db, err := sqlx.Open("postgres", dbURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	t.Cleanup(func() { cancel(); <-done; db.Close() })
	go func() {
		defer close(done)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			var rows []struct {
				PID      int     `db:"pid"`
				State    *string `db:"state"`
				Wait     *string `db:"wait"`
				Age      string  `db:"age"`
				XactAge  *string `db:"xact_age"`
				Blockers string  `db:"blockers"`
				Query    string  `db:"query"`
				Locks    *string `db:"locks"`
			}
			err := db.SelectContext(ctx, &rows, `
				SELECT a.pid, a.state, a.wait_event_type || ':' || a.wait_event AS wait,
					(now() - a.query_start)::text AS age, (now() - a.xact_start)::text AS xact_age,
					pg_blocking_pids(a.pid)::text AS blockers, left(regexp_replace(a.query, '\s+', ' ', 'g'), 160) AS query,
					(SELECT string_agg(l.locktype || ' ' || coalesce(l.relation::regclass::text, '') || ' ' || l.mode || CASE WHEN l.granted THEN '' ELSE ' WAITING' END, '; ')
						FROM pg_locks l WHERE l.pid = a.pid AND l.locktype <> 'virtualxid') AS locks
				FROM pg_stat_activity a
				WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()
				  AND (cardinality(pg_blocking_pids(a.pid)) > 0 OR a.pid = ANY (SELECT unnest(pg_blocking_pids(b.pid)) FROM pg_stat_activity b))
				  AND now() - coalesce(a.xact_start, a.query_start) > interval '3 seconds'`)
			if err != nil || len(rows) == 0 {
				continue
			}
			for _, r := range rows {
				t.Logf("lock watch: pid %d state %v wait %v age %s xact %v blocked by %s: %s | locks: %v",
					r.PID, deref(r.State), deref(r.Wait), r.Age, deref(r.XactAge), r.Blockers, r.Query, deref(r.Locks))
			}
		}
	}()
}
