package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"reflect"
	"testing"

	"github.com/partli/partli/internal/stripetest"
)

// The coupon and promotion code calls against stripe-mock, through the
// recording proxy: the exact requests Stripe gets.

func TestCouponAndPromotionCodeRequests(t *testing.T) {
	t.Parallel()
	proxy := stripetest.NewProxy(t, stripetest.Mock(t))
	p := NewPayments(PaymentsConfig{APIBase: proxy.URL})
	ctx := context.Background()
	own := Access{Key: "sk_test_merchant"}

	pct, months := 12.5, int64(3)
	coupon, err := p.CreateCoupon(ctx, own, CouponRequest{ID: "partli_prog_1_v1", Name: "Shop", PercentOff: &pct,
		Duration: "repeating", DurationMonths: &months, Metadata: map[string]string{MetadataProgramID: "prog_1"}})
	if err != nil || coupon != "partli_prog_1_v1" {
		t.Fatalf("coupon %q, %v", coupon, err)
	}
	amount := int64(500)
	if _, err := p.CreateCoupon(ctx, own, CouponRequest{ID: "partli_prog_1_v2", Name: "Shop", AmountOff: &amount, Currency: "EUR",
		Duration: "once"}); err != nil {
		t.Fatal(err)
	}
	promo, err := p.CreatePromotionCode(ctx, own, PromotionCodeRequest{Code: "MAYA20", CouponID: coupon,
		IdempotencyKey: "partli-promo-code_1-v1", Metadata: map[string]string{MetadataCodeID: "code_1"}})
	if err != nil || len(promo) < 7 || promo[:6] != "promo_" {
		t.Fatalf("promotion code %q, %v", promo, err)
	}
	if err := p.DeactivatePromotionCode(ctx, own, promo); err != nil {
		t.Fatal(err)
	}
	// On behalf of a connected account: the platform's key and Stripe-Account.
	connect := Access{Key: "sk_test_platform", Account: "acct_merchant"}
	if _, err := p.CreatePromotionCode(ctx, connect, PromotionCodeRequest{Code: "MAYA21", CouponID: coupon, IdempotencyKey: "k2"}); err != nil {
		t.Fatal(err)
	}

	want := []struct {
		method, path, key, account, idem string
		form                             url.Values
	}{
		{"POST", "/v1/coupons", "sk_test_merchant", "", "partli-coupon-partli_prog_1_v1", url.Values{
			"id": {"partli_prog_1_v1"}, "name": {"Shop"}, "percent_off": {"12.5000"}, "duration": {"repeating"},
			"duration_in_months": {"3"}, "metadata[partli_program_id]": {"prog_1"}}},
		{"POST", "/v1/coupons", "sk_test_merchant", "", "partli-coupon-partli_prog_1_v2", url.Values{
			"id": {"partli_prog_1_v2"}, "name": {"Shop"}, "amount_off": {"500"}, "currency": {"eur"}, "duration": {"once"}}},
		{"POST", "/v1/promotion_codes", "sk_test_merchant", "", "partli-promo-code_1-v1", url.Values{
			"code": {"MAYA20"}, "promotion[type]": {"coupon"}, "promotion[coupon]": {"partli_prog_1_v1"},
			"metadata[partli_code_id]": {"code_1"}}},
		{"POST", "/v1/promotion_codes/" + promo, "sk_test_merchant", "", "partli-deactivate-" + promo, url.Values{"active": {"false"}}},
		{"POST", "/v1/promotion_codes", "sk_test_platform", "acct_merchant", "k2", url.Values{
			"code": {"MAYA21"}, "promotion[type]": {"coupon"}, "promotion[coupon]": {"partli_prog_1_v1"}}},
	}
	got := proxy.Requests("")
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Method != w.method || g.Path != w.path || g.Key != w.key || g.Account != w.account || g.IdempotencyKey != w.idem ||
			!reflect.DeepEqual(g.Form, w.form) || g.Answered != http.StatusOK {
			t.Errorf("request %d:\n got %s %s key %s account %q idem %q %v (%d)\nwant %s %s key %s account %q idem %q %v",
				i, g.Method, g.Path, g.Key, g.Account, g.IdempotencyKey, g.Form, g.Answered, w.method, w.path, w.key, w.account, w.idem, w.form)
		}
	}
}

