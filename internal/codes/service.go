package codes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
)

// Config is what the codes service needs of the installation.
type Config struct {
	// StripeSecretKey is the platform's (PARTLI_STRIPE_SECRET_KEY): with it,
	// Partli acts in the account a workspace connected through Connect when
	// the workspace has no secret key of its own.
	StripeSecretKey string
	Stripe          *stripe.Payments
	// Lease is how long one worker holds a code's Stripe work (default 2
	// minutes: longer than a Stripe request with its retries).
	Lease time.Duration
	Now   func() time.Time
}

// Service makes and retires codes and keeps Stripe in step with them.
type Service struct {
	store *store.Store
	cfg   Config
	log   *slog.Logger
}

// New returns the codes service.
func New(st *store.Store, cfg Config, log *slog.Logger) *Service {
	if cfg.Stripe == nil {
		cfg.Stripe = stripe.NewPayments(stripe.PaymentsConfig{})
	}
	if cfg.Lease <= 0 {
		cfg.Lease = 2 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{store: st, cfg: cfg, log: log}
}

// Create makes a live code for the partner (by: store.CodeByOwner, …)
// and, when the program has a discount and Stripe is set up, its Stripe
// promotion code at once. A Stripe failure does not fail the creation: it
// is recorded on the code and tried again. store.ErrCodeTaken when the
// workspace has the code in any case; store.ErrNotFound when it has no
// such partner.
func (s *Service) Create(ctx context.Context, workspaceID, partnerID, code, by string) (*store.Code, error) {
	c := &store.Code{ID: ids.New(ids.Code), WorkspaceID: workspaceID, PartnerID: partnerID, Code: code, CreatedBy: by}
	if err := s.store.CreateCode(ctx, c); err != nil {
		return nil, err
	}
	return s.SyncNow(ctx, c), nil
}

// Retire retires a code (it attributes nothing from now on) and
// deactivates its Stripe promotion code at once, or later when Stripe
// does not answer.
func (s *Service) Retire(ctx context.Context, workspaceID, id string) (*store.Code, error) {
	c, err := s.store.RetireCode(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	return s.SyncNow(ctx, c), nil
}

// Retry asks for a code's failed or abandoned Stripe work to be done now.
func (s *Service) Retry(ctx context.Context, workspaceID, id string) (*store.Code, error) {
	if _, err := s.store.RetryCodeSync(ctx, workspaceID, id); err != nil {
		return nil, err
	}
	c, err := s.store.Code(ctx, workspaceID, id)
	if err != nil {
		return nil, err
	}
	return s.SyncNow(ctx, c), nil
}

// SyncNow does c's Stripe work now, when it has some that no other worker
// holds, and returns the code as it then stands. Whatever goes wrong is
// recorded on the code for the worker to try again; c is returned as it
// was when even that fails.
func (s *Service) SyncNow(ctx context.Context, c *store.Code) *store.Code {
	if c.StripeSync == "idle" {
		return c
	}
	cs, err := s.store.ClaimCodeSync(ctx, c.WorkspaceID, c.ID, s.cfg.Lease)
	if err != nil || cs == nil {
		if err != nil {
			s.log.Warn("codes: claiming a code's Stripe work", "code", c.ID, "err", err)
		}
		return c
	}
	out, err := s.sync(ctx, cs)
	if err != nil {
		s.log.Warn("codes: recording a code's Stripe work", "code", c.ID, "err", err)
		return c
	}
	return out
}

// QueueWorkspace queues the Stripe work of the workspace's codes that have
// no promotion code (Stripe was just set up), for the worker.
func (s *Service) QueueWorkspace(ctx context.Context, workspaceID string) error {
	_, err := s.store.QueueWorkspaceCodes(ctx, workspaceID)
	return err
}

// RunDue does the Stripe work that is due, of up to limit codes of any
// workspace, and returns how many codes it worked on.
func (s *Service) RunDue(ctx context.Context, limit int) (int, error) {
	cs, err := s.store.ClaimCodeSyncs(ctx, limit, s.cfg.Lease)
	if err != nil {
		return 0, err
	}
	for i := range cs {
		if _, err := s.sync(ctx, &cs[i]); err != nil {
			return i, err
		}
	}
	return len(cs), nil
}

// Run does the due Stripe work every interval until ctx ends (partli
// serve runs it on every replica; the leases keep a code's work to one).
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.RunDue(ctx, 50); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("codes: Stripe work failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Access is how Partli acts in the workspace's Stripe account: its own
// secret key, else the platform's key on behalf of the account it
// connected; ok is false when neither is set up.
func (s *Service) Access(ctx context.Context, workspaceID string) (a stripe.Access, ok bool, err error) {
	key, err := s.store.StripeSecretKey(ctx, workspaceID)
	switch {
	case err == nil:
		return stripe.Access{Key: key}, true, nil
	case !errors.Is(err, store.ErrNotFound):
		return a, false, err
	case s.cfg.StripeSecretKey == "":
		return a, false, nil
	}
	conn, err := s.store.StripeConnection(ctx, workspaceID)
	if err != nil || !conn.Connected() {
		return a, false, err
	}
	return stripe.Access{Key: s.cfg.StripeSecretKey, Account: *conn.AccountID}, true, nil
}

// StripeSetUp reports whether Partli can act in the workspace's Stripe
// account (Access), without opening its key.
func (s *Service) StripeSetUp(ctx context.Context, workspaceID string) (bool, error) {
	conn, err := s.store.StripeConnection(ctx, workspaceID)
	if err != nil {
		return false, err
	}
	return conn.SecretKeySet || (conn.Connected() && s.cfg.StripeSecretKey != ""), nil
}

// InvoicePromotionCodes reads from the workspace's Stripe account the
// promotion codes of an invoice (stripe.InvoiceDiscounts); ok is false
// when the workspace has no Stripe access.
func (s *Service) InvoicePromotionCodes(ctx context.Context, workspaceID, invoiceID string) ([]string, bool, error) {
	a, ok, err := s.Access(ctx, workspaceID)
	if err != nil || !ok {
		return nil, false, err
	}
	ids, err := s.cfg.Stripe.InvoicePromotionCodes(ctx, a, invoiceID)
	return ids, err == nil, err
}

// NotInStripe is what a code says when Stripe cannot take it.
const NotInStripe = "Stripe promotion codes take only letters, digits and dashes, so customers cannot enter this code at Stripe's checkout; it still attributes the sales and leads reported with it."

// sync does the claimed Stripe work of one code and records how it went.
// The error is the database's, when the outcome cannot be recorded (the
// lease then runs out and the work is claimed again).
func (s *Service) sync(ctx context.Context, cs *store.CodeSync) (*store.Code, error) {
	ws, id := cs.WorkspaceID, cs.ID
	access, ok, err := s.Access(ctx, ws)
	if err != nil {
		return s.failed(ctx, cs, "reading the workspace's Stripe setup", err)
	}
	switch cs.StripeSync {
	case "deactivate":
		if cs.StripePromotionCodeID == nil {
			return s.store.CodeSyncDone(ctx, ws, id, "")
		}
		if !ok {
			return s.failed(ctx, cs, "deactivating its promotion code", errors.New("Stripe is no longer set up for this workspace"))
		}
		if err := s.cfg.Stripe.DeactivatePromotionCode(ctx, access, *cs.StripePromotionCodeID); err != nil {
			return s.failed(ctx, cs, "deactivating promotion code "+*cs.StripePromotionCodeID, err)
		}
		return s.store.CodeDeactivated(ctx, ws, id)
	case "create":
	default:
		return s.store.CodeSyncDone(ctx, ws, id, "")
	}
	p := &cs.Program
	d := p.Discount()
	switch {
	case cs.RetiredAt != nil || cs.StripePromotionCodeID != nil || d == nil || !ok:
		// Nothing to make: retired, made already, no discount, or no
		// Stripe (setting it up queues the codes again).
		return s.store.CodeSyncDone(ctx, ws, id, "")
	case !StripeTakesCode(cs.Code.Code):
		return s.store.CodeSyncDone(ctx, ws, id, NotInStripe)
	}
	coupon, version := "", p.DiscountVersion
	if p.StripeCouponID != nil {
		coupon = *p.StripeCouponID
	} else {
		if coupon, err = s.cfg.Stripe.CreateCoupon(ctx, access, CouponFor(p, d)); err != nil {
			return s.failed(ctx, cs, "making the program's coupon", err)
		}
		current, err := s.store.SetProgramCoupon(ctx, ws, p.ID, version, coupon)
		if err != nil {
			return nil, err
		}
		if !current {
			// The discount changed while its coupon was made: the code
			// gets the new one, at once.
			now := s.cfg.Now()
			return s.store.CodeSyncFailed(ctx, ws, id, "The program's discount changed while its coupon was made; trying again.", &now)
		}
	}
	if cs.StripeAttempts > 0 {
		// An earlier attempt may have made it and lost the answer.
		if found, err := s.cfg.Stripe.FindPromotionCode(ctx, access, cs.Code.Code, id); err != nil {
			return s.failed(ctx, cs, "looking for its promotion code", err)
		} else if found != "" {
			return s.store.CodeSynced(ctx, ws, id, found, coupon, version)
		}
	}
	promo, err := s.cfg.Stripe.CreatePromotionCode(ctx, access, stripe.PromotionCodeRequest{
		Code: cs.Code.Code, CouponID: coupon, IdempotencyKey: "partli-promo-" + id + "-v" + strconv.Itoa(version),
		Metadata: map[string]string{stripe.MetadataWorkspaceID: ws, stripe.MetadataCodeID: id,
			stripe.MetadataPartnerID: cs.PartnerID, stripe.MetadataProgramID: p.ID},
	})
	if err != nil {
		var refused *stripe.RefusedByStripe
		if errors.As(err, &refused) {
			// Perhaps ours, made by an attempt whose answer was lost
			// more than a day ago: Stripe refuses a second active code.
			if found, ferr := s.cfg.Stripe.FindPromotionCode(ctx, access, cs.Code.Code, id); ferr == nil && found != "" {
				return s.store.CodeSynced(ctx, ws, id, found, coupon, version)
			}
		}
		return s.failed(ctx, cs, "making its promotion code", err)
	}
	return s.store.CodeSynced(ctx, ws, id, promo, coupon, version)
}

// failed records a failed attempt, in words people can act on, and when it
// is tried again.
func (s *Service) failed(ctx context.Context, cs *store.CodeSync, doing string, err error) (*store.Code, error) {
	var refused *stripe.RefusedByStripe
	msg := "Stripe did not answer " + doing + "."
	switch {
	case errors.As(err, &refused):
		msg = "Stripe refused " + doing + ": " + strings.TrimSuffix(refused.Message, ".") + "."
	case !isStripe(err):
		msg = "Failed " + doing + ": " + err.Error() + "."
	}
	s.log.Warn("codes: Stripe work failed", "code", cs.ID, "workspace", cs.WorkspaceID, "doing", doing, "err", err)
	after, again := Retry(cs.StripeAttempts + 1)
	var at *time.Time
	if again {
		t := s.cfg.Now().Add(after)
		at = &t
	} else {
		msg += fmt.Sprintf(" Given up after %d attempts: retry it from the partner's page.", cs.StripeAttempts+1)
	}
	return s.store.CodeSyncFailed(ctx, cs.WorkspaceID, cs.ID, msg, at)
}

// isStripe reports whether err came from a call to Stripe (as opposed to
// the database or the setup).
func isStripe(err error) bool {
	var refused *stripe.RefusedByStripe
	return errors.As(err, &refused) || errors.Is(err, stripe.ErrCall)
}
