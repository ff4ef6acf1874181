package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
)

// A change of a link makes a replica read it again once, not at every read
// of the change log while the change is in its window: the link loaded
// after the change stays cached.
func TestLinkChangeForgetsTheLinkOnce(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	f := workspaceWithPartner(t, db)
	slug := f.partner
	if _, err := db.ExecContext(ctx, `INSERT INTO partner_slugs (slug, workspace, partner_id) VALUES ($1, $2, $1)`, slug, f.workspace); err != nil {
		t.Fatal(err)
	}
	hp := store.New(db).HotPath()
	if _, err := hp.Link(ctx, slug); err != nil {
		t.Fatal(err)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		const bound = 30 * time.Second // [the change log is read every second]
		for deadline := time.Now().Add(bound); !ok(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("after %s: %s", bound, what)
			}
		}
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO link_changes (slug) VALUES ($1)`, slug); err != nil {
		t.Fatal(err)
	}
	waitFor("the replica still holds the changed link", func() bool { _, ok := hp.CachedLink(slug); return !ok })
	if _, err := hp.Link(ctx, slug); err != nil {
		t.Fatal(err)
	}
	loaded, ok := hp.CachedLink(slug)
	if !ok {
		t.Fatal("the link read after the change is not cached")
	}
	for range 2 { // two more reads of the log, the change still in its window
		read := hp.LinkChangesRead()
		waitFor("the replica stopped reading the change log", func() bool { return hp.LinkChangesRead().After(read) })
	}
	if at, ok := hp.CachedLink(slug); !ok || !at.Equal(loaded) {
		t.Fatalf("the link loaded after the change was forgotten again (cached %v, loaded at %s, now %s)", ok, loaded, at)
	}
}
