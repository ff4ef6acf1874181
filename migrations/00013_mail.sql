-- +goose Up
-- Mail: an outbox written in the same transaction as what each message
-- reports, and sent by a worker on every replica (internal/email). One row is
-- one message. The row keeps what renders the message (kind and data), not
-- the rendered text: the worker renders it when it sends, and records the
-- subject it sent. Links that sign someone in or set a password are never
-- stored: their tokens are derived from the row ids they point at with a key
-- of the server's (internal/email's Links), and only the tokens' SHA-256 is
-- kept, in the tables of what they open.
--
-- workspace_id is '' for mail about a portal account rather than one
-- workspace (a partner's password reset, the daily digest across programs):
-- it is listed in no workspace's Settings → Email.
--
-- No foreign keys: a row is written inside hot transactions (a new
-- commission's mail is written in the sale's statement), and a foreign key
-- would lock the rows it points at.
CREATE TABLE mail_outbox (
    id               text PRIMARY KEY,
    workspace_id     text NOT NULL DEFAULT '',
    kind             text NOT NULL,
    recipient        text NOT NULL,
    recipient_name   text NOT NULL DEFAULT '',
    data             jsonb NOT NULL DEFAULT '{}',
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    -- While a worker sends the row it holds a lease: next_attempt_at moves
    -- to the lease's end, and the outcome is recorded only while the row
    -- still carries it.
    leased_until     timestamptz,
    subject          text NOT NULL DEFAULT '',
    message_id       text NOT NULL DEFAULT '',
    last_error       text NOT NULL DEFAULT '',
    sent_at          timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);
CREATE INDEX mail_outbox_due_idx ON mail_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX mail_outbox_workspace_idx ON mail_outbox (workspace_id, created_at DESC, id DESC);

-- What a recipient turned off, by address (lower case) and kind: no row is
-- "send it". 'digest' (new commissions only) gathers a day's commissions in
-- one message; digest_from is where the next digest starts.
CREATE TABLE mail_preferences (
    address      text NOT NULL,
    kind         text NOT NULL,
    choice       text NOT NULL CHECK (choice IN ('off', 'digest')),
    digest_from  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (address, kind),
    CHECK ((choice = 'digest') = (digest_from IS NOT NULL)),
    CHECK (choice <> 'digest' OR kind = 'commission_created')
);
CREATE INDEX mail_preferences_digest_idx ON mail_preferences (digest_from) WHERE choice = 'digest';

-- Single-use links that prove an email address: password resets of
-- dashboard users and portal accounts, and the verification of portal
-- accounts made by the application form. Like sessions, keyed by what is
-- looked up (the token's SHA-256).
CREATE TABLE account_tokens (
    id          text PRIMARY KEY,
    purpose     text NOT NULL CHECK (purpose IN ('password_reset', 'email_verification')),
    user_id     text REFERENCES users (id) ON DELETE CASCADE,
    account_id  text REFERENCES partner_accounts (id) ON DELETE CASCADE,
    token_hash  bytea NOT NULL UNIQUE,
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (account_id IS NULL))
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose, created_at) WHERE user_id IS NOT NULL;
CREATE INDEX account_tokens_account_idx ON account_tokens (account_id, purpose, created_at) WHERE account_id IS NOT NULL;

-- Teammates are invited by email (owner or finance) and choose their own
-- password through the link.
CREATE TABLE user_invites (
    id           text PRIMARY KEY,
    workspace_id text NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    email        text NOT NULL,
    role         text NOT NULL CHECK (role IN ('owner', 'finance')),
    token_hash   bytea NOT NULL UNIQUE,
    invited_by   text,
    expires_at   timestamptz NOT NULL,
    accepted_at  timestamptz,
    revoked_at   timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);
CREATE INDEX user_invites_workspace_idx ON user_invites (workspace_id, created_at DESC, id DESC);

-- A secret shown once after a POST (a new API key, a webhook secret, an
-- invite link) is carried to the page the browser is redirected to in its
-- session, sealed with a key derived from the session's cookie token (which
-- the server never stores), and taken from it when shown.
ALTER TABLE sessions ADD COLUMN flash_kind text, ADD COLUMN flash bytea;

-- The daily digest gathers the commissions of every partner with an address.
CREATE INDEX partners_email_idx ON partners (lower(email));

-- Accounts made by the application form cannot sign in until their address
-- is proven from now on: their sessions end.
DELETE FROM sessions s USING partner_accounts a WHERE s.account_id = a.id AND a.email_verified_at IS NULL;

-- +goose Down
DROP INDEX partners_email_idx;
ALTER TABLE sessions DROP COLUMN flash, DROP COLUMN flash_kind;
DROP TABLE user_invites;
DROP TABLE account_tokens;
DROP TABLE mail_preferences;
DROP TABLE mail_outbox;
