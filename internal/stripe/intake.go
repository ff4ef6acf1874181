// Package stripe takes in Stripe's webhook events and turns them into what
// the merchant's backend would otherwise report: paid Checkout Sessions and
// invoices become sales through the tracking pipeline, refunds and disputes
// become refunds through the commission service. No rule is copied here.
package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/tracking"
)

// ErrBadSignature is a delivery whose Stripe-Signature does not verify (or
// that nothing can verify: an unknown workspace, no secret configured). It
// is answered 400 and nothing is stored.
var ErrBadSignature = errors.New("stripe: signature does not verify")

// The event types Partli acts on.
const (
	CheckoutCompleted    = "checkout.session.completed"
	CheckoutAsyncPaid    = "checkout.session.async_payment_succeeded"
	InvoicePaid          = "invoice.paid"
	InvoicePaymentPaid   = "invoice_payment.paid"
	ChargeRefunded       = "charge.refunded"
	ChargeDisputeCreated = "charge.dispute.created"
)

// Intake verifies and processes Stripe webhook deliveries.
type Intake struct {
	store         *store.Store
	tracking      *tracking.Service
	commissions   *commission.Service
	connectSecret string
	log           *slog.Logger
	invoices      InvoiceDiscounts
}

// InvoiceDiscounts reads from Stripe the promotion codes of an invoice
// whose event names its discounts by id only (internal/codes, with the
// workspace's Stripe access). ok is false when the workspace has no Stripe
// access to read them with.
type InvoiceDiscounts interface {
	InvoicePromotionCodes(ctx context.Context, workspaceID, invoiceID string) (ids []string, ok bool, err error)
}

// WithInvoiceDiscounts has the intake read invoices' promotion codes
// through d when their events name the discounts by id only.
func (in *Intake) WithInvoiceDiscounts(d InvoiceDiscounts) *Intake {
	in.invoices = d
	return in
}

// New returns the intake. connectSecret verifies platform (Connect) events;
// empty refuses them.
func New(st *store.Store, tr *tracking.Service, cs *commission.Service, connectSecret string, log *slog.Logger) *Intake {
	return &Intake{store: st, tracking: tr, commissions: cs, connectSecret: connectSecret, log: log}
}

// Reply is the answer to a delivery: always 2xx once the signature verifies
// and the event is dealt with, so Stripe does not retry what would not go
// better the second time.
type Reply struct {
	Received  bool   `json:"received"`
	EventID   string `json:"eventId"`
	Type      string `json:"type"`
	Duplicate bool   `json:"duplicate"`
	// Outcome says what came of the event, in words.
	Outcome string `json:"outcome"`
}

// Workspace processes a delivery to a workspace's own endpoint,
// POST /api/stripe/webhook/{workspaceId}, signed with the secret the
// workspace set (PUT /api/integrations/stripe).
func (in *Intake) Workspace(ctx context.Context, workspaceID string, payload []byte, signature string) (*Reply, error) {
	secret, err := in.store.StripeWebhookSecret(ctx, workspaceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: the workspace has no Stripe webhook secret", ErrBadSignature)
	}
	if err != nil {
		return nil, err
	}
	ev, err := verify(payload, signature, secret)
	if err != nil {
		return nil, err
	}
	if string(ev.Type) == AccountUpdated {
		return in.accountUpdated(ctx, workspaceID, ev, &Reply{Received: true, EventID: ev.ID, Type: string(ev.Type)})
	}
	return in.process(ctx, workspaceID, ev)
}

