package main

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"

	"github.com/partli/partli/internal/ids"
)

// saleTargeter makes POST /api/track/sale requests as a merchant's payment
// webhook would: a new invoice id and a new customer each time (random, as
// Stripe's are, so they land all over the indexes), an amount, and the click
// id that brought the customer.
func (e *env) saleTargeter() vegeta.Targeter {
	hdr := http.Header{"Authorization": {"Bearer " + e.apiKey}, "Content-Type": {"application/json"}}
	url := e.baseURL + "/api/track/sale"
	return func(t *vegeta.Target) error {
		t.Method, t.URL, t.Header = http.MethodPost, url, hdr
		t.Body = fmt.Appendf(nil, `{"externalId":"in_%s","customerExternalId":"cus_%s","amountCents":%d,"currency":"USD","clickId":"%s"}`,
			ids.Random(15), ids.Random(9), 500+rand.IntN(50000), clickID(1+rand.IntN(e.nClicks)))
		return nil
	}
}

// measureAtSize seeds the workspace up to n sales and measures track/sale
// there: the most it sustains, latency at 70 % of that, and pgbench.
func (e *env) measureAtSize(ctx context.Context, o options, n int) (*sizeReport, error) {
	sr := &sizeReport{}
	if int64(n) > e.existing {
		o.logf("seeding %d existing sales", int64(n)-e.existing)
		start := time.Now()
		if err := e.seed(ctx, o, int64(n)-e.existing); err != nil {
			return nil, fmt.Errorf("seed: %w", err)
		}
		sr.SeedSeconds = time.Since(start).Seconds()
		o.logf("seeded in %s", time.Since(start).Round(time.Second))
	}
	if e.server == nil {
		if err := e.startServer(ctx); err != nil {
			return nil, err
		}
	}
	sr.ExistingSales = e.existing
	label := count(e.existing)
	pid, _ := e.serverPID()

	var db0 time.Time
	if err := e.db.QueryRowContext(ctx, "SELECT now()").Scan(&db0); err != nil {
		return nil, err
	}
	acknowledged := 0
	countOK := func(r *vegeta.Result) {
		if r.Code == http.StatusOK && bytes.Contains(r.Body, []byte(`"attributed":true`)) {
			acknowledged++
		}
	}
	o.logf("track/sale at %s existing sales: checkpoint, then warming up for %s", label, o.warmup)
	if err := e.settle(ctx, o, load{targeter: e.saleTargeter(), concurrency: o.concurrency, onResult: countOK}); err != nil {
		return nil, err
	}
	o.logf("track/sale at %s existing sales: concurrency %d for %s", label, o.concurrency, o.duration)
	name := fmt.Sprintf("track/sale, %s sales, max", label)
	p, err := attack(ctx, load{name: name, targeter: e.saleTargeter(), concurrency: o.concurrency, duration: o.duration,
		pid: pid, postmaster: e.postmasterPID(), onResult: countOK, profile: e.profile(o, name), metrics: e.metrics()})
	if p != nil {
		sr.Max = *p
	}
	if err != nil {
		return sr, err
	}
	e.existing += int64(p.OK)

	if e.statements {
		n, lines, err := e.statementsPerSale(ctx, 200, countOK)
		if err != nil {
			return sr, err
		}
		sr.StatementsPerReq, sr.Statements = n, lines
	}

	rate := 0.7 * p.RPS
	if err := e.settle(ctx, o, load{targeter: e.saleTargeter(), concurrency: o.concurrency, rate: rate, onResult: countOK}); err != nil {
		return sr, err
	}
	o.logf("track/sale at %s existing sales: %.0f requests/s (70%% of the maximum) for %s", label, rate, o.duration)
	name = fmt.Sprintf("track/sale, %s sales, 70%%", label)
	p70, err := attack(ctx, load{name: name, targeter: e.saleTargeter(), concurrency: o.concurrency, rate: rate,
		duration: o.duration, pid: pid, postmaster: e.postmasterPID(), onResult: countOK, profile: e.profile(o, name), metrics: e.metrics()})
	if p70 != nil {
		sr.At70 = p70
		e.existing += int64(p70.OK)
	}
	if err != nil {
		return sr, err
	}

	// Every acknowledged sale is stored, once, with its commission.
	var sales, commissions int
	err = e.db.QueryRowContext(ctx, `SELECT count(*), count(c.id) FROM events e
		LEFT JOIN commissions c ON c.workspace_id = e.workspace_id AND c.event_id = e.id
		WHERE e.workspace_id = $1 AND e.kind = 'sale' AND e.created_at >= $2`, e.workspaceID, db0).Scan(&sales, &commissions)
	if err != nil {
		return sr, err
	}
	sr.Verified = fmt.Sprintf("%d sales acknowledged, %d stored, %d commissions", acknowledged, sales, commissions)
	if sales != acknowledged {
		return sr, fmt.Errorf("%d sales were acknowledged but %d are stored", acknowledged, sales)
	}

	if o.pgbench {
		o.logf("pgbench at %s existing sales: %d clients for %s", label, o.concurrency, o.duration)
		tps, latency, cpu, err := e.pgbench(ctx, o)
		if err != nil {
			return sr, fmt.Errorf("pgbench: %w", err)
		}
		sr.PgbenchTPS, sr.PgbenchLatencyMs, sr.PgbenchCPU = tps, latency, cpu
		sr.Ratio = sr.Max.RPS / tps
		// pgbench's sales count as existing ones for the next size.
		e.existing += int64(tps * o.duration.Seconds())
	}
	if o.floor {
		o.logf("the floor (the reference transaction of one sale) at %s existing sales: %d clients for %s", label, o.concurrency, o.duration)
		tps, latency, cpu, err := e.floor(ctx, o)
		if err != nil {
			return sr, fmt.Errorf("floor: %w", err)
		}
		sr.FloorTPS, sr.FloorLatencyMs, sr.FloorCPU = tps, latency, cpu
		sr.FloorRatio = sr.Max.RPS / tps
	}
	return sr, nil
}

