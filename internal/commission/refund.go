package commission

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
)

// Refunds claw commissions back by themselves. The invariant they keep: the
// live (not clawed back) commissions of a sale, the original and its negative
// adjustments, add up to the commission on the part of the sale that is not
// refunded, C − ProRata(C, refunded, sale), C being the original amount.
//
//   - A partial refund never edits the original: it adds a negative
//     adjustment of what the refund takes back, computed from the refunded
//     totals before and after (so rounding never drifts, however the refunds
//     are split). The adjustment is pending with a pending original (and
//     becomes payable with it), else approved (it nets against the partner's
//     next payout).
//   - A full refund claws the original back, and its live adjustments with
//     it, when all of them are pending or approved and in no payout. When
//     money has moved or is about to (the original or an adjustment is paid
//     or in a payout), it adds one adjustment of what is left instead; for a
//     paid original that is clawBackPaid, as for a clawback by hand.
//   - A commission clawed back by hand is left alone: nothing is left to take.

// Refund is one refund of a sale, from the merchant's backend or from Stripe.
type Refund struct {
	ExternalID string // the sale's
	// AmountCents is how much of the sale this refund gives back; 0 means
	// all of it that is not refunded yet.
	AmountCents int64
	// TotalCents, when above 0, is the sale's refunded total after this
	// refund (Stripe's charge.amount_refunded); it replaces AmountCents, so a
	// repeat or a late older report of the same total changes nothing.
	TotalCents int64
	// RefundID, when set, is the merchant's id for this refund: a repeat of
	// it changes nothing, whatever its amount.
	RefundID string
	// Capped makes an AmountCents above what is left of the sale refund what
	// is left, for reports of what already happened elsewhere (a Stripe
	// dispute). Without it such a refund is ErrRefundTooLarge and changes
	// nothing, as Stripe refuses a refund larger than what is left.
	Capped bool
	Reason string // why, in the merchant's or Stripe's words; may be empty
	Source string // what reported it, for the history: "the API", "Stripe charge ch_…"
	Actor  string
}

// ErrRefundTooLarge: a refund of more than what is left of the sale to
// refund. Nothing changed. The error is a *RefundTooLargeError.
var ErrRefundTooLarge = errors.New("commission: the refund is larger than what is left of the sale")

// RefundTooLargeError says how much of the sale was left to refund.
type RefundTooLargeError struct {
	LeftCents, SaleCents int64
	Currency             string
}

func (e *RefundTooLargeError) Error() string {
	return fmt.Sprintf("%v: %s of %s is left", ErrRefundTooLarge, money.Format(e.LeftCents, e.Currency), money.Format(e.SaleCents, e.Currency))
}

func (e *RefundTooLargeError) Unwrap() error { return ErrRefundTooLarge }

// RefundResult is a sale after a refund and its commissions (the original
// and its adjustments, oldest first).
type RefundResult struct {
	Sale        *store.Sale
	Commissions []store.Commission
	// RefundedCents is what this refund added to the sale's refunded total:
	// 0 when all of the sale was refunded already (a repeat).
	RefundedCents int64
}

// RefundedAfter returns a sale's refunded total after a refund of
// amountCents (0: the rest) or up to totalCents (when above 0). A refund
// never takes back more than the sale, nor lowers what was refunded.
func RefundedAfter(saleCents, refundedCents, amountCents, totalCents int64) int64 {
	switch {
	case totalCents > 0:
		return max(refundedCents, min(totalCents, saleCents))
	case amountCents > 0:
		return min(refundedCents+min(amountCents, saleCents), saleCents)
	}
	return saleCents
}

// RefundPlan is what a refund does to a sale's commissions.
type RefundPlan struct {
	// ClawBack lists the commissions (the original first, then adjustments)
	// that become clawed_back.
	ClawBack []string
	// TakeCents, when above 0, is a new negative adjustment of the original
	// of −TakeCents, with status AdjustmentStatus.
	TakeCents        int64
	AdjustmentStatus string
}

// clawable reports whether c can simply be clawed back: no money has moved
// and none is about to.
func clawable(c store.Commission) bool {
	return (c.Status == Pending || c.Status == Approved) && c.PayoutID == nil
}

