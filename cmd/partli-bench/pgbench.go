package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/partli/partli/internal/store"
)

// pgbenchScript is one sale as the database sees it: the very statements
// POST /api/track/sale runs for a new customer who came through a click
// (internal/store.SaleLookupSQL, RecordSalesSQL, RecordCommissionsSQL, as
// a batch of one), in
// the same order and transaction, prepared (-M prepared) as Partli prepares
// them. Only the parameters differ: what Partli computes in Go (ids, the
// amount, the outbox payloads) pgbench computes in SQL or takes from -D.
// The payloads are real ones, taken from this run's own sales.
func (e *env) pgbenchScript() (string, error) {
	lookup, err := bind(store.SaleLookupSQL, map[int]string{
		1: ":ws",
		2: "('cus_' || :r2)",
		3: "('c_bench' || lpad(:k::text, 21, '0'))",
		4: "('in_' || :r1)",
		5: "''",
		// The bench's click ids are not time-ordered: any time, as Partli looks them up.
		6: "'1970-01-01'::timestamptz", 7: "'infinity'::timestamptz",
	})
	if err != nil {
		return "", err
	}
	// A batch of one sale: Partli's batches are these statements with
	// longer arrays.
	one := func(v string) string { return "ARRAY[" + v + "]" }
	record, err := bind(store.RecordSalesSQL, map[int]string{
		1: one("('cus_' || " + nowPrefix + " || substr(md5(:r2::text), 1, 16))"), 2: one(":ws"), 3: one("('cus_' || :r2)"),
		4: one(":program_id"), 5: one(":partner_id"), 6: one(":click_id"),
		7: one("('sale_' || " + nowPrefix + " || substr(md5(:r1::text), 1, 16))"), 8: one("('in_' || :r1)"), 9: one(":amount"),
		10: one("'USD'"), 11: one("'sale'"), 12: "ARRAY[NULL]::text[]", 13: one("now()::text"),
		14: one("''"), 15: one("''"),
	})
	if err != nil {
		return "", err
	}
	commission, err := bind(store.RecordCommissionsSQL, map[int]string{
		1: one("('cm_' || " + nowPrefix + " || substr(md5(:r1::text), 3, 16))"), 2: one(":ws"), 3: one(":program_id"), 4: one(":partner_id"),
		5: one(":cu_id"), 6: one("('sale_' || " + nowPrefix + " || substr(md5(:r1::text), 1, 16))"), 7: one(":reward_id"),
		8: one("(:amount::bigint / 5)"), 9: one("'USD'"), 10: one("(now() + interval '30 days')::text"),
		11: one("'percentage'"), 12: one("2000"), 13: "ARRAY[NULL]::bigint[]", 14: one("'recurring'"), 15: one("12"),
		16: one(":amount"), 17: one("now()::text"),
		18: "ARRAY['evt_' || " + nowPrefix + " || substr(md5(:r1::text), 5, 16), 'evt_' || " + nowPrefix + " || substr(md5(:r1::text), 7, 16)]",
		19: "ARRAY[:ws, :ws]", 20: "ARRAY['sale.created', 'commission.created']",
		21: "ARRAY[:payload_sale, :payload_commission]", 22: "ARRAY[now()::text, now()::text]",
		23: one(":ws"), 24: one(":program_id"), 25: one(":partner_id"), 26: one("'USD'"), 27: one(":amount"),
	})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\\set k random(1, %d)\n", e.nClicks)
	b.WriteString("\\set r1 random(1, 1000000000000000000)\n\\set r2 random(1, 1000000000000000000)\n")
	b.WriteString("\\set amount random(500, 50499)\n")
	// One statement per line, ended by a semicolon or by \gset, which
	// needs plain column names.
	for _, q := range []string{plainAliases(lookup) + "\n\\gset", "BEGIN;", plainAliases(record) + "\n\\gset", commission + ";", "COMMIT;"} {
		b.WriteString(strings.Join(strings.Fields(q), " "))
		b.WriteString("\n")
	}
	return b.String(), nil
}

// payloads are the webhook payloads of this run's latest sale and
// commission: the scripts write real ones.
func (e *env) payloads(ctx context.Context) (sale, commission string, err error) {
	err = e.db.QueryRowContext(ctx, `SELECT
		(SELECT payload::text FROM webhook_events WHERE workspace_id = $1 AND type = 'sale.created' ORDER BY created_at DESC LIMIT 1),
		(SELECT payload::text FROM webhook_events WHERE workspace_id = $1 AND type = 'commission.created' ORDER BY created_at DESC LIMIT 1)`,
		e.workspaceID).Scan(&sale, &commission)
	if err != nil {
		return "", "", fmt.Errorf("reading the payloads of earlier sales: %w", err)
	}
	return sale, commission, nil
}

var param = regexp.MustCompile(`\$([0-9]+)`)

// bind replaces each $n of query with args[n], and insists that every
// parameter is given (so that a change of the store's statements is noticed).
func bind(query string, args map[int]string) (string, error) {
	if strings.Contains(query, "--") {
		return "", fmt.Errorf("pgbench: a statement holds an SQL comment, which would swallow the rest of its one line in the script")
	}
	seen := map[int]bool{}
	var missing []string
	out := param.ReplaceAllStringFunc(query, func(m string) string {
		n, _ := strconv.Atoi(m[1:])
		seen[n] = true
		v, ok := args[n]
		if !ok {
			missing = append(missing, m)
		}
		return v
	})
	if len(missing) > 0 || len(seen) != len(args) {
		return "", fmt.Errorf("pgbench: the statement's parameters (%d, missing %v) do not match the script's (%d); update cmd/partli-bench/pgbench.go", len(seen), missing, len(args))
	}
	return out, nil
}

