package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"
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
	err := q.get(ctx, &c, `
		SELECT cl.id, cl.workspace_id, cl.program_id, cl.partner_id, cl.created_at
		FROM clicks cl JOIN programs p ON p.workspace_id = cl.workspace_id AND p.id = cl.program_id
		WHERE cl.workspace_id = $1 AND cl.id = $2 AND cl.created_at > now() - p.cookie_days * interval '1 day'`,
		workspaceID, clickID)
	if err != nil {
		return nil, fmt.Errorf("store: click: %w", err)
	}
	return &c, nil
}

// UpsertCustomer inserts the customer or, when it exists, keeps its first
// partner, program and click (a customer stays with who referred them first)
// and fills in email and name when given. It takes the customer's row lock,
// which serializes every per-customer decision until the transaction ends.
func (tx *Tx) UpsertCustomer(ctx context.Context, c *Customer) error {
	err := tx.get(ctx, c, `
		INSERT INTO customers AS cu (id, workspace_id, external_id, email, name, program_id, partner_id, click_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (workspace_id, external_id) DO UPDATE SET
			partner_id = coalesce(cu.partner_id, EXCLUDED.partner_id),
			program_id = CASE WHEN cu.partner_id IS NULL THEN EXCLUDED.program_id ELSE cu.program_id END,
			click_id   = CASE WHEN cu.partner_id IS NULL THEN EXCLUDED.click_id ELSE cu.click_id END,
			email      = CASE WHEN EXCLUDED.email <> '' THEN EXCLUDED.email ELSE cu.email END,
			name       = CASE WHEN EXCLUDED.name <> '' THEN EXCLUDED.name ELSE cu.name END,
			updated_at = now()
		RETURNING id, workspace_id, external_id, email, name, program_id, partner_id, click_id, created_at`,
		c.ID, c.WorkspaceID, c.ExternalID, c.Email, c.Name, c.ProgramID, c.PartnerID, c.ClickID)
	if err != nil {
		return fmt.Errorf("store: upsert customer: %w", err)
	}
	return nil
}