// Connect processes a platform delivery, POST /api/stripe/webhook, signed
// with PARTLI_STRIPE_CONNECT_WEBHOOK_SECRET, for the workspace connected to
// the event's account. An event of an account no workspace has connected is
// acknowledged and nothing is stored.
func (in *Intake) Connect(ctx context.Context, payload []byte, signature string) (*Reply, error) {
	if in.connectSecret == "" {
		return nil, fmt.Errorf("%w: PARTLI_STRIPE_CONNECT_WEBHOOK_SECRET is not set", ErrBadSignature)
	}
	ev, err := verify(payload, signature, in.connectSecret)
	if err != nil {
		return nil, err
	}
	reply := &Reply{Received: true, EventID: ev.ID, Type: string(ev.Type)}
	if ev.Account == "" {
		reply.Outcome = "ignored: a platform event names no connected account"
		return reply, nil
	}
	// Connect OAuth (connect.go): an account that removed Partli's access.
	if string(ev.Type) == AccountDeauthorized {
		return in.deauthorized(ctx, ev, reply)
	}
	// A partner's Express account (payouts.go) whose onboarding moved on.
	if string(ev.Type) == AccountUpdated {
		return in.accountUpdated(ctx, "", ev, reply)
	}
	ws, err := in.store.WorkspaceByStripeAccount(ctx, ev.Account)
	if errors.Is(err, store.ErrNotFound) {
		in.log.Warn("stripe event of an account no workspace has connected", "event", ev.ID, "type", ev.Type, "account", ev.Account)
		reply.Outcome = "ignored: no workspace is connected to account " + ev.Account
		return reply, nil
	}
	if err != nil {
		return nil, err
	}
	return in.process(ctx, ws, ev)
}

// AccountUpdated is the event of a connected account changing: for a
// partner's Express account, whether Stripe now pays out to it.
const AccountUpdated = "account.updated"

// accountUpdated records what an account.updated event says of a partner's
// Express account (of workspaceID, when the event came to a workspace's own
// endpoint): whether payouts are enabled, and if not, why. An older event
// arriving late changes nothing; an account that is not a partner's is
// acknowledged and ignored.
func (in *Intake) accountUpdated(ctx context.Context, workspaceID string, ev stripego.Event, reply *Reply) (*Reply, error) {
	var a connectedAccount
	if err := decode(ev, &a); err != nil {
		return nil, err
	}
	accountID := ev.Account
	if accountID == "" {
		accountID = a.ID
	}
	ws, partnerID, err := in.store.StripePayoutAccount(ctx, accountID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && workspaceID != "" && ws != workspaceID) {
		reply.Outcome = "ignored: account " + accountID + " is not a partner's payout account"
		return reply, nil
	}
	if err != nil {
		return nil, err
	}
	at := time.Now().UTC()
	if ev.Created > 0 {
		at = time.Unix(ev.Created, 0).UTC()
	}
	state := a.state()
	if _, err := in.store.SetStripeAccountState(ctx, ws, accountID, state, at); err != nil {
		return nil, err
	}
	if state.PayoutsEnabled {
		reply.Outcome = fmt.Sprintf("partner %s: payouts to Stripe account %s are enabled", partnerID, accountID)
	} else {
		reply.Outcome = fmt.Sprintf("partner %s: Stripe account %s cannot be paid yet: %s", partnerID, accountID, state.Requirements)
	}
	recorded, err := in.store.RecordStripeEvent(ctx, ws+":"+ev.ID, ws, string(ev.Type), reply.Outcome)
	if err != nil {
		return nil, err
	}
	reply.Duplicate = !recorded
	return reply, nil
}

