package store_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"github.com/pressly/goose/v3"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/migrations"
)

// Migration 00010 starts the ledger from the books of before: each
// partner's approved commissions in no payout become an opening balance,
// and cancelled payouts are canceled (the contract's spelling).
func TestLedgerMigrationOpensTheBooks(t *testing.T) {
	admin, migratedURL := testdb.New(t)
	name := fmt.Sprintf("partli_ledger_migration_%d", time.Now().UnixNano())
	if _, err := admin.Exec("CREATE DATABASE " + pq.QuoteIdentifier(name)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Exec("DROP DATABASE IF EXISTS " + pq.QuoteIdentifier(name) + " WITH (FORCE)") })
	u, _ := url.Parse(migratedURL)
	u.Path = "/" + name
	ctx := context.Background()
	raw, err := store.Open(ctx, u.String(), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	p, err := goose.NewProvider(goose.DialectPostgres, raw.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 9); err != nil {
		t.Fatal(err)
	}
	exec := func(db *sqlx.DB, q string) {
		t.Helper()
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(raw, `INSERT INTO workspaces (id, name, slug) VALUES ('ws_1', 'W', 'w');
		INSERT INTO programs (id, workspace_id, name, slug, destination_url, currency, holding_period_days, cookie_days)
			VALUES ('prog_1', 'ws_1', 'P', 'p', 'https://x.example', 'USD', 0, 30);
		INSERT INTO partners (id, workspace_id, program_id, email, name, slug) VALUES ('ptn_1', 'ws_1', 'prog_1', 'a@x.co', 'A', 'a-1');
		INSERT INTO customers (id, workspace_id, external_id) VALUES ('cus_1', 'ws_1', 'c1');
		INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id, amount_cents, currency, event_name, occurred_at)
			SELECT 'ev_' || i, 'ws_1', 'sale', 'o' || i, 'cus_1', 'prog_1', 'ptn_1', 10000, 'USD', 'sale', now() FROM generate_series(1, 5) i;
		INSERT INTO payouts (id, workspace_id, program_id, partner_id, currency, amount_cents, status, cancelled_at)
			VALUES ('po_c', 'ws_1', 'prog_1', 'ptn_1', 'USD', 1000, 'cancelled', now()),
			       ('po_p', 'ws_1', 'prog_1', 'ptn_1', 'USD', 1000, 'pending', NULL);
		INSERT INTO commissions (id, workspace_id, program_id, partner_id, customer_id, event_id, type, amount_cents, currency, status, payable_at, occurred_at, payout_id)
			VALUES ('cm_1', 'ws_1', 'prog_1', 'ptn_1', 'cus_1', 'ev_1', 'sale', 1000, 'USD', 'approved', now(), now(), NULL),
			       ('cm_2', 'ws_1', 'prog_1', 'ptn_1', 'cus_1', 'ev_2', 'sale', 2000, 'EUR', 'approved', now(), now(), NULL),
			       ('cm_3', 'ws_1', 'prog_1', 'ptn_1', 'cus_1', 'ev_3', 'sale', 1000, 'USD', 'approved', now(), now(), 'po_p'),
			       ('cm_4', 'ws_1', 'prog_1', 'ptn_1', 'cus_1', 'ev_4', 'sale', 500, 'USD', 'pending', now(), now(), NULL),
			       ('cm_5', 'ws_1', 'prog_1', 'ptn_1', 'cus_1', 'ev_5', 'sale', 700, 'USD', 'paid', now(), now(), NULL);
		INSERT INTO commissions (id, workspace_id, program_id, partner_id, customer_id, event_id, adjusts_id, type, amount_cents, currency, status, payable_at, occurred_at)
			VALUES ('cm_6', 'ws_1', 'prog_1', 'ptn_1', 'cus_1', 'ev_5', 'cm_5', 'sale', -300, 'USD', 'approved', now(), now());`)
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	st := store.New(raw)
	problems, err := st.CheckLedger(ctx, "ws_1")
	if err != nil || len(problems) != 0 {
		t.Fatalf("after the migration: %v %v", problems, err)
	}
	bs, err := st.BalancesOf(ctx, "ws_1", "ptn_1")
	if err != nil || len(bs) != 2 {
		t.Fatalf("balances %+v %v", bs, err)
	}
	for _, b := range bs {
		want := map[string][3]int64{"EUR": {2000, 1, 0}, "USD": {700, 2, -300}}[b.Currency]
		if [3]int64{b.BalanceCents, b.Commissions, b.AdjustmentCents} != want {
			t.Errorf("%s balance %+v, want %v", b.Currency, b, want)
		}
	}
	var status string
	if err := raw.Get(&status, `SELECT status FROM payouts WHERE id = 'po_c'`); err != nil || status != "canceled" {
		t.Fatalf("cancelled payout is %q (%v)", status, err)
	}
	var count int64
	if err := raw.Get(&count, `SELECT commission_count FROM payouts WHERE id = 'po_p'`); err != nil || count != 1 {
		t.Fatalf("pending payout's commission count %d (%v)", count, err)
	}
}
