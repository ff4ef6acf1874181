-- +goose Up
-- Daily roll-ups for the overview, kept up to date by the statements that
-- write what they count (store/stats.go), in the same transactions: any date
-- range of the overview reads at most one row per partner, day and currency,
-- however many sales, commissions and clicks lie behind them.
--
-- daily_stats: money, per currency. A commission is counted on the day it
-- was created, under its current status: a status change moves it from one
-- pair of columns to another.
CREATE TABLE daily_stats (
    workspace_id       text NOT NULL,
    day                date NOT NULL,
    program_id         text NOT NULL,
    partner_id         text NOT NULL,
    currency           char(3) NOT NULL,
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
    PRIMARY KEY (workspace_id, day, program_id, partner_id, currency)
);

-- daily_activity: what has no currency.
CREATE TABLE daily_activity (
    workspace_id  text NOT NULL,
    day           date NOT NULL,
    program_id    text NOT NULL,
    partner_id    text NOT NULL,
    clicks        bigint NOT NULL DEFAULT 0,
    leads         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (workspace_id, day, program_id, partner_id)
);

-- What exists already.
INSERT INTO daily_stats (workspace_id, day, program_id, partner_id, currency, sales, sale_cents)
SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, program_id, partner_id, currency, count(*), sum(amount_cents)
FROM events WHERE kind = 'sale'
GROUP BY 1, 2, 3, 4, 5;

INSERT INTO daily_stats AS s (workspace_id, day, program_id, partner_id, currency,
    pending_n, pending_cents, approved_n, approved_cents, paid_n, paid_cents, clawed_back_n, clawed_back_cents)
SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, program_id, partner_id, currency,
    count(*) FILTER (WHERE status = 'pending'), coalesce(sum(amount_cents) FILTER (WHERE status = 'pending'), 0),
    count(*) FILTER (WHERE status = 'approved'), coalesce(sum(amount_cents) FILTER (WHERE status = 'approved'), 0),
    count(*) FILTER (WHERE status = 'paid'), coalesce(sum(amount_cents) FILTER (WHERE status = 'paid'), 0),
    count(*) FILTER (WHERE status = 'clawed_back'), coalesce(sum(amount_cents) FILTER (WHERE status = 'clawed_back'), 0)
FROM commissions
GROUP BY 1, 2, 3, 4, 5
ON CONFLICT (workspace_id, day, program_id, partner_id, currency) DO UPDATE SET
    pending_n = EXCLUDED.pending_n, pending_cents = EXCLUDED.pending_cents,
    approved_n = EXCLUDED.approved_n, approved_cents = EXCLUDED.approved_cents,
    paid_n = EXCLUDED.paid_n, paid_cents = EXCLUDED.paid_cents,
    clawed_back_n = EXCLUDED.clawed_back_n, clawed_back_cents = EXCLUDED.clawed_back_cents;

INSERT INTO daily_activity (workspace_id, day, program_id, partner_id, clicks, leads)
SELECT workspace_id, day, program_id, partner_id, sum(clicks), sum(leads) FROM (
    SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date AS day, program_id, partner_id, count(*) AS clicks, 0 AS leads
    FROM clicks GROUP BY 1, 2, 3, 4
    UNION ALL
    SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, program_id, partner_id, 0, count(*)
    FROM events WHERE kind = 'lead' GROUP BY 1, 2, 3, 4
) a
GROUP BY 1, 2, 3, 4;

-- +goose Down
DROP TABLE daily_activity, daily_stats;