var dotted = regexp.MustCompile(`AS "([a-z_.]+)"`)

// plainAliases turns sqlx's AS "rc.p.id" into AS rc_p_id, a name \gset accepts.
func plainAliases(q string) string {
	return dotted.ReplaceAllStringFunc(q, func(m string) string {
		return "AS " + strings.ReplaceAll(dotted.FindStringSubmatch(m)[1], ".", "_")
	})
}

// nowPrefix is the time part of an id internal/ids makes now, so that the
// script's rows land in the indexes where Partli's do (see seedSQL).
var nowPrefix = "(" + strings.ReplaceAll(idPrefixSQL, "extract(epoch FROM at)", "extract(epoch FROM now())") + ")"

// pgbench runs the script at the benchmark's concurrency for its duration
// and returns transactions per second and the mean latency in ms.
func (e *env) pgbench(ctx context.Context, o options) (tps, latencyMs float64, cpu *cpuUse, err error) {
	script, err := e.pgbenchScript()
	if err != nil {
		return 0, 0, nil, err
	}
	var rewardID string
	if err := e.db.QueryRowContext(ctx, `SELECT id FROM rewards WHERE workspace_id = $1 AND group_id IS NULL AND event = 'sale'`,
		e.workspaceID).Scan(&rewardID); err != nil {
		return 0, 0, nil, fmt.Errorf("reading the program's sale reward: %w", err)
	}
	paySale, payCommission, err := e.payloads(ctx)
	if err != nil {
		return 0, 0, nil, err
	}
	path := filepath.Join(e.dir, "track-sale.pgbench")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		return 0, 0, nil, err
	}
	defines := map[string]string{"ws": e.workspaceID, "program_id": e.programID, "reward_id": rewardID,
		"payload_sale": paySale, "payload_commission": payCommission}
	return e.pgbenchRun(ctx, o, path, defines)
}

// pgbenchRun runs a script as every phase runs: after a checkpoint and an
// unmeasured warm-up, at the benchmark's concurrency for its duration. It
// returns transactions per second, the mean latency in ms and the CPU each
// side spent per transaction.
func (e *env) pgbenchRun(ctx context.Context, o options, path string, defines map[string]string) (tps, latencyMs float64, cpu *cpuUse, err error) {
	if err := e.checkpoint(ctx); err != nil {
		return 0, 0, nil, err
	}
	if _, err := e.runPgbench(ctx, o, path, defines, o.warmup); err != nil {
		return 0, 0, nil, err
	}
	meter := startCPU(0, e.postmasterPID())
	cmd, err := e.runPgbench(ctx, o, path, defines, o.duration)
	if err != nil {
		return 0, 0, nil, err
	}
	text, err := os.ReadFile(filepath.Join(e.dir, "pgbench.out"))
	if err != nil {
		return 0, 0, nil, err
	}
	m := regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`).FindSubmatch(text)
	if m == nil {
		return 0, 0, nil, fmt.Errorf("no tps in pgbench's output:\n%s", text)
	}
	tps, _ = strconv.ParseFloat(string(m[1]), 64)
	if m := regexp.MustCompile(`latency average = ([0-9.]+) ms`).FindSubmatch(text); m != nil {
		latencyMs, _ = strconv.ParseFloat(string(m[1]), 64)
	}
	// pgbench's backends exit as it does; let the postmaster reap them, so
	// that their CPU time is counted.
	time.Sleep(300 * time.Millisecond)
	if n := int(tps * o.duration.Seconds()); n > 0 {
		c := meter.perRequest(n)
		c.LoadGenMs = (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds() * 1000 / float64(n)
		cpu = &c
	}
	return tps, latencyMs, cpu, nil
}

// runPgbench runs the script for d and keeps its output in pgbench.out.
func (e *env) runPgbench(ctx context.Context, o options, path string, defines map[string]string, d time.Duration) (*exec.Cmd, error) {
	threads := min(o.concurrency, 2)
	args := []string{"-n", "-M", "prepared", "-c", itoa(o.concurrency), "-j", itoa(threads),
		"-T", itoa(max(1, int(d.Seconds()))), "-f", path}
	for _, k := range slices.Sorted(maps.Keys(defines)) {
		args = append(args, "-D", k+"="+defines[k])
	}
	args = append(args, "-h", e.cluster.SocketDir, "-p", itoa(e.cluster.Port), "-U", "postgres", "partli")
	bin, err := findPgbench(e.cluster.BinDir)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = e.dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "LC_ALL=C"}
	if os.Geteuid() == 0 {
		// pgbench, like the server, is run as the postgres user when we are root.
		if u, err := user.Lookup("postgres"); err == nil {
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
			cmd.Env = append(cmd.Env, "HOME="+u.HomeDir)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%w\n%s\nscript %s", err, out.String(), path)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "pgbench.out"), out.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if m := regexp.MustCompile(`number of failed transactions: ([0-9]+)`).FindStringSubmatch(out.String()); m != nil && m[1] != "0" {
		return nil, fmt.Errorf("pgbench: %s transactions failed:\n%s", m[1], out.String())
	}
	return cmd, nil
}

// findPgbench looks for pgbench beside the server binaries, following
// symlinks (/usr/local/bin/pg_ctl → /usr/lib/postgresql/15/bin), then on PATH.
func findPgbench(binDir string) (string, error) {
	dirs := []string{binDir}
	if real, err := filepath.EvalSymlinks(filepath.Join(binDir, "pg_ctl")); err == nil {
		dirs = append(dirs, filepath.Dir(real))
	}
	for _, d := range dirs {
		if p := filepath.Join(d, "pgbench"); isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("pgbench"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("pgbench is not installed beside %s nor on PATH (it comes with the PostgreSQL server package); run with -pgbench=false to skip it", binDir)
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}
