// Package store is the one repository layer: every SQL statement of Partli
// lives here. It knows nothing of HTTP; it returns ErrNotFound, ErrConflict
// and wrapped errors, and handlers map them to statuses.
package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/partli/partli/internal/secret"
)

var (
	// ErrNotFound: no such row in this workspace.
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a unique key clash (a *ConflictError says which key).
	ErrConflict = errors.New("store: conflict")
)

// Store is the repository over one PostgreSQL database.
type Store struct {
	Queries
	db  *sqlx.DB
	hot *HotPath
}

// Tx is a transaction with the same queries as Store plus the ones that only
// make sense inside a transaction.
type Tx struct {
	Queries
	tx *sqlx.Tx
	// ledger holds the balance ledger's entries queued in this transaction
	// (QueueLedger), written just before it commits.
	ledger []LedgerEntry
}

// Queries are the statements that run on a pool or inside a transaction.
type Queries struct {
	x sqlx.ExtContext
	// secrets seal the secret columns on the way in and open them on the
	// way out (secrets.go); nil: no secret can be written or read.
	secrets *secret.Keys
	// links is the process's cache of referral links, forgotten at once
	// when a statement here changes one (links.go); nil inside the sale
	// pipeline, which changes none.
	links *linkCache
	// citus: the database has the citus extension (a Citus coordinator),
	// for the few statements written differently there (forDB).
	citus bool
}

// Open connects to databaseURL with the settings Partli relies on (UTC times,
// bounded connect time) and checks the connection.
func Open(ctx context.Context, databaseURL string, maxConns int) (*sqlx.DB, error) {
	dsn, err := withParams(databaseURL)
	if err != nil {
		return nil, err
	}
	db, err := sqlx.Open("postgres", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open: %w", err)
	}
	if maxConns <= 0 {
		maxConns = 20
	}
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pingCtx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: connect: %w", err)
	}
	return db, nil
}

// withParams adds timezone=UTC and a connect timeout unless the URL sets them.
func withParams(databaseURL string) (string, error) {
	u, err := url.Parse(databaseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("store: DATABASE_URL must be a postgres:// URL")
	}
	q := u.Query()
	if q.Get("timezone") == "" {
		q.Set("timezone", "UTC")
	}
	if q.Get("connect_timeout") == "" {
		q.Set("connect_timeout", "5")
	}
	if q.Get("sslmode") == "" && (u.Hostname() == "" || u.Hostname() == "localhost" || u.Hostname() == "127.0.0.1") {
		q.Set("sslmode", "disable")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// New wraps an open database.
func New(db *sqlx.DB) *Store {
	citus := detectCitus(db.DB)
	hot := newHotPath(db, hotQueries, citus)
	return &Store{Queries: Queries{x: db, links: &hot.links, citus: citus}, db: db, hot: hot}
}

// WithSecrets returns the store sealing and opening secrets with keys.
func (s *Store) WithSecrets(keys *secret.Keys) *Store {
	c := *s
	c.secrets = keys
	return &c
}

// DB is the underlying pool.
func (s *Store) DB() *sqlx.DB { return s.db }

// InTx runs fn in a READ COMMITTED transaction, committing when fn returns nil.
func (s *Store) InTx(ctx context.Context, fn func(*Tx) error) error {
	return inTx(ctx, s.db, Queries{secrets: s.secrets, links: s.links, citus: s.citus}, fn)
}

// txAttempts is how often InTx runs a transaction that PostgreSQL aborted
// as a deadlock victim or a serialization failure before it gives up.
const txAttempts = 4

// inTx runs fn in a transaction and commits it. A deadlock or serialization
// failure (SQLSTATE 40P01, 40001) is not the caller's fault and not final:
// the transaction is rolled back and fn runs again, after a short random
// pause, up to txAttempts times. So fn may run more than once: it must write
// only through tx, and set every variable it hands out on each run.
func inTx(ctx context.Context, db *sqlx.DB, with Queries, fn func(*Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := runTx(ctx, db, with, fn)
		if err == nil || attempt == txAttempts || !IsRetryable(err) {
			return err
		}
		pause := time.Duration(attempt) * (time.Millisecond + time.Duration(rand.Int64N(int64(10*time.Millisecond))))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(pause):
		}
	}
}

func runTx(ctx context.Context, db *sqlx.DB, with Queries, fn func(*Tx) error) error {
	tx, err := db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	with.x = tx
	t := &Tx{Queries: with, tx: tx}
	if err := fn(t); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := t.flushLedger(ctx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	return nil
}

// IsRetryable reports a transaction PostgreSQL aborted so that another
// could go on: a deadlock victim (40P01) or a serialization failure
// (40001). Running it again is safe and usually succeeds.
func IsRetryable(err error) bool {
	var pqErr *pq.Error
	return errors.As(err, &pqErr) && (pqErr.Code == "40P01" || pqErr.Code == "40001")
}

// atomically runs fn with queries that commit together: q's own transaction
// when q is one, else a transaction of its own. Statements that write a row
// and its global look-up (a partner and its slug, a user and their email)
// run in two statements, so that on Citus each stays on its own nodes.
func (q Queries) atomically(ctx context.Context, fn func(Queries) error) error {
	db, ok := q.x.(*sqlx.DB)
	if !ok {
		return fn(q)
	}
	return inTx(ctx, db, q, func(tx *Tx) error { return fn(tx.Queries) })
}

func (q Queries) get(ctx context.Context, dest any, query string, args ...any) error {
	err := sqlx.GetContext(ctx, q.x, dest, query, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return mapErr(err)
}

func (q Queries) sel(ctx context.Context, dest any, query string, args ...any) error {
	return mapErr(sqlx.SelectContext(ctx, q.x, dest, query, args...))
}

func (q Queries) exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.x.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

// mapErr turns unique violations into a *ConflictError naming the
// constraint, and leaves other errors as they are.
func mapErr(err error) error {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) && pqErr.Code == "23505" {
		return &ConflictError{Key: violatedKey(pqErr)}
	}
	return err
}

var (
	// uniqueViolation is PostgreSQL's message of a unique violation.
	uniqueViolation = regexp.MustCompile(`^duplicate key value violates unique constraint "([^"]+)"`)
	// shardSuffix is what Citus appends to the names of a shard's
	// constraints: "_" and the shard's id. No key of the schema ends so.
	shardSuffix = regexp.MustCompile(`_[0-9]+$`)
)

// violatedKey is the unique key of the schema a violation names. Citus
// reports a worker's violation without its constraint field, naming the
// constraint in the message only, and names it as its shard's.
func violatedKey(e *pq.Error) string {
	name := e.Constraint
	if name == "" {
		if m := uniqueViolation.FindStringSubmatch(e.Message); m != nil {
			name = m[1]
		}
	}
	return shardSuffix.ReplaceAllString(name, "")
}

// IsUnavailable reports whether err means the database cannot be reached or
// is shutting down: the request may be retried safely later.
func IsUnavailable(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, sql.ErrConnDone) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EPIPE) {
		return true
	}
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		switch {
		case strings.HasPrefix(string(pqErr.Code), "08"), // connection exception
			pqErr.Code == "57P01", pqErr.Code == "57P02", pqErr.Code == "57P03", // shutdown, cannot connect now
			pqErr.Code == "53300", // too many connections
			pqErr.Code == "57014", // statement cancelled: the request's deadline, or a statement timeout
			pqErr.Code == "55P03", // lock not available (lock_timeout)
			IsRetryable(err):      // still a deadlock or serialization failure after InTx's attempts
			return true
		}
		return false
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true
	}
	return strings.Contains(err.Error(), "bad connection") || strings.Contains(err.Error(), "connection refused")
}

