package store

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/lib/pq"
)

// Clicks are written in batches. A referral redirect is the busiest request
// Partli answers, and one INSERT per click spends most of its database time
// on what every statement and transaction costs (a round trip, a commit, a
// WAL flush), not on the row. So RecordClick queues the click and waits:
// when no batch is being written, the click is written at once (alone at
// low traffic, so no added latency); otherwise it joins the next batch,
// written as soon as the running one commits. Each batch is one statement,
// its own transaction, and every caller waits for its commit, so a visitor
// is only redirected once the database has the click.
//
// One writer, not several: two batches in flight split the waiting clicks
// between them, and each click then pays more of a statement (measured
// 2026-11-25 with partli-bench on a 2-core AMD EPYC VM, 24 GB RAM,
// PostgreSQL 15.18: 3,800 redirects/s with one writer, 2,400-2,600/s with
// two).
//
// The batch commits asynchronously (synchronous_commit off, for that
// transaction only): the commit returns before the WAL reaches the disk,
// which halves a batch's time (measured 2026-11-25, same machine). A crash
// of Partli loses no acknowledged click; a crash of the database server or
// its machine can lose the clicks of the last moments (at most three
// wal_writer_delay, 0.6 s by default).
// Sales and everything else commit synchronously.
const (
	maxClickBatch   = 256 // clicks per statement
	clickFlushLimit = 30 * time.Second
)

// slugPattern is what partners.slug's CHECK allows: nothing else can be a
// link, and nothing else is sent to the database.
var slugPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// pendingClick is a click waiting in the batcher.
type pendingClick struct {
	slug      string
	click     *Click
	window    time.Duration
	threshold int
	queued    time.Time

	link *Link
	err  error
	done chan struct{}
}

// clickBatcher queues clicks for HotPath.RecordClick. The zero value is ready.
type clickBatcher struct {
	mu       sync.Mutex
	queue    []*pendingClick
	flushing bool // a writer is running
}

// RecordClick records a click on the referral link slug and returns the
// link. c needs its ID and what the request tells (IPHash, UserAgent,
// Referer, URL, Country, City, Flags); the rest is filled in, and ClickFlagVelocity
// is added to the flags when this IP hash already made threshold clicks on
// the partner within window. It records nothing and returns ErrNotFound
// when no partner has that slug, and the link with ErrLinkInactive when its
// partner is not approved. The link comes from memory (links.go).
func (p *HotPath) RecordClick(ctx context.Context, slug string, c *Click, window time.Duration, threshold int) (*Link, error) {
	link, err := p.Link(ctx, slug)
	if err != nil {
		return link, err
	}
	c.WorkspaceID, c.ProgramID, c.PartnerID = link.WorkspaceID, link.ProgramID, link.PartnerID
	pc := &pendingClick{slug: slug, click: c, link: link, window: window, threshold: threshold, queued: time.Now(), done: make(chan struct{})}
	b := &p.clicks
	b.mu.Lock()
	b.queue = append(b.queue, pc)
	start := !b.flushing
	b.flushing = true
	b.mu.Unlock()
	if start {
		go p.flushClicks(context.WithoutCancel(ctx))
	}
	select {
	case <-pc.done:
	case <-ctx.Done():
		// The click may still be written; the visitor is not redirected.
		return nil, fmt.Errorf("store: record click: %w", ctx.Err())
	}
	if pc.err != nil {
		return nil, fmt.Errorf("store: record click: %w", pc.err)
	}
	return link, nil
}

// flushClicks writes queued clicks, a batch at a time, until the queue is
// empty.
func (p *HotPath) flushClicks(ctx context.Context) {
	b := &p.clicks
	for {
		b.mu.Lock()
		n := min(len(b.queue), maxClickBatch)
		if n == 0 {
			b.flushing = false
			b.mu.Unlock()
			return
		}
		batch := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil
		}
		b.mu.Unlock()
		if p.metrics != nil {
			p.metrics.ObserveBatch("click", len(batch), time.Since(batch[0].queued))
		}
		p.writeClicks(ctx, batch)
	}
}

// writeClicks writes a batch and wakes its callers. When the batch fails on
// a value (not on the connection), each click is retried alone, so that one
// odd request cannot fail the others.
func (p *HotPath) writeClicks(ctx context.Context, batch []*pendingClick) {
	ctx, cancel := context.WithTimeout(ctx, clickFlushLimit)
	defer cancel()
	err := p.insertClicks(ctx, batch)
	if err != nil && len(batch) > 1 && !IsUnavailable(err) && ctx.Err() == nil {
		for _, pc := range batch {
			p.writeClicks(ctx, []*pendingClick{pc})
		}
		return
	}
	for _, pc := range batch {
		if err != nil {
			pc.err = mapErr(err)
		}
		close(pc.done)
	}
}

// velocityCount counts, for each (workspace, partner, IP hash) of the
// batch, that IP hash's clicks on the partner within the window, stopping
// at the threshold. Citus cannot run the LIMIT of a subquery that refers to
// the outer query, so there it is velocityCountCitus (forDB): the same
// count, unbounded.
const velocityCount = `
		SELECT k.workspace_id, k.partner_id, k.ip_hash, r.n
		FROM (SELECT workspace_id, partner_id, ip_hash, max(window_s) AS window_s, max(threshold) AS threshold FROM i GROUP BY 1, 2, 3) k
		CROSS JOIN LATERAL (
			SELECT count(*) AS n FROM (
				SELECT FROM clicks r
				WHERE r.workspace_id = k.workspace_id AND r.partner_id = k.partner_id AND r.ip_hash = k.ip_hash
					AND r.created_at > now() - k.window_s * interval '1 second'
				LIMIT k.threshold) x) r`

