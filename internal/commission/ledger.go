package commission

import "github.com/partli/partli/internal/store"

// The balance ledger's rules: which change is an entry, and of how much.
// A partner's balance in a currency is their approved commissions that are
// in no payout, negative adjustments included. A commission enters it when
// it becomes approved (or is made approved: a clawback after payout) and
// leaves it when, still in no payout, it is clawed back or marked paid by
// hand. Putting commissions in a payout, and a canceled or failed payout
// giving them back, are one entry per payout (PayoutEntry), not one per
// commission.

// Ledger entry kinds (ledger_entries.kind).
const (
	LedgerApproval       = "approval"
	LedgerAdjustment     = "adjustment"
	LedgerClawback       = "clawback"
	LedgerPaidOutside    = "paid_outside"
	LedgerPayout         = "payout"
	LedgerPayoutCanceled = "payout_canceled"
	LedgerPayoutFailed   = "payout_failed"
)

// InBalance reports whether a commission counts towards its partner's
// balance: approved and in no payout.
func InBalance(c *store.Commission) bool {
	return c != nil && c.Status == Approved && c.PayoutID == nil
}

// LedgerEntry is the ledger entry of a commission changing from before
// (nil: a new commission) to after, and false when the change does not
// move the balance. A change of payout alone is the payout's entry, so it
// is none here.
func LedgerEntry(before, after *store.Commission) (store.LedgerEntry, bool) {
	if before != nil && !samePayout(before.PayoutID, after.PayoutID) {
		return store.LedgerEntry{}, false
	}
	was, is := InBalance(before), InBalance(after)
	if was == is {
		return store.LedgerEntry{}, false
	}
	sign := int64(1)
	if was {
		sign = -1
	}
	e := store.LedgerEntry{WorkspaceID: after.WorkspaceID, PartnerID: after.PartnerID, ProgramID: after.ProgramID,
		Currency: after.Currency, AmountCents: sign * after.AmountCents, Commissions: sign, CommissionID: &after.ID}
	if after.AmountCents < 0 {
		e.AdjustmentCents = sign * after.AmountCents
	}
	switch {
	case is && after.AdjustsID != nil:
		e.Kind = LedgerAdjustment
	case is:
		e.Kind = LedgerApproval
	case after.Status == Paid:
		e.Kind = LedgerPaidOutside
	default:
		e.Kind = LedgerClawback
	}
	return e, true
}

func samePayout(a, b *string) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// PayoutEntry is the ledger entry of payout p taking its commissions out of
// the balance (kind LedgerPayout) or giving them back (LedgerPayoutCanceled,
// LedgerPayoutFailed), for its current claim.
func PayoutEntry(p *store.Payout, kind string) store.LedgerEntry {
	sign := int64(1)
	if kind == LedgerPayout {
		sign = -1
	}
	claim := p.Claim
	return store.LedgerEntry{WorkspaceID: p.WorkspaceID, PartnerID: p.PartnerID, ProgramID: p.ProgramID,
		Currency: p.Currency, Kind: kind, AmountCents: sign * p.AmountCents, Commissions: sign * p.CommissionCount,
		AdjustmentCents: sign * p.AdjustmentCents, PayoutID: &p.ID, Claim: &claim}
}
