package tracking_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

// TestRecordClickBatches records many clicks at once, so that they are
// written in shared batches: every click on a live link is stored once with
// its link, a click on an unknown slug (or an unapproved partner's) fails alone with
// ErrNotFound, odd request text does not fail a batch, and the velocity flag
// counts clicks of the same batch as well as earlier ones.
func TestRecordClickBatches(t *testing.T) {
	f := newFx(t, nil)
	p := f.program("USD", 30, 30)
	a, b := f.partner(p, nil, "approved"), f.partner(p, nil, "approved")
	pending := f.partner(p, nil, "pending")

	const perPartner, threshold = 60, 10
	type result struct {
		slug  string
		click *store.Click
		link  *store.Link
		err   error
	}
	var (
		mu      sync.Mutex
		results []result
		wg      sync.WaitGroup
		start   = make(chan struct{})
	)
	record := func(slug, ua string, ip []byte) {
		defer wg.Done()
		<-start
		c := &store.Click{ID: ids.New(ids.Click), IPHash: ip, UserAgent: ua, Flags: []string{}}
		link, err := f.svc.RecordClick(f.ctx, slug, c, time.Hour, threshold)
		mu.Lock()
		results = append(results, result{slug, c, link, err})
		mu.Unlock()
	}
	sameIP := []byte("one visitor's ip hash..........")
	for i := range perPartner {
		wg.Add(2)
		go record(a.Slug, fmt.Sprintf("Mozilla/5.0 visitor %d", i), sameIP) // one IP: velocity after the 10th
		go record(b.Slug, fmt.Sprintf("Mozilla/5.0 visitor %d", i), []byte(ids.Random(16)))
	}
	wg.Add(5)
	go record("no-such-slug", "Mozilla/5.0", []byte("x"))
	go record(pending.Slug, "Mozilla/5.0", []byte("x"))
	go record("Not A Slug\x00", "Mozilla/5.0", []byte("x"))
	go record(b.Slug, "bad\x00utf8 \xff\xfe agent", []byte("y"))
	go record(b.Slug, "", []byte("z"))
	close(start)
	wg.Wait()

	velocity := 0
	for _, r := range results {
		switch r.slug {
		case a.Slug, b.Slug:
			if r.err != nil {
				t.Fatalf("click on %s: %v", r.slug, r.err)
			}
			want := a
			if r.slug == b.Slug {
				want = b
			}
			if r.link.PartnerID != want.ID || r.click.PartnerID != want.ID || r.click.WorkspaceID != f.ws ||
				r.link.DestinationURL != p.DestinationURL || r.click.CreatedAt.IsZero() {
				t.Fatalf("click on %s came back as %+v / %+v", r.slug, r.link, r.click)
			}
			for _, fl := range r.click.Flags {
				if fl == "velocity" {
					if r.slug != a.Slug {
						t.Errorf("a click from a fresh IP hash was flagged: %v", r.click.Flags)
					}
					velocity++
				}
			}
		case pending.Slug:
			// Known, not approved: the link to send the visitor on, and no click.
			if !errors.Is(r.err, store.ErrLinkInactive) || r.link == nil || r.link.DestinationURL != p.DestinationURL {
				t.Errorf("click on the pending partner's %q: %v %+v, want ErrLinkInactive with the link", r.slug, r.err, r.link)
			}
		default:
			if !errors.Is(r.err, store.ErrNotFound) {
				t.Errorf("click on %q: %v, want ErrNotFound", r.slug, r.err)
			}
		}
	}
	// Clicks in one batch count each other; two batches written at the same
	// moment cannot see each other's rows, so a burst may be flagged a
	// little late, never early: at most the clicks after the threshold-th.
	if want := perPartner - threshold; velocity > want || velocity < want/2 {
		t.Errorf("%d clicks flagged velocity, want at most %d and most of them", velocity, want)
	}
	// Once the burst is stored, every further click from that IP hash is flagged.
	for range 3 {
		c := &store.Click{ID: ids.New(ids.Click), IPHash: sameIP, UserAgent: "Mozilla/5.0", Flags: []string{}}
		if _, err := f.svc.RecordClick(f.ctx, a.Slug, c, time.Hour, threshold); err != nil {
			t.Fatal(err)
		}
		if len(c.Flags) != 1 || c.Flags[0] != "velocity" {
			t.Errorf("click after the burst flagged %v, want [velocity]", c.Flags)
		}
	}
	if n := f.count(`SELECT count(*) FROM clicks WHERE workspace_id = $1`); n != 2*perPartner+2+3 {
		t.Errorf("%d clicks stored, want %d", n, 2*perPartner+2+3)
	}
	if n := f.count(`SELECT count(*) FROM clicks WHERE workspace_id = $1 AND user_agent = $2`, "badutf8 \uFFFD agent"); n != 1 {
		t.Errorf("the odd user agent was stored %d times as expected text, want 1", n)
	}
	if n := f.count(`SELECT count(*) FROM clicks WHERE workspace_id = $1 AND partner_id = $2`, pending.ID); n != 0 {
		t.Errorf("%d clicks stored for a pending partner", n)
	}
}

