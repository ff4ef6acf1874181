package web_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// ---- helpers of the finance tests (prefixed fin) ----

// finClick visits /r/{slug} as a browser and returns the click id the
// redirect hands to the merchant's site.
func (e *env) finClick(t testing.TB, slug string) string {
	t.Helper()
	r := e.callWith("GET", "/r/"+slug, "", nil, http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}})
	if r.Status != http.StatusFound {
		t.Fatalf("GET /r/%s: %d", slug, r.Status)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil || loc.Query().Get("pref_cid") == "" {
		t.Fatalf("redirect without pref_cid: %q", r.Header.Get("Location"))
	}
	return loc.Query().Get("pref_cid")
}

// finSale posts a sale through the API on clickID for customer and returns
// the sale's event id and its commission id ("" when none).
func (e *env) finSale(t testing.TB, key, clickID, customer string, amount int64, extra map[string]any) (string, string) {
	t.Helper()
	res := e.sale(t, key, merge(map[string]any{"customerExternalId": customer, "amountCents": amount, "clickId": clickID}, extra))
	return str(res, "eventId"), str(obj(res, "commission"), "id")
}

// finStatus moves a commission through the API.
func (e *env) finStatus(t testing.TB, key, id string, statuses ...string) {
	t.Helper()
	for _, st := range statuses {
		body := map[string]any{"status": st}
		if st == "clawed_back" {
			body["reason"] = "test"
		}
		e.call("PATCH", "/api/commissions/"+id, key, body).must(t, http.StatusOK)
	}
}

// finCommission is a commission of s's partner for a new customer, moved to statuses.
func (e *env) finCommission(t testing.TB, s setup, amount int64, statuses ...string) string {
	t.Helper()
	_, id := e.finSale(t, e.Key, s.ClickID, uniq("cust"), amount, nil)
	if id == "" {
		t.Fatal("sale without commission")
	}
	e.finStatus(t, e.Key, id, statuses...)
	return id
}

