-- The balance ledger, and payouts as a state machine.
--
-- A partner's balance per currency is what Partli owes them and has not put
-- in a payout: their approved commissions in no payout, negative
-- adjustments included. Every change of it is a ledger entry — a commission
-- reaching approved, a negative adjustment, a clawback, a commission marked
-- paid outside a payout, a payout taking the balance, a canceled or failed
-- payout giving it back — and partner_balances holds the running totals,
-- updated in the same statement as the entry, so reading a balance is one
-- row however many commissions it sums. `partli ledger check` recomputes
-- every balance from the commissions and the payouts and compares.
--
-- Both tables are keyed by workspace_id first, and every key and reference
-- includes it, so they distribute by workspace with the rest.

-- +goose Up
CREATE TABLE partner_balances (
    workspace_id      text NOT NULL,
    partner_id        text NOT NULL,
    currency          char(3) NOT NULL,
    program_id        text NOT NULL,
    balance_cents     bigint NOT NULL DEFAULT 0,
    -- How many commissions (adjustments included) the balance sums, and the
    -- negative part of it.
    commissions       bigint NOT NULL DEFAULT 0 CHECK (commissions >= 0),
    adjustment_cents  bigint NOT NULL DEFAULT 0 CHECK (adjustment_cents <= 0),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, partner_id, currency),
    CHECK (commissions > 0 OR (balance_cents = 0 AND adjustment_cents = 0)),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id)
);
-- "Ready to pay" lists the balances that sum at least one commission, per
-- program or for the whole workspace, in key order (its keyset cursor).
CREATE INDEX partner_balances_open_idx ON partner_balances (workspace_id, partner_id, currency) WHERE commissions > 0;
CREATE INDEX partner_balances_program_idx ON partner_balances (workspace_id, program_id, partner_id, currency) WHERE commissions > 0;

-- A payout claims a balance once when it is created, and again each time a
-- failed payout is sent again (claim counts them): ledger entries of a
-- payout are unique per claim.
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check;
UPDATE payouts SET status = 'canceled' WHERE status = 'cancelled';
ALTER TABLE payouts RENAME COLUMN cancelled_at TO canceled_at;
ALTER TABLE payouts
    ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'processing', 'paid', 'failed', 'canceled')),
    ADD COLUMN method            text NOT NULL DEFAULT 'manual' CHECK (method IN ('stripe', 'paypal', 'wise', 'manual')),
    -- The PayPal or Wise address the payout goes to ('' for the others).
    ADD COLUMN recipient         text NOT NULL DEFAULT '',
    ADD COLUMN commission_count  bigint NOT NULL DEFAULT 0,
    ADD COLUMN adjustment_cents  bigint NOT NULL DEFAULT 0,
    ADD COLUMN claim             int NOT NULL DEFAULT 1 CHECK (claim >= 1),
    -- Stripe transfers: the current attempt (payout_attempts), and while
    -- processing, until when its sender holds it.
    ADD COLUMN attempt           int NOT NULL DEFAULT 0 CHECK (attempt >= 0),
    ADD COLUMN lease_until       timestamptz,
    ADD COLUMN stripe_transfer_id text,
    ADD COLUMN failure_reason    text NOT NULL DEFAULT '',
    ADD COLUMN failed_at         timestamptz,
    ADD COLUMN updated_at        timestamptz NOT NULL DEFAULT now(),
    ADD CONSTRAINT payouts_amount_positive CHECK (amount_cents > 0),
    ADD CONSTRAINT payouts_paid_at CHECK ((status = 'paid') = (paid_at IS NOT NULL)),
    ADD CONSTRAINT payouts_processing_attempt CHECK (status <> 'processing' OR (attempt > 0 AND lease_until IS NOT NULL)),
    ADD CONSTRAINT payouts_failed_reason CHECK (status <> 'failed' OR failure_reason <> '');
UPDATE payouts po SET commission_count = c.n, adjustment_cents = c.adj
    FROM (SELECT workspace_id, payout_id, count(*) AS n,
                 coalesce(sum(amount_cents) FILTER (WHERE amount_cents < 0), 0) AS adj
          FROM commissions WHERE payout_id IS NOT NULL GROUP BY 1, 2) c
    WHERE po.workspace_id = c.workspace_id AND po.id = c.payout_id;
-- One Stripe transfer settles at most one payout.
CREATE UNIQUE INDEX payouts_stripe_transfer_key ON payouts (workspace_id, stripe_transfer_id) WHERE stripe_transfer_id IS NOT NULL;
-- Payouts whose sender stopped (a crash, a timeout) are found by their lease.
CREATE INDEX payouts_processing_idx ON payouts (lease_until) WHERE status = 'processing';
CREATE INDEX payouts_program_idx ON payouts (workspace_id, program_id, created_at DESC, id DESC);

