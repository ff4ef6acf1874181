package web_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/stripetest"
	"github.com/partli/partli/internal/web"
)

// Codes in the merchant's Stripe account, against stripe-mock behind the
// recording proxy: the program's discount a coupon, each code a promotion
// code; a changed discount a new coupon; a retired code's promotion code
// deactivated; failures on the code, and tried again.

// codesWorker is partli serve's worker over e's database, run by hand.
func (e *env) codesWorker(t testing.TB) func() int {
	t.Helper()
	w := web.NewCodes(e.Cfg, e.Store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return func() int {
		t.Helper()
		// Time passes: what waits for a retry is due now.
		if _, err := e.DB.Exec(`UPDATE partner_codes SET stripe_retry_at = now() WHERE stripe_retry_at IS NOT NULL`); err != nil {
			t.Fatal(err)
		}
		n, err := w.RunDue(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
}

func (e *env) codeByID(t testing.TB, partnerID, id string) map[string]any {
	t.Helper()
	var list struct {
		Data []map[string]any `json:"data"`
	}
	e.call("GET", "/api/partners/"+partnerID+"/codes", e.Key, nil).must(t, http.StatusOK).JSON(t, &list)
	for _, c := range list.Data {
		if str(c, "id") == id {
			return c
		}
	}
	t.Fatalf("no code %s in %v", id, list.Data)
	return nil
}

func TestCodesBecomeStripePromotionCodes(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	pid := s.ProgramID

	// Without a discount or Stripe: a code, nothing asked of Stripe.
	early := e.code(t, s.PartnerID, "EARLY5")
	if str(early, "stripeStatus") != "none" || len(proxy.Requests("")) != 0 {
		t.Fatalf("code without a discount: %v, %+v", early, proxy.Requests(""))
	}
	e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{
		"discount": map[string]any{"type": "percentage", "percent": 20, "duration": "repeating", "durationMonths": 3}}).must(t, http.StatusOK)
	// A discount but no Stripe: still nothing asked.
	if c := e.codeByID(t, s.PartnerID, str(early, "id")); str(c, "stripeStatus") != "pending" {
		t.Fatalf("queued code %v", c)
	}
	worker := e.codesWorker(t)
	worker()
	if c := e.codeByID(t, s.PartnerID, str(early, "id")); str(c, "stripeStatus") != "none" || len(proxy.Requests("")) != 0 {
		t.Fatalf("code without Stripe: %v %+v", c, proxy.Requests(""))
	}

	// Stripe set up: the waiting code is queued, and the worker makes the
	// coupon and its promotion code.
	e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK)
	if n := worker(); n != 1 {
		t.Fatalf("worker did %d codes, want 1", n)
	}
	c := e.codeByID(t, s.PartnerID, str(early, "id"))
	if str(c, "stripeStatus") != "active" || !strings.HasPrefix(str(c, "stripePromotionCodeId"), "promo_") || c["stripeError"] != nil {
		t.Fatalf("code after Stripe setup %v", c)
	}
	coupon := "partli_" + pid + "_v1"
	wantCoupon := url.Values{"id": {coupon}, "name": {str(s.Program, "name")}, "percent_off": {"20.0000"},
		"duration": {"repeating"}, "duration_in_months": {"3"}, "metadata[partli_workspace_id]": {e.WS.Workspace.ID},
		"metadata[partli_program_id]": {pid}, "metadata[partli_discount_version]": {"1"}}
	reqs := proxy.Requests("/v1/coupons")
	if len(reqs) != 1 || !reflect.DeepEqual(reqs[0].Form, wantCoupon) || reqs[0].Key != payoutsKey ||
		reqs[0].IdempotencyKey != "partli-coupon-"+coupon {
		t.Fatalf("coupon requests %+v", reqs)
	}
	promoReq := func(codeID, code, version string) url.Values {
		return url.Values{"code": {code}, "promotion[type]": {"coupon"}, "promotion[coupon]": {"partli_" + pid + "_v" + version},
			"metadata[partli_workspace_id]": {e.WS.Workspace.ID}, "metadata[partli_code_id]": {codeID},
			"metadata[partli_partner_id]": {s.PartnerID}, "metadata[partli_program_id]": {pid}}
	}
	reqs = proxy.Requests("/v1/promotion_codes")
	if len(reqs) != 1 || !reflect.DeepEqual(reqs[0].Form, promoReq(str(early, "id"), "EARLY5", "1")) ||
		reqs[0].IdempotencyKey != "partli-promo-"+str(early, "id")+"-v1" {
		t.Fatalf("promotion code requests %+v", reqs)
	}

	// A new code gets its promotion code at once, with the same coupon.
	maya := e.code(t, s.PartnerID, "MAYA20")
	if str(maya, "stripeStatus") != "active" || !strings.HasPrefix(str(maya, "stripePromotionCodeId"), "promo_") {
		t.Fatalf("new code %v", maya)
	}
	if n := len(proxy.Requests("/v1/coupons")); n != 1 {
		t.Fatalf("%d coupons made, want 1", n)
	}
	if reqs := proxy.Requests("/v1/promotion_codes"); len(reqs) != 2 || !reflect.DeepEqual(reqs[1].Form, promoReq(str(maya, "id"), "MAYA20", "1")) {
		t.Fatalf("promotion code requests %+v", reqs)
	}

	// A changed discount is a new coupon, for codes made from now on;
	// codes made before keep theirs.
	e.call("PATCH", "/api/programs/"+pid, e.Key, map[string]any{
		"discount": map[string]any{"type": "flat", "amountCents": 500, "duration": "once"}}).must(t, http.StatusOK)
	fresh := e.code(t, s.PartnerID, "FRESH5")
	reqs = proxy.Requests("/v1/coupons")
	if len(reqs) != 2 || !reflect.DeepEqual(reqs[1].Form, url.Values{"id": {"partli_" + pid + "_v2"}, "name": {str(s.Program, "name")},
		"amount_off": {"500"}, "currency": {"usd"}, "duration": {"once"}, "metadata[partli_workspace_id]": {e.WS.Workspace.ID},
		"metadata[partli_program_id]": {pid}, "metadata[partli_discount_version]": {"2"}}) {
		t.Fatalf("second coupon %+v", reqs)
	}
	if reqs := proxy.Requests("/v1/promotion_codes"); len(reqs) != 3 || !reflect.DeepEqual(reqs[2].Form, promoReq(str(fresh, "id"), "FRESH5", "2")) {
		t.Fatalf("promotion code of the new discount %+v", reqs)
	}
	var coupons []string
	if err := e.DB.Select(&coupons, `SELECT stripe_coupon_id FROM partner_codes WHERE workspace_id = $1 ORDER BY created_at`, e.WS.Workspace.ID); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(coupons, []string{coupon, coupon, "partli_" + pid + "_v2"}) {
		t.Fatalf("coupons of the codes %v", coupons)
	}

	// Retiring a code deactivates its promotion code.
	promo := str(maya, "stripePromotionCodeId")
	e.call("DELETE", "/api/codes/"+str(maya, "id"), e.Key, nil).must(t, http.StatusNoContent)
	reqs = proxy.Requests("/v1/promotion_codes/" + promo)
	if len(reqs) != 1 || !reflect.DeepEqual(reqs[0].Form, url.Values{"active": {"false"}}) || reqs[0].Method != "POST" {
		t.Fatalf("deactivation %+v", reqs)
	}
	if c := e.codeByID(t, s.PartnerID, str(maya, "id")); str(c, "stripeStatus") != "deactivated" || str(c, "stripePromotionCodeId") != promo {
		t.Fatalf("retired code %v", c)
	}

	// Stripe's answer lost on the way back: stripe-go asks again with the
	// same idempotency key, and one promotion code is recorded.
	proxy.DropReplies("/v1/promotion_codes", 1)
	lost := e.code(t, s.PartnerID, "LOST10")
	reqs = proxy.Requests("/v1/promotion_codes")
	last2 := reqs[len(reqs)-2:]
	if str(lost, "stripeStatus") != "active" || last2[0].IdempotencyKey != last2[1].IdempotencyKey || last2[0].Answered != 0 ||
		last2[1].Answered != http.StatusOK || last2[0].IdempotencyKey != "partli-promo-"+str(lost, "id")+"-v2" {
		t.Fatalf("lost answer: %v %+v", lost, last2)
	}
}

func TestStripeFailuresAreVisibleOnTheCodeAndRetried(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	e.call("PATCH", "/api/programs/"+s.ProgramID, e.Key, map[string]any{
		"discount": map[string]any{"type": "percentage", "percent": 10, "duration": "forever"}}).must(t, http.StatusOK)
	e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK)
	worker := e.codesWorker(t)

	// Stripe down: the code is made (it attributes), its failure shown.
	proxy.Fail("/v1/coupons", http.StatusServiceUnavailable, "api_error", "", "Stripe is down.")
	c := e.code(t, s.PartnerID, "DOWN10")
	if str(c, "stripeStatus") != "failed" || !strings.Contains(str(c, "stripeError"), "did not answer") || c["stripePromotionCodeId"] != nil {
		t.Fatalf("code with Stripe down: %v", c)
	}
	if res := e.sale(t, e.Key, map[string]any{"customerExternalId": "cus-down", "couponCode": "DOWN10"}); res["attributed"] != true {
		t.Fatalf("the code does not attribute while Stripe is down: %v", res)
	}
	// Refused: Stripe's words.
	proxy.Fail("/v1/coupons", http.StatusBadRequest, "invalid_request_error", "parameter_invalid", "Invalid percent_off.")
	worker()
	c = e.codeByID(t, s.PartnerID, str(c, "id"))
	if str(c, "stripeStatus") != "failed" || !strings.Contains(str(c, "stripeError"), "Invalid percent_off") {
		t.Fatalf("refused: %v", c)
	}
	// Stripe answers again: the retry makes it.
	proxy.Respond("/v1/coupons")
	worker()
	c = e.codeByID(t, s.PartnerID, str(c, "id"))
	if str(c, "stripeStatus") != "active" || c["stripeError"] != nil {
		t.Fatalf("after the retry: %v", c)
	}
	// Nothing more to do.
	if n := worker(); n != 0 {
		t.Fatalf("worker found %d codes to do", n)
	}

	// The promotion code refused (another active one has the code):
	// looked for among Stripe's codes (it is not Partli's), then shown.
	proxy.Fail("/v1/promotion_codes", http.StatusBadRequest, "invalid_request_error", "", "An active promotion code with `code: TAKEN5` already exists.")
	taken := e.code(t, s.PartnerID, "TAKEN5")
	if str(taken, "stripeStatus") != "failed" || !strings.Contains(str(taken, "stripeError"), "already exists") {
		t.Fatalf("taken in Stripe: %v", taken)
	}
	if reqs := proxy.Requests("/v1/promotion_codes"); reqs[len(reqs)-1].Method != "GET" || reqs[len(reqs)-1].Form.Get("code") != "TAKEN5" {
		t.Fatalf("not looked for: %+v", reqs)
	}
	// It was Partli's after all (an answer lost over a day ago): adopted.
	proxy.Respond("/v1/promotion_codes", stripetest.Reply{Status: http.StatusOK, Body: `{"object": "list", "has_more": false,
		"url": "/v1/promotion_codes", "data": [{"id": "promo_adopted", "object": "promotion_code", "code": "TAKEN5",
		"metadata": {"partli_code_id": "` + str(taken, "id") + `"}}]}`})
	worker()
	if c := e.codeByID(t, s.PartnerID, str(taken, "id")); str(c, "stripePromotionCodeId") != "promo_adopted" || str(c, "stripeStatus") != "active" {
		t.Fatalf("adopted: %v", c)
	}
	proxy.Respond("/v1/promotion_codes")

	// A code Stripe cannot take (an underscore) says so and asks nothing.
	before := len(proxy.Requests(""))
	under := e.code(t, s.PartnerID, "MAYA_20")
	if str(under, "stripeStatus") != "failed" || !strings.Contains(str(under, "stripeError"), "letters, digits and dashes") ||
		len(proxy.Requests("")) != before {
		t.Fatalf("underscore: %v", under)
	}

	// Retiring while Stripe is down: deactivated by the retry.
	proxy.Fail("/v1/promotion_codes/promo_adopted", http.StatusInternalServerError, "api_error", "", "Oops.")
	e.call("DELETE", "/api/codes/"+str(taken, "id"), e.Key, nil).must(t, http.StatusNoContent)
	if c := e.codeByID(t, s.PartnerID, str(taken, "id")); str(c, "stripeStatus") != "failed" || str(c, "status") != "retired" {
		t.Fatalf("retired with Stripe down: %v", c)
	}
	proxy.Respond("/v1/promotion_codes/promo_adopted", stripetest.Reply{Status: http.StatusOK,
		Body: `{"id": "promo_adopted", "object": "promotion_code", "code": "TAKEN5", "active": false}`})
	worker()
	if c := e.codeByID(t, s.PartnerID, str(taken, "id")); str(c, "stripeStatus") != "deactivated" {
		t.Fatalf("deactivated by the retry: %v", c)
	}
}

