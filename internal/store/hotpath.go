package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jmoiron/sqlx"
)

// HotPath runs the statements of the tracking hot path, POST
// /api/track/sale and the referral redirect, as prepared statements. A
// statement with arguments otherwise costs two round trips (lib/pq prepares
// it unnamed, then runs it) and a parse and plan on the server every time;
// prepared, it is one round trip. database/sql prepares each statement once
// per pooled connection, on first use there.
//
// A sale is then, for a new customer: SaleLookup (outside the transaction),
// BEGIN, RecordSales, RecordCommissions, COMMIT; a returning customer adds
// PriorCommissionsOf. A lead (LeadTx) runs UpsertCustomer, InsertEvent,
// RewardContextFor, PriorCommissions and InsertCommission prepared too.
//
// The set of statements is fixed when the HotPath is made, so finding one
// takes no lock. Prepare prepares them all (partli serve does it at start,
// so a broken statement stops the boot); one that is not prepared yet (the
// database was down) is prepared on first use, by one caller at a time,
// never inside a transaction. Nothing on this path waits for a lock of its
// own while it may hold a database connection or a row lock: in an earlier
// version, callers that raced to prepare a statement closed the spare copy
// under a mutex that transactions also took, and a Close waiting for a
// connection busy inside a transaction stalled every sale until the request
// deadline (seen 2026-12-03 under load in the two-replica fault test, on
// a 2-core AMD EPYC VM, 24 GB RAM, PostgreSQL 15.18).
type HotPath struct {
	db    *sqlx.DB
	stmts map[string]*hotStmt // by SQL text
	order []hotQuery
	// q is what the sale pipeline's transactions start from: no secrets,
	// no link cache, and whether the database is Citus (forDB).
	q Queries

	clicks  clickBatcher
	links   linkCache
	metrics BatchObserver
}

// BatchObserver records the hot path's batches (metrics.Metrics).
type BatchObserver interface {
	ObserveBatch(kind string, n int, wait time.Duration)
}

// SetMetrics records the hot path's batches in m from now on. Call it
// before the first request.
func (p *HotPath) SetMetrics(m BatchObserver) { p.metrics = m }

// Metrics is what SetMetrics set, nil before.
func (p *HotPath) Metrics() BatchObserver { return p.metrics }

// hotStmt is one prepared statement of the hot path.
type hotStmt struct {
	name    string     // how errors name it
	prepare sync.Mutex // held while preparing, by one caller at a time
	st      atomic.Pointer[sqlx.Stmt]
}

// hotQuery is a statement of the hot path and the name its errors give it.
type hotQuery struct{ name, sql string }

// hotQueries are the statements HotPath prepares, in the order Prepare
// prepares them.
var hotQueries = []hotQuery{
	{"SaleLookup", SaleLookupSQL},
	{"RecordSales", RecordSalesSQL},
	{"PriorSales", priorSalesSQL},
	{"MarkProgramsVerified", markProgramsVerifiedSQL},
	{"RecordCommissions", RecordCommissionsSQL},
	{"ClickBatch", clickBatchSQL},
	{"UpsertCustomer", upsertCustomerSQL},
	{"InsertEvent", insertEventSQL},
	{"RewardContext", rewardContextSQL},
	{"PriorLeads", priorLeadsSQL},
	{"InsertCommission", insertCommissionSQL},
}

// saleTxQueries are the statements of a sale batch's transaction (InTx),
// leadTxQueries those of a lead's (LeadTx).
var (
	saleTxQueries = []string{RecordSalesSQL, priorSalesSQL, markProgramsVerifiedSQL, RecordCommissionsSQL}
	leadTxQueries = []string{upsertCustomerSQL, insertEventSQL, rewardContextSQL, priorLeadsSQL, insertCommissionSQL}
)

// HotPath returns the tracking hot path over the store's pool: one per
// Store, so its statements are prepared once and its clicks share a batch.
func (s *Store) HotPath() *HotPath { return s.hot }

func newHotPath(db *sqlx.DB, queries []hotQuery, citus bool) *HotPath {
	p := &HotPath{db: db, stmts: make(map[string]*hotStmt, len(queries)), order: queries, q: Queries{citus: citus}}
	for _, q := range queries {
		p.stmts[q.sql] = &hotStmt{name: q.name}
	}
	return p
}

