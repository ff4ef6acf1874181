package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/migrations"
)

// A database made by the migrations before the tenant keys (00016) and the
// click partitions (00018), with rows in every table they rekey, migrates
// and keeps every row: each table holds the same rows after, the global
// look-ups are filled from their owners, the clicks are in their months'
// partitions, and the application finds what it found before.
func TestMigrateKeepsEveryRowUnderTenantKeys(t *testing.T) {
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
	if _, err := p.UpTo(ctx, 15); err != nil {
		t.Fatal(err)
	}
	keyHash := sha256.Sum256([]byte("pk_live_old"))
	for _, q := range []string{
		`INSERT INTO workspaces (id, name, slug) VALUES ('ws_1', 'One', 'one'), ('ws_2', 'Two', 'two')`,
		`INSERT INTO users (id, workspace_id, email, password_hash, role) VALUES
			('usr_1', 'ws_1', 'Owner@One.example', 'x', 'owner'), ('usr_2', 'ws_2', 'owner@two.example', 'x', 'owner')`,
		`INSERT INTO api_keys (id, workspace_id, prefix, hash) VALUES ('key_1', 'ws_1', 'pk_live_old', '\x` + hex.EncodeToString(keyHash[:]) + `')`,
		`INSERT INTO programs (id, workspace_id, name, slug, destination_url, currency, holding_period_days, cookie_days)
			VALUES ('prog_1', 'ws_1', 'P', 'p', 'https://shop.example/', 'USD', 30, 90),
			       ('prog_2', 'ws_2', 'Q', 'q', 'https://two.example/', 'EUR', 30, 90)`,
		`INSERT INTO partner_accounts (id, email) VALUES ('acct_1', 'ann@partners.example')`,
		`INSERT INTO partners (id, workspace_id, program_id, account_id, email, name, slug, status) VALUES
			('ptn_a', 'ws_1', 'prog_1', 'acct_1', 'ann@partners.example', 'Ann', 'old-ann', 'approved'),
			('ptn_b', 'ws_2', 'prog_2', 'acct_1', 'ann@partners.example', 'Ann', 'old-ann-2', 'approved')`,
		`INSERT INTO partner_invites (id, workspace_id, partner_id, token_hash, expires_at)
			VALUES ('inv_1', 'ws_1', 'ptn_a', '\x01', now() + interval '1 day')`,
		`INSERT INTO user_invites (id, workspace_id, email, role, token_hash, expires_at)
			VALUES ('uinv_1', 'ws_1', 'new@one.example', 'finance', '\x02', now() + interval '1 day')`,
		`INSERT INTO sessions (id, token_hash, user_id, expires_at, ends_at) VALUES ('ses_1', '\x03', 'usr_1', now() + interval '1 hour', now() + interval '1 day')`,
		`INSERT INTO sessions (id, token_hash, account_id, expires_at, ends_at) VALUES ('ses_2', '\x04', 'acct_1', now() + interval '1 hour', now() + interval '1 day')`,
		`INSERT INTO account_tokens (id, purpose, user_id, token_hash, expires_at) VALUES ('tok_1', 'password_reset', 'usr_1', '\x05', now() + interval '1 hour')`,
		`INSERT INTO clicks (id, workspace_id, program_id, partner_id, ip_hash, created_at)
			SELECT 'clk_' || i, 'ws_1', 'prog_1', 'ptn_a', '\x00', now() - i * interval '9 days' FROM generate_series(1, 20) i`,
		`INSERT INTO customers (id, workspace_id, external_id, program_id, partner_id, click_id)
			SELECT 'cus_' || i, 'ws_1', 'x' || i, 'prog_1', 'ptn_a', 'clk_' || i FROM generate_series(1, 10) i`,
		`INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id, amount_cents, currency, event_name, occurred_at)
			SELECT 'evt_' || i, 'ws_1', 'sale', 'e' || i, 'cus_' || i, 'prog_1', 'ptn_a', 1000 * i, 'USD', 'sale', now() FROM generate_series(1, 10) i`,
		`INSERT INTO commissions (id, workspace_id, program_id, partner_id, customer_id, event_id, type, amount_cents, currency, status, payable_at, occurred_at)
			SELECT 'cm_' || i, 'ws_1', 'prog_1', 'ptn_a', 'cus_' || i, 'evt_' || i, 'sale', 100 * i, 'USD', 'pending', now(), now() FROM generate_series(1, 10) i`,
		`INSERT INTO commission_history (workspace_id, commission_id, to_status, actor) SELECT 'ws_1', 'cm_' || i, 'pending', 'system' FROM generate_series(1, 10) i`,
		`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret) VALUES ('we_1', 'ws_1', 'https://hooks.example/', '{sale.created}', 'v1:0123abcd:sealed')`,
		// Written dispatched, with its delivery, as every release at 00015 writes events.
		`INSERT INTO webhook_events (id, workspace_id, type, payload, dispatched_at) VALUES ('wev_1', 'ws_1', 'sale.created', '{}', now())`,
		`INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id) VALUES ('dlv_1', 'ws_1', 'we_1', 'wev_1')`,
		`INSERT INTO webhook_attempts (workspace_id, delivery_id, endpoint_id, latency_ms) VALUES ('ws_1', 'dlv_1', 'we_1', 12)`,
		`INSERT INTO stripe_connections (workspace_id, account_id) VALUES ('ws_1', 'acct_stripe_1')`,
		`INSERT INTO stripe_events (id, workspace_id, type) VALUES ('ws_1:evt_s1', 'ws_1', 'charge.refunded'), ('evt_orphan', NULL, 'charge.refunded')`,
		`INSERT INTO mail_outbox (id, workspace_id, kind, recipient) VALUES ('mail_1', 'ws_1', 'commission_created', 'ann@partners.example'),
			('mail_2', '', 'password_reset', 'ann@partners.example')`,
	} {
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	tables := []string{"users", "api_keys", "programs", "partners", "partner_invites", "user_invites", "sessions",
		"account_tokens", "clicks", "customers", "events", "commissions", "commission_history", "webhook_endpoints",
		"webhook_events", "webhook_deliveries", "webhook_attempts", "stripe_connections", "mail_outbox"}
	dump := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		for _, tb := range tables {
			var rows []string
			if err := db.SelectContext(ctx, &rows, `SELECT (to_jsonb(t) - 'workspace')::text FROM `+tb+` t`); err != nil {
				t.Fatalf("%s: %v", tb, err)
			}
			slices.Sort(rows)
			out[tb] = strings.Join(rows, "\n")
		}
		return out
	}
	before := dump()
	for _, tb := range tables {
		before[tb] = only(t, before[tb], before[tb])
	}
	if _, err := store.Migrate(ctx, db.DB); err != nil {
		t.Fatal(err)
	}
	after := dump()
	for _, tb := range tables {
		after[tb] = only(t, after[tb], before[tb])
		if before[tb] != after[tb] {
			t.Errorf("%s changed in the migration:\nbefore %s\nafter  %s", tb, before[tb], after[tb])
		}
	}

	count := func(q string) int {
		t.Helper()
		var n int
		if err := db.GetContext(ctx, &n, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return n
	}
	for q, want := range map[string]int{
		`SELECT count(*) FROM partner_slugs WHERE (slug, workspace, partner_id) IN (('old-ann', 'ws_1', 'ptn_a'), ('old-ann-2', 'ws_2', 'ptn_b'))`:               2,
		`SELECT count(*) FROM user_emails WHERE (email, workspace, user_id) IN (('owner@one.example', 'ws_1', 'usr_1'), ('owner@two.example', 'ws_2', 'usr_2'))`: 2,
		`SELECT count(*) FROM api_key_hashes WHERE workspace = 'ws_1' AND key_id = 'key_1'`:                                                                      1,
		`SELECT count(*) FROM invite_tokens WHERE (token_hash, workspace, invite_id) IN (('\x01', 'ws_1', 'inv_1'), ('\x02', 'ws_1', 'uinv_1'))`:                 2,
		`SELECT count(*) FROM stripe_accounts WHERE account_id = 'acct_stripe_1' AND workspace = 'ws_1'`:                                                         1,
		`SELECT count(*) FROM sessions WHERE id = 'ses_1' AND workspace = 'ws_1'`:                                                                                1,
		`SELECT count(*) FROM sessions WHERE id = 'ses_2' AND workspace IS NULL`:                                                                                 1,
		`SELECT count(*) FROM account_tokens WHERE id = 'tok_1' AND workspace = 'ws_1'`:                                                                          1,
		// An event routed to no workspace was never processed for one: it goes.
		`SELECT count(*) FROM stripe_events WHERE id = 'ws_1:evt_s1' AND workspace_id = 'ws_1'`: 1,
		`SELECT count(*) FROM stripe_events`:                                                    1,
		// Every click is in its month's partition, none in the default one.
		`SELECT count(*) FROM clicks_default`: 0,
		`SELECT count(*) FROM clicks c WHERE c.tableoid::regclass::text <> 'clicks_' || to_char(c.created_at AT TIME ZONE 'UTC', 'YYYYMM')`: 0,
	} {
		if n := count(q); n != want {
			t.Errorf("%s = %d, want %d", q, n, want)
		}
	}

	// The application finds them through the look-ups.
	st := store.New(db)
	if u, err := st.UserByEmail(ctx, "OWNER@one.example"); err != nil || u.ID != "usr_1" {
		t.Errorf("user by email: %+v %v", u, err)
	}
	if k, err := st.APIKeyByHash(ctx, keyHash[:]); err != nil || k.ID != "key_1" || k.WorkspaceID != "ws_1" {
		t.Errorf("API key by hash: %+v %v", k, err)
	}
	if ws, err := st.WorkspaceByStripeAccount(ctx, "acct_stripe_1"); err != nil || ws != "ws_1" {
		t.Errorf("workspace by Stripe account: %q %v", ws, err)
	}
	if inv, err := st.UserInviteByTokenHash(ctx, []byte{2}); err != nil || inv.ID != "uinv_1" {
		t.Errorf("user invite by token: %+v %v", inv, err)
	}

	// And the way back: down to 00015 and up again keeps them too.
	if _, err := p.DownTo(ctx, 15); err != nil {
		t.Fatalf("down to 00015: %v", err)
	}
	down := dump()
	for _, tb := range tables {
		down[tb] = only(t, down[tb], before[tb])
	}
	if !maps.Equal(down, before) {
		for _, tb := range tables {
			if down[tb] != before[tb] {
				t.Errorf("%s after down:\nbefore %s\nafter  %s", tb, before[tb], down[tb])
			}
		}
	}
	if _, err := store.Migrate(ctx, db.DB); err != nil {
		t.Fatalf("up again: %v", err)
	}
}

// only keeps, of each row of rows (JSON objects, one per line), the
// columns the first row of like has: a migration between adds columns.
func only(t *testing.T, rows, like string) string {
	t.Helper()
	first, _, _ := strings.Cut(like, "\n")
	var cols map[string]json.RawMessage
	if err := json.Unmarshal([]byte(first), &cols); err != nil || rows == "" {
		return rows
	}
	lines := strings.Split(rows, "\n")
	for i, line := range lines {
		var row map[string]json.RawMessage
		if err := json.Unmarshal([]byte(line), &row); err != nil {
			t.Fatal(err)
		}
		for k := range row {
			if _, ok := cols[k]; !ok {
				delete(row, k)
			}
		}
		b, _ := json.Marshal(row)
		lines[i] = string(b)
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}
