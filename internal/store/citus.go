package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// On a database with the citus extension (a Citus coordinator), Partli's
// tables are distributed by tenant: every table with a workspace_id column
// becomes a distributed table, sharded by workspace_id and colocated with
// the others, so that a workspace's rows of every table live on one node
// and its queries stay on one shard; every other table (workspaces, and
// the global look-ups: link slugs, key hashes, sign-in emails, Stripe
// accounts, portal accounts, sessions) becomes a reference table, copied
// to every node. Migrate calls distribute after each run, so it is
// idempotent and new tables of later migrations are distributed too.

// hasCitus reports whether db's database has the citus extension.
func hasCitus(ctx context.Context, db *sql.DB) (bool, error) {
	var ok bool
	err := db.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'citus')`).Scan(&ok)
	return ok, err
}

// Distribution is how a table is laid out on Citus.
type Distribution struct {
	Table string
	// Column is the distribution column, "" for a reference table.
	Column string
}

// Layout is how every table of the schema is laid out on Citus: the
// tenant tables distributed by workspace_id, the rest reference tables, in
// an order Citus accepts (a table before the tables whose foreign keys
// reference it).
func Layout(ctx context.Context, db *sql.DB) ([]Distribution, error) {
	rows, err := db.QueryContext(ctx, `
		SELECT c.relname,
			EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		  AND c.relname <> 'goose_db_version'
		ORDER BY c.relname`)
	if err != nil {
		return nil, fmt.Errorf("store: layout: %w", err)
	}
	defer rows.Close()
	var tables []Distribution
	for rows.Next() {
		var d Distribution
		var tenant bool
		if err := rows.Scan(&d.Table, &tenant); err != nil {
			return nil, err
		}
		if tenant {
			d.Column = "workspace_id"
		}
		tables = append(tables, d)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	// Foreign keys between the tables: a referenced table goes first.
	deps := map[string][]string{}
	fk, err := db.QueryContext(ctx, `
		SELECT cl.relname, ref.relname FROM pg_constraint co
		JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_class ref ON ref.oid = co.confrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		WHERE co.contype = 'f' AND n.nspname = 'public' AND cl.oid <> ref.oid`)
	if err != nil {
		return nil, fmt.Errorf("store: layout: %w", err)
	}
	defer fk.Close()
	for fk.Next() {
		var t, ref string
		if err := fk.Scan(&t, &ref); err != nil {
			return nil, err
		}
		deps[t] = append(deps[t], ref)
	}
	if err := fk.Err(); err != nil {
		return nil, err
	}
	var ordered []Distribution
	done := map[string]bool{}
	var visit func(d Distribution)
	byName := map[string]Distribution{}
	for _, d := range tables {
		byName[d.Table] = d
	}
	visit = func(d Distribution) {
		if done[d.Table] {
			return
		}
		done[d.Table] = true
		for _, ref := range deps[d.Table] {
			if r, ok := byName[ref]; ok {
				visit(r)
			}
		}
		ordered = append(ordered, d)
	}
	// Reference tables first, then the tenant tables.
	for _, d := range tables {
		if d.Column != "workspace_id" {
			visit(d)
		}
	}
	for _, d := range tables {
		visit(d)
	}
	return ordered, nil
}

// distribute lays out every table not laid out yet (see Layout), in one
// transaction. Citus accepts no foreign key between a distributed table
// and a table still local, whichever way it points, so the foreign keys of
// the tables being laid out are dropped first and made again once every
// table is laid out.
func distribute(ctx context.Context, db *sql.DB) error {
	ok, err := hasCitus(ctx, db)
	if err != nil || !ok {
		return err
	}
	layout, err := Layout(ctx, db)
	if err != nil {
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: citus: %w", err)
	}
	defer tx.Rollback()
	// Shards are made over one connection per node: DDL and the copy of
	// existing rows in one transaction need it.
	if _, err := tx.ExecContext(ctx, `SET LOCAL citus.multi_shard_modify_mode TO 'sequential'`); err != nil {
		return fmt.Errorf("store: citus: %w", err)
	}
	done := map[string]bool{}
	if err := scanStrings(ctx, tx, done, `SELECT logicalrelid::regclass::text FROM pg_dist_partition`); err != nil {
		return err
	}
	var todo []Distribution
	for _, d := range layout {
		if !done[d.Table] {
			todo = append(todo, d)
		}
	}
	if len(todo) == 0 {
		return nil
	}
	type fk struct{ table, name, def string }
	var fks []fk
	rows, err := tx.QueryContext(ctx, `
		SELECT co.conrelid::regclass::text, co.conname, pg_get_constraintdef(co.oid) FROM pg_constraint co
		WHERE co.contype = 'f' AND co.connamespace = 'public'::regnamespace AND co.conparentid = 0
		  AND (co.conrelid NOT IN (SELECT logicalrelid FROM pg_dist_partition)
		       OR co.confrelid NOT IN (SELECT logicalrelid FROM pg_dist_partition))
		ORDER BY 1, 2`)
	if err != nil {
		return fmt.Errorf("store: citus: %w", err)
	}
	for rows.Next() {
		var f fk
		if err := rows.Scan(&f.table, &f.name, &f.def); err != nil {
			rows.Close()
			return fmt.Errorf("store: citus: %w", err)
		}
		fks = append(fks, f)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("store: citus: %w", err)
	}
	var steps []string
	for _, f := range fks {
		steps = append(steps, fmt.Sprintf(`ALTER TABLE %s DROP CONSTRAINT %s`, f.table, quoteIdent(f.name)))
	}
	for _, d := range todo {
		q := fmt.Sprintf(`SELECT create_reference_table('%s')`, d.Table)
		if d.Column != "" {
			// The default colocation group: every tenant table, sharded alike.
			q = fmt.Sprintf(`SELECT create_distributed_table('%s', '%s', colocate_with => 'default')`, d.Table, d.Column)
		}
		steps = append(steps, q)
	}
	for _, f := range fks {
		steps = append(steps, fmt.Sprintf(`ALTER TABLE %s ADD CONSTRAINT %s %s`, f.table, quoteIdent(f.name), f.def))
	}
	for _, q := range steps {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: citus: %s: %w", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: citus: %w", err)
	}
	return nil
}

func scanStrings(ctx context.Context, tx *sql.Tx, into map[string]bool, query string) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return fmt.Errorf("store: citus: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		if err := rows.Scan(&t); err != nil {
			return fmt.Errorf("store: citus: %w", err)
		}
		into[strings.Trim(t, `"`)] = true
	}
	return rows.Err()
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// detectCitus reports whether db has the citus extension (New asks, for
// the few statements written differently for Citus: forDB), within a few
// seconds; a database that cannot be asked (it is down at start) counts as
// plain PostgreSQL.
func detectCitus(db *sql.DB) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ok, err := hasCitus(ctx, db)
	return err == nil && ok
}