// Page asks for one page of a newest-first list.
type Page struct {
	Limit  int
	Cursor *Cursor
}

// Cursor is the position after the last row of a page: keyset pagination on
// (created_at, id), so a page costs the same at row 10 and row 10 million.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// Encode makes the opaque cursor string handed to clients.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(c.CreatedAt.UTC().Format(time.RFC3339Nano) + "|" + c.ID))
}

// ErrBadCursor is a cursor string that we did not make.
var ErrBadCursor = errors.New("store: malformed cursor")

// DecodeCursor parses a cursor made by Encode.
func DecodeCursor(s string) (*Cursor, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	ts, id, ok := strings.Cut(string(b), "|")
	if !ok || id == "" {
		return nil, ErrBadCursor
	}
	t, err := time.Parse(time.RFC3339Nano, ts)
	if err != nil {
		return nil, ErrBadCursor
	}
	return &Cursor{CreatedAt: t, ID: id}, nil
}

// cursorArgs gives the two parameters of a keyset condition; nil when there is no cursor.
func (p Page) cursorArgs() (any, any) {
	if p.Cursor == nil {
		return nil, nil
	}
	return p.Cursor.CreatedAt, p.Cursor.ID
}

// fetch is the number of rows to ask for: one more than the page, to know whether another follows.
func (p Page) fetch() int { return p.Limit + 1 }

// trim cuts a list fetched with p.fetch() to the page, returning the next cursor.
func trim[T any](p Page, rows []T, key func(T) Cursor) ([]T, *string) {
	if len(rows) <= p.Limit {
		return rows, nil
	}
	rows = rows[:p.Limit]
	next := key(rows[len(rows)-1]).Encode()
	return rows, &next
}

// IsBadInput reports whether the database refused a value itself (a NUL
// character, a string too long, a number out of range): the request was
// bad, not the server.
func IsBadInput(err error) bool {
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) {
		return false
	}
	switch pqErr.Code {
	case "22021", "22P05", "22001", "22003", "22007", "22008", "22P02":
		return true
	}
	return false
}
