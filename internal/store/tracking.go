package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/ids"
)

// EventRef points at a recorded sale or lead and its commission, if any.
type EventRef struct {
	ID           string  `db:"id"`
	CommissionID *string `db:"commission_id"`
}

// EventByExternalID finds a recorded sale or lead by the merchant's dedupe key.
func (q Queries) EventByExternalID(ctx context.Context, workspaceID, kind, externalID string) (*EventRef, error) {
	var ref EventRef
	err := q.get(ctx, &ref, `
		SELECT e.id, c.id AS commission_id
		FROM events e
		LEFT JOIN commissions c ON c.workspace_id = e.workspace_id AND c.event_id = e.id AND c.adjusts_id IS NULL
		WHERE e.workspace_id = $1 AND e.kind = $2 AND e.external_id = $3`, workspaceID, kind, externalID)
	if err != nil {
		return nil, fmt.Errorf("store: event: %w", err)
	}
	return &ref, nil
}

// CustomerByExternalID finds a customer of the workspace by the merchant's id.
func (q Queries) CustomerByExternalID(ctx context.Context, workspaceID, externalID string) (*Customer, error) {
	var c Customer
	if err := q.get(ctx, &c, `SELECT id, workspace_id, external_id, email, name, program_id, partner_id, click_id, created_at
		FROM customers WHERE workspace_id = $1 AND external_id = $2`, workspaceID, externalID); err != nil {
		return nil, fmt.Errorf("store: customer: %w", err)
	}
	return &c, nil
}

// AttributableClick returns a click of the workspace that is still inside its
// program's cookie window, counted to now (the time of the tracking call).
func (q Queries) AttributableClick(ctx context.Context, workspaceID, clickID string) (*Click, error) {
	var c Click
	from, to := clickTimeBounds(clickID)
	err := q.get(ctx, &c, `
		SELECT cl.id, cl.workspace_id, cl.program_id, cl.partner_id, cl.created_at
		FROM clicks cl JOIN programs p ON p.workspace_id = cl.workspace_id AND p.id = cl.program_id
		WHERE cl.workspace_id = $1 AND cl.id = $2 AND cl.created_at > now() - p.cookie_days * interval '1 day'
		  AND cl.created_at >= $3 AND cl.created_at < $4`,
		workspaceID, clickID, from, to)
	if errors.Is(err, ErrNotFound) && from.After(time.Unix(0, 0)) {
		// As LookupSale: an old random id may read as a recent time.
		err = q.get(ctx, &c, `
			SELECT cl.id, cl.workspace_id, cl.program_id, cl.partner_id, cl.created_at
			FROM clicks cl JOIN programs p ON p.workspace_id = cl.workspace_id AND p.id = cl.program_id
			WHERE cl.workspace_id = $1 AND cl.id = $2 AND cl.created_at > now() - p.cookie_days * interval '1 day'`,
			workspaceID, clickID)
	}
	if err != nil {
		return nil, fmt.Errorf("store: click: %w", err)
	}
	return &c, nil
}

// clickTimeBounds is when a click of this id can have been stored: around
// the time its id was made (ids are time-ordered, and a click is written
// within seconds of its id), so that a look-up by id reads only the month
// partitions of clicks around it. An id of before time-ordered ids may be
// anywhere.
func clickTimeBounds(clickID string) (from, to time.Time) {
	if t, ok := ids.TimeOf(clickID, ids.Click); ok {
		return t.Add(-time.Hour), t.Add(time.Hour)
	}
	return time.Unix(0, 0).UTC(), time.Now().Add(100 * 365 * 24 * time.Hour)
}

// customerCols are a customer's columns as the upserts write and return them.
const customerCols = `id, workspace_id, external_id, email, name, program_id, partner_id, click_id`

// upsertCustomersSQL inserts the customers rows selects (customerCols, in
// order) or, for each that exists, keeps its first partner, program and
// click (a customer stays with who referred them first) and fills in email
// and name when given. UpsertCustomer (one customer) and RecordSales (a
// batch's) share it.
func upsertCustomersSQL(rows string) string {
	return `
			INSERT INTO customers AS cu (` + customerCols + `)
			` + rows + `
			ON CONFLICT (workspace_id, external_id) DO UPDATE SET
				partner_id = coalesce(cu.partner_id, EXCLUDED.partner_id),
				program_id = CASE WHEN cu.partner_id IS NULL THEN EXCLUDED.program_id ELSE cu.program_id END,
				click_id   = CASE WHEN cu.partner_id IS NULL THEN EXCLUDED.click_id ELSE cu.click_id END,
				email      = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE cu.email END,
				name       = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE cu.name END,
				updated_at = EXCLUDED.updated_at
			RETURNING ` + customerCols + `, created_at`
}

