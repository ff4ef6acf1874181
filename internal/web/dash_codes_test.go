package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// financeSession signs in a finance user of e's workspace.
func (e *env) financeSession(t testing.TB) *session {
	t.Helper()
	hash, err := accounts.HashPassword("finance password")
	if err != nil {
		t.Fatal(err)
	}
	email := uniq("fin") + "@example.com"
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID, Email: email, PasswordHash: hash, Role: "finance"}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return e.signInAs(t, email, "finance password")
}

// The dashboard's codes: a program's customer discount with its preview in
// words, a partner's codes (add, retire), the sales and commissions by code,
// and the code on sales and in the export.

func TestDashProgramDiscount(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"currency": "EUR"}), "id")
	s := e.signIn(t)
	d := s.page("/programs/" + id)
	if testid(d, "discount-none").Length() != 1 || testid(d, "discount-form").Length() != 1 {
		t.Fatal("the program page has no discount section")
	}

	// The HTMX preview says in words what customers would get; the inputs
	// are not sent back.
	r := s.htmx(http.MethodGet, "/programs/"+id+"/discount-preview?"+url.Values{"type": {"percentage"}, "percent": {"20"},
		"amount": {"ignored"}, "duration": {"repeating"}, "durationMonths": {"3"}}.Encode(), nil)
	pd := r.Doc(t)
	if r.Status != http.StatusOK || progText(testid(pd, "discount-preview")) != "Referred customers get 20% off every payment for 3 months." ||
		pd.Find("input").Length() != 0 {
		t.Fatalf("preview: %d %q", r.Status, r.Body)
	}
	r = s.htmx(http.MethodGet, "/programs/"+id+"/discount-preview?"+url.Values{"type": {"flat"}, "amount": {"5"}, "duration": {"once"}}.Encode(), nil)
	if got := progText(testid(r.Doc(t), "discount-preview")); got != "Referred customers get €5.00 off the first payment." {
		t.Fatalf("flat preview %q", got)
	}
	r = s.htmx(http.MethodGet, "/programs/"+id+"/discount-preview?"+url.Values{"type": {"flat"}, "duration": {"once"}}.Encode(), nil)
	if got := progText(testid(r.Doc(t), "discount-preview")); !strings.Contains(got, "Choose the options") {
		t.Fatalf("incomplete preview %q", got)
	}

	// Saving: plain form post, then the page says it in words.
	progFollow(t, s.post("/programs/"+id+"/discount", url.Values{"type": {"percentage"}, "percent": {"12.5"}, "amount": {"x"},
		"duration": {"forever"}, "partnersCreate": {"true"}}), "/programs/"+id)
	d = s.page("/programs/" + id + "?done=discount-saved")
	if got := progText(testid(d, "discount-words")); got != "12.5% off every payment" {
		t.Fatalf("discount words %q", got)
	}
	if !strings.Contains(progText(testid(d, "partners-create-codes")), "Partners make their own codes") {
		t.Fatal("partners may make codes is not shown")
	}
	got := e.call("GET", "/api/programs/"+id, e.Key, nil).must(t, http.StatusOK).Map(t)
	if dd := obj(got, "discount"); dd["percent"] != 12.5 || str(dd, "duration") != "forever" || got["partnersCreateCodes"] != true {
		t.Fatalf("stored %v", got)
	}

	// Refused: 422 with the message under the field, nothing changed.
	for name, tc := range map[string]struct {
		form  url.Values
		field string
	}{
		"percent above 100": {url.Values{"type": {"percentage"}, "percent": {"101"}, "duration": {"once"}}, "percent"},
		"no amount":         {url.Values{"type": {"flat"}, "duration": {"once"}}, "amount"},
		"three decimals":    {url.Values{"type": {"flat"}, "amount": {"1.005"}, "duration": {"once"}}, "amount"},
		"no months":         {url.Values{"type": {"flat"}, "amount": {"1"}, "duration": {"repeating"}}, "durationMonths"},
		"no duration":       {url.Values{"type": {"flat"}, "amount": {"1"}}, "duration"},
		"bad type":          {url.Values{"type": {"bogo"}, "duration": {"once"}}, "type"},
	} {
		r := s.htmx(http.MethodPost, "/programs/"+id+"/discount", tc.form)
		if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "error-"+tc.field).Length() != 1 ||
			testid(r.Doc(t), "discount-form").Length() != 1 {
			t.Errorf("%s: status %d, want 422 with an error on %s\n%s", name, r.Status, tc.field, r.Body)
		}
	}
	r = s.post("/programs/"+id+"/discount", url.Values{"type": {"flat"}, "duration": {"once"}})
	if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "program-page").Length() != 1 {
		t.Fatalf("plain refused post: %d", r.Status)
	}
	if got := progText(testid(s.page("/programs/"+id), "discount-words")); got != "12.5% off every payment" {
		t.Fatalf("a refused form changed the discount: %q", got)
	}

	// Changing the discount while codes have promotion codes says they keep it.
	pa := e.partner(t, id, nil)
	c := e.code(t, str(pa, "id"), "KEEPME")
	if _, err := e.DB.Exec(`UPDATE partner_codes SET stripe_promotion_code_id = 'promo_x', stripe_coupon_id = 'co_x' WHERE id = $1`, str(c, "id")); err != nil {
		t.Fatal(err)
	}
	loc := progFollow(t, s.post("/programs/"+id+"/discount", url.Values{"type": {"flat"}, "amount": {"5"}, "duration": {"once"}}), "/programs/"+id)
	if !strings.Contains(loc, "done=discount-new-coupon") || !strings.Contains(testid(s.page(loc), "flash").Text(), "Stripe coupons cannot be changed") {
		t.Fatalf("no word on the new coupon: %s", loc)
	}
	// Removing it.
	loc = progFollow(t, s.post("/programs/"+id+"/discount", url.Values{"type": {""}, "duration": {"once"}}), "/programs/"+id)
	if d := s.page(loc); testid(d, "discount-none").Length() != 1 || !strings.Contains(testid(d, "flash").Text(), "Discount removed") {
		t.Fatal("the discount was not removed")
	}
	// Finance staff see it and cannot change it.
	fin := e.financeSession(t)
	if d := fin.page("/programs/" + id); testid(d, "discount-form").Length() != 0 || testid(d, "program-discount").Length() != 1 {
		t.Fatal("finance staff get the discount form")
	}
	if r := fin.post("/programs/"+id+"/discount", url.Values{"type": {""}}); r.Status != http.StatusForbidden {
		t.Fatalf("finance set the discount: %d", r.Status)
	}
}

func TestDashPartnerCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	st := e.setup(t)
	s := e.signIn(t)
	page := "/partners/" + st.PartnerID
	if d := s.page(page); testid(d, "codes-empty").Length() != 1 || testid(d, "code-form").Length() != 1 {
		t.Fatal("no codes section")
	}
	progFollow(t, s.post(page+"/codes", url.Values{"code": {" MAYA20 "}}), page)
	d := s.page(page + "?done=code-added")
	if testid(d, "code").Length() != 1 || progText(testid(d, "code-text")) != "MAYA20" || !strings.Contains(testid(d, "flash").Text(), "Code added") {
		t.Fatalf("after adding: %s", progText(testid(d, "partner-codes")))
	}
	if got := progText(testid(d, "code-stripe")); !strings.Contains(got, "no customer discount") {
		t.Fatalf("stripe line %q", got)
	}

	// Refused: taken in another case, spaces, emoji, too long.
	for _, bad := range []string{"maya20", "MAYA 20", "🎉🎉🎉", strings.Repeat("x", 200), ""} {
		r := s.post(page+"/codes", url.Values{"code": {bad}})
		if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "error-code").Length() != 1 {
			t.Errorf("%q: status %d", bad, r.Status)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM partner_codes WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d codes", n)
	}

	// Sales by the code: on the partner page and the program page.
	e.sale(t, e.Key, map[string]any{"customerExternalId": "c1", "couponCode": "maya20", "amountCents": 10000})
	e.sale(t, e.Key, map[string]any{"customerExternalId": "c2", "couponCode": "MAYA20", "amountCents": 5000})
	d = s.page(page)
	if got := progText(testid(d, "code-report-line")); got != "2 sales · 0 leads · $15.00 in commissions" {
		t.Fatalf("partner page report %q", got)
	}
	d = s.page("/programs/" + st.ProgramID)
	row := d.Find(`[data-testid="code-report-row"][data-code="MAYA20"]`)
	if progText(row.Find(`[data-testid="code-sales"]`)) != "2" || progText(row.Find(`[data-testid="code-sales-amount"]`)) != "$150.00" ||
		progText(row.Find(`[data-testid="code-commissions"]`)) != "$15.00" {
		t.Fatalf("program report %q", progText(row))
	}
	// The sales list and the sale page show the code; the export has it.
	d = s.page("/sales")
	if got := progText(d.Find(`[data-testid="sale-code"]`).First()); got != "MAYA20" {
		t.Fatalf("sales list code %q", got)
	}
	href, _ := d.Find(`[data-testid="sale-row"] a`).First().Attr("href")
	if got := progText(testid(s.page(href), "sale-code")); got != "MAYA20" {
		t.Fatalf("sale page code %q", got)
	}
	csv := string(s.get("/sales.csv").Body)
	lines := strings.Split(strings.TrimSpace(csv), "\n")
	if !strings.HasSuffix(strings.TrimSpace(lines[0]), ",code_id,code") || !strings.HasSuffix(strings.TrimSpace(lines[1]), ",MAYA20") {
		t.Fatalf("export:\n%s", csv)
	}

	// Retiring.
	d = s.page(page)
	retire, _ := d.Find(`[data-testid="code"] form[action$="/retire"]`).Attr("action")
	progFollow(t, s.post(retire, nil), page)
	d = s.page(page)
	if progText(testid(d, "code-status")) != "retired" || testid(d, "code-retire").Length() != 0 {
		t.Fatalf("after retiring: %s", progText(testid(d, "partner-codes")))
	}
	if res := e.sale(t, e.Key, map[string]any{"customerExternalId": "c3", "couponCode": "MAYA20"}); res["attributed"] != false {
		t.Fatalf("a retired code attributed: %v", res)
	}
	if r := s.post("/codes/code_nope/retire", nil); r.Status != http.StatusNotFound {
		t.Fatalf("unknown code: %d", r.Status)
	}
}

