-- +goose Up
-- Keys a sharded PostgreSQL (Citus) can distribute by tenant.
--
-- 1. Every table that holds a workspace's rows is keyed (workspace_id, id),
--    and every unique and foreign key between such tables includes
--    workspace_id. Until now most tables had PRIMARY KEY (id) and
--    UNIQUE (workspace_id, id): two indexes on every insert, one of them
--    global. Now there is one.
-- 2. What is looked up across workspaces has a small table of its own,
--    keyed by what is looked up and written in the same transaction as its
--    owner row: a link's slug, an API key's hash, a sign-in email, an
--    invitation's token, a connected Stripe account. Their workspace column
--    is named "workspace", not workspace_id: they are global tables (on
--    Citus, reference tables), found by their key, not by tenant.

-- (1) Primary keys. The foreign keys that point at the tenant tables'
-- (workspace_id, id) keys are kept aside, dropped with those keys, and made
-- again against the new primary keys.
CREATE TEMP TABLE kept_fks ON COMMIT DROP AS
SELECT co.conrelid::regclass::text AS tbl, co.conname AS name, pg_get_constraintdef(co.oid) AS def
FROM pg_constraint co
JOIN pg_constraint uq ON uq.conindid = co.conindid AND uq.contype IN ('u', 'p') AND uq.conrelid = co.confrelid
WHERE co.contype = 'f' AND uq.conname LIKE '%\_workspace\_id\_id\_key';

-- +goose StatementBegin
DO $$
DECLARE
    t text;
    fk record;
BEGIN
    FOREACH t IN ARRAY ARRAY['programs', 'partner_groups', 'rewards', 'partners', 'partner_invites', 'customers',
        'events', 'payouts', 'commissions', 'webhook_endpoints', 'webhook_deliveries', 'mail_outbox', 'user_invites'] LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT IF EXISTS %I CASCADE', t, t || '_workspace_id_id_key');
    END LOOP;
    FOREACH t IN ARRAY ARRAY['users', 'api_keys', 'programs', 'partner_groups', 'rewards', 'partners', 'partner_invites',
        'clicks', 'customers', 'events', 'payouts', 'commissions', 'commission_history', 'webhook_events',
        'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'mail_outbox', 'user_invites'] LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I CASCADE', t, t || '_pkey');
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (workspace_id, id)', t);
    END LOOP;
    FOR fk IN SELECT * FROM kept_fks LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- A delivery's event, and the one delivery per endpoint and event, within the workspace.
ALTER TABLE webhook_deliveries DROP CONSTRAINT IF EXISTS webhook_deliveries_event_id_fkey,
    DROP CONSTRAINT webhook_deliveries_endpoint_id_event_id_key,
    ADD CONSTRAINT webhook_deliveries_event_fkey FOREIGN KEY (workspace_id, event_id)
        REFERENCES webhook_events (workspace_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT webhook_deliveries_endpoint_event_key UNIQUE (workspace_id, endpoint_id, event_id);

-- Stripe events are recorded under the workspace they were routed to.
DELETE FROM stripe_events WHERE workspace_id IS NULL;
ALTER TABLE stripe_events ALTER COLUMN workspace_id SET NOT NULL,
    DROP CONSTRAINT stripe_events_pkey, ADD PRIMARY KEY (workspace_id, id);

-- Sessions and mailed account links are global (a partner's belongs to no
-- workspace): no foreign key from them into a workspace's users (removing
-- a user deletes them). A user's carry the user's workspace, so that the
-- user is found in one workspace.
ALTER TABLE sessions DROP CONSTRAINT IF EXISTS sessions_user_id_fkey, ADD COLUMN workspace text;
UPDATE sessions s SET workspace = u.workspace_id FROM users u WHERE u.id = s.user_id;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_workspace CHECK ((user_id IS NULL) = (workspace IS NULL));
ALTER TABLE account_tokens DROP CONSTRAINT IF EXISTS account_tokens_user_id_fkey, ADD COLUMN workspace text;
UPDATE account_tokens t SET workspace = u.workspace_id FROM users u WHERE u.id = t.user_id;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_user_workspace CHECK ((user_id IS NULL) = (workspace IS NULL));

-- (2) Global look-ups.
CREATE TABLE partner_slugs (
    slug        text PRIMARY KEY CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    workspace   text NOT NULL,
    partner_id  text NOT NULL
);
INSERT INTO partner_slugs (slug, workspace, partner_id) SELECT slug, workspace_id, id FROM partners;
ALTER TABLE partners DROP CONSTRAINT partners_slug_key;
CREATE INDEX partners_slug_idx ON partners (workspace_id, slug);

CREATE TABLE api_key_hashes (
    hash       bytea PRIMARY KEY,
    workspace  text NOT NULL,
    key_id     text NOT NULL
);
INSERT INTO api_key_hashes (hash, workspace, key_id) SELECT hash, workspace_id, id FROM api_keys;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_hash_key;

