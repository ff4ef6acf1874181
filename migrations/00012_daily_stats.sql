-- +goose Up
-- Roll-ups for the overview, kept up to date by the statements that write
-- what they count (store/stats.go), in the same transactions, so that any
-- date range reads a few thousand rows however many sales, commissions and
-- clicks lie behind them:
--
--   daily_totals            per day, program, currency and slot: sales and
--                           commissions by status (totals and charts);
--   daily_activity          per day, program and slot: clicks and leads;
--   daily_partner_earnings  per day and partner: commissions not clawed back
--   monthly_partner_earnings  the same per month (top partners: whole months
--                           from here, the days at the range's ends from above).
--
-- slot spreads a program's day over 16 rows (by partner) so that concurrent
-- sales of different partners do not queue on one row. A commission counts
-- on the day it was created, under its current status.
CREATE TABLE daily_totals (
    workspace_id       text NOT NULL,
    day                date NOT NULL,
    program_id         text NOT NULL,
    currency           char(3) NOT NULL,
    slot               smallint NOT NULL,
    sales              bigint NOT NULL DEFAULT 0,
    sale_cents         bigint NOT NULL DEFAULT 0,
    pending_n          bigint NOT NULL DEFAULT 0,
    pending_cents      bigint NOT NULL DEFAULT 0,
    approved_n         bigint NOT NULL DEFAULT 0,
    approved_cents     bigint NOT NULL DEFAULT 0,
    paid_n             bigint NOT NULL DEFAULT 0,
    paid_cents         bigint NOT NULL DEFAULT 0,
    clawed_back_n      bigint NOT NULL DEFAULT 0,
    clawed_back_cents  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, program_id, currency, slot)
);

CREATE TABLE daily_activity (
    workspace_id  text NOT NULL,
    day           date NOT NULL,
    program_id    text NOT NULL,
    slot          smallint NOT NULL,
    clicks        bigint NOT NULL DEFAULT 0,
    leads         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, program_id, slot)
);

CREATE TABLE daily_partner_earnings (
    workspace_id  text NOT NULL,
    day           date NOT NULL,
    program_id    text NOT NULL,
    partner_id    text NOT NULL,
    currency      char(3) NOT NULL,
    earned_n      bigint NOT NULL DEFAULT 0,
    earned_cents  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, program_id, partner_id, currency)
);

CREATE TABLE monthly_partner_earnings (
    workspace_id  text NOT NULL,
    month         date NOT NULL,
    program_id    text NOT NULL,
    partner_id    text NOT NULL,
    currency      char(3) NOT NULL,
    earned_n      bigint NOT NULL DEFAULT 0,
    earned_cents  bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, month, program_id, partner_id, currency)
);

-- What exists already (written out here rather than calling the store's
-- statements: a migration is fixed in time).
INSERT INTO daily_totals (workspace_id, day, program_id, currency, slot, sales, sale_cents,
    pending_n, pending_cents, approved_n, approved_cents, paid_n, paid_cents, clawed_back_n, clawed_back_cents)
SELECT workspace_id, day, program_id, currency, slot, sum(sales), sum(sale_cents),
    coalesce(sum(n) FILTER (WHERE status = 'pending'), 0), coalesce(sum(cents) FILTER (WHERE status = 'pending'), 0),
    coalesce(sum(n) FILTER (WHERE status = 'approved'), 0), coalesce(sum(cents) FILTER (WHERE status = 'approved'), 0),
    coalesce(sum(n) FILTER (WHERE status = 'paid'), 0), coalesce(sum(cents) FILTER (WHERE status = 'paid'), 0),
    coalesce(sum(n) FILTER (WHERE status = 'clawed_back'), 0), coalesce(sum(cents) FILTER (WHERE status = 'clawed_back'), 0)
FROM (
    SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date AS day, program_id, currency,
        (abs(hashtext(partner_id)) % 16)::smallint AS slot, 1 AS sales, amount_cents AS sale_cents, '' AS status, 0 AS n, 0::bigint AS cents
    FROM events WHERE kind = 'sale'
    UNION ALL
    SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, program_id, currency,
        (abs(hashtext(partner_id)) % 16)::smallint, 0, 0, status, 1, amount_cents
    FROM commissions
) d
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO daily_activity (workspace_id, day, program_id, slot, clicks, leads)
SELECT workspace_id, day, program_id, slot, sum(clicks), sum(leads) FROM (
    SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date AS day, program_id,
        (abs(hashtext(partner_id)) % 16)::smallint AS slot, 1 AS clicks, 0 AS leads FROM clicks
    UNION ALL
    SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, program_id,
        (abs(hashtext(partner_id)) % 16)::smallint, 0, 1 FROM events WHERE kind = 'lead'
) a
GROUP BY 1, 2, 3, 4;

INSERT INTO daily_partner_earnings (workspace_id, day, program_id, partner_id, currency, earned_n, earned_cents)
SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, program_id, partner_id, currency, count(*), sum(amount_cents)
FROM commissions WHERE status <> 'clawed_back'
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO monthly_partner_earnings (workspace_id, month, program_id, partner_id, currency, earned_n, earned_cents)
SELECT workspace_id, date_trunc('month', day)::date, program_id, partner_id, currency, sum(earned_n), sum(earned_cents)
FROM daily_partner_earnings
GROUP BY 1, 2, 3, 4, 5;

-- +goose Down
DROP TABLE monthly_partner_earnings, daily_partner_earnings, daily_activity, daily_totals;
