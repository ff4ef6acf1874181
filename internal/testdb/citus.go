package testdb

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/pg"
)

// Citus (PARTLI_TEST_CITUS): the coordinator and workers of the template.

// setupCitus starts a coordinator and two workers, makes the template on
// each with the citus extension, registers the workers with the
// coordinator's template, migrates it there (which distributes the tables)
// and closes the template to connections, so that it can be copied.
func setupCitus(ctx context.Context) error {
	opts := func(name string) pg.Options {
		return pg.Options{Dir: filepath.Join(root, name), Fast: true, Preload: []string{"citus"}}
	}
	c, err := pg.Start(ctx, opts("shared"))
	if err != nil {
		return err
	}
	shared, serverURL, template = c, c.URL("postgres"), Template
	for _, name := range []string{"worker-1", "worker-2"} {
		w, err := pg.Start(ctx, opts(name))
		if err != nil {
			return err
		}
		workers = append(workers, w)
		db, err := sql.Open("postgres", w.URL("postgres"))
		if err != nil {
			return err
		}
		workerAdmins = append(workerAdmins, db)
	}
	for _, node := range append([]*pg.Cluster{c}, workers...) {
		if err := node.CreateDatabase(ctx, Template, ""); err != nil {
			return err
		}
		if err := execOn(ctx, node.URL(Template), "CREATE EXTENSION citus"); err != nil {
			return err
		}
	}
	setup := []string{fmt.Sprintf("SELECT citus_set_coordinator_host(%s, %d)", pq.QuoteLiteral(c.SocketDir), c.Port)}
	for _, w := range workers {
		setup = append(setup, fmt.Sprintf("SELECT citus_add_node(%s, %d)", pq.QuoteLiteral(w.SocketDir), w.Port))
	}
	if err := execOn(ctx, c.URL(Template), setup...); err != nil {
		return err
	}
	if err := migrate(ctx, c.URL(Template)); err != nil {
		return err
	}
	if err := openAdmin(ctx); err != nil {
		return err
	}
	// Citus's maintenance daemon keeps a session in every database with the
	// extension; a template must have none to be copied.
	for _, db := range append([]*sql.DB{admin}, workerAdmins...) {
		for _, q := range []string{
			"ALTER DATABASE " + pq.QuoteIdentifier(Template) + " WITH ALLOW_CONNECTIONS false",
			"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = " + pq.QuoteLiteral(Template),
		} {
			if _, err := db.ExecContext(ctx, q); err != nil {
				return fmt.Errorf("citus template: %s: %w", q, err)
			}
		}
	}
	return nil
}

// execOn runs statements on a database of their own connection.
func execOn(ctx context.Context, dbURL string, stmts ...string) error {
	db, err := sql.Open("postgres", dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}