// finFragment parses an HTMX reply that holds table rows (and out-of-band
// templates), which an HTML parser drops outside a table.
func finFragment(t testing.TB, r reply) *goquery.Document {
	t.Helper()
	body := append(append([]byte("<table><tbody>"), r.Body...), []byte("</tbody></table>")...)
	d, err := goquery.NewDocumentFromReader(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func finText(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// finRowIDs lists the data-id of the elements with data-testid id.
func finRowIDs(d *goquery.Document, id string) []string {
	var out []string
	testid(d, id).Each(func(_ int, s *goquery.Selection) { out = append(out, s.AttrOr("data-id", "")) })
	return out
}

func finContains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// finFinance adds a finance user to e's workspace and signs in as them.
func (e *env) finFinance(t testing.TB) *session {
	t.Helper()
	hash, _ := accounts.HashPassword("finance password")
	email := uniq("fin") + "@example.com"
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID, Email: email, PasswordHash: hash, Role: "finance"}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return e.signInAs(t, email, "finance password")
}

// ---- sales ----

func TestDashFinanceSalesListFiltersAndPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	other := e.partner(t, s.ProgramID, nil)
	otherClick := e.finClick(t, str(other, "slug"))
	p2 := e.program(t, map[string]any{"currency": "EUR"})
	e.reward(t, str(p2, "id"), nil)
	p2partner := e.partner(t, str(p2, "id"), nil)
	p2Click := e.finClick(t, str(p2partner, "slug"))

	saleA, _ := e.finSale(t, e.Key, e.finClick(t, s.Slug), "alice", 12345, map[string]any{"externalId": "inv-alice"})
	e.finSale(t, e.Key, otherClick, "bob", 5000, nil)
	e.finSale(t, e.Key, p2Click, "carol", 7000, map[string]any{"currency": "EUR"})

	sess := e.signIn(t)
	d := sess.page("/sales")
	if got := testid(d, "page-title").Text(); got != "Sales" {
		t.Fatalf("title %q", got)
	}
	if n := testid(d, "sale-row").Length(); n != 3 {
		t.Fatalf("%d sales listed, want 3", n)
	}
	first := testid(d, "sale-row").Last() // oldest last: alice's sale
	if first.AttrOr("data-id", "") != saleA || finText(first.Find(`[data-testid="sale-amount"]`)) != "$123.45" ||
		finText(first.Find(`[data-testid="sale-customer"]`)) != "alice" || finText(first.Find(`[data-testid="sale-external-id"]`)) != "inv-alice" {
		t.Fatalf("alice's row: %q", finText(first))
	}
	if testid(d, "sale-row").First().Find(`[data-testid="sale-amount"]`).Text() != "€70.00" {
		t.Fatal("the newest sale is not first")
	}

	today := time.Now().UTC().Format(time.DateOnly)
	tomorrow := time.Now().UTC().AddDate(0, 0, 1).Format(time.DateOnly)
	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	for _, tc := range []struct {
		query string
		want  int
	}{
		{"programId=" + s.ProgramID, 2},
		{"programId=" + str(p2, "id"), 1},
		{"partnerId=" + s.PartnerID, 1},
		{"partner=" + url.QueryEscape(str(other, "email")), 1},
		{"partner=" + str(p2partner, "slug"), 1},
		{"customer=bob", 1},
		{"customer=nobody", 0},
		{"from=" + today + "&to=" + today, 3},
		{"from=" + tomorrow, 0},
		{"to=" + yesterday, 0},
		{"from=" + yesterday + "&programId=" + s.ProgramID + "&customer=alice", 1},
	} {
		d := sess.page("/sales?" + tc.query)
		if n := testid(d, "sale-row").Length(); n != tc.want {
			t.Errorf("/sales?%s lists %d sales, want %d", tc.query, n, tc.want)
		}
		if tc.want == 0 && testid(d, "empty").Length() != 1 {
			t.Errorf("/sales?%s: no empty state", tc.query)
		}
	}

	// Bad filters re-render the form with the error and what was typed.
	r := sess.get("/sales?from=31.12.2025&partner=nobody%40example.com")
	if r.Status != http.StatusBadRequest {
		t.Fatalf("bad filter: status %d", r.Status)
	}
	d = r.Doc(t)
	if d.Find(`#from`).AttrOr("value", "") != "31.12.2025" || d.Find(`#partner`).AttrOr("value", "") != "nobody@example.com" {
		t.Fatal("the filter form lost what was typed")
	}
	if !strings.Contains(d.Find(".field-error").Text(), "YYYY-MM-DD") || !strings.Contains(d.Find(".field-error").Text(), "No partner") {
		t.Fatalf("field errors: %q", d.Find(".field-error").Text())
	}
	if r := sess.get("/sales?from=" + today + "&to=" + yesterday); r.Status != http.StatusBadRequest {
		t.Fatalf("from after to: status %d", r.Status)
	}

	// Keyset pagination: 50 a page, newest first, the filter kept.
	for i := range 50 {
		e.finSale(t, e.Key, otherClick, "bob", int64(100+i), nil)
	}
	d = sess.page("/sales?programId=" + s.ProgramID)
	page1 := finRowIDs(d, "sale-row")
	next, ok := testid(d, "next-page").Attr("href")
	if len(page1) != 50 || !ok {
		t.Fatalf("first page: %d rows, next link %v", len(page1), ok)
	}
	if !strings.Contains(next, "programId="+s.ProgramID) || !strings.Contains(next, "cursor=") {
		t.Fatalf("next link %q lost the filter", next)
	}
	d = sess.page(next)
	page2 := finRowIDs(d, "sale-row")
	if len(page2) != 2 || testid(d, "next-page").Length() != 0 {
		t.Fatalf("second page: %d rows, next link %d", len(page2), testid(d, "next-page").Length())
	}
	for _, id := range page2 {
		if finContains(page1, id) {
			t.Fatalf("sale %s on both pages", id)
		}
	}
	if page2[1] != saleA {
		t.Fatalf("the oldest sale is not last: %v", page2)
	}
	if r := sess.get("/sales?cursor=bogus"); r.Status != http.StatusBadRequest {
		t.Fatalf("bad cursor: status %d", r.Status)
	}
}

func TestDashFinanceSaleDetail(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	click := e.finClick(t, s.Slug)
	saleID, cmID := e.finSale(t, e.Key, click, "dora", 20000,
		map[string]any{"externalId": "inv-7", "metadata": map[string]any{"plan": "pro", "seats": 3}})
	e.finStatus(t, e.Key, cmID, "approved", "paid")

	sess := e.signIn(t)
	d := sess.page("/sales/" + saleID)
	if got := finText(testid(d, "sale-detail").Find(`[data-testid="sale-amount"]`)); got != "$200.00" {
		t.Fatalf("amount %q", got)
	}
	if got := finText(testid(d, "sale-click")); got != click {
		t.Fatalf("click %q, want %q", got, click)
	}
	if got := finText(testid(d, "sale-customer")); got != "dora" {
		t.Fatalf("customer %q", got)
	}
	meta := testid(d, "sale-metadata").Find("pre").Text()
	if meta != `{"plan":"pro","seats":3}` {
		t.Fatalf("metadata %q, want compact JSON", meta)
	}
	rows := testid(d, "sale-commission")
	if rows.Length() != 1 || rows.AttrOr("data-id", "") != cmID || finText(rows.Find(`[data-testid="status"]`)) != "paid" {
		t.Fatalf("commissions of the sale: %q", finText(rows))
	}
	if href, _ := rows.Find("a").Attr("href"); href != "/commissions/"+cmID {
		t.Fatalf("commission link %q", href)
	}

	// After a clawback of the paid commission its adjustment is listed too, in red.
	sess.htmx("POST", "/commissions/"+cmID+"/clawback", url.Values{"reason": {"refund"}}).must(t, http.StatusOK)
	d = sess.page("/sales/" + saleID)
	rows = testid(d, "sale-commission")
	if rows.Length() != 2 || rows.Last().Find(`[data-testid="adjustment"]`).Length() != 1 ||
		finText(rows.Last().Find(`[data-testid="amount"]`)) != "-$20.00" {
		t.Fatalf("commissions after clawback: %q", finText(rows))
	}

	if r := sess.get("/sales/sale_nope"); r.Status != http.StatusNotFound {
		t.Fatalf("unknown sale: %d", r.Status)
	}
}

// ---- commissions ----

func TestDashFinanceCommissionsListFilters(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	other := e.partner(t, s.ProgramID, nil)
	otherClick := e.finClick(t, str(other, "slug"))
	pending := e.finCommission(t, s, 10000)
	approved := e.finCommission(t, s, 10000, "approved")
	_, otherCm := e.finSale(t, e.Key, otherClick, "zed", 10000, nil)

	sess := e.signIn(t)
	d := sess.page("/commissions")
	if ids := finRowIDs(d, "commission-row"); len(ids) != 3 || ids[0] != otherCm {
		t.Fatalf("list %v", ids)
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"status=pending", []string{otherCm, pending}},
		{"status=approved", []string{approved}},
		{"partnerId=" + s.PartnerID, []string{approved, pending}},
		{"partner=" + url.QueryEscape(str(other, "email")), []string{otherCm}},
		{"partnerId=" + s.PartnerID + "&status=pending", []string{pending}},
		{"programId=" + s.ProgramID + "&customer=zed", []string{otherCm}},
		{"status=paid", nil},
	} {
		d := sess.page("/commissions?" + tc.query)
		if got := finRowIDs(d, "commission-row"); strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("/commissions?%s lists %v, want %v", tc.query, got, tc.want)
		}
	}
	if r := sess.get("/commissions?status=bogus"); r.Status != http.StatusBadRequest {
		t.Fatalf("unknown status: %d", r.Status)
	}
	// A row offers what its status allows.
	d = sess.page("/commissions")
	row := d.Find(`[data-testid="commission-row"][data-id="` + approved + `"]`)
	if row.Find(`[data-testid="pay"]`).Length() != 1 || row.Find(`[data-testid="approve"]`).Length() != 0 ||
		row.Find(`[data-testid="clawback"]`).Length() != 1 || row.Find(`input[name="ids"][form="bulk-form"]`).Length() != 1 {
		t.Fatalf("actions of an approved row: %q", finText(row))
	}

	// Pagination.
	for range 50 {
		e.finCommission(t, s, 1000)
	}
	d = sess.page("/commissions?status=pending")
	page1 := finRowIDs(d, "commission-row")
	next, _ := testid(d, "next-page").Attr("href")
	if len(page1) != 50 || !strings.Contains(next, "status=pending") {
		t.Fatalf("first page %d rows, next %q", len(page1), next)
	}
	page2 := finRowIDs(sess.page(next), "commission-row")
	if len(page2) != 2 || finContains(page1, page2[0]) || page2[1] != pending {
		t.Fatalf("second page %v", page2)
	}
}

func TestDashFinanceCommissionRowActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	id := e.finCommission(t, s, 10000) // $10.00, pending
	sess := e.finFinance(t)            // finance staff may do all of this
	sess.page("/commissions")

	// Approve: the row comes back approved, with a message out of band.
	r := sess.htmx("POST", "/commissions/"+id+"/approve", nil).must(t, http.StatusOK)
	d := finFragment(t, r)
	row := testid(d, "commission-row")
	if row.AttrOr("id", "") != "commission-"+id || row.AttrOr("data-status", "") != "approved" ||
		finText(row.Find(`[data-testid="status"]`)) != "approved" {
		t.Fatalf("row after approve: %s", r.Body)
	}
	oob := d.Find(`template [hx-swap-oob]`)
	// It says whose commission and how much, not an id.
	if oob.AttrOr("id", "") != "flash" || finText(oob.Find(`[data-testid="flash"]`)) != "Approved "+str(s.Partner, "name")+"’s $10.00 commission." {
		t.Fatalf("no out-of-band flash: %s", r.Body)
	}

	// Approving again is refused with the reason, not a 500.
	r = sess.htmx("POST", "/commissions/"+id+"/approve", nil)
	if r.Status != http.StatusConflict {
		t.Fatalf("approve twice: %d", r.Status)
	}
	d = finFragment(t, r)
	if got := finText(d.Find(`[data-testid="flash-error"]`)); got != "An approved commission cannot become approved." {
		t.Fatalf("refusal message %q", got)
	}
	if testid(d, "commission-row").AttrOr("data-status", "") != "approved" {
		t.Fatal("the refused row is not shown as it is")
	}

	// Mark paid.
	r = sess.htmx("POST", "/commissions/"+id+"/pay", nil).must(t, http.StatusOK)
	if st := testid(finFragment(t, r), "commission-row").AttrOr("data-status", ""); st != "paid" {
		t.Fatalf("status after pay: %q", st)
	}
	r = sess.htmx("POST", "/commissions/"+id+"/approve", nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "A paid commission cannot become approved.") {
		t.Fatalf("approve a paid commission: %d %s", r.Status, r.Body)
	}

	// Claw back opens an inline form; without a reason: 422 and the form again.
	r = sess.htmx("GET", "/commissions/"+id+"/clawback", nil).must(t, http.StatusOK)
	d = finFragment(t, r)
	if testid(d, "clawback-form").Length() != 1 || !strings.Contains(finText(d.Selection), "negative adjustment") {
		t.Fatalf("clawback form: %s", r.Body)
	}
	r = sess.htmx("POST", "/commissions/"+id+"/clawback", url.Values{"reason": {"   "}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("clawback without reason: %d", r.Status)
	}
	d = finFragment(t, r)
	if testid(d, "clawback-form").Length() != 1 || !strings.Contains(testid(d, "reason-error").Text(), "reason") {
		t.Fatalf("no inline error: %s", r.Body)
	}
	if n := e.count(t, `SELECT count(*) FROM commissions WHERE adjusts_id = $1`, id); n != 0 {
		t.Fatal("a clawback without reason changed something")
	}

	// With a reason: the paid row stays, an adjustment nets against the next payout.
	r = sess.htmx("POST", "/commissions/"+id+"/clawback", url.Values{"reason": {"customer refunded"}}).must(t, http.StatusOK)
	d = finFragment(t, r)
	row = testid(d, "commission-row")
	if row.AttrOr("data-status", "") != "paid" || row.Find(`[data-testid="clawed-back-after-payout"]`).Length() != 1 ||
		row.Find(`[data-testid="clawback"]`).Length() != 0 {
		t.Fatalf("row after clawback of a paid commission: %s", r.Body)
	}
	if msg := finText(d.Find(`[data-testid="flash"]`)); !strings.Contains(msg, "-$10.00") || !strings.Contains(msg, "next payout") {
		t.Fatalf("flash %q", msg)
	}
	var adjID string
	if err := e.DB.Get(&adjID, `SELECT id FROM commissions WHERE adjusts_id = $1`, id); err != nil {
		t.Fatal(err)
	}

	// The commission's page: history with actor and reasons, and the adjustment.
	d = sess.page("/commissions/" + id)
	var hist []string
	testid(d, "history-row").Each(func(_ int, s *goquery.Selection) { hist = append(hist, finText(s)) })
	if len(hist) != 4 {
		t.Fatalf("history %q", hist)
	}
	last := testid(d, "history-row").Last()
	wantReason := "clawed back after payout: adjustment " + adjID + " of -$10.00 nets against the next payout; reason: customer refunded"
	if finText(last.Find(`[data-testid="history-reason"]`)) != wantReason || finText(last.Find(`[data-testid="history-from"]`)) != "paid" ||
		finText(last.Find(`[data-testid="history-to"]`)) != "paid" {
		t.Fatalf("last history entry %q", finText(last))
	}
	email := testid(d, "user-email").Text()
	if got := finText(testid(d, "history-row").Eq(1).Find(`[data-testid="history-actor"]`)); got != email {
		t.Fatalf("actor %q, want %q", got, email)
	}
	adjRow := testid(d, "adjustment-row")
	if adjRow.AttrOr("data-id", "") != adjID || finText(adjRow.Find(`[data-testid="amount"]`)) != "-$10.00" {
		t.Fatalf("adjustments %q", finText(adjRow))
	}
	d = sess.page("/commissions/" + adjID)
	if !strings.Contains(testid(d, "adjusts").Text(), id) ||
		finText(testid(d, "history-row").Find(`[data-testid="history-reason"]`)) != "created: clawback of paid commission "+id+"; reason: customer refunded" {
		t.Fatalf("adjustment page: %q", finText(testid(d, "commission-detail")))
	}
	// In the list the adjustment is marked as such.
	d = sess.page("/commissions")
	if testid(d, "commission-row").First().Find(`[data-testid="adjustment"]`).Length() != 1 {
		t.Fatal("the adjustment is not marked in the list")
	}
	// A second clawback is refused clearly.
	r = sess.htmx("POST", "/commissions/"+id+"/clawback", url.Values{"reason": {"again"}})
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "already clawed back") {
		t.Fatalf("second clawback: %d %s", r.Status, r.Body)
	}

	// Claw back a pending commission.
	p := e.finCommission(t, s, 5000)
	r = sess.htmx("POST", "/commissions/"+p+"/clawback", url.Values{"reason": {"fraud"}}).must(t, http.StatusOK)
	if st := testid(finFragment(t, r), "commission-row").AttrOr("data-status", ""); st != "clawed_back" {
		t.Fatalf("status after clawback: %q", st)
	}
	if r := sess.htmx("POST", "/commissions/cm_nope/approve", nil); r.Status != http.StatusNotFound {
		t.Fatalf("unknown commission: %d", r.Status)
	}
}

