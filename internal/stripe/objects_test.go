package stripe

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestStripeRefReadsIDOrObject(t *testing.T) {
	var v struct {
		A, B, C ref
	}
	if err := json.Unmarshal([]byte(`{"A": "in_1", "B": {"id": "cus_1", "object": "customer"}, "C": null}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != "in_1" || v.B != "cus_1" || v.C != "" {
		t.Fatalf("%+v", v)
	}
	if err := json.Unmarshal([]byte(`{"A": 5}`), &v); err == nil {
		t.Fatal("a number read as a ref")
	}
}

func TestStripeSessionSale(t *testing.T) {
	tests := []struct {
		name                           string
		json                           string
		ext, customer, click, currency string
		amount                         int64
		refs                           []string
		skip                           string
	}{
		{"payment", `{"id": "cs_1", "payment_status": "paid", "amount_total": 4900, "currency": "eur", "customer": "cus_1",
			"client_reference_id": "c_abc", "payment_intent": "pi_1", "invoice": null}`,
			"cs_1", "cus_1", "c_abc", "EUR", 4900, []string{"cs_1", "pi_1"}, ""},
		{"subscription: the invoice is the sale", `{"id": "cs_2", "payment_status": "paid", "amount_total": 2900, "currency": "usd",
			"customer": {"id": "cus_2"}, "invoice": {"id": "in_2"}, "payment_intent": null, "metadata": {"partli_click_id": "c_meta"}}`,
			"in_2", "cus_2", "c_meta", "USD", 2900, []string{"cs_2", "in_2"}, ""},
		{"client_reference_id of the merchant's own", `{"id": "cs_3", "payment_status": "paid", "amount_total": 100, "currency": "usd",
			"customer": null, "customer_details": {"email": "Buyer@Example.com"}, "client_reference_id": "order-9",
			"metadata": {"partli_click_id": "c_meta"}}`,
			"cs_3", "buyer@example.com", "c_meta", "USD", 100, []string{"cs_3"}, ""},
		{"guest without email", `{"id": "cs_4", "payment_status": "paid", "amount_total": 100, "currency": "jpy"}`,
			"cs_4", "cs_4", "", "JPY", 100, []string{"cs_4"}, ""},
		{"unpaid", `{"id": "cs_5", "payment_status": "unpaid", "amount_total": 100, "currency": "usd"}`,
			"", "", "", "", 0, []string{"cs_5"}, "is not paid"},
		{"free", `{"id": "cs_6", "payment_status": "paid", "amount_total": 0, "currency": "usd", "customer": "cus_6"}`,
			"cs_6", "cus_6", "", "usd", 0, []string{"cs_6"}, "paid nothing"},
		{"unknown currency", `{"id": "cs_7", "payment_status": "paid", "amount_total": 10, "currency": "xyz", "customer": "cus_7"}`,
			"cs_7", "cus_7", "", "xyz", 10, []string{"cs_7"}, "unknown currency"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s checkoutSession
			if err := json.Unmarshal([]byte(tc.json), &s); err != nil {
				t.Fatal(err)
			}
			got := sessionSale(s, CheckoutCompleted, at)
			if tc.skip != "" || got.Skip != "" {
				if tc.skip == "" || !strings.Contains(got.Skip, tc.skip) {
					t.Fatalf("skip %q, want %q", got.Skip, tc.skip)
				}
				return
			}
			in := got.Input
			if in.ExternalID != tc.ext || in.CustomerExternalID != tc.customer || in.ClickID != tc.click ||
				in.Currency != tc.currency || in.AmountCents != tc.amount || !in.OccurredAt.Equal(at) || in.EventName != CheckoutCompleted {
				t.Fatalf("input %+v", in)
			}
			if !reflect.DeepEqual(got.Refs, tc.refs) {
				t.Fatalf("refs %v, want %v", got.Refs, tc.refs)
			}
		})
	}
}

func TestStripeInvoiceSale(t *testing.T) {
	tests := []struct {
		name  string
		json  string
		click string
		refs  []string
		skip  string
	}{
		{"before 2025-03-31: charge and payment intent on the invoice", `{"id": "in_1", "amount_paid": 2900, "currency": "usd",
			"customer": "cus_1", "charge": "ch_1", "payment_intent": "pi_1", "subscription_details": {"metadata": {"partli_click_id": "c_old"}}}`,
			"c_old", []string{"in_1", "ch_1", "pi_1"}, ""},
		{"from 2025-03-31: parent and payments", `{"id": "in_1", "amount_paid": 2900, "currency": "usd", "customer": "cus_1",
			"parent": {"type": "subscription_details", "subscription_details": {"metadata": {"partli_click_id": "c_new"}}},
			"payments": {"data": [{"payment": {"type": "payment_intent", "payment_intent": "pi_2"}}]}}`,
			"c_new", []string{"in_1", "pi_2"}, ""},
		{"renewal: no click id", `{"id": "in_1", "amount_paid": 2900, "currency": "usd", "customer": {"id": "cus_1"}}`,
			"", []string{"in_1"}, ""},
		{"the invoice's own metadata first", `{"id": "in_1", "amount_paid": 2900, "currency": "usd", "customer": "cus_1",
			"metadata": {"partli_click_id": "c_inv"}, "parent": {"subscription_details": {"metadata": {"partli_click_id": "c_sub"}}}}`,
			"c_inv", []string{"in_1"}, ""},
		{"nothing paid", `{"id": "in_1", "amount_paid": 0, "currency": "usd", "customer": "cus_1"}`, "", nil, "paid nothing"},
		{"no customer", `{"id": "in_1", "amount_paid": 10, "currency": "usd", "customer": null}`, "", nil, "no customer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var in invoice
			if err := json.Unmarshal([]byte(tc.json), &in); err != nil {
				t.Fatal(err)
			}
			got := invoiceSale(in, InvoicePaid, at)
			if tc.skip != "" || got.Skip != "" {
				if tc.skip == "" || !strings.Contains(got.Skip, tc.skip) {
					t.Fatalf("skip %q, want %q", got.Skip, tc.skip)
				}
				return
			}
			if got.Input.ExternalID != "in_1" || got.Input.CustomerExternalID != "cus_1" || got.Input.AmountCents != 2900 ||
				got.Input.Currency != "USD" || got.Input.ClickID != tc.click {
				t.Fatalf("input %+v", got.Input)
			}
			if !reflect.DeepEqual(got.Refs, tc.refs) {
				t.Fatalf("refs %v, want %v", got.Refs, tc.refs)
			}
		})
	}
}

func TestChargeRefundReason(t *testing.T) {
	var c charge
	if err := json.Unmarshal([]byte(`{"id": "ch_1", "amount": 100, "amount_refunded": 60, "refunded": false,
		"refunds": {"data": [{"reason": "duplicate"}, {"reason": null}, {"reason": "requested_by_customer"}]}}`), &c); err != nil {
		t.Fatal(err)
	}
	if got := c.refundReason(); got != "requested_by_customer" {
		t.Fatalf("reason %q", got)
	}
	if got := (charge{}).refundReason(); got != "" {
		t.Fatalf("no refunds listed: %q", got)
	}
}

func TestStripeSaleMetadata(t *testing.T) {
	got := string(saleMetadata("evt_1", []string{"cs_1", "pi_1"}))
	if got != `{"stripe":{"event":"evt_1","refs":["cs_1","pi_1"]}}` {
		t.Fatalf("metadata %s", got)
	}
}