const velocityCountCitus = `
		SELECT k.workspace_id, k.partner_id, k.ip_hash, count(*) AS n
		FROM (SELECT workspace_id, partner_id, ip_hash, max(window_s) AS window_s FROM i GROUP BY 1, 2, 3) k
		JOIN clicks r ON r.workspace_id = k.workspace_id AND r.partner_id = k.partner_id AND r.ip_hash = k.ip_hash
			AND r.created_at > now() - k.window_s * interval '1 second'
		GROUP BY 1, 2, 3`

// insertClicks runs clickBatchSQL for the batch and fills in each click's
// flags and time.
func (p *HotPath) insertClicks(ctx context.Context, batch []*pendingClick) error {
	st, err := p.stmt(ctx, clickBatchSQL)
	if err != nil {
		return err
	}
	n := len(batch)
	var (
		ids, wss, programs, partners = make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		uas, referers, urls          = make([]string, n), make([]string, n), make([]string, n)
		countries, cities, flags     = make([]string, n), make([]string, n), make([]string, n)
		hashes                       = make([][]byte, n)
		prior, thresholds            = make([]int64, n), make([]int64, n)
		windows                      = make([]float64, n)
		seen                         = map[string]int64{}
		byID                         = make(map[string]*pendingClick, n)
	)
	for i, pc := range batch {
		c := pc.click
		ids[i], wss[i], programs[i], partners[i], hashes[i] = c.ID, c.WorkspaceID, c.ProgramID, c.PartnerID, c.IPHash
		uas[i], referers[i], urls[i] = dbText(c.UserAgent), dbText(c.Referer), dbText(c.URL)
		countries[i], cities[i] = dbText(c.Country), dbText(c.City)
		flags[i] = strings.Join(c.Flags, ",") // flags are words: no commas
		// Earlier clicks of this batch from the same IP hash on the same
		// partner count towards the velocity flag: the statement cannot see them.
		key := c.PartnerID + "\x00" + string(c.IPHash)
		prior[i] = seen[key]
		seen[key]++
		windows[i], thresholds[i] = pc.window.Seconds(), int64(pc.threshold)
		byID[c.ID] = pc
	}
	rows, err := st.QueryxContext(ctx, pq.Array(ids), pq.Array(wss), pq.Array(programs), pq.Array(partners), pq.Array(hashes),
		pq.Array(uas), pq.Array(referers), pq.Array(urls), pq.Array(countries), pq.Array(cities), pq.Array(flags),
		pq.Array(prior), pq.Array(windows), pq.Array(thresholds))
	if err != nil {
		return err
	}
	defer rows.Close()
	got := 0
	for rows.Next() {
		var row struct {
			ID        string         `db:"id"`
			Flags     pq.StringArray `db:"flags"`
			CreatedAt time.Time      `db:"created_at"`
		}
		if err := rows.StructScan(&row); err != nil {
			return err
		}
		pc := byID[row.ID]
		if pc == nil {
			return fmt.Errorf("click %s came back from a batch it was not in", row.ID)
		}
		pc.click.Flags, pc.click.CreatedAt = row.Flags, row.CreatedAt
		got++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if got != n {
		return fmt.Errorf("%d of a batch of %d clicks were recorded", got, n)
	}
	return nil
}

// dbText makes request text storable: PostgreSQL's text refuses NUL and
// invalid UTF-8, and a referral redirect must not fail on either.
func dbText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// clickBatchSQL records a batch of clicks of known links, in one
// statement, with their day in the roll-ups. set_config(…, true) turns off
// synchronous_commit for the statement's own (implicit) transaction only:
// the connection keeps its setting (a test checks it). The velocity flag is
// decided per click from this IP hash's recent clicks on the partner, plus
// prior: those earlier in the same batch. The recent clicks are counted up
// to the threshold and no further (velocityCount), so an IP hammering one
// link costs a threshold's worth of index entries per click, not all of its
// clicks; a partner's clicks share their program's window and threshold.
var clickBatchSQL = `
	WITH i AS (
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bytea[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::text[], $12::bigint[], $13::float8[], $14::bigint[])
			AS i (id, workspace_id, program_id, partner_id, ip_hash, user_agent, referer, url, country, city, flags, prior, window_s, threshold)
		CROSS JOIN (SELECT set_config('synchronous_commit', 'off', true)) async_commit
	), recent AS (` + velocityCount + `
	), c AS (
		INSERT INTO clicks (id, workspace_id, program_id, partner_id, ip_hash, user_agent, referer, url, country, city, flags)
		SELECT i.id, i.workspace_id, i.program_id, i.partner_id, i.ip_hash, i.user_agent, i.referer, i.url, i.country, i.city,
			coalesce(string_to_array(nullif(i.flags, ''), ','), ARRAY[]::text[]) ||
			CASE WHEN i.prior + coalesce(recent.n, 0) >= i.threshold THEN ARRAY['` + ClickFlagVelocity + `'] ELSE ARRAY[]::text[] END
		FROM i LEFT JOIN recent ON recent.workspace_id = i.workspace_id AND recent.partner_id = i.partner_id AND recent.ip_hash = i.ip_hash
		RETURNING id, workspace_id, program_id, partner_id, flags, created_at
	), ` + activityCTE("a", `SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, 1, 0 FROM c`) + `
	SELECT id, flags, created_at FROM c`