// A boosted form (hx-boost) is a page navigation, not a fragment request:
// the claw-back posted with HX-Request and HX-Boosted is answered with a
// redirect to the commission's page (or the whole page for a refusal), never
// with the list row a plain HTMX request gets.
func TestDashFinanceBoostedClawBackRedirects(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	id := e.finCommission(t, s, 10000)
	sess := e.finFinance(t)
	sess.page("/commissions/" + id)
	boosted := func(method, path string, form url.Values) reply {
		t.Helper()
		h := http.Header{"HX-Request": {"true"}, "HX-Boosted": {"true"}, "X-CSRF-Token": {sess.csrf}}
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
			h.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		return sess.do(method, path, body, h)
	}
	isRow := func(r reply) bool {
		return bytes.Contains(r.Body, []byte(`data-testid="commission-row"`)) && !bytes.Contains(r.Body, []byte("<html"))
	}

	// Opening the inline claw-back form by a boosted link goes to the page.
	r := boosted(http.MethodGet, "/commissions/"+id+"/clawback", nil)
	if r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") != "/commissions/"+id || isRow(r) {
		t.Fatalf("boosted claw-back form: %d HX-Redirect %q %s", r.Status, r.Header.Get("HX-Redirect"), r.Body)
	}
	// Without a reason: 422 with the whole commission page, the error on it.
	r = boosted(http.MethodPost, "/commissions/"+id+"/clawback", url.Values{"reason": {""}})
	if r.Status != http.StatusUnprocessableEntity || isRow(r) || !bytes.Contains(r.Body, []byte("<html")) ||
		r.Doc(t).Find(`[data-testid="reason-error"]`).Length() != 1 {
		t.Fatalf("boosted claw-back without reason: %d %s", r.Status, r.Body)
	}
	// With a reason: a redirect to the commission's page with the confirmation.
	r = boosted(http.MethodPost, "/commissions/"+id+"/clawback", url.Values{"reason": {"customer refunded"}})
	if r.Status != http.StatusNoContent || r.Header.Get("HX-Redirect") != "/commissions/"+id+"?done=clawed_back" || isRow(r) {
		t.Fatalf("boosted claw-back: %d HX-Redirect %q %s", r.Status, r.Header.Get("HX-Redirect"), r.Body)
	}
	d := sess.page(r.Header.Get("HX-Redirect"))
	if got := finText(testid(d, "flash")); got != "Commission clawed back." {
		t.Fatalf("confirmation after the boosted claw-back: %q", got)
	}
}

