-- +goose Up
-- The whole product schema. Every tenant table carries workspace_id, and every
-- unique key that makes idempotency a database guarantee includes it, so the
-- schema can be distributed by workspace without a rewrite.

CREATE TABLE workspaces (
    id          text PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    slug        text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id               text PRIMARY KEY,
    workspace_id     text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    email            text NOT NULL,
    name             text NOT NULL DEFAULT '',
    password_hash    text NOT NULL,
    role             text NOT NULL CHECK (role IN ('owner', 'finance')),
    failed_logins    int NOT NULL DEFAULT 0,
    locked_until     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now()
);
-- One sign-in form for everybody: an email address names one user.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_workspace_idx ON users (workspace_id);

CREATE TABLE api_keys (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name          text NOT NULL DEFAULT '',
    prefix        text NOT NULL,
    hash          bytea NOT NULL UNIQUE,
    created_by    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_workspace_idx ON api_keys (workspace_id, created_at DESC);

CREATE TABLE programs (
    id                   text PRIMARY KEY,
    workspace_id         text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    name                 text NOT NULL,
    slug                 text NOT NULL,
    destination_url      text NOT NULL,
    currency             char(3) NOT NULL,
    holding_period_days  int NOT NULL CHECK (holding_period_days BETWEEN 0 AND 3650),
    cookie_days          int NOT NULL CHECK (cookie_days BETWEEN 1 AND 3650),
    min_payout_cents     bigint NOT NULL DEFAULT 0 CHECK (min_payout_cents >= 0),
    auto_approve         boolean NOT NULL DEFAULT false,
    verified_at          timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, slug)
);

CREATE TABLE partner_groups (
    id                   text PRIMARY KEY,
    workspace_id         text NOT NULL,
    program_id           text NOT NULL,
    name                 text NOT NULL,
    holding_period_days  int CHECK (holding_period_days BETWEEN 0 AND 3650),
    created_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, program_id, name),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE rewards (
    id                text PRIMARY KEY,
    workspace_id      text NOT NULL,
    program_id        text NOT NULL,
    group_id          text,
    event             text NOT NULL CHECK (event IN ('sale', 'lead')),
    type              text NOT NULL CHECK (type IN ('percentage', 'flat')),
    -- percent in hundredths of a percent: 12.5% is 1250; exact, no floats.
    percent_bp        int CHECK (percent_bp BETWEEN 1 AND 10000),
    amount_cents      bigint CHECK (amount_cents >= 1),
    interval          text NOT NULL CHECK (interval IN ('one_time', 'recurring')),
    duration_months   int CHECK (duration_months >= 1),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((type = 'percentage' AND percent_bp IS NOT NULL AND amount_cents IS NULL)
        OR (type = 'flat' AND amount_cents IS NOT NULL AND percent_bp IS NULL)),
    CHECK (interval = 'recurring' OR duration_months IS NULL),
    CHECK (event = 'sale' OR group_id IS NOT NULL),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, group_id) REFERENCES partner_groups (workspace_id, id) ON DELETE CASCADE
);
-- At most one reward per (program, group-or-default, event).
CREATE UNIQUE INDEX rewards_one_per_slot ON rewards (workspace_id, program_id, coalesce(group_id, ''), event);

-- Portal logins: one person, possibly a partner in several programs of several workspaces.
CREATE TABLE partner_accounts (
    id             text PRIMARY KEY,
    email          text NOT NULL,
    name           text NOT NULL DEFAULT '',
    password_hash  text,
    failed_logins  int NOT NULL DEFAULT 0,
    locked_until   timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX partner_accounts_email_key ON partner_accounts (lower(email));

CREATE TABLE partners (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    program_id    text NOT NULL,
    account_id    text REFERENCES partner_accounts(id) ON DELETE SET NULL,
    group_id      text,
    email         text NOT NULL,
    name          text NOT NULL,
    -- Slugs are global: /r/{slug} resolves without knowing the workspace.
    slug          text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,62}$'),
    status        text NOT NULL DEFAULT 'approved'
                  CHECK (status IN ('pending', 'approved', 'rejected', 'suspended')),
    website       text NOT NULL DEFAULT '',
    country       text NOT NULL DEFAULT '',
    pitch         text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, program_id) REFERENCES programs (workspace_id, id) ON DELETE CASCADE,
    FOREIGN KEY (workspace_id, group_id) REFERENCES partner_groups (workspace_id, id)
);
CREATE UNIQUE INDEX partners_program_email_key ON partners (workspace_id, program_id, lower(email));
CREATE INDEX partners_program_idx ON partners (workspace_id, program_id, created_at DESC, id DESC);
CREATE INDEX partners_account_idx ON partners (account_id) WHERE account_id IS NOT NULL;

