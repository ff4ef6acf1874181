-- +goose Up
-- clicks is the busiest table: an append-only log of referral visits,
-- written by /r/{slug} in batches. Two of its constraints cost every click
-- and protect nothing:
--   * UNIQUE (workspace_id, id): nothing references clicks by it; the
--     primary key keeps ids unique.
--   * the foreign key to partners: it runs a trigger per click that locks
--     the partner's row (FOR KEY SHARE), so concurrent batches of one
--     popular partner's clicks contend on one row (multixacts) and each
--     click writes that lock to the WAL. Clicks are only ever written by
--     the statement that resolves the slug to an approved partner, in the
--     same snapshot, and Partli deletes no partners.
ALTER TABLE clicks DROP CONSTRAINT clicks_workspace_id_id_key;
ALTER TABLE clicks DROP CONSTRAINT clicks_workspace_id_partner_id_fkey;

-- +goose Down
ALTER TABLE clicks ADD CONSTRAINT clicks_workspace_id_partner_id_fkey
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id) ON DELETE CASCADE;
ALTER TABLE clicks ADD CONSTRAINT clicks_workspace_id_id_key UNIQUE (workspace_id, id);