// PlanRefund decides what a refund of a sale of saleCents, from refunded
// total before to after, does to its commission original and the
// original's adjustments.
func PlanRefund(original store.Commission, adjustments []store.Commission, saleCents, before, after int64) RefundPlan {
	if original.Status == ClawedBack || saleCents <= 0 || after <= before {
		return RefundPlan{}
	}
	left := original.AmountCents // what the live commissions add up to
	var live []store.Commission
	for _, a := range adjustments {
		if a.Status != ClawedBack {
			live = append(live, a)
			left += a.AmountCents
		}
	}
	if after >= saleCents {
		all := clawable(original)
		for _, a := range live {
			all = all && clawable(a)
		}
		if all {
			plan := RefundPlan{ClawBack: []string{original.ID}}
			for _, a := range live {
				plan.ClawBack = append(plan.ClawBack, a.ID)
			}
			return plan
		}
		if left <= 0 {
			return RefundPlan{}
		}
		return RefundPlan{TakeCents: left, AdjustmentStatus: Approved}
	}
	take := min(money.ProRata(original.AmountCents, after, saleCents)-money.ProRata(original.AmountCents, before, saleCents), left)
	if take <= 0 {
		return RefundPlan{}
	}
	status := Approved
	if original.Status == Pending {
		status = Pending
	}
	return RefundPlan{TakeCents: take, AdjustmentStatus: status}
}

// Refund applies a refund of a sale in one transaction. A sale the
// workspace does not have is store.ErrNotFound, and a refund of more than
// is left of the sale ErrRefundTooLarge (unless Capped); both change nothing.
func (s *Service) Refund(ctx context.Context, workspaceID string, r Refund) (*RefundResult, error) {
	var res *RefundResult
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		res, err = s.RefundTx(ctx, tx, workspaceID, r)
		return err
	})
	return res, err
}

// RefundTx applies a refund inside the caller's transaction (the Stripe
// intake records the Stripe event in the same one). It locks the sale, then
// its commissions, so refunds of one sale take turns.
func (s *Service) RefundTx(ctx context.Context, tx *store.Tx, workspaceID string, r Refund) (*RefundResult, error) {
	sale, err := tx.LockSaleByExternalID(ctx, workspaceID, r.ExternalID)
	if err != nil {
		return nil, err
	}
	before := sale.RefundedCents
	after := RefundedAfter(sale.AmountCents, before, r.AmountCents, r.TotalCents)
	tooLarge := r.TotalCents <= 0 && !r.Capped && r.AmountCents > sale.AmountCents-before
	if r.RefundID != "" {
		fresh, err := tx.ClaimRefundKey(ctx, workspaceID, sale.ID, r.RefundID, after-before)
		if err != nil {
			return nil, err
		}
		if !fresh {
			after, tooLarge = before, false // this refund was applied already
		}
	}
	if tooLarge {
		// The caller's transaction rolls back, the refund key with it.
		return nil, &RefundTooLargeError{LeftCents: sale.AmountCents - before, SaleCents: sale.AmountCents, Currency: sale.Currency}
	}
	if after > before {
		if err := tx.SetRefunded(ctx, workspaceID, sale.ID, after); err != nil {
			return nil, err
		}
		cs, err := tx.LockCommissionsOfEvent(ctx, workspaceID, sale.ID)
		if err != nil {
			return nil, err
		}
		if err := s.refundCommissions(ctx, tx, sale, cs, before, after, r); err != nil {
			return nil, err
		}
	}
	res := &RefundResult{RefundedCents: after - before}
	if res.Sale, err = tx.Sale(ctx, workspaceID, sale.ID); err != nil {
		return nil, err
	}
	if res.Commissions, err = tx.CommissionsOfEvent(ctx, workspaceID, sale.ID); err != nil {
		return nil, err
	}
	return res, nil
}

// refundCommissions carries out PlanRefund on a sale's locked commissions.
func (s *Service) refundCommissions(ctx context.Context, tx *store.Tx, sale *store.Sale, cs []store.Commission,
	before, after int64, r Refund) error {
	var (
		original    *store.Commission
		adjustments []store.Commission
		byID        = map[string]*store.Commission{}
	)
	for i := range cs {
		byID[cs[i].ID] = &cs[i]
		if cs[i].AdjustsID == nil {
			original = &cs[i]
		}
	}
	if original == nil {
		return nil // the sale earned no commission
	}
	for _, c := range cs {
		if c.AdjustsID != nil && *c.AdjustsID == original.ID {
			adjustments = append(adjustments, c)
		}
	}
	plan := PlanRefund(*original, adjustments, sale.AmountCents, before, after)
	why := r.describe(sale, before, after)
	taken := int64(0)
	for _, id := range plan.ClawBack {
		if err := s.apply(ctx, tx, byID[id], ClawedBack, why, r.Actor); err != nil {
			return err
		}
		taken += byID[id].AmountCents
	}
	if plan.TakeCents <= 0 {
		return clawbackMail(ctx, tx, original, taken, r.toPartner(sale, before, after))
	}
	if after >= sale.AmountCents && original.Status == Paid {
		// What clawBackPaid takes (what is left of the original after its
		// live adjustments) is plan.TakeCents: the same adjustment as a
		// clawback by hand.
		adj, err := s.clawBackPaid(ctx, tx, original, why, r.Actor)
		if err != nil {
			return err
		}
		return clawbackMail(ctx, tx, original, -adj.AmountCents, r.toPartner(sale, before, after))
	}
	payableAt := s.now().UTC()
	if plan.AdjustmentStatus == Pending {
		payableAt = original.PayableAt // payable, and approved, with the original
	}
	take := money.Format(-plan.TakeCents, original.Currency)
	created := fmt.Sprintf("created: %s; takes back %s of commission %s", why, take, original.ID)
	if after < sale.AmountCents {
		created += " pro rata"
	}
	adj, err := s.addAdjustment(ctx, tx, original, -plan.TakeCents, plan.AdjustmentStatus, payableAt, created, r.Actor)
	if err != nil {
		return err
	}
	note := fmt.Sprintf("%s; adjustment %s of %s", why, adj.ID, take)
	if err := tx.AddHistoryNote(ctx, original.WorkspaceID, original.ID, original.Status, original.Status, note, r.Actor); err != nil {
		return err
	}
	return clawbackMail(ctx, tx, original, plan.TakeCents, r.toPartner(sale, before, after))
}

