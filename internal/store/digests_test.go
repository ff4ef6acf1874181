package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
)

// digestPartner is a partner of its own workspace and program.
type digestPartner struct {
	workspace, program, partner string
}

func newDigestPartner(t *testing.T, db *sqlx.DB, email, program string) digestPartner {
	t.Helper()
	p := digestPartner{workspace: ids.New(ids.Workspace), program: ids.New(ids.Program), partner: ids.New(ids.Partner)}
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'W', 'w-' || substr(md5($1), 1, 12))`, []any{p.workspace}},
		{`INSERT INTO programs (id, workspace_id, name, slug, destination_url, currency, holding_period_days, cookie_days)
			VALUES ($1, $2, $3, 'p', 'https://shop.example/', 'USD', 30, 90)`, []any{p.program, p.workspace, program}},
		{`INSERT INTO partners (id, workspace_id, program_id, email, name, slug, status)
			VALUES ($1, $2, $3, $4, $4, $1, 'approved')`, []any{p.partner, p.workspace, p.program, email}},
	} {
		if _, err := db.Exec(q.sql, q.args...); err != nil {
			t.Fatalf("%s: %v", q.sql, err)
		}
	}
	return p
}

// commission writes n commissions of amount in currency, created ago,
// each of a sale event of its own; with a negative amount, each is a
// commission of -amount and its adjustment by amount.
func (p digestPartner) commission(t *testing.T, db *sqlx.DB, n int, amount int64, currency string, ago time.Duration) {
	t.Helper()
	for range n {
		event, id := ids.New(ids.Sale), ids.New(ids.Commission)
		if _, err := db.Exec(`INSERT INTO events (id, workspace_id, kind, external_id, program_id, partner_id, amount_cents, currency, event_name, occurred_at)
			VALUES ($1, $2, 'sale', $1, $3, $4, 100000, 'USD', 'sale', now())`, event, p.workspace, p.program, p.partner); err != nil {
			t.Fatal(err)
		}
		insert := func(id, adjusts string, amount int64) {
			t.Helper()
			if _, err := db.Exec(`INSERT INTO commissions (id, workspace_id, program_id, partner_id, event_id, adjusts_id, type,
					amount_cents, currency, status, payable_at, occurred_at, created_at)
				VALUES ($1, $2, $3, $4, $5, nullif($6, ''), 'sale', $7, $8, 'pending', now() + interval '30 days', now(),
					now() - $9 * interval '1 millisecond')`,
				id, p.workspace, p.program, p.partner, event, adjusts, amount, currency, ago.Milliseconds()); err != nil {
				t.Fatal(err)
			}
		}
		if amount > 0 {
			insert(id, "", amount)
			continue
		}
		insert(id, "", -amount)
		insert(ids.New(ids.Commission), id, amount)
	}
}

func digestPreference(t *testing.T, db *sqlx.DB, address string, from time.Duration) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO mail_preferences (address, kind, choice, digest_from)
		VALUES ($1, $2, 'digest', now() - $3 * interval '1 millisecond')`, address, store.MailCommissionCreated, from.Milliseconds()); err != nil {
		t.Fatal(err)
	}
}

type digestRow struct {
	Recipient string `db:"recipient"`
	Name      string `db:"recipient_name"`
	Workspace string `db:"workspace_id"`
	Data      []byte `db:"data"`
}

func digestsTo(t *testing.T, db *sqlx.DB, address string) []digestRow {
	t.Helper()
	var rows []digestRow
	if err := db.Select(&rows, `SELECT recipient, recipient_name, workspace_id, data FROM mail_outbox
		WHERE workspace_id = '' AND kind = $1 AND lower(recipient) = $2`, store.MailCommissionDigest, address); err != nil {
		t.Fatal(err)
	}
	return rows
}

func digestFrom(t *testing.T, db *sqlx.DB, address string) time.Time {
	t.Helper()
	var from time.Time
	if err := db.Get(&from, `SELECT digest_from FROM mail_preferences WHERE address = $1 AND kind = $2`,
		address, store.MailCommissionCreated); err != nil {
		t.Fatal(err)
	}
	return from
}

