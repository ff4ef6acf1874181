package commission

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
)

// Payout states. A cancelled payout releases its commissions back to the
// partner's balance.
const (
	PayoutPending   = "pending"
	PayoutPaid      = "paid"
	PayoutCancelled = "cancelled"
)

// PayoutStatuses lists every payout state.
var PayoutStatuses = []string{PayoutPending, PayoutPaid, PayoutCancelled}

var (
	// ErrPayoutRefused is a payout action the rules refused; Explain says why.
	ErrPayoutRefused = errors.New("payout refused")
	// ErrNothingToPay: no approved commissions outside a payout.
	ErrNothingToPay = errors.New("nothing to pay")
	// ErrBelowMinimum: the balance is negative or below the program's minimum payout.
	ErrBelowMinimum = errors.New("balance below the minimum payout")
	// ErrPayoutNotPending: the payout was already paid or cancelled.
	ErrPayoutNotPending = errors.New("payout not pending")
	// ErrReferenceRequired is marking a payout paid without a reference.
	ErrReferenceRequired = errors.New("a reference is required to mark a payout paid")
)

// IsPayoutRefusal reports whether err is a payout action the rules refused.
func IsPayoutRefusal(err error) bool {
	return errors.Is(err, ErrPayoutRefused) || errors.Is(err, ErrReferenceRequired)
}

// PayoutThreshold is the smallest balance that may be paid out: the
// program's minimum, and never less than one minor unit.
func PayoutThreshold(minimumCents int64) int64 { return max(minimumCents, 1) }

// CheckPayable decides whether a balance may be paid out. A negative balance
// (more clawed back after payout than earned since) and one below the
// minimum carry forward: they stay as they are until new commissions lift
// them over the threshold.
func CheckPayable(balanceCents, minimumCents int64, currency string) error {
	refused := []error{ErrPayoutRefused, ErrBelowMinimum}
	switch {
	case balanceCents < 0:
		return refuse(refused, "the balance is %s: a negative balance carries forward and nets against the partner's next commissions",
			money.Format(balanceCents, currency))
	case balanceCents == 0:
		return refuse([]error{ErrPayoutRefused, ErrNothingToPay}, "the balance is %s: there is nothing to pay",
			money.Format(0, currency))
	case balanceCents < PayoutThreshold(minimumCents):
		return refuse(refused, "the balance of %s is below the program's minimum payout of %s; it carries forward",
			money.Format(balanceCents, currency), money.Format(minimumCents, currency))
	}
	return nil
}

// CreatePayout puts all of a partner's approved commissions in currency that
// are in no payout yet (negative adjustments included) into one new pending
// payout of their sum, by actor. The rows are locked and re-checked, so
// concurrent calls for one partner and currency make one payout; the others
// find nothing left to pay.
func (s *Service) CreatePayout(ctx context.Context, workspaceID, partnerID, currency, actor string) (*store.Payout, error) {
	currency = strings.ToUpper(strings.TrimSpace(currency))
	var p *store.Payout
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		partner, err := tx.Partner(ctx, workspaceID, partnerID)
		if err != nil {
			return err
		}
		program, err := tx.Program(ctx, workspaceID, partner.ProgramID)
		if err != nil {
			return err
		}
		rows, err := tx.LockPayable(ctx, workspaceID, partnerID, currency)
		if err != nil {
			return err
		}
		if len(rows) == 0 {
			return refuse([]error{ErrPayoutRefused, ErrNothingToPay},
				"%s has no approved commissions in %s that are not in a payout yet", partner.Name, currency)
		}
		var balance int64
		commissionIDs := make([]string, len(rows))
		for i, r := range rows {
			balance += r.AmountCents
			commissionIDs[i] = r.ID
		}
		if err := CheckPayable(balance, program.MinPayoutCents, currency); err != nil {
			return err
		}
		p = &store.Payout{ID: ids.New(ids.Payout), WorkspaceID: workspaceID, ProgramID: partner.ProgramID,
			PartnerID: partnerID, Currency: currency, AmountCents: balance, CreatedBy: actor}
		return tx.InsertPayout(ctx, p, commissionIDs)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// MarkPayoutPaid records that a pending payout was sent, with the bank's or
// provider's reference, and moves its commissions (negative adjustments
// too) from approved to paid, each with history by actor and a
// commission.updated event.
func (s *Service) MarkPayoutPaid(ctx context.Context, workspaceID, payoutID, reference, actor string) (*store.Payout, error) {
	reference = strings.TrimSpace(reference)
	if reference == "" {
		return nil, ErrReferenceRequired
	}
	var p *store.Payout
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.LockPayout(ctx, workspaceID, payoutID); err != nil {
			return err
		}
		if p.Status != PayoutPending {
			return refuse([]error{ErrPayoutRefused, ErrPayoutNotPending},
				"payout %s is %s: only a pending payout can be marked paid", p.ID, p.Status)
		}
		cs, err := tx.LockPayoutCommissions(ctx, workspaceID, p.ID)
		if err != nil {
			return err
		}
		reason := fmt.Sprintf("paid in payout %s (reference %s)", p.ID, reference)
		for i := range cs {
			if cs[i].Status != Approved {
				continue // paid by hand already: nothing to record twice
			}
			if err := s.apply(ctx, tx, &cs[i], Paid, reason, actor); err != nil {
				return err
			}
		}
		if err := tx.SetPayoutPaid(ctx, p, reference); err != nil {
			return err
		}
		return payoutSentMail(ctx, tx, p, "manual", reference)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// CancelPayout cancels a pending payout: its commissions leave it and count
// towards the partner's balance again.
func (s *Service) CancelPayout(ctx context.Context, workspaceID, payoutID string) (*store.Payout, error) {
	var p *store.Payout
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.LockPayout(ctx, workspaceID, payoutID); err != nil {
			return err
		}
		if p.Status != PayoutPending {
			return refuse([]error{ErrPayoutRefused, ErrPayoutNotPending},
				"payout %s is %s: only a pending payout can be cancelled", p.ID, p.Status)
		}
		cs, err := tx.LockPayoutCommissions(ctx, workspaceID, p.ID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if c.Status != Approved {
				return refuse([]error{ErrPayoutRefused}, "commission %s of payout %s is already %s: mark the payout paid instead",
					c.ID, p.ID, strings.ReplaceAll(c.Status, "_", " "))
			}
		}
		return tx.CancelPayout(ctx, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}
