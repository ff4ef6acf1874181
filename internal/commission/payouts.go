package commission

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
)

// Payouts in the database: creating one takes the partner's balance, marking
// it paid pays its commissions, canceling or a failed transfer gives the
// balance back. Each is one transaction with its ledger entry and its
// webhook event; the rows are locked (payout, then its commissions, then
// the balance, as InTx writes the ledger last), and every change of a
// payout's state is conditional on the state it was read in.

var (
	// ErrPayoutRefused is a payout action the rules refused; Explain says why.
	ErrPayoutRefused = errors.New("payout refused")
	// ErrNothingToPay: no approved commissions outside a payout.
	ErrNothingToPay = errors.New("nothing to pay")
	// ErrBelowMinimum: the balance is negative or below the program's minimum payout.
	ErrBelowMinimum = errors.New("balance below the minimum payout")
	// ErrReferenceRequired is marking a payout paid without a reference.
	ErrReferenceRequired = errors.New("a reference is required to mark a payout paid")
)

// IsPayoutRefusal reports whether err is a payout action the rules refused.
func IsPayoutRefusal(err error) bool {
	return errors.Is(err, ErrPayoutRefused) || errors.Is(err, ErrReferenceRequired)
}

// Method of a payout whose partner chose none: paid by hand.
const MethodManual = "manual"