// verify checks the signature (and its age, within stripe-go's tolerance)
// and parses the event. Events of any API version are read: what Partli
// reads of them is read by this package's own types.
func verify(payload []byte, signature, secret string) (stripego.Event, error) {
	ev, err := webhook.ConstructEventWithOptions(payload, signature, secret,
		webhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
	if err != nil {
		return ev, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	if ev.ID == "" || ev.Data == nil {
		return ev, fmt.Errorf("%w: not a Stripe event", ErrBadSignature)
	}
	return ev, nil
}

// process does an event for a workspace, once per event id. Sales run
// through the tracking pipeline, which commits its own transaction, so the
// event is recorded after it: a retry in between finds the sale by its
// externalId and changes nothing. Refunds and links run in one transaction
// with the record of the event, which is inserted first: a second delivery
// (a retry, or another replica at the same time) waits for it and then
// finds the event done.
func (in *Intake) process(ctx context.Context, workspaceID string, ev stripego.Event) (*Reply, error) {
	reply := &Reply{Received: true, EventID: ev.ID, Type: string(ev.Type)}
	typ := string(ev.Type)
	switch typ {
	case CheckoutCompleted, CheckoutAsyncPaid, InvoicePaid, InvoicePaymentPaid, ChargeRefunded, ChargeDisputeCreated:
	default:
		reply.Outcome = "ignored: Partli does not use " + typ + " events"
		return reply, nil
	}
	// Stripe event ids are unique within Stripe, but one Stripe account may
	// feed several workspaces: the key is per workspace.
	key := workspaceID + ":" + ev.ID
	if done, err := in.store.StripeEventRecorded(ctx, workspaceID, key); err != nil {
		return nil, err
	} else if done {
		return in.duplicate(ctx, reply, workspaceID, key)
	}
	occurredAt := time.Now().UTC()
	if ev.Created > 0 {
		occurredAt = time.Unix(ev.Created, 0).UTC()
	}
	var err error
	switch typ {
	case CheckoutCompleted, CheckoutAsyncPaid:
		var s checkoutSession
		if err := decode(ev, &s); err != nil {
			return nil, err
		}
		reply.Outcome, err = in.trackSale(ctx, workspaceID, ev.ID, sessionSale(s, typ, occurredAt))
	case InvoicePaid:
		var inv invoice
		if err := decode(ev, &inv); err != nil {
			return nil, err
		}
		reply.Outcome, err = in.trackSale(ctx, workspaceID, ev.ID, invoiceSale(inv, typ, occurredAt))
	default:
		return in.inTx(ctx, workspaceID, key, ev, reply)
	}
	if err != nil {
		return nil, err
	}
	recorded, err := in.store.RecordStripeEvent(ctx, key, workspaceID, typ, reply.Outcome)
	if err != nil {
		return nil, err
	}
	reply.Duplicate = !recorded
	return reply, nil
}

// duplicate answers an event that was processed already, with its outcome then.
func (in *Intake) duplicate(ctx context.Context, reply *Reply, workspaceID, key string) (*Reply, error) {
	outcome, err := in.store.StripeEventOutcome(ctx, workspaceID, key)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	reply.Duplicate = true
	reply.Outcome = "already processed: " + outcome
	return reply, nil
}

// errDone unwinds a transaction that found its event recorded already.
var errDone = errors.New("stripe: event processed already")

// inTx processes a refund, dispute or payment link in one transaction with
// the record of the event.
func (in *Intake) inTx(ctx context.Context, workspaceID, key string, ev stripego.Event, reply *Reply) (*Reply, error) {
	typ := string(ev.Type)
	err := in.store.InTx(ctx, func(tx *store.Tx) error {
		if first, err := tx.RecordStripeEvent(ctx, key, workspaceID, typ, ""); err != nil {
			return err
		} else if !first {
			return errDone
		}
		var err error
		switch typ {
		case ChargeRefunded:
			reply.Outcome, err = in.refundCharge(ctx, tx, workspaceID, ev)
		case ChargeDisputeCreated:
			reply.Outcome, err = in.dispute(ctx, tx, workspaceID, ev)
		case InvoicePaymentPaid:
			reply.Outcome, err = in.linkPayment(ctx, tx, workspaceID, ev)
		}
		if err != nil {
			return err
		}
		return tx.SetStripeEventOutcome(ctx, workspaceID, key, reply.Outcome)
	})
	if errors.Is(err, errDone) {
		return in.duplicate(ctx, reply, workspaceID, key)
	}
	if err != nil {
		return nil, err
	}
	return reply, nil
}

func decode(ev stripego.Event, v any) error {
	if err := json.Unmarshal(ev.Data.Raw, v); err != nil {
		return fmt.Errorf("stripe: %s %s: reading data.object: %w", ev.Type, ev.ID, err)
	}
	return nil
}

// trackSale runs a paid session or invoice through the sale pipeline. A sale
// recorded already (the session and its invoice are one sale) learns the
// Stripe ids this event adds, so that refunds of either find it.
func (in *Intake) trackSale(ctx context.Context, workspaceID, eventID string, s sale) (string, error) {
	if s.Skip != "" {
		return "ignored: " + s.Skip, nil
	}
	if err := in.couponOf(ctx, workspaceID, &s); err != nil {
		return "", err
	}
	s.Input.Metadata = saleMetadata(eventID, s.Refs)
	res, err := in.tracking.TrackSale(ctx, workspaceID, s.Input)
	if err != nil {
		return "", err
	}
	switch {
	case !res.Attributed:
		return fmt.Sprintf("no attribution: sale %s has no click id or live code of this workspace and its customer %s was not referred; nothing recorded",
			s.Input.ExternalID, s.Input.CustomerExternalID), nil
	case res.Duplicate:
		if _, err := in.store.AddStripeRefs(ctx, workspaceID, s.Input.ExternalID, s.Refs); err != nil {
			return "", err
		}
		return fmt.Sprintf("sale %s was recorded already (%s)", s.Input.ExternalID, *res.EventID), nil
	case res.Commission != nil:
		return fmt.Sprintf("sale %s recorded (%s) with commission %s of %s", s.Input.ExternalID, *res.EventID,
			res.Commission.ID, money.Format(res.Commission.AmountCents, res.Commission.Currency)), nil
	}
	return fmt.Sprintf("sale %s recorded (%s) without commission", s.Input.ExternalID, *res.EventID), nil
}

// couponOf sets the sale's couponCode from the promotion codes its
// discounts name: the code of this workspace whose Stripe promotion code it
// is, else (expanded) a live code written as the promotion code is. An invoice whose event
// names its discounts by id only, with no click id, has them read from
// Stripe; when Stripe does not answer the event fails (Stripe delivers it
// again), when it refuses the sale goes on without a code.
func (in *Intake) couponOf(ctx context.Context, workspaceID string, s *sale) error {
	promos := s.Promotions
	if len(promos) == 0 && s.UnreadInvoice != "" && s.Input.ClickID == "" && in.invoices != nil {
		ids, ok, err := in.invoices.InvoicePromotionCodes(ctx, workspaceID, s.UnreadInvoice)
		switch {
		case errors.Is(err, ErrCall):
			return err
		case err != nil:
			in.log.Warn("stripe: reading an invoice's discounts", "workspace", workspaceID, "invoice", s.UnreadInvoice, "err", err)
		case ok:
			for _, id := range ids {
				promos = append(promos, promotionCode{ID: id})
			}
		}
	}
	for _, p := range promos {
		if p.ID != "" {
			c, err := in.store.CodeByPromotionCode(ctx, workspaceID, p.ID)
			if err == nil {
				s.Input.CouponCode = c.Code
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		if p.Code != "" { // a promotion code the merchant made in Stripe for a Partli code
			c, err := in.store.LiveCodeByCode(ctx, workspaceID, p.Code)
			if err == nil {
				s.Input.CouponCode = c.Code
				return nil
			}
			if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// saleOf finds the sale a charge paid: its invoice's (in API versions that
// name it), else the sale recorded from its payment intent or the charge.
func (in *Intake) saleOf(ctx context.Context, tx *store.Tx, workspaceID, invoiceID string, refs ...string) (string, error) {
	if invoiceID != "" {
		if _, err := tx.EventByExternalID(ctx, workspaceID, "sale", invoiceID); err == nil {
			return invoiceID, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return "", err
		}
	}
	return tx.SaleExternalIDByStripeRef(ctx, workspaceID, append([]string{invoiceID}, refs...)...)
}

// refundCharge brings the refunded total of the charge's sale up to the
// charge's (amount_refunded is cumulative, so a repeat or an older event
// arriving late changes nothing); a fully refunded charge refunds the sale
// in full.
func (in *Intake) refundCharge(ctx context.Context, tx *store.Tx, workspaceID string, ev stripego.Event) (string, error) {
	var c charge
	if err := decode(ev, &c); err != nil {
		return "", err
	}
	if !c.Refunded && c.AmountRefunded <= 0 {
		return "ignored: charge " + c.ID + " has nothing refunded", nil
	}
	externalID, err := in.saleOf(ctx, tx, workspaceID, string(c.Invoice), string(c.PaymentIntent), c.ID)
	if errors.Is(err, store.ErrNotFound) {
		return "ignored: no sale of this workspace was paid by charge " + c.ID, nil
	}
	if err != nil {
		return "", err
	}
	r := commission.Refund{ExternalID: externalID, Reason: c.refundReason(), Source: "Stripe charge " + c.ID,
		Actor: "stripe event " + ev.ID}
	if !c.Refunded {
		r.TotalCents = c.AmountRefunded
	}
	return in.refund(ctx, tx, workspaceID, r)
}

// dispute takes back the disputed amount of the charge's sale.
func (in *Intake) dispute(ctx context.Context, tx *store.Tx, workspaceID string, ev stripego.Event) (string, error) {
	var d dispute
	if err := decode(ev, &d); err != nil {
		return "", err
	}
	externalID, err := in.saleOf(ctx, tx, workspaceID, "", string(d.PaymentIntent), string(d.Charge))
	if errors.Is(err, store.ErrNotFound) {
		return "ignored: no sale of this workspace was paid by disputed charge " + string(d.Charge), nil
	}
	if err != nil {
		return "", err
	}
	reason := "dispute"
	if d.Reason != "" {
		reason += " (" + strings.ReplaceAll(d.Reason, "_", " ") + ")"
	}
	return in.refund(ctx, tx, workspaceID, commission.Refund{ExternalID: externalID, AmountCents: max(d.Amount, 0),
		Capped: true, Reason: reason, Source: "Stripe dispute " + d.ID, Actor: "stripe event " + ev.ID})
}

func (in *Intake) refund(ctx context.Context, tx *store.Tx, workspaceID string, r commission.Refund) (string, error) {
	res, err := in.commissions.RefundTx(ctx, tx, workspaceID, r)
	if err != nil {
		return "", err
	}
	if res.RefundedCents == 0 {
		return fmt.Sprintf("sale %s: nothing more to refund (%s of %s refunded)", r.ExternalID,
			money.Format(res.Sale.RefundedCents, res.Sale.Currency), money.Format(res.Sale.AmountCents, res.Sale.Currency)), nil
	}
	return fmt.Sprintf("sale %s: %s refunded (%s of %s in all)", r.ExternalID,
		money.Format(res.RefundedCents, res.Sale.Currency), money.Format(res.Sale.RefundedCents, res.Sale.Currency),
		money.Format(res.Sale.AmountCents, res.Sale.Currency)), nil
}

// linkPayment records which payment paid an invoice (API versions from
// 2025-03-31 no longer name it on the invoice or the charge), so that a
// refund of that payment finds the invoice's sale.
func (in *Intake) linkPayment(ctx context.Context, tx *store.Tx, workspaceID string, ev stripego.Event) (string, error) {
	var p invoicePayment
	if err := decode(ev, &p); err != nil {
		return "", err
	}
	ids := refs(string(p.Payment.PaymentIntent), string(p.Payment.Charge))
	if p.Invoice == "" || len(ids) == 0 {
		return "ignored: invoice payment " + p.ID + " names no invoice or payment", nil
	}
	ok, err := tx.AddStripeRefs(ctx, workspaceID, string(p.Invoice), ids)
	if err != nil {
		return "", err
	}
	if !ok {
		return "ignored: no sale was recorded from invoice " + string(p.Invoice), nil
	}
	return fmt.Sprintf("sale %s: paid by %s", p.Invoice, strings.Join(ids, ", ")), nil
}
