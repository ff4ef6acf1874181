package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/ids"
)

// Outbound webhooks: endpoints, the fan-out of outbox events into
// deliveries, the claiming of due deliveries by any number of workers, and
// the delivery log.
//
// Fan-out happens at write time: every statement that inserts outbox events
// (webhook_events) inserts them already dispatched (dispatched_at = now())
// and, in the same statement, one pending delivery per enabled endpoint of
// the event's workspace subscribed to its type (webhookFanOutSQL). An event
// thus costs one heap tuple and its index entries, and nothing more when
// the workspace has no endpoints; an endpoint receives the events written
// while it is enabled and subscribed, not those written before it existed.
// (Events that versions before write-time fan-out left undispatched are
// fanned out once by migration 00019.)

// webhookFanOutSQL inserts the deliveries of the events returned (id,
// workspace_id, type) by a preceding data-modifying CTE named w, to be used
// as a CTE of the same statement: one per enabled endpoint of the event's
// workspace whose events include its type. The endpoints are locked FOR KEY
// SHARE (what the deliveries' foreign key takes anyway), skipping any that
// a concurrent DELETE holds: an endpoint being deleted gets no delivery,
// rather than the event's writer waiting for the deletion and then failing
// on the foreign key. Other changes to an endpoint (disabling it, its
// failure count) do not conflict with that lock and are not waited for.
// Delivery ids are made here (newIDSQL), not by ids.New. No SQL comments
// and no parameters: the benchmark runs RecordCommissionsSQL as one line and
// numbers its parameters.
var webhookFanOutSQL = `
			INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id)
			SELECT ` + newIDSQL("dlv") + `,
				e.workspace_id, e.id, w.id
			FROM w JOIN webhook_endpoints e ON e.workspace_id = w.workspace_id AND e.enabled AND w.type = ANY (e.events)
			` + fanOutLock + `
			ON CONFLICT (workspace_id, endpoint_id, event_id) DO NOTHING`

// newIDSQL is an SQL expression making a new id with prefix inside a
// statement, in the layout of ids.At: prefix and "_", then the creation
// time (the statement's now()) in milliseconds as the first 48 of 130 bits
// in the ids' base32 alphabet (10 characters, the last padded with 2 zero
// bits), computed once per statement and only when there is a row to
// write, then 16 hex digits (characters of the same alphabet) of a random
// UUID's random half, made per row. So they sort by time as the ids made in
// Go do.
func newIDSQL(prefix string) string {
	return `(SELECT '` + prefix + `_' || string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz',
						(((floor(extract(epoch FROM now()) * 1000)::bigint << 2) >> (45 - 5 * i)) & 31)::int + 1, 1), '' ORDER BY i)
					FROM generate_series(0, 9) i)
				|| substr(encode(uuid_send(gen_random_uuid()), 'hex'), 17, 16)`
}

// WebhookEndpoint is a URL of a workspace that receives the event types it
// subscribes to. Secret is never shown again after creation or rotation:
// it is stored sealed and read back only to sign deliveries
// (ClaimWebhookDeliveries).
type WebhookEndpoint struct {
	ID          string         `db:"id" json:"id"`
	WorkspaceID string         `db:"workspace_id" json:"-"`
	URL         string         `db:"url" json:"url"`
	Events      pq.StringArray `db:"events" json:"events"`
	// Secret is the signing secret CreateWebhookEndpoint stores; reads leave it empty.
	Secret                  string     `db:"-" json:"-"`
	PreviousSecretExpiresAt *time.Time `db:"previous_secret_expires_at" json:"-"`
	Enabled                 bool       `db:"enabled" json:"enabled"`
	ConsecutiveFailures     int        `db:"consecutive_failures" json:"-"`
	DisabledReason          string     `db:"disabled_reason" json:"disabledReason"`
	DisabledAt              *time.Time `db:"disabled_at" json:"-"`
	CreatedAt               time.Time  `db:"created_at" json:"createdAt"`
	UpdatedAt               time.Time  `db:"updated_at" json:"updatedAt"`
}

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

const webhookEndpointCols = `id, workspace_id, url, events, previous_secret_expires_at,
	enabled, consecutive_failures, disabled_reason, disabled_at, created_at, updated_at`

// CreateWebhookEndpoint inserts an endpoint (ID, WorkspaceID, URL, Events,
// Secret), its secret sealed.
func (q Queries) CreateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint) error {
	sealed, err := q.secrets.Seal(e.Secret)
	if err != nil {
		return fmt.Errorf("store: create webhook endpoint: %w", err)
	}
	err = q.get(ctx, e, `
		INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING `+webhookEndpointCols,
		e.ID, e.WorkspaceID, e.URL, pq.Array([]string(e.Events)), sealed)
	if err != nil {
		return fmt.Errorf("store: create webhook endpoint: %w", err)
	}
	return nil
}

// WebhookEndpoint returns one endpoint of the workspace.
func (q Queries) WebhookEndpoint(ctx context.Context, workspaceID, id string) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := q.get(ctx, &e, `SELECT `+webhookEndpointCols+` FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`,
		workspaceID, id)
	if err != nil {
		return nil, fmt.Errorf("store: webhook endpoint: %w", err)
	}
	return &e, nil
}

