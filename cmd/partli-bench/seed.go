package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/pg"
)

// seedBatch is the rows each seeding statement writes.
const seedBatch = 50_000

// seed adds n sales to the benchmark's workspace, each with its customer,
// commission and commission history, as the sale pipeline would have left
// them: ids made as internal/ids makes them for the sale's time, dates
// over the last year, every commission state.
//
// It runs with the server stopped and the cluster restarted without fsync
// (a crash would only lose the seed), in set-based statements on
// -seed-workers connections at once, and with no index dropped or
// re-created: the indexes are maintained row by row as in production.
// Then the cluster is restarted as configured, after a checkpoint.
func (e *env) seed(ctx context.Context, o options, n int64) error {
	e.stopServer()
	e.db.Close()
	if err := e.cluster.Stop(); err != nil {
		return err
	}
	fast, err := pg.Start(ctx, pg.Options{Dir: e.cluster.Dir, Fast: true})
	if err != nil {
		return err
	}
	// As the superuser, with the foreign-key triggers off for these
	// connections (session_replication_role=replica): the seed's rows
	// reference each other and the partners by construction, and checking
	// each reference row by row would double the time 10M sales take.
	// Every sale measured afterwards runs with all constraints.
	db, err := sql.Open("postgres", fast.URL("partli")+"&session_replication_role=replica")
	if err != nil {
		return err
	}
	err = e.seedRows(ctx, o, db, n)
	db.Close()
	if stopErr := fast.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	if err := e.cluster.Start(ctx); err != nil {
		return err
	}
	if e.db, err = sql.Open("postgres", e.cluster.URL("partli")); err != nil {
		return err
	}
	e.db.SetMaxOpenConns(4)
	e.existing += n
	return e.startServer(ctx)
}

func (e *env) seedRows(ctx context.Context, o options, db *sql.DB, n int64) error {
	var partners []string
	rows, err := db.QueryContext(ctx, "SELECT id FROM partners WHERE workspace_id = $1", e.workspaceID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		partners = append(partners, id)
	}
	rows.Close()

	var (
		next  atomic.Int64 // the first sale of the next batch
		done  atomic.Int64
		wg    sync.WaitGroup
		errMu sync.Mutex
		first error
	)
	from := time.Now().Add(-365 * 24 * time.Hour)
	start := time.Now()
	for range o.seedWorkers {
		wg.Go(func() {
			for {
				j0 := next.Add(seedBatch) - seedBatch
				size := min(int64(seedBatch), n-j0)
				if size <= 0 || ctx.Err() != nil {
					return
				}
				if _, err := db.ExecContext(ctx, seedSQL, e.workspaceID, e.programID, pq.Array(partners), size,
					from, j0, n); err != nil {
					errMu.Lock()
					if first == nil {
						first = err
					}
					errMu.Unlock()
					next.Store(n)
					return
				}
				d := done.Add(size)
				if !o.quiet && (d%(10*seedBatch) < size || d == n) {
					el := time.Since(start)
					fmt.Fprintf(os.Stderr, "\r· seeded %d / %d sales (%.0f/s)   ", d, n, float64(d)/el.Seconds())
				}
			}
		})
	}
	wg.Wait()
	if !o.quiet {
		fmt.Fprintln(os.Stderr)
	}
	if first != nil {
		return first
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// As a production database would be: vacuumed (hint bits set, the
	// visibility map built) and analyzed, so that autovacuum does not
	// catch up on the seed in the middle of a measurement.
	_, err = db.ExecContext(ctx, "VACUUM (ANALYZE) customers, events, commissions, commission_history")
	return err
}

// seedSQL writes $4 sales, numbers $6 … $6+$4-1 of $7 spread evenly over
// the year from $5, in time order: sale j is made at $5 + j/$7 of a year.
// Their ids are made as internal/ids makes them (idPrefixSQL: the time in
// milliseconds, then random characters), so seeded keys sit where the
// sales of that time would have put them, before every new one. External
// ids (the merchant's invoice and customer ids) are random, as in life.
var seedSQL = `
WITH r AS MATERIALIZED (
	SELECT *, ` + idPrefixSQL + ` AS tp
	FROM (
		SELECT
			$5::timestamptz + ($6::bigint + i - 1) * (interval '365 days' / $7::bigint) AS at,
			'cus_' || translate(substr(md5(random()::text), 1, 15), '0123456789abcdef', '02468acegjmprtwy') AS cus_ext,
			'in_'  || translate(substr(md5(random()::text) || md5(random()::text), 1, 24), '0123456789abcdef', '02468acegjmprtwy') AS ext,
			translate(md5(random()::text), '0123456789abcdef', '02468acegjmprtwy') AS rnd,
			(500 + floor(random() * 20000))::bigint AS amount,
			-- Not the array itself: it would be copied into every row.
			1 + floor(random() * array_length($3::text[], 1))::int AS partner,
			i
		FROM generate_series(1, $4::int) AS i
	) t
), ids AS (
	SELECT *, 'cus_' || tp || substr(rnd, 1, 16) AS cus_id, 'sale_' || tp || substr(rnd, 9, 16) AS sale_id,
		'cm_' || tp || substr(rnd, 17, 16) AS cm_id
	FROM r
), rows AS (
	SELECT ids.*, ($3::text[])[partner] AS partner_id,
		CASE WHEN i % 10 < 4 THEN 'pending' WHEN i % 10 < 7 THEN 'approved'
			WHEN i % 10 < 9 THEN 'paid' ELSE 'clawed_back' END AS status
	FROM ids
), cu AS (
	INSERT INTO customers (id, workspace_id, external_id, program_id, partner_id, created_at, updated_at)
	SELECT cus_id, $1, cus_ext, $2, partner_id, at, at FROM rows
), ev AS (
	INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id,
		amount_cents, currency, event_name, occurred_at, created_at)
	SELECT sale_id, $1, 'sale', ext, cus_id, $2, partner_id, amount, 'USD', 'sale', at, at FROM rows
), cm AS (
	INSERT INTO commissions (id, workspace_id, program_id, partner_id, customer_id, event_id, type,
		amount_cents, currency, status, payable_at, reward_type, reward_percent_bp, reward_interval,
		reward_duration_months, sale_amount_cents, occurred_at, created_at, updated_at)
	SELECT cm_id, $1, $2, partner_id, cus_id, sale_id, 'sale', greatest(1, amount / 5), 'USD', status,
		-- Pending ones are still in their holding period: the auto-approval
		-- worker has nothing to catch up on during the benchmark.
		CASE WHEN status = 'pending' THEN now() + random() * interval '30 days' ELSE at + interval '30 days' END,
		'percentage', 2000, 'recurring', 12, amount, at, at, at
	FROM rows
)
INSERT INTO commission_history (workspace_id, commission_id, from_status, to_status, actor, created_at)
SELECT $1, cm_id, NULL, 'pending', 'system', at FROM rows`

// idPrefixSQL is the first 10 characters internal/ids makes for the time
// at: the 48 bits of its Unix milliseconds (and 2 bits, random there, of
// the rest: zero here), in base32.
var idPrefixSQL = func() string {
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	v := "(floor(extract(epoch FROM at) * 1000)::bigint * 4)"
	var parts []string
	for k := range 10 {
		parts = append(parts, fmt.Sprintf("substr('%s', ((%s >> %d) & 31)::int + 1, 1)", alphabet, v, 45-5*k))
	}
	return strings.Join(parts, " || ")
}()
