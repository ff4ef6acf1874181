package webhook

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/store"
)

// DefaultSchedule is the wait after each failed attempt: 12 retries over
// about three days (5 s … 24 h); after the last one the delivery has failed.
var DefaultSchedule = []time.Duration{
	5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute, 30 * time.Minute,
	time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour, 12 * time.Hour, 24 * time.Hour, 24 * time.Hour,
}

// Options tune a Worker; zero fields take the defaults named.
type Options struct {
	Schedule     []time.Duration // waits between attempts; DefaultSchedule
	Jitter       float64         // each wait varies by ± this fraction; 0.2 (negative: none)
	FailureLimit int             // consecutive failed attempts that disable an endpoint; 20
	Timeout      time.Duration   // per attempt, connection to reply; 10 s
	Lease        time.Duration   // how long a claimed delivery is reserved; 1 min (more than Timeout)
	PollEvery    time.Duration   // how often an idle worker looks for work; 500 ms
	Concurrency  int             // attempts in flight at once; 16
	MaxBodyKept  int             // bytes of each reply kept in the log; 1024
}

func (o Options) withDefaults() Options {
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if o.Jitter == 0 {
		o.Jitter = 0.2
	}
	if o.FailureLimit <= 0 {
		o.FailureLimit = 20
	}
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Lease <= 0 {
		o.Lease = time.Minute
	}
	if o.Lease < o.Timeout+10*time.Second {
		o.Lease = o.Timeout + 10*time.Second
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 500 * time.Millisecond
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.MaxBodyKept <= 0 {
		o.MaxBodyKept = 1024
	}
	return o
}

// Worker delivers webhook events: it sends the deliveries written with
// them (see the package documentation). Any number of workers, in any
// number of `partli serve` replicas, can run against one database:
// deliveries are claimed with FOR UPDATE SKIP LOCKED, and a delivery being sent is leased, so no event goes to an
// endpoint twice at the same time.
// Delivery is at least once: a worker that dies mid-attempt loses its lease
// and another sends the delivery again later.
type Worker struct {
	store  *store.Store
	log    *slog.Logger
	opts   Options
	client *http.Client
}

// NewWorker returns a worker over st. cfg decides whether non-public
// addresses may be reached (see NewService); the check is made again on
// every connection, after DNS resolution.
func NewWorker(st *store.Store, cfg config.Config, log *slog.Logger, opts Options) *Worker {
	opts = opts.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{store: st, log: log, opts: opts, client: newClient(newGuard(cfg), opts)}
}

// newClient is the HTTP client of deliveries: a deadline per attempt, no
// redirects, no proxy (the dial check must see the real destination), and
// the address check at dial time.
func newClient(g guard, opts Options) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
	return &http.Client{
		Timeout: opts.Timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          256,
			MaxIdleConnsPerHost:   opts.Concurrency,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: opts.Timeout,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Run delivers events until ctx ends, then waits for the attempts in
// flight (at most Timeout) to finish and be recorded. Deliveries are
// written with their events (store.webhookFanOutSQL); Run claims the due
// ones, looking again every PollEvery when idle.
func (w *Worker) Run(ctx context.Context) {
	var inflight sync.WaitGroup
	defer inflight.Wait()
	slots := make(chan struct{}, w.opts.Concurrency)
	freed := make(chan struct{}, 1)
	tick := time.NewTicker(w.opts.PollEvery)
	defer tick.Stop()
	failures := 0
	for ctx.Err() == nil {
		busy, err := false, error(nil)
		if free := cap(slots) - len(slots); free > 0 {
			var ds []store.ClaimedDelivery
			ds, err = w.store.ClaimWebhookDeliveries(ctx, free, w.opts.Lease)
			for _, d := range ds {
				slots <- struct{}{}
				inflight.Add(1)
				go func() {
					defer inflight.Done()
					// An attempt under way finishes even when the worker
					// stops: abandoning it would only send it again later.
					w.deliver(context.WithoutCancel(ctx), d)
					<-slots
					select {
					case freed <- struct{}{}:
					default:
					}
				}()
			}
			busy = len(ds) == free
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			// The database is unreachable or failing: back off, up to 30 s.
			failures++
			w.log.Warn("webhook worker: database error", "err", err)
			t := time.NewTimer(min(w.opts.PollEvery<<min(failures, 6), 30*time.Second))
			select {
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
			continue
		}
		failures = 0
		if busy {
			continue
		}
		select {
		case <-ctx.Done():
		case <-freed:
		case <-tick.C:
		}
	}
}

// attempt is what one HTTP request of a delivery gave.
type attempt struct {
	status  *int
	latency time.Duration
	body    string
	err     string
}

func (a attempt) ok() bool { return a.status != nil && *a.status >= 200 && *a.status < 300 }

// summary describes a failed attempt in a few words.
func (a attempt) summary() string {
	if a.status != nil {
		return fmt.Sprintf("HTTP %d", *a.status)
	}
	return a.err
}

// deliver sends one claimed delivery and records the attempt and its outcome.
func (w *Worker) deliver(ctx context.Context, d store.ClaimedDelivery) {
	a := w.send(ctx, d)
	rec := store.WebhookAttemptRecord{Delivery: d, StatusCode: a.status, Latency: a.latency,
		ResponseBody: a.body, Error: a.err, FailureLimit: w.opts.FailureLimit}
	switch {
	case a.ok():
		rec.Status = store.DeliverySucceeded
	case a.status != nil && *a.status == http.StatusGone:
		rec.Status, rec.Gone = store.DeliveryFailed, true
		rec.DisabledReason = "The endpoint answered 410 Gone, which asks for no more deliveries."
	default:
		rec.Status = store.DeliveryFailed
		if wait, ok := w.backoff(d.Attempts + 1); ok {
			rec.Status, rec.RetryIn = store.DeliveryPending, wait
		}
		rec.DisabledReason = fmt.Sprintf("Disabled after %d consecutive failed deliveries; the last one: %s.",
			w.opts.FailureLimit, a.summary())
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	disabled, err := w.store.RecordWebhookAttempt(rctx, rec)
	if err != nil {
		// The lease runs out and the delivery is sent again: at least once.
		w.log.Warn("webhook worker: recording an attempt failed", "delivery_id", d.ID, "err", err)
		return
	}
	if disabled {
		w.log.Warn("webhook endpoint disabled", "workspace_id", d.WorkspaceID, "endpoint_id", d.EndpointID,
			"reason", rec.DisabledReason)
	}
}

// backoff is the wait after the failed attempt number n (1 for the first),
// with jitter; false when no retry is left.
func (w *Worker) backoff(n int) (time.Duration, bool) {
	if n < 1 || n > len(w.opts.Schedule) {
		return 0, false
	}
	d := w.opts.Schedule[n-1]
	if j := w.opts.Jitter; j > 0 {
		d = time.Duration(float64(d) * (1 + j*(2*rand.Float64()-1)))
	}
	return d, true
}

// send makes one HTTP attempt.
func (w *Worker) send(ctx context.Context, d store.ClaimedDelivery) attempt {
	if d.SecretError != "" {
		return attempt{err: d.SecretError} // never unsigned; retried like any failure
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader(d.Payload))
	if err != nil {
		return attempt{err: "invalid URL: " + err.Error()}
	}
	if err := setHeaders(req.Header, d.EventID, time.Now(), d.Payload, d.Secret, d.PreviousSecret); err != nil {
		return attempt{err: err.Error()}
	}
	start := time.Now()
	resp, err := w.client.Do(req)
	if err != nil {
		return attempt{latency: time.Since(start), err: describe(err, w.opts.Timeout)}
	}
	defer resp.Body.Close()
	kept, _ := io.ReadAll(io.LimitReader(resp.Body, int64(w.opts.MaxBodyKept)))
	a := attempt{status: &resp.StatusCode, latency: time.Since(start), body: cleanText(kept, w.opts.MaxBodyKept)}
	// Read a little more so the connection can be reused; never a whole large reply.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		a.err = "redirect not followed"
		if loc := resp.Header.Get("Location"); loc != "" {
			a.err += " (to " + cleanText([]byte(loc), 200) + ")"
		}
	}
	return a
}

// describe turns a transport error into a log line without the URL (which
// may carry the merchant's tokens) and with a plain word for timeouts.
func describe(err error, timeout time.Duration) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	switch {
	case errors.Is(err, ErrPrivateAddress):
		return "refused: " + err.Error()
	case errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()):
		return fmt.Sprintf("timeout: no complete reply within %s", timeout)
	}
	return cleanText([]byte(err.Error()), 500)
}

// cleanText makes b storable as PostgreSQL text of at most max bytes: valid
// UTF-8 (a character cut in two at the limit is dropped) and no NUL bytes.
func cleanText(b []byte, max int) string {
	if len(b) >= max { // at the limit a reply may have been cut mid-character
		b = b[:max]
		i := len(b) - 1
		for i > 0 && len(b)-i < utf8.UTFMax && !utf8.RuneStart(b[i]) {
			i--
		}
		if i >= 0 && !utf8.FullRune(b[i:]) {
			b = b[:i]
		}
	}
	s := strings.ToValidUTF8(string(b), "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "")
}
