package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/testdb"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// TestSeedIDsAreInternalIDs checks that the seed's ids are those
// internal/ids would have made at the same time (so seeded rows sit where
// real ones would in the indexes), up to the 2 random bits of the 10th
// character.
func TestSeedIDsAreInternalIDs(t *testing.T) {
	db, _ := testdb.New(t)
	const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"
	for _, at := range []time.Time{
		time.Date(2025, 11, 25, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 25, 18, 30, 1, 234_000_000, time.UTC),
		time.Date(2026, 11, 25, 18, 30, 1, 235_000_000, time.UTC),
		time.Date(2099, 1, 2, 3, 4, 5, 999_000_000, time.UTC),
	} {
		var got string
		if err := db.GetContext(context.Background(), &got, `SELECT `+idPrefixSQL+` FROM (SELECT $1::timestamptz AS at) x`, at); err != nil {
			t.Fatal(err)
		}
		want := ids.At(at)[:10]
		if got[:9] != want[:9] || strings.IndexByte(alphabet, got[9])>>2 != strings.IndexByte(alphabet, want[9])>>2 {
			t.Errorf("seed id prefix at %v = %q, internal/ids makes %q…", at, got, want)
		}
	}
}
