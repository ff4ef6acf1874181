package email

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/partli/partli/internal/store"
)

// DefaultSchedule is the wait after each failed attempt: 12 retries over
// about a day (30 s … 8 h, 22 h in all); after the last one the message
// has failed, and Settings → Email says why.
var DefaultSchedule = []time.Duration{
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 20 * time.Minute,
	40 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 6 * time.Hour, 8 * time.Hour,
}

// Options tune a Worker; zero fields take the defaults named.
type Options struct {
	Schedule    []time.Duration // waits between attempts; DefaultSchedule
	Jitter      float64         // each wait varies by ± this fraction; 0.2 (negative: none)
	Lease       time.Duration   // how long a claimed message is reserved; 5 min (more than a send may take)
	PollEvery   time.Duration   // how often an idle worker looks for due mail; 1 s
	Concurrency int             // messages sent at once; 4
	DigestEvery time.Duration   // how often the daily digests due are written; 5 min
}

func (o Options) withDefaults() Options {
	if o.Schedule == nil {
		o.Schedule = DefaultSchedule
	}
	if o.Jitter == 0 {
		o.Jitter = 0.2
	}
	if o.Lease <= 0 {
		o.Lease = 5 * time.Minute
	}
	if o.PollEvery <= 0 {
		o.PollEvery = time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.DigestEvery <= 0 {
		o.DigestEvery = 5 * time.Minute
	}
	return o
}

// Worker sends the mail outbox. Any number of workers, in any number of
// `partli serve` replicas, may run against one database: a message is
// claimed with FOR UPDATE SKIP LOCKED and leased while it is sent, and its
// outcome is recorded only under the lease, so no two workers send one row
// at the same time. Without a Sender (no PARTLI_SMTP_URL) it only writes the
// daily digests, and every message stays pending in the outbox, listed in
// Settings → Email.
type Worker struct {
	store  *store.Store
	sender Sender
	links  Links
	log    *slog.Logger
	opts   Options
}

// NewWorker returns a worker over st sending with sender (nil: none).
func NewWorker(st *store.Store, sender Sender, links Links, log *slog.Logger, opts Options) *Worker {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Worker{store: st, sender: sender, links: links, log: log, opts: opts.withDefaults()}
}

// Run sends due mail until ctx ends, then waits for the messages in flight
// to be sent and recorded.
func (w *Worker) Run(ctx context.Context) {
	tick := time.NewTicker(w.opts.PollEvery)
	defer tick.Stop()
	var lastDigest time.Time
	failures := 0
	for ctx.Err() == nil {
		var err error
		if time.Since(lastDigest) >= w.opts.DigestEvery {
			var n int
			if n, err = w.store.QueueDigests(ctx, 500); err == nil {
				lastDigest = time.Now()
				if n > 0 {
					w.log.Info("mail: daily digests written", "count", n)
				}
			}
		}
		busy := false
		if err == nil && w.sender != nil {
			var n int
			n, err = w.SendDue(context.WithoutCancel(ctx))
			busy = n == w.opts.Concurrency
		}
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			failures++
			w.log.Warn("mail worker: database error", "err", err)
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
		case <-tick.C:
		}
	}
}

// SendDue claims up to Concurrency due messages, sends them at once and
// records each outcome; it returns how many it claimed. A message being
// sent finishes even when ctx ends (abandoning it would only send it again
// later), so callers pass a context that outlives their own.
func (w *Worker) SendDue(ctx context.Context) (int, error) {
	if w.sender == nil {
		return 0, nil
	}
	rows, err := w.store.ClaimMail(ctx, w.opts.Concurrency, w.opts.Lease)
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for _, row := range rows {
		wg.Go(func() { w.send(ctx, row) })
	}
	wg.Wait()
	return len(rows), nil
}

// send makes one attempt at a claimed row and records it.
func (w *Worker) send(ctx context.Context, row store.MailRow) {
	attempt := store.MailAttempt{Row: row}
	m, err := w.links.Compose(row)
	if err == nil {
		attempt.Subject = m.Subject
		sctx, cancel := context.WithTimeout(ctx, w.opts.Lease/2)
		attempt.MessageID, err = w.sender.Send(sctx, m)
		cancel()
	} else {
		attempt.Subject, err = "("+row.Kind+")", &PermanentError{err} // a row that cannot be rendered never will be
	}
	n := row.Attempts + 1
	switch wait, retry := w.backoff(n); {
	case err == nil:
		attempt.Status = store.MailSent
	case IsPermanent(err):
		attempt.Status, attempt.Error = store.MailFailed, describe(err)
		w.log.Error("mail failed: the server refused it, no retry", "mail_id", row.ID, "kind", row.Kind, "attempt", n, "err", attempt.Error)
	case retry:
		attempt.Status, attempt.RetryIn, attempt.Error = store.MailPending, wait, describe(err)
		w.log.Warn("mail not sent, will retry", "mail_id", row.ID, "kind", row.Kind, "attempt", n,
			"retry_in", wait.Round(time.Second).String(), "err", attempt.Error)
	default:
		attempt.Status, attempt.Error = store.MailFailed, describe(err)
		w.log.Error("mail failed after its last retry", "mail_id", row.ID, "kind", row.Kind, "attempt", n, "err", attempt.Error)
	}
	rctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	recorded, rerr := w.store.RecordMailAttempt(rctx, attempt)
	switch {
	case rerr != nil:
		// The lease runs out and the row is due again: if it was sent, it
		// is sent once more (at least once).
		w.log.Error("mail: recording an attempt failed", "mail_id", row.ID, "status", attempt.Status, "err", rerr)
	case !recorded:
		w.log.Warn("mail: the lease ran out before the attempt was recorded; another worker may send it again",
			"mail_id", row.ID, "status", attempt.Status)
	case err == nil:
		w.log.Info("mail sent", "mail_id", row.ID, "kind", row.Kind, "attempt", n)
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

// describe makes an error storable and readable in the log: one line, at
// most 1000 characters, valid UTF-8.
func describe(err error) string {
	s := strings.ToValidUTF8(err.Error(), "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	return oneLine(s, 1000)
}

// String describes the worker's sender for the start-up log.
func (w *Worker) String() string {
	if s, ok := w.sender.(*SMTP); ok {
		return s.Describe()
	}
	if w.sender == nil {
		return "none"
	}
	return fmt.Sprintf("%T", w.sender)
}
