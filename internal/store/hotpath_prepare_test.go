package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
)

// Prepare prepares every hot-path statement against the schema; one the
// database refuses fails it, and the error names the statement, so partli
// serve stops at boot saying which SQL is broken.
func TestHotPathPrepareNamesTheBrokenStatement(t *testing.T) {
	db, _ := testdb.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := store.New(db).HotPath().Prepare(ctx); err != nil {
		t.Fatalf("Prepare on the migrated schema: %v", err)
	}

	// Only MarkProgramsVerified reads programs.verified_at.
	if _, err := db.ExecContext(ctx, `ALTER TABLE programs RENAME COLUMN verified_at TO verified_at_gone`); err != nil {
		t.Fatal(err)
	}
	err := store.New(db).HotPath().Prepare(ctx)
	if err == nil {
		t.Fatal("Prepare succeeded with a statement the database refuses")
	}
	if msg := err.Error(); !strings.Contains(msg, "hot-path statement MarkProgramsVerified") || !strings.Contains(msg, "verified_at") {
		t.Fatalf("Prepare error %q does not name the statement and the database's reason", msg)
	}
}
