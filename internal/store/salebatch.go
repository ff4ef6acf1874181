package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"
)

// Sales are written in batches: the tracking service gathers the sales that
// arrive while a batch is being written and writes them together, in one
// transaction of set-based statements (unnest arrays), so that a burst of
// sales costs a few statements and one commit instead of a few of each per
// sale. A batch holds at most one sale per customer and per external id
// (the tracking service sees to it), so every per-customer decision is made
// exactly as if the sales had come one by one.
//
// A batch is, for N sales: RecordSales (customers and sale events), for
// the returning customers PriorCommissionsOf, and RecordCommissions (the
// commissions, their history, the outbox events with their deliveries, and
// the roll-ups) — three statements and a commit however large N.

// BatchSale is one sale of a batch as RecordSales writes it.
type BatchSale struct {
	Customer Customer // proposed: ID new, partner, program and click from attribution
	Event    Event
	// CodeID and CodePartnerID are the live code given with the sale, if
	// any: the sale records it when it attributes to that code's partner.
	CodeID, CodePartnerID *string
}

// RecordedSaleRow is what RecordSales wrote for one sale, in the batch's order.
type RecordedSaleRow struct {
	Ord int `db:"ord"`
	RecordedSale
}

// RecordSalesSQL upserts the customers (upsertCustomersSQL, as
// UpsertCustomer) and inserts the sale events of a batch, in one
// statement. The customers are locked in the order given (the caller sorts
// them), the order every batch uses.
var RecordSalesSQL = `
		WITH i AS (
			SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
				$7::text[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[],
				$14::text[], $15::text[])
				WITH ORDINALITY AS i (cust_id, workspace_id, cust_ext, program_id, partner_id, click_id,
					event_id, event_ext, amount_cents, currency, event_name, metadata, occurred_at,
					code_id, code_partner_id, ord)
		), cu AS (` + upsertCustomersSQL(`SELECT cust_id, workspace_id, cust_ext, '', '', program_id, partner_id, nullif(click_id, '') FROM i ORDER BY ord`) + `
		), ev AS (
			INSERT INTO events (id, workspace_id, kind, external_id, customer_id, program_id, partner_id,
				click_id, amount_cents, currency, event_name, metadata, occurred_at, code_id)
			SELECT i.event_id, cu.workspace_id, 'sale', i.event_ext, cu.id, cu.program_id, cu.partner_id, cu.click_id,
				i.amount_cents, i.currency, i.event_name, i.metadata::jsonb, i.occurred_at::timestamptz,
				CASE WHEN i.code_partner_id = cu.partner_id THEN nullif(i.code_id, '') END
			FROM i JOIN cu ON cu.workspace_id = i.workspace_id AND cu.external_id = i.cust_ext
			ORDER BY i.ord
			ON CONFLICT (workspace_id, kind, external_id) DO NOTHING
			RETURNING id, created_at, code_id
		)
		SELECT i.ord, cu.id AS "cu.id", cu.workspace_id AS "cu.workspace_id", cu.external_id AS "cu.external_id",
			cu.email AS "cu.email", cu.name AS "cu.name", cu.program_id AS "cu.program_id",
			cu.partner_id AS "cu.partner_id", cu.click_id AS "cu.click_id", cu.created_at AS "cu.created_at",
			cu.id = i.cust_id AS customer_is_new, ev.created_at AS event_created_at, ev.code_id AS event_code_id,
			now() AS tx_now
		FROM i JOIN cu ON cu.workspace_id = i.workspace_id AND cu.external_id = i.cust_ext
		LEFT JOIN ev ON ev.id = i.event_id
		ORDER BY i.ord`

