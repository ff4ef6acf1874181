package commission

import (
	"context"

	"github.com/partli/partli/internal/store"
)

// clawbackMail tells c's partner that takenCents of their commissions were
// clawed back, and why, in the transaction of the clawback (nothing when
// nothing was taken).
func clawbackMail(ctx context.Context, tx *store.Tx, c *store.Commission, takenCents int64, reason string) error {
	if takenCents <= 0 {
		return nil
	}
	return tx.QueuePartnerMail(ctx, c.WorkspaceID, c.PartnerID, store.MailCommissionClawedBack, store.PartnerMail{
		CommissionID: c.ID, AmountCents: takenCents, Currency: c.Currency, Reason: reason})
}

// payoutSentMail tells a payout's partner it was paid, in the transaction
// that marks it paid (store.QueuePayoutSentMail).
func payoutSentMail(ctx context.Context, tx *store.Tx, p *store.Payout, method, reference string) error {
	return tx.QueuePayoutSentMail(ctx, store.PayoutSent{WorkspaceID: p.WorkspaceID, PartnerID: p.PartnerID, PayoutID: p.ID,
		AmountCents: p.AmountCents, Currency: p.Currency, Method: method, Reference: reference})
}