func TestPortalCodes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ps, partnerID := portalPartner(t, e)
	page := "/partner/programs/" + partnerID
	var programID string
	if err := e.DB.Get(&programID, `SELECT program_id FROM partners WHERE id = $1`, partnerID); err != nil {
		t.Fatal(err)
	}
	e.reward(t, programID, nil)

	// The owner makes codes: the partner is told to ask, and cannot post one.
	d := ps.page(page)
	if testid(d, "portal-code-form").Length() != 0 || !strings.Contains(progText(testid(d, "portal-codes-why")), "ask them") {
		t.Fatalf("codes section %q", progText(testid(d, "portal-codes")))
	}
	if r := ps.post(page+"/codes", url.Values{"code": {"PAT10"}}); r.Status != http.StatusForbidden {
		t.Fatalf("a partner made a code in a program that does not let them: %d", r.Status)
	}

	// The program lets partners, with a discount: the partner sees it, makes a code.
	e.call("PATCH", "/api/programs/"+programID, e.Key, map[string]any{"partnersCreateCodes": true,
		"discount": map[string]any{"type": "percentage", "percent": 20, "duration": "once"}}).must(t, http.StatusOK)
	d = ps.page(page)
	if got := progText(testid(d, "portal-discount")); got != "Customers you refer get 20% off the first payment." {
		t.Fatalf("portal discount %q", got)
	}
	for _, bad := range []string{"PAT 10", "🎉🎉🎉", strings.Repeat("P", 200)} {
		r := ps.post(page+"/codes", url.Values{"code": {bad}})
		if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "error-code").Length() != 1 {
			t.Errorf("%q: %d", bad, r.Status)
		}
	}
	progFollow(t, ps.post(page+"/codes", url.Values{"code": {"PAT10"}}), page)
	if r := ps.post(page+"/codes", url.Values{"code": {"pat10"}}); r.Status != http.StatusUnprocessableEntity ||
		!strings.Contains(testid(r.Doc(t), "error-code").Text(), "taken") {
		t.Fatalf("taken: %d", r.Status)
	}
	var by string
	if err := e.DB.Get(&by, `SELECT created_by FROM partner_codes WHERE code = 'PAT10'`); err != nil || by != "partner" {
		t.Fatalf("created by %q (%v)", by, err)
	}
	for i := 0; i < 14; i++ {
		e.sale(t, e.Key, map[string]any{"customerExternalId": uniq("cus"), "couponCode": "PAT10"})
	}
	d = ps.page(page)
	if got := progText(d.Find(`[data-testid="portal-code"][data-code="PAT10"] [data-testid="portal-code-line"]`)); !strings.HasPrefix(got, "Your code PAT10: 14 sales") {
		t.Fatalf("portal report %q", got)
	}
	// At most five live codes of their own.
	for _, c := range []string{"PAT11", "PAT12", "PAT13", "PAT14"} {
		progFollow(t, ps.post(page+"/codes", url.Values{"code": {c}}), page)
	}
	if d := ps.page(page); testid(d, "portal-code-form").Length() != 0 || !strings.Contains(progText(testid(d, "portal-codes-why")), "5 live codes") {
		t.Fatal("a sixth code is offered")
	}
	if r := ps.post(page+"/codes", url.Values{"code": {"PAT15"}}); r.Status != http.StatusForbidden {
		t.Fatalf("a sixth code: %d", r.Status)
	}
	// The apply page shows the discount.
	var slug string
	if err := e.DB.Get(&slug, `SELECT slug FROM programs WHERE id = $1`, programID); err != nil {
		t.Fatal(err)
	}
	if got := progText(testid(e.anonymous(t).page("/apply/"+e.WS.Workspace.Slug+"/"+slug), "apply-discount")); got != "Customers you refer get 20% off the first payment." {
		t.Fatalf("apply page %q", got)
	}
}

