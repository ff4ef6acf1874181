package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/jmoiron/sqlx"
)

// rollups reads a workspace's roll-ups as comparable text, leaving out
// rows that sum to nothing.
func rollups(t *testing.T, db *sqlx.DB, ws string) string {
	t.Helper()
	var out []string
	for _, q := range []string{
		`SELECT concat_ws(' ', 'totals', day, program_id, currency, slot, sales, sale_cents, pending_n, pending_cents,
			approved_n, approved_cents, paid_n, paid_cents, clawed_back_n, clawed_back_cents)
		FROM daily_totals WHERE workspace_id = $1 AND (sales, pending_n, approved_n, paid_n, clawed_back_n) <> (0, 0, 0, 0, 0)`,
		`SELECT concat_ws(' ', 'activity', day, program_id, slot, clicks, leads) FROM daily_activity
		WHERE workspace_id = $1 AND (clicks, leads) <> (0, 0)`,
		`SELECT concat_ws(' ', 'day', day, program_id, partner_id, currency, earned_n, earned_cents) FROM daily_partner_earnings
		WHERE workspace_id = $1 AND (earned_n, earned_cents) <> (0, 0)`,
		`SELECT concat_ws(' ', 'month', month, program_id, partner_id, currency, earned_n, earned_cents) FROM monthly_partner_earnings
		WHERE workspace_id = $1 AND (earned_n, earned_cents) <> (0, 0)`,
	} {
		var rows []string
		if err := db.Select(&rows, q+` ORDER BY 1`, ws); err != nil {
			t.Fatal(err)
		}
		out = append(out, rows...)
	}
	return strings.Join(out, "\n")
}

// The roll-ups the overview reads are kept by every write: after sales in
// two currencies, a lead, clicks, approvals, a claw-back, a claw-back after
// payout, a partial refund and a payout, they equal a recount from the
// rows themselves, and the page shows them.
func TestOverviewRollupsFollowEveryWrite(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.setup(t) // 10%, once per customer
	g := e.group(t, s.ProgramID, map[string]any{"name": "Leads"})
	e.reward(t, s.ProgramID, map[string]any{"groupId": str(g, "id"), "event": "lead", "type": "flat", "percent": nil, "amountCents": 300, "interval": "one_time"})
	lp := e.partner(t, s.ProgramID, map[string]any{"groupId": str(g, "id")})

	_, c1 := e.finSale(t, e.Key, s.ClickID, "cus-1", 10000, nil)
	_, c2 := e.finSale(t, e.Key, e.click(t, s.Slug), "cus-2", 20000, map[string]any{"currency": "EUR"})
	_, c3 := e.finSale(t, e.Key, e.click(t, s.Slug), "cus-3", 30000, map[string]any{"externalId": "inv-refund"})
	e.finSale(t, e.Key, "", "cus-1", 5000, nil) // a returning customer, no click needed
	e.call("POST", "/api/track/lead", e.Key, map[string]any{"externalId": "lead-1", "customerExternalId": "lead-cus",
		"clickId": e.click(t, str(lp, "slug"))}).must(t, http.StatusOK)
	e.finClick(t, s.Slug)

	sess := e.signIn(t)
	sess.htmx("POST", "/commissions/"+c1+"/approve", nil).must(t, http.StatusOK)
	sess.htmx("POST", "/commissions/"+c2+"/clawback", url.Values{"reason": {"fraud"}}).must(t, http.StatusOK)
	e.call("POST", "/api/track/refund", e.Key, map[string]any{"externalId": "inv-refund", "amountCents": 10000}).must(t, http.StatusOK)
	e.call("PATCH", "/api/commissions/"+c3, e.Key, map[string]any{"status": "approved"}).must(t, http.StatusOK)
	e.call("PATCH", "/api/commissions/"+c3, e.Key, map[string]any{"status": "paid"}).must(t, http.StatusOK)
	sess.htmx("POST", "/commissions/"+c3+"/clawback", url.Values{"reason": {"chargeback"}}).must(t, http.StatusOK) // after payout: an adjustment

	kept := rollups(t, e.DB, e.WS.Workspace.ID)
	if err := e.Store.RebuildStats(ctx, e.WS.Workspace.ID); err != nil {
		t.Fatal(err)
	}
	if recount := rollups(t, e.DB, e.WS.Workspace.ID); kept != recount {
		t.Fatalf("the roll-ups kept by the writes differ from a recount:\nkept:\n%s\nrecount:\n%s", kept, recount)
	}

	d := sess.page("/?range=7d")
	var amounts []string
	testid(d, "sales-amount").Each(func(_ int, a *goquery.Selection) { amounts = append(amounts, strings.TrimSpace(a.Text())) })
	if strings.Join(amounts, " ") != "$450.00 €200.00" {
		t.Errorf("sales shown %v, want $450.00 (3 sales in USD) and €200.00", amounts)
	}
	if got := strings.TrimSpace(testid(d, "clicks-count").Text()); got != "5" {
		t.Errorf("clicks %q, want 5 (four referral clicks and one partli.js click)", got)
	}
	if got := strings.TrimSpace(testid(d, "conversion-rate").Text()); got != "80.0%" {
		t.Errorf("conversion %q, want 80.0%% (4 sales, 5 clicks)", got)
	}
	if n := testid(d, "chart").Length(); n != 2 {
		t.Errorf("%d sales charts, want one per currency", n)
	}
	if got := testid(d, "commissions-by-status").Text(); !strings.Contains(got, "clawed back") || !strings.Contains(got, "approved") {
		t.Errorf("commissions by status: %q", got)
	}
}

