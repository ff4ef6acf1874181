-- +goose Up
-- Every replica keeps the referral links it serves in memory
-- (store/links.go). A change that alters where a link leads or whether it
-- records clicks — a partner added or its status changed, a program's
-- destination or cookie window changed — is written here in the same
-- transaction, and each replica reads the last half minute of changes every
-- second and forgets those links.
CREATE TABLE link_changes (
    id          bigserial PRIMARY KEY,
    slug        text,
    program_id  text,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (slug IS NOT NULL OR program_id IS NOT NULL)
);
CREATE INDEX link_changes_at_idx ON link_changes (changed_at);

-- +goose Down
DROP TABLE link_changes;
