package stripe

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/tracking"
)

// The Stripe objects Partli reads, only the fields it needs. A merchant's
// endpoint renders events in the endpoint's API version, which may be years
// older or newer than stripe-go's, so these read both shapes where Stripe
// moved a field (an invoice's charge and payment intent before 2025-03-31;
// its payments and parent after), and expandable fields either as an id or
// as the expanded object.

// ClickIDKey is the metadata key that carries a Partli click id on a
// Checkout Session, an invoice or a subscription.
const ClickIDKey = "partli_click_id"

// ref is an expandable field: an object's id, or the object with its id.
type ref string

func (r *ref) UnmarshalJSON(b []byte) error {
	switch {
	case string(b) == "null":
		*r = ""
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*r = ref(s)
		return nil
	}
	var o struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*r = ref(o.ID)
	return nil
}

// promotionCode is an expandable promotion code: its id, and its code when
// expanded.
type promotionCode struct {
	ID   string
	Code string
}

func (p *promotionCode) UnmarshalJSON(b []byte) error {
	var o struct {
		ID   string `json:"id"`
		Code string `json:"code"`
	}
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &o); err != nil {
			return err
		}
		*p = promotionCode{ID: o.ID, Code: o.Code}
		return nil
	}
	var id ref
	if err := json.Unmarshal(b, &id); err != nil {
		return err
	}
	*p = promotionCode{ID: string(id)}
	return nil
}

// discount is one discount of a session or invoice: a session's
// {coupon, promotion_code}, an invoice's discount id (di_…, unexpanded) or
// expanded discount, or the older single `discount` object.
type discount struct {
	ID            string // the discount's id, when Stripe gave only that
	PromotionCode promotionCode
}

func (d *discount) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		return json.Unmarshal(b, (*string)(&d.ID))
	}
	var o struct {
		ID            string        `json:"id"`
		PromotionCode promotionCode `json:"promotion_code"`
	}
	if string(b) == "null" {
		*d = discount{}
		return nil
	}
	if err := json.Unmarshal(b, &o); err != nil {
		return err
	}
	*d = discount{ID: o.ID, PromotionCode: o.PromotionCode}
	return nil
}

// discounts are what an object says of its discounts, today's shape and
// the older one.
type discounts struct {
	Discounts []discount `json:"discounts"`
	Discount  *discount  `json:"discount"`
}

// promotions are the promotion codes the discounts name, and whether some
// discount named none that could be read (an invoice's discounts are ids
// unless expanded).
func (d discounts) promotions() (ps []promotionCode, unread bool) {
	all := d.Discounts
	if d.Discount != nil {
		all = append(all[:len(all):len(all)], *d.Discount)
	}
	for _, x := range all {
		switch {
		case x.PromotionCode.ID != "" || x.PromotionCode.Code != "":
			ps = append(ps, x.PromotionCode)
		case x.ID != "":
			unread = true
		}
	}
	return ps, unread
}

type checkoutSession struct {
	ID              string `json:"id"`
	AmountTotal     int64  `json:"amount_total"`
	Currency        string `json:"currency"`
	Customer        ref    `json:"customer"`
	CustomerDetails *struct {
		Email string `json:"email"`
	} `json:"customer_details"`
	ClientReferenceID string            `json:"client_reference_id"`
	Metadata          map[string]string `json:"metadata"`
	Invoice           ref               `json:"invoice"`
	PaymentIntent     ref               `json:"payment_intent"`
	PaymentStatus     string            `json:"payment_status"`
	discounts
}

type subscriptionDetails struct {
	Metadata map[string]string `json:"metadata"`
}

type invoice struct {
	ID         string            `json:"id"`
	AmountPaid int64             `json:"amount_paid"`
	Currency   string            `json:"currency"`
	Customer   ref               `json:"customer"`
	Metadata   map[string]string `json:"metadata"`
	// Before API version 2025-03-31.
	Charge              ref                  `json:"charge"`
	PaymentIntent       ref                  `json:"payment_intent"`
	SubscriptionDetails *subscriptionDetails `json:"subscription_details"`
	// From API version 2025-03-31 (payments only when included).
	Parent *struct {
		SubscriptionDetails *subscriptionDetails `json:"subscription_details"`
	} `json:"parent"`
	Payments *struct {
		Data []invoicePayment `json:"data"`
	} `json:"payments"`
	discounts
}

type invoicePayment struct {
	ID      string `json:"id"`
	Invoice ref    `json:"invoice"`
	Status  string `json:"status"`
	Payment struct {
		PaymentIntent ref `json:"payment_intent"`
		Charge        ref `json:"charge"`
	} `json:"payment"`
}

type charge struct {
	ID             string `json:"id"`
	Amount         int64  `json:"amount"`
	AmountRefunded int64  `json:"amount_refunded"`
	Refunded       bool   `json:"refunded"`
	Invoice        ref    `json:"invoice"` // before API version 2025-03-31
	PaymentIntent  ref    `json:"payment_intent"`
	Refunds        *struct {
		Data []struct {
			Reason string `json:"reason"`
		} `json:"data"`
	} `json:"refunds"`
}

type dispute struct {
	ID            string `json:"id"`
	Amount        int64  `json:"amount"`
	Charge        ref    `json:"charge"`
	PaymentIntent ref    `json:"payment_intent"`
	Reason        string `json:"reason"`
}

