package commission

import (
	"context"
	"errors"

	"log/slog"
	"time"

	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
)

// Service moves commissions through their states.
type Service struct {
	store *store.Store
	now   func() time.Time
}

// New returns the commission service over st.
func New(st *store.Store) *Service {
	return &Service{store: st, now: time.Now}
}

// SetStatus is the API's status change (PATCH /api/commissions/{id}): the
// direct edges of the state machine (Transition: the API never makes an
// adjustment) plus the payout rules of CheckChange, applied by Change, and
// the commission with its history. Refused changes wrap
// ErrInvalidTransition or ErrReasonRequired and change nothing.
func (s *Service) SetStatus(ctx context.Context, workspaceID, id, to, reason, actor string) (*store.Commission, []store.HistoryEntry, error) {
	out, err := s.change(ctx, workspaceID, id, to, reason, actor, true)
	if err != nil {
		return nil, nil, err
	}
	history, err := s.store.History(ctx, workspaceID, id)
	if err != nil {
		return nil, nil, err
	}
	return out.Commission, history, nil
}

// apply writes an already-checked status change, its ledger entry (when it
// moves the balance) and its commission.updated event.
func (s *Service) apply(ctx context.Context, tx *store.Tx, c *store.Commission, to, reason, actor string) error {
	before := *c
	if err := tx.SetCommissionStatus(ctx, c, to, reason, actor); err != nil {
		return err
	}
	if e, ok := LedgerEntry(&before, c); ok {
		tx.QueueLedger(e)
	}
	partner, customer, err := tx.CommissionParties(ctx, c)
	if err != nil {
		return err
	}
	e, err := outbox.New(c.WorkspaceID, outbox.CommissionUpdated, s.now(),
		outbox.CommissionData{Commission: *c, Partner: partner, Customer: customer})
	if err != nil {
		return err
	}
	return tx.InsertWebhookEvents(ctx, e)
}

// ApproveDue moves up to batch pending commissions whose holding period has
// ended to approved, and returns how many it moved. Safe to run on every
// replica at once: rows are claimed with SKIP LOCKED.
func (s *Service) ApproveDue(ctx context.Context, batch int) (int, error) {
	n := 0
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		due, err := tx.LockDueCommissions(ctx, batch)
		if err != nil {
			return err
		}
		for i := range due {
			if err := s.apply(ctx, tx, &due[i], Approved, "holding period ended", "system"); err != nil {
				return err
			}
		}
		n = len(due)
		return nil
	})
	return n, err
}

// RunAutoApprover approves due commissions every interval until ctx ends.
func (s *Service) RunAutoApprover(ctx context.Context, interval time.Duration, log *slog.Logger) {
	const batch = 500
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for {
			n, err := s.ApproveDue(ctx, batch)
			if err != nil {
				if !errors.Is(err, context.Canceled) {
					log.Warn("auto-approval failed", "err", err)
				}
				break
			}
			if n > 0 {
				log.Info("auto-approved commissions", "count", n)
			}
			if n < batch {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// IsRefusal reports whether err is a status change the rules refused.
func IsRefusal(err error) bool {
	return errors.Is(err, ErrInvalidTransition) || errors.Is(err, ErrReasonRequired)
}