func TestDashFinanceCommissionPageForms(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	id := e.finCommission(t, s, 10000)
	sess := e.signIn(t)
	d := sess.page("/commissions/" + id)
	if testid(d, "commission-actions").Find(`[data-testid="approve"]`).Length() != 1 {
		t.Fatal("no approve button on a pending commission")
	}
	// A plain form post redirects back with a confirmation.
	r := sess.post("/commissions/"+id+"/approve", nil)
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/commissions/"+id+"?done=approved" {
		t.Fatalf("approve: %d %q", r.Status, r.Header.Get("Location"))
	}
	d = sess.page(r.Header.Get("Location"))
	if !strings.Contains(testid(d, "flash").Text(), "approved") {
		t.Fatal("no confirmation after approve")
	}
	// Without a reason: 422, the form again with the error.
	r = sess.post("/commissions/"+id+"/clawback", url.Values{"reason": {""}})
	if r.Status != http.StatusUnprocessableEntity || r.Doc(t).Find(`[data-testid="reason-error"]`).Length() != 1 {
		t.Fatalf("clawback without reason: %d", r.Status)
	}
	// An invalid transition: 409 with the reason on the page.
	sess.post("/commissions/"+id+"/pay", nil)
	r = sess.post("/commissions/"+id+"/approve", nil)
	if r.Status != http.StatusConflict || !strings.Contains(testid(r.Doc(t), "flash-error").Text(), "A paid commission cannot become approved.") {
		t.Fatalf("invalid transition: %d %s", r.Status, r.Body)
	}
}