CREATE TABLE ledger_entries (
    workspace_id      text NOT NULL,
    id                bigint GENERATED ALWAYS AS IDENTITY,
    partner_id        text NOT NULL,
    program_id        text NOT NULL,
    currency          char(3) NOT NULL,
    -- opening: the balance carried over when the ledger began (this
    -- migration). approval, adjustment: a commission or a negative
    -- adjustment reaching the balance; clawback, paid_outside: one leaving
    -- it without a payout; payout: a payout taking the balance;
    -- payout_canceled, payout_failed: a payout giving it back.
    kind              text NOT NULL CHECK (kind IN ('opening', 'approval', 'adjustment', 'clawback', 'paid_outside',
                                                    'payout', 'payout_canceled', 'payout_failed')),
    amount_cents      bigint NOT NULL,
    commissions       bigint NOT NULL,
    adjustment_cents  bigint NOT NULL,
    commission_id     text,
    payout_id         text,
    claim             int,
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (workspace_id, id),
    CHECK ((commission_id IS NOT NULL) = (kind IN ('approval', 'adjustment', 'clawback', 'paid_outside'))),
    CHECK ((payout_id IS NOT NULL AND claim IS NOT NULL) = (kind IN ('payout', 'payout_canceled', 'payout_failed'))),
    FOREIGN KEY (workspace_id, partner_id) REFERENCES partners (workspace_id, id),
    FOREIGN KEY (workspace_id, commission_id) REFERENCES commissions (workspace_id, id),
    FOREIGN KEY (workspace_id, payout_id) REFERENCES payouts (workspace_id, id)
);
-- A commission enters or leaves a balance at most once per kind; a payout
-- takes and gives back each claim at most once: a retry that recorded an
-- entry already fails rather than counting it twice.
CREATE UNIQUE INDEX ledger_entries_commission_key ON ledger_entries (workspace_id, commission_id, kind) WHERE commission_id IS NOT NULL;
CREATE UNIQUE INDEX ledger_entries_payout_key ON ledger_entries (workspace_id, payout_id, claim, kind) WHERE payout_id IS NOT NULL;
CREATE INDEX ledger_entries_partner_idx ON ledger_entries (workspace_id, partner_id, currency, id);

-- The balances of before, as one opening entry each.
INSERT INTO ledger_entries (workspace_id, partner_id, program_id, currency, kind, amount_cents, commissions, adjustment_cents)
SELECT c.workspace_id, c.partner_id, min(c.program_id), c.currency, 'opening', sum(c.amount_cents), count(*),
       coalesce(sum(c.amount_cents) FILTER (WHERE c.amount_cents < 0), 0)
FROM commissions c WHERE c.status = 'approved' AND c.payout_id IS NULL
GROUP BY c.workspace_id, c.partner_id, c.currency;
INSERT INTO partner_balances (workspace_id, partner_id, currency, program_id, balance_cents, commissions, adjustment_cents)
SELECT workspace_id, partner_id, currency, program_id, amount_cents, commissions, adjustment_cents
FROM ledger_entries WHERE kind = 'opening';

-- +goose Down
DROP TABLE ledger_entries, partner_balances;
DROP INDEX payouts_program_idx, payouts_processing_idx, payouts_stripe_transfer_key;
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check, DROP CONSTRAINT payouts_amount_positive,
    DROP CONSTRAINT payouts_paid_at, DROP CONSTRAINT payouts_processing_attempt, DROP CONSTRAINT payouts_failed_reason,
    DROP COLUMN method, DROP COLUMN recipient, DROP COLUMN commission_count, DROP COLUMN adjustment_cents,
    DROP COLUMN claim, DROP COLUMN attempt, DROP COLUMN lease_until, DROP COLUMN stripe_transfer_id,
    DROP COLUMN failure_reason, DROP COLUMN failed_at, DROP COLUMN updated_at;
ALTER TABLE payouts RENAME COLUMN canceled_at TO cancelled_at;
-- Payouts in states the old code does not know end canceled, their
-- commissions released.
UPDATE commissions c SET payout_id = NULL FROM payouts po
    WHERE po.workspace_id = c.workspace_id AND po.id = c.payout_id AND po.status IN ('processing', 'failed');
UPDATE payouts SET status = 'cancelled', cancelled_at = coalesce(cancelled_at, now())
    WHERE status IN ('canceled', 'processing', 'failed');
ALTER TABLE payouts ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'paid', 'cancelled'));