// Prepare prepares every statement of the hot path now. partli serve calls
// it at start, so SQL the database refuses stops the boot rather than the
// first sale; the error names the statement.
func (p *HotPath) Prepare(ctx context.Context) error {
	for _, q := range p.order {
		if _, err := p.stmt(ctx, q.sql); err != nil {
			return err
		}
	}
	return nil
}

// stmt returns the prepared statement for query, preparing it on first use.
// A failed preparation (the database is down) is not remembered. Preparing
// takes a connection of the pool, so it must not happen inside a
// transaction: InTx prepares what the transaction will run before it begins.
func (p *HotPath) stmt(ctx context.Context, query string) (*sqlx.Stmt, error) {
	h := p.stmts[query]
	if h == nil {
		return nil, fmt.Errorf("store: %.40q… is not a hot-path statement", query)
	}
	if st := h.st.Load(); st != nil {
		return st, nil
	}
	h.prepare.Lock()
	defer h.prepare.Unlock()
	if st := h.st.Load(); st != nil { // prepared meanwhile by another call
		return st, nil
	}
	st, err := p.db.PreparexContext(ctx, p.q.forDB(query))
	if err != nil {
		return nil, fmt.Errorf("store: preparing the hot-path statement %s: %w", h.name, mapErr(err))
	}
	h.st.Store(st)
	return st, nil
}

// prepared returns query's statement if it has been prepared, else nil. It
// takes no lock, so a transaction can always ask.
func (p *HotPath) prepared(query string) *sqlx.Stmt {
	if h := p.stmts[query]; h != nil {
		return h.st.Load()
	}
	return nil
}

// SaleTx is a transaction of the sale pipeline.
type SaleTx struct {
	*Tx
	p *HotPath
}

// InTx runs fn, a sale batch, in a READ COMMITTED transaction, as
// Store.InTx. The sale's statements are prepared first, on the pool: a
// transaction that waited for a second connection while holding one could
// wait forever.
func (p *HotPath) InTx(ctx context.Context, fn func(*SaleTx) error) error {
	return p.inTx(ctx, saleTxQueries, fn)
}

// LeadTx is InTx for a lead: its statements (UpsertCustomer, InsertEvent,
// RewardContextFor, PriorCommissions, InsertCommission of SaleTx) are
// prepared first, as a sale's are.
func (p *HotPath) LeadTx(ctx context.Context, fn func(*SaleTx) error) error {
	return p.inTx(ctx, leadTxQueries, fn)
}

func (p *HotPath) inTx(ctx context.Context, queries []string, fn func(*SaleTx) error) error {
	for _, q := range queries {
		if _, err := p.stmt(ctx, q); err != nil {
			return err
		}
	}
	// The tracking pipelines read and write no secret.
	return inTx(ctx, p.db, p.q, func(tx *Tx) error { return fn(&SaleTx{Tx: tx, p: p}) })
}

// get runs a statement prepared by InTx on the transaction's connection
// (database/sql prepares it there once, on that connection's first use).
func (tx *SaleTx) get(ctx context.Context, dest any, query string, args ...any) error {
	st := tx.p.prepared(query)
	if st == nil {
		return tx.Tx.get(ctx, dest, tx.forDB(query), args...)
	}
	err := tx.tx.StmtxContext(ctx, st).GetContext(ctx, dest, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return ErrNotFound
	}
	return mapErr(err)
}

// sel is get for statements that return rows.
func (tx *SaleTx) sel(ctx context.Context, dest any, query string, args ...any) error {
	st := tx.p.prepared(query)
	if st == nil {
		return tx.Tx.sel(ctx, dest, tx.forDB(query), args...)
	}
	return mapErr(tx.tx.StmtxContext(ctx, st).SelectContext(ctx, dest, args...))
}

// SaleLookup is what a sale needs to know before it writes anything.
type SaleLookup struct {
	// RepeatID is set when the workspace already has a sale with this
	// external id; RepeatCommissionID is its commission, if any.
	RepeatID           *string
	RepeatCommissionID *string
	// Candidates are who the sale could attribute to, one per source found
	// (the known customer's partner, the click's, the code's), each with
	// its reward context; none for a repeat. The tracking service picks
	// one (tracking.Attribute) and fills in the fields below.
	Candidates []SaleCandidate

	// PartnerID is who the sale attributes to; nil when nothing attributes.
	PartnerID *string
	ProgramID *string
	ClickID   *string
	// CodeID is the code that attributed the sale, or that named the
	// partner it attributes to.
	CodeID *string
	// CodePartnerID is the partner of the code given (live, of this
	// workspace), whoever the sale attributes to; Code is how the
	// workspace writes it.
	CodePartnerID *string
	Code          *string
	// Reward is the partner's, when PartnerID is set.
	Reward RewardContext
}

