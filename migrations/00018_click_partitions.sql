-- +goose Up
-- Clicks, the largest table, are partitioned by month of created_at, so
-- that old clicks go by dropping whole partitions (PARTLI_CLICK_RETENTION_DAYS)
-- and recent ones stay in small indexes. The primary key carries the
-- partition key; a click is still found by its id alone, and the tracking
-- statements add the time its id was made (ids are time-ordered) so that
-- only the partitions around it are read. Every replica's maintenance
-- worker makes the partitions of the coming months ahead of time
-- (store.EnsureClickPartitions); the default partition only catches a
-- click no month partition takes, and stays empty.
ALTER TABLE clicks RENAME TO clicks_unpartitioned;
ALTER INDEX clicks_pkey RENAME TO clicks_unpartitioned_pkey;
DROP INDEX clicks_iphash_idx, clicks_partner_idx;

CREATE TABLE clicks (
    id            text NOT NULL,
    workspace_id  text NOT NULL,
    program_id    text NOT NULL,
    partner_id    text NOT NULL,
    ip_hash       bytea NOT NULL,
    user_agent    text NOT NULL DEFAULT '',
    referer       text NOT NULL DEFAULT '',
    url           text NOT NULL DEFAULT '',
    country       text NOT NULL DEFAULT '',
    city          text NOT NULL DEFAULT '',
    flags         text[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id, created_at)
) PARTITION BY RANGE (created_at);
CREATE INDEX clicks_partner_idx ON clicks (workspace_id, partner_id, created_at DESC);
-- The velocity check: recent clicks from one IP hash for one partner.
CREATE INDEX clicks_iphash_idx ON clicks (workspace_id, partner_id, ip_hash, created_at DESC);
CREATE TABLE clicks_default PARTITION OF clicks DEFAULT;

-- +goose StatementBegin
DO $$
DECLARE
    m date;
BEGIN
    FOR m IN SELECT generate_series(
            date_trunc('month', least(coalesce((SELECT min(created_at) FROM clicks_unpartitioned), now()), now())),
            date_trunc('month', now()) + interval '2 months', interval '1 month')::date LOOP
        EXECUTE format('CREATE TABLE %I PARTITION OF clicks FOR VALUES FROM (%L) TO (%L)',
            'clicks_' || to_char(m, 'YYYYMM'), m, (m + interval '1 month')::date);
    END LOOP;
END
$$;
-- +goose StatementEnd

INSERT INTO clicks SELECT id, workspace_id, program_id, partner_id, ip_hash, user_agent, referer, url, country, city, flags, created_at
FROM clicks_unpartitioned;
DROP TABLE clicks_unpartitioned;

-- +goose Down
ALTER TABLE clicks RENAME TO clicks_partitioned;
CREATE TABLE clicks (LIKE clicks_partitioned INCLUDING DEFAULTS);
INSERT INTO clicks SELECT * FROM clicks_partitioned;
DROP TABLE clicks_partitioned;
ALTER TABLE clicks ADD PRIMARY KEY (workspace_id, id);
CREATE INDEX clicks_partner_idx ON clicks (workspace_id, partner_id, created_at DESC);
CREATE INDEX clicks_iphash_idx ON clicks (workspace_id, partner_id, ip_hash, created_at DESC);