// settle starts a measured phase as every phase starts: VACUUM (ANALYZE)
// of the tables the load writes, a CHECKPOINT, so
// that no phase inherits another's backlog of dirty pages, then o.warmup of
// the phase's own load, unmeasured. Right after a checkpoint each page's
// first change writes a full-page image to the WAL, a burst that decays
// within seconds; production checkpoints every few minutes, not before
// every measurement. The warm-up also brings vegeta's connections and the
// server's database pool to the phase's size, and each new database
// connection plans the hot statements a few times before it reuses a plan.
func (e *env) settle(ctx context.Context, o options, l load) error {
	// Vacuumed and analyzed, as the seed leaves the tables (autovacuum is
	// off in the benchmark's cluster: see pgTuning).
	if _, err := e.db.ExecContext(ctx, "VACUUM (ANALYZE) customers, events, commissions, commission_history, webhook_events, clicks"); err != nil {
		return err
	}
	if err := e.checkpoint(ctx); err != nil {
		return err
	}
	l.name, l.duration, l.pid, l.postmaster, l.profile = "warm-up", o.warmup, 0, 0, nil
	_, err := attack(ctx, l)
	return err
}

// statementsPerSale sends n sales one after the other and counts the SQL
// statements the database ran meanwhile (pg_stat_statements, BEGIN and
// COMMIT included): what one sale costs in statements, give or take the
// background workers.
func (e *env) statementsPerSale(ctx context.Context, n int, onResult func(*vegeta.Result)) (float64, []string, error) {
	if _, err := e.db.ExecContext(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
		return 0, nil, err
	}
	ok := 0
	_, err := attack(ctx, load{name: "statements", targeter: limit(e.saleTargeter(), n), concurrency: 1,
		onResult: func(r *vegeta.Result) {
			if r.Code == http.StatusOK {
				ok++
			}
			onResult(r)
		}})
	if err != nil {
		return 0, nil, err
	}
	e.existing += int64(ok)
	total, top, err := e.statementCounts(ctx)
	if err != nil || ok == 0 {
		return 0, nil, err
	}
	return float64(total) / float64(ok), statementLines(top, ok, "sale"), nil
}

// statementLines describes each statement per request of n (per call for
// time, blocks and WAL), most called first.
func statementLines(top []statementCount, n int, per string) []string {
	var lines []string
	for _, t := range top {
		c := float64(t.calls)
		lines = append(lines, fmt.Sprintf("%5.2f per %s %7.3f ms (plan %5.3f)  blocks hit %5.1f read %4.1f dirtied %4.1f  WAL %6.0f B %4.2f FPI  %s",
			c/float64(n), per, t.execMs/c, t.planMs/c, float64(t.hit)/c, float64(t.read)/c, float64(t.dirtied)/c,
			float64(t.walBytes)/c, float64(t.walFPI)/c, t.query))
	}
	return lines
}

// limit returns a targeter that stops after n targets.
func limit(tr vegeta.Targeter, n int) vegeta.Targeter {
	var made atomic.Int64
	return func(t *vegeta.Target) error {
		if made.Add(1) > int64(n) {
			return vegeta.ErrNoTargets
		}
		return tr(t)
	}
}

// statementCount is one statement's line of pg_stat_statements: where
// the database's time and I/O per call go.
type statementCount struct {
	calls              int64
	execMs, planMs     float64
	hit, read, dirtied int64 // shared blocks
	walBytes, walFPI   int64
	query              string
}

// statementCounts reads pg_stat_statements for the partli database, leaving
// out the benchmark's own queries.
func (e *env) statementCounts(ctx context.Context) (int64, []statementCount, error) {
	rows, err := e.db.QueryContext(ctx, `SELECT calls, total_exec_time, total_plan_time, shared_blks_hit, shared_blks_read,
			shared_blks_dirtied, wal_bytes, wal_fpi, query
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT LIKE '%pg_stat_statements%'
		ORDER BY calls DESC`)
	if err != nil {
		return 0, nil, err
	}
	defer rows.Close()
	var total int64
	var top []statementCount
	for rows.Next() {
		var c statementCount
		if err := rows.Scan(&c.calls, &c.execMs, &c.planMs, &c.hit, &c.read, &c.dirtied, &c.walBytes, &c.walFPI, &c.query); err != nil {
			return 0, nil, err
		}
		total += c.calls
		c.query = strings.Join(strings.Fields(c.query), " ")
		if len(c.query) > 60 {
			c.query = c.query[:60] + "…"
		}
		top = append(top, c)
	}
	return total, top, rows.Err()
}
