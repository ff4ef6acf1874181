package payout

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
)

var (
	// ErrNotSent: the payout is paid outside Partli (a PayPal or Wise
	// file, by hand), not sent; Explain says how.
	ErrNotSent = errors.New("payout: paid outside Partli")
	// ErrNotReady: the partner's payout method cannot be paid yet.
	ErrNotReady = errors.New("payout: the partner's payout method is not ready")
	// ErrStripeNotSetUp: neither the workspace nor the installation has a
	// Stripe secret key.
	ErrStripeNotSetUp = errors.New("payout: Stripe is not set up")
)

// Refusal is a payout action refused for a reason people should read.
type Refusal struct {
	Kind error
	Msg  string
}

func (r *Refusal) Error() string { return r.Kind.Error() + ": " + r.Msg }
func (r *Refusal) Unwrap() error { return r.Kind }

func refused(kind error, format string, args ...any) error {
	return &Refusal{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

// Explain says why a payout action was refused, for people.
func Explain(err error) string {
	var r *Refusal
	if errors.As(err, &r) {
		return r.Msg
	}
	return commission.Explain(err)
}

// IsRefusal reports whether err is a payout action refused by the rules
// (as opposed to a failure): it is answered 409 with Explain.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r) || commission.IsPayoutRefusal(err)
}

// Config is what the payout service needs of the installation.
type Config struct {
	// StripeSecretKey is the installation's (PARTLI_STRIPE_SECRET_KEY), used
	// for workspaces without their own.
	StripeSecretKey string
	// Stripe makes the Stripe calls.
	Stripe *stripe.Payments
	// BaseURL is the public origin, for the onboarding links' return pages.
	BaseURL string
	// Lease is how long a sender holds a processing payout before another
	// may ask Stripe about it again (default 2 minutes: longer than a
	// transfer request with its retries).
	Lease time.Duration
	// Now is the clock (default time.Now), which decides when schedules
	// are due.
	Now func() time.Time
}

// Service sends payouts and creates them for programs.
type Service struct {
	store       *store.Store
	commissions *commission.Service
	cfg         Config
	log         *slog.Logger
	now         func() time.Time
}

// New returns the payout service.
func New(st *store.Store, cs *commission.Service, cfg Config, log *slog.Logger) *Service {
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Stripe == nil {
		cfg.Stripe = stripe.NewPayments(stripe.PaymentsConfig{})
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: st, commissions: cs, cfg: cfg, log: log, now: cfg.Now}
}

// StripeKey is the secret key payouts of the workspace use: its own, else
// the installation's.
func (s *Service) StripeKey(ctx context.Context, workspaceID string) (string, error) {
	key, err := s.store.StripeSecretKey(ctx, workspaceID)
	switch {
	case err == nil:
		return key, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", err
	case s.cfg.StripeSecretKey != "":
		return s.cfg.StripeSecretKey, nil
	}
	return "", refused(ErrStripeNotSetUp, "Stripe is not set up for payouts: add the workspace's Stripe secret key in the dashboard's Stripe settings (or PUT /api/integrations/stripe {secretKey})")
}

// stripeErr turns a Stripe refusal into a refusal with Stripe's words.
func stripeErr(what string, err error) error {
	var r *stripe.RefusedByStripe
	if errors.As(err, &r) {
		return refused(ErrNotReady, "Stripe refused to %s: %s", what, r.Message)
	}
	return err
}

// Onboarding returns a Stripe Account Link that takes the partner through
// onboarding, creating their Express account on first use (on the
// merchant's Stripe platform: the workspace's key), and makes Stripe the
// partner's payout method. refreshURL and returnURL are where Stripe sends
// the partner back.
func (s *Service) Onboarding(ctx context.Context, workspaceID, partnerID, refreshURL, returnURL string) (string, error) {
	key, err := s.StripeKey(ctx, workspaceID)
	if err != nil {
		return "", err
	}
	partner, err := s.store.Partner(ctx, workspaceID, partnerID)
	if err != nil {
		return "", err
	}
	var account string
	switch m, err := s.store.PayoutMethodOf(ctx, workspaceID, partnerID); {
	case err == nil && m.StripeAccountID != nil:
		account = *m.StripeAccountID
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return "", err
	}
	if account == "" {
		// One key per partner: two first clicks at once make one account
		// at Stripe, and the database keeps the first one recorded.
		account, err = s.cfg.Stripe.CreateExpressAccount(ctx, key, "partli-express-"+workspaceID+"-"+partnerID, partner.Email,
			map[string]string{"partli_workspace_id": workspaceID, "partli_partner_id": partnerID})
		if err != nil {
			return "", stripeErr("create the partner's Express account", err)
		}
	}
	m, err := s.store.UseStripeAccount(ctx, workspaceID, partnerID, account)
	if err != nil {
		return "", err
	}
	url, err := s.cfg.Stripe.OnboardingLink(ctx, key, *m.StripeAccountID, refreshURL, returnURL)
	if err != nil {
		return "", stripeErr("make an onboarding link", err)
	}
	return url, nil
}

// RefreshStripe reads the partner's Express account from Stripe and records
// whether payouts to it are enabled; it returns the partner's method.
func (s *Service) RefreshStripe(ctx context.Context, workspaceID, partnerID string) (*store.PayoutMethod, error) {
	m, err := s.store.PayoutMethodOf(ctx, workspaceID, partnerID)
	if err != nil || m.StripeAccountID == nil {
		return m, err
	}
	key, err := s.StripeKey(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	st, err := s.cfg.Stripe.AccountState(ctx, key, *m.StripeAccountID)
	if err != nil {
		return nil, stripeErr("read the partner's account", err)
	}
	return s.store.SetStripeAccountState(ctx, workspaceID, *m.StripeAccountID, st, s.now().UTC())
}

// Send pays a payout with its method: a Stripe payout becomes one Stripe
// transfer (see transfer); the others are refused with ErrNotSent, as they
// are paid outside Partli and marked paid. A pending or failed payout
// starts a new attempt; a processing one whose sender's lease ran out is
// asked about again with the same idempotency key; one whose transfer is
// under way is refused. The payout comes back paid, failed, or still
// processing when Stripe's answer did not come (a worker asks again).
func (s *Service) Send(ctx context.Context, workspaceID, payoutID string) (*store.Payout, error) {
	p, err := s.store.Payout(ctx, workspaceID, payoutID)
	if err != nil {
		return nil, err
	}
	if p.Status == commission.PayoutProcessing {
		return s.resume(ctx, workspaceID, payoutID)
	}
	if _, err := commission.PayoutTransition(p.ID, p.Status, commission.PayoutSend); err != nil {
		return nil, err
	}
	if method := Methods[p.Method]; method == nil || !method.Transfers() {
		return nil, s.notSent(ctx, p)
	}
	key, err := s.StripeKey(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	m, err := s.readyStripe(ctx, workspaceID, p.PartnerID)
	if err != nil {
		return nil, err
	}
	tr, err := s.commissions.BeginTransfer(ctx, workspaceID, payoutID, *m.StripeAccountID, s.cfg.Lease,
		func(p *store.Payout) error { return commission.CheckStripeAmount(p.AmountCents, p.Currency) })
	if err != nil {
		return nil, err
	}
	return s.transfer(ctx, key, tr.Payout, tr.Attempt)
}

// notSent is the refusal of sending a payout Partli does not transfer.
func (s *Service) notSent(ctx context.Context, p *store.Payout) error {
	how := "by hand"
	if f := Methods[p.Method]; f != nil && f.File() != nil {
		how = "with the " + p.Method + " batch file (Export on the payouts page, or GET /api/payouts/export?format=" + p.Method + ")"
	}
	msg := fmt.Sprintf("payout %s is paid %s, not sent by Partli: pay it, then mark it paid with the reference", p.ID, how)
	if p.Method == Manual {
		if _, err := s.store.PayoutMethodOf(ctx, p.WorkspaceID, p.PartnerID); errors.Is(err, store.ErrNotFound) {
			msg += "; " + NoMethod + ", so it is paid by hand (to pay it with Stripe once they onboard, cancel it and create it again)"
		}
	}
	return refused(ErrNotSent, "%s", msg)
}

// readyStripe returns the partner's Stripe method when payouts to it are
// enabled, reading the account from Stripe once when they are not known to
// be; otherwise a refusal naming why.
func (s *Service) readyStripe(ctx context.Context, workspaceID, partnerID string) (*store.PayoutMethod, error) {
	m, err := s.store.PayoutMethodOf(ctx, workspaceID, partnerID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, refused(ErrNotReady, "%s", NoMethod)
	}
	if err != nil {
		return nil, err
	}
	if m.Type != Stripe || m.StripeAccountID == nil {
		return nil, refused(ErrNotReady, "the partner's payout method is %s now, not Stripe: cancel this payout and create it again to pay it that way", m.Type)
	}
	if ready, _ := Readiness(m); !ready {
		if fresh, err := s.RefreshStripe(ctx, workspaceID, partnerID); err == nil {
			m = fresh
		} else if IsRefusal(err) {
			return nil, err
		} else {
			s.log.Warn("payout: reading the partner's Stripe account failed", "workspace", workspaceID, "partner", partnerID, "err", err)
		}
	}
	if ready, why := Readiness(m); !ready {
		return nil, refused(ErrNotReady, "%s", why)
	}
	return m, nil
}

// resume takes over a processing payout whose sender's lease ran out and
// asks Stripe about its attempt again, with the same idempotency key.
func (s *Service) resume(ctx context.Context, workspaceID, payoutID string) (*store.Payout, error) {
	p, a, err := s.store.TakeOverAttempt(ctx, workspaceID, payoutID, s.cfg.Lease)
	if errors.Is(err, store.ErrNotFound) {
		cur, err := s.store.Payout(ctx, workspaceID, payoutID)
		if err != nil {
			return nil, err
		}
		_, err = commission.PayoutTransition(cur.ID, cur.Status, commission.PayoutSend)
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	key, err := s.StripeKey(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	return s.transfer(ctx, key, p, a)
}

// idempotencyWindow is how long Stripe keeps an idempotency key (24 hours),
// less a margin: an attempt older than this is first looked for among the
// transfers, as its key may be gone.
const idempotencyWindow = 23 * time.Hour

// transfer asks Stripe for attempt a of payout p — recorded as processing,
// with its key, before this is called — and records the outcome: paid with
// the transfer, or failed with Stripe's message. When Stripe's answer does
// not come, the payout stays processing (it is not a failure until Stripe
// is asked again) and is returned as it is. The call and its recording do
// not stop when the caller's request does.
func (s *Service) transfer(ctx context.Context, key string, p *store.Payout, a *store.PayoutAttempt) (*store.Payout, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.Lease)
	defer cancel()
	if err := s.store.NoteTry(ctx, a); err != nil {
		return nil, err
	}
	if s.now().Sub(a.StartedAt) > idempotencyWindow {
		found, err := s.cfg.Stripe.FindTransfer(ctx, key, p.ID)
		if err != nil {
			s.log.Warn("payout: looking for the transfer of an old attempt failed", "payout", p.ID, "attempt", a.Attempt, "err", err)
			return p, nil
		}
		if found != "" {
			return s.commissions.FinishTransfer(ctx, a, found)
		}
	}
	id, err := s.cfg.Stripe.Transfer(ctx, key, stripe.TransferRequest{AmountCents: a.AmountCents, Currency: a.Currency,
		Destination: a.Destination, IdempotencyKey: a.IdempotencyKey, WorkspaceID: p.WorkspaceID, PayoutID: p.ID,
		PartnerID: p.PartnerID})
	var refusal *stripe.RefusedByStripe
	switch {
	case err == nil:
		return s.commissions.FinishTransfer(ctx, a, id)
	case errors.As(err, &refusal):
		s.log.Info("payout: Stripe refused the transfer", "payout", p.ID, "attempt", a.Attempt, "status", refusal.Status, "code", refusal.Code)
		return s.commissions.FailTransfer(ctx, a, refusal.Message)
	}
	s.log.Warn("payout: no answer from Stripe; the transfer is asked about again with the same key", "payout", p.ID,
		"attempt", a.Attempt, "err", err)
	return p, nil
}

// ResolveStale asks Stripe again about up to limit processing payouts, of
// any workspace, whose sender's lease ran out (a crash, a lost answer), and
// returns how many it took over. Safe on every replica: a payout is taken
// over by one of them (TakeOverAttempt is conditional on the lease).
func (s *Service) ResolveStale(ctx context.Context, limit int) (int, error) {
	ps, err := s.store.StalePayouts(ctx, limit)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, p := range ps {
		out, err := s.resume(ctx, p.WorkspaceID, p.ID)
		switch {
		case errors.Is(err, commission.ErrPayoutInFlight), errors.Is(err, commission.ErrPayoutTransition):
			continue // another replica took it, or it was resolved meanwhile
		case err != nil && IsRefusal(err):
			s.log.Warn("payout: cannot ask Stripe about a processing payout", "payout", p.ID, "reason", Explain(err))
			continue
		case err != nil:
			return n, err
		}
		n++
		s.log.Info("payout: resolved a processing payout", "payout", p.ID, "status", out.Status)
	}
	return n, nil
}

// Skipped is a partner's balance a payout run left alone, and why.
type Skipped struct {
	PartnerID    string `json:"partnerId"`
	PartnerName  string `json:"partnerName"`
	Currency     string `json:"currency"`
	BalanceCents int64  `json:"balanceCents"`
	Why          string `json:"why"`
}

// Created is the outcome of creating a program's payouts.
type Created struct {
	Payouts []store.Payout
	// BelowMinimum are balances below the minimum (or not positive): they
	// carry forward.
	BelowMinimum []Skipped
	// NotReady are partners whose payout method cannot be paid (only when
	// asked to skip them).
	NotReady []Skipped
}

// CreateForProgram makes one pending payout per partner of the program (of
// partnerIDs, when given) and currency whose balance reaches the program's
// minimum (a minimum applies to balances in the program's currency only).
// With readyOnly, partners whose payout method cannot be paid now are
// skipped too. Each payout is its own transaction, so concurrent calls
// make one payout per balance: a balance another call took is skipped.
func (s *Service) CreateForProgram(ctx context.Context, workspaceID, programID string, partnerIDs []string, readyOnly bool, actor string) (*Created, error) {
	bs, err := s.store.PayableBalances(ctx, workspaceID, programID, partnerIDs)
	if err != nil {
		return nil, err
	}
	out := &Created{}
	for _, b := range bs {
		skip := Skipped{PartnerID: b.PartnerID, PartnerName: b.PartnerName, Currency: b.Currency, BalanceCents: b.Cents}
		if err := commission.CheckPayable(b.Cents, b.Currency, b.MinPayoutCents, b.ProgramCurrency); err != nil {
			skip.Why = commission.Explain(err)
			out.BelowMinimum = append(out.BelowMinimum, skip)
			continue
		}
		if readyOnly {
			ready, why := Readiness(b.Method)
			if m := b.Method; !ready && m != nil && m.Type == Stripe && m.StripeAccountID != nil {
				// Stripe may have enabled the account without its
				// account.updated reaching Partli: ask.
				if fresh, err := s.RefreshStripe(ctx, workspaceID, b.PartnerID); err == nil {
					ready, why = Readiness(fresh)
				}
			}
			if !ready {
				skip.Why = why
				out.NotReady = append(out.NotReady, skip)
				continue
			}
		}
		p, err := s.commissions.CreatePayout(ctx, workspaceID, b.PartnerID, b.Currency, actor)
		switch {
		case errors.Is(err, commission.ErrNothingToPay):
			continue // a concurrent call took this balance
		case errors.Is(err, commission.ErrBelowMinimum):
			skip.Why = commission.Explain(err)
			out.BelowMinimum = append(out.BelowMinimum, skip)
			continue
		case err != nil:
			return out, err
		}
		out.Payouts = append(out.Payouts, *p)
	}
	return out, nil
}