// addAdjustment records a negative adjustment of c (its reward snapshot
// copied), its first history entry and commission.created.
func (s *Service) addAdjustment(ctx context.Context, tx *store.Tx, c *store.Commission, amountCents int64, status string,
	payableAt time.Time, reason, actor string) (*store.Commission, error) {
	adj := &store.Commission{
		ID: ids.New(ids.Commission), WorkspaceID: c.WorkspaceID, ProgramID: c.ProgramID, PartnerID: c.PartnerID,
		CustomerID: c.CustomerID, EventID: c.EventID, AdjustsID: &c.ID, RewardID: c.RewardID, Type: c.Type,
		AmountCents: amountCents, Currency: c.Currency, Status: status, PayableAt: payableAt,
		RewardType: c.RewardType, RewardPercentBP: c.RewardPercentBP, RewardAmountCents: c.RewardAmountCents,
		RewardInterval: c.RewardInterval, RewardDurationMonths: c.RewardDurationMonths,
		SaleAmountCents: c.SaleAmountCents, OccurredAt: c.OccurredAt,
	}
	if err := tx.InsertAdjustment(ctx, adj, reason, actor); err != nil {
		return nil, err
	}
	if e, ok := LedgerEntry(nil, adj); ok {
		tx.QueueLedger(e)
	}
	partner, customer, err := tx.CommissionParties(ctx, adj)
	if err != nil {
		return nil, err
	}
	e, err := outbox.New(adj.WorkspaceID, outbox.CommissionCreated, s.now(),
		outbox.CommissionData{Commission: *adj, Partner: partner, Customer: customer})
	if err != nil {
		return nil, err
	}
	if err := tx.InsertWebhookEvents(ctx, e); err != nil {
		return nil, err
	}
	return adj, nil
}

// toPartner says what the refund was in the words of the partner's mail:
// the customer's refund, and the merchant's reason when given (the sale's
// external id and the source are the merchant's business).
func (r Refund) toPartner(sale *store.Sale, before, after int64) string {
	f := func(cents int64) string { return money.Format(cents, sale.Currency) }
	s := "The customer's payment was refunded"
	if after < sale.AmountCents || before > 0 {
		s = fmt.Sprintf("Part of the customer's payment was refunded (%s of %s)", f(after-before), f(sale.AmountCents))
	}
	if reason := strings.TrimSpace(r.Reason); reason != "" {
		s += ": " + reason
	}
	return s + "."
}

// describe says what the refund was, for the history of the commissions it
// changes: "refund: $30.00 of sale o-1 refunded ($30.00 of $100.00 in all)
// by the API; reason: damaged".
func (r Refund) describe(sale *store.Sale, before, after int64) string {
	f := func(cents int64) string { return money.Format(cents, sale.Currency) }
	var b strings.Builder
	switch {
	case after >= sale.AmountCents && before == 0:
		fmt.Fprintf(&b, "refund: sale %s refunded in full (%s)", sale.ExternalID, f(sale.AmountCents))
	case after >= sale.AmountCents:
		fmt.Fprintf(&b, "refund: the rest of sale %s refunded (%s; %s in all)", sale.ExternalID, f(after-before), f(after))
	default:
		fmt.Fprintf(&b, "refund: %s of sale %s refunded (%s of %s in all)", f(after-before), sale.ExternalID, f(after), f(sale.AmountCents))
	}
	if r.Source != "" {
		b.WriteString(" by " + r.Source)
	}
	if reason := strings.TrimSpace(r.Reason); reason != "" {
		b.WriteString("; reason: " + reason)
	}
	return b.String()
}