var upsertCustomerSQL = upsertCustomersSQL(`VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`)

// UpsertCustomer inserts the customer or, when it exists, keeps its first
// partner, program and click and fills in email and name when given
// (upsertCustomersSQL). It takes the customer's row lock, which serializes
// every per-customer decision until the transaction ends.
func (tx *SaleTx) UpsertCustomer(ctx context.Context, c *Customer) error {
	return upsertCustomer(ctx, tx, c)
}

func upsertCustomer(ctx context.Context, q runner, c *Customer) error {
	err := q.get(ctx, c, upsertCustomerSQL, c.ID, c.WorkspaceID, c.ExternalID, c.Email, c.Name, c.ProgramID, c.PartnerID, c.ClickID)
	if err != nil {
		return fmt.Errorf("store: upsert customer: %w", err)
	}
	return nil
}

// runner runs statements: a Tx as they come, a SaleTx prepared.
type runner interface {
	get(ctx context.Context, dest any, query string, args ...any) error
	sel(ctx context.Context, dest any, query string, args ...any) error
}

// insertEventSQL records a sale or lead and its roll-ups.
var insertEventSQL = `
		WITH e AS (
			INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id,
				click_id, amount_cents, currency, event_name, metadata, occurred_at, code_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
			ON CONFLICT (workspace_id, kind, external_id) DO NOTHING
			RETURNING *
		), ` + activityCTE("a", `SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, 0, 1 FROM e WHERE kind = 'lead'`) + `
		, ` + statsCTEs("st", `SELECT workspace_id, `+utcDay("created_at")+`, program_id, partner_id, currency, 1, amount_cents, '', 0, 0::bigint
			FROM e WHERE kind = 'sale'`) + `
		SELECT created_at FROM e`

// InsertEvent records a lead (a sale batch's are RecordSales'). It reports
// false, writing nothing, when the workspace already has one with that
// external id (a repeat).
func (tx *SaleTx) InsertEvent(ctx context.Context, e *Event) (bool, error) {
	return insertEvent(ctx, tx, e)
}

func insertEvent(ctx context.Context, q runner, e *Event) (bool, error) {
	err := q.get(ctx, &e.CreatedAt, insertEventSQL,
		e.ID, e.WorkspaceID, e.Kind, e.ExternalID, e.CustomerID, e.ProgramID, e.PartnerID,
		e.ClickID, e.AmountCents, e.Currency, e.EventName, nullJSON(e.Metadata), e.OccurredAt, e.CodeID)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: insert event: %w", err)
	}
	return true, nil
}

func nullJSON(b json.RawMessage) any {
	if len(b) == 0 {
		return nil
	}
	return []byte(b)
}

// RewardRow is a reward as the pipeline reads it, all nullable because it
// comes from an outer join.
type RewardRow struct {
	ID             *string `db:"id"`
	Type           *string `db:"type"`
	PercentBP      *int64  `db:"percent_bp"`
	AmountCents    *int64  `db:"amount_cents"`
	Interval       *string `db:"interval"`
	DurationMonths *int    `db:"duration_months"`
}

// PartnerRef is how a partner appears inside webhook payloads.
type PartnerRef struct {
	ID    string `db:"id" json:"id"`
	Name  string `db:"name" json:"name"`
	Email string `db:"email" json:"email"`
	Slug  string `db:"slug" json:"slug"`
}

// CustomerRef is how a customer appears inside webhook payloads.
type CustomerRef struct {
	ExternalID string `db:"external_id" json:"externalId"`
	Email      string `db:"email" json:"email"`
	Name       string `db:"name" json:"name"`
}

// CommissionParties returns the partner and customer of a commission, for its
// webhook payload.
func (q Queries) CommissionParties(ctx context.Context, c *Commission) (PartnerRef, *CustomerRef, error) {
	// Two single-shard reads: Citus routes no outer join whose inner
	// side's key is a parameter rather than the outer row's.
	var p PartnerRef
	err := q.get(ctx, &p, `SELECT id, name, email, slug FROM partners WHERE workspace_id = $1 AND id = $2`,
		c.WorkspaceID, c.PartnerID)
	if err != nil {
		return PartnerRef{}, nil, fmt.Errorf("store: commission parties: %w", err)
	}
	if c.CustomerID == nil {
		return p, nil, nil
	}
	var cu CustomerRef
	err = q.get(ctx, &cu, `SELECT external_id, email, name FROM customers WHERE workspace_id = $1 AND id = $2`,
		c.WorkspaceID, *c.CustomerID)
	if errors.Is(err, ErrNotFound) {
		return p, nil, nil
	}
	if err != nil {
		return PartnerRef{}, nil, fmt.Errorf("store: commission parties: %w", err)
	}
	return p, &cu, nil
}