// A workspace connected through Connect, without a key of its own: its
// codes are made in its account with the platform's key.
func TestCodesOfConnectedWorkspace(t *testing.T) {
	t.Parallel()
	proxy := stripetest.NewProxy(t, stripetest.Mock(t))
	e := newEnv(t, func(c *config.Config) {
		c.StripeAPIBase, c.StripeSecretKey, c.StripeClientID = proxy.URL, "sk_test_platform", "ca_test"
	})
	s := e.setup(t)
	account := "acct_" + ids.Random(8)
	if err := e.Store.ConnectStripeAccount(context.Background(), e.WS.Workspace.ID, account, false); err != nil {
		t.Fatal(err)
	}
	e.call("PATCH", "/api/programs/"+s.ProgramID, e.Key, map[string]any{
		"discount": map[string]any{"type": "percentage", "percent": 15, "duration": "once"}}).must(t, http.StatusOK)
	c := e.code(t, s.PartnerID, "CONNECT15")
	if str(c, "stripeStatus") != "active" {
		t.Fatalf("code %v", c)
	}
	for _, r := range proxy.Requests("") {
		if r.Key != "sk_test_platform" || r.Account != account {
			t.Fatalf("request %s %s with key %s for %q", r.Method, r.Path, r.Key, r.Account)
		}
	}
	if len(proxy.Requests("")) != 2 {
		t.Fatalf("requests %+v", proxy.Requests(""))
	}
}