// TestRecordClickCommitMode checks that a click batch's asynchronous commit
// stays within its own transaction: the pooled connection that wrote it
// still commits synchronously afterwards, for the sales that use it next.
func TestRecordClickCommitMode(t *testing.T) {
	db, _ := testdb.New(t)
	db.SetMaxOpenConns(1) // every statement on the one connection
	f := newFx(t, db)
	p := f.program("USD", 30, 30)
	pa := f.partner(p, nil, "approved")
	f.exec(`SET synchronous_commit = on`) // the test clusters default to off
	c := &store.Click{ID: ids.New(ids.Click), IPHash: []byte("ip"), UserAgent: "Mozilla/5.0", Flags: []string{}}
	if _, err := f.svc.RecordClick(f.ctx, pa.Slug, c, time.Hour, 10); err != nil {
		t.Fatal(err)
	}
	var mode string
	if err := db.GetContext(f.ctx, &mode, `SHOW synchronous_commit`); err != nil {
		t.Fatal(err)
	}
	if mode != "on" {
		t.Errorf("synchronous_commit = %q on the connection after a click batch, want on", mode)
	}
	if n := f.count(`SELECT count(*) FROM clicks WHERE workspace_id = $1 AND id = $2`, c.ID); n != 1 {
		t.Errorf("the click is stored %d times, want 1", n)
	}
}

// Two replicas serve links from memory; a change made through one reaches
// the other through the change log within a couple of seconds: a suspended
// partner's link stops recording clicks, a program's new destination is
// used, a new partner's slug that was unknown a moment ago is found.
func TestLinksChangeOnEveryReplica(t *testing.T) {
	db, _ := testdb.New(t)
	a := newFx(t, db)
	b := *a
	b.st = store.New(db) // the other replica: a cache of its own
	b.svc = tracking.New(b.st)
	p := a.program("USD", 30, 90)
	pa := a.partner(p, nil, "approved")
	click := func(f *fx, slug string) (*store.Link, error) {
		return f.svc.RecordClick(f.ctx, slug, &store.Click{ID: ids.New(ids.Click), IPHash: []byte(ids.Random(8)), Flags: []string{}}, time.Hour, 100)
	}
	if _, err := click(&b, pa.Slug); err != nil {
		t.Fatalf("replica b: %v", err)
	}
	if _, err := click(&b, "later-partner"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("an unknown slug: %v", err)
	}
	// Changes through replica a.
	pa.Status = "suspended"
	if err := a.st.UpdatePartner(a.ctx, pa); err != nil {
		t.Fatal(err)
	}
	if _, err := click(a, pa.Slug); !errors.Is(err, store.ErrLinkInactive) {
		t.Fatalf("replica a after its own change: %v, want ErrLinkInactive at once", err)
	}
	later := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: a.ws, ProgramID: p.ID, Email: "later@example.com",
		Name: "Later", Slug: "later-partner", Status: "approved"}
	if err := a.st.CreatePartner(a.ctx, later); err != nil {
		t.Fatal(err)
	}
	p.DestinationURL = "https://shop.example.com/new-landing"
	if err := a.st.UpdateProgram(a.ctx, p); err != nil {
		t.Fatal(err)
	}
	const bound = 20 * time.Second // [about a second: replicas read the change log every second]
	deadline := time.Now().Add(bound)
	for {
		_, errSuspended := click(&b, pa.Slug)
		link, errLater := click(&b, "later-partner")
		if errors.Is(errSuspended, store.ErrLinkInactive) && errLater == nil && link.DestinationURL == p.DestinationURL {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s replica b still sees the old links: suspended partner %v, new partner %v %+v", bound, errSuspended, errLater, link)
		}
		time.Sleep(50 * time.Millisecond) // polling; the bound is above
	}
	// Once it knows, replica b records no more clicks for the suspended
	// partner (until then it did: a replica may lag by about a second;
	// sales still earn the partner nothing, their status is read with the sale).
	before := a.count(`SELECT count(*) FROM clicks WHERE workspace_id = $1 AND partner_id = '` + pa.ID + `'`)
	for range 5 {
		if _, err := click(&b, pa.Slug); !errors.Is(err, store.ErrLinkInactive) {
			t.Fatalf("replica b forgot the suspension again: %v", err)
		}
	}
	if n := a.count(`SELECT count(*) FROM clicks WHERE workspace_id = $1 AND partner_id = '` + pa.ID + `'`); n != before {
		t.Errorf("%d clicks of the suspended partner after replica b learned of it, want %d", n, before)
	}
}
