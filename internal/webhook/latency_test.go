package webhook

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/tracking"
)

// What do webhooks add to tracking a sale? A tracked sale writes its events
// (sale.created, commission.created) to the outbox in its own transaction
// whether or not endpoints exist, and in the same statement one delivery
// per subscribed endpoint (write-time fan-out); delivery happens in the
// worker, after commit. So the sale's own work grows with endpoints only by
// those rows (6 with 3 endpoints, none without), and what 3 endpoints add
// beyond that is the worker's load on the database and the CPU while it
// delivers 6 requests per sale.
//
//	go test -run '^$' -bench 'TrackSale' -benchtime 2000x ./internal/webhook
//
// ns/op is the mean time of one TrackSale call (the tracking service, the
// whole transaction); p50-µs and p99-µs are its percentiles; deliveries/op
// counts the deliveries the worker completed while the sales were timed.

// BenchmarkTrackSaleWith0Endpoints: a worker runs (polling for work) but
// has nothing to deliver, and the events are written already dispatched.
func BenchmarkTrackSaleWith0Endpoints(b *testing.B) { benchTrackSale(b, 0, 0) }

// BenchmarkTrackSaleWith3Endpoints: each sale goes to 3 local receivers
// subscribed to every event type, delivered by a worker with default options
// while the sales are tracked.
func BenchmarkTrackSaleWith3Endpoints(b *testing.B) { benchTrackSale(b, 3, 0) }

// BenchmarkTrackSaleWith3SlowEndpoints: receivers that take 200 ms to
// answer hold deliveries open; tracking does not wait for them.
func BenchmarkTrackSaleWith3SlowEndpoints(b *testing.B) { benchTrackSale(b, 3, 200*time.Millisecond) }

// receivers starts n local endpoints answering 200 after delay, counting
// the requests in got.
func receivers(b *testing.B, f *fixture, n int, delay time.Duration, got *atomic.Int64) {
	for range n {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			time.Sleep(delay)
			got.Add(1)
		}))
		b.Cleanup(srv.Close)
		f.endpoint(srv.URL)
	}
}

// saleTracker returns a function that tracks one attributed sale in f's
// workspace and returns how long TrackSale took.
func saleTracker(b *testing.B, f *fixture) func(ext string) time.Duration {
	clickID := f.click()
	tr := tracking.New(f.st)
	return func(ext string) time.Duration {
		start := time.Now()
		res, err := tr.TrackSale(context.Background(), f.ws, tracking.SaleInput{ExternalID: ext, CustomerExternalID: "cus-" + ext,
			AmountCents: 5000, Currency: "USD", ClickID: clickID, EventName: "Purchase", OccurredAt: time.Now()})
		if err != nil || !res.Attributed || res.Commission == nil {
			b.Fatalf("track sale: %+v, %v", res, err)
		}
		return time.Since(start)
	}
}

// reportLatency reports the percentiles of lat with suffix on their names.
func reportLatency(b *testing.B, lat []time.Duration, suffix string) {
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(float64(len(lat))*p))].Microseconds())
	}
	b.ReportMetric(pct(0.50), "p50-µs"+suffix)
	b.ReportMetric(pct(0.99), "p99-µs"+suffix)
}

func benchTrackSale(b *testing.B, endpoints int, delay time.Duration) {
	f := newFixture(b)
	var delivered atomic.Int64
	receivers(b, f, endpoints, delay, &delivered)
	sale := saleTracker(b, f)
	// Warm the connection pool and the query plans before timing.
	for i := range 20 {
		sale(fmt.Sprintf("warm-%d", i))
	}
	f.worker(devCfg, Options{})
	if endpoints > 0 && delay == 0 {
		waitFor(b, "the warm-up deliveries", func() bool { return delivered.Load() == int64(20*2*endpoints) })
	}
	before := delivered.Load()

	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, sale(fmt.Sprintf("order-%d", i)))
	}
	b.StopTimer()
	b.ReportMetric(float64(delivered.Load()-before)/float64(b.N), "deliveries/op")
	reportLatency(b, lat, "")
}

// BenchmarkTrackSaleInterleaved alternates sales between two workspaces of
// one database, one with 3 endpoints and one with none, while one worker
// delivers: both see the same background load (the worker's, and anything
// else on the machine), so the difference between -3ep and -0ep is what
// configured endpoints cost the sale itself. (ns/op covers two sales.)
func BenchmarkTrackSaleInterleaved(b *testing.B) {
	with := newFixture(b)
	created, err := accounts.CreateWorkspace(context.Background(), with.st, accounts.NewWorkspace{
		Name: "Other", OwnerEmail: "owner@other.example.com", OwnerPassword: "correct horse battery"})
	if err != nil {
		b.Fatal(err)
	}
	without := &fixture{t: b, st: with.st, ws: created.Workspace.ID, svc: with.svc}
	var delivered atomic.Int64
	receivers(b, with, 3, 0, &delivered)
	saleWith, saleWithout := saleTracker(b, with), saleTracker(b, without)
	for i := range 20 {
		saleWith(fmt.Sprintf("warm-%d", i))
		saleWithout(fmt.Sprintf("warm-%d", i))
	}
	with.worker(devCfg, Options{})
	waitFor(b, "the warm-up deliveries", func() bool { return delivered.Load() == 20*2*3 })
	before := delivered.Load()

	latWith := make([]time.Duration, 0, b.N)
	latWithout := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		ext := fmt.Sprintf("order-%d", i)
		if i%2 == 0 {
			latWith = append(latWith, saleWith(ext))
			latWithout = append(latWithout, saleWithout(ext))
		} else {
			latWithout = append(latWithout, saleWithout(ext))
			latWith = append(latWith, saleWith(ext))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(delivered.Load()-before)/float64(b.N), "deliveries/op")
	reportLatency(b, latWith, "-3ep")
	reportLatency(b, latWithout, "-0ep")
}
