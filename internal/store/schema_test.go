package store_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/partli/partli/internal/testdb"
)

// globalTables are the tables that hold no workspace's rows, or are looked
// up across workspaces by what they hold: on Citus, reference tables.
var globalTables = []string{
	"workspaces",             // the tenants themselves
	"partner_accounts",       // one portal login across workspaces
	"sessions",               // dashboard and portal sessions, found by their token
	"partner_slugs",          // /r/{slug} → workspace, partner
	"api_key_hashes",         // Authorization: Bearer … → workspace, key
	"user_emails",            // the sign-in form's email → workspace, user
	"invite_tokens",          // an invite link's token → workspace, invite
	"stripe_accounts",        // a Connect event's account → workspace
	"stripe_payout_accounts", // a partner's Express account → workspace, partner
	"stripe_events",          // Stripe's event ids, once across the installation
	"link_changes",           // the log every replica reads its link cache from
	"account_tokens",         // reset and verification links → the person they are for
	"mail_preferences",       // what an address turned off, across workspaces
	"goose_db_version",       // the migrations applied
}

// The schema must be one Citus can distribute by tenant, and stay so as it
// grows: every table that holds a workspace's rows has workspace_id in its
// primary key and in every unique key, and every foreign key between such
// tables carries workspace_id; every other table is a declared global one.
func TestSchemaIsTenantKeyed(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	var tables []struct {
		Name   string `db:"name"`
		Tenant bool   `db:"tenant"`
	}
	if err := db.SelectContext(ctx, &tables, `
		SELECT c.relname AS name,
			EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = 'workspace_id' AND NOT a.attisdropped) AS tenant
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
		ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	tenant := map[string]bool{}
	for _, tb := range tables {
		tenant[tb.Name] = tb.Tenant
		if !tb.Tenant && !slices.Contains(globalTables, tb.Name) {
			t.Errorf("table %s has no workspace_id and is not declared global (globalTables)", tb.Name)
		}
	}

	// Primary and unique keys (constraints and unique indexes) of tenant tables.
	var keys []struct {
		Table string `db:"tbl"`
		Index string `db:"idx"`
		Def   string `db:"def"`
		Cols  string `db:"cols"`
	}
	if err := db.SelectContext(ctx, &keys, `
		SELECT t.relname AS tbl, i.relname AS idx, pg_get_indexdef(x.indexrelid) AS def,
			coalesce((SELECT string_agg(a.attname, ',') FROM pg_attribute a
				WHERE a.attrelid = t.oid AND a.attnum = ANY (x.indkey)), '') AS cols
		FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = 'public' AND (x.indisunique OR x.indisprimary) AND NOT t.relispartition`); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if tenant[k.Table] && !slices.Contains(strings.Split(k.Cols, ","), "workspace_id") {
			t.Errorf("%s: the unique key %s lacks workspace_id: %s", k.Table, k.Index, k.Def)
		}
	}

	// Foreign keys between tenant tables.
	var fks []struct {
		Table string `db:"tbl"`
		Ref   string `db:"ref"`
		Name  string `db:"name"`
		Def   string `db:"def"`
	}
	if err := db.SelectContext(ctx, &fks, `
		SELECT cl.relname AS tbl, ref.relname AS ref, co.conname AS name, pg_get_constraintdef(co.oid) AS def
		FROM pg_constraint co JOIN pg_class cl ON cl.oid = co.conrelid JOIN pg_class ref ON ref.oid = co.confrelid
		JOIN pg_namespace n ON n.oid = cl.relnamespace
		WHERE co.contype = 'f' AND n.nspname = 'public'`); err != nil {
		t.Fatal(err)
	}
	for _, fk := range fks {
		local, _, _ := strings.Cut(strings.TrimPrefix(fk.Def, "FOREIGN KEY ("), ")")
		switch {
		case tenant[fk.Table] && tenant[fk.Ref] && !slices.Contains(strings.Split(strings.ReplaceAll(local, " ", ""), ","), "workspace_id"):
			t.Errorf("%s: the foreign key %s to %s lacks workspace_id: %s", fk.Table, fk.Name, fk.Ref, fk.Def)
		case !tenant[fk.Table] && tenant[fk.Ref]:
			t.Errorf("%s: the global table's foreign key %s points at the tenant table %s (Citus refuses it): %s", fk.Table, fk.Name, fk.Ref, fk.Def)
		}
	}

	// No index repeats another (the old PRIMARY KEY (id) beside UNIQUE
	// (workspace_id, id) was one more index on every insert).
	var dups []struct {
		Table   string `db:"tbl"`
		Indexes string `db:"idxs"`
	}
	if err := db.SelectContext(ctx, &dups, `
		SELECT t.relname AS tbl, string_agg(i.relname, ', ' ORDER BY i.relname) AS idxs
		FROM pg_index x JOIN pg_class t ON t.oid = x.indrelid JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = 'public' AND NOT t.relispartition
		GROUP BY t.relname, x.indkey::text, coalesce(pg_get_expr(x.indexprs, x.indrelid), ''), coalesce(pg_get_expr(x.indpred, x.indrelid), '')
		HAVING count(*) > 1`); err != nil {
		t.Fatal(err)
	}
	for _, d := range dups {
		t.Errorf("%s: indexes %s cover the same columns", d.Table, d.Indexes)
	}
}
