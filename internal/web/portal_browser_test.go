package web_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/browsertest"
	"github.com/partli/partli/internal/store"
)

// submitAndWait clicks a submit button and waits for the next page to load.
func submitAndWait(t *testing.T, tab context.Context, sel string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Click(chromedp.CSS(sel)))); err != nil {
		t.Fatalf("click %s: %v", sel, err)
	}
}

func fill(t *testing.T, tab context.Context, fields map[string]string) {
	t.Helper()
	for id, v := range fields {
		if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.ID(id), v)); err != nil {
			t.Fatalf("fill #%s: %v", id, err)
		}
	}
}

func text(t *testing.T, tab context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

func navigate(t *testing.T, tab context.Context, url string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
}

// A person applies, the owner approves in the dashboard, the partner signs
// in, a sale is tracked through the API, and the partner sees the pending
// commission with its payable date.
func TestPortalBrowserApplyToEarnings(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, map[string]any{"name": "Acme Pro", "slug": "pro", "holdingPeriodDays": 30,
		"destinationUrl": "https://acme.example/pricing"})
	e.reward(t, p["id"].(string), map[string]any{"percent": 25, "interval": "recurring", "durationMonths": 12})
	tab := browsertest.New(t, browsertest.Session)

	navigate(t, tab, e.URL+"/apply/"+e.WS.Workspace.Slug+"/pro")
	browsertest.Screenshot(t, tab, "portal-apply")
	fill(t, tab, map[string]string{"name": "Maya Blogger", "email": "maya@example.com",
		"website": "https://maya.example", "country": "Portugal", "pitch": "Weekly newsletter about dev tools, 12k readers.",
		"password": "maya's password"})
	submitAndWait(t, tab, `[data-testid="apply-submit"]`)
	if got := text(t, tab, `[data-testid="apply-done"] h2`); !strings.Contains(got, "application is in") {
		t.Fatalf("after applying: %q", got)
	}
	if got := text(t, tab, `[data-testid="apply-confirm"]`); !strings.Contains(got, "confirm your email address") {
		t.Fatalf("the thank-you page does not ask to confirm the address: %q", got)
	}
	// Maya opens the link mailed to her.
	navigate(t, tab, e.URL+e.mailLink(t, "maya@example.com", store.MailEmailVerification))
	if got := text(t, tab, `[data-testid="notice"]`); !strings.Contains(got, "confirmed") {
		t.Fatalf("after opening the verification link: %q", got)
	}

	// The owner reviews and approves the application in the dashboard.
	var partnerID string
	if err := e.DB.QueryRow(`SELECT id FROM partners WHERE email = 'maya@example.com'`).Scan(&partnerID); err != nil {
		t.Fatal(err)
	}
	navigate(t, tab, e.URL+"/login")
	fill(t, tab, map[string]string{"email": e.WS.Owner.Email, "password": "correct horse battery"})
	submitAndWait(t, tab, `[data-testid="sign-in"]`)
	navigate(t, tab, e.URL+"/partners/"+partnerID)
	if got := text(t, tab, `[data-testid="pitch"]`); !strings.Contains(got, "newsletter") {
		t.Fatalf("the owner does not see the pitch: %q", got)
	}
	browsertest.Screenshot(t, tab, "dashboard-partner-application")
	submitAndWait(t, tab, `[data-testid="status-approved"]`)
	if got := text(t, tab, `[data-testid="partner-status"]`); got != "approved" {
		t.Fatalf("status after approving: %q", got)
	}
	submitAndWait(t, tab, `[data-testid="sign-out"]`)

	// A visitor follows Maya's link and pays.
	var slug string
	e.DB.QueryRow(`SELECT slug FROM partners WHERE id = $1`, partnerID).Scan(&slug)
	cid := e.click(t, slug)
	e.sale(t, e.Key, map[string]any{"amountCents": 19900, "clickId": cid, "customerExternalId": "cus_browser"})

	navigate(t, tab, e.URL+"/partner/login")
	fill(t, tab, map[string]string{"email": "maya@example.com", "password": "maya's password"})
	submitAndWait(t, tab, `[data-testid="partner-sign-in"]`)
	if got := text(t, tab, `[data-testid="pending"]`); got != "$49.75" {
		t.Fatalf("pending on the portal home: %q, want $49.75", got)
	}
	browsertest.Screenshot(t, tab, "portal-home")
	submitAndWait(t, tab, `[data-testid="enrollment-link"]`)
	if got := text(t, tab, `[data-testid="commission-amount"]`); got != "$49.75" {
		t.Fatalf("commission amount %q", got)
	}
	want := time.Now().UTC().AddDate(0, 0, 30).Format("Jan 2, 2006")
	if got := text(t, tab, `[data-testid="payable-at"]`); got != want {
		t.Fatalf("payable date %q, want %q", got, want)
	}
	if got := text(t, tab, `[data-testid="term"]`); got != "25% of every payment for 12 months" {
		t.Fatalf("terms %q", got)
	}
	browsertest.Screenshot(t, tab, "portal-program")
}
