package tracking_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

// batchSizes records the sizes of the sale batches.
type batchSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (b *batchSizes) ObserveBatch(kind string, n int, _ time.Duration) {
	if kind == "sale" {
		b.mu.Lock()
		b.sizes = append(b.sizes, n)
		b.mu.Unlock()
	}
}

func (b *batchSizes) largest() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := 0
	for _, n := range b.sizes {
		m = max(m, n)
	}
	return m
}

// slowFirstBatch makes the database hold the first sale event written for
// a second, so that the sales arriving meanwhile queue for one batch.
func slowFirstBatch(t *testing.T, f *fx) {
	t.Helper()
	f.exec(`CREATE FUNCTION hold_first() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.external_id = 'hold' THEN PERFORM pg_sleep(1); END IF;
			IF NEW.external_id LIKE 'poison%' THEN RAISE EXCEPTION 'poisoned sale %', NEW.external_id; END IF;
			RETURN NEW;
		END $$`)
	trigger := `CREATE TRIGGER hold_first BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION hold_first()`
	if !testdb.Citus() {
		f.exec(trigger)
		return
	}
	// Citus makes triggers of distributed tables only when its session
	// asks (the function is propagated to the workers on its own).
	conn, err := f.db.Conn(f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{`SET citus.enable_unsafe_triggers TO on`, trigger} {
		if _, err := conn.ExecContext(f.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

// Concurrent sales share transactions, and every guarantee of a lone sale
// holds inside a batch: copies of one external id give one sale, sales of
// one customer on a one-time reward one commission, and a sale the
// database refuses fails alone while the rest commit.
func TestSaleBatches(t *testing.T) {
	db, _ := testdb.New(t)
	db.SetMaxOpenConns(20)
	f := newFx(t, db)
	sizes := &batchSizes{}
	f.st.HotPath().SetMetrics(sizes)
	f.svc = tracking.New(f.st)
	slowFirstBatch(t, f)
	p := f.program("USD", 30, 90)
	f.reward(p, nil, rewardSpec{bp: 1000, interval: tracking.OneTime})
	click := f.click(f.partner(p, nil, "approved"))

	ctx, cancel := context.WithTimeout(f.ctx, time.Minute)
	defer cancel()
	post := func(ext, cust string) (*tracking.Result, error) {
		return f.svc.TrackSale(ctx, f.ws, tracking.SaleInput{ExternalID: ext, CustomerExternalID: cust, AmountCents: 5000,
			Currency: "USD", ClickID: click, EventName: "sale", OccurredAt: time.Now().UTC()})
	}
	// The held sale starts a batch; while it is held, the rest queue.
	held := make(chan error, 1)
	go func() { _, err := post("hold", "cus-hold"); held <- err }()
	deadline := time.Now().Add(30 * time.Second)
	for f.countActive(t, db) == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	type call struct {
		ext, cust string
		res       *tracking.Result
		err       error
	}
	var calls []*call
	for i := range 10 {
		calls = append(calls, &call{ext: fmt.Sprintf("inv-%d", i), cust: fmt.Sprintf("cus-%d", i)})
	}
	for range 4 { // copies of one external id
		calls = append(calls, &call{ext: "inv-dup", cust: "cus-dup"})
	}
	for i := range 4 { // first sales of one customer, one-time reward
		calls = append(calls, &call{ext: fmt.Sprintf("inv-once-%d", i), cust: "cus-once"})
	}
	calls = append(calls, &call{ext: "poison-1", cust: "cus-poison"})
	var wg sync.WaitGroup
	for _, c := range calls {
		wg.Go(func() { c.res, c.err = post(c.ext, c.cust) })
	}
	wg.Wait()
	if err := <-held; err != nil {
		t.Fatalf("the held sale: %v", err)
	}

	if n := sizes.largest(); n < 5 {
		t.Errorf("the largest batch held %d sales, want the queued sales together (sizes %v)", n, sizes.sizes)
	}
	var dupEvents = map[string]bool{}
	originals, onceCommissions := 0, 0
	for _, c := range calls {
		switch {
		case c.ext == "poison-1":
			if c.err == nil {
				t.Errorf("the poisoned sale was acknowledged: %+v", c.res)
			}
			continue
		case c.err != nil:
			t.Errorf("%s: %v (one refused sale must not fail the others)", c.ext, c.err)
			continue
		case c.ext == "inv-dup":
			dupEvents[*c.res.EventID] = true
			if !c.res.Duplicate {
				originals++
			}
		case c.cust == "cus-once":
			if c.res.Commission != nil {
				onceCommissions++
			}
		case c.res.Commission == nil:
			t.Errorf("%s: no commission", c.ext)
		}
	}
	if len(dupEvents) != 1 || originals != 1 {
		t.Errorf("copies of one external id: %d events, %d originals; want one of each", len(dupEvents), originals)
	}
	if onceCommissions != 1 {
		t.Errorf("one customer's first sales on a one-time reward: %d commissions, want 1", onceCommissions)
	}
	if got := f.count(`SELECT count(*) FROM events WHERE workspace_id = $1`); got != 1+10+1+4 {
		t.Errorf("%d sale events stored, want 16 (held, 10, one duplicate, 4 of one customer), none poisoned", got)
	}
	if got := f.count(`SELECT count(*) FROM commissions WHERE workspace_id = $1`); got != 1+10+1+1 {
		t.Errorf("%d commissions, want 13", got)
	}
	if got := f.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'sale.created'`); got != 16 {
		t.Errorf("%d sale.created events, want 16", got)
	}
}

// countActive counts sessions of the test database running a statement.
func (f *fx) countActive(t *testing.T, db interface {
	GetContext(context.Context, any, string, ...any) error
}) int {
	t.Helper()
	var n int
	if err := db.GetContext(f.ctx, &n, `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND state = 'active' AND wait_event = 'PgSleep'`); err != nil {
		t.Fatal(err)
	}
	return n
}

var _ store.BatchObserver = (*batchSizes)(nil)
