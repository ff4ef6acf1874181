-- +goose Up
-- Codes as well as links (issue 15): a program's discount for the customers
-- its partners refer, the partners' codes, and which code attributed a sale
-- or lead.

-- The discount a referred customer gets: a percentage (in hundredths of a
-- percent, like rewards) or a flat amount in the program's currency, once,
-- for a number of months, or forever. Stripe coupons cannot be changed, so
-- every change of the discount is a new version, and each version becomes
-- its own coupon (stripe_coupon_id: the current version's, once made).
ALTER TABLE programs
    ADD COLUMN discount_type            text CHECK (discount_type IN ('percentage', 'flat')),
    ADD COLUMN discount_percent_bp      int CHECK (discount_percent_bp BETWEEN 1 AND 10000),
    ADD COLUMN discount_amount_cents    bigint CHECK (discount_amount_cents >= 1),
    ADD COLUMN discount_duration        text CHECK (discount_duration IN ('once', 'repeating', 'forever')),
    ADD COLUMN discount_duration_months int CHECK (discount_duration_months BETWEEN 1 AND 1200),
    ADD COLUMN discount_version         int NOT NULL DEFAULT 0,
    ADD COLUMN stripe_coupon_id         text,
    -- Partners may create their own codes in the portal.
    ADD COLUMN partner_codes            boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT programs_discount_terms CHECK (
        (discount_type IS NULL AND discount_percent_bp IS NULL AND discount_amount_cents IS NULL
            AND discount_duration IS NULL AND discount_duration_months IS NULL AND stripe_coupon_id IS NULL)
        OR (discount_type = 'percentage' AND discount_percent_bp IS NOT NULL AND discount_amount_cents IS NULL
            AND discount_duration IS NOT NULL)
        OR (discount_type = 'flat' AND discount_amount_cents IS NOT NULL AND discount_percent_bp IS NULL
            AND discount_duration IS NOT NULL)),
    ADD CONSTRAINT programs_discount_months CHECK (
        discount_duration IS NULL OR (discount_duration = 'repeating') = (discount_duration_months IS NOT NULL));

-- A partner's codes. Unique per workspace whatever the case; a retired code
-- stays (its sales keep pointing at it) and stays taken. The Stripe columns
-- are the code's promotion code: made with the program's coupon of the
-- discount version it records, deactivated once the code is retired.
-- stripe_sync is the work left to do in Stripe (create, deactivate), done
-- by whoever holds the lease, retried at stripe_retry_at after a failure,
-- whose words stay in stripe_error until an attempt succeeds.
CREATE TABLE partner_codes (
    workspace_id              text NOT NULL,
    id                        text NOT NULL,
    program_id                text NOT NULL,
    partner_id                text NOT NULL,
    code                      text NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{3,32}$'),
    created_by                text NOT NULL CHECK (created_by IN ('owner', 'api', 'partner')),
    created_at                timestamptz NOT NULL DEFAULT now(),
    retired_at                timestamptz,
    stripe_promotion_code_id  text,
    stripe_coupon_id          text,
    discount_version          int,
    stripe_deactivated_at     timestamptz,
    stripe_sync               text NOT NULL DEFAULT 'idle' CHECK (stripe_sync IN ('idle', 'create', 'deactivate')),
    stripe_error              text NOT NULL DEFAULT '',
    stripe_attempts           int NOT NULL DEFAULT 0,
    stripe_retry_at           timestamptz,
    stripe_lease_until        timestamptz,
    PRIMARY KEY (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id) ON DELETE CASCADE,
    CHECK ((stripe_promotion_code_id IS NULL) = (stripe_coupon_id IS NULL)),
    CHECK (stripe_deactivated_at IS NULL OR stripe_promotion_code_id IS NOT NULL)
);
CREATE UNIQUE INDEX partner_codes_code_key ON partner_codes (workspace_id, lower(code));
CREATE UNIQUE INDEX partner_codes_promotion_key ON partner_codes (workspace_id, stripe_promotion_code_id)
    WHERE stripe_promotion_code_id IS NOT NULL;
CREATE INDEX partner_codes_partner_idx ON partner_codes (workspace_id, partner_id, created_at DESC);
-- The Stripe work to do, across workspaces.
CREATE INDEX partner_codes_sync_idx ON partner_codes (stripe_retry_at) WHERE stripe_sync <> 'idle';

-- Which code attributed a sale or lead (or agreed with the customer's
-- partner or the click that did): the sale page, exports, webhooks and the
-- reports by code read it.
ALTER TABLE events ADD COLUMN code_id text;
ALTER TABLE events ADD CONSTRAINT events_code_fkey
    FOREIGN KEY (workspace_id, code_id) REFERENCES partner_codes (workspace_id, id) NOT VALID;
ALTER TABLE events VALIDATE CONSTRAINT events_code_fkey;
CREATE INDEX events_code_idx ON events (workspace_id, code_id) WHERE code_id IS NOT NULL;

-- +goose Down
DROP INDEX events_code_idx;
ALTER TABLE events DROP CONSTRAINT events_code_fkey, DROP COLUMN code_id;
DROP TABLE partner_codes;
ALTER TABLE programs DROP CONSTRAINT programs_discount_months, DROP CONSTRAINT programs_discount_terms,
    DROP COLUMN partner_codes, DROP COLUMN stripe_coupon_id, DROP COLUMN discount_version,
    DROP COLUMN discount_duration_months, DROP COLUMN discount_duration, DROP COLUMN discount_amount_cents,
    DROP COLUMN discount_percent_bp, DROP COLUMN discount_type;