// A code whose Stripe work failed shows Stripe's words on the partner's
// page, and "Try Stripe again" makes it.
func TestDashCodeStripeRetry(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	st := e.setup(t)
	e.call("PATCH", "/api/programs/"+st.ProgramID, e.Key, map[string]any{
		"discount": map[string]any{"type": "percentage", "percent": 10, "duration": "once"}}).must(t, http.StatusOK)
	e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK)
	proxy.Fail("/v1/coupons", http.StatusBadRequest, "invalid_request_error", "", "Your account cannot create coupons.")
	s := e.signIn(t)
	page := "/partners/" + st.PartnerID
	progFollow(t, s.post(page+"/codes", url.Values{"code": {"RETRY10"}}), page)
	d := s.page(page)
	line := testid(d, "code-stripe")
	if status, _ := line.Attr("data-status"); status != "failed" || !strings.Contains(line.Text(), "Your account cannot create coupons") ||
		testid(d, "code-retry").Length() != 1 {
		t.Fatalf("failed code: %q", progText(testid(d, "partner-codes")))
	}
	proxy.Respond("/v1/coupons")
	action, _ := d.Find(`form[action$="/stripe-retry"]`).Attr("action")
	progFollow(t, s.post(action, nil), page)
	d = s.page(page)
	if status, _ := testid(d, "code-stripe").Attr("data-status"); status != "active" || testid(d, "code-retry").Length() != 0 ||
		!strings.Contains(progText(testid(d, "code-stripe")), "promo_") {
		t.Fatalf("after the retry: %q", progText(testid(d, "partner-codes")))
	}
	if d := s.page("/programs/" + st.ProgramID); !strings.Contains(progText(testid(d, "discount-coupon")), "partli_"+st.ProgramID+"_v1") {
		t.Fatal("the program page does not name its coupon")
	}
}
