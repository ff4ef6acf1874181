package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// balanceRow is the ready-to-pay row of a partner in a currency.
func balanceRow(d *goquery.Document, partnerID, currency string) *goquery.Selection {
	return d.Find(`[data-testid="balance-row"][data-partner="` + partnerID + `"][data-currency="` + currency + `"]`)
}

// Issue 11, item 18: a program's minimum is in the program's currency. A
// $50.00 minimum was shown in a EUR balance's currency ("€50.00") and
// compared with it; now a balance in another currency says it has none,
// and is payable, and the export says so too.
func TestDashPayoutsMinimumInItsCurrency(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	e.call("PATCH", "/api/programs/"+s.ProgramID, e.Key, map[string]any{"minPayoutCents": 5000}).must(t, http.StatusOK)
	e.earn(t, s, 30000, "EUR") // €30.00
	e.earn(t, s, 30000, "USD") // $30.00
	sess := e.signIn(t)
	d := sess.page("/payouts")

	eur, usd := balanceRow(d, s.PartnerID, "EUR"), balanceRow(d, s.PartnerID, "USD")
	if got := finText(eur.Find(`[data-testid="minimum"]`)); got != "none in EUR" || strings.Contains(eur.Text(), "€50.00") {
		t.Fatalf("EUR balance minimum %q; row %q", got, finText(eur))
	}
	if eur.Find(`[data-testid="create-payout"]`).Length() != 1 {
		t.Fatal("a €30.00 balance is held back by a $50.00 minimum")
	}
	if got := finText(usd.Find(`[data-testid="minimum"]`)); got != "$50.00" {
		t.Fatalf("USD balance minimum %q", got)
	}
	if note := finText(usd.Find(`[data-testid="carries-forward"]`)); !strings.Contains(note, "$30.00") || !strings.Contains(note, "$50.00") {
		t.Fatalf("USD note %q", note)
	}
	if !strings.Contains(finText(eur.Find(`[data-testid="method-not-ready"]`)), "has not chosen a payout method") {
		t.Fatal("the page does not say the partner has no payout method")
	}

	ready := csvOf(t, sess.get("/payouts/ready.csv"))
	for i, cur := range column(t, ready, "currency") {
		minimum, minCur, reaches := column(t, ready, "minimum_payout")[i], column(t, ready, "minimum_currency")[i], column(t, ready, "reaches_minimum")[i]
		switch cur {
		case "EUR":
			if minimum != "" || minCur != "" || reaches != "true" {
				t.Errorf("EUR row: minimum %q %q reaches %q", minimum, minCur, reaches)
			}
		case "USD":
			if minimum != "50.00" || minCur != "USD" || reaches != "false" {
				t.Errorf("USD row: minimum %q %q reaches %q", minimum, minCur, reaches)
			}
		}
	}
	// The EUR payout can be made; the USD one is refused, saying why.
	r := sess.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"EUR"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("EUR payout: %d", r.Status)
	}
	r = sess.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(finText(testid(r.Doc(t), "flash-error")), "minimum payout of $50.00") {
		t.Fatalf("USD payout: %d %s", r.Status, finText(testid(r.Doc(t), "flash-error")))
	}
}

