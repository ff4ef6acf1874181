package webhook

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"net/http"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
	"github.com/partli/partli/migrations"
)

// Deliveries are written with their events (write-time fan-out): these
// tests pin down who gets what, under concurrency, and that events written
// undispatched by an earlier version are still fanned out by the worker.

// deliveryID is what ids.New(ids.Delivery) makes, and what the fan-out
// statement makes in SQL (hex digits are characters of the same alphabet).
var deliveryID = regexp.MustCompile(`^dlv_[0-9a-hjkmnp-tv-z]{26}$`)

func checkDeliveryID(t testing.TB, id string) {
	t.Helper()
	if !deliveryID.MatchString(id) || !ids.HasPrefix(id, ids.Delivery) {
		t.Errorf("delivery id %q does not look like ids.New(ids.Delivery)", id)
	}
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// checkFanOutID checks the id of a delivery made by the fan-out statement:
// the shape of ids.New's, and the time it encodes as ids.At does (the first
// 48 bits, in milliseconds) is the delivery's created_at, the statement's
// now().
func checkFanOutID(t testing.TB, d store.WebhookDelivery) {
	t.Helper()
	checkDeliveryID(t, d.ID)
	b, err := idEncoding.DecodeString(d.ID[len("dlv_"):])
	if err != nil || len(b) != 16 {
		t.Errorf("delivery id %q: %d bytes, %v", d.ID, len(b), err)
		return
	}
	var ms [8]byte
	copy(ms[2:], b[:6])
	if got, want := int64(binary.BigEndian.Uint64(ms[:])), d.CreatedAt.UnixMilli(); got != want {
		t.Errorf("delivery id %q encodes %v, want its created_at %v", d.ID, time.UnixMilli(got).UTC(), d.CreatedAt.UTC())
	}
}

// countingReceiver counts the requests per webhook-id.
type countingReceiver struct {
	*receiver
	mu   sync.Mutex
	seen map[string]int
}

func newCountingReceiver(t testing.TB) *countingReceiver {
	c := &countingReceiver{seen: map[string]int{}}
	c.receiver = newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.seen[r.Header.Get("webhook-id")]++
		c.mu.Unlock()
		time.Sleep(time.Millisecond) // let the workers overlap
	})
	return c
}

func (c *countingReceiver) times(eventID string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[eventID]
}

