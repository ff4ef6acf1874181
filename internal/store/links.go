package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrLinkInactive is returned with the link of a partner who is not
// approved: the link still leads to the program's site, but records no
// click and attributes nothing.
var ErrLinkInactive = errors.New("store: the link's partner is not approved")

// Referral links are served from memory: /r/{slug} is the busiest request
// Partli answers, and a link changes rarely. A replica keeps each link it
// has served (or the fact that a slug is unknown), and forgets it when the
// change log says it changed (migration 00015: every statement that
// changes where a link leads or whether it records clicks writes a row
// there in its transaction). The log is read every second, half a minute
// back, so a change committed late is not missed; a replica that cannot
// read it for longer forgets every link. A change forgets the entries
// loaded before the replica first saw it, at every read of the window (a
// request that read the database before the change committed may store its
// entry after that first read), and never one loaded since: those read the
// change. (Forgetting every named link at every read made each change a
// miss per second for half a minute; a thousand new partners, a thousand
// database reads a second.) Entries are also refreshed after linkTTL,
// whatever the log says.
const (
	linkTTL        = 5 * time.Minute
	unknownTTL     = 10 * time.Second // a slug nobody has
	linkPollEvery  = time.Second
	linkPollWindow = 30 * time.Second
	linkIdleAfter  = time.Minute // the poller stops when no link was served this long
	maxLinks       = 200_000
)

// linkCache is the links of one HotPath.
type linkCache struct {
	mu      sync.RWMutex
	entries map[string]linkEntry
	polling bool
	lastUse time.Time
	lastOK  time.Time
	// seen is when this replica first read each change of the window, by id.
	seen map[int64]time.Time
}

type linkEntry struct {
	link *Link // nil: no partner has the slug
	at   time.Time
}

// lookupLinkSQL reads the link of a partner whatever its status, with the
// partner's code for the destination; the slug's global look-up gives the
// workspace and partner (on Citus, the look-up is a reference table and
// this reads one node).
var lookupLinkSQL = `
	SELECT pa.id AS partner_id, pa.workspace_id, pa.program_id, pa.status, pr.destination_url, pr.cookie_days,
		` + partnerCodeSQL + ` AS code
	FROM partners pa JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
	WHERE pa.workspace_id = $1 AND pa.id = $2`

// Link returns the link of slug: ErrNotFound when no partner has it, the
// link and ErrLinkInactive when its partner is not approved.
func (p *HotPath) Link(ctx context.Context, slug string) (*Link, error) {
	if !slugPattern.MatchString(slug) {
		return nil, fmt.Errorf("store: link: %w", ErrNotFound)
	}
	c := &p.links
	now := time.Now()
	c.mu.RLock()
	e, ok := c.entries[slug]
	c.mu.RUnlock()
	if !ok || now.Sub(e.at) > ttlOf(e) {
		var l Link
		var at struct {
			Workspace string `db:"workspace"`
			PartnerID string `db:"partner_id"`
		}
		err := p.db.GetContext(ctx, &at, `SELECT workspace, partner_id FROM partner_slugs WHERE slug = $1`, slug)
		if err == nil {
			err = p.db.GetContext(ctx, &l, lookupLinkSQL, at.Workspace, at.PartnerID)
		}
		switch {
		case err == nil:
			e = linkEntry{link: &l, at: now}
		case isNoRows(err):
			e = linkEntry{at: now}
		default:
			return nil, fmt.Errorf("store: link: %w", mapErr(err))
		}
		c.put(slug, e, now)
	}
	c.used(p, now)
	switch {
	case e.link == nil:
		return nil, fmt.Errorf("store: link: %w", ErrNotFound)
	case e.link.Status != "approved":
		return e.link, ErrLinkInactive
	}
	return e.link, nil
}

func ttlOf(e linkEntry) time.Duration {
	if e.link == nil {
		return unknownTTL
	}
	return linkTTL
}

func (c *linkCache) put(slug string, e linkEntry, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries == nil || len(c.entries) >= maxLinks {
		c.entries = make(map[string]linkEntry)
	}
	c.entries[slug] = e
}

// used notes that a link was served and starts the change poller if it
// is not running.
func (c *linkCache) used(p *HotPath, now time.Time) {
	c.mu.Lock()
	c.lastUse = now
	start := !c.polling
	if start {
		c.polling, c.lastOK = true, now
	}
	c.mu.Unlock()
	if start {
		go p.pollLinkChanges()
	}
}

// pollLinkChanges forgets the links the change log names, every second,
// until no link has been served for linkIdleAfter (then it forgets them all
// and stops; the next request starts it again).
func (p *HotPath) pollLinkChanges() {
	c := &p.links
	t := time.NewTicker(linkPollEvery)
	defer t.Stop()
	for range t.C {
		c.mu.RLock()
		idle := time.Since(c.lastUse) > linkIdleAfter
		c.mu.RUnlock()
		if idle {
			c.mu.Lock()
			c.entries, c.seen, c.polling = nil, nil, false
			c.mu.Unlock()
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), linkPollEvery)
		var changes []struct {
			ID        int64   `db:"id"`
			Slug      *string `db:"slug"`
			ProgramID *string `db:"program_id"`
		}
		err := p.db.SelectContext(ctx, &changes, `SELECT id, slug, program_id FROM link_changes
			WHERE changed_at > now() - $1 * interval '1 second'`, linkPollWindow.Seconds())
		cancel()
		read := time.Now()
		c.mu.Lock()
		switch {
		case err != nil && time.Since(c.lastOK) > linkPollWindow-5*time.Second:
			c.entries, c.seen = nil, nil // changes may have been missed
		case err == nil:
			c.lastOK = read
			seen := make(map[int64]time.Time, len(changes))
			for _, ch := range changes {
				first, ok := c.seen[ch.ID]
				if !ok {
					first = read
				}
				seen[ch.ID] = first
				if ch.Slug != nil {
					if e, ok := c.entries[*ch.Slug]; ok && e.at.Before(first) {
						delete(c.entries, *ch.Slug)
					}
				}
				if ch.ProgramID != nil {
					for slug, e := range c.entries {
						if e.link != nil && e.link.ProgramID == *ch.ProgramID && e.at.Before(first) {
							delete(c.entries, slug)
						}
					}
				}
			}
			c.seen = seen
		}
		c.mu.Unlock()
	}
}

// linkChangedBySlug and linkChangedByProgram are CTEs (to follow a comma in
// a WITH) that log a change of the links in table t's rows.
func linkChangedBySlug(t string) string {
	return `link_change AS (INSERT INTO link_changes (slug) SELECT slug FROM ` + t + `)`
}

func linkChangedByProgram(t string) string {
	return `link_change AS (INSERT INTO link_changes (program_id) SELECT id FROM ` + t + `)`
}

// PruneLinkChanges deletes changes older than any replica reads.
func (s *Store) PruneLinkChanges(ctx context.Context) error {
	if _, err := s.exec(ctx, `DELETE FROM link_changes WHERE changed_at < now() - interval '1 hour'`); err != nil {
		return fmt.Errorf("store: prune link changes: %w", err)
	}
	return nil
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// forget drops slug's link, or every link of programID, from the cache of
// the process that changed it (other replicas learn from link_changes).
func (c *linkCache) forget(slug, programID string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if slug != "" {
		delete(c.entries, slug)
	}
	if programID != "" {
		for s, e := range c.entries {
			if e.link != nil && e.link.ProgramID == programID {
				delete(c.entries, s)
			}
		}
	}
}
