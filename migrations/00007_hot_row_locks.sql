-- +goose Up
-- A foreign-key check locks the referenced row (FOR KEY SHARE) until the
-- transaction ends. customers, events and webhook_events referenced
-- workspaces directly, so every tracked sale locked its workspace's one row,
-- and concurrent sales shared that lock: PostgreSQL records a row locked by
-- several transactions as a multixact, a new one each time a locker joins,
-- and at a few hundred sales per second the multixact storage became a
-- bottleneck that stalled commits for hundreds of milliseconds (measured
-- 2026-11-25 with partli-bench on a 2-core AMD EPYC VM, 24 GB RAM,
-- PostgreSQL 15.18: about one multixact per two sales).
--
-- These tables are written only by the pipelines, with the workspace of the
-- authenticated API key, and Partli deletes no workspaces. Their rows still
-- reference their partner, customer and event in the same workspace through
-- composite keys, and commissions keep every foreign key: the money stays
-- tied to the partner, customer and sale it is for.
ALTER TABLE customers DROP CONSTRAINT customers_workspace_id_fkey;
ALTER TABLE events DROP CONSTRAINT events_workspace_id_fkey;
ALTER TABLE webhook_events DROP CONSTRAINT webhook_events_workspace_id_fkey;

-- +goose Down
ALTER TABLE customers ADD CONSTRAINT customers_workspace_id_fkey
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
ALTER TABLE events ADD CONSTRAINT events_workspace_id_fkey
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
ALTER TABLE webhook_events ADD CONSTRAINT webhook_events_workspace_id_fkey
    FOREIGN KEY (workspace_id) REFERENCES workspaces (id) ON DELETE CASCADE;