// The daily digest of an address gathers the day's new commissions of its
// partners in every workspace (not those of the last five minutes, nor
// adjustments, nor those of before its day), counts and totals them all and
// lists the first ones; an address with nothing new gets no mail and its
// day starts again; an address whose day is not over is left alone.
func TestDigestGathersAnAddressAcrossWorkspaces(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	st := store.New(db)
	const jane, bob, carl = "jane@example.com", "bob@example.com", "carl@example.com"
	a := newDigestPartner(t, db, "Jane@Example.com", "Acme Pro")
	b := newDigestPartner(t, db, jane, "Beta Club")
	bobs := newDigestPartner(t, db, bob, "Acme Pro")
	carls := newDigestPartner(t, db, carl, "Acme Pro")
	digestPreference(t, db, jane, 50*time.Hour)
	digestPreference(t, db, bob, 26*time.Hour)
	digestPreference(t, db, carl, time.Hour)
	b.commission(t, db, 1, 700, "EUR", 3*time.Hour)
	a.commission(t, db, 1, 1000, "USD", 2*time.Hour)
	a.commission(t, db, 101, 5, "USD", 90*time.Minute)
	a.commission(t, db, 1, 9999, "USD", time.Minute)    // the next day's
	a.commission(t, db, 1, 8888, "USD", 51*time.Hour)   // the day before
	b.commission(t, db, 1, -300, "EUR", 80*time.Minute) // an adjustment (its commission counts)
	bobs.commission(t, db, 1, 4444, "USD", 27*time.Hour)
	carls.commission(t, db, 1, 100, "USD", 30*time.Minute)
	janeFrom, carlFrom := digestFrom(t, db, jane), digestFrom(t, db, carl)

	n, err := st.QueueDigests(ctx, 500)
	if err != nil || n != 1 {
		t.Fatalf("QueueDigests: %d, %v; want 1 digest", n, err)
	}
	rows := digestsTo(t, db, jane)
	if len(rows) != 1 {
		t.Fatalf("%d digests to %s, want 1", len(rows), jane)
	}
	var d store.DigestMail
	if err := json.Unmarshal(rows[0].Data, &d); err != nil {
		t.Fatal(err)
	}
	if d.Count != 104 || len(d.Items) != 100 {
		t.Errorf("digest of %d commissions listing %d, want 104 listing 100", d.Count, len(d.Items))
	}
	if want := map[string]int64{"USD": 1000 + 101*5, "EUR": 700 + 300}; fmt.Sprint(d.Totals) != fmt.Sprint(want) {
		t.Errorf("totals %v, want %v", d.Totals, want)
	}
	if len(d.Items) > 2 {
		first := []store.DigestItem{d.Items[0], d.Items[1]}
		if first[0].ProgramName != "Beta Club" || first[0].AmountCents != 700 || first[0].Currency != "EUR" || first[0].PartnerID != b.partner ||
			first[1].ProgramName != "Acme Pro" || first[1].AmountCents != 1000 || first[1].PartnerID != a.partner {
			t.Errorf("first items %+v, want the EUR 700 of Beta Club, then the USD 1000 of Acme Pro", first)
		}
		for i := 1; i < len(d.Items); i++ {
			if d.Items[i].CreatedAt.Before(d.Items[i-1].CreatedAt) {
				t.Errorf("item %d created before item %d", i, i-1)
			}
		}
	}
	if !d.From.Equal(janeFrom) {
		t.Errorf("digest from %v, want the day's start %v", d.From, janeFrom)
	}
	if now := time.Now(); d.To.Before(now.Add(-6*time.Minute)) || d.To.After(now.Add(-4*time.Minute)) {
		t.Errorf("digest to %v, want five minutes before now (%v)", d.To, now)
	}
	if got := digestFrom(t, db, jane); !got.Equal(d.To) {
		t.Errorf("%s's day starts at %v, want the digest's end %v", jane, got, d.To)
	}
	if rows[0].Workspace != "" || rows[0].Recipient == "" {
		t.Errorf("digest row %+v", rows[0])
	}
	// Bob's day had nothing new: no mail, and his day starts again.
	if n := len(digestsTo(t, db, bob)); n != 0 {
		t.Errorf("%d digests to %s, whose day had no commission", n, bob)
	}
	if got := digestFrom(t, db, bob); !got.Equal(d.To) {
		t.Errorf("%s's day starts at %v, want %v", bob, got, d.To)
	}
	// Carl's day is not over.
	if n := len(digestsTo(t, db, carl)); n != 0 {
		t.Errorf("%d digests to %s, whose day is not over", n, carl)
	}
	if got := digestFrom(t, db, carl); !got.Equal(carlFrom) {
		t.Errorf("%s's day moved from %v to %v", carl, carlFrom, got)
	}
	// Nothing is due any more.
	if n, err := st.QueueDigests(ctx, 500); err != nil || n != 0 {
		t.Errorf("QueueDigests again: %d, %v; want 0", n, err)
	}
}

// Runs of QueueDigests at once (every replica's mail worker runs it) write
// each address's digest once, and every address's.
func TestConcurrentDigestsWriteEachAddressOnce(t *testing.T) {
	db, _ := testdb.New(t)
	ctx := context.Background()
	st := store.New(db)
	const addresses = 12
	for i := range addresses {
		address := fmt.Sprintf("p%d@example.com", i)
		newDigestPartner(t, db, address, "Acme Pro").commission(t, db, 2, 100, "USD", time.Hour)
		digestPreference(t, db, address, 25*time.Hour+time.Duration(i)*time.Minute)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 4 {
		wg.Go(func() {
			for {
				n, err := st.QueueDigests(ctx, 2)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
				if n == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if total != addresses {
		t.Errorf("%d digests written, want %d", total, addresses)
	}
	for i := range addresses {
		if n := len(digestsTo(t, db, fmt.Sprintf("p%d@example.com", i))); n != 1 {
			t.Errorf("address %d: %d digests, want 1", i, n)
		}
	}
}