// Any range reads the roll-ups: a year of seeded sales, and the page's
// totals for a range equal the rows' own sums; a long range is charted by
// week; a bad range is refused with the field named.
func TestOverviewRanges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	p := e.program(t, nil)
	pa := e.partner(t, str(p, "id"), nil)
	if err := e.Store.SeedSales(ctx, e.WS.Workspace.ID, str(p, "id"), "USD", []string{str(pa, "id")}, 3000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	sess := e.signIn(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	from, to := today.AddDate(0, 0, -100), today.AddDate(0, 0, -40)
	var n, cents int64
	if err := e.DB.QueryRow(`SELECT count(*), coalesce(sum(amount_cents), 0) FROM events WHERE workspace_id = $1 AND kind = 'sale'
		AND created_at >= $2 AND created_at < $3`, e.WS.Workspace.ID, from, to.AddDate(0, 0, 1)).Scan(&n, &cents); err != nil {
		t.Fatal(err)
	}
	d := sess.page("/?" + url.Values{"from": {from.Format(time.DateOnly)}, "to": {to.Format(time.DateOnly)}}.Encode())
	want := fmt.Sprintf("$%s", groupDollars(cents))
	if got := strings.TrimSpace(testid(d, "sales-amount").Text()); got != want {
		t.Errorf("sales from %s to %s: %q, want %s (%d sales)", from.Format(time.DateOnly), to.Format(time.DateOnly), got, want, n)
	}
	var earned int64
	if err := e.DB.QueryRow(`SELECT coalesce(sum(amount_cents), 0) FROM commissions WHERE workspace_id = $1 AND status <> 'clawed_back'
		AND created_at >= $2 AND created_at < $3`, e.WS.Workspace.ID, from, to.AddDate(0, 0, 1)).Scan(&earned); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(testid(d, "top-partners").Find("li span").First().Text()), "$"+groupDollars(earned); got != want {
		t.Errorf("the top partner earned %q in the range, want %s", got, want)
	}
	if got := testid(d, "chart").Find(`[data-testid="chart-column"]`).Length(); got != 61 {
		t.Errorf("a 61-day range has %d chart columns, want one a day", got)
	}
	if got := testid(sess.page("/?range=12m"), "chart").Find(`[data-testid="chart-column"]`).Length(); got < 52 || got > 54 {
		t.Errorf("a year has %d chart columns, want one a week", got)
	}
	if title := testid(d, "chart").Find(`[data-testid="chart-column"] title`).First().Text(); !strings.Contains(title, "sales $") {
		t.Errorf("hover text %q", title)
	}
	r := sess.get("/?from=2026-13-01")
	if r.Status != http.StatusBadRequest || !strings.Contains(r.Doc(t).Find(".field-error").Text(), "YYYY-MM-DD") {
		t.Fatalf("bad range: %d %q", r.Status, r.Doc(t).Find(".field-error").Text())
	}
	if r := sess.get("/?from=2026-03-01&to=2026-02-01"); r.Status != http.StatusBadRequest {
		t.Fatalf("reversed range: %d", r.Status)
	}
}

// groupDollars writes cents as dollars with thousands separators: 123456789 → "1,234,567.89".
func groupDollars(cents int64) string {
	s := fmt.Sprintf("%d", cents/100)
	var out []string
	for len(s) > 3 {
		out = append([]string{s[len(s)-3:]}, out...)
		s = s[:len(s)-3]
	}
	out = append([]string{s}, out...)
	return strings.Join(out, ",") + fmt.Sprintf(".%02d", cents%100)
}