// Pay with Stripe from the dashboard; a batch of PayPal payouts marked paid
// with one reference.
func TestDashPayoutsPayAndBatch(t *testing.T) {
	t.Parallel()
	e, proxy := payoutEnv(t)
	s := e.setup(t)
	e.onboard(t, proxy, s.PartnerID)
	e.earn(t, s, 40000, "USD")
	sess := e.signIn(t)
	d := sess.page("/payouts")
	if got := finText(balanceRow(d, s.PartnerID, "USD").Find(`[data-testid="method"]`)); got != "Stripe" {
		t.Fatalf("method %q", got)
	}
	r := sess.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	payoutPath := strings.Split(r.Header.Get("Location"), "?")[0]
	d = sess.page(payoutPath)
	if testid(d, "pay").Length() != 1 || !strings.Contains(finText(testid(d, "pay")), "$40.00") {
		t.Fatal("no Pay button on a pending Stripe payout")
	}
	r = sess.post(payoutPath+"/send", nil)
	if r.Status != http.StatusSeeOther || !strings.Contains(r.Header.Get("Location"), "done=payout_sent") {
		t.Fatalf("pay: %d %s", r.Status, r.Header.Get("Location"))
	}
	d = sess.page(r.Header.Get("Location"))
	if finText(testid(d, "payout-detail").Find(`[data-testid="status"]`)) != "paid" || testid(d, "payout-attempt").Length() != 1 ||
		!strings.Contains(testid(d, "payout-attempts").Text(), "partli-payout-") || testid(d, "pay").Length() != 0 {
		t.Fatal("the paid payout's page does not show the transfer")
	}
	// Pay again (a double click after the page changed): refused, saying why.
	r = sess.post(payoutPath+"/send", nil)
	if r.Status != http.StatusConflict || !strings.Contains(finText(testid(r.Doc(t), "flash-error")), "paid already") {
		t.Fatalf("pay again: %d", r.Status)
	}
	if n := len(proxy.Requests("/v1/transfers")); n != 1 {
		t.Fatalf("%d transfers", n)
	}

	// Two PayPal partners, one batch.
	var payoutIDs []string
	for range 2 {
		p := e.partner(t, s.ProgramID, nil)
		ps := setup{ProgramID: s.ProgramID, PartnerID: str(p, "id"), Slug: str(p, "slug")}
		e.call("PUT", "/api/partners/"+ps.PartnerID+"/payout-method", e.Key, map[string]any{"type": "paypal", "email": ps.Slug + "@paypal.example.com"}).must(t, http.StatusOK)
		e.earn(t, ps, 20000, "USD")
	}
	r = sess.post("/payouts/program", url.Values{"programId": {s.ProgramID}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create the program's payouts: %d", r.Status)
	}
	d = sess.page("/payouts?status=pending")
	d.Find(`[data-testid="select-payout"]`).Each(func(_ int, sel *goquery.Selection) { payoutIDs = append(payoutIDs, sel.AttrOr("value", "")) })
	if len(payoutIDs) != 2 {
		t.Fatalf("%d pending payouts to select", len(payoutIDs))
	}
	file := csvOf(t, sess.get("/payouts/export.csv?format=paypal"))
	if len(file) != 2 || file[0][5] != "PAYPAL" {
		t.Fatalf("PayPal file %v", file)
	}
	if r := sess.post("/payouts/mark-paid", url.Values{"ids": payoutIDs}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("batch without a reference: %d", r.Status)
	}
	r = sess.post("/payouts/mark-paid", url.Values{"ids": payoutIDs, "reference": {"PAYPAL-BATCH-77"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("batch: %d %s", r.Status, r.Body)
	}
	for _, id := range payoutIDs {
		if got := e.call("GET", "/api/payouts/"+id, e.Key, nil).must(t, http.StatusOK).Map(t); str(got, "status") != "paid" || str(got, "reference") != "PAYPAL-BATCH-77" {
			t.Fatalf("payout %v", got)
		}
	}
	checkLedgerOf(t, e)
}

// Owners set a program's schedule; finance staff see it; bad days are refused.
func TestDashPayoutSchedule(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	owner := e.signIn(t)
	r := owner.post("/payouts/schedule", url.Values{"programId": {s.ProgramID}, "schedule": {"weekly"}, "day": {"3"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", r.Status)
	}
	d := owner.page("/payouts")
	if got := finText(d.Find(`[data-testid="program-schedule"][data-program="` + s.ProgramID + `"] [data-testid="schedule-label"]`)); got != "Weekly, on Wednesday" {
		t.Fatalf("label %q", got)
	}
	if p := e.call("GET", "/api/programs/"+s.ProgramID, e.Key, nil).must(t, http.StatusOK).Map(t); str(p, "payoutSchedule") != "weekly" || p["payoutDay"] != float64(3) {
		t.Fatalf("program %v", p)
	}
	r = owner.post("/payouts/schedule", url.Values{"programId": {s.ProgramID}, "schedule": {"monthly"}, "day": {"31"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(finText(testid(r.Doc(t), "flash-error")), "1 to 28") {
		t.Fatalf("day 31: %d", r.Status)
	}
	hash, _ := accounts.HashPassword("finance password")
	if err := e.Store.CreateUser(context.Background(), &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID,
		Email: "fin-schedule@example.com", PasswordHash: hash, Role: "finance"}); err != nil {
		t.Fatal(err)
	}
	fin := e.signInAs(t, "fin-schedule@example.com", "finance password")
	if testid(fin.page("/payouts"), "schedule-form").Length() != 0 {
		t.Fatal("finance staff are offered the schedule form")
	}
	if r := fin.post("/payouts/schedule", url.Values{"programId": {s.ProgramID}, "schedule": {"manual"}}); r.Status != http.StatusForbidden {
		t.Fatalf("finance changing a schedule: %d", r.Status)
	}
}

// The workspace's Stripe secret key for payouts, from the Stripe page:
// stored sealed, never shown again; owners only.
func TestDashStripeSecretKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	owner := e.signIn(t)
	if got := finText(testid(owner.page("/integrations/stripe"), "stripe-key-status")); got != "not set" {
		t.Fatalf("status %q", got)
	}
	r := owner.post("/integrations/stripe/secret-key", url.Values{"secretKey": {"pk_live_publishable"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(finText(testid(r.Doc(t), "stripe-payout-key")), "publishable key") {
		t.Fatalf("publishable key: %d", r.Status)
	}
	r = owner.post("/integrations/stripe/secret-key", url.Values{"secretKey": {"sk_live_abc123"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("save: %d", r.Status)
	}
	page := owner.get("/integrations/stripe?done=secret-key")
	if strings.Contains(string(page.Body), "sk_live_abc123") || finText(testid(page.Doc(t), "stripe-key-status")) != "set" {
		t.Fatal("the key is shown, or not set")
	}
	if got := e.opened(t, `SELECT secret_key FROM stripe_connections WHERE workspace_id = $1`, e.WS.Workspace.ID); got != "sk_live_abc123" {
		t.Fatalf("stored %q", got)
	}
	hash, _ := accounts.HashPassword("finance password")
	if err := e.Store.CreateUser(context.Background(), &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID,
		Email: "fin-key@example.com", PasswordHash: hash, Role: "finance"}); err != nil {
		t.Fatal(err)
	}
	fin := e.signInAs(t, "fin-key@example.com", "finance password")
	if r := fin.post("/integrations/stripe/secret-key", url.Values{"secretKey": {"sk_live_mine"}}); r.Status != http.StatusForbidden {
		t.Fatalf("finance: %d", r.Status)
	}
}
