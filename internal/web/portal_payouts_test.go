package web_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/stripetest"
)

// portalPartner is a partner who applied to an auto-approving program and
// is signed in to the portal.
func portalPartner(t *testing.T, e *env) (*session, string) {
	t.Helper()
	p := e.program(t, map[string]any{"autoApprove": true})
	email := uniq("pp") + "@example.com"
	if r := e.apply(t, e.WS.Workspace.Slug, str(p, "slug"), "Pat Portal", email, "pat password"); r.Status != http.StatusOK {
		t.Fatalf("apply: %d", r.Status)
	}
	var partnerID string
	if err := e.DB.Get(&partnerID, `SELECT id FROM partners WHERE program_id = $1`, str(p, "id")); err != nil {
		t.Fatal(err)
	}
	return e.signInPartner(t, email, "pat password"), partnerID
}

// Partners choose how they are paid in the portal, and see their payouts
// with status and reference.
func TestPortalPayoutMethod(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	ps, partnerID := portalPartner(t, e)
	page := "/partner/programs/" + partnerID

	d := ps.page(page)
	if !strings.Contains(finText(testid(d, "method-current")), "None chosen yet") || !strings.Contains(finText(testid(d, "method-why")), "Choose where you want to be paid") {
		t.Fatalf("no method: %q / %q", finText(testid(d, "method-current")), finText(testid(d, "method-why")))
	}
	if testid(d, "stripe-form").Length() != 0 {
		t.Fatal("Stripe is offered without a Stripe key")
	}
	// A bad address is refused with the form again.
	r := ps.post(page+"/payout-method", url.Values{"type": {"paypal"}, "email": {"not an email"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(finText(testid(r.Doc(t), "method-error")), "PayPal") {
		t.Fatalf("bad email: %d", r.Status)
	}
	r = ps.post(page+"/payout-method", url.Values{"type": {"wise"}, "email": {"pat@wise.example.com"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", r.Status)
	}
	d = ps.page(strings.Split(r.Header.Get("Location"), "#")[0])
	if got := finText(testid(d, "method-current")); !strings.Contains(got, "Wise (pat@wise.example.com)") || testid(d, "method-ready").Length() != 1 {
		t.Fatalf("after saving: %q", got)
	}
	pm := obj(e.call("GET", "/api/partners/"+partnerID, e.Key, nil).must(t, http.StatusOK).Map(t), "payoutMethod")
	if str(pm, "type") != "wise" || pm["ready"] != true {
		t.Fatalf("payoutMethod %v", pm)
	}
	// Another partner's enrollment is not found.
	if r := ps.post("/partner/programs/ptn_someone_else/payout-method", url.Values{"type": {"wise"}, "email": {"x@y.co"}}); r.Status != http.StatusNotFound {
		t.Fatalf("someone else's enrollment: %d", r.Status)
	}

	// With Stripe set up: onboarding goes to Stripe, and comes back.
	e.call("PUT", "/api/integrations/stripe", e.Key, map[string]any{"secretKey": payoutsKey}).must(t, http.StatusOK)
	if testid(ps.page(page), "stripe-form").Length() != 1 {
		t.Fatal("Stripe is not offered")
	}
	r = ps.post(page+"/stripe", nil)
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "https://") {
		t.Fatalf("onboarding: %d %q", r.Status, r.Header.Get("Location"))
	}
	links := proxy.Requests("/v1/account_links")
	if len(links) != 1 || links[0].Form.Get("return_url") != e.Cfg.BaseURL+page+"/stripe/return" ||
		links[0].Form.Get("refresh_url") != e.Cfg.BaseURL+page+"/stripe/refresh" {
		t.Fatalf("account link %+v", links)
	}
	// The link expired: a fresh one, for the same account.
	if r := ps.get(page + "/stripe/refresh"); r.Status != http.StatusSeeOther || len(proxy.Requests("/v1/accounts")) != 1 {
		t.Fatalf("refresh: %d, %d accounts", r.Status, len(proxy.Requests("/v1/accounts")))
	}
	// Back from Stripe, onboarding not finished (stripe-mock's account).
	r = ps.get(page + "/stripe/return")
	if r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=stripe_pending") {
		t.Fatalf("return: %d %q", r.Status, r.Header.Get("Location"))
	}
	d = ps.page(strings.Split(r.Header.Get("Location"), "#")[0])
	if !strings.Contains(finText(testid(d, "method-why")), "onboarding with Stripe is not finished") || !strings.Contains(finText(testid(d, "stripe-onboarding")), "Continue") {
		t.Fatalf("after return: %q", finText(testid(d, "method-why")))
	}
	// Stripe enabled the account: ready.
	var acct string
	if err := e.DB.Get(&acct, `SELECT stripe_account_id FROM partner_payout_methods WHERE partner_id = $1`, partnerID); err != nil {
		t.Fatal(err)
	}
	proxy.Respond("/v1/accounts/"+acct, stripetestReply(`{"id": "`+acct+`", "object": "account", "payouts_enabled": true, "details_submitted": true}`))
	r = ps.get(page + "/stripe/return")
	if !strings.Contains(r.Header.Get("Location"), "done=stripe_ready") {
		t.Fatalf("return once enabled: %q", r.Header.Get("Location"))
	}

	// The partner's payouts, with status and reference.
	var slug string
	if err := e.DB.Get(&slug, `SELECT slug FROM partners WHERE id = $1`, partnerID); err != nil {
		t.Fatal(err)
	}
	var programID string
	if err := e.DB.Get(&programID, `SELECT program_id FROM partners WHERE id = $1`, partnerID); err != nil {
		t.Fatal(err)
	}
	e.reward(t, programID, nil)
	e.earn(t, setup{ProgramID: programID, PartnerID: partnerID, Slug: slug}, 50000, "USD")
	m := e.call("POST", "/api/payouts", e.Key, map[string]any{"programId": programID}).must(t, http.StatusCreated).Map(t)
	id := str(m["data"].([]any)[0].(map[string]any), "id")
	e.call("POST", "/api/payouts/"+id+"/send", e.Key, nil).must(t, http.StatusOK)
	d = ps.page(page)
	row := testid(d, "payout-row")
	if row.Length() != 1 || !strings.Contains(finText(row), "Stripe") || !strings.Contains(finText(row), "paid") ||
		!strings.HasPrefix(finText(row.Find(`[data-testid="payout-reference"]`)), "tr_") {
		t.Fatalf("portal payout row %q", finText(row))
	}
}

func stripetestReply(body string) stripetest.Reply {
	return stripetest.Reply{Status: http.StatusOK, Body: body}
}
