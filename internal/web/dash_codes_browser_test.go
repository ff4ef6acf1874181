package web_test

import (
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/browsertest"
)

// The discount form in a browser: the preview follows the choices while
// the inputs stay as typed (only the sentence is swapped), a refused form
// shows its error in place, and the saved discount is shown in words.
func TestDashDiscountBrowser(t *testing.T) {
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"name": "Discount Program", "currency": "EUR"}), "id")
	tab := browsertest.New(t, browsertest.Session)
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Errorf("%s: %v", what, err)
			browsertest.Screenshot(t, tab, "discount-failed")
			t.FailNow()
		}
	}
	wait := func(what, js string) {
		t.Helper()
		run(what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(browsertest.Wait)))
	}
	run("sign in and open the discount form",
		chromedp.Navigate(e.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), e.WS.Owner.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
		chromedp.Navigate(e.URL+"/programs/"+id),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="program-page"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="discount-toggle"]`)),
		chromedp.Evaluate[chromedp.Void](`window.discountMarker = document.querySelector('#d-percent')`),
		chromedp.Click(chromedp.CSS(`[data-testid="discount-type-percentage"]`)),
		chromedp.SendKeys(chromedp.CSS("#d-percent"), "15"),
		chromedp.Click(chromedp.CSS(`[data-testid="discount-repeating"]`)),
		chromedp.SendKeys(chromedp.CSS("#d-months"), "6\t"),
	)
	wait("the preview says what customers get", `document.querySelector('[data-testid="discount-preview"]').textContent.includes('15% off every payment for 6 months')`)
	wait("the inputs were not re-rendered", `window.discountMarker === document.querySelector('#d-percent') && document.querySelector('#d-percent').value === '15'`)
	run("save", chromedp.Click(chromedp.CSS(`[data-testid="discount-save"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)))
	wait("the saved discount in words", `(document.querySelector('[data-testid="discount-words"]') || {}).textContent === '15% off every payment for 6 months'`)
	run("a flat discount without an amount",
		chromedp.Click(chromedp.CSS(`[data-testid="discount-toggle"]`)),
		chromedp.Evaluate[chromedp.Void](`window.pageMarker = 1`),
		chromedp.Click(chromedp.CSS(`[data-testid="discount-type-flat"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="discount-save"]`)),
	)
	wait("the error shows in place", `!!document.querySelector('[data-testid="discount-form"] [data-testid="error-amount"]') && window.pageMarker === 1`)
	browsertest.Screenshot(t, tab, "program-discount")
	if n := e.count(t, `SELECT count(*) FROM programs WHERE id = $1 AND discount_percent_bp = 1500 AND discount_duration_months = 6`, id); n != 1 {
		t.Fatalf("the discount was not stored")
	}
}