// Where a sale's candidate partner comes from.
const (
	SourceCustomer = "customer"
	SourceClick    = "click"
	SourceCode     = "code"
)

// SaleCandidate is one partner a sale could attribute to.
type SaleCandidate struct {
	Source    string  // SourceCustomer, SourceClick or SourceCode
	PartnerID string  // the candidate's partner and program
	ProgramID string  //
	ClickID   *string // the customer's first click, or the click
	CodeID    *string // the code, for SourceCode
	Code      *string // as written in the workspace, for SourceCode
	Reward    RewardContext
}

// SaleLookupSQL, RecordSalesSQL and RecordCommissionsSQL are the statements
// of a sale (with PriorCommissions for a returning customer). They are
// exported for the benchmark, which runs the very same statements under
// pgbench to measure the database's own ceiling.
//
// The lookup returns one row per candidate (or one row without a candidate):
// the known customer's partner, a click of the workspace inside its
// program's cookie window (counted to now), and a live code of the
// workspace in any case whose partner is approved.
var SaleLookupSQL = `
	WITH cand AS (
		SELECT 'customer' AS source, partner_id, program_id, click_id, NULL::text AS code_id, NULL::text AS code FROM customers
		WHERE workspace_id = $1 AND external_id = $2 AND partner_id IS NOT NULL
		UNION ALL
		SELECT 'click', cl.partner_id, cl.program_id, cl.id, NULL, NULL
		FROM clicks cl JOIN programs p ON p.workspace_id = cl.workspace_id AND p.id = cl.program_id
		WHERE $3 <> '' AND cl.workspace_id = $1 AND cl.id = $3 AND cl.created_at > now() - p.cookie_days * interval '1 day'
		  AND cl.created_at >= $6 AND cl.created_at < $7
		UNION ALL
		SELECT 'code', co.partner_id, co.program_id, NULL, co.id, co.code
		FROM partner_codes co, partners pa
		WHERE $5 <> '' AND ` + liveCodeLookup + `
	), rep AS (
		SELECT e.id, c.id AS commission_id
		FROM events e
		LEFT JOIN commissions c ON c.workspace_id = e.workspace_id AND c.event_id = e.id AND c.adjusts_id IS NULL
		WHERE e.workspace_id = $1 AND e.kind = 'sale' AND e.external_id = $4
	)
	SELECT rep.id AS repeat_id, rep.commission_id AS repeat_commission_id,
		cand.source, cand.partner_id, cand.program_id, cand.click_id, cand.code_id, cand.code,
		pa.id AS "rc.p.id", pa.name AS "rc.p.name", pa.email AS "rc.p.email", pa.slug AS "rc.p.slug",
		pa.status AS "rc.partner_status", pr.currency AS "rc.program_currency",
		pr.holding_period_days AS "rc.program_holding_days", g.holding_period_days AS "rc.group_holding_days",
		gr.id AS "rc.g.id", gr.type AS "rc.g.type", gr.percent_bp AS "rc.g.percent_bp", gr.amount_cents AS "rc.g.amount_cents",
		gr.interval AS "rc.g.interval", gr.duration_months AS "rc.g.duration_months",
		dr.id AS "rc.d.id", dr.type AS "rc.d.type", dr.percent_bp AS "rc.d.percent_bp", dr.amount_cents AS "rc.d.amount_cents",
		dr.interval AS "rc.d.interval", dr.duration_months AS "rc.d.duration_months"
	FROM (SELECT 1) one
	LEFT JOIN rep ON true
	LEFT JOIN cand ON rep.id IS NULL
	LEFT JOIN partners pa ON pa.workspace_id = $1 AND pa.id = cand.partner_id
	LEFT JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
	LEFT JOIN partner_groups g ON g.workspace_id = pa.workspace_id AND g.id = pa.group_id
	LEFT JOIN rewards gr ON gr.workspace_id = pa.workspace_id AND gr.program_id = pa.program_id
		AND gr.group_id = pa.group_id AND gr.event = 'sale'
	LEFT JOIN rewards dr ON dr.workspace_id = pa.workspace_id AND dr.program_id = pa.program_id
		AND dr.group_id IS NULL AND dr.event = 'sale'`

