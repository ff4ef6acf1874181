-- Payouts and clawbacks after payout: the indexes the finance pages read
-- through, and cancellable payouts.

-- +goose Up
-- "Ready to pay" sums each partner's approved commissions that are in no
-- payout yet, per currency; creating a payout locks exactly these rows.
-- Paid and clawed-back rows leave the index, so it stays small however
-- many commissions the workspace has.
CREATE INDEX commissions_unpaid_idx ON commissions (workspace_id, partner_id, currency) INCLUDE (amount_cents)
    WHERE status = 'approved' AND payout_id IS NULL;

-- A commission's negative adjustments (a clawback after payout).
CREATE INDEX commissions_adjusts_idx ON commissions (workspace_id, adjusts_id) WHERE adjusts_id IS NOT NULL;

-- A sale's commission with its adjustments, as a clawback or a refund locks
-- them (the unique index per event leaves adjustments out).
CREATE INDEX commissions_event_idx ON commissions (workspace_id, event_id);

-- The payout list filtered by status, newest first.
CREATE INDEX payouts_status_idx ON payouts (workspace_id, status, created_at DESC, id DESC);

-- A pending payout can be cancelled: its commissions go back to the balance
-- and the row stays, for the record.
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check,
    ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'paid', 'cancelled'));
ALTER TABLE payouts ADD COLUMN cancelled_at timestamptz;

-- +goose Down
ALTER TABLE payouts DROP COLUMN cancelled_at;
DELETE FROM payouts WHERE status = 'cancelled';
ALTER TABLE payouts DROP CONSTRAINT payouts_status_check,
    ADD CONSTRAINT payouts_status_check CHECK (status IN ('pending', 'paid'));
DROP INDEX payouts_status_idx;
DROP INDEX commissions_event_idx;
DROP INDEX commissions_adjusts_idx;
DROP INDEX commissions_unpaid_idx;
