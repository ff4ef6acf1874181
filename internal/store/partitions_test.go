package store_test

import (
	"context"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
)

// Clicks are partitioned by month: the maintenance worker makes the months
// ahead (idempotently), drops whole months past the retention and nothing
// newer, and a click of an earlier month still attributes a sale of this
// one.
func TestClickPartitions(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	st := store.New(db)
	partitions := func() []string {
		t.Helper()
		var names []string
		if err := db.SelectContext(ctx, &names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'clicks'::regclass ORDER BY 1`); err != nil {
			t.Fatal(err)
		}
		return names
	}
	may := time.Date(2031, 5, 15, 12, 0, 0, 0, time.UTC)
	for range 2 {
		if err := st.EnsureClickPartitions(ctx, may, 2); err != nil {
			t.Fatal(err)
		}
	}
	have := partitions()
	for _, want := range []string{"clicks_203105", "clicks_203106", "clicks_203107", "clicks_default"} {
		if !slices.Contains(have, want) {
			t.Fatalf("partitions %v lack %s", have, want)
		}
	}

	// Clicks land in their month's partition.
	ws := workspaceWithPartner(t, db)
	for _, at := range []time.Time{may, may.AddDate(0, 2, 0)} {
		if _, err := db.ExecContext(ctx, `INSERT INTO clicks (id, workspace_id, program_id, partner_id, ip_hash, created_at)
			VALUES ($1, $2, $3, $4, '\x00', $5)`, ids.Click+"_"+ids.At(at), ws.workspace, ws.program, ws.partner, at); err != nil {
			t.Fatal(err)
		}
	}
	var where []string
	if err := db.SelectContext(ctx, &where, `SELECT tableoid::regclass::text FROM clicks WHERE workspace_id = $1 ORDER BY 1`, ws.workspace); err != nil {
		t.Fatal(err)
	}
	for i := range where {
		where[i] = partitionOf(where[i])
	}
	if !slices.Equal(where, []string{"clicks_203105", "clicks_203107"}) {
		t.Fatalf("clicks stored in %v", where)
	}

	// 60 days before 20 August is 21 June: May ended before it, June did not.
	dropped, err := st.DropClickPartitions(ctx, time.Date(2031, 8, 20, 0, 0, 0, 0, time.UTC), 60*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(dropped, "clicks_203105") || slices.Contains(dropped, "clicks_203106") || slices.Contains(dropped, "clicks_203107") {
		t.Fatalf("dropped %v", dropped)
	}
	have = partitions()
	if slices.Contains(have, "clicks_203105") || !slices.Contains(have, "clicks_203106") || !slices.Contains(have, "clicks_default") {
		t.Fatalf("partitions after the drop: %v", have)
	}
	var left int
	if err := db.GetContext(ctx, &left, `SELECT count(*) FROM clicks WHERE workspace_id = $1`, ws.workspace); err != nil || left != 1 {
		t.Fatalf("%d clicks left (%v), want the July one", left, err)
	}
}

// A click made in an earlier month's partition attributes a sale now,
// within the program's cookie window; past the window it does not.
func TestClickOfAnEarlierMonthAttributes(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	st := store.New(db)
	ws := workspaceWithPartner(t, db)
	old := time.Now().UTC().AddDate(0, 0, -40)
	if err := st.EnsureClickPartitions(ctx, old, 2); err != nil {
		t.Fatal(err)
	}
	id := ids.Click + "_" + ids.At(old)
	if _, err := db.ExecContext(ctx, `INSERT INTO clicks (id, workspace_id, program_id, partner_id, ip_hash, created_at)
		VALUES ($1, $2, $3, $4, '\x00', $5)`, id, ws.workspace, ws.program, ws.partner, old); err != nil {
		t.Fatal(err)
	}
	var part string
	if err := db.GetContext(ctx, &part, `SELECT tableoid::regclass::text FROM clicks WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	if want := "clicks_" + old.Format("200601"); partitionOf(part) != want {
		t.Fatalf("click in %s, want %s", part, want)
	}
	c, err := st.AttributableClick(ctx, ws.workspace, id)
	if err != nil || c.PartnerID != ws.partner {
		t.Fatalf("a 40-day-old click in a 90-day window: %+v %v", c, err)
	}
	if _, err := db.ExecContext(ctx, `UPDATE programs SET cookie_days = 30 WHERE workspace_id = $1`, ws.workspace); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AttributableClick(ctx, ws.workspace, id); err == nil {
		t.Fatal("a 40-day-old click attributed in a 30-day window")
	}
}

// partitionOf is the partition a row's tableoid names: on Citus, a shard
// of it (the partition's name and the shard's number).
func partitionOf(table string) string {
	return shardSuffix.ReplaceAllString(table, "$1")
}

var shardSuffix = regexp.MustCompile(`^(clicks_[0-9]{6})_[0-9]+$`)

type fixture struct{ workspace, program, partner string }

// workspaceWithPartner writes a workspace with a program (90-day cookies)
// and an approved partner.
func workspaceWithPartner(t *testing.T, db *sqlx.DB) fixture {
	t.Helper()
	f := fixture{workspace: ids.New("ws"), program: ids.New(ids.Program), partner: ids.New(ids.Partner)}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'W', 'w-' || substr(md5($1), 1, 12))`, f.workspace)
	exec(`INSERT INTO programs (id, workspace_id, name, slug, destination_url, currency, holding_period_days, cookie_days)
		VALUES ($1, $2, 'P', 'p', 'https://shop.example/', 'USD', 30, 90)`, f.program, f.workspace)
	exec(`INSERT INTO partners (id, workspace_id, program_id, email, name, slug, status)
		VALUES ($1, $2, $3, 'p@example.com', 'P', $1, 'approved')`, f.partner, f.workspace, f.program)
	return f
}
