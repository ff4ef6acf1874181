package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/browsertest"
)

// Browser tests of the merchant dashboard: a real chromium drives the pages
// the way a program owner does, HTMX included, and keeps screenshots of
// every main page in artifacts/screenshots (dash-*.png) for people to look at.

// dashbTab starts chromium for the test and fails the test, at its end, on
// any uncaught JavaScript exception of the pages it opened.
func dashbTab(t *testing.T) context.Context {
	t.Helper()
	tab := browsertest.New(t, browsertest.Session)
	var mu sync.Mutex
	var errs []string
	err := chromedp.Listen(tab, func(ev any) {
		if ex, ok := ev.(*runtime.EventExceptionThrown); ok {
			mu.Lock()
			d := ex.ExceptionDetails
			msg := d.Text
			if d.Exception != nil && d.Exception.Description != "" {
				msg += " " + d.Exception.Description
			}
			errs = append(errs, fmt.Sprintf("%s (%s:%d)", msg, d.URL, d.LineNumber+1))
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, e := range errs {
			t.Errorf("JavaScript exception on a page: %s", e)
		}
	})
	return tab
}

// dashbSignIn signs in as the workspace owner through the login form.
func dashbSignIn(t *testing.T, tab context.Context, e *env) {
	t.Helper()
	navigate(t, tab, e.URL+"/login")
	fill(t, tab, map[string]string{"email": e.WS.Owner.Email, "password": "correct horse battery"})
	submitAndWait(t, tab, `[data-testid="sign-in"]`)
	if got := text(t, tab, `[data-testid="user-email"]`); got != e.WS.Owner.Email {
		t.Fatalf("after signing in the header shows %q, want %s", got, e.WS.Owner.Email)
	}
}

// dashbWait waits until the JavaScript expression is true.
func dashbWait(t *testing.T, tab context.Context, what, expr string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(browsertest.Wait))); err != nil {
		t.Fatalf("waiting for %s (%s): %v", what, expr, err)
	}
}

func dashbClick(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(sel))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

func dashbType(t *testing.T, tab context.Context, sel, value string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(sel), value)); err != nil {
		t.Fatalf("type into %s: %v", sel, err)
	}
}

