package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/browsertest"
)

// pageFits checks that the page is no wider than the window (tables may
// scroll inside their own frame, the page never does) and that sel, when
// given, lies wholly inside the window.
func pageFits(t *testing.T, tab context.Context, what, sel string) {
	t.Helper()
	const js = `(sel => {
		const out = [];
		const de = document.documentElement;
		if (de.scrollWidth > de.clientWidth + 1) out.push('the page is ' + de.scrollWidth + 'px wide in a ' + de.clientWidth + 'px window');
		if (sel) {
			const el = document.querySelector(sel);
			if (!el) out.push(sel + ' is missing');
			else {
				const r = el.getBoundingClientRect();
				if (r.left < 0 || r.right > de.clientWidth + 1 || r.width === 0) out.push(sel + ' is cut off (' + r.left + '…' + r.right + ')');
			}
		}
		return out;
	})`
	got, err := chromedp.Run(tab, chromedp.Evaluate[[]string](js+"("+jsString(sel)+")"))
	if err != nil || len(got) > 0 {
		// Name the element that widens the page: the one whose hiding ends it.
		wide, _ := chromedp.Run(tab, chromedp.Evaluate[[]string](`(() => {
			const de = document.documentElement, out = [];
			const probe = (el, depth) => {
				for (const c of el.children) {
					const d = c.style.display;
					c.style.display = 'none';
					const w = de.scrollWidth;
					c.style.display = d;
					if (w <= de.clientWidth + 1) {
						out.push(c.tagName + '.' + c.className.toString().slice(0, 60));
						if (depth < 15) probe(c, depth + 1);
						return;
					}
				}
			};
			probe(document.body, 0);
			return out;
		})()`))
		t.Errorf("%s: %v %v; widened by %v", what, got, err, wide)
	}
}

func jsString(s string) string {
	if s == "" {
		return "''"
	}
	return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
}

// A partner name of 200 characters (the most the apply form takes) and a
// long unbroken group name never widen the pages: names are cut in tables
// and wrap elsewhere; and at a phone's 390 px the dashboard and the portal
// fit, sign-out included.
func TestBrowserLongNamesAndNarrowScreens(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, map[string]any{"name": "Acme Pro", "slug": "pro"})
	pid := str(p, "id")
	e.reward(t, pid, nil)
	group := e.group(t, pid, map[string]any{"name": strings.Repeat("Supercalifragilistic", 5)})
	long := strings.Repeat("Maximiliana Bartholomew-Featherstonehaugh ", 5)[:200]
	pa := e.partner(t, pid, map[string]any{"name": long, "groupId": str(group, "id")})
	_, cm := e.finSale(t, e.Key, e.finClick(t, str(pa, "slug")), "cus-long", 19900, nil)
	e.finStatus(t, e.Key, cm, "approved")

	tab := dashbTab(t)
	dashbSignIn(t, tab, e)
	// dashbOpen checks the page and every table's own frame.
	dashbOpen(t, tab, e, "/commissions", "Commissions", "long-name-commissions")
	dashbOpen(t, tab, e, "/sales", "Sales", "long-name-sales")
	dashbOpen(t, tab, e, "/partners", "Partners", "long-name-partners")
	dashbOpen(t, tab, e, "/payouts", "Payouts", "long-name-payouts")
	dashbOpen(t, tab, e, "/programs/"+pid, "Acme Pro", "long-name-program")
	dashbOpen(t, tab, e, "/partners/"+str(pa, "id"), "Maximiliana", "long-name-partner")

	// A phone.
	if err := chromedp.Do(tab, chromedp.EmulateViewport(390, 844)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/", "/commissions", "/partners/" + str(pa, "id"), "/programs/" + pid} {
		navigate(t, tab, e.URL+path)
		pageFits(t, tab, "390 px "+path, `[data-testid="sign-out"]`)
		browsertest.Screenshot(t, tab, "narrow-"+strings.SplitN(path[1:]+"/", "/", 2)[0])
	}

	// The partner, in the portal, on the phone.
	if r := e.apply(t, e.WS.Workspace.Slug, "pro", "Zoë Narrow", "zoe@narrow.example", "zoe's password"); r.Status != http.StatusSeeOther && r.Status != http.StatusOK {
		t.Fatalf("apply: %d", r.Status)
	}
	if _, err := e.DB.Exec(`UPDATE partner_accounts SET email_verified_at = now() WHERE lower(email) = 'zoe@narrow.example'`); err != nil {
		t.Fatal(err)
	}
	var zoe string
	if err := e.DB.QueryRow(`SELECT id FROM partners WHERE lower(email) = 'zoe@narrow.example'`).Scan(&zoe); err != nil {
		t.Fatal(err)
	}
	e.call("PATCH", "/api/partners/"+zoe, e.Key, map[string]any{"status": "approved"}).must(t, http.StatusOK)
	navigate(t, tab, e.URL+"/partner/login")
	fill(t, tab, map[string]string{"email": "zoe@narrow.example", "password": "zoe's password"})
	submitAndWait(t, tab, `[data-testid="partner-sign-in"]`)
	pageFits(t, tab, "390 px portal home", `[data-testid="partner-sign-out"]`)
	browsertest.Screenshot(t, tab, "narrow-portal-home")
	navigate(t, tab, e.URL+"/partner/programs/"+zoe)
	pageFits(t, tab, "390 px portal program", `[data-testid="partner-sign-out"]`)
	browsertest.Screenshot(t, tab, "narrow-portal-program")
}