func (f *fixture) deliveryCount(endpointID string) int {
	f.t.Helper()
	var n int
	if err := f.st.DB().Get(&n, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1`, endpointID); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestConcurrentSalesFanOutOncePerSubscribedEndpoint(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	all := newCountingReceiver(t)
	allEp := f.endpoint(all.URL)
	salesOnly := newCountingReceiver(t)
	salesEp, err := f.svc.Create(ctx, f.ws, salesOnly.URL, []string{outbox.SaleCreated})
	if err != nil {
		t.Fatal(err)
	}
	leadsOnly := newCountingReceiver(t)
	leadsEp, err := f.svc.Create(ctx, f.ws, leadsOnly.URL, []string{outbox.LeadCreated})
	if err != nil {
		t.Fatal(err)
	}
	off := newCountingReceiver(t)
	offEp := f.endpoint(off.URL)
	no := false
	if _, err := f.svc.Update(ctx, f.ws, offEp.ID, Changes{Enabled: &no}); err != nil {
		t.Fatal(err)
	}
	clickID := f.click()
	opts := fastOpts()
	opts.Concurrency = 8
	f.worker(devCfg, opts)
	f.worker(devCfg, opts)

	const n = 40
	tr := tracking.New(f.st)
	var wg sync.WaitGroup
	saleEvents := make(chan string, n)
	for i := range n {
		wg.Go(func() {
			ext := fmt.Sprintf("order-%d", i)
			res, err := tr.TrackSale(ctx, f.ws, tracking.SaleInput{ExternalID: ext, CustomerExternalID: "cus-" + ext,
				AmountCents: 5000, Currency: "USD", ClickID: clickID, EventName: "Purchase", OccurredAt: time.Now()})
			if err != nil || !res.Attributed || res.Commission == nil {
				t.Errorf("track sale %s: %+v, %v", ext, res, err)
				return
			}
			saleEvents <- *res.EventID
		})
	}
	wg.Wait()
	close(saleEvents)
	if t.Failed() {
		t.FailNow()
	}
	// sale.created and commission.created per sale.
	if got := f.deliveryCount(allEp.ID); got != 2*n {
		t.Errorf("endpoint subscribed to everything: %d deliveries, want %d", got, 2*n)
	}
	if got := f.deliveryCount(salesEp.ID); got != n {
		t.Errorf("endpoint subscribed to sale.created: %d deliveries, want %d", got, n)
	}
	if got := f.deliveryCount(leadsEp.ID); got != 0 {
		t.Errorf("endpoint subscribed to lead.created: %d deliveries, want 0", got)
	}
	if got := f.deliveryCount(offEp.ID); got != 0 {
		t.Errorf("disabled endpoint: %d deliveries, want 0", got)
	}
	waitFor(t, "every delivery", func() bool { return all.count() >= 2*n && salesOnly.count() >= n })
	time.Sleep(200 * time.Millisecond) // a double send would show by now
	if all.count() != 2*n || salesOnly.count() != n || leadsOnly.count() != 0 || off.count() != 0 {
		t.Errorf("requests: %d, %d, %d, %d; want %d, %d, 0, 0",
			all.count(), salesOnly.count(), leadsOnly.count(), off.count(), 2*n, n)
	}
	var evs []store.WebhookEvent
	err = f.st.DB().SelectContext(ctx, &evs, `SELECT id, workspace_id, type, payload, created_at FROM webhook_events
		WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC`, f.ws)
	if err != nil || len(evs) != 2*n {
		t.Fatalf("%d outbox events (%v), want %d", len(evs), err, 2*n)
	}
	for _, ev := range evs {
		want := 0
		if ev.Type == outbox.SaleCreated {
			want = 1
		}
		if all.times(ev.ID) != 1 || salesOnly.times(ev.ID) != want {
			t.Errorf("%s %s sent %d and %d times, want 1 and %d", ev.Type, ev.ID, all.times(ev.ID), salesOnly.times(ev.ID), want)
		}
	}
	waitFor(t, "all deliveries recorded", func() bool {
		var left int
		_ = f.st.DB().Get(&left, `SELECT count(*) FROM webhook_deliveries WHERE workspace_id = $1 AND status <> 'succeeded'`, f.ws)
		return left == 0
	})
	var undispatched int
	if err := f.st.DB().Get(&undispatched, `SELECT count(*) FROM webhook_events WHERE dispatched_at IS NULL`); err != nil || undispatched != 0 {
		t.Errorf("%d undispatched events (%v), want 0", undispatched, err)
	}
	rows, _, err := f.svc.Deliveries(ctx, f.ws, allEp.ID, "", store.Page{Limit: 10})
	if err != nil || len(rows) == 0 {
		t.Fatalf("deliveries: %v, %v", rows, err)
	}
	for _, d := range rows {
		checkFanOutID(t, d)
	}
}

func TestEndpointCreatedAfterAnEventDoesNotReceiveIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	before := f.events(1)
	clickID := f.click()
	tr := tracking.New(f.st)
	if res, err := tr.TrackSale(ctx, f.ws, tracking.SaleInput{ExternalID: "o-before", CustomerExternalID: "cus-1",
		AmountCents: 5000, Currency: "USD", ClickID: clickID, OccurredAt: time.Now()}); err != nil || res.Commission == nil {
		t.Fatalf("track sale: %+v, %v", res, err)
	}

	rc := newCountingReceiver(t)
	e := f.endpoint(rc.URL)
	// Nothing is left to fan out to the new endpoint later.
	if n, ds := f.undispatched(), f.deliveries(e.ID); n != 0 || len(ds) != 0 {
		t.Fatalf("%d undispatched events, %d deliveries of the new endpoint, want 0", n, len(ds))
	}
	f.worker(devCfg, fastOpts())
	after := f.events(1)
	waitFor(t, "the event written after the endpoint", func() bool { return rc.count() >= 1 })
	time.Sleep(200 * time.Millisecond) // an earlier event would show by now
	if rc.count() != 1 || rc.times(after[0].ID) != 1 || rc.times(before[0].ID) != 0 {
		t.Errorf("%d requests; the later event %d times, the earlier %d times", rc.count(),
			rc.times(after[0].ID), rc.times(before[0].ID))
	}
	if ds := f.deliveries(e.ID); len(ds) != 1 || ds[0].EventID != after[0].ID {
		t.Errorf("deliveries %+v, want one of %s", ds, after[0].ID)
	}
}

// An endpoint whose deletion is under way gets no delivery, and the event's
// writer neither waits for the deletion nor fails on the foreign key. An
// endpoint being updated meanwhile (a worker recording an attempt, a secret
// rotation) is neither waited for nor skipped.
func TestEndpointsBeingDeletedOrUpdatedDoNotHoldUpTracking(t *testing.T) {
	if testdb.Citus() {
		t.Skip("on Citus the fan-out of a batch spanning shards takes no row lock, so it waits for an endpoint's deletion (README, Running on Citus)")
	}
	f := newFixture(t)
	ctx := context.Background()
	keep := f.endpoint("https://keep.example.com/")
	gone := f.endpoint("https://gone.example.com/")
	f.events(1) // gone gets a delivery, which its deletion cascades to
	clickID := f.click()

	del, err := f.st.DB().BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer del.Rollback()
	if _, err := del.ExecContext(ctx, `DELETE FROM webhook_endpoints WHERE id = $1`, gone.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := del.ExecContext(ctx, `UPDATE webhook_endpoints SET consecutive_failures = consecutive_failures + 1,
		secret = secret, updated_at = now() WHERE id = $1`, keep.ID); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := f.st.InTx(wctx, func(tx *store.Tx) error {
		ev, err := outbox.New(f.ws, outbox.CommissionUpdated, time.Now(), map[string]any{})
		if err != nil {
			return err
		}
		return tx.InsertWebhookEvents(wctx, ev)
	}); err != nil {
		t.Fatalf("insert events while an endpoint is being deleted: %v", err)
	}
	if res, err := tracking.New(f.st).TrackSale(wctx, f.ws, tracking.SaleInput{ExternalID: "o-1", CustomerExternalID: "cus-1",
		AmountCents: 5000, Currency: "USD", ClickID: clickID, OccurredAt: time.Now()}); err != nil || res.Commission == nil {
		t.Fatalf("track sale while an endpoint is being deleted: %+v, %v", res, err)
	}
	if err := del.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := f.deliveryCount(keep.ID); got != 4 {
		t.Errorf("kept endpoint: %d deliveries, want 4", got)
	}
	if got := f.deliveryCount(gone.ID); got != 0 {
		t.Errorf("deleted endpoint: %d deliveries, want 0", got)
	}
}

// legacyEvents writes n events as Partli did before write-time fan-out:
// undispatched, without deliveries.
func (f *fixture) legacyEvents(n int) []store.WebhookEvent {
	f.t.Helper()
	evs := make([]store.WebhookEvent, n)
	for i := range evs {
		ev, err := outbox.New(f.ws, outbox.SaleCreated, time.Now(), map[string]any{"n": i})
		if err != nil {
			f.t.Fatal(err)
		}
		if _, err := f.st.DB().Exec(`INSERT INTO webhook_events (id, workspace_id, type, payload, created_at)
			VALUES ($1, $2, $3, $4, $5)`, ev.ID, ev.WorkspaceID, ev.Type, string(ev.Payload), ev.CreatedAt); err != nil {
			f.t.Fatal(err)
		}
		evs[i] = ev
	}
	return evs
}

// undispatched counts the outbox events not fanned out yet.
func (f *fixture) undispatched() int {
	f.t.Helper()
	var n int
	if err := f.st.DB().Get(&n, `SELECT count(*) FROM webhook_events WHERE dispatched_at IS NULL`); err != nil {
		f.t.Fatal(err)
	}
	return n
}

func TestUndispatchedEventsOfEarlierVersionsAreFannedOutByTheMigration(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rc := newCountingReceiver(t)
	sales, err := f.svc.Create(ctx, f.ws, rc.URL, []string{outbox.SaleCreated})
	if err != nil {
		t.Fatal(err)
	}
	leads, err := f.svc.Create(ctx, f.ws, "https://b.example.com/", []string{outbox.LeadCreated})
	if err != nil {
		t.Fatal(err)
	}
	disabled := f.endpoint("https://d.example.com/")
	off := false
	if _, err := f.svc.Update(ctx, f.ws, disabled.ID, Changes{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	// A database of an earlier version: the schema before 00019, events
	// written undispatched; then partli migrate (goose, as store.Migrate).
	p, err := goose.NewProvider(goose.DialectPostgres, f.st.DB().DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.DownTo(ctx, 18); err != nil {
		t.Fatalf("down to 00018: %v", err)
	}
	legacy := f.legacyEvents(3)
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	if n := f.undispatched(); n != 0 {
		t.Fatalf("%d events left undispatched by the migration", n)
	}
	if n := len(f.deliveries(leads.ID)); n != 0 {
		t.Errorf("leads endpoint: %d deliveries", n)
	}
	if n := len(f.deliveries(disabled.ID)); n != 0 {
		t.Errorf("disabled endpoint: %d deliveries", n)
	}
	ds := f.deliveries(sales.ID)
	if len(ds) != len(legacy) {
		t.Fatalf("sales endpoint: %d deliveries, want %d", len(ds), len(legacy))
	}
	for _, d := range ds {
		checkDeliveryID(t, d.ID)
	}

	// The workers deliver them, next to new events, each once.
	fresh := f.events(1)
	f.worker(devCfg, fastOpts())
	f.worker(devCfg, fastOpts())
	waitFor(t, "every event", func() bool { return rc.count() >= 4 })
	time.Sleep(200 * time.Millisecond)
	if rc.count() != 4 {
		t.Errorf("%d requests, want 4", rc.count())
	}
	for _, ev := range append(legacy, fresh...) {
		if rc.times(ev.ID) != 1 {
			t.Errorf("event %s sent %d times", ev.ID, rc.times(ev.ID))
		}
	}
}
