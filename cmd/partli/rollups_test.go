package main

import (
	"context"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/migrations"
)

// A database filled before the overview's roll-ups existed gets them from
// the migration that adds them: the same rows a recount makes.
func TestMigrateBackfillsRollups(t *testing.T) {
	ctx := context.Background()
	dbURL := unmigratedDB(t)
	db, err := store.Open(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 11); err != nil {
		t.Fatal(err)
	}
	// What a Partli of then wrote: two partners' clicks, sales in two
	// currencies over two months, commissions in every status, a lead.
	for _, q := range []string{
		`INSERT INTO workspaces (id, name, slug) VALUES ('ws_1', 'Old', 'old')`,
		`INSERT INTO programs (id, workspace_id, name, slug, destination_url, currency, holding_period_days, cookie_days)
			VALUES ('prog_1', 'ws_1', 'P', 'p', 'https://shop.example/', 'USD', 30, 90)`,
		`INSERT INTO partners (id, workspace_id, program_id, email, name, slug) VALUES
			('ptn_a', 'ws_1', 'prog_1', 'a@x.example', 'A', 'old-a'), ('ptn_b', 'ws_1', 'prog_1', 'b@x.example', 'B', 'old-b')`,
		`INSERT INTO clicks (id, workspace_id, program_id, partner_id, ip_hash, created_at)
			SELECT 'c_' || i, 'ws_1', 'prog_1', CASE WHEN i % 2 = 0 THEN 'ptn_a' ELSE 'ptn_b' END, '\x00', now() - i * interval '1 day'
			FROM generate_series(1, 40) i`,
		`INSERT INTO customers (id, workspace_id, external_id, program_id, partner_id)
			SELECT 'cus_' || i, 'ws_1', 'x' || i, 'prog_1', CASE WHEN i % 2 = 0 THEN 'ptn_a' ELSE 'ptn_b' END FROM generate_series(1, 30) i`,
		`INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id, amount_cents, currency, event_name, occurred_at, created_at)
			SELECT 'sale_' || i, 'ws_1', CASE WHEN i = 30 THEN 'lead' ELSE 'sale' END, 'e' || i, 'cus_' || i, 'prog_1',
				CASE WHEN i % 2 = 0 THEN 'ptn_a' ELSE 'ptn_b' END, 1000 * i, CASE WHEN i % 3 = 0 THEN 'EUR' ELSE 'USD' END, 'sale',
				now() - i * interval '2 days', now() - i * interval '2 days'
			FROM generate_series(1, 30) i`,
		`INSERT INTO commissions (id, workspace_id, program_id, partner_id, customer_id, event_id, type, amount_cents, currency,
				status, payable_at, occurred_at, created_at)
			SELECT 'cm_' || i, 'ws_1', 'prog_1', CASE WHEN i % 2 = 0 THEN 'ptn_a' ELSE 'ptn_b' END, 'cus_' || i, 'sale_' || i, 'sale',
				100 * i, CASE WHEN i % 3 = 0 THEN 'EUR' ELSE 'USD' END,
				(ARRAY['pending', 'approved', 'paid', 'clawed_back'])[1 + i % 4], now(), now(), now() - i * interval '2 days'
			FROM generate_series(1, 29) i`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if _, err := store.Migrate(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	read := func() string {
		t.Helper()
		var out []string
		for _, q := range []string{
			`SELECT concat_ws(' ', day, program_id, currency, slot, sales, sale_cents, pending_n, pending_cents, approved_n,
				approved_cents, paid_n, paid_cents, clawed_back_n, clawed_back_cents) FROM daily_totals ORDER BY 1`,
			`SELECT concat_ws(' ', day, program_id, slot, clicks, leads) FROM daily_activity ORDER BY 1`,
			`SELECT concat_ws(' ', day, partner_id, currency, earned_n, earned_cents) FROM daily_partner_earnings ORDER BY 1`,
			`SELECT concat_ws(' ', month, partner_id, currency, earned_n, earned_cents) FROM monthly_partner_earnings ORDER BY 1`,
		} {
			var rows []string
			if err := db.SelectContext(ctx, &rows, q); err != nil {
				t.Fatal(err)
			}
			if len(rows) == 0 {
				t.Fatalf("no rows from %s", q)
			}
			out = append(out, rows...)
		}
		return strings.Join(out, "\n")
	}
	migrated := read()
	if err := store.New(db).RebuildStats(ctx, "ws_1"); err != nil {
		t.Fatal(err)
	}
	if recount := read(); migrated != recount {
		t.Fatalf("the migration's roll-ups differ from a recount:\nmigrated:\n%s\nrecount:\n%s", migrated, recount)
	}
	var sales, clicks int64
	if err := db.QueryRowContext(ctx, `SELECT (SELECT sum(sales) FROM daily_totals), (SELECT sum(clicks) FROM daily_activity)`).Scan(&sales, &clicks); err != nil || sales != 29 || clicks != 40 {
		t.Fatalf("roll-ups count %d sales and %d clicks (%v), want 29 and 40", sales, clicks, err)
	}
}