func TestDashFinanceBulkActions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	p1 := e.finCommission(t, s, 10000)
	p2 := e.finCommission(t, s, 10000)
	paid := e.finCommission(t, s, 10000, "approved", "paid")
	sess := e.signIn(t)
	sess.page("/commissions")

	r := sess.htmx("POST", "/commissions/bulk", url.Values{"action": {"approve"}, "ids": {p1, p2, paid}, "status": {"pending"}}).must(t, http.StatusOK)
	d := r.Doc(t)
	if got := finText(testid(d, "flash")); got != "2 approved; 1 refused: a paid commission cannot become approved." {
		t.Fatalf("bulk summary %q", got)
	}
	// The list comes back with the same filter: nothing pending is left.
	if n := testid(d, "commission-row").Length(); n != 0 {
		t.Fatalf("%d pending rows after approving them", n)
	}
	for _, id := range []string{p1, p2} {
		if st := e.count(t, `SELECT count(*) FROM commissions WHERE id = $1 AND status = 'approved'`, id); st != 1 {
			t.Fatalf("%s not approved", id)
		}
	}

	// Claw back needs one reason for all: 422 and nothing changes without it.
	r = sess.htmx("POST", "/commissions/bulk", url.Values{"action": {"clawback"}, "ids": {p1, paid}})
	if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "bulk-reason-error").Length() != 1 {
		t.Fatalf("bulk clawback without reason: %d", r.Status)
	}
	r = sess.htmx("POST", "/commissions/bulk", url.Values{"action": {"clawback"}, "ids": {p1, paid}, "reason": {"duplicate order"}}).must(t, http.StatusOK)
	if got := finText(testid(r.Doc(t), "flash")); !strings.HasPrefix(got, "2 clawed back (1 already paid") {
		t.Fatalf("bulk clawback summary %q", got)
	}
	if n := e.count(t, `SELECT count(*) FROM commission_history WHERE commission_id = $1 AND reason = 'duplicate order' AND to_status = 'clawed_back'`, p1); n != 1 {
		t.Fatal("no history with the bulk reason")
	}
	if n := e.count(t, `SELECT count(*) FROM commissions WHERE adjusts_id = $1`, paid); n != 1 {
		t.Fatal("no adjustment for the paid commission")
	}

	// Mark paid with a mix of refusals, and nothing selected.
	r = sess.htmx("POST", "/commissions/bulk", url.Values{"action": {"pay"}, "ids": {p2, p1, "cm_nope"}}).must(t, http.StatusOK)
	got := finText(testid(r.Doc(t), "flash"))
	if !strings.HasPrefix(got, "1 marked paid; 2 refused: ") || !strings.Contains(got, "a clawed back commission cannot become paid (1)") ||
		!strings.Contains(got, "not found in this workspace (1)") {
		t.Fatalf("bulk pay summary %q", got)
	}
	if r := sess.htmx("POST", "/commissions/bulk", url.Values{"action": {"approve"}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bulk without selection: %d", r.Status)
	}
	if r := sess.htmx("POST", "/commissions/bulk", url.Values{"action": {"delete"}, "ids": {p2}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bulk with an unknown action: %d", r.Status)
	}
}

// ---- payouts ----

func TestDashFinancePayoutFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	// A commission paid earlier and then clawed back: -$10.00 carried into the next payout.
	old := e.finCommission(t, s, 10000, "approved", "paid")
	sess := e.signIn(t)
	sess.htmx("POST", "/commissions/"+old+"/clawback", url.Values{"reason": {"chargeback"}}).must(t, http.StatusOK)

	// Negative balance: shown, explained, no button.
	d := sess.page("/payouts")
	row := testid(d, "balance-row")
	if row.Length() != 1 || finText(row.Find(`[data-testid="balance"]`)) != "-$10.00" ||
		!strings.Contains(testid(d, "carries-forward").Text(), "carries forward") || testid(d, "create-payout").Length() != 0 {
		t.Fatalf("negative balance row: %q", finText(row))
	}
	r := sess.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "flash-error").Text(), "-$10.00") {
		t.Fatalf("payout of a negative balance: %d %s", r.Status, testid(r.Doc(t), "flash-error").Text())
	}

	a1 := e.finCommission(t, s, 30000, "approved") // +$30.00
	a2 := e.finCommission(t, s, 5000, "approved")  // +$5.00
	pending := e.finCommission(t, s, 7000)         // not approved: not in the balance
	d = sess.page("/payouts")
	row = testid(d, "balance-row")
	if finText(row.Find(`[data-testid="balance"]`)) != "$25.00" || finText(row.Find(`[data-testid="balance-adjustments"]`)) != "-$10.00" ||
		testid(d, "create-payout").Length() != 1 {
		t.Fatalf("balance row: %q", finText(row))
	}

	r = sess.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/payouts/po_") {
		t.Fatalf("create payout: %d %q", r.Status, r.Header.Get("Location"))
	}
	payoutPath := strings.Split(r.Header.Get("Location"), "?")[0]
	payoutID := strings.TrimPrefix(payoutPath, "/payouts/")
	d = sess.page(r.Header.Get("Location"))
	if finText(testid(d, "payout-detail").Find(`[data-testid="payout-amount"]`)) != "$25.00" || testid(d, "flash").Length() != 1 {
		t.Fatalf("payout page: %q", finText(testid(d, "payout-detail")))
	}
	in := finRowIDs(d, "payout-commission")
	var adjID string
	if err := e.DB.Get(&adjID, `SELECT id FROM commissions WHERE adjusts_id = $1`, old); err != nil {
		t.Fatal(err)
	}
	if len(in) != 3 || !finContains(in, a1) || !finContains(in, a2) || !finContains(in, adjID) || finContains(in, pending) {
		t.Fatalf("commissions in the payout %v", in)
	}
	if d := sess.page("/payouts"); testid(d, "balance-row").Length() != 0 || testid(d, "payout-row").Length() != 1 {
		t.Fatal("the balance did not move into the payout")
	}
	// In the commission list, a commission of a pending payout cannot be paid by hand.
	r = sess.htmx("POST", "/commissions/"+a1+"/pay", nil)
	if r.Status != http.StatusConflict || !strings.Contains(string(r.Body), "mark that payout paid instead") {
		t.Fatalf("pay a commission of a pending payout: %d %s", r.Status, r.Body)
	}

	// Mark paid: a reference is required.
	r = sess.post(payoutPath+"/paid", url.Values{"reference": {" "}})
	if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "reference-error").Length() != 1 {
		t.Fatalf("mark paid without reference: %d", r.Status)
	}
	r = sess.post(payoutPath+"/paid", url.Values{"reference": {"=SEPA-0042"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("mark paid: %d %s", r.Status, r.Body)
	}
	d = sess.page(r.Header.Get("Location"))
	if finText(testid(d, "payout-detail").Find(`[data-testid="status"]`)) != "paid" || finText(testid(d, "payout-reference")) != "=SEPA-0042" {
		t.Fatalf("paid payout: %q", finText(testid(d, "payout-detail")))
	}
	for _, id := range []string{a1, a2, adjID} {
		if n := e.count(t, `SELECT count(*) FROM commissions WHERE id = $1 AND status = 'paid'`, id); n != 1 {
			t.Fatalf("commission %s not paid", id)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM commission_history WHERE commission_id = $1 AND to_status = 'paid' AND actor = $2 AND reason LIKE '%SEPA-0042%'`,
		a1, "user:"+e.WS.Owner.Email); n != 1 {
		t.Fatal("no history of the payout's payment")
	}
	if r := sess.post(payoutPath+"/paid", url.Values{"reference": {"again"}}); r.Status != http.StatusConflict {
		t.Fatalf("mark paid twice: %d", r.Status)
	}

	// CSV of one payout and of the list.
	r = sess.get(payoutPath+"/export.csv").must(t, http.StatusOK)
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("csv headers %v", r.Header)
	}
	recs, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
	if err != nil || len(recs) != 2 {
		t.Fatalf("csv %v %q", err, r.Body)
	}
	want := []string{"payout_id", "partner_name", "partner_email", "currency", "amount", "amount_minor", "status", "method", "recipient", "reference", "created_at", "paid_at"}
	if strings.Join(recs[0], ",") != strings.Join(want, ",") {
		t.Fatalf("csv header %v", recs[0])
	}
	rec := recs[1]
	if rec[0] != payoutID || rec[1] != str(s.Partner, "name") || rec[2] != str(s.Partner, "email") || rec[3] != "USD" ||
		rec[4] != "25.00" || rec[5] != "2500" || rec[6] != "paid" || rec[7] != "manual" || rec[9] != "'=SEPA-0042" || rec[10] == "" || rec[11] == "" {
		t.Fatalf("csv row %v", rec)
	}
	r = sess.get("/payouts/export.csv?status=paid").must(t, http.StatusOK)
	if recs, _ := csv.NewReader(bytes.NewReader(r.Body)).ReadAll(); len(recs) != 2 || recs[1][0] != payoutID {
		t.Fatalf("paid payouts csv %q", r.Body)
	}
	r = sess.get("/payouts/export.csv?status=pending").must(t, http.StatusOK)
	if recs, _ := csv.NewReader(bytes.NewReader(r.Body)).ReadAll(); len(recs) != 1 {
		t.Fatalf("pending payouts csv %q", r.Body)
	}
	if r := sess.get("/payouts/export.csv?status=bogus"); r.Status != http.StatusBadRequest {
		t.Fatalf("bad status: %d", r.Status)
	}
	d = sess.page("/payouts?status=paid")
	if ids := finRowIDs(d, "payout-row"); len(ids) != 1 || ids[0] != payoutID {
		t.Fatalf("paid payouts %v", ids)
	}
	if n := testid(sess.page("/payouts?status=pending"), "payout-row").Length(); n != 0 {
		t.Fatalf("%d pending payouts", n)
	}
}

func TestDashFinancePayoutMinimumAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, map[string]any{"minPayoutCents": 5000})
	e.reward(t, str(p, "id"), nil)
	pa := e.partner(t, str(p, "id"), nil)
	s := setup{ProgramID: str(p, "id"), PartnerID: str(pa, "id"), Slug: str(pa, "slug"), Partner: pa}
	s.ClickID = e.finClick(t, s.Slug)
	e.finCommission(t, s, 30000, "approved") // $30.00 < $50.00

	sess := e.signIn(t)
	d := sess.page("/payouts")
	if !strings.Contains(testid(d, "carries-forward").Text(), "minimum payout of $50.00") || testid(d, "create-payout").Length() != 0 {
		t.Fatalf("below minimum: %q", finText(testid(d, "balance-row")))
	}
	r := sess.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "flash-error").Text(), "below the program's minimum payout") {
		t.Fatalf("payout below the minimum: %d", r.Status)
	}
	if r := sess.post("/payouts", url.Values{"partnerId": {"ptn_nope"}, "currency": {"USD"}}); r.Status != http.StatusNotFound {
		t.Fatalf("unknown partner: %d", r.Status)
	}

	c2 := e.finCommission(t, s, 20000, "approved") // $50.00 in all
	r = sess.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("payout at the minimum: %d", r.Status)
	}
	payoutPath := strings.Split(r.Header.Get("Location"), "?")[0]
	r = sess.post(payoutPath+"/cancel", nil)
	if r.Status != http.StatusSeeOther {
		t.Fatalf("cancel: %d", r.Status)
	}
	d = sess.page(r.Header.Get("Location"))
	if finText(testid(d, "payout-detail").Find(`[data-testid="status"]`)) != "canceled" || !strings.Contains(testid(d, "flash").Text(), "canceled") {
		t.Fatal("payout not shown canceled")
	}
	if d := sess.page("/payouts"); finText(testid(d, "balance-row").Find(`[data-testid="balance"]`)) != "$50.00" {
		t.Fatal("the commissions did not return to the balance")
	}
	// Now a commission can be clawed back again.
	sess.page("/commissions")
	sess.htmx("POST", "/commissions/"+c2+"/clawback", url.Values{"reason": {"refund"}}).must(t, http.StatusOK)
}

func TestDashFinanceConcurrentCreatePayout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	for range 3 {
		e.finCommission(t, s, 10000, "approved")
	}
	sess := e.signIn(t)
	sess.page("/payouts")
	form := url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}, "_csrf": {sess.csrf}}.Encode()
	const n = 8
	statuses := make([]int, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest("POST", e.URL+"/payouts", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := sess.client.Do(req)
			if err != nil {
				t.Errorf("post: %v", err)
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		}()
	}
	close(start)
	wg.Wait()
	created, refused := 0, 0
	for _, st := range statuses {
		switch st {
		case http.StatusSeeOther:
			created++
		case http.StatusUnprocessableEntity:
			refused++
		}
	}
	if created != 1 || refused != n-1 {
		t.Fatalf("statuses %v: want one payout and %d refusals", statuses, n-1)
	}
	if got := e.count(t, `SELECT count(*) FROM payouts WHERE workspace_id = $1`, e.WS.Workspace.ID); got != 1 {
		t.Fatalf("%d payouts", got)
	}
	if got := e.count(t, `SELECT count(*) FROM payouts WHERE workspace_id = $1 AND amount_cents = 3000`, e.WS.Workspace.ID); got != 1 {
		t.Fatal("the payout is not of the whole balance")
	}
}

// ---- isolation ----

func TestDashFinanceWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.setup(t)
	saleID, cm := e.finSale(t, e.Key, s.ClickID, "acme-customer", 10000, map[string]any{"externalId": "acme-order"})
	e.finStatus(t, e.Key, cm, "approved")
	acme := e.signIn(t)
	r := acme.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create payout: %d", r.Status)
	}
	payoutPath := strings.Split(r.Header.Get("Location"), "?")[0]

	other, _ := e.newWorkspace("Globex")
	globex := e.signInAs(t, other.Owner.Email, "correct horse battery")
	for _, path := range []string{"/sales/" + saleID, "/commissions/" + cm, "/commissions/" + cm + "/row", payoutPath, payoutPath + "/export.csv"} {
		if r := globex.get(path); r.Status != http.StatusNotFound {
			t.Errorf("GET %s from another workspace: %d", path, r.Status)
		}
	}
	if r := globex.htmx("GET", "/commissions/"+cm+"/clawback", nil); r.Status != http.StatusNotFound {
		t.Errorf("clawback form from another workspace: %d", r.Status)
	}
	for _, path := range []string{"/commissions/" + cm + "/approve", "/commissions/" + cm + "/pay"} {
		if r := globex.htmx("POST", path, nil); r.Status != http.StatusNotFound {
			t.Errorf("POST %s from another workspace: %d", path, r.Status)
		}
	}
	if r := globex.htmx("POST", "/commissions/"+cm+"/clawback", url.Values{"reason": {"x"}}); r.Status != http.StatusNotFound {
		t.Errorf("clawback from another workspace: %d", r.Status)
	}
	if r := globex.post(payoutPath+"/paid", url.Values{"reference": {"x"}}); r.Status != http.StatusNotFound {
		t.Errorf("mark paid from another workspace: %d", r.Status)
	}
	if r := globex.post(payoutPath+"/cancel", nil); r.Status != http.StatusNotFound {
		t.Errorf("cancel from another workspace: %d", r.Status)
	}
	if r := globex.post("/payouts", url.Values{"partnerId": {s.PartnerID}, "currency": {"USD"}}); r.Status != http.StatusNotFound {
		t.Errorf("payout for another workspace's partner: %d", r.Status)
	}
	r = globex.htmx("POST", "/commissions/bulk", url.Values{"action": {"approve"}, "ids": {cm}}).must(t, http.StatusOK)
	if got := finText(testid(r.Doc(t), "flash-error")); !strings.Contains(got, "0 approved; 1 refused: not found") {
		t.Errorf("bulk on another workspace's commission: %q", got)
	}
	// Lists never show them, whatever the filter.
	for _, path := range []string{"/sales", "/sales?partnerId=" + s.PartnerID, "/commissions", "/commissions?partnerId=" + s.PartnerID,
		"/payouts", "/payouts?status=pending"} {
		body := string(globex.get(path).Body)
		for _, leak := range []string{saleID, cm, strings.TrimPrefix(payoutPath, "/payouts/"), "acme-customer", str(s.Partner, "name")} {
			if strings.Contains(body, leak) {
				t.Errorf("%s shows %s of another workspace", path, leak)
			}
		}
	}
	if body := string(globex.get("/payouts/export.csv").Body); strings.Contains(body, "po_") {
		t.Errorf("another workspace's payout in the CSV: %q", body)
	}
	// Nothing changed in Acme.
	if n := e.count(t, `SELECT count(*) FROM commissions WHERE id = $1 AND status = 'approved'`, cm); n != 1 {
		t.Fatal("another workspace changed the commission")
	}
	if n := e.count(t, `SELECT count(*) FROM payouts WHERE status = 'pending'`); n != 1 {
		t.Fatal("another workspace changed the payout")
	}
}

// The partner filters of the sales and commission lists take a name as well
// as an email, slug or id: "maya" lists both Mayas' sales and offers them to
// pick one; the picker follows the typing over HTMX and keeps the other
// filters.
func TestDashPartnerFilterByName(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	pid := str(p, "id")
	e.reward(t, pid, nil)
	names := []string{"Maya Blogger", "Maya Smith", "Devon Ray", "100% Sure_Thing"}
	partners := map[string]map[string]any{}
	for i, n := range names {
		pa := e.partner(t, pid, map[string]any{"name": n, "email": fmt.Sprintf("p%d@example.com", i)})
		partners[n] = pa
		e.finSale(t, e.Key, e.finClick(t, str(pa, "slug")), fmt.Sprintf("cus-%d", i), 1000, nil)
	}
	sess := e.signIn(t)
	choices := func(d *goquery.Document) map[string]string {
		out := map[string]string{}
		testid(d, "partner-choice").Each(func(_ int, a *goquery.Selection) {
			out[strings.Fields(a.Text())[0]+" "+strings.Fields(a.Text())[1]] = a.AttrOr("href", "")
		})
		return out
	}

	d := sess.page("/sales?partner=maya&programId=" + pid)
	if n := testid(d, "sale-row").Length(); n != 2 {
		t.Fatalf("/sales?partner=maya lists %d sales, want the two Mayas'", n)
	}
	got := choices(d)
	if len(got) != 2 || !strings.Contains(testid(d, "partner-hint").Text(), "2 partners") {
		t.Fatalf("picker %v, hint %q", got, testid(d, "partner-hint").Text())
	}
	href := got["Maya Smith"]
	if u, err := url.Parse(href); err != nil || u.Path != "/sales" || u.Query().Get("partner") != str(partners["Maya Smith"], "id") ||
		u.Query().Get("programId") != pid {
		t.Fatalf("the choice of Maya Smith links to %q, want /sales with her id and the program kept", href)
	}
	d = sess.page(href)
	if n := testid(d, "sale-row").Length(); n != 1 || !strings.Contains(testid(d, "partner-hint").Text(), "Maya Smith") {
		t.Fatalf("after picking Maya Smith: %d rows, hint %q", n, testid(d, "partner-hint").Text())
	}

	// One name match filters at once; LIKE wildcards are plain characters.
	if d := sess.page("/commissions?partner=DEVON"); testid(d, "commission-row").Length() != 1 || len(choices(d)) != 0 {
		t.Fatalf("/commissions?partner=DEVON: %d rows, picker %v", testid(d, "commission-row").Length(), choices(d))
	}
	if d := sess.page("/sales?partner=" + url.QueryEscape("100%")); testid(d, "sale-row").Length() != 1 {
		t.Fatalf("a name with %% in it: %d rows", testid(d, "sale-row").Length())
	}
	if r := sess.get("/sales?partner=" + url.QueryEscape("%")); r.Status != http.StatusOK || testid(r.Doc(t), "sale-row").Length() != 1 {
		t.Fatalf("%% is a wildcard: %d rows", testid(r.Doc(t), "sale-row").Length())
	}
	if r := sess.get("/sales?partner=nobody"); r.Status != http.StatusBadRequest ||
		!strings.Contains(r.Doc(t).Find(".field-error").Text(), "No partner has this name") {
		t.Fatalf("no match: %d %q", r.Status, r.Doc(t).Find(".field-error").Text())
	}

	// The picker over HTMX: only the picker, links keeping the filters.
	r := sess.htmx(http.MethodGet, "/partners/suggest?"+url.Values{"list": {"/commissions"}, "partner": {"ma"},
		"status": {"pending"}}.Encode(), nil)
	got = choices(r.Doc(t))
	if r.Status != http.StatusOK || len(got) != 2 || testid(r.Doc(t), "page-title").Length() != 0 {
		t.Fatalf("suggestions for \"ma\": %d %v", r.Status, got)
	}
	if u, _ := url.Parse(got["Maya Blogger"]); u == nil || u.Path != "/commissions" || u.Query().Get("status") != "pending" ||
		u.Query().Get("partner") != str(partners["Maya Blogger"], "id") {
		t.Fatalf("suggestion link %q", got["Maya Blogger"])
	}
	if r := sess.htmx(http.MethodGet, "/partners/suggest?list=/evil&partner=ma", nil); r.Status != http.StatusBadRequest {
		t.Fatalf("suggestions for another list: %d", r.Status)
	}
}