// fanOutLock is the row lock webhookFanOutSQL takes on the endpoints it
// delivers to, skipping one a concurrent DELETE holds. Citus takes no row
// lock in a statement that spans shards, as a batch of sales of several
// workspaces does, so there the statement goes without it: the deliveries'
// foreign key then waits for an endpoint being deleted and fails the batch,
// whose sales are written again one by one, each without a delivery to
// the deleted endpoint.
const fanOutLock = "FOR KEY SHARE OF e SKIP LOCKED"

// forDB returns query as q's database takes it: on Citus, without the
// fan-out's row lock, and with the click velocity counted without a bound
// (velocityCountCitus).
func (q Queries) forDB(query string) string {
	if q.citus {
		query = strings.Replace(query, fanOutLock, "", 1)
		return strings.Replace(query, velocityCount, velocityCountCitus, 1)
	}
	return query
}

// claimByWorkspace claims up to limit due rows one workspace at a time:
// the workspaces of the limit oldest rows of table that are due (in order)
// first, then claim(ws, n) claims up to n rows of workspace ws. Citus takes
// row locks (FOR UPDATE SKIP LOCKED) only in a statement that reads one
// shard; on plain PostgreSQL each claim is the same index probe with one
// more equality, and finding the workspaces reads no more rows than the
// claims will (however long the backlog).
func claimByWorkspace[T any](ctx context.Context, q Queries, table, due, order string, limit int, claim func(ws string, n int) ([]T, error)) ([]T, error) {
	var wss []string
	if err := q.sel(ctx, &wss, `SELECT DISTINCT workspace_id FROM (
		SELECT workspace_id FROM `+table+` WHERE `+due+` ORDER BY `+order+` LIMIT $1) oldest`, limit); err != nil {
		return nil, err
	}
	var rows []T
	for _, ws := range wss {
		some, err := claim(ws, limit-len(rows))
		if err != nil {
			return nil, err
		}
		if rows = append(rows, some...); len(rows) >= limit {
			break
		}
	}
	return rows, nil
}
