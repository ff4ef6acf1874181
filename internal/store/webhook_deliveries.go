package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/partli/partli/internal/ids"
)

// Outbound webhooks' deliveries (webhooks.go has the endpoints and the
// fan-out): claiming due ones, recording each attempt, the delivery log,
// resending, and the outbox's depth.

// WebhookDelivery is one event on its way to one endpoint, with a summary of
// its latest attempt.
type WebhookDelivery struct {
	ID            string     `db:"id" json:"id"`
	WorkspaceID   string     `db:"workspace_id" json:"-"`
	EndpointID    string     `db:"endpoint_id" json:"endpointId"`
	EventID       string     `db:"event_id" json:"eventId"`
	EventType     string     `db:"event_type" json:"eventType"`
	Status        string     `db:"status" json:"status"` // pending | succeeded | failed
	Attempts      int        `db:"attempts" json:"attempts"`
	NextAttemptAt time.Time  `db:"next_attempt_at" json:"nextAttemptAt"`
	LeasedUntil   *time.Time `db:"leased_until" json:"-"`
	CreatedAt     time.Time  `db:"created_at" json:"createdAt"`
	UpdatedAt     time.Time  `db:"updated_at" json:"updatedAt"`
	// The latest attempt, if any.
	LastStatusCode *int       `db:"last_status_code" json:"lastStatusCode"`
	LastError      string     `db:"last_error" json:"lastError"`
	LastAttemptAt  *time.Time `db:"last_attempt_at" json:"lastAttemptAt"`
	// Payload is the body sent; only WebhookDelivery (one row) reads it.
	Payload []byte `db:"payload" json:"-"`
}

// InFlight reports whether a worker holds the delivery's lease right now.
func (d *WebhookDelivery) InFlight(now time.Time) bool {
	return d.LeasedUntil != nil && d.LeasedUntil.After(now)
}

// WebhookAttempt is one HTTP request of a delivery: the delivery log's line.
type WebhookAttempt struct {
	ID           int64     `db:"id" json:"id"`
	WorkspaceID  string    `db:"workspace_id" json:"-"`
	DeliveryID   string    `db:"delivery_id" json:"deliveryId"`
	EndpointID   string    `db:"endpoint_id" json:"endpointId"`
	EventID      string    `db:"event_id" json:"eventId"`
	EventType    string    `db:"event_type" json:"eventType"`
	StatusCode   *int      `db:"status_code" json:"statusCode"` // nil when no reply came
	LatencyMS    int       `db:"latency_ms" json:"latencyMs"`
	ResponseBody string    `db:"response_body" json:"responseBody"` // the first bytes only
	Error        string    `db:"error" json:"error"`
	CreatedAt    time.Time `db:"created_at" json:"createdAt"`
}

// ClaimedDelivery is a delivery a worker has leased, with what sending it needs.
type ClaimedDelivery struct {
	ID          string `db:"id"`
	WorkspaceID string `db:"workspace_id"`
	EndpointID  string `db:"endpoint_id"`
	EventID     string `db:"event_id"`
	EventType   string `db:"event_type"`
	// Attempts made before this one.
	Attempts int `db:"attempts"`
	// LeasedUntil is when the lease ends and also its token: the outcome is
	// recorded only while the row still carries it.
	LeasedUntil time.Time `db:"leased_until"`
	Payload     []byte    `db:"payload"`
	URL         string    `db:"url"`
	Secret      string    `db:"secret"`
	// PreviousSecret is set while a rotated-out secret still signs ("" otherwise).
	PreviousSecret string `db:"previous_secret"`
	// SecretError, when not empty, says why the secrets could not be opened
	// (sealed under a key this process does not have): the attempt fails
	// with it instead of sending an unsigned delivery.
	SecretError string `db:"-"`
}

// ErrWebhookInFlight: the delivery is being sent right now.
var ErrWebhookInFlight = errors.New("store: webhook delivery is being sent")