// ListWebhookEndpoints lists a workspace's endpoints, newest first.
func (q Queries) ListWebhookEndpoints(ctx context.Context, workspaceID string, page Page) ([]WebhookEndpoint, *string, error) {
	t, id := page.cursorArgs()
	var rows []WebhookEndpoint
	err := q.sel(ctx, &rows, `SELECT `+webhookEndpointCols+` FROM webhook_endpoints
		WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
		ORDER BY created_at DESC, id DESC LIMIT $4`, workspaceID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list webhook endpoints: %w", err)
	}
	rows, next := trim(page, rows, func(e WebhookEndpoint) Cursor { return Cursor{e.CreatedAt, e.ID} })
	return rows, next, nil
}

// UpdateWebhookEndpoint writes e's URL, events and enabled flag. Enabling
// clears the failure count and the disabled reason; disabling records
// disabledReason and cancels (fails) the endpoint's pending deliveries, so
// a disabled endpoint receives nothing until it is enabled again. The time
// it was disabled comes from here: Citus takes no now() inside a CASE.
func (q Queries) UpdateWebhookEndpoint(ctx context.Context, e *WebhookEndpoint, disabledReason string) error {
	err := q.get(ctx, e, `
		WITH upd AS (
			UPDATE webhook_endpoints SET url = $3, events = $4, enabled = $5,
				consecutive_failures = CASE WHEN $5 AND NOT enabled THEN 0 ELSE consecutive_failures END,
				disabled_reason = CASE WHEN $5 THEN '' WHEN enabled THEN $6 ELSE disabled_reason END,
				disabled_at = CASE WHEN $5 THEN NULL WHEN enabled THEN $7::timestamptz ELSE disabled_at END,
				updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+webhookEndpointCols+`
		), cancelled AS (
			UPDATE webhook_deliveries SET status = 'failed', leased_until = NULL, updated_at = now()
			WHERE NOT $5 AND workspace_id = $1 AND endpoint_id = $2 AND status = 'pending'
		)
		SELECT * FROM upd`,
		e.WorkspaceID, e.ID, e.URL, pq.Array([]string(e.Events)), e.Enabled, disabledReason, time.Now().UTC())
	if err != nil {
		return fmt.Errorf("store: update webhook endpoint: %w", err)
	}
	return nil
}

// DeleteWebhookEndpoint deletes an endpoint with its deliveries and their log.
func (q Queries) DeleteWebhookEndpoint(ctx context.Context, workspaceID, id string) error {
	n, err := q.exec(ctx, `DELETE FROM webhook_endpoints WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("store: delete webhook endpoint: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: delete webhook endpoint: %w", ErrNotFound)
	}
	return nil
}

// RotateWebhookSecret replaces an endpoint's secret; the old one keeps
// signing (alongside the new one) for overlap.
func (q Queries) RotateWebhookSecret(ctx context.Context, workspaceID, id, secret string, overlap time.Duration) error {
	sealed, err := q.secrets.Seal(secret)
	if err != nil {
		return fmt.Errorf("store: rotate webhook secret: %w", err)
	}
	n, err := q.exec(ctx, `
		UPDATE webhook_endpoints SET previous_secret = secret,
			previous_secret_expires_at = now() + $4 * interval '1 millisecond',
			secret = $3, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`, workspaceID, id, sealed, overlap.Milliseconds())
	if err != nil {
		return fmt.Errorf("store: rotate webhook secret: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: rotate webhook secret: %w", ErrNotFound)
	}
	return nil
}

// ClaimWebhookDeliveries leases up to limit due pending deliveries of
// enabled endpoints for lease: their next_attempt_at moves to the lease's
// end, so no other worker takes them while this one sends, and no row lock
// is held during the HTTP call. A worker that dies loses its lease, and the
// delivery becomes due again when the lease ends.
func (q Queries) ClaimWebhookDeliveries(ctx context.Context, limit int, lease time.Duration) ([]ClaimedDelivery, error) {
	wss, err := q.dueWorkspaces(ctx, `SELECT DISTINCT workspace_id FROM webhook_deliveries
		WHERE status = 'pending' AND next_attempt_at <= now() LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("store: claim webhook deliveries: %w", err)
	}
	var rows []ClaimedDelivery
	for _, ws := range wss {
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
				CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret ELSE '' END AS previous_secret`,
			limit-len(rows), lease.Milliseconds(), ws)
		if err != nil {
			return nil, fmt.Errorf("store: claim webhook deliveries: %w", err)
		}
		if rows = append(rows, some...); len(rows) >= limit {
			break
		}
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

// disableWebhookEndpoint disables an enabled endpoint and cancels its
// pending deliveries, returning its URL; "" when it was not enabled.
func (tx *Tx) disableWebhookEndpoint(ctx context.Context, workspaceID, id, reason string) (string, error) {
	var url string
	err := tx.get(ctx, &url, `UPDATE webhook_endpoints SET enabled = false, disabled_reason = $3,
			disabled_at = now(), updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND enabled RETURNING url`, workspaceID, id, reason)
	if errors.Is(err, ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	_, err = tx.exec(ctx, `UPDATE webhook_deliveries SET status = 'failed', leased_until = NULL, updated_at = now()
		WHERE workspace_id = $1 AND endpoint_id = $2 AND status = 'pending'`, workspaceID, id)
	if err != nil {
		return "", err
	}
	return url, nil
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