// CreatePayout puts all of a partner's approved commissions in currency that
// are in no payout yet (negative adjustments included) into one new pending
// payout of their sum, by actor, paid by the partner's payout method (by
// hand when they chose none). The rows are locked and re-checked, so
// concurrent calls for one partner and currency make one payout; the
// others find nothing left to pay.
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
		sum := sumPayable(rows)
		if err := CheckPayable(sum.amount, currency, program.MinPayoutCents, program.Currency); err != nil {
			return err
		}
		p = &store.Payout{ID: ids.New(ids.Payout), WorkspaceID: workspaceID, ProgramID: partner.ProgramID,
			PartnerID: partnerID, Currency: currency, AmountCents: sum.amount, CommissionCount: sum.count,
			AdjustmentCents: sum.adjustment, Method: MethodManual, CreatedBy: actor}
		m, err := tx.PayoutMethodOf(ctx, workspaceID, partnerID)
		switch {
		case err == nil:
			p.Method = m.Type
			if m.Type == "paypal" || m.Type == "wise" {
				p.Recipient = m.Email
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if err := tx.InsertPayout(ctx, p, sum.ids); err != nil {
			return err
		}
		tx.QueueLedger(PayoutEntry(p, LedgerPayout))
		return s.payoutEvent(ctx, tx, outbox.PayoutCreated, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

type payableSum struct {
	ids                       []string
	amount, count, adjustment int64
}

func sumPayable(rows []store.Payable) payableSum {
	s := payableSum{ids: make([]string, len(rows)), count: int64(len(rows))}
	for i, r := range rows {
		s.amount += r.AmountCents
		if r.AmountCents < 0 {
			s.adjustment += r.AmountCents
		}
		s.ids[i] = r.ID
	}
	return s
}

// payoutEvent records a payout webhook event in the transaction.
func (s *Service) payoutEvent(ctx context.Context, tx *store.Tx, typ string, p *store.Payout) error {
	partner, _, err := tx.CommissionParties(ctx, &store.Commission{WorkspaceID: p.WorkspaceID, PartnerID: p.PartnerID})
	if err != nil {
		return err
	}
	e, err := outbox.New(p.WorkspaceID, typ, s.now(), outbox.PayoutData{Payout: *p, Partner: partner})
	if err != nil {
		return err
	}
	return tx.InsertWebhookEvents(ctx, e)
}

// payCommissions moves a payout's locked commissions from approved to paid,
// each with history naming the payout (why), by actor.
func (s *Service) payCommissions(ctx context.Context, tx *store.Tx, p *store.Payout, why, actor string) error {
	cs, err := tx.LockPayoutCommissions(ctx, p.WorkspaceID, p.ID)
	if err != nil {
		return err
	}
	for i := range cs {
		if cs[i].Status != Approved {
			continue // nothing to record twice
		}
		if err := s.apply(ctx, tx, &cs[i], Paid, why, actor); err != nil {
			return err
		}
	}
	return nil
}

// MarkPayoutPaid records that a pending payout was paid outside Partli (a
// PayPal or Wise file, a bank transfer), with the provider's or bank's
// reference, and moves its commissions (negative adjustments too) from
// approved to paid, each with history by actor and a commission.updated
// event, and payout.paid.
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
		if _, err := PayoutTransition(p.ID, p.Status, PayoutMarkPaid); err != nil {
			return err
		}
		if err := s.payCommissions(ctx, tx, p, fmt.Sprintf("paid in payout %s (reference %s)", p.ID, reference), actor); err != nil {
			return err
		}
		if err := tx.SetPayoutPaid(ctx, p, reference, nil); err != nil {
			return err
		}
		if err := payoutSentMail(ctx, tx, p, p.Method, reference); err != nil {
			return err
		}
		return s.payoutEvent(ctx, tx, outbox.PayoutPaid, p)
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// CancelPayout cancels a pending payout, whose commissions leave it and count
// towards the partner's balance again, or a failed one (whose commissions
// went back when it failed).
func (s *Service) CancelPayout(ctx context.Context, workspaceID, payoutID string) (*store.Payout, error) {
	var p *store.Payout
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.LockPayout(ctx, workspaceID, payoutID); err != nil {
			return err
		}
		if _, err := PayoutTransition(p.ID, p.Status, PayoutCancel); err != nil {
			return err
		}
		if p.Status == PayoutFailed {
			return tx.CancelFailedPayout(ctx, p)
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
		if err := tx.ReleasePayout(ctx, p, PayoutCanceled, ""); err != nil {
			return err
		}
		tx.QueueLedger(PayoutEntry(p, LedgerPayoutCanceled))
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// Transfer is a payout's Stripe transfer attempt as BeginTransfer recorded it.
type Transfer struct {
	Payout  *store.Payout
	Attempt *store.PayoutAttempt
}

// BeginTransfer records, before Stripe is called, that a pending or failed
// payout is being sent to Stripe account destination: the payout becomes
// processing with a new attempt, its idempotency key (IdempotencyKey) and
// a lease for the sender for lease. A failed payout takes the
// partner's balance again (its commissions went back when it failed), so
// it pays the balance as it is now. check runs on the payout (with that
// amount) before anything is written; its error refuses the send.
func (s *Service) BeginTransfer(ctx context.Context, workspaceID, payoutID, destination string, lease time.Duration,
	check func(*store.Payout) error) (*Transfer, error) {
	var out *Transfer
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		p, err := tx.LockPayout(ctx, workspaceID, payoutID)
		if err != nil {
			return err
		}
		if _, err := PayoutTransition(p.ID, p.Status, PayoutSend); err != nil {
			return err
		}
		var reclaim *payableSum
		if p.Status == PayoutFailed {
			rows, err := tx.LockPayable(ctx, workspaceID, p.PartnerID, p.Currency)
			if err != nil {
				return err
			}
			if len(rows) == 0 {
				return refuse([]error{ErrPayoutRefused, ErrNothingToPay},
					"payout %s failed and its commissions went back to the balance, which is empty now (they are in another payout, or were clawed back): cancel this payout", p.ID)
			}
			program, err := tx.Program(ctx, workspaceID, p.ProgramID)
			if err != nil {
				return err
			}
			sum := sumPayable(rows)
			if err := CheckPayable(sum.amount, p.Currency, program.MinPayoutCents, program.Currency); err != nil {
				return err
			}
			reclaim = &sum
			p.AmountCents, p.CommissionCount, p.AdjustmentCents = sum.amount, sum.count, sum.adjustment
		}
		if err := check(p); err != nil {
			return err
		}
		if reclaim != nil {
			if err := tx.ReclaimPayout(ctx, p, reclaim.ids, reclaim.amount, reclaim.count, reclaim.adjustment); err != nil {
				return err
			}
			tx.QueueLedger(PayoutEntry(p, LedgerPayout))
		}
		a := &store.PayoutAttempt{Attempt: p.Attempt + 1, AmountCents: p.AmountCents, Currency: p.Currency, Destination: destination}
		a.IdempotencyKey = IdempotencyKey(p.ID, a.Attempt)
		if err := tx.StartAttempt(ctx, p, a, lease); err != nil {
			return err
		}
		out = &Transfer{Payout: p, Attempt: a}
		return nil
	})
	return out, err
}

// FinishTransfer records that Stripe made attempt's transfer: the attempt
// succeeded, the payout is paid with the transfer as its reference, and its
// commissions are paid with history naming the payout and the transfer.
// An attempt resolved already (by another replica) is left as it is, and
// the payout returned as it stands.
func (s *Service) FinishTransfer(ctx context.Context, a *store.PayoutAttempt, transferID string) (*store.Payout, error) {
	var p *store.Payout
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.LockPayout(ctx, a.WorkspaceID, a.PayoutID); err != nil {
			return err
		}
		if p.Status != PayoutProcessing || p.Attempt != a.Attempt {
			return nil
		}
		if err := tx.FinishAttempt(ctx, a, &transferID, ""); err != nil {
			return err
		}
		why := fmt.Sprintf("paid in payout %s (Stripe transfer %s)", p.ID, transferID)
		if err := s.payCommissions(ctx, tx, p, why, "stripe"); err != nil {
			return err
		}
		if err := tx.SetPayoutPaid(ctx, p, transferID, &transferID); err != nil {
			return err
		}
		if err := payoutSentMail(ctx, tx, p, "stripe", transferID); err != nil {
			return err
		}
		return s.payoutEvent(ctx, tx, outbox.PayoutPaid, p)
	})
	return p, err
}

// FailTransfer records that Stripe refused attempt's transfer, with its
// message: the attempt failed, the payout is failed and its commissions
// are back in the partner's balance (it can be sent again, or canceled).
// An attempt resolved already is left as it is.
func (s *Service) FailTransfer(ctx context.Context, a *store.PayoutAttempt, message string) (*store.Payout, error) {
	message = strings.TrimSpace(message)
	if message == "" {
		message = "Stripe refused the transfer without saying why"
	}
	var p *store.Payout
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if p, err = tx.LockPayout(ctx, a.WorkspaceID, a.PayoutID); err != nil {
			return err
		}
		if p.Status != PayoutProcessing || p.Attempt != a.Attempt {
			return nil
		}
		if err := tx.FinishAttempt(ctx, a, nil, message); err != nil {
			return err
		}
		if _, err := tx.LockPayoutCommissions(ctx, p.WorkspaceID, p.ID); err != nil {
			return err
		}
		if err := tx.ReleasePayout(ctx, p, PayoutFailed, message); err != nil {
			return err
		}
		tx.QueueLedger(PayoutEntry(p, LedgerPayoutFailed))
		return s.payoutEvent(ctx, tx, outbox.PayoutFailed, p)
	})
	return p, err
}