// Paid Checkout Sessions and invoices, shaped like today's API, whose
// discounts name a promotion code of the workspace, attribute to its
// partner when there is no click id: at the workspace's endpoint and at
// the platform's.
func TestStripeDiscountsAttributeByCode(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	path, secret := e.stripeSetup(t)
	account := "acct_" + ids.Random(8)
	if err := e.Store.ConnectStripeAccount(context.Background(), e.WS.Workspace.ID, account, false); err != nil {
		t.Fatal(err)
	}
	e.call("PATCH", "/api/programs/"+s.ProgramID, e.Key, map[string]any{
		"discount": map[string]any{"type": "percentage", "percent": 20, "duration": "once"}}).must(t, http.StatusOK)
	e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK)
	code := e.code(t, s.PartnerID, "MAYA20")
	promo := str(code, "stripePromotionCodeId")
	if promo == "" {
		t.Fatalf("code %v", code)
	}
	sold := func(externalID string) map[string]any {
		t.Helper()
		var sales struct {
			Data []map[string]any `json:"data"`
		}
		e.call("GET", "/api/sales?limit=200", e.Key, nil).must(t, http.StatusOK).JSON(t, &sales)
		for _, sale := range sales.Data {
			if str(sale, "externalId") == externalID {
				return sale
			}
		}
		return nil
	}
	check := func(name, externalID string, r stripeReply) {
		t.Helper()
		sale := sold(externalID)
		if sale == nil || str(sale, "partnerId") != s.PartnerID || str(sale, "couponCode") != "MAYA20" || str(sale, "codeId") != str(code, "id") {
			t.Fatalf("%s: sale %v (%+v)", name, sale, r)
		}
	}

	// A session's discounts: {coupon, promotion_code}.
	session := paidSession("cs_test_"+ids.Random(8), "", 5000, map[string]any{
		"discounts": []any{map[string]any{"coupon": "partli_" + s.ProgramID + "_v1", "promotion_code": promo}}})
	check("session", str(session, "id"), e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", session)).stripe(t))

	// At the platform endpoint (Connect), with the promotion code expanded.
	e2 := paidSession("cs_test_"+ids.Random(8), "", 5000, map[string]any{
		"discounts": []any{map[string]any{"coupon": "co_1", "promotion_code": map[string]any{"id": promo, "object": "promotion_code", "code": "MAYA20"}}}})
	check("connect session", str(e2, "id"), e.deliver(t, "/api/stripe/webhook", stripeConnectSecret,
		stripeEvent("checkout.session.completed", account, e2)).stripe(t))

	invoice := func(id string, extra map[string]any) map[string]any {
		inv := map[string]any{"id": id, "object": "invoice", "amount_paid": 2900, "currency": "usd", "customer": "cus_" + ids.Random(8),
			"status": "paid", "metadata": map[string]any{}}
		for k, v := range extra {
			inv[k] = v
		}
		return inv
	}
	// An invoice with its discounts expanded.
	inv := invoice("in_"+ids.Random(8), map[string]any{"discounts": []any{map[string]any{"id": "di_1", "object": "discount", "promotion_code": promo}}})
	check("invoice", str(inv, "id"), e.deliver(t, path, secret, stripeEvent("invoice.paid", "", inv)).stripe(t))
	// The older `discount` field, at the platform endpoint.
	old := invoice("in_"+ids.Random(8), map[string]any{"discount": map[string]any{"id": "di_2", "object": "discount",
		"coupon": map[string]any{"id": "co_1"}, "promotion_code": promo}})
	check("older discount", str(old, "id"), e.deliver(t, "/api/stripe/webhook", stripeConnectSecret, stripeEvent("invoice.paid", account, old)).stripe(t))
	// Discount ids only (as invoice.paid sends them): read from Stripe.
	idsOnly := invoice("in_"+ids.Random(8), map[string]any{"discounts": []any{"di_3"}})
	proxy.Respond("/v1/invoices/"+str(idsOnly, "id"), stripetest.Reply{Status: http.StatusOK, Body: `{"id": "` + str(idsOnly, "id") +
		`", "object": "invoice", "discounts": [{"id": "di_3", "object": "discount", "promotion_code": "` + promo + `"}]}`})
	check("discount ids", str(idsOnly, "id"), e.deliver(t, path, secret, stripeEvent("invoice.paid", "", idsOnly)).stripe(t))
	if r := proxy.Requests("/v1/invoices/" + str(idsOnly, "id")); len(r) != 1 || r[0].Key != payoutsKey || r[0].Form.Get("expand[0]") != "discounts" {
		t.Fatalf("invoice read %+v", r)
	}

	// A promotion code that is not one of this workspace's, and a retired
	// code's: no attribution, nothing stored.
	other := paidSession("cs_test_"+ids.Random(8), "", 5000, map[string]any{
		"discounts": []any{map[string]any{"coupon": "co_x", "promotion_code": "promo_someone_else"}}})
	if r := e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", other)).stripe(t); !strings.HasPrefix(r.Outcome, "no attribution") {
		t.Fatalf("another promotion code: %+v", r)
	}
	e.call("DELETE", "/api/codes/"+str(code, "id"), e.Key, nil).must(t, http.StatusNoContent)
	retired := paidSession("cs_test_"+ids.Random(8), "", 5000, map[string]any{
		"discounts": []any{map[string]any{"coupon": "co_x", "promotion_code": promo}}})
	if r := e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", retired)).stripe(t); !strings.HasPrefix(r.Outcome, "no attribution") {
		t.Fatalf("retired code: %+v", r)
	}
	if sold(str(other, "id")) != nil || sold(str(retired, "id")) != nil {
		t.Fatal("an unattributed session became a sale")
	}

	// A click beats a code: the click's partner keeps the sale.
	grace := e.partner(t, s.ProgramID, nil)
	graceCode := e.code(t, str(grace, "id"), "GRACE10")
	clicked := paidSession("cs_test_"+ids.Random(8), s.ClickID, 5000, map[string]any{
		"discounts": []any{map[string]any{"coupon": "co_x", "promotion_code": str(graceCode, "stripePromotionCodeId")}}})
	e.deliver(t, path, secret, stripeEvent("checkout.session.completed", "", clicked)).stripe(t)
	if sale := sold(str(clicked, "id")); sale == nil || str(sale, "partnerId") != s.PartnerID || sale["codeId"] != nil {
		t.Fatalf("click vs code: %v", sale)
	}
}
