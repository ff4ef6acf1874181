-- How partners get paid: their payout method, the Stripe transfers that pay
-- them (one attempt per claim of a payout, each with its idempotency key),
-- the workspace's Stripe secret key, and payout schedules.

-- +goose Up
CREATE TABLE partner_payout_methods (
    workspace_id              text NOT NULL,
    partner_id                text NOT NULL,
    type                      text NOT NULL CHECK (type IN ('stripe', 'paypal', 'wise', 'manual')),
    -- The PayPal or Wise account's email address.
    email                     text NOT NULL DEFAULT '' CHECK (length(email) <= 254),
    -- The partner's Express account on the merchant's Stripe platform, kept
    -- when the partner switches to another method (so coming back reuses it),
    -- and what Stripe last said of it.
    stripe_account_id         text CHECK (stripe_account_id ~ '^acct_'),
    stripe_payouts_enabled    boolean NOT NULL DEFAULT false,
    stripe_details_submitted  boolean NOT NULL DEFAULT false,
    stripe_requirements       text NOT NULL DEFAULT '',
    stripe_checked_at         timestamptz,
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, partner_id),
    CHECK (type NOT IN ('paypal', 'wise') OR email <> ''),
    CHECK (type <> 'stripe' OR stripe_account_id IS NOT NULL),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX partner_payout_methods_stripe_idx ON partner_payout_methods (workspace_id, stripe_account_id)
    WHERE stripe_account_id IS NOT NULL;

-- Stripe's account.updated names the account only: a small global table
-- finds its partner (a reference table on Citus).
CREATE TABLE stripe_payout_accounts (
    account_id    text PRIMARY KEY CHECK (account_id ~ '^acct_'),
    workspace_id  text NOT NULL,
    partner_id    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One Stripe transfer attempt of a payout. The idempotency key is made from
-- the payout id and the attempt, and recorded before Stripe is called: a
-- retry after a timeout or a crash sends the same key, so Stripe makes the
-- transfer once. An attempt Stripe refused is final, and sending the payout
-- again is a new attempt (a new claim of the balance, a new key).
CREATE TABLE payout_attempts (
    workspace_id        text NOT NULL,
    payout_id           text NOT NULL,
    attempt             int NOT NULL CHECK (attempt >= 1),
    idempotency_key     text NOT NULL,
    amount_cents        bigint NOT NULL CHECK (amount_cents > 0),
    currency            char(3) NOT NULL,
    destination         text NOT NULL CHECK (destination ~ '^acct_'),
    status              text NOT NULL DEFAULT 'processing' CHECK (status IN ('processing', 'succeeded', 'failed')),
    stripe_transfer_id  text,
    error               text NOT NULL DEFAULT '',
    tries               int NOT NULL DEFAULT 0,
    started_at          timestamptz NOT NULL DEFAULT now(),
    tried_at            timestamptz,
    finished_at         timestamptz,
    PRIMARY KEY (workspace_id, payout_id, attempt),
    UNIQUE (workspace_id, idempotency_key),
    CHECK ((status = 'succeeded') = (stripe_transfer_id IS NOT NULL)),
    CHECK ((status = 'processing') = (finished_at IS NULL)),
    FOREIGN KEY (workspace_id, payout_id) REFERENCES payouts (workspace_id, id)
);
-- A payout has at most one attempt under way and at most one that paid.
CREATE UNIQUE INDEX payout_attempts_open_key ON payout_attempts (workspace_id, payout_id) WHERE status = 'processing';
CREATE UNIQUE INDEX payout_attempts_paid_key ON payout_attempts (workspace_id, payout_id) WHERE status = 'succeeded';

-- The workspace's own Stripe secret key, for payouts (sealed like every
-- stored secret).
ALTER TABLE stripe_connections
    ADD COLUMN secret_key text NOT NULL DEFAULT '' CHECK (secret_key = '' OR secret_key ~ '^v1:[0-9a-f]{8}:');

-- Payout schedules: weekly on an ISO weekday (1 Monday … 7 Sunday), monthly
-- on a day of the month (1–28, so every month has it), in UTC.
ALTER TABLE programs
    ADD COLUMN payout_schedule text NOT NULL DEFAULT 'manual' CHECK (payout_schedule IN ('manual', 'weekly', 'monthly')),
    ADD COLUMN payout_day int,
    ADD CONSTRAINT programs_payout_day CHECK (
        (payout_schedule = 'manual' AND payout_day IS NULL)
        OR (payout_schedule = 'weekly' AND payout_day BETWEEN 1 AND 7)
        OR (payout_schedule = 'monthly' AND payout_day BETWEEN 1 AND 28));
CREATE INDEX programs_scheduled_idx ON programs (payout_schedule) WHERE payout_schedule <> 'manual';

-- One scheduled run per program and period ("2026-W49", "2026-12"). A
-- replica claims it with a lease and renews it while it works; another
-- replica takes it over only once the lease has run out.
CREATE TABLE payout_runs (
    workspace_id   text NOT NULL,
    program_id     text NOT NULL,
    period         text NOT NULL,
    status         text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
    leased_until   timestamptz NOT NULL,
    started_at     timestamptz NOT NULL DEFAULT now(),
    finished_at    timestamptz,
    created        int NOT NULL DEFAULT 0,
    sent           int NOT NULL DEFAULT 0,
    failed         int NOT NULL DEFAULT 0,
    below_minimum  int NOT NULL DEFAULT 0,
    not_ready      int NOT NULL DEFAULT 0,
    -- Who was skipped and why, for the payouts page.
    report         jsonb NOT NULL DEFAULT '{}',
    PRIMARY KEY (workspace_id, program_id, period),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX payout_runs_recent_idx ON payout_runs (workspace_id, started_at DESC);

-- +goose Down
DROP TABLE payout_runs, payout_attempts, stripe_payout_accounts, partner_payout_methods;
DROP INDEX programs_scheduled_idx;
ALTER TABLE programs DROP CONSTRAINT programs_payout_day, DROP COLUMN payout_day, DROP COLUMN payout_schedule;
ALTER TABLE stripe_connections DROP COLUMN secret_key;
