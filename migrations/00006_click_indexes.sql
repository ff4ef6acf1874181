-- +goose Up
-- Nothing references clicks by (workspace_id, id): the primary key alone
-- keeps ids unique, and every click pays for each index it is in.
ALTER TABLE clicks DROP CONSTRAINT clicks_workspace_id_id_key;

-- +goose Down
ALTER TABLE clicks ADD CONSTRAINT clicks_workspace_id_id_key UNIQUE (workspace_id, id);
