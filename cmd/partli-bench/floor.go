package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// The floor is the least SQL that records one attributed sale with every
// guarantee Partli gives: the customer upserted on the merchant's id, the
// sale inserted once on the merchant's id (a repeat is a no-op), the reward
// read, the customer's earlier commissions counted (a one-time reward pays
// once), the commission and two outbox events written, all in one
// transaction. It runs on a small schema of its own (bigserial keys, exactly
// the unique keys that idempotency needs, nothing else) in the same cluster,
// at the same concurrency, after the same checkpoint and warm-up, so that
// track/sale ÷ floor says how close Partli comes to what PostgreSQL itself
// can do for a sale on this machine, where track/sale ÷ pgbench says how
// much the HTTP tier costs over Partli's own statements.
const floorSchema = `
DROP SCHEMA IF EXISTS floor CASCADE;
CREATE SCHEMA floor;
CREATE TABLE floor.rewards (
	id bigserial PRIMARY KEY,
	workspace_id bigint NOT NULL,
	program_id bigint NOT NULL,
	type text NOT NULL,
	percent integer NOT NULL,
	duration_months integer
);
CREATE TABLE floor.customers (
	id bigserial PRIMARY KEY,
	workspace_id bigint NOT NULL,
	external_id text NOT NULL,
	partner_id bigint NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (workspace_id, external_id)
);
CREATE TABLE floor.events (
	id bigserial PRIMARY KEY,
	workspace_id bigint NOT NULL,
	external_id text NOT NULL,
	customer_id bigint NOT NULL,
	amount bigint NOT NULL,
	currency text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	UNIQUE (workspace_id, external_id)
);
CREATE TABLE floor.commissions (
	id bigserial PRIMARY KEY,
	workspace_id bigint NOT NULL,
	event_id bigint NOT NULL,
	customer_id bigint NOT NULL,
	partner_id bigint NOT NULL,
	amount bigint NOT NULL,
	currency text NOT NULL,
	status text NOT NULL,
	payable_at timestamptz NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON floor.commissions (customer_id);
CREATE TABLE floor.outbox (
	id bigserial PRIMARY KEY,
	workspace_id bigint NOT NULL,
	type text NOT NULL,
	payload jsonb NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO floor.rewards (workspace_id, program_id, type, percent, duration_months) VALUES (1, 1, 'recurring', 20, 12);
`

// floorScript is the reference transaction, one statement per line (pgbench
// ends a line's statement at \gset or a semicolon). The payloads are this
// run's real ones, as in the pgbench script.
const floorScript = `\set r1 random(1, 1000000000000000000)
\set r2 random(1, 1000000000000000000)
\set amount random(500, 50499)
\set partner random(1, 1000)
BEGIN;
INSERT INTO floor.customers (workspace_id, external_id, partner_id) VALUES (1, 'cus_' || :r2, :partner) ON CONFLICT (workspace_id, external_id) DO UPDATE SET external_id = EXCLUDED.external_id RETURNING id AS cu_id \gset
INSERT INTO floor.events (workspace_id, external_id, customer_id, amount, currency) VALUES (1, 'in_' || :r1, :cu_id, :amount, 'USD') ON CONFLICT (workspace_id, external_id) DO NOTHING RETURNING id AS ev_id \gset
SELECT type AS reward_type, percent AS reward_percent, duration_months AS reward_months FROM floor.rewards WHERE workspace_id = 1 AND program_id = 1 \gset
SELECT count(*) AS prior FROM floor.commissions WHERE customer_id = :cu_id \gset
INSERT INTO floor.commissions (workspace_id, event_id, customer_id, partner_id, amount, currency, status, payable_at) VALUES (1, :ev_id, :cu_id, :partner, :amount::bigint * :reward_percent::integer / 100, 'USD', 'pending', now() + interval '30 days');
INSERT INTO floor.outbox (workspace_id, type, payload) VALUES (1, 'sale.created', :payload_sale), (1, 'commission.created', :payload_commission);
COMMIT;
`

// floor makes the reference schema (anew each time, so every size starts
// from empty tables of its own) and runs the reference transaction.
func (e *env) floor(ctx context.Context, o options) (tps, latencyMs float64, cpu *cpuUse, err error) {
	if _, err := e.db.ExecContext(ctx, floorSchema); err != nil {
		return 0, 0, nil, fmt.Errorf("floor schema: %w", err)
	}
	paySale, payCommission, err := e.payloads(ctx)
	if err != nil {
		return 0, 0, nil, err
	}
	path := filepath.Join(e.dir, "floor.pgbench")
	if err := os.WriteFile(path, []byte(floorScript), 0o644); err != nil {
		return 0, 0, nil, err
	}
	tps, latencyMs, cpu, err = e.pgbenchRun(ctx, o, path, map[string]string{"payload_sale": paySale, "payload_commission": payCommission})
	if err != nil {
		return 0, 0, nil, err
	}
	// Every transaction wrote its sale and its commission, or the floor did
	// less than a sale.
	var events, commissions int64
	if err := e.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM floor.events), (SELECT count(*) FROM floor.commissions)`).Scan(&events, &commissions); err != nil {
		return 0, 0, nil, err
	}
	if events == 0 || events != commissions {
		return 0, 0, nil, fmt.Errorf("floor: %d sales but %d commissions", events, commissions)
	}
	return tps, latencyMs, cpu, nil
}