func dashbLocation(t *testing.T, tab context.Context) *url.URL {
	t.Helper()
	loc, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// dashbOpen opens a dashboard page, checks that it rendered as a page (a
// title, no error page) and saves its screenshot.
func dashbOpen(t *testing.T, tab context.Context, e *env, path, wantTitle, shot string) {
	t.Helper()
	navigate(t, tab, e.URL+path)
	if got := text(t, tab, `[data-testid="page-title"]`); !strings.Contains(got, wantTitle) {
		t.Errorf("GET %s: page title %q, want it to contain %q", path, got, wantTitle)
	}
	// At the test's 1366 px, nothing runs off the page or hides behind a
	// table's scroll bar.
	const overflow = `(() => {
		const out = [];
		if (document.documentElement.scrollWidth > document.documentElement.clientWidth) out.push('the page');
		document.querySelectorAll('.table-wrap').forEach((w, i) => {
			if (w.scrollWidth > w.clientWidth + 1) out.push('table ' + (w.querySelector('[data-testid]')?.dataset.testid || i));
		});
		return out;
	})()`
	if over, err := chromedp.Run(tab, chromedp.Evaluate[[]string](overflow)); err != nil || len(over) > 0 {
		t.Errorf("GET %s: too wide for the window: %v (%v)", path, over, err)
	}
	browsertest.Screenshot(t, tab, shot)
}

// The owner signs in, creates a program and its reward in the forms, a
// partner's sale comes in through the API, and on the commission list the
// owner claws the commission back with a reason through the inline HTMX
// form: the row changes in place, the page says so, and the commission's
// history keeps the reason and who did it.
func TestDashBrowserClawBack(t *testing.T) {
	e := newEnv(t)
	tab := dashbTab(t)

	navigate(t, tab, e.URL+"/login")
	browsertest.Screenshot(t, tab, "dash-login")
	dashbSignIn(t, tab, e)

	// A program, through /programs/new.
	navigate(t, tab, e.URL+"/programs/new")
	fill(t, tab, map[string]string{"f-name": "Acme Pro", "f-destination": "https://acme.example/pricing"})
	browsertest.Screenshot(t, tab, "dash-program-new")
	submitAndWait(t, tab, `[data-testid="program-save"]`)
	if got := text(t, tab, `[data-testid="flash"]`); !strings.Contains(got, "Program created") {
		t.Fatalf("after creating the program the flash says %q", got)
	}
	if got := text(t, tab, `[data-testid="page-title"]`); got != "Acme Pro" {
		t.Fatalf("program page title %q", got)
	}
	programID := strings.TrimPrefix(dashbLocation(t, tab).Path, "/programs/")
	if !strings.HasPrefix(programID, "prog_") {
		t.Fatalf("after creating a program the browser is at %s", dashbLocation(t, tab))
	}

	// Its default sale reward: 25 % of every payment for 12 months. Each
	// change of the form re-renders its fields and the sentence of what
	// partners earn, through HTMX.
	slot := `[data-slot="default-sale"]`
	dashbClick(t, tab, slot+` [data-testid="reward-toggle"]`)
	dashbType(t, tab, "#r-default-sale-percent", "25\t")
	dashbWait(t, tab, "the preview of 25 %",
		`(document.querySelector('#rf-default-sale [data-testid="reward-preview"]')||{}).textContent.includes('25%')`)
	dashbClick(t, tab, slot+` [data-testid="interval-recurring"]`)
	dashbWait(t, tab, "the recurring preview",
		`(document.querySelector('#rf-default-sale [data-testid="reward-preview"]')||{}).textContent.includes('every payment')`)
	dashbType(t, tab, "#r-default-sale-duration", "12\t")
	dashbWait(t, tab, "the capped preview",
		`(document.querySelector('#rf-default-sale [data-testid="reward-preview"]')||{}).textContent.includes('12 months')`)
	browsertest.Screenshot(t, tab, "dash-program-reward-form")
	submitAndWait(t, tab, slot+` [data-testid="reward-save"]`)
	if got := text(t, tab, `[data-testid="flash"]`); !strings.Contains(got, "Reward added") {
		t.Fatalf("after adding the reward the flash says %q", got)
	}
	if got := text(t, tab, slot+` [data-testid="reward-words"]`); got != "25% of every payment for 12 months" {
		t.Fatalf("the default reward reads %q", got)
	}

	// A partner and a referred sale, through the API.
	pa := e.partner(t, programID, map[string]any{"name": "Maya Blogger", "email": "maya@example.com"})
	click := e.finClick(t, str(pa, "slug"))
	_, cmID := e.finSale(t, e.Key, click, "cus_1042", 19900, nil)
	if cmID == "" {
		t.Fatal("the sale made no commission")
	}

	// The claw-back, in the list.
	navigate(t, tab, e.URL+"/commissions")
	row := `tr[data-id="` + cmID + `"]`
	if got := text(t, tab, row+` [data-testid="status"]`); got != "pending" {
		t.Fatalf("the new commission's status: %q", got)
	}
	if got := text(t, tab, row+` [data-testid="amount"]`); got != "$49.75" {
		t.Fatalf("the new commission's amount: %q", got)
	}
	dashbClick(t, tab, row+` [data-testid="clawback"]`)
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(row+` [data-testid="clawback-form"] input[name="reason"]`))); err != nil {
		t.Fatalf("the inline claw-back form did not open: %v", err)
	}
	if got := text(t, tab, row+` [data-testid="clawback-form"]`); !strings.Contains(got, "$49.75") || !strings.Contains(got, "Maya Blogger") {
		t.Errorf("the claw-back form does not say what is clawed back from whom: %q", got)
	}

	// Without a reason the form stays, and says why.
	dashbClick(t, tab, row+` [data-testid="confirm-clawback"]`)
	if got := text(t, tab, row+` [data-testid="reason-error"]`); !strings.Contains(got, "reason") {
		t.Fatalf("claw back without a reason: %q", got)
	}
	if got := text(t, tab, `#flash [data-testid="flash-error"]`); !strings.Contains(got, "Not clawed back") {
		t.Errorf("flash after a claw back without a reason: %q", got)
	}

	const reason = "Customer refunded order #1042"
	dashbType(t, tab, row+` input[name="reason"]`, reason)
	browsertest.Screenshot(t, tab, "dash-commissions-clawback-form")
	dashbClick(t, tab, row+` [data-testid="confirm-clawback"]`)
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(row+`[data-status="clawed_back"]`))); err != nil {
		t.Fatalf("the row was not swapped for the clawed-back one: %v", err)
	}
	if got := text(t, tab, row+` [data-testid="status"]`); got != "clawed back" {
		t.Errorf("status after the claw back: %q, want \"clawed back\"", got)
	}
	if got := text(t, tab, `#flash [data-testid="flash"]`); !strings.HasPrefix(got, "Clawed back") {
		t.Errorf("flash after the claw back: %q", got)
	}
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('tr[data-id="`+cmID+`"] button').length`)); err != nil || n != 0 {
		t.Errorf("a clawed-back commission still offers %d actions (%v)", n, err)
	}
	browsertest.Screenshot(t, tab, "dash-commissions-clawed-back")

	// Its page: the history keeps the reason and who clawed it back.
	submitAndWait(t, tab, row+` a[href="/commissions/`+cmID+`"]`)
	if got := text(t, tab, `[data-testid="commission-detail"] [data-testid="status"]`); got != "clawed back" {
		t.Errorf("status on the commission page: %q", got)
	}
	last := `[data-testid="history-row"]:last-child`
	if got := text(t, tab, last+` [data-testid="history-to"]`); got != "clawed back" {
		t.Errorf("last history entry goes to %q", got)
	}
	if got := text(t, tab, last+` [data-testid="history-reason"]`); got != reason {
		t.Errorf("history reason %q, want %q", got, reason)
	}
	if got := text(t, tab, last+` [data-testid="history-actor"]`); got != e.WS.Owner.Email {
		t.Errorf("history actor %q, want %s", got, e.WS.Owner.Email)
	}
	browsertest.Screenshot(t, tab, "dash-commission-detail")
}

// dashbData is a workspace the way it looks after some weeks of use: two
// programs, partners in and out of a group, clicks (one of them flagged),
// sales in two currencies over several days, commissions in every status,
// a payout paid and one waiting, and a finance user.
type dashbData struct {
	ProgramID, EURProgramID string
	Maya, Devon, Priya      map[string]any
	SaleID, CommissionID    string
	PaidPayoutID            string
}

func dashbSeed(t *testing.T, e *env) dashbData {
	t.Helper()
	var d dashbData
	p := e.program(t, map[string]any{"name": "Acme Pro", "slug": "acme-pro", "destinationUrl": "https://acme.example/pricing",
		"holdingPeriodDays": 30, "cookieDays": 60})
	d.ProgramID = p["id"].(string)
	e.reward(t, d.ProgramID, map[string]any{"percent": 20, "interval": "recurring", "durationMonths": 12})
	creators := e.group(t, d.ProgramID, map[string]any{"name": "Creators"})
	gid := creators["id"].(string)
	e.reward(t, d.ProgramID, map[string]any{"groupId": gid, "percent": 30, "interval": "recurring"})
	e.call("POST", "/api/programs/"+d.ProgramID+"/rewards", e.Key, map[string]any{"groupId": gid, "event": "lead", "type": "flat",
		"amountCents": 500, "interval": "one_time"}).must(t, http.StatusCreated)
	eu := e.program(t, map[string]any{"name": "Acme Europe", "slug": "acme-eu", "currency": "EUR",
		"destinationUrl": "https://acme.example/eu", "holdingPeriodDays": 14})
	d.EURProgramID = eu["id"].(string)
	e.call("POST", "/api/programs/"+d.EURProgramID+"/rewards", e.Key, map[string]any{"event": "sale", "type": "flat",
		"amountCents": 1500, "interval": "one_time"}).must(t, http.StatusCreated)

	d.Maya = e.partner(t, d.ProgramID, map[string]any{"name": "Maya Blogger", "email": "maya@mayablogs.example", "groupId": gid})
	d.Devon = e.partner(t, d.ProgramID, map[string]any{"name": "Devon Reviews", "email": "devon@reviews.example"})
	d.Priya = e.partner(t, d.ProgramID, map[string]any{"name": "Priya Codes", "email": "priya@codes.example"})
	tom := e.partner(t, d.ProgramID, map[string]any{"name": "Tom's Tech Deals", "email": "tom@techdeals.example"})
	lena := e.partner(t, d.EURProgramID, map[string]any{"name": "Lena Newsletter", "email": "lena@newsletter.example"})

	// Clicks: a browser's, and for Maya one from a script (flagged "bot").
	mayaClick := e.finClick(t, str(d.Maya, "slug"))
	e.finClick(t, str(d.Maya, "slug"))
	e.click(t, str(d.Maya, "slug"))
	devonClick := e.finClick(t, str(d.Devon, "slug"))
	priyaClick := e.finClick(t, str(d.Priya, "slug"))
	lenaClick := e.finClick(t, str(lena, "slug"))
	e.finClick(t, str(tom, "slug"))
	e.call("PATCH", "/api/partners/"+str(tom, "id"), e.Key, map[string]any{"status": "suspended"}).must(t, http.StatusOK)

	e.call("POST", "/api/track/lead", e.Key, map[string]any{"externalId": "signup-881", "customerExternalId": "cus_trial_881",
		"customerEmail": "sam@customer.example", "clickId": mayaClick}).must(t, http.StatusOK)

	// Sales over the last three weeks, in USD and EUR.
	now := time.Now().UTC()
	type sale struct {
		click, customer, currency string
		cents                     int64
		daysAgo                   int
	}
	sales := []sale{
		{mayaClick, "cus_7Hq2", "USD", 19900, 19}, {mayaClick, "cus_7Hq2", "USD", 19900, 12}, {devonClick, "cus_A91x", "USD", 4900, 16},
		{priyaClick, "cus_P0k3", "USD", 99900, 14}, {devonClick, "cus_B22y", "EUR", 8900, 11}, {mayaClick, "cus_M5t1", "USD", 4900, 9},
		{priyaClick, "cus_Q8r4", "EUR", 24900, 7}, {lenaClick, "cus_L1e9", "EUR", 12000, 6}, {devonClick, "cus_C3z0", "USD", 19900, 4},
		{mayaClick, "cus_7Hq2", "USD", 19900, 5}, {priyaClick, "cus_R2d2", "USD", 4900, 2}, {lenaClick, "cus_L7w2", "EUR", 6000, 1},
		{mayaClick, "cus_N4v8", "USD", 29900, 0},
	}
	var commissions []string
	for i, s := range sales {
		at := now.AddDate(0, 0, -s.daysAgo).Add(-time.Duration(i) * 37 * time.Minute)
		ev, cm := e.finSale(t, e.Key, s.click, s.customer, s.cents, map[string]any{"currency": s.currency,
			"externalId": fmt.Sprintf("order-%d", 1000+i), "occurredAt": at.Format(time.RFC3339),
			"metadata": map[string]any{"plan": "pro", "coupon": "SPRING"}})
		if cm == "" {
			t.Fatalf("sale %d made no commission", i)
		}
		d.SaleID = ev
		commissions = append(commissions, cm)
	}
	// The fixture's clock: the sales happened when they say, so the overview's
	// days and the lists' dates spread the way they would after three weeks.
	for _, q := range []string{
		`UPDATE events SET created_at = occurred_at WHERE workspace_id = $1`,
		// (In UTC, as Citus takes it: no timestamptz arithmetic on a column in an UPDATE.)
		`UPDATE commissions c SET created_at = ev.occurred_at,
				payable_at = (ev.occurred_at AT TIME ZONE 'UTC' + interval '30 days') AT TIME ZONE 'UTC'
			FROM events ev WHERE c.workspace_id = $1 AND ev.workspace_id = c.workspace_id AND ev.id = c.event_id`,
	} {
		if _, err := e.DB.Exec(q, e.WS.Workspace.ID); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	// The rows were moved under the roll-ups' feet: recount them.
	if err := e.Store.RebuildStats(context.Background(), e.WS.Workspace.ID); err != nil {
		t.Fatal(err)
	}

	// The older commissions are approved; Priya's first is paid through a
	// payout and then clawed back (a chargeback), Devon's first clawed back
	// before it was paid.
	for _, cm := range commissions[:9] {
		e.finStatus(t, e.Key, cm, "approved")
	}
	sess := e.signIn(t)
	r := sess.post("/payouts", url.Values{"partnerId": {str(d.Priya, "id")}, "currency": {"USD"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("create payout: %d %s", r.Status, r.Body)
	}
	d.PaidPayoutID = strings.TrimPrefix(strings.SplitN(r.Header.Get("Location"), "?", 2)[0], "/payouts/")
	if r := sess.post("/payouts/"+d.PaidPayoutID+"/paid", url.Values{"reference": {"WISE-2026-0142"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("mark payout paid: %d %s", r.Status, r.Body)
	}
	if r := sess.post("/commissions/"+commissions[3]+"/clawback", url.Values{"reason": {"Chargeback on cus_P0k3"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("claw back a paid commission: %d %s", r.Status, r.Body)
	}
	e.call("PATCH", "/api/commissions/"+commissions[2], e.Key, map[string]any{"status": "clawed_back", "reason": "Refunded within 14 days"}).must(t, http.StatusOK)
	// Lena's EUR balance waits in a payout.
	if r := sess.post("/payouts", url.Values{"partnerId": {str(lena, "id")}, "currency": {"EUR"}}); r.Status != http.StatusSeeOther {
		t.Fatalf("create EUR payout: %d %s", r.Status, r.Body)
	}
	d.CommissionID = commissions[0]

	e.addTeammate(t, sess, "finance@acme.example", "Fran Finance", "finance", "a long finance password")
	return d
}

// Every main page, with the data of a workspace in use, as a person sees
// it: each renders, and its screenshot is kept for review.
func TestDashBrowserPages(t *testing.T) {
	e := newEnv(t)
	d := dashbSeed(t, e)
	tab := dashbTab(t)
	dashbSignIn(t, tab, e)

	dashbOpen(t, tab, e, "/", "Overview", "dash-overview")
	if got := text(t, tab, `[data-testid="sales-this-month"]`); !strings.Contains(got, "€") || !strings.Contains(got, "$") {
		t.Errorf("the overview's sales do not show both currencies: %q", got)
	}
	if bars, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="chart"] rect').length`)); err != nil || bars < 5 {
		t.Errorf("the chart has %d bars (%v), want the sales of several days", bars, err)
	}

	dashbOpen(t, tab, e, "/programs", "Programs", "dash-programs")
	dashbOpen(t, tab, e, "/programs/"+d.ProgramID, "Acme Pro", "dash-program-detail")

	dashbOpen(t, tab, e, "/partners", "Partners", "dash-partners")
	dashbOpen(t, tab, e, "/partners/"+str(d.Maya, "id"), "Maya Blogger", "dash-partner-detail")
	if got := text(t, tab, `[data-testid="click-flag"]`); got != "bot" {
		t.Errorf("the flagged click's badge: %q", got)
	}
	dashbOpen(t, tab, e, "/partners/new", "partner", "dash-partner-new")

	dashbOpen(t, tab, e, "/sales", "Sales", "dash-sales")
	dashbOpen(t, tab, e, "/sales/"+d.SaleID, "Sale", "dash-sale-detail")

	dashbOpen(t, tab, e, "/commissions", "Commissions", "dash-commissions")
	dashbOpen(t, tab, e, "/commissions?status=approved", "Commissions", "dash-commissions-approved")
	dashbOpen(t, tab, e, "/commissions/"+d.CommissionID, "Commission", "dash-commission-approved")

	dashbOpen(t, tab, e, "/payouts", "Payouts", "dash-payouts")
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`[data-testid="balance-row"] [data-testid="create-payout"]`))); err != nil {
		t.Errorf("no ready-to-pay balance with a Create payout button: %v", err)
	}
	dashbOpen(t, tab, e, "/payouts/"+d.PaidPayoutID, "Payout", "dash-payout-detail")

	dashbOpen(t, tab, e, "/settings", "Settings", "dash-settings")
	dashbOpen(t, tab, e, "/settings/email", "Email", "dash-settings-email")

	// The error page of a link that leads nowhere.
	navigate(t, tab, e.URL+"/commissions/cm_doesnotexist")
	browsertest.Screenshot(t, tab, "dash-not-found")
}
