-- +goose Up
-- Refunds reported through the API may carry the merchant's own refund id;
-- the database makes a repeat of that id a no-op.
CREATE TABLE refund_keys (
    workspace_id  text NOT NULL,
    event_id      text NOT NULL,
    refund_id     text NOT NULL CHECK (length(refund_id) BETWEEN 1 AND 255),
    amount_cents  bigint NOT NULL CHECK (amount_cents >= 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, event_id, refund_id),
    FOREIGN KEY (workspace_id, event_id) REFERENCES events (workspace_id, id) ON DELETE CASCADE
);

-- +goose Down
DROP TABLE refund_keys;