// RecordSales writes a batch's customers and sale events. A row whose
// EventCreatedAt is nil found its external id recorded already (by another
// process): nothing was written for its event.
func (tx *SaleTx) RecordSales(ctx context.Context, rows []BatchSale) ([]RecordedSaleRow, error) {
	n := len(rows)
	var (
		custIDs, wss, custExts, programs, partners, clicks = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		eventIDs, eventExts, currencies, names, ats = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n)
		codes, codePartners = make([]string, n), make([]string, n)
		metas               = make([]*string, n)
		amounts             = make([]int64, n)
	)
	for i, r := range rows {
		c, e := r.Customer, r.Event
		custIDs[i], wss[i], custExts[i] = c.ID, c.WorkspaceID, c.ExternalID
		programs[i], partners[i], clicks[i] = deref(c.ProgramID), deref(c.PartnerID), deref(c.ClickID)
		eventIDs[i], eventExts[i], amounts[i], currencies[i], names[i] = e.ID, e.ExternalID, e.AmountCents, deref(e.Currency), e.EventName
		metas[i] = jsonText(e.Metadata)
		codes[i], codePartners[i] = deref(r.CodeID), deref(r.CodePartnerID)
		ats[i] = e.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	var out []RecordedSaleRow
	err := tx.sel(ctx, &out, RecordSalesSQL, pq.Array(custIDs), pq.Array(wss), pq.Array(custExts), pq.Array(programs),
		pq.Array(partners), pq.Array(clicks), pq.Array(eventIDs), pq.Array(eventExts), pq.Array(amounts),
		pq.Array(currencies), pq.Array(names), pq.Array(metas), pq.Array(ats), pq.Array(codes), pq.Array(codePartners))
	if err != nil {
		return nil, fmt.Errorf("store: record sales: %w", err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("store: record sales: %d rows came back for %d sales", len(out), n)
	}
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// jsonText is stored JSON as a text array element, NULL when absent.
func jsonText(b json.RawMessage) *string {
	if len(b) == 0 {
		return nil
	}
	s := string(b)
	return &s
}

// PriorOf is a returning customer's earlier commissions of a kind in a program.
type PriorOf struct {
	WorkspaceID, ProgramID, CustomerID string
}

// Prior is what PriorCommissionsOf found for one customer.
type Prior struct {
	Ord   int        `db:"ord"`
	Any   bool       `db:"any"`
	First *time.Time `db:"first"`
}

// priorCommissionsSQL tells, for each customer of the arrays, whether
// they have a live (not clawed back, not an adjustment) commission of kind
// in the program, and when the first such commissioned event occurred.
func priorCommissionsSQL(kind string) string {
	return `
	SELECT i.ord, count(c.id) > 0 AS any, min(c.occurred_at) AS first
	FROM unnest($1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS i (workspace_id, program_id, customer_id, ord)
	LEFT JOIN commissions c ON c.workspace_id = i.workspace_id AND c.program_id = i.program_id
		AND c.customer_id = i.customer_id AND c.type = '` + kind + `' AND c.adjusts_id IS NULL AND c.status <> 'clawed_back'
	GROUP BY i.ord ORDER BY i.ord`
}

// priorSalesSQL and priorLeadsSQL are priorCommissionsSQL of each kind:
// the kind is part of the statement, so each is planned for its own.
var (
	priorSalesSQL = priorCommissionsSQL("sale")
	priorLeadsSQL = priorCommissionsSQL("lead")
)

// PriorCommissionsOf tells, for each customer, whether they have a live
// sale commission in the program and when the first commissioned sale
// occurred, in the order given.
func (tx *SaleTx) PriorCommissionsOf(ctx context.Context, of []PriorOf) ([]Prior, error) {
	return priorCommissionsOf(ctx, tx, "sale", of)
}

func priorCommissionsOf(ctx context.Context, q runner, kind string, of []PriorOf) ([]Prior, error) {
	query := priorSalesSQL
	if kind == "lead" {
		query = priorLeadsSQL
	} else if kind != "sale" {
		return nil, fmt.Errorf("store: prior commissions: no commissions of kind %q", kind)
	}
	n := len(of)
	wss, programs, customers := make([]string, n), make([]string, n), make([]string, n)
	for i, o := range of {
		wss[i], programs[i], customers[i] = o.WorkspaceID, o.ProgramID, o.CustomerID
	}
	var out []Prior
	if err := q.sel(ctx, &out, query, pq.Array(wss), pq.Array(programs), pq.Array(customers)); err != nil {
		return nil, fmt.Errorf("store: prior commissions: %w", err)
	}
	if len(out) != n {
		return nil, fmt.Errorf("store: prior commissions: %d rows came back for %d customers", len(out), n)
	}
	return out, nil
}

// RecordCommissionsSQL writes a batch's commissions with their first
// history entry (insertCommissionsCTEs, as InsertCommission), the batch's outbox events with their deliveries, and the
// roll-ups of its sales and commissions, and each partner's new-commission
// mail unless they turned it off or chose the daily digest
// (commissionMailSQL), in one statement.
var RecordCommissionsSQL = `
		WITH ` + insertCommissionsCTEs(`SELECT id, workspace_id, program_id, partner_id, customer_id, event_id, NULL, reward_id, 'sale',
				amount_cents, currency, 'pending', payable_at::timestamptz, reward_type, reward_percent_bp, reward_amount_cents,
				reward_interval, reward_duration_months, sale_amount_cents, occurred_at::timestamptz
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[],
				$9::text[], $10::text[], $11::text[], $12::bigint[], $13::bigint[], $14::text[], $15::int[], $16::bigint[], $17::text[])
				AS u (id, workspace_id, program_id, partner_id, customer_id, event_id, reward_id, amount_cents, currency,
					payable_at, reward_type, reward_percent_bp, reward_amount_cents, reward_interval, reward_duration_months,
					sale_amount_cents, occurred_at)
			ORDER BY workspace_id, id`, "''", "'system'") + `, w AS (
			INSERT INTO webhook_events (id, workspace_id, type, payload, created_at, dispatched_at)
			SELECT *, now() FROM unnest($18::text[], $19::text[], $20::text[], $21::text[]::jsonb[], $22::text[]::timestamptz[])
			` + fanOutReturning + `
		), d AS (` + webhookFanOutSQL + `
		), ` + statsCTEs("st", commissionDeltas("c")+`
			UNION ALL
			SELECT workspace_id, `+utcDay("now()")+`, program_id, partner_id, currency::bpchar, 1, amount_cents, '', 0, 0::bigint
			FROM unnest($23::text[], $24::text[], $25::text[], $26::text[], $27::bigint[]) AS s (workspace_id, program_id, partner_id, currency, amount_cents)`) + `,
		m AS (` + commissionMailSQL + `
		)
		SELECT count(*) FROM c`

// SaleStats are the batch's sales as the roll-ups count them.
func saleStatArrays(sales []SaleStat) (wss, programs, partners, currencies, amounts any) {
	n := len(sales)
	w, p, pa, c, a := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]int64, n)
	for i, s := range sales {
		w[i], p[i], pa[i], c[i], a[i] = s.WorkspaceID, s.ProgramID, s.PartnerID, s.Currency, s.AmountCents
	}
	return pq.Array(w), pq.Array(p), pq.Array(pa), pq.Array(c), pq.Array(a)
}