// A coupon made by an attempt whose answer was lost is found by its id; a
// promotion code is found by its code and Partli's metadata; a refusal is
// Stripe's words; an unknown outcome is ErrCall.
func TestPromotionCodeOutcomes(t *testing.T) {
	t.Parallel()
	proxy := stripetest.NewProxy(t, stripetest.Mock(t))
	p := NewPayments(PaymentsConfig{APIBase: proxy.URL, NetworkRetries: new(int64)})
	ctx := context.Background()
	a := Access{Key: "sk_test_merchant"}

	proxy.Fail("/v1/coupons", http.StatusBadRequest, "invalid_request_error", "resource_already_exists", "Coupon already exists.")
	pct := 20.0
	id, err := p.CreateCoupon(ctx, a, CouponRequest{ID: "partli_prog_9_v1", Name: "Shop", PercentOff: &pct, Duration: "once"})
	if err != nil || id != "partli_prog_9_v1" {
		t.Fatalf("existing coupon: %q, %v", id, err)
	}
	if r := proxy.Requests("/v1/coupons/partli_prog_9_v1"); len(r) != 1 || r[0].Method != "GET" {
		t.Fatalf("the coupon was not read back: %+v", proxy.Requests(""))
	}

	proxy.Respond("/v1/promotion_codes", stripetest.Reply{Status: http.StatusOK, Body: `{"object": "list", "has_more": false, "url": "/v1/promotion_codes",
		"data": [{"id": "promo_other", "object": "promotion_code", "code": "MAYA20", "active": true, "metadata": {}},
			{"id": "promo_ours", "object": "promotion_code", "code": "maya20", "active": true, "metadata": {"partli_code_id": "code_7"}}]}`})
	found, err := p.FindPromotionCode(ctx, a, "MAYA20", "code_7")
	if err != nil || found != "promo_ours" {
		t.Fatalf("found %q, %v", found, err)
	}
	if found, err := p.FindPromotionCode(ctx, a, "MAYA20", "code_8"); err != nil || found != "" {
		t.Fatalf("found another's: %q, %v", found, err)
	}

	proxy.Fail("/v1/promotion_codes", http.StatusBadRequest, "invalid_request_error", "", "An active promotion code with `code: MAYA20` already exists.")
	_, err = p.CreatePromotionCode(ctx, a, PromotionCodeRequest{Code: "MAYA20", CouponID: id, IdempotencyKey: "k"})
	var refused *RefusedByStripe
	if !errors.As(err, &refused) || refused.Message == "" || errors.Is(err, ErrCall) {
		t.Fatalf("refusal: %v", err)
	}
	proxy.Fail("/v1/promotion_codes", http.StatusInternalServerError, "api_error", "", "Something went wrong.")
	if _, err := p.CreatePromotionCode(ctx, a, PromotionCodeRequest{Code: "MAYA20", CouponID: id, IdempotencyKey: "k"}); !errors.Is(err, ErrCall) {
		t.Fatalf("a 500 is not an unknown outcome: %v", err)
	}
}

func TestInvoicePromotionCodes(t *testing.T) {
	t.Parallel()
	proxy := stripetest.NewProxy(t, stripetest.Mock(t))
	p := NewPayments(PaymentsConfig{APIBase: proxy.URL})
	proxy.Respond("/v1/invoices/in_1", stripetest.Reply{Status: http.StatusOK, Body: `{"id": "in_1", "object": "invoice",
		"discounts": [{"id": "di_1", "object": "discount", "promotion_code": "promo_a"},
			{"id": "di_2", "object": "discount", "promotion_code": {"id": "promo_b", "object": "promotion_code", "code": "B20"}},
			{"id": "di_3", "object": "discount", "promotion_code": null}]}`})
	ids, err := p.InvoicePromotionCodes(context.Background(), Access{Key: "sk_test_merchant", Account: "acct_1"}, "in_1")
	if err != nil || !reflect.DeepEqual(ids, []string{"promo_a", "promo_b"}) {
		t.Fatalf("ids %v, %v", ids, err)
	}
	r := proxy.Requests("/v1/invoices/in_1")
	if len(r) != 1 || r[0].Form.Get("expand[0]") != "discounts" || r[0].Account != "acct_1" {
		t.Fatalf("request %+v", r)
	}
}

// The discounts of sessions and invoices in today's shape (arrays; an
// invoice's as ids unless expanded) and the older single `discount`.
func TestDiscountsOfSessionsAndInvoices(t *testing.T) {
	tests := []struct {
		name, json string
		promos     []promotionCode
		unread     bool
	}{
		{"session", `{"discounts": [{"coupon": "co_1", "promotion_code": "promo_1"}]}`, []promotionCode{{ID: "promo_1"}}, false},
		{"session, expanded promotion code", `{"discounts": [{"coupon": "co_1", "promotion_code": {"id": "promo_1", "code": "MAYA20"}}]}`,
			[]promotionCode{{ID: "promo_1", Code: "MAYA20"}}, false},
		{"session, a coupon without a code", `{"discounts": [{"coupon": "co_1", "promotion_code": null}]}`, nil, false},
		{"invoice, ids only", `{"discounts": ["di_1", "di_2"]}`, nil, true},
		{"invoice, expanded", `{"discounts": [{"id": "di_1", "object": "discount", "promotion_code": "promo_2"}]}`,
			[]promotionCode{{ID: "promo_2"}}, false},
		{"older discount field", `{"discount": {"id": "di_1", "object": "discount", "coupon": {"id": "co_1"}, "promotion_code": "promo_3"}, "discounts": []}`,
			[]promotionCode{{ID: "promo_3"}}, false},
		{"none", `{"discounts": [], "discount": null}`, nil, false},
		{"absent", `{}`, nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var d discounts
			if err := json.Unmarshal([]byte(tc.json), &d); err != nil {
				t.Fatal(err)
			}
			ps, unread := d.promotions()
			if !reflect.DeepEqual(ps, tc.promos) || unread != tc.unread {
				t.Fatalf("promotions %v %v, want %v %v", ps, unread, tc.promos, tc.unread)
			}
		})
	}
	// Through the sale mappers.
	var s checkoutSession
	if err := json.Unmarshal([]byte(`{"id": "cs_1", "payment_status": "paid", "amount_total": 100, "currency": "usd", "customer": "cus_1",
		"discounts": [{"coupon": "co_1", "promotion_code": "promo_1"}]}`), &s); err != nil {
		t.Fatal(err)
	}
	if got := sessionSale(s, CheckoutCompleted, at); !reflect.DeepEqual(got.Promotions, []promotionCode{{ID: "promo_1"}}) || got.UnreadInvoice != "" {
		t.Fatalf("session sale %+v", got)
	}
	var inv invoice
	if err := json.Unmarshal([]byte(`{"id": "in_1", "amount_paid": 100, "currency": "usd", "customer": "cus_1", "discounts": ["di_1"]}`), &inv); err != nil {
		t.Fatal(err)
	}
	if got := invoiceSale(inv, InvoicePaid, at); got.Promotions != nil || got.UnreadInvoice != "in_1" {
		t.Fatalf("invoice sale %+v", got)
	}
}
