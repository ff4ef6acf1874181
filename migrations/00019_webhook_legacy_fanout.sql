-- +goose Up
-- Outbox events are fanned out into their deliveries by the statement that
-- writes them, and written already dispatched (store.webhookFanOutSQL).
-- Versions of Partli before that (November 2026) wrote them undispatched,
-- for a poller of the webhook worker to fan out; the poller is gone, so this
-- fans out, once, any such event still waiting: one pending delivery per
-- enabled endpoint of the event's workspace subscribed to its type, as the
-- poller did, and the event marked dispatched. Delivery ids are made as
-- store.newIDSQL makes them. The index the poller read goes too.
WITH ev AS (
    SELECT id, workspace_id, type FROM webhook_events WHERE dispatched_at IS NULL
), d AS (
    INSERT INTO webhook_deliveries (id, workspace_id, endpoint_id, event_id)
    SELECT (SELECT 'dlv_' || string_agg(substr('0123456789abcdefghjkmnpqrstvwxyz',
                (((floor(extract(epoch FROM now()) * 1000)::bigint << 2) >> (45 - 5 * i)) & 31)::int + 1, 1), '' ORDER BY i)
            FROM generate_series(0, 9) i)
        || substr(encode(uuid_send(gen_random_uuid()), 'hex'), 17, 16),
        e.workspace_id, e.id, ev.id
    FROM ev JOIN webhook_endpoints e ON e.workspace_id = ev.workspace_id AND e.enabled AND ev.type = ANY (e.events)
    ON CONFLICT (workspace_id, endpoint_id, event_id) DO NOTHING
)
UPDATE webhook_events w SET dispatched_at = now()
FROM ev WHERE w.workspace_id = ev.workspace_id AND w.id = ev.id;

DROP INDEX webhook_events_undispatched_idx;

-- +goose Down
CREATE INDEX webhook_events_undispatched_idx ON webhook_events (created_at) WHERE dispatched_at IS NULL;