// sale is a paid Checkout Session or invoice as a sale to track, with the
// ids of the Stripe objects it came from (a later refund names one of them).
type sale struct {
	Input tracking.SaleInput
	Refs  []string
	// Skip says why there is nothing to track ("" when there is).
	Skip string
	// Promotions are the promotion codes the object's discounts name;
	// UnreadInvoice is the invoice whose discounts are ids only (their
	// promotion codes are read from Stripe when nothing else attributes).
	Promotions    []promotionCode
	UnreadInvoice string
}

// saleMetadata is the sale's metadata: where it came from in Stripe.
func saleMetadata(eventID string, refs []string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"stripe": map[string]any{"event": eventID, "refs": refs}})
	return b
}

// sessionSale maps a completed Checkout Session: externalId is its invoice
// (subscriptions, invoiced payments) or else the session; the customer is
// Stripe's, else the buyer's email, else the session; the click id comes
// from client_reference_id (what partli.js stamps on Payment Links) or the
// partli_click_id metadata, whichever is a click id (a merchant may use
// client_reference_id for an id of their own).
func sessionSale(s checkoutSession, eventType string, occurredAt time.Time) sale {
	out := sale{Refs: refs(s.ID, string(s.Invoice), string(s.PaymentIntent))}
	if s.PaymentStatus != "paid" {
		out.Skip = fmt.Sprintf("Checkout Session %s is not paid (payment_status %q)", s.ID, s.PaymentStatus)
		return out
	}
	customer := string(s.Customer)
	if customer == "" && s.CustomerDetails != nil {
		customer = strings.ToLower(strings.TrimSpace(s.CustomerDetails.Email))
	}
	if customer == "" {
		customer = s.ID
	}
	out.Input = tracking.SaleInput{
		ExternalID: first(string(s.Invoice), s.ID), CustomerExternalID: customer, AmountCents: s.AmountTotal,
		Currency: s.Currency, ClickID: clickID(s.ClientReferenceID, s.Metadata[ClickIDKey]),
		EventName: eventType, OccurredAt: occurredAt,
	}
	out.Skip = checkSale(&out.Input, "Checkout Session "+s.ID)
	out.Promotions, _ = s.promotions()
	return out
}

// invoiceSale maps a paid invoice: a renewal of a subscription has no click
// id and attributes through its customer, who stays with the partner who
// referred them first.
func invoiceSale(in invoice, eventType string, occurredAt time.Time) sale {
	out := sale{Refs: refs(in.ID, string(in.Charge), string(in.PaymentIntent))}
	if in.Payments != nil {
		for _, p := range in.Payments.Data {
			out.Refs = append(out.Refs, refs(string(p.Payment.PaymentIntent), string(p.Payment.Charge))...)
		}
	}
	click := in.Metadata[ClickIDKey]
	if in.Parent != nil && in.Parent.SubscriptionDetails != nil {
		click = clickID(click, in.Parent.SubscriptionDetails.Metadata[ClickIDKey])
	}
	if in.SubscriptionDetails != nil {
		click = clickID(click, in.SubscriptionDetails.Metadata[ClickIDKey])
	}
	out.Input = tracking.SaleInput{
		ExternalID: in.ID, CustomerExternalID: string(in.Customer), AmountCents: in.AmountPaid,
		Currency: in.Currency, ClickID: click, EventName: eventType, OccurredAt: occurredAt,
	}
	out.Skip = checkSale(&out.Input, "invoice "+in.ID)
	var unread bool
	if out.Promotions, unread = in.promotions(); unread && len(out.Promotions) == 0 {
		out.UnreadInvoice = in.ID
	}
	return out
}

// checkSale validates and normalises a sale made from a Stripe object the
// way POST /api/track/sale validates a body, and says why it cannot be
// tracked ("" when it can).
func checkSale(in *tracking.SaleInput, what string) string {
	cur, ok := money.NormalizeCurrency(in.Currency)
	switch {
	case in.AmountCents < 1:
		return what + " paid nothing"
	case in.AmountCents > money.MaxSaleCents:
		return what + " is larger than the largest sale accepted"
	case !ok:
		return fmt.Sprintf("%s has an unknown currency %q", what, in.Currency)
	case in.ExternalID == "" || len(in.ExternalID) > 255:
		return what + " has no usable id"
	case in.CustomerExternalID == "" || len(in.CustomerExternalID) > 255:
		return what + " has no customer"
	}
	in.Currency = cur
	if len(in.ClickID) > 255 {
		in.ClickID = ""
	}
	return ""
}

// refundReason is what a refund of a charge says about why.
func (c charge) refundReason() string {
	if c.Refunds == nil {
		return ""
	}
	for i := len(c.Refunds.Data) - 1; i >= 0; i-- {
		if r := c.Refunds.Data[i].Reason; r != "" {
			return r
		}
	}
	return ""
}

// clickID returns the first of candidates that has the form of a click id,
// else the first that is set.
func clickID(candidates ...string) string {
	for _, c := range candidates {
		if ids.HasPrefix(strings.TrimSpace(c), ids.Click) {
			return strings.TrimSpace(c)
		}
	}
	return first(candidates...)
}

func refs(vs ...string) []string {
	out := make([]string, 0, len(vs))
	for _, id := range vs {
		if id != "" {
			out = append(out, id)
		}
	}
	return out
}

func first(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}