// liveCodeLookup is liveCodeWhere for the sale lookup's parameters.
var liveCodeLookup = liveCodeWhere("$1", "$5")

// saleLookupRow is one row of the lookup: the reward context's non-null
// columns are nullable here, since it comes from outer joins.
type saleLookupRow struct {
	RepeatID           *string `db:"repeat_id"`
	RepeatCommissionID *string `db:"repeat_commission_id"`
	Source             *string `db:"source"`
	PartnerID          *string `db:"partner_id"`
	ProgramID          *string `db:"program_id"`
	ClickID            *string `db:"click_id"`
	CodeID             *string `db:"code_id"`
	Code               *string `db:"code"`
	Reward             struct {
		Partner struct {
			ID    *string `db:"id"`
			Name  *string `db:"name"`
			Email *string `db:"email"`
			Slug  *string `db:"slug"`
		} `db:"p"`
		PartnerStatus      *string   `db:"partner_status"`
		ProgramCurrency    *string   `db:"program_currency"`
		ProgramHoldingDays *int      `db:"program_holding_days"`
		GroupHoldingDays   *int      `db:"group_holding_days"`
		GroupReward        RewardRow `db:"g"`
		DefaultReward      RewardRow `db:"d"`
	} `db:"rc"`
}

// LookupSale reads, in one statement, whether externalID is a repeat and
// who the sale could attribute to: the known customer's partner, a click
// of the workspace inside its program's cookie window (counted to now), a
// live code of the workspace (couponCode, in any case), each with that
// partner's reward context. It writes nothing.
func (p *HotPath) LookupSale(ctx context.Context, workspaceID, customerExternalID, clickID, externalID, couponCode string) (*SaleLookup, error) {
	st, err := p.stmt(ctx, SaleLookupSQL)
	if err != nil {
		return nil, fmt.Errorf("store: sale lookup: %w", err)
	}
	var rows []saleLookupRow
	from, to := clickTimeBounds(clickID)
	if err := st.SelectContext(ctx, &rows, workspaceID, customerExternalID, clickID, externalID, couponCode, from, to); err != nil {
		return nil, fmt.Errorf("store: sale lookup: %w", mapErr(err))
	}
	if clickID != "" && from.After(time.Unix(0, 0)) && !slices.ContainsFunc(rows, func(r saleLookupRow) bool {
		return r.RepeatID != nil || (r.Source != nil && *r.Source == SourceClick)
	}) {
		// A random id of before time-ordered ids can read as a recent time:
		// look again, everywhere, before calling the click unknown.
		from, to = time.Unix(0, 0).UTC(), time.Now().Add(100*365*24*time.Hour)
		rows = nil
		if err := st.SelectContext(ctx, &rows, workspaceID, customerExternalID, clickID, externalID, couponCode, from, to); err != nil {
			return nil, fmt.Errorf("store: sale lookup: %w", mapErr(err))
		}
	}
	l := &SaleLookup{}
	for _, row := range rows {
		if row.RepeatID != nil {
			l.RepeatID, l.RepeatCommissionID = row.RepeatID, row.RepeatCommissionID
			return l, nil
		}
		r := row.Reward
		if row.Source == nil || row.PartnerID == nil || r.Partner.ID == nil {
			continue
		}
		l.Candidates = append(l.Candidates, SaleCandidate{
			Source: *row.Source, PartnerID: *row.PartnerID, ProgramID: *row.ProgramID, ClickID: row.ClickID, CodeID: row.CodeID, Code: row.Code,
			Reward: RewardContext{
				Partner:       PartnerRef{ID: *r.Partner.ID, Name: *r.Partner.Name, Email: *r.Partner.Email, Slug: *r.Partner.Slug},
				PartnerStatus: *r.PartnerStatus, ProgramCurrency: *r.ProgramCurrency, ProgramHoldingDays: *r.ProgramHoldingDays,
				GroupHoldingDays: r.GroupHoldingDays, GroupReward: r.GroupReward, DefaultReward: r.DefaultReward,
			},
		})
	}
	return l, nil
}