// InsertEvent records a sale or lead. It reports false, writing nothing, when
// the workspace already has one with that external id (a repeat).
func (tx *Tx) InsertEvent(ctx context.Context, e *Event) (bool, error) {
	err := tx.get(ctx, &e.CreatedAt, `
		INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id,
			click_id, amount_cents, currency, event_name, metadata, occurred_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
		ON CONFLICT (workspace_id, kind, external_id) DO NOTHING
		RETURNING created_at`,
		e.ID, e.WorkspaceID, e.Kind, e.ExternalID, e.CustomerID, e.ProgramID, e.PartnerID,
		e.ClickID, e.AmountCents, e.Currency, e.EventName, nullJSON(e.Metadata), e.OccurredAt)
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
	var row struct {
		P  PartnerRef `db:"p"`
		CE *string    `db:"customer_external_id"`
		CM *string    `db:"customer_email"`
		CN *string    `db:"customer_name"`
	}
	err := q.get(ctx, &row, `
		SELECT pa.id AS "p.id", pa.name AS "p.name", pa.email AS "p.email", pa.slug AS "p.slug",
			cu.external_id AS customer_external_id, cu.email AS customer_email, cu.name AS customer_name
		FROM partners pa LEFT JOIN customers cu ON cu.workspace_id = pa.workspace_id AND cu.id = $3
		WHERE pa.workspace_id = $1 AND pa.id = $2`, c.WorkspaceID, c.PartnerID, c.CustomerID)
	if err != nil {
		return PartnerRef{}, nil, fmt.Errorf("store: commission parties: %w", err)
	}
	if row.CE == nil {
		return row.P, nil, nil
	}
	return row.P, &CustomerRef{ExternalID: *row.CE, Email: *row.CM, Name: *row.CN}, nil
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

// RewardContextFor reads the partner's status, holding periods and the
// group and program rewards for event ("sale" or "lead") in one query.
func (q Queries) RewardContextFor(ctx context.Context, workspaceID, partnerID, event string) (*RewardContext, error) {
	var rc RewardContext
	err := q.get(ctx, &rc, `
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
		WHERE pa.workspace_id = $1 AND pa.id = $2`, workspaceID, partnerID, event)
	if err != nil {
		return nil, fmt.Errorf("store: reward context: %w", err)
	}
	return &rc, nil
}

// PriorCommissions tells whether the customer already has a live (not
// clawed back) commission of kind in the program, and when the first such
// commissioned event occurred.
func (q Queries) PriorCommissions(ctx context.Context, workspaceID, programID, customerID, kind string) (bool, *time.Time, error) {
	var row struct {
		N     int        `db:"n"`
		First *time.Time `db:"first"`
	}
	err := q.get(ctx, &row, `
		SELECT count(*) AS n, min(occurred_at) AS first FROM commissions
		WHERE workspace_id = $1 AND program_id = $2 AND customer_id = $3 AND type = $4
		  AND adjusts_id IS NULL AND status <> 'clawed_back'`, workspaceID, programID, customerID, kind)
	if err != nil {
		return false, nil, fmt.Errorf("store: prior commissions: %w", err)
	}
	return row.N > 0, row.First, nil
}

// InsertCommission records a commission and its first history entry.
func (tx *Tx) InsertCommission(ctx context.Context, c *Commission, actor string) error {
	err := tx.get(ctx, c, `
		WITH c AS (
			INSERT INTO commissions (id, workspace_id, program_id, partner_id, customer_id, event_id, adjusts_id,
				reward_id, type, amount_cents, currency, status, payable_at, reward_type, reward_percent_bp,
				reward_amount_cents, reward_interval, reward_duration_months, sale_amount_cents, occurred_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)
			RETURNING *
		), h AS (
			INSERT INTO commission_history (workspace_id, commission_id, from_status, to_status, reason, actor)
			SELECT workspace_id, id, NULL, status, $21, $22 FROM c
		)
		SELECT c.*, cu.external_id AS customer_external_id
		FROM c LEFT JOIN customers cu ON cu.workspace_id = c.workspace_id AND cu.id = c.customer_id`,
		c.ID, c.WorkspaceID, c.ProgramID, c.PartnerID, c.CustomerID, c.EventID, c.AdjustsID,
		c.RewardID, c.Type, c.AmountCents, c.Currency, c.Status, c.PayableAt, c.RewardType, c.RewardPercentBP,
		c.RewardAmountCents, c.RewardInterval, c.RewardDurationMonths, c.SaleAmountCents, c.OccurredAt,
		"", actor)
	if err != nil {
		return fmt.Errorf("store: insert commission: %w", err)
	}
	return nil
}

// InsertWebhookEvents adds events to the outbox, in the caller's transaction,
// in one statement however many there are.
func (tx *Tx) InsertWebhookEvents(ctx context.Context, events ...WebhookEvent) error {
	if len(events) == 0 {
		return nil
	}
	ids, wss, types, payloads := make([]string, len(events)), make([]string, len(events)), make([]string, len(events)), make([]string, len(events))
	ats := make([]string, len(events))
	for i, e := range events {
		ids[i], wss[i], types[i], payloads[i] = e.ID, e.WorkspaceID, e.Type, string(e.Payload)
		ats[i] = e.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	_, err := tx.exec(ctx, `INSERT INTO webhook_events (id, workspace_id, type, payload, created_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]::jsonb[], $5::text[]::timestamptz[])`,
		pq.Array(ids), pq.Array(wss), pq.Array(types), pq.Array(payloads), pq.Array(ats))
	if err != nil {
		return fmt.Errorf("store: insert webhook events: %w", err)
	}
	return nil
}

// WebhookEvents lists the workspace's outbox, newest first (for tests and the dashboard).
func (q Queries) WebhookEvents(ctx context.Context, workspaceID string, limit int) ([]WebhookEvent, error) {
	var es []WebhookEvent
	err := q.sel(ctx, &es, `SELECT id, workspace_id, type, payload, created_at FROM webhook_events
		WHERE workspace_id = $1 ORDER BY created_at DESC, id DESC LIMIT $2`, workspaceID, limit)
	return es, err
}
