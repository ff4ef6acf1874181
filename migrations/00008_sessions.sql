-- +goose Up
-- Sign-in sessions live on the server, so that Partli can end them: the
-- cookie carries a random token and this table keeps only its SHA-256 (a
-- copy of the table signs nobody in). A session belongs to a dashboard user
-- or to a partner-portal account. It is alive while expires_at is ahead:
-- each request moves expires_at to now + the idle timeout, never past
-- ends_at (the absolute lifetime). Signing out, setting a password,
-- changing a role and removing a user delete the person's rows.
CREATE TABLE sessions (
    id          text PRIMARY KEY,
    token_hash  bytea NOT NULL UNIQUE,
    user_id     text REFERENCES users (id) ON DELETE CASCADE,
    account_id  text REFERENCES partner_accounts (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    seen_at     timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    ends_at     timestamptz NOT NULL,
    CHECK ((user_id IS NULL) <> (account_id IS NULL)),
    CHECK (expires_at <= ends_at)
);
CREATE INDEX sessions_user_idx ON sessions (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX sessions_account_idx ON sessions (account_id) WHERE account_id IS NOT NULL;
-- Sign-ins sweep dead sessions by it.
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

-- Whether a portal account's email address was proven: by accepting an
-- invitation sent to it (later also by a mailed verification link). An
-- account made by the public application form is unproven: anyone can type
-- anyone's address there, so such an account must not keep an address from
-- its owner (an invitation to the address takes the account over).
ALTER TABLE partner_accounts ADD COLUMN email_verified_at timestamptz;
-- Accounts that already joined a program through an invitation are proven.
UPDATE partner_accounts a SET email_verified_at = v.accepted_at
FROM (SELECT p.account_id, min(i.accepted_at) AS accepted_at
      FROM partners p
      JOIN partner_invites i ON i.workspace_id = p.workspace_id AND i.partner_id = p.id
      WHERE p.account_id IS NOT NULL AND i.accepted_at IS NOT NULL
      GROUP BY p.account_id) v
WHERE a.id = v.account_id;

-- +goose Down
ALTER TABLE partner_accounts DROP COLUMN email_verified_at;
DROP TABLE sessions;
