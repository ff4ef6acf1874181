package commission

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
)

// ErrAlreadyClawedBack is a clawback of a paid commission whose adjustments
// already take back all of it.
var ErrAlreadyClawedBack = errors.New("already clawed back")

// refusal is a change refused for a reason people should read: msg says why
// in words, and the error matches each of kinds with errors.Is.
type refusal struct {
	kinds []error
	msg   string
}

func (r *refusal) Error() string   { return r.kinds[0].Error() + ": " + r.msg }
func (r *refusal) Unwrap() []error { return r.kinds }

func refuse(kinds []error, format string, args ...any) error {
	return &refusal{kinds: kinds, msg: fmt.Sprintf(format, args...)}
}

// Explain says why a change was refused, for people: "a paid commission
// cannot become approved" rather than the wrapped error text.
func Explain(err error) string {
	var r *refusal
	switch {
	case errors.As(err, &r):
		return r.msg
	case errors.Is(err, ErrReasonRequired):
		return ErrReasonRequired.Error()
	}
	msg := strings.TrimPrefix(err.Error(), ErrInvalidTransition.Error()+": ")
	msg = strings.ReplaceAll(msg, ClawedBack, "clawed back")
	return msg
}

// Outcome is what one change did.
type Outcome struct {
	// Commission is the commission after the change; a paid commission that
	// was clawed back is unchanged.
	Commission *store.Commission
	// Adjustment is the negative adjustment made when a paid commission was
	// clawed back, else nil.
	Adjustment *store.Commission
}