CREATE TABLE user_emails (
    email      text PRIMARY KEY CHECK (email = lower(email)),
    workspace  text NOT NULL,
    user_id    text NOT NULL
);
INSERT INTO user_emails (email, workspace, user_id) SELECT lower(email), workspace_id, id FROM users;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (workspace_id, lower(email));

CREATE TABLE invite_tokens (
    token_hash  bytea PRIMARY KEY,
    workspace   text NOT NULL,
    invite_id   text NOT NULL
);
INSERT INTO invite_tokens (token_hash, workspace, invite_id) SELECT token_hash, workspace_id, id FROM partner_invites;
ALTER TABLE partner_invites DROP CONSTRAINT partner_invites_token_hash_key;
-- Teammates' invitations too (their ids tell the two kinds apart).
INSERT INTO invite_tokens (token_hash, workspace, invite_id) SELECT token_hash, workspace_id, id FROM user_invites;
ALTER TABLE user_invites DROP CONSTRAINT user_invites_token_hash_key;

CREATE TABLE stripe_accounts (
    account_id  text PRIMARY KEY,
    workspace   text NOT NULL
);
INSERT INTO stripe_accounts (account_id, workspace) SELECT account_id, workspace_id FROM stripe_connections WHERE account_id IS NOT NULL;
ALTER TABLE stripe_connections DROP CONSTRAINT stripe_connections_account_id_key;

-- Partners' Express accounts were looked up globally already: a look-up table.
ALTER TABLE stripe_payout_accounts RENAME COLUMN workspace_id TO workspace;

-- +goose Down
ALTER TABLE stripe_payout_accounts RENAME COLUMN workspace TO workspace_id;
ALTER TABLE stripe_connections ADD CONSTRAINT stripe_connections_account_id_key UNIQUE (account_id);
DROP TABLE stripe_accounts;
ALTER TABLE user_invites ADD CONSTRAINT user_invites_token_hash_key UNIQUE (token_hash);
ALTER TABLE partner_invites ADD CONSTRAINT partner_invites_token_hash_key UNIQUE (token_hash);
DROP TABLE invite_tokens;
DROP INDEX users_email_key;
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
DROP TABLE user_emails;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_hash_key UNIQUE (hash);
DROP TABLE api_key_hashes;
DROP INDEX partners_slug_idx;
ALTER TABLE partners ADD CONSTRAINT partners_slug_key UNIQUE (slug);
DROP TABLE partner_slugs;

ALTER TABLE account_tokens DROP CONSTRAINT account_tokens_user_workspace, DROP COLUMN workspace;
ALTER TABLE sessions DROP CONSTRAINT sessions_user_workspace, DROP COLUMN workspace;

ALTER TABLE stripe_events DROP CONSTRAINT stripe_events_pkey, ADD PRIMARY KEY (id), ALTER COLUMN workspace_id DROP NOT NULL;

ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_event_fkey,
    DROP CONSTRAINT webhook_deliveries_endpoint_event_key,
    ADD CONSTRAINT webhook_deliveries_endpoint_id_event_id_key UNIQUE (endpoint_id, event_id);

CREATE TEMP TABLE kept_fks ON COMMIT DROP AS
SELECT co.conrelid::regclass::text AS tbl, co.conname AS name, pg_get_constraintdef(co.oid) AS def
FROM pg_constraint co
JOIN pg_constraint pk ON pk.conindid = co.conindid AND pk.contype = 'p' AND pk.conrelid = co.confrelid
WHERE co.contype = 'f';

-- +goose StatementBegin
DO $$
DECLARE
    t text;
    fk record;
BEGIN
    FOREACH t IN ARRAY ARRAY['users', 'api_keys', 'programs', 'partner_groups', 'rewards', 'partners', 'partner_invites',
        'clicks', 'customers', 'events', 'payouts', 'commissions', 'commission_history', 'webhook_events',
        'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'mail_outbox', 'user_invites'] LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I CASCADE', t, t || '_pkey');
        EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (id)', t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['programs', 'partner_groups', 'rewards', 'partners', 'partner_invites', 'customers',
        'events', 'payouts', 'commissions', 'webhook_endpoints', 'webhook_deliveries', 'mail_outbox', 'user_invites'] LOOP
        EXECUTE format('ALTER TABLE %I ADD CONSTRAINT %I UNIQUE (workspace_id, id)', t, t || '_workspace_id_id_key');
    END LOOP;
    FOR fk IN SELECT * FROM kept_fks k WHERE NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = k.name AND c.conrelid = k.tbl::regclass) LOOP
        EXECUTE format('ALTER TABLE %s ADD CONSTRAINT %I %s', fk.tbl, fk.name, fk.def);
    END LOOP;
END
$$;
-- +goose StatementEnd
ALTER TABLE webhook_deliveries ADD CONSTRAINT webhook_deliveries_event_id_fkey FOREIGN KEY (event_id)
    REFERENCES webhook_events (id) ON DELETE CASCADE;
ALTER TABLE account_tokens ADD CONSTRAINT account_tokens_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
ALTER TABLE sessions ADD CONSTRAINT sessions_user_id_fkey FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE;