// RewardContext is what deciding a commission needs to know of the partner.
type RewardContext struct {
	Partner            PartnerRef `db:"p"`
	PartnerStatus      string     `db:"partner_status"`
	ProgramCurrency    string     `db:"program_currency"`
	ProgramHoldingDays int        `db:"program_holding_days"`
	GroupHoldingDays   *int       `db:"group_holding_days"`
	GroupReward        RewardRow  `db:"g"`
	DefaultReward      RewardRow  `db:"d"`
}

// rewardContextSQL reads a partner's reward context for an event.
const rewardContextSQL = `
		SELECT pa.id AS "p.id", pa.name AS "p.name", pa.email AS "p.email", pa.slug AS "p.slug",
			pa.status AS partner_status, pr.currency AS program_currency,
			pr.holding_period_days AS program_holding_days, g.holding_period_days AS group_holding_days,
			gr.id AS "g.id", gr.type AS "g.type", gr.percent_bp AS "g.percent_bp", gr.amount_cents AS "g.amount_cents",
			gr.interval AS "g.interval", gr.duration_months AS "g.duration_months",
			dr.id AS "d.id", dr.type AS "d.type", dr.percent_bp AS "d.percent_bp", dr.amount_cents AS "d.amount_cents",
			dr.interval AS "d.interval", dr.duration_months AS "d.duration_months"
		FROM partners pa
		JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
		LEFT JOIN partner_groups g ON g.workspace_id = pa.workspace_id AND g.id = pa.group_id
		LEFT JOIN rewards gr ON gr.workspace_id = pa.workspace_id AND gr.program_id = pa.program_id
			AND gr.group_id = pa.group_id AND gr.event = $3
		LEFT JOIN rewards dr ON dr.workspace_id = pa.workspace_id AND dr.program_id = pa.program_id
			AND dr.group_id IS NULL AND dr.event = $3
		WHERE pa.workspace_id = $1 AND pa.id = $2`

// RewardContextFor reads the partner's status, holding periods and the
// group and program rewards for event ("sale" or "lead") in one query.
func (tx *SaleTx) RewardContextFor(ctx context.Context, workspaceID, partnerID, event string) (*RewardContext, error) {
	return rewardContextFor(ctx, tx, workspaceID, partnerID, event)
}

func rewardContextFor(ctx context.Context, q runner, workspaceID, partnerID, event string) (*RewardContext, error) {
	var rc RewardContext
	if err := q.get(ctx, &rc, rewardContextSQL, workspaceID, partnerID, event); err != nil {
		return nil, fmt.Errorf("store: reward context: %w", err)
	}
	return &rc, nil
}

// PriorCommissions tells whether the customer already has a live (not
// clawed back) commission of kind ("sale" or "lead") in the program, and
// when the first such commissioned event occurred (priorCommissionsSQL
// for one customer).
func (tx *SaleTx) PriorCommissions(ctx context.Context, workspaceID, programID, customerID, kind string) (bool, *time.Time, error) {
	out, err := priorCommissionsOf(ctx, tx, kind, []PriorOf{{WorkspaceID: workspaceID, ProgramID: programID, CustomerID: customerID}})
	if err != nil {
		return false, nil, err
	}
	return out[0].Any, out[0].First, nil
}

// commissionCols are the columns a new commission is written with.
const commissionCols = `id, workspace_id, program_id, partner_id, customer_id, event_id, adjusts_id,
				reward_id, type, amount_cents, currency, status, payable_at, reward_type, reward_percent_bp,
				reward_amount_cents, reward_interval, reward_duration_months, sale_amount_cents, occurred_at`

// insertCommissionsCTEs are the CTEs that write new commissions: c, the
// commissions rows selects (commissionCols, in order), and h, the first
// history entry of each (from nothing to its status, with reason and
// actor, SQL expressions). InsertCommission, InsertAdjustment and
// RecordCommissions share them.
func insertCommissionsCTEs(rows, reason, actor string) string {
	return `c AS (
			INSERT INTO commissions (` + commissionCols + `)
			` + rows + `
			RETURNING *
		), h AS (
			INSERT INTO commission_history (workspace_id, commission_id, from_status, to_status, reason, actor)
			SELECT workspace_id, id, NULL, status, ` + reason + `, ` + actor + ` FROM c
		)`
}