// CheckChange is the state machine plus what payouts add to it, for a change
// of c to status to (State.Check). A paid commission may be clawed back
// (Change turns that into a negative adjustment; whether one exists already
// is checked under the row lock). Refusals wrap ErrInvalidTransition or
// ErrReasonRequired.
func CheckChange(c *store.Commission, to, reason string) error {
	return StateOf(c).Check(c.ID, deref(c.AdjustsID), deref(c.PayoutID), Status(to), reason)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// AdjustmentsFollowing returns the negative adjustments (of a refund) of a
// commission that change with it to status to: pending ones are approved
// with it, and live ones are clawed back with it, which is refused when one
// of them is paid or in a payout already.
func AdjustmentsFollowing(c *store.Commission, adjustments []store.Commission, to string) ([]*store.Commission, error) {
	var out []*store.Commission
	for i := range adjustments {
		a := &adjustments[i]
		switch {
		case to == Approved && a.Status == Pending:
			out = append(out, a)
		case to == ClawedBack && a.Status != ClawedBack:
			if (a.Status != Pending && a.Status != Approved) || a.PayoutID != nil {
				return nil, refuse([]error{ErrInvalidTransition},
					"%s has adjustment %s, which is paid or in a payout already: claw the commission back after its payout instead", c.ID, a.ID)
			}
			out = append(out, a)
		}
	}
	return out, nil
}

// Change applies one status change by actor (approve, mark paid, claw back),
// with the checks of CheckChange, in one transaction. Clawing back a paid
// commission never edits it: it records a negative adjustment that nets
// against the partner's next payout (see clawBackPaid). Adjustments a refund
// made follow the commission (AdjustmentsFollowing). A clawback mails the
// partner what it took back and why, in the same transaction. Refused
// changes change nothing.
func (s *Service) Change(ctx context.Context, workspaceID, id, to, reason, actor string) (*Outcome, error) {
	return s.change(ctx, workspaceID, id, to, reason, actor, false)
}

// change is Change; directOnly also holds it to the direct edges of the
// state machine (Transition), which refuses clawing back a paid commission
// by adjustment.
func (s *Service) change(ctx context.Context, workspaceID, id, to, reason, actor string, directOnly bool) (*Outcome, error) {
	reason = strings.TrimSpace(reason)
	var out Outcome
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		out = Outcome{} // InTx may run this again after a deadlock
		c, adjustments, err := tx.LockCommissionWithAdjustments(ctx, workspaceID, id)
		if err != nil {
			return err
		}
		if directOnly {
			if err := Transition(c.Status, to, reason); err != nil {
				return err
			}
		}
		if err := CheckChange(c, to, reason); err != nil {
			return err
		}
		out.Commission = c
		if EdgeOf(Status(c.Status), Status(to)) == ByAdjustment {
			if out.Adjustment, err = s.clawBackPaid(ctx, tx, c, reason, actor); err != nil {
				return err
			}
			return clawbackMail(ctx, tx, c, -out.Adjustment.AmountCents, reason)
		}
		following, err := AdjustmentsFollowing(c, adjustments, to)
		if err != nil {
			return err
		}
		if err := s.apply(ctx, tx, c, to, reason, actor); err != nil {
			return err
		}
		why := Status(to).Label() + " with commission " + c.ID
		if reason != "" {
			why += "; reason: " + reason
		}
		taken := c.AmountCents
		for _, a := range following {
			if err := s.apply(ctx, tx, a, to, why, actor); err != nil {
				return err
			}
			taken += a.AmountCents
		}
		if to != ClawedBack {
			return nil
		}
		return clawbackMail(ctx, tx, c, taken, reason)
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// clawBackPaid undoes a paid commission, which is locked by the caller: a
// new approved commission of minus what is left of it after its live
// adjustments (so it is in the partner's next payout), history on both, and
// commission.created for the adjustment. The lock makes "clawed back only
// once" hold under concurrency.
func (s *Service) clawBackPaid(ctx context.Context, tx *store.Tx, c *store.Commission, reason, actor string) (*store.Commission, error) {
	prior, err := tx.Adjustments(ctx, c.WorkspaceID, c.ID)
	if err != nil {
		return nil, err
	}
	left, last := c.AmountCents, ""
	for _, a := range prior {
		if a.Status != ClawedBack {
			left += a.AmountCents
			last = a.ID
		}
	}
	if left <= 0 {
		return nil, refuse([]error{ErrInvalidTransition, ErrAlreadyClawedBack},
			"%s was already clawed back after payout (adjustment %s)", c.ID, last)
	}
	now := s.now()
	adj := &store.Commission{
		ID: ids.New(ids.Commission), WorkspaceID: c.WorkspaceID, ProgramID: c.ProgramID, PartnerID: c.PartnerID,
		CustomerID: c.CustomerID, EventID: c.EventID, AdjustsID: &c.ID, RewardID: c.RewardID, Type: c.Type,
		AmountCents: -left, Currency: c.Currency, Status: Approved, PayableAt: now,
		RewardType: c.RewardType, RewardPercentBP: c.RewardPercentBP, RewardAmountCents: c.RewardAmountCents,
		RewardInterval: c.RewardInterval, RewardDurationMonths: c.RewardDurationMonths,
		SaleAmountCents: c.SaleAmountCents, OccurredAt: c.OccurredAt,
	}
	created := fmt.Sprintf("created: clawback of paid commission %s; reason: %s", c.ID, reason)
	if err := tx.InsertAdjustment(ctx, adj, created, actor); err != nil {
		return nil, err
	}
	if e, ok := LedgerEntry(nil, adj); ok {
		tx.QueueLedger(e)
	}
	note := fmt.Sprintf("clawed back after payout: adjustment %s of %s nets against the next payout; reason: %s",
		adj.ID, money.Format(adj.AmountCents, adj.Currency), reason)
	if err := tx.AddHistoryNote(ctx, c.WorkspaceID, c.ID, Paid, Paid, note, actor); err != nil {
		return nil, err
	}
	partner, customer, err := tx.CommissionParties(ctx, adj)
	if err != nil {
		return nil, err
	}
	e, err := outbox.New(adj.WorkspaceID, outbox.CommissionCreated, now,
		outbox.CommissionData{Commission: *adj, Partner: partner, Customer: customer})
	if err != nil {
		return nil, err
	}
	if err := tx.InsertWebhookEvents(ctx, e); err != nil {
		return nil, err
	}
	return adj, nil
}
