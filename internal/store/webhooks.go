package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"
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

// webhookFanOutSQL inserts the deliveries of the events returned
// (fanOutReturning) by a preceding data-modifying CTE named w, to be used
// as a CTE of the same statement: one per enabled endpoint of the event's
// workspace whose events include its type. The endpoints are locked FOR KEY
// SHARE (what the deliveries' foreign key takes anyway), skipping any that
// a concurrent DELETE holds: an endpoint being deleted gets no delivery,
// rather than the event's writer waiting for the deletion and then failing
// on the foreign key. Other changes to an endpoint (disabling it, its
// failure count) do not conflict with that lock and are not waited for.
// Delivery ids are made here, not by ids.New, and both the id's time and
// created_at come from the event's row as written (its dispatched_at, the
// statement's now()): one value wherever the row is evaluated, which on
// Citus is not one node (the coordinator writes the events, a worker may
// run this select). No SQL comments and no parameters: the benchmark runs
// RecordCommissionsSQL as one line and numbers its parameters.
var webhookFanOutSQL = `
			INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id, created_at)
			SELECT 'dlv_' || ` + idTimeSQL("w.id_ms") + ` || ` + idRandomSQL + `,
				e.workspace_id, e.id, w.id, w.dispatched_at
			FROM w JOIN webhook_endpoints e ON e.workspace_id = w.workspace_id AND e.enabled AND w.type = ANY (e.events)
			` + fanOutLock + `
			ON CONFLICT (workspace_id, endpoint_id, event_id) DO NOTHING`

// fanOutReturning is what the CTE w of webhookFanOutSQL returns of the
// events it writes: id_ms is dispatched_at as an id's time (idMillisSQL),
// computed once per event rather than once per delivery. Its functions are
// immutable (Citus evaluates RETURNING on the shards).
var fanOutReturning = `RETURNING id, workspace_id, type, dispatched_at, ` + idMillisSQL("dispatched_at") + ` AS id_ms`

// idAlphabet is the ids' base32 alphabet (package ids).
const idAlphabet = `'0123456789abcdefghjkmnpqrstvwxyz'`

// idMillisSQL is the SQL bigint of a timestamptz expression t that
// idTimeSQL encodes: t's Unix milliseconds (rounded down, as
// time.UnixMilli), shifted left by 2 bits.
func idMillisSQL(t string) string {
	return `(floor(extract(epoch FROM ` + t + ` AT TIME ZONE 'UTC') * 1000)::bigint << 2)`
}

// idTimeSQL is the 10 characters of an id's time (the layout of ids.At:
// the milliseconds as the first 48 of 130 bits, the 10th character padded
// with 2 zero bits) from ms, an idMillisSQL value: plain bigint arithmetic,
// so it costs little per row.
func idTimeSQL(ms string) string {
	chars := make([]string, 10)
	for i := range chars {
		chars[i] = fmt.Sprintf(`substr(%s, ((%s >> %d) & 31)::int + 1, 1)`, idAlphabet, ms, 45-5*i)
	}
	return strings.Join(chars, ` || `)
}

// idRandomSQL is the 16 characters after an id's time: hex digits
// (characters of the ids' alphabet) of a random UUID's random half, made
// per row.
const idRandomSQL = `substr(encode(uuid_send(gen_random_uuid()), 'hex'), 17, 16)`

// newIDSQL is an SQL expression making a new id with prefix inside a
// statement, in the layout of ids.At: prefix and "_", then the creation
// time (the statement's now()) as idTimeSQL encodes it, computed once per
// statement and only when there is a row to write, then idRandomSQL. So
// they sort by time as the ids made in Go do.
func newIDSQL(prefix string) string {
	return `(SELECT '` + prefix + `_' || ` + idTimeSQL("ms") + ` FROM (SELECT ` + idMillisSQL("now()") + ` AS ms) t)
				|| ` + idRandomSQL
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
	// Two statements in one transaction: Citus cannot run the pair as one
	// statement of data-modifying CTEs.
	err := q.atomically(ctx, func(q Queries) error {
		err := q.get(ctx, e, `
			UPDATE webhook_endpoints SET url = $3, events = $4, enabled = $5,
				consecutive_failures = CASE WHEN $5 AND NOT enabled THEN 0 ELSE consecutive_failures END,
				disabled_reason = CASE WHEN $5 THEN '' WHEN enabled THEN $6 ELSE disabled_reason END,
				disabled_at = CASE WHEN $5 THEN NULL WHEN enabled THEN $7::timestamptz ELSE disabled_at END,
				updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+webhookEndpointCols,
			e.WorkspaceID, e.ID, e.URL, pq.Array([]string(e.Events)), e.Enabled, disabledReason, time.Now().UTC())
		if err != nil || e.Enabled {
			return err
		}
		_, err = q.exec(ctx, `
			UPDATE webhook_deliveries SET status = 'failed', leased_until = NULL, updated_at = now()
			WHERE workspace_id = $1 AND endpoint_id = $2 AND status = 'pending'`, e.WorkspaceID, e.ID)
		return err
	})
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
