-- Outbound webhook delivery: leases, secret rotation, and the per-endpoint delivery log.

-- +goose Up
-- A worker leases a delivery while it sends it: leased_until is both the
-- lease's end and its token (the outcome is written only while it matches).
ALTER TABLE webhook_deliveries ADD COLUMN leased_until timestamptz;
-- Disabling an endpoint cancels its pending deliveries; this finds them.
CREATE INDEX webhook_deliveries_pending_endpoint_idx ON webhook_deliveries (workspace_id, endpoint_id)
    WHERE status = 'pending';

-- After a rotation the old secret also signs deliveries for a day, so a
-- receiver can switch secrets without rejecting anything in between.
ALTER TABLE webhook_endpoints
    ADD COLUMN previous_secret text NOT NULL DEFAULT '',
    ADD COLUMN previous_secret_expires_at timestamptz,
    ADD COLUMN disabled_at timestamptz;

-- The delivery log is read per endpoint, newest first.
ALTER TABLE webhook_attempts ADD COLUMN endpoint_id text;
UPDATE webhook_attempts a SET endpoint_id = d.endpoint_id
    FROM webhook_deliveries d WHERE d.workspace_id = a.workspace_id AND d.id = a.delivery_id;
ALTER TABLE webhook_attempts ALTER COLUMN endpoint_id SET NOT NULL;
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (workspace_id, endpoint_id, created_at DESC, id DESC);

-- +goose Down
DROP INDEX webhook_attempts_endpoint_idx;
ALTER TABLE webhook_attempts DROP COLUMN endpoint_id;
ALTER TABLE webhook_endpoints DROP COLUMN previous_secret, DROP COLUMN previous_secret_expires_at,
    DROP COLUMN disabled_at;
DROP INDEX webhook_deliveries_pending_endpoint_idx;
ALTER TABLE webhook_deliveries DROP COLUMN leased_until;
