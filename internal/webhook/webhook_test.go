package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/lib/pq"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/apispec"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

var (
	// testKeys seal the endpoints' secrets (a fixed key: a failure replays).
	testKeys = func() *secret.Keys {
		k, err := secret.New([]byte("partli webhook tests' sealing ke"), nil)
		if err != nil {
			panic(err)
		}
		return k
	}()
	devCfg  = config.Config{Env: "development"}
	prodCfg = config.Config{Env: "production"}
)

// fastOpts make retries and polling quick enough for tests.
func fastOpts() Options {
	return Options{
		Schedule:  []time.Duration{20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond, 20 * time.Millisecond},
		Jitter:    -1,
		PollEvery: 20 * time.Millisecond,
		Timeout:   2 * time.Second,
	}
}

// fixture is one test's database with one workspace.
type fixture struct {
	t   testing.TB
	st  *store.Store
	ws  string
	svc *Service
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	db, _ := testdb.New(t)
	// As store.Open does: without idle connections kept, concurrent
	// workers would open a new connection per transaction.
	db.SetMaxOpenConns(40)
	db.SetMaxIdleConns(40)
	st := store.New(db).WithSecrets(testKeys)
	created, err := accounts.CreateWorkspace(context.Background(), st, accounts.NewWorkspace{
		Name: "Shop", OwnerEmail: "owner@shop.example.com", OwnerPassword: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, st: st, ws: created.Workspace.ID, svc: NewService(st, devCfg)}
}

// endpoint subscribes url to every event type.
func (f *fixture) endpoint(url string) *store.WebhookEndpoint {
	f.t.Helper()
	e, err := f.svc.Create(context.Background(), f.ws, url, outbox.Types)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

// events records n sale.created events in the outbox and returns them.
func (f *fixture) events(n int) []store.WebhookEvent {
	f.t.Helper()
	evs := make([]store.WebhookEvent, n)
	for i := range evs {
		ev, err := outbox.New(f.ws, outbox.SaleCreated, time.Now(), map[string]any{"n": i, "note": "ünïcode"})
		if err != nil {
			f.t.Fatal(err)
		}
		evs[i] = ev
	}
	for start := 0; start < n; start += 1000 {
		batch := evs[start:min(start+1000, n)]
		if err := f.st.InTx(context.Background(), func(tx *store.Tx) error {
			return tx.InsertWebhookEvents(context.Background(), batch...)
		}); err != nil {
			f.t.Fatal(err)
		}
	}
	return evs
}

// worker runs a worker until the test ends.
func (f *fixture) worker(cfg config.Config, opts Options) {
	f.t.Helper()
	w := NewWorker(f.st, cfg, slog.New(slog.NewTextHandler(testLog{f.t}, nil)), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

func (f *fixture) get(id string) *store.WebhookEndpoint {
	f.t.Helper()
	e, err := f.svc.Get(context.Background(), f.ws, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return e
}

func (f *fixture) deliveries(endpointID string) []store.WebhookDelivery {
	f.t.Helper()
	ds, _, err := f.svc.Deliveries(context.Background(), f.ws, endpointID, "", store.Page{Limit: 200})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds
}

func (f *fixture) attempts(endpointID, deliveryID string) []store.WebhookAttempt {
	f.t.Helper()
	as, _, err := f.svc.Attempts(context.Background(), f.ws, endpointID, deliveryID, store.Page{Limit: 200})
	if err != nil {
		f.t.Fatal(err)
	}
	return as
}

// testLog writes the worker's log lines to the test's log.
type testLog struct{ t testing.TB }

func (l testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// received is one request a receiver got.
type received struct {
	header http.Header
	body   []byte
}

// receiver is an httptest server that records requests and answers with reply.
type receiver struct {
	*httptest.Server
	mu    sync.Mutex
	got   []received
	reply func(n int, w http.ResponseWriter, r *http.Request) // n counts from 1
}

func newReceiver(t testing.TB, reply func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{reply: reply}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, received{header: r.Header.Clone(), body: body})
		n := len(rc.got)
		rc.mu.Unlock()
		if rc.reply != nil {
			rc.reply(n, w, r)
		}
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

func (rc *receiver) count() int { return len(rc.requests()) }

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDeliveryIsSignedPerStandardWebhooks(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	e := f.endpoint(rc.URL + "/hooks")
	if !strings.HasPrefix(e.Secret, "whsec_") {
		t.Fatalf("secret %q", e.Secret)
	}
	evs := f.events(1)
	f.worker(devCfg, fastOpts())
	waitFor(t, "the delivery", func() bool { return rc.count() == 1 })

	got := rc.requests()[0]
	wh, err := standardwebhooks.NewWebhook(e.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := wh.Verify(got.body, got.header); err != nil {
		t.Fatalf("signature does not verify: %v (headers %v)", err, got.header)
	}
	if id := got.header.Get("webhook-id"); id != evs[0].ID {
		t.Errorf("webhook-id = %q, want the event id %q", id, evs[0].ID)
	}
	if ct := got.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	// The body is the stored payload, byte for byte.
	var stored string
	if err := f.st.DB().Get(&stored, `SELECT payload::text FROM webhook_events WHERE id = $1`, evs[0].ID); err != nil {
		t.Fatal(err)
	}
	if string(got.body) != stored {
		t.Errorf("body = %s, want the stored payload %s", got.body, stored)
	}
	// A body changed in transit, or another secret, does not verify.
	if err := wh.Verify(append(got.body, ' '), got.header); err == nil {
		t.Error("a changed body verified")
	}
	other, _ := standardwebhooks.NewWebhook(NewSecret())
	if err := other.Verify(got.body, got.header); err == nil {
		t.Error("another secret verified")
	}
	// A replay with an old timestamp is rejected by the receiver's library.
	old := got.header.Clone()
	ts := time.Now().Add(-10 * time.Minute)
	sig, _ := Sign(evs[0].ID, ts, got.body, e.Secret)
	old.Set("webhook-timestamp", fmt.Sprint(ts.Unix()))
	old.Set("webhook-signature", sig)
	if err := wh.Verify(got.body, old); !errors.Is(err, standardwebhooks.ErrMessageTooOld) {
		t.Errorf("old timestamp: %v, want ErrMessageTooOld", err)
	}

	waitFor(t, "the success to be recorded", func() bool { return f.deliveries(e.ID)[0].Status != store.DeliveryPending })
	ds := f.deliveries(e.ID)
	if len(ds) != 1 || ds[0].Status != store.DeliverySucceeded || ds[0].Attempts != 1 ||
		ds[0].LastStatusCode == nil || *ds[0].LastStatusCode != 200 {
		t.Errorf("deliveries = %+v", ds)
	}

	// After a rotation both secrets verify for a while.
	newSecret, err := f.svc.RotateSecret(context.Background(), f.ws, e.ID)
	if err != nil || newSecret == e.Secret || !strings.HasPrefix(newSecret, "whsec_") {
		t.Fatalf("rotate: %q, %v", newSecret, err)
	}
	f.events(1)
	waitFor(t, "the delivery after rotation", func() bool { return rc.count() == 2 })
	got = rc.requests()[1]
	for _, s := range []string{e.Secret, newSecret} {
		wh, _ := standardwebhooks.NewWebhook(s)
		if err := wh.Verify(got.body, got.header); err != nil {
			t.Errorf("after rotation, secret %s…: %v", s[:10], err)
		}
	}
}

// Endpoint secrets are stored sealed, never in plain text; a worker whose
// keys cannot open them records why and sends nothing unsigned.
func TestSecretsAreStoredSealed(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	e := f.endpoint(rc.URL)
	if _, err := f.svc.RotateSecret(context.Background(), f.ws, e.ID); err != nil {
		t.Fatal(err)
	}
	var row struct {
		Secret   string `db:"secret"`
		Previous string `db:"previous_secret"`
	}
	if err := f.st.DB().Get(&row, `SELECT secret, previous_secret FROM webhook_endpoints WHERE id = $1`, e.ID); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{row.Secret, row.Previous} {
		if id, ok := secret.SealedBy(v); !ok || id != testKeys.CurrentID() || strings.Contains(v, "whsec_") {
			t.Fatalf("stored secret %q: want it sealed under the tests' key", v)
		}
	}
	if prev, err := testKeys.Open(row.Previous); err != nil || prev != e.Secret {
		t.Fatalf("the previous secret opens to %q (%v), want the one created", prev, err)
	}
	// The database refuses a secret in plain text (migration 00009).
	if _, err := f.st.DB().Exec(`UPDATE webhook_endpoints SET secret = 'whsec_plain' WHERE id = $1`, e.ID); err == nil {
		t.Fatal("the database took a secret in plain text")
	}

	other, err := secret.New([]byte("another key: not the one sealing"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f.events(1)
	opts := fastOpts()
	opts.Schedule = slices.Repeat([]time.Duration{20 * time.Millisecond}, 15) // retries left for the right worker
	w := NewWorker(store.New(f.st.DB()).WithSecrets(other), devCfg, slog.New(slog.NewTextHandler(testLog{t}, nil)), opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	waitFor(t, "a failed attempt", func() bool {
		ds := f.deliveries(e.ID)
		return len(ds) == 1 && ds[0].Attempts > 0
	})
	cancel()
	<-done
	d := f.deliveries(e.ID)[0]
	if rc.count() != 0 || !strings.Contains(d.LastError, "cannot be opened") {
		t.Fatalf("with another key: %d requests sent, last error %q", rc.count(), d.LastError)
	}
	// With the key, the delivery goes out, signed.
	f.worker(devCfg, fastOpts())
	waitFor(t, "the delivery", func() bool { return rc.count() == 1 })
	wh, _ := standardwebhooks.NewWebhook(e.Secret)
	if got := rc.requests()[0]; wh.Verify(got.body, got.header) != nil {
		t.Fatal("the delivery does not verify with the (previous) secret")
	}
}

func TestRetriesKeepTheWebhookID(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		if n <= 2 {
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}
	})
	e := f.endpoint(rc.URL)
	evs := f.events(1)
	f.worker(devCfg, fastOpts())
	waitFor(t, "three attempts", func() bool { return rc.count() == 3 })
	waitFor(t, "the delivery to succeed", func() bool {
		ds := f.deliveries(e.ID)
		return len(ds) == 1 && ds[0].Status == store.DeliverySucceeded
	})
	for i, r := range rc.requests() {
		if id := r.header.Get("webhook-id"); id != evs[0].ID {
			t.Errorf("attempt %d: webhook-id %q, want %q", i+1, id, evs[0].ID)
		}
		wh, _ := standardwebhooks.NewWebhook(e.Secret)
		if err := wh.Verify(r.body, r.header); err != nil {
			t.Errorf("attempt %d: %v", i+1, err)
		}
	}
	d := f.deliveries(e.ID)[0]
	if d.Attempts != 3 {
		t.Errorf("attempts = %d, want 3", d.Attempts)
	}
	as := f.attempts(e.ID, d.ID)
	var codes []int
	for _, a := range as {
		codes = append(codes, *a.StatusCode)
	}
	if fmt.Sprint(codes) != "[200 503 503]" { // newest first
		t.Errorf("logged status codes %v", codes)
	}
	if !strings.Contains(as[1].ResponseBody, "try later") {
		t.Errorf("logged reply %q", as[1].ResponseBody)
	}
	if got := f.get(e.ID); got.ConsecutiveFailures != 0 || !got.Enabled {
		t.Errorf("endpoint after success: failures %d, enabled %v", got.ConsecutiveFailures, got.Enabled)
	}
	time.Sleep(100 * time.Millisecond)
	if n := rc.count(); n != 3 {
		t.Errorf("%d requests after success, want 3", n)
	}
}

func TestTwoWorkersDeliverEachEventOnce(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	seen := map[string]int{}
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
		time.Sleep(time.Millisecond) // let the workers overlap
	})
	e := f.endpoint(rc.URL)
	const n = 300
	evs := f.events(n)
	opts := fastOpts()
	opts.Concurrency = 8
	f.worker(devCfg, opts)
	f.worker(devCfg, opts)
	waitFor(t, "every event", func() bool { return rc.count() >= n })
	time.Sleep(200 * time.Millisecond) // a double send would show by now
	if c := rc.count(); c != n {
		t.Errorf("%d requests for %d events", c, n)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, ev := range evs {
		if seen[ev.ID] != 1 {
			t.Errorf("event %s delivered %d times", ev.ID, seen[ev.ID])
		}
	}
	waitFor(t, "all deliveries recorded", func() bool {
		var left int
		_ = f.st.DB().Get(&left, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status <> 'succeeded'`, e.ID)
		return left == 0
	})
}

func TestHangingReceiverDoesNotDelayTracking(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	release := make(chan struct{})
	var returned atomic.Int32
	arrived := make(chan struct{}, 10)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		returned.Add(1)
	})
	f.endpoint(rc.URL)
	opts := fastOpts()
	opts.Timeout = 5 * time.Second
	f.worker(devCfg, opts)
	t.Cleanup(func() { close(release) }) // before the worker stops and the receiver closes

	clickID := f.click()
	tr := tracking.New(f.st)
	sale := func(ext string) {
		t.Helper()
		res, err := tr.TrackSale(ctx, f.ws, tracking.SaleInput{ExternalID: ext, CustomerExternalID: "cus-" + ext,
			AmountCents: 5000, Currency: "USD", ClickID: clickID, EventName: "Purchase", OccurredAt: time.Now()})
		if err != nil || !res.Attributed {
			t.Fatalf("track sale: %+v, %v", res, err)
		}
	}
	sale("order-1")
	select {
	case <-arrived:
	case <-time.After(10 * time.Second):
		t.Fatal("the receiver never got the first sale")
	}
	// The receiver now holds a delivery open; tracking goes on regardless.
	for i := 2; i <= 5; i++ {
		sale(fmt.Sprintf("order-%d", i))
	}
	if n := returned.Load(); n != 0 {
		t.Fatalf("the receiver answered %d times; it should still be blocked", n)
	}
	var outboxed int
	if err := f.st.DB().Get(&outboxed, `SELECT count(*) FROM webhook_events WHERE workspace_id = $1`, f.ws); err != nil || outboxed != 10 {
		t.Fatalf("%d events in the outbox (%v), want 10 (a sale and a commission each)", outboxed, err)
	}
}

// click makes a program with a 10 % sale reward, an approved partner and a
// click, for tracking.
func (f *fixture) click() string {
	f.t.Helper()
	ctx := context.Background()
	p := &store.Program{ID: ids.New(ids.Program), WorkspaceID: f.ws, Name: "Main", Slug: "main",
		DestinationURL: "https://shop.example.com/", Currency: "USD", HoldingPeriodDays: 30, CookieDays: 90}
	if err := f.st.CreateProgram(ctx, p); err != nil {
		f.t.Fatal(err)
	}
	bp := int64(1000)
	if err := f.st.CreateReward(ctx, &store.Reward{ID: ids.New(ids.Reward), WorkspaceID: f.ws, ProgramID: p.ID,
		Event: "sale", Type: "percentage", PercentBP: &bp, Interval: "recurring"}); err != nil {
		f.t.Fatal(err)
	}
	slug := "ptn-" + strings.ToLower(ids.Random(5))
	pa := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: f.ws, ProgramID: p.ID, Email: slug + "@partners.example.com",
		Name: "Partner", Slug: slug, Status: "approved"}
	if err := f.st.CreatePartner(ctx, pa); err != nil {
		f.t.Fatal(err)
	}
	c := &store.Click{ID: ids.New(ids.Click), IPHash: []byte{1, 2, 3}, Flags: pq.StringArray{}}
	if _, err := f.st.HotPath().RecordClick(ctx, slug, c, time.Minute, 1000); err != nil {
		f.t.Fatal(err)
	}
	return c.ID
}

func TestPrivateAddressesRefusedInProduction(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	prod := NewService(f.st, prodCfg)
	for _, u := range []string{
		"http://127.0.0.1:8080/hooks", "http://localhost/hooks", "https://10.1.2.3/", "http://192.168.0.10/",
		"http://[::1]/", "http://169.254.169.254/latest/meta-data", "http://0.0.0.0:80/", "http://[::ffff:127.0.0.1]/",
		"http://[fd00::1]/", "http://100.64.0.1/", "http://intranet/hooks", "http://db.internal/",
	} {
		_, err := prod.Create(ctx, f.ws, u, []string{outbox.SaleCreated})
		var fe FieldErrors
		if !errors.As(err, &fe) || !strings.Contains(fe["url"], "private") {
			t.Errorf("%s: %v, want a refusal of the url", u, err)
		}
	}
	for _, u := range []string{"ftp://example.com/x", "example.com/hooks", "https://", "javascript:alert(1)", ""} {
		_, err := prod.Create(ctx, f.ws, u, []string{outbox.SaleCreated})
		var fe FieldErrors
		if !errors.As(err, &fe) || fe["url"] == "" {
			t.Errorf("%q: %v, want a url error", u, err)
		}
	}
	if _, err := prod.Create(ctx, f.ws, "https://93.184.215.14/hooks", []string{outbox.SaleCreated}); err != nil {
		t.Errorf("public address refused: %v", err)
	}
	allow := prodCfg
	allow.WebhookAllowPrivate = true
	if _, err := NewService(f.st, allow).Create(ctx, f.ws, "http://127.0.0.1:9/x", []string{outbox.SaleCreated}); err != nil {
		t.Errorf("PARTLI_WEBHOOK_ALLOW_PRIVATE: %v", err)
	}

	// At dial time: endpoints on loopback (one by IP, one by a name that
	// resolves to it, as after DNS rebinding) get nothing from a production worker.
	rc := newReceiver(t, nil)
	byIP := f.endpoint(rc.URL)
	byName := f.endpoint(strings.Replace(rc.URL, "127.0.0.1", "localhost", 1))
	f.events(1)
	f.worker(prodCfg, fastOpts())
	for _, e := range []*store.WebhookEndpoint{byIP, byName} {
		waitFor(t, "a refused attempt", func() bool { return len(f.attempts(e.ID, "")) > 0 })
		a := f.attempts(e.ID, "")[0]
		if a.StatusCode != nil || !strings.Contains(a.Error, "refused") {
			t.Errorf("%s: attempt %+v, want a refusal", e.URL, a)
		}
	}
	if n := rc.count(); n != 0 {
		t.Errorf("the loopback receiver got %d requests", n)
	}
}

func TestBlockedAddresses(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "10.0.0.1": true, "172.16.0.1": true, "192.168.1.1": true, "169.254.169.254": true,
		"::1": true, "fe80::1": true, "fc00::1": true, "0.0.0.0": true, "::": true, "::ffff:10.0.0.1": true,
		"100.64.1.1": true, "224.0.0.1": true, "255.255.255.255": true, "64:ff9b::a00:1": true,
		"93.184.215.14": false, "8.8.8.8": false, "2606:4700:4700::1111": false,
	} {
		if got := blocked(netip.MustParseAddr(addr)); got != want {
			t.Errorf("blocked(%s) = %v, want %v", addr, got, want)
		}
	}
	g := guard{}
	if err := g.control("tcp", "127.0.0.1:80", nil); !errors.Is(err, ErrPrivateAddress) {
		t.Errorf("control(127.0.0.1) = %v", err)
	}
	if err := g.control("tcp", "[2606:4700:4700::1111]:443", nil); err != nil {
		t.Errorf("control(public) = %v", err)
	}
}

func TestEndpointDisabledAfterFailureLimit(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	e := f.endpoint(rc.URL)
	f.events(1)
	opts := fastOpts()
	opts.FailureLimit = 3
	f.worker(devCfg, opts)
	waitFor(t, "the endpoint to be disabled", func() bool { return !f.get(e.ID).Enabled })
	got := f.get(e.ID)
	if !strings.Contains(got.DisabledReason, "3 consecutive") || !strings.Contains(got.DisabledReason, "HTTP 500") ||
		got.ConsecutiveFailures != 3 || got.DisabledAt == nil {
		t.Errorf("endpoint %+v", got)
	}
	if d := f.deliveries(e.ID)[0]; d.Status != store.DeliveryFailed {
		t.Errorf("delivery status %q, want failed", d.Status)
	}
	// A disabled endpoint gets nothing more, and new events do not queue for it.
	f.events(1)
	time.Sleep(200 * time.Millisecond)
	if n := rc.count(); n != 3 {
		t.Errorf("%d requests, want 3", n)
	}
	if n := len(f.deliveries(e.ID)); n != 1 {
		t.Errorf("%d deliveries, want 1", n)
	}
	// Enabling it again clears the reason and the count.
	on := true
	got, err := f.svc.Update(context.Background(), f.ws, e.ID, Changes{Enabled: &on})
	if err != nil || !got.Enabled || got.DisabledReason != "" || got.ConsecutiveFailures != 0 {
		t.Errorf("re-enabled: %+v, %v", got, err)
	}
}

func TestGoneDisablesAtOnce(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusGone) })
	e := f.endpoint(rc.URL)
	f.events(1)
	f.worker(devCfg, fastOpts())
	waitFor(t, "the endpoint to be disabled", func() bool { return !f.get(e.ID).Enabled })
	if got := f.get(e.ID); !strings.Contains(got.DisabledReason, "410") {
		t.Errorf("disabled reason %q", got.DisabledReason)
	}
	time.Sleep(100 * time.Millisecond)
	if n := rc.count(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
	if d := f.deliveries(e.ID)[0]; d.Status != store.DeliveryFailed || d.Attempts != 1 {
		t.Errorf("delivery %+v", d)
	}
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	f := newFixture(t)
	target := newReceiver(t, nil)
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/elsewhere", http.StatusFound)
	})
	e := f.endpoint(rc.URL)
	f.events(1)
	opts := fastOpts()
	opts.Schedule = []time.Duration{time.Hour}
	f.worker(devCfg, opts)
	waitFor(t, "an attempt", func() bool { return len(f.attempts(e.ID, "")) == 1 })
	a := f.attempts(e.ID, "")[0]
	if a.StatusCode == nil || *a.StatusCode != http.StatusFound || !strings.Contains(a.Error, "redirect not followed") {
		t.Errorf("attempt %+v", a)
	}
	if d := f.deliveries(e.ID)[0]; d.Status != store.DeliveryPending || d.Attempts != 1 {
		t.Errorf("delivery %+v, want pending for a retry", d)
	}
	if n := target.count(); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}

func TestReplyBodyIsTruncated(t *testing.T) {
	f := newFixture(t)
	reply := "x" + strings.Repeat("é", 5000) // a two-byte character straddles byte 1024
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) { io.WriteString(w, reply) })
	e := f.endpoint(rc.URL)
	f.events(1)
	f.worker(devCfg, fastOpts())
	waitFor(t, "an attempt", func() bool { return len(f.attempts(e.ID, "")) == 1 })
	a := f.attempts(e.ID, "")[0]
	if len(a.ResponseBody) > 1024 || len(a.ResponseBody) < 1000 || !utf8.ValidString(a.ResponseBody) ||
		!strings.HasPrefix(reply, a.ResponseBody) {
		t.Errorf("kept %d bytes (valid UTF-8: %v)", len(a.ResponseBody), utf8.ValidString(a.ResponseBody))
	}
	if a.StatusCode == nil || *a.StatusCode != 200 || a.LatencyMS < 0 {
		t.Errorf("attempt %+v", a)
	}
}

func TestTestEventAndResend(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	e := f.endpoint(rc.URL)
	f.worker(devCfg, fastOpts())
	ctx := context.Background()
	id, err := f.svc.SendTestEvent(ctx, f.ws, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkDeliveryID(t, id)
	waitFor(t, "the test event", func() bool { return rc.count() == 1 })
	got := rc.requests()[0]
	v, err := apispec.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	if err := v.CheckEvent(TestEvent, got.body); err != nil {
		t.Error(err)
	}
	waitFor(t, "the delivery to succeed", func() bool {
		d, err := f.svc.Delivery(ctx, f.ws, id)
		return err == nil && d.Status == store.DeliverySucceeded
	})
	if err := f.svc.Resend(ctx, f.ws, id); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the resent event", func() bool { return rc.count() == 2 })
	if a, b := got.header.Get("webhook-id"), rc.requests()[1].header.Get("webhook-id"); a != b || a == "" {
		t.Errorf("resend webhook-id %q, first %q", b, a)
	}
	waitFor(t, "two logged attempts", func() bool { return len(f.attempts(e.ID, id)) == 2 })
	if err := f.svc.Resend(ctx, f.ws, "dlv_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("resend unknown: %v", err)
	}
	other := newFixture(t)
	if err := other.svc.Resend(ctx, other.ws, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("resend from another workspace: %v", err)
	}
	off := false
	if _, err := f.svc.Update(ctx, f.ws, e.ID, Changes{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.SendTestEvent(ctx, f.ws, e.ID); !errors.Is(err, ErrEndpointDisabled) {
		t.Errorf("test event to a disabled endpoint: %v", err)
	}
}

func TestAbandonedLeaseIsDeliveredAgain(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	rc := newReceiver(t, nil)
	e := f.endpoint(rc.URL)
	f.events(1)
	// A worker claims the delivery and dies before sending it.
	dead, err := f.st.ClaimWebhookDeliveries(ctx, 10, 300*time.Millisecond)
	if err != nil || len(dead) != 1 {
		t.Fatalf("claim: %v, %v", dead, err)
	}
	if again, _ := f.st.ClaimWebhookDeliveries(ctx, 10, time.Minute); len(again) != 0 {
		t.Fatal("a leased delivery was claimed twice")
	}
	if err := f.svc.Resend(ctx, f.ws, dead[0].ID); !errors.Is(err, ErrInFlight) {
		t.Errorf("resend while leased: %v, want ErrInFlight", err)
	}
	f.worker(devCfg, fastOpts())
	waitFor(t, "the delivery after the lease ran out", func() bool {
		return f.deliveries(e.ID)[0].Status == store.DeliverySucceeded
	})
	// The dead worker's late outcome changes nothing: its lease is gone.
	if _, err := f.st.RecordWebhookAttempt(ctx, store.WebhookAttemptRecord{Delivery: dead[0],
		Status: store.DeliveryFailed, Error: "late"}); err != nil {
		t.Fatal(err)
	}
	if d := f.deliveries(e.ID)[0]; d.Status != store.DeliverySucceeded || d.Attempts != 1 {
		t.Errorf("delivery after a stale outcome: %+v", d)
	}
	if n := rc.count(); n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestEndpointLifecycle(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	e, err := f.svc.Create(ctx, f.ws, " https://hooks.example.com/partli ",
		[]string{outbox.CommissionUpdated, outbox.SaleCreated, outbox.SaleCreated})
	if err != nil {
		t.Fatal(err)
	}
	if e.URL != "https://hooks.example.com/partli" || fmt.Sprint(e.Events) != "[sale.created commission.updated]" ||
		!e.Enabled || e.DisabledReason != "" {
		t.Errorf("created %+v", e)
	}
	_, err = f.svc.Create(ctx, f.ws, "https://hooks.example.com/", []string{"sale.deleted"})
	var fe FieldErrors
	if !errors.As(err, &fe) || !strings.Contains(fe["events"], "sale.deleted") {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := f.svc.Create(ctx, f.ws, "https://hooks.example.com/", nil); !errors.As(err, &fe) || fe["events"] == "" {
		t.Errorf("no events: %v", err)
	}
	second := f.endpoint("https://two.example.com/")
	list, next, err := f.svc.List(ctx, f.ws, store.Page{Limit: 1})
	if err != nil || len(list) != 1 || list[0].ID != second.ID || next == nil {
		t.Fatalf("list page 1: %v %v %v", list, next, err)
	}
	cur, _ := store.DecodeCursor(*next)
	list, next, err = f.svc.List(ctx, f.ws, store.Page{Limit: 1, Cursor: cur})
	if err != nil || len(list) != 1 || list[0].ID != e.ID || next != nil {
		t.Fatalf("list page 2: %v %v %v", list, next, err)
	}

	u, off := "https://hooks.example.com/v2", false
	got, err := f.svc.Update(ctx, f.ws, e.ID, Changes{URL: &u, Events: []string{outbox.LeadCreated}, Enabled: &off})
	if err != nil || got.URL != u || fmt.Sprint(got.Events) != "[lead.created]" || got.Enabled ||
		got.DisabledReason != ManualDisableReason {
		t.Errorf("update: %+v, %v", got, err)
	}
	if _, err := f.svc.Update(ctx, f.ws, "we_nope", Changes{}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("update unknown: %v", err)
	}
	other := newFixture(t)
	if _, err := other.svc.Get(ctx, other.ws, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another workspace's endpoint: %v", err)
	}
	if _, err := other.svc.RotateSecret(ctx, other.ws, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("rotate another workspace's endpoint: %v", err)
	}
	if err := f.svc.Delete(ctx, f.ws, e.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Delete(ctx, f.ws, e.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete twice: %v", err)
	}
}

func TestFanOutOnlyToSubscribedEnabledEndpoints(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	sales, err := f.svc.Create(ctx, f.ws, "https://a.example.com/", []string{outbox.SaleCreated})
	if err != nil {
		t.Fatal(err)
	}
	leads, err := f.svc.Create(ctx, f.ws, "https://b.example.com/", []string{outbox.LeadCreated})
	if err != nil {
		t.Fatal(err)
	}
	off := false
	disabled := f.endpoint("https://d.example.com/")
	if _, err := f.svc.Update(ctx, f.ws, disabled.ID, Changes{Enabled: &off}); err != nil {
		t.Fatal(err)
	}
	created, err := accounts.CreateWorkspace(ctx, f.st, accounts.NewWorkspace{Name: "Other", OwnerEmail: "o@other.example.com",
		OwnerPassword: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := f.svc.Create(ctx, created.Workspace.ID, "https://c.example.com/", outbox.Types)
	if err != nil {
		t.Fatal(err)
	}
	evs := f.events(3)
	// The deliveries are written with the events: nothing is left to dispatch.
	if n := f.undispatched(); n != 0 {
		t.Errorf("%d undispatched events, want 0", n)
	}
	ds := f.deliveries(sales.ID)
	if len(ds) != 3 {
		t.Fatalf("sales endpoint: %d deliveries", len(ds))
	}
	got := map[string]bool{}
	for _, d := range ds {
		got[d.EventID] = true
		if d.Status != store.DeliveryPending || d.Attempts != 0 || d.EventType != outbox.SaleCreated {
			t.Errorf("delivery %+v", d)
		}
		checkFanOutID(t, d)
	}
	for _, ev := range evs {
		if !got[ev.ID] {
			t.Errorf("event %s has no delivery", ev.ID)
		}
	}
	if n := len(f.deliveries(leads.ID)); n != 0 {
		t.Errorf("leads endpoint: %d deliveries", n)
	}
	if n := len(f.deliveries(disabled.ID)); n != 0 {
		t.Errorf("disabled endpoint: %d deliveries", n)
	}
	if ds, _, _ := f.svc.Deliveries(ctx, created.Workspace.ID, foreign.ID, "", store.Page{Limit: 10}); len(ds) != 0 {
		t.Errorf("another workspace's endpoint: %d deliveries", len(ds))
	}
}

func TestSaleEventsMatchTheDocument(t *testing.T) {
	f := newFixture(t)
	rc := newReceiver(t, nil)
	f.endpoint(rc.URL)
	f.worker(devCfg, fastOpts())
	clickID := f.click()
	res, err := tracking.New(f.st).TrackSale(context.Background(), f.ws, tracking.SaleInput{ExternalID: "o-1",
		CustomerExternalID: "cus-1", AmountCents: 1000, Currency: "USD", ClickID: clickID, EventName: "Purchase",
		OccurredAt: time.Now()})
	if err != nil || !res.Attributed {
		t.Fatalf("%+v %v", res, err)
	}
	if res.Commission == nil {
		t.Fatal("no commission")
	}
	waitFor(t, "sale.created and commission.created", func() bool { return rc.count() == 2 })
	v, err := apispec.NewValidator()
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for _, r := range rc.requests() {
		var env struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal(r.body, &env); err != nil {
			t.Fatal(err)
		}
		types = append(types, env.Type)
		if err := v.CheckEvent(env.Type, r.body); err != nil {
			t.Errorf("%s: %v", env.Type, err)
		}
	}
	if len(types) != 2 || !slices.Contains(types, outbox.SaleCreated) || !slices.Contains(types, outbox.CommissionCreated) {
		t.Errorf("delivered %v", types)
	}
}

func TestBackoffSchedule(t *testing.T) {
	w := NewWorker(nil, devCfg, nil, Options{})
	var total time.Duration
	for n := 1; ; n++ {
		d, ok := w.backoff(n)
		if !ok {
			if n != len(DefaultSchedule)+1 {
				t.Errorf("gave up after %d failures", n-1)
			}
			break
		}
		base := DefaultSchedule[n-1]
		if d < base*8/10 || d > base*12/10 {
			t.Errorf("wait %d = %s, outside ±20%% of %s", n, d, base)
		}
		total += base
	}
	if total < 66*time.Hour || total > 84*time.Hour {
		t.Errorf("schedule spans %s, want about three days", total)
	}
	if _, ok := w.backoff(0); ok {
		t.Error("backoff(0)")
	}
}

func TestCleanText(t *testing.T) {
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"hello", 10, "hello"},
		{"hello", 3, "hel"},
		{"aé", 2, "a"},       // é cut in half is dropped
		{"a€b", 3, "a"},      // so is a three-byte character cut after two
		{"a€b", 4, "a€"},     // kept whole
		{"a\x00b", 10, "ab"}, // NUL bytes cannot be stored
		{"a\xffb", 10, "a\uFFFDb"},
	} {
		if got := cleanText([]byte(c.in), c.max); got != c.want {
			t.Errorf("cleanText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// BenchmarkDelivery measures events per second through one worker (default
// options) to a local receiver, from outbox row to recorded success.
func BenchmarkDelivery(b *testing.B) {
	f := newFixture(b)
	var got atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		got.Add(1)
	}))
	b.Cleanup(srv.Close)
	e := f.endpoint(srv.URL)
	f.events(b.N)
	b.ResetTimer()
	start := time.Now()
	f.worker(devCfg, Options{})
	for got.Load() < int64(b.N) {
		time.Sleep(time.Millisecond)
	}
	for {
		var done int
		if err := f.st.DB().Get(&done, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'succeeded'`, e.ID); err != nil {
			b.Fatal(err)
		}
		if done == b.N {
			break
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	if n := got.Load(); n != int64(b.N) {
		b.Errorf("receiver got %d requests for %d events", n, b.N)
	}
}