// ClaimWebhookDeliveries leases up to limit due pending deliveries of
// enabled endpoints for lease: their next_attempt_at moves to the lease's
// end, so no other worker takes them while this one sends, and no row lock
// is held during the HTTP call. A worker that dies loses its lease, and the
// delivery becomes due again when the lease ends.
func (q Queries) ClaimWebhookDeliveries(ctx context.Context, limit int, lease time.Duration) ([]ClaimedDelivery, error) {
	rows, err := claimByWorkspace(ctx, q, "webhook_deliveries", "status = 'pending' AND next_attempt_at <= now()", "next_attempt_at", limit, func(ws string, n int) ([]ClaimedDelivery, error) {
		var some []ClaimedDelivery
		err := q.sel(ctx, &some, `
			UPDATE webhook_deliveries d
			SET next_attempt_at = now() + $2 * interval '1 millisecond',
				leased_until = now() + $2 * interval '1 millisecond'
			FROM (
				SELECT d2.workspace_id, d2.id FROM webhook_deliveries d2
				JOIN webhook_endpoints e2 ON e2.workspace_id = d2.workspace_id AND e2.id = d2.endpoint_id
				WHERE d2.workspace_id = $3 AND d2.status = 'pending' AND d2.next_attempt_at <= now() AND e2.enabled
				ORDER BY d2.next_attempt_at
				LIMIT $1
				FOR UPDATE OF d2 SKIP LOCKED
			) due, webhook_events ev, webhook_endpoints e
			WHERE d.workspace_id = $3 AND ev.workspace_id = $3 AND e.workspace_id = $3
			  AND d.id = due.id AND ev.id = d.event_id AND e.id = d.endpoint_id
			RETURNING d.id, d.workspace_id, d.endpoint_id, d.event_id, ev.type AS event_type, d.attempts,
				d.leased_until, ev.payload::text AS payload, e.url, e.secret,
				CASE WHEN e.previous_secret_expires_at > $4::timestamptz THEN e.previous_secret ELSE '' END AS previous_secret`,
			n, lease.Milliseconds(), ws, time.Now().UTC()) // Citus takes no now() in RETURNING
		return some, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim webhook deliveries: %w", err)
	}
	for i := range rows {
		d := &rows[i]
		var errCur, errPrev error
		d.Secret, errCur = q.secrets.Open(d.Secret)
		d.PreviousSecret, errPrev = q.secrets.Open(d.PreviousSecret)
		if err := errors.Join(errCur, errPrev); err != nil {
			d.Secret, d.PreviousSecret = "", ""
			d.SecretError = "the endpoint's signing secret cannot be opened: " + err.Error()
		}
	}
	return rows, nil
}

// Delivery outcomes.
const (
	DeliveryPending   = "pending"
	DeliverySucceeded = "succeeded"
	DeliveryFailed    = "failed"
)

// WebhookAttemptRecord is the result of sending a claimed delivery.
type WebhookAttemptRecord struct {
	Delivery     ClaimedDelivery
	StatusCode   *int
	Latency      time.Duration
	ResponseBody string
	Error        string
	// Status is the delivery's new status: succeeded, pending (retry after
	// RetryIn) or failed (no retry left).
	Status  string
	RetryIn time.Duration
	// Gone disables the endpoint at once (HTTP 410); otherwise a failure
	// disables it when its consecutive failures reach FailureLimit.
	Gone           bool
	FailureLimit   int
	DisabledReason string // recorded when this attempt disables the endpoint
}

// RecordWebhookAttempt logs an attempt and applies its outcome, in one
// statement: the delivery's status and next attempt (only while the worker
// still holds the lease), and the endpoint's failure count. When the attempt
// brings the endpoint to its failure limit, or Gone, the endpoint is then
// disabled and its pending deliveries cancelled (failed); it reports whether
// this attempt disabled it. Disabling it also mails the workspace's owners
// (MailWebhookDisabled), in the same transaction.
func (s *Store) RecordWebhookAttempt(ctx context.Context, r WebhookAttemptRecord) (disabled bool, err error) {
	d := r.Delivery
	var ep []struct {
		Failures int  `db:"consecutive_failures"`
		Enabled  bool `db:"enabled"`
	}
	// The endpoint may have been deleted meanwhile, taking the delivery with it.
	err = s.sel(ctx, &ep, `
		WITH attempt AS (
			INSERT INTO webhook_attempts (workspace_id, delivery_id, endpoint_id, status_code, latency_ms, response_body, error)
			SELECT $1::text, $2::text, $3::text, $4::int, $5::int, $6::text, $7::text
			WHERE EXISTS (SELECT 1 FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2)
		), delivery AS (
			UPDATE webhook_deliveries SET status = $9, attempts = attempts + 1, leased_until = NULL,
				next_attempt_at = CASE WHEN $9 = 'pending' THEN $11::timestamptz + $10 * interval '1 millisecond' ELSE next_attempt_at END,
				updated_at = now()
			WHERE workspace_id = $1 AND id = $2 AND leased_until = $8 AND status = 'pending'
		)
		UPDATE webhook_endpoints
		SET consecutive_failures = CASE WHEN $9 = 'succeeded' THEN 0 ELSE consecutive_failures + 1 END
		WHERE workspace_id = $1 AND id = $3 AND ($9 <> 'succeeded' OR consecutive_failures <> 0)
		RETURNING consecutive_failures, enabled`,
		d.WorkspaceID, d.ID, d.EndpointID, r.StatusCode, r.Latency.Milliseconds(), r.ResponseBody, r.Error,
		d.LeasedUntil, r.Status, r.RetryIn.Milliseconds(), time.Now().UTC()) // this process's time: Citus takes no now() inside a CASE
	if err != nil {
		return false, fmt.Errorf("store: record webhook attempt: %w", err)
	}
	if r.Status == DeliverySucceeded || len(ep) == 0 || !ep[0].Enabled ||
		!(r.Gone || (r.FailureLimit > 0 && ep[0].Failures >= r.FailureLimit)) {
		return false, nil
	}
	err = s.InTx(ctx, func(tx *Tx) error {
		url, err := tx.disableWebhookEndpoint(ctx, d.WorkspaceID, d.EndpointID, r.DisabledReason)
		if disabled = url != ""; !disabled || err != nil {
			return err
		}
		// The owners hear of it, in the transaction that disables it.
		return tx.QueueOwnersMail(ctx, d.WorkspaceID, MailWebhookDisabled,
			OwnerMail{EndpointID: d.EndpointID, URL: url, Reason: r.DisabledReason})
	})
	if err != nil {
		return false, fmt.Errorf("store: disable webhook endpoint: %w", err)
	}
	return disabled, nil
}

const webhookDeliveryCols = `d.id, d.workspace_id, d.endpoint_id, d.event_id, ev.type AS event_type, d.status,
	d.attempts, d.next_attempt_at, d.leased_until, d.created_at, d.updated_at,
	la.status_code AS last_status_code, COALESCE(la.error, '') AS last_error, la.created_at AS last_attempt_at`

const webhookDeliveryFrom = `webhook_deliveries d
	JOIN webhook_events ev ON ev.workspace_id = d.workspace_id AND ev.id = d.event_id
	LEFT JOIN LATERAL (
		SELECT status_code, error, created_at FROM webhook_attempts a
		WHERE a.workspace_id = d.workspace_id AND a.delivery_id = d.id
		ORDER BY a.id DESC LIMIT 1
	) la ON true`

// WebhookDelivery returns one delivery of the workspace, with its payload.
func (q Queries) WebhookDelivery(ctx context.Context, workspaceID, id string) (*WebhookDelivery, error) {
	var d WebhookDelivery
	err := q.get(ctx, &d, `SELECT `+webhookDeliveryCols+`, ev.payload::text AS payload FROM `+webhookDeliveryFrom+`
		WHERE d.workspace_id = $1 AND d.id = $2`, workspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("store: webhook delivery: %w", err)
	}
	return &d, nil
}

// ListWebhookDeliveries lists an endpoint's deliveries, newest first;
// status, when set, keeps only deliveries in that status.
func (q Queries) ListWebhookDeliveries(ctx context.Context, workspaceID, endpointID, status string, page Page) ([]WebhookDelivery, *string, error) {
	t, id := page.cursorArgs()
	var rows []WebhookDelivery
	err := q.sel(ctx, &rows, `SELECT `+webhookDeliveryCols+` FROM `+webhookDeliveryFrom+`
		WHERE d.workspace_id = $1 AND d.endpoint_id = $2 AND ($3 = '' OR d.status = $3)
		  AND ($4::timestamptz IS NULL OR (d.created_at, d.id) < ($4, $5))
		ORDER BY d.created_at DESC, d.id DESC LIMIT $6`, workspaceID, endpointID, status, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list webhook deliveries: %w", err)
	}
	rows, next := trim(page, rows, func(d WebhookDelivery) Cursor { return Cursor{d.CreatedAt, d.ID} })
	return rows, next, nil
}

// ListWebhookAttempts lists an endpoint's delivery log, newest first;
// deliveryID, when set, keeps only that delivery's attempts.
func (q Queries) ListWebhookAttempts(ctx context.Context, workspaceID, endpointID, deliveryID string, page Page) ([]WebhookAttempt, *string, error) {
	t, id := page.cursorArgs()
	var rows []WebhookAttempt
	err := q.sel(ctx, &rows, `
		SELECT a.id, a.workspace_id, a.delivery_id, a.endpoint_id, d.event_id, ev.type AS event_type,
			a.status_code, a.latency_ms, a.response_body, a.error, a.created_at
		FROM webhook_attempts a
		JOIN webhook_deliveries d ON d.workspace_id = a.workspace_id AND d.id = a.delivery_id
		JOIN webhook_events ev ON ev.workspace_id = d.workspace_id AND ev.id = d.event_id
		WHERE a.workspace_id = $1 AND a.endpoint_id = $2 AND ($3 = '' OR a.delivery_id = $3)
		  AND ($4::timestamptz IS NULL OR (a.created_at, a.id) < ($4, $5::bigint))
		ORDER BY a.created_at DESC, a.id DESC LIMIT $6`, workspaceID, endpointID, deliveryID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list webhook attempts: %w", err)
	}
	rows, next := trim(page, rows, func(a WebhookAttempt) Cursor {
		return Cursor{a.CreatedAt, fmt.Sprint(a.ID)}
	})
	return rows, next, nil
}

// ResendWebhookDelivery makes a delivery due now with a fresh retry
// schedule, whatever its status. A delivery that a worker is sending is
// ErrWebhookInFlight.
func (q Queries) ResendWebhookDelivery(ctx context.Context, workspaceID, id string) error {
	n, err := q.exec(ctx, `
		UPDATE webhook_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
			leased_until = NULL, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND (leased_until IS NULL OR leased_until <= now())`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("store: resend webhook delivery: %w", err)
	}
	if n == 1 {
		return nil
	}
	var exists bool
	if err := q.get(ctx, &exists, `SELECT EXISTS (SELECT 1 FROM webhook_deliveries WHERE workspace_id = $1 AND id = $2)`,
		workspaceID, id); err != nil {
		return fmt.Errorf("store: resend webhook delivery: %w", err)
	}
	if !exists {
		return fmt.Errorf("store: resend webhook delivery: %w", ErrNotFound)
	}
	return fmt.Errorf("store: resend webhook delivery: %w", ErrWebhookInFlight)
}

// CreateDirectWebhookDelivery records ev as already dispatched and queues it
// for one endpoint only (a test event), in one statement: it returns the
// delivery's ID. Endpoints subscribed to ev's type get nothing (no endpoint
// subscribes to the test event's type).
func (s *Store) CreateDirectWebhookDelivery(ctx context.Context, ev WebhookEvent, endpointID string) (string, error) {
	id := ids.New(ids.Delivery)
	_, err := s.exec(ctx, `
		WITH w AS (
			INSERT INTO webhook_events (id, workspace_id, type, payload, created_at, dispatched_at)
			VALUES ($1, $2, $3, $4, $5, now())
			RETURNING id, workspace_id
		)
		INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id)
		SELECT $6, w.workspace_id, $7, w.id FROM w`,
		ev.ID, ev.WorkspaceID, ev.Type, string(ev.Payload), ev.CreatedAt, id, endpointID)
	if err != nil {
		return "", fmt.Errorf("store: create webhook delivery: %w", err)
	}
	return id, nil
}

// OutboxDepth is one outbox's backlog: rows waiting, the age of the oldest,
// and how long the oldest due row has been due (how far its workers lag).
type OutboxDepth struct {
	Name    string        `db:"name"`
	Pending int64         `db:"pending"`
	Oldest  time.Duration `db:"-"`
	Lag     time.Duration `db:"-"`
}

// OutboxDepths reads the backlog of every outbox, across workspaces, from
// their partial indexes of pending rows (for /metrics).
func (s *Store) OutboxDepths(ctx context.Context) ([]OutboxDepth, error) {
	var rows []struct {
		Name    string  `db:"name"`
		Pending int64   `db:"pending"`
		Oldest  float64 `db:"oldest"`
		Lag     float64 `db:"lag"`
	}
	err := s.sel(ctx, &rows, `
		SELECT 'webhook' AS name, count(*) AS pending,
			coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 AS oldest,
			coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0)::float8 AS lag
		FROM webhook_deliveries WHERE status = 'pending'
		UNION ALL
		SELECT 'mail', count(*),
			coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8,
			coalesce(extract(epoch FROM now() - min(next_attempt_at) FILTER (WHERE next_attempt_at <= now())), 0)::float8
		FROM mail_outbox WHERE status = 'pending'`)
	if err != nil {
		return nil, fmt.Errorf("store: outbox depths: %w", err)
	}
	out := make([]OutboxDepth, len(rows))
	for i, r := range rows {
		out[i] = OutboxDepth{Name: r.Name, Pending: r.Pending,
			Oldest: time.Duration(r.Oldest * float64(time.Second)), Lag: time.Duration(r.Lag * float64(time.Second))}
	}
	return out, nil
}