CREATE TABLE partner_invites (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    partner_id    text NOT NULL,
    token_hash    bytea NOT NULL UNIQUE,
    expires_at    timestamptz NOT NULL,
    accepted_at   timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id) ON DELETE CASCADE
);

CREATE TABLE clicks (
    id            text PRIMARY KEY,
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
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX clicks_partner_idx ON clicks (workspace_id, partner_id, created_at DESC);
-- The velocity check: recent clicks from one IP hash for one partner.
CREATE INDEX clicks_iphash_idx ON clicks (partner_id, ip_hash, created_at DESC);

CREATE TABLE customers (
    id              text PRIMARY KEY,
    workspace_id    text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    external_id     text NOT NULL,
    email           text NOT NULL DEFAULT '',
    name            text NOT NULL DEFAULT '',
    program_id      text,
    partner_id      text,
    click_id        text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, external_id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX customers_partner_idx ON customers (workspace_id, partner_id);

-- Sales and leads. (workspace, kind, external_id) is the dedupe key.
CREATE TABLE events (
    id              text PRIMARY KEY,
    workspace_id    text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('sale', 'lead')),
    external_id     text NOT NULL CHECK (length(external_id) BETWEEN 1 AND 255),
    -- NULL only for a lead reported without a customer id.
    customer_id     text,
    program_id      text NOT NULL,
    partner_id      text NOT NULL,
    click_id        text,
    amount_cents    bigint NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
    refunded_cents  bigint NOT NULL DEFAULT 0 CHECK (refunded_cents >= 0 AND refunded_cents <= amount_cents),
    currency        char(3),
    event_name      text NOT NULL,
    metadata        jsonb,
    occurred_at     timestamptz NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    UNIQUE (workspace_id, kind, external_id),
    FOREIGN KEY (workspace_id, customer_id) REFERENCES customers (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX events_list_idx ON events (workspace_id, kind, created_at DESC, id DESC);
CREATE INDEX events_program_idx ON events (workspace_id, program_id, kind, created_at DESC, id DESC);
CREATE INDEX events_partner_idx ON events (workspace_id, partner_id, kind, created_at DESC, id DESC);
CREATE INDEX events_customer_idx ON events (workspace_id, customer_id, created_at DESC);

CREATE TABLE payouts (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL,
    program_id    text NOT NULL,
    partner_id    text NOT NULL,
    currency      char(3) NOT NULL,
    amount_cents  bigint NOT NULL,
    status        text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'paid')),
    reference     text NOT NULL DEFAULT '',
    created_by    text NOT NULL DEFAULT '',
    paid_at       timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
CREATE INDEX payouts_list_idx ON payouts (workspace_id, created_at DESC, id DESC);
CREATE INDEX payouts_partner_idx ON payouts (workspace_id, partner_id, created_at DESC);

CREATE TABLE commissions (
    id                     text PRIMARY KEY,
    workspace_id           text NOT NULL,
    program_id             text NOT NULL,
    partner_id             text NOT NULL,
    customer_id            text,
    event_id               text NOT NULL,
    -- Set on a negative adjustment: the commission it undoes (wholly or in part).
    adjusts_id             text,
    reward_id              text,
    type                   text NOT NULL CHECK (type IN ('sale', 'lead')),
    amount_cents           bigint NOT NULL,
    currency               char(3) NOT NULL,
    status                 text NOT NULL CHECK (status IN ('pending', 'approved', 'paid', 'clawed_back')),
    payable_at             timestamptz NOT NULL,
    -- Snapshot of the reward at the time: a later reward change never rewrites history.
    reward_type            text,
    reward_percent_bp      int,
    reward_amount_cents    bigint,
    reward_interval        text,
    reward_duration_months int,
    sale_amount_cents      bigint NOT NULL DEFAULT 0,
    occurred_at            timestamptz NOT NULL,
    payout_id              text,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    CHECK ((adjusts_id IS NULL AND amount_cents > 0) OR (adjusts_id IS NOT NULL AND amount_cents < 0)),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, customer_id) REFERENCES customers (workspace_id, id),
    FOREIGN KEY (workspace_id, event_id) REFERENCES events (workspace_id, id),
    FOREIGN KEY (workspace_id, adjusts_id) REFERENCES commissions (workspace_id, id),
    FOREIGN KEY (workspace_id, payout_id) REFERENCES payouts (workspace_id, id)
);
-- One commission per sale or lead event, however often it is re-posted.
CREATE UNIQUE INDEX commissions_one_per_event ON commissions (workspace_id, event_id) WHERE adjusts_id IS NULL;
-- At most one live lead commission per customer per program.
CREATE UNIQUE INDEX commissions_one_lead ON commissions (workspace_id, program_id, customer_id)
    WHERE type = 'lead' AND adjusts_id IS NULL AND status <> 'clawed_back';
-- A one-time reward pays once per customer per program while that commission stands.
CREATE UNIQUE INDEX commissions_one_time ON commissions (workspace_id, program_id, customer_id)
    WHERE type = 'sale' AND reward_interval = 'one_time' AND adjusts_id IS NULL AND status <> 'clawed_back';
CREATE INDEX commissions_list_idx ON commissions (workspace_id, created_at DESC, id DESC);
CREATE INDEX commissions_status_idx ON commissions (workspace_id, status, created_at DESC, id DESC);
CREATE INDEX commissions_program_idx ON commissions (workspace_id, program_id, created_at DESC, id DESC);
CREATE INDEX commissions_partner_idx ON commissions (workspace_id, partner_id, created_at DESC, id DESC);
CREATE INDEX commissions_customer_idx ON commissions (workspace_id, customer_id, program_id);
CREATE INDEX commissions_due_idx ON commissions (payable_at) WHERE status = 'pending';
CREATE INDEX commissions_payout_idx ON commissions (workspace_id, payout_id) WHERE payout_id IS NOT NULL;

CREATE TABLE commission_history (
    id             bigserial PRIMARY KEY,
    workspace_id   text NOT NULL,
    commission_id  text NOT NULL,
    from_status    text,
    to_status      text NOT NULL,
    reason         text NOT NULL DEFAULT '',
    actor          text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, commission_id) REFERENCES commissions (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX commission_history_idx ON commission_history (workspace_id, commission_id, id);

-- Transactional outbox: written in the same transaction as what it describes.
CREATE TABLE webhook_events (
    id            text PRIMARY KEY,
    workspace_id  text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    type          text NOT NULL,
    payload       jsonb NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    dispatched_at timestamptz
);
CREATE INDEX webhook_events_undispatched_idx ON webhook_events (created_at) WHERE dispatched_at IS NULL;
CREATE INDEX webhook_events_workspace_idx ON webhook_events (workspace_id, created_at DESC);

CREATE TABLE webhook_endpoints (
    id                    text PRIMARY KEY,
    workspace_id          text NOT NULL REFERENCES workspaces(id) ON DELETE CASCADE,
    url                   text NOT NULL,
    events                text[] NOT NULL,
    secret                text NOT NULL,
    enabled               boolean NOT NULL DEFAULT true,
    consecutive_failures  int NOT NULL DEFAULT 0,
    disabled_reason       text NOT NULL DEFAULT '',
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id)
);

CREATE TABLE webhook_deliveries (
    id               text PRIMARY KEY,
    workspace_id     text NOT NULL,
    endpoint_id      text NOT NULL,
    event_id         text NOT NULL REFERENCES webhook_events(id) ON DELETE CASCADE,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts         int NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (workspace_id, id),
    UNIQUE (endpoint_id, event_id),
    FOREIGN KEY (workspace_id, endpoint_id) REFERENCES webhook_endpoints (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (workspace_id, endpoint_id, created_at DESC);

CREATE TABLE webhook_attempts (
    id              bigserial PRIMARY KEY,
    workspace_id    text NOT NULL,
    delivery_id     text NOT NULL,
    status_code     int,
    latency_ms      int NOT NULL,
    response_body   text NOT NULL DEFAULT '',
    error           text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (workspace_id, delivery_id) REFERENCES webhook_deliveries (workspace_id, id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (workspace_id, delivery_id, id DESC);

CREATE TABLE stripe_connections (
    workspace_id     text PRIMARY KEY REFERENCES workspaces(id) ON DELETE CASCADE,
    account_id       text UNIQUE,
    webhook_secret   text NOT NULL DEFAULT '',
    livemode         boolean NOT NULL DEFAULT false,
    connected_at     timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Each Stripe event id is processed once, whichever replica receives it.
CREATE TABLE stripe_events (
    id            text PRIMARY KEY,
    workspace_id  text REFERENCES workspaces(id) ON DELETE CASCADE,
    type          text NOT NULL,
    outcome       text NOT NULL DEFAULT '',
    received_at   timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
DROP TABLE stripe_events, stripe_connections, webhook_attempts, webhook_deliveries, webhook_endpoints,
    webhook_events, commission_history, commissions, payouts, events, customers, clicks, partner_invites,
    partners, partner_accounts, rewards, partner_groups, programs, api_keys, users, workspaces;