// insertOneCommissionSQL writes one commission ($1…$20, commissionCols)
// with its first history entry (reason $21, actor $22) and its roll-ups,
// then the CTEs more, and returns it.
func insertOneCommissionSQL(more string) string {
	return `
		WITH ` + insertCommissionsCTEs(`VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`, "$21", "$22") +
		`, ` + statsCTEs("st", commissionDeltas("c")) + more + `
		SELECT c.*, cu.external_id AS customer_external_id
		FROM c LEFT JOIN customers cu ON cu.workspace_id = c.workspace_id AND cu.id = c.customer_id`
}

// insertCommissionSQL is a new commission with its partner's
// new-commission mail (commissionMailSQL); insertAdjustmentSQL a negative
// adjustment, which mails nothing here.
var (
	insertCommissionSQL = insertOneCommissionSQL(`, m AS (` + commissionMailSQL + `
		)`)
	insertAdjustmentSQL = insertOneCommissionSQL("")
)

// InsertCommission records a lead's commission and its first history
// entry, and its partner's new-commission mail (commissionMailSQL).
func (tx *SaleTx) InsertCommission(ctx context.Context, c *Commission, actor string) error {
	return insertCommission(ctx, tx, insertCommissionSQL, c, "", actor)
}

// InsertAdjustment records a negative adjustment and its first history
// entry (from nothing to its status, with reason).
func (tx *Tx) InsertAdjustment(ctx context.Context, c *Commission, reason, actor string) error {
	return insertCommission(ctx, tx, insertAdjustmentSQL, c, reason, actor)
}

func insertCommission(ctx context.Context, q runner, query string, c *Commission, reason, actor string) error {
	err := q.get(ctx, c, query,
		c.ID, c.WorkspaceID, c.ProgramID, c.PartnerID, c.CustomerID, c.EventID, c.AdjustsID,
		c.RewardID, c.Type, c.AmountCents, c.Currency, c.Status, c.PayableAt, c.RewardType, c.RewardPercentBP,
		c.RewardAmountCents, c.RewardInterval, c.RewardDurationMonths, c.SaleAmountCents, c.OccurredAt,
		reason, actor)
	if err != nil {
		what := "commission"
		if query == insertAdjustmentSQL {
			what = "adjustment"
		}
		return fmt.Errorf("store: insert %s: %w", what, err)
	}
	return nil
}

// InsertWebhookEvents adds events to the outbox, in the caller's transaction,
// in one statement however many there are, with their deliveries: one per
// enabled endpoint of the event's workspace subscribed to its type (the
// events are written already dispatched; see webhookFanOutSQL).
func (tx *Tx) InsertWebhookEvents(ctx context.Context, events ...WebhookEvent) error {
	if len(events) == 0 {
		return nil
	}
	ids, wss, types, payloads, ats := webhookArrays(events)
	if _, err := tx.exec(ctx, tx.forDB(recordEventsSQL), ids, wss, types, payloads, ats); err != nil {
		return fmt.Errorf("store: insert webhook events: %w", err)
	}
	return nil
}

// RecordedSale is what RecordSales wrote for one sale.
type RecordedSale struct {
	Customer Customer `db:"cu"`
	// CustomerIsNew: the customer was inserted now, so has no history.
	CustomerIsNew bool `db:"customer_is_new"`
	// EventCreatedAt is nil when the workspace already had a sale with
	// this external id: nothing was written for it.
	EventCreatedAt *time.Time `db:"event_created_at"`
	// EventCodeID is the code the sale recorded (see BatchSale).
	EventCodeID *string `db:"event_code_id"`
	// Now is the transaction's timestamp, now(): what created_at defaults to.
	Now time.Time `db:"tx_now"`
}

// recordEventsSQL is InsertWebhookEvents' statement: the outbox events,
// written dispatched, and their deliveries (webhookFanOutSQL).
var recordEventsSQL = `
	WITH w AS (
		INSERT INTO webhook_events (id, workspace_id, type, payload, created_at, dispatched_at)
		SELECT *, now() FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]::jsonb[], $5::text[]::timestamptz[])
		` + fanOutReturning + `
	), d AS (` + webhookFanOutSQL + `
	) SELECT count(*) FROM w`

// SaleStat is what a sale adds to its day's roll-ups (store/stats.go).
type SaleStat struct {
	WorkspaceID, ProgramID, PartnerID, Currency string
	AmountCents                                 int64
}

func webhookArrays(events []WebhookEvent) (ids, wss, types, payloads, ats any) {
	n := len(events)
	is, ws, ts, ps, as := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, e := range events {
		is[i], ws[i], ts[i], ps[i] = e.ID, e.WorkspaceID, e.Type, string(e.Payload)
		as[i] = e.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	return pq.Array(is), pq.Array(ws), pq.Array(ts), pq.Array(ps), pq.Array(as)
}
