-- Secrets at rest: webhook signing secrets and Stripe signing secrets are
-- stored sealed (AES-256-GCM under PARTLI_ENCRYPTION_KEY, internal/secret),
-- as "v1:<key id>:<base64url>".
--
-- SQL cannot seal without the key, so the rows written in plain text before
-- this migration are sealed in Go, by `partli migrate` right after it runs
-- (migrate refuses to run without the key while such rows exist) and by
-- `partli serve` at start. The checks are NOT VALID: they do not read the
-- rows of before, and they refuse every row written from now on that is
-- not sealed — an older replica during a rolling upgrade included.

-- +goose Up
ALTER TABLE webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_secret_sealed
        CHECK (secret ~ '^v1:[0-9a-f]{8}:') NOT VALID,
    ADD CONSTRAINT webhook_endpoints_previous_secret_sealed
        CHECK (previous_secret = '' OR previous_secret ~ '^v1:[0-9a-f]{8}:') NOT VALID;
ALTER TABLE stripe_connections
    ADD CONSTRAINT stripe_connections_webhook_secret_sealed
        CHECK (webhook_secret = '' OR webhook_secret ~ '^v1:[0-9a-f]{8}:') NOT VALID;

-- +goose Down
-- The secrets stay sealed: a Partli from before this migration cannot read
-- them, so going back means entering them again.
ALTER TABLE stripe_connections DROP CONSTRAINT stripe_connections_webhook_secret_sealed;
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_previous_secret_sealed,
    DROP CONSTRAINT webhook_endpoints_secret_sealed;