// RecordCommissions writes the batch's new pending commissions (each as
// RecordCommission requires: complete, times in whole microseconds), the
// outbox events of the whole batch and the roll-ups of its sales, in one
// statement.
func (tx *SaleTx) RecordCommissions(ctx context.Context, sales []SaleStat, cs []*Commission, events []WebhookEvent) error {
	n := len(cs)
	var (
		ids, wss, programs, partners, customers, eventIDs, rewardIDs = make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]*string, n), make([]string, n), make([]*string, n)
		amounts, saleAmounts               = make([]int64, n), make([]int64, n)
		currencies, payables, types, ivals = make([]string, n), make([]string, n), make([]*string, n), make([]*string, n)
		bps, flats                         = make([]*int64, n), make([]*int64, n)
		durations                          = make([]*int64, n)
		occurred                           = make([]string, n)
	)
	for i, c := range cs {
		ids[i], wss[i], programs[i], partners[i], customers[i], eventIDs[i], rewardIDs[i] =
			c.ID, c.WorkspaceID, c.ProgramID, c.PartnerID, c.CustomerID, c.EventID, c.RewardID
		amounts[i], currencies[i], saleAmounts[i] = c.AmountCents, c.Currency, c.SaleAmountCents
		payables[i], occurred[i] = c.PayableAt.UTC().Format(time.RFC3339Nano), c.OccurredAt.UTC().Format(time.RFC3339Nano)
		types[i], ivals[i], bps[i], flats[i] = c.RewardType, c.RewardInterval, c.RewardPercentBP, c.RewardAmountCents
		if c.RewardDurationMonths != nil {
			d := int64(*c.RewardDurationMonths)
			durations[i] = &d
		}
	}
	eIDs, eWss, eTypes, ePayloads, eAts := webhookArrays(events)
	sWss, sPrograms, sPartners, sCurrencies, sAmounts := saleStatArrays(sales)
	var count int
	err := tx.get(ctx, &count, RecordCommissionsSQL,
		pq.Array(ids), pq.Array(wss), pq.Array(programs), pq.Array(partners), pq.Array(customers), pq.Array(eventIDs),
		pq.Array(rewardIDs), pq.Array(amounts), pq.Array(currencies), pq.Array(payables), pq.Array(types), pq.Array(bps),
		pq.Array(flats), pq.Array(ivals), pq.Array(durations), pq.Array(saleAmounts), pq.Array(occurred),
		eIDs, eWss, eTypes, ePayloads, eAts, sWss, sPrograms, sPartners, sCurrencies, sAmounts)
	if err != nil {
		return fmt.Errorf("store: record commissions: %w", err)
	}
	return nil
}

const markProgramsVerifiedSQL = `
	WITH i AS (SELECT * FROM unnest($1::text[], $2::text[]) AS i (workspace_id, id)),
	upd AS (
		UPDATE programs p SET verified_at = now() FROM i
		WHERE p.workspace_id = i.workspace_id AND p.id = i.id AND p.verified_at IS NULL
		RETURNING p.id
	)
	SELECT i.id FROM i WHERE i.id NOT IN (SELECT id FROM upd)`

// MarkProgramsVerified is MarkProgramVerified for the programs of a batch
// (pairs of workspace and program ids); it returns the programs that were
// verified already (nothing written for them).
func (tx *SaleTx) MarkProgramsVerified(ctx context.Context, wss, programs []string) ([]string, error) {
	var already []string
	err := tx.sel(ctx, &already, markProgramsVerifiedSQL, pq.Array(wss), pq.Array(programs))
	if err != nil {
		return nil, fmt.Errorf("store: mark programs verified: %w", err)
	}
	return already, nil
}
