package store_test

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// idMillis is the time an id made in SQL encodes, in Unix milliseconds.
func idMillis(t *testing.T, id, prefix string) int64 {
	t.Helper()
	rest, ok := strings.CutPrefix(id, prefix+"_")
	if !ok || len(rest) != 26 {
		t.Fatalf("id %q: not %s_ and 26 characters", id, prefix)
	}
	b, err := idEncoding.DecodeString(rest)
	if err != nil || len(b) != 16 {
		t.Fatalf("id %q: %d bytes, %v", id, len(b), err)
	}
	var ms [8]byte
	copy(ms[2:], b[:6])
	return int64(binary.BigEndian.Uint64(ms[:]))
}

// Ids made in SQL encode their time as ids.At does (Unix milliseconds,
// rounded down), from a time given or the statement's now().
func TestIDsMadeInSQLEncodeTheirTime(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	base := time.Date(2031, 5, 15, 12, 0, 0, 0, time.UTC)
	for _, at := range []time.Time{
		base, base.Add(time.Millisecond), base.Add(999 * time.Microsecond), base.Add(1001 * time.Microsecond),
		time.Date(1970, 1, 1, 0, 0, 0, 1000, time.UTC), time.Date(2100, 12, 31, 23, 59, 59, 999999000, time.UTC),
		base.In(time.FixedZone("far", 13*3600)),
	} {
		var id string
		if err := db.GetContext(ctx, &id, `SELECT 'x_' || `+store.IDTimeSQL("$1::timestamptz")+` || repeat('0', 16)`, at); err != nil {
			t.Fatal(err)
		}
		if got, want := idMillis(t, id, "x"), at.UnixMilli(); got != want {
			t.Errorf("%v: id %s encodes %d ms, want %d", at, id, got, want)
		}
	}
	var row struct {
		ID  string    `db:"id"`
		Now time.Time `db:"now"`
	}
	if err := db.GetContext(ctx, &row, `SELECT `+store.NewIDSQL("mail")+` AS id, now() AS now`); err != nil {
		t.Fatal(err)
	}
	if got, want := idMillis(t, row.ID, "mail"), row.Now.UnixMilli(); got != want {
		t.Errorf("new id %s encodes %d ms, want now() %d", row.ID, got, want)
	}
}
