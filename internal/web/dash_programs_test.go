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

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/browsertest"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// progFollow requires a 303 to a path starting with prefix and returns the Location.
func progFollow(t *testing.T, r reply, prefix string) string {
	t.Helper()
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("status %d Location %q, want 303 to %s…\n%s", r.Status, loc, prefix, r.Body)
	}
	return loc
}

// progSlot selects a reward slot of the program page.
func progSlot(d *goquery.Document, key string) *goquery.Selection {
	return d.Find(`[data-testid="reward-slot"][data-slot="` + key + `"]`)
}

func progText(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// progValidProgram is a form that creates a program.
func progValidProgram(name string) url.Values {
	return url.Values{"name": {name}, "destinationUrl": {"https://shop.example.com/"}, "currency": {"eur"},
		"holdingPeriodDays": {"14"}, "cookieDays": {"60"}, "minPayout": {"25.50"}, "autoApprove": {"true"}}
}

func TestDashProgramsCreateAndList(t *testing.T) {
	e := newEnv(t)
	s := e.signIn(t)
	d := s.page("/programs")
	if testid(d, "empty").Length() != 1 || testid(d, "new-program").Length() != 1 {
		t.Fatalf("an empty workspace shows the empty state and a New program button:\n%s", progText(d.Find("main")))
	}
	d = s.page("/programs/new")
	if testid(d, "program-form").Length() != 1 {
		t.Fatal("no program form on /programs/new")
	}
	loc := progFollow(t, s.post("/programs", progValidProgram("Summer Promo")), "/programs/prog_")
	d = s.page(loc)
	if got := testid(d, "page-title").Text(); got != "Summer Promo" {
		t.Fatalf("title %q", got)
	}
	if !strings.Contains(testid(d, "flash").Text(), "Program created") {
		t.Fatalf("no confirmation: %q", testid(d, "flash").Text())
	}
	id := strings.TrimPrefix(strings.SplitN(loc, "?", 2)[0], "/programs/")
	p, err := e.Store.Program(context.Background(), e.WS.Workspace.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if p.Slug != "summer-promo" || p.Currency != "EUR" || p.HoldingPeriodDays != 14 || p.CookieDays != 60 ||
		p.MinPayoutCents != 2550 || !p.AutoApprove {
		t.Fatalf("stored %+v", p)
	}
	e.partner(t, id, nil)

	d = s.page("/programs")
	rows := testid(d, "program-row")
	if rows.Length() != 1 {
		t.Fatalf("%d rows, want 1", rows.Length())
	}
	for tid, want := range map[string]string{"program-name": "Summer Promo", "program-slug": "summer-promo",
		"program-currency": "EUR", "program-holding": "14 days", "program-cookie": "60 days", "program-partners": "1"} {
		if got := strings.TrimSpace(rows.Find(`[data-testid="` + tid + `"]`).Text()); got != want {
			t.Errorf("%s = %q, want %q", tid, got, want)
		}
	}

	// A second program with the same name gets its own slug.
	progFollow(t, s.post("/programs", progValidProgram("Summer Promo")), "/programs/prog_")
	if n := e.count(t, `SELECT count(DISTINCT slug) FROM programs WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 2 {
		t.Fatalf("%d distinct slugs, want 2", n)
	}

	// Keyset pages: newest first, an "Older" link to the rest.
	d = s.page("/programs?limit=1")
	next, _ := testid(d, "next-page").Attr("href")
	if testid(d, "program-row").Length() != 1 || next == "" {
		t.Fatalf("first page: %d rows, next %q", testid(d, "program-row").Length(), next)
	}
	first, _ := testid(d, "program-row").Attr("data-id")
	d = s.page(next)
	second, _ := testid(d, "program-row").Attr("data-id")
	if testid(d, "program-row").Length() != 1 || second == first || testid(d, "next-page").Length() != 0 {
		t.Fatalf("second page: %d rows (%s after %s), next link %d", testid(d, "program-row").Length(), second, first, testid(d, "next-page").Length())
	}
}

func TestDashProgramsCreateInvalid(t *testing.T) {
	e := newEnv(t)
	s := e.signIn(t)
	s.page("/programs/new")
	form := url.Values{"name": {""}, "slug": {"Bad Slug"}, "destinationUrl": {"ftp://shop.example.com"}, "currency": {"xyz"},
		"holdingPeriodDays": {"-1"}, "cookieDays": {"0"}, "minPayout": {"10"}}
	r := s.post("/programs", form)
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", r.Status)
	}
	d := r.Doc(t)
	for _, f := range []string{"name", "slug", "destinationUrl", "currency", "holdingPeriodDays", "cookieDays"} {
		if testid(d, "error-"+f).Length() != 1 {
			t.Errorf("no inline error for %s", f)
		}
	}
	if testid(d, "form-error").Length() != 1 {
		t.Error("no summary above the form")
	}
	if v, _ := d.Find("#f-destination").Attr("value"); v != "ftp://shop.example.com" {
		t.Errorf("destination not kept: %q", v)
	}
	if v, _ := d.Find("#f-slug").Attr("value"); v != "Bad Slug" {
		t.Errorf("slug not kept: %q", v)
	}

	// Amounts respect the currency's decimals: none for JPY, and no thousands separators.
	for _, tc := range []struct{ currency, amount string }{{"JPY", "10.5"}, {"USD", "1,000"}, {"USD", "1.005"}, {"USD", "-5"}} {
		f := progValidProgram("Amounts")
		f.Set("currency", tc.currency)
		f.Set("minPayout", tc.amount)
		r := s.post("/programs", f)
		if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "error-minPayout").Length() != 1 {
			t.Errorf("minimum payout %q %s: status %d, want 422 with an inline error", tc.amount, tc.currency, r.Status)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM programs`); n != 0 {
		t.Fatalf("%d programs stored after invalid forms", n)
	}

	// A taken slug is a field error too.
	e.program(t, map[string]any{"slug": "taken"})
	f := progValidProgram("Clash")
	f.Set("slug", "taken")
	r = s.post("/programs", f)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "error-slug").Text(), "already uses") {
		t.Fatalf("taken slug: status %d\n%s", r.Status, r.Body)
	}
}

func TestDashProgramsEdit(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, map[string]any{"slug": "edit-me", "currency": "JPY"})
	e.program(t, map[string]any{"slug": "other"})
	id := str(p, "id")
	s := e.signIn(t)
	d := s.page("/programs/" + id)
	if v, _ := d.Find("#f-slug").Attr("value"); v != "edit-me" {
		t.Fatalf("form not filled: slug %q", v)
	}
	form := url.Values{"name": {"Renamed"}, "slug": {"renamed"}, "destinationUrl": {"https://example.org/x"}, "currency": {"JPY"},
		"holdingPeriodDays": {"0"}, "cookieDays": {"1"}, "minPayout": {"5000"}}
	loc := progFollow(t, s.post("/programs/"+id, form), "/programs/"+id)
	d = s.page(loc)
	if got := testid(d, "flash").Text(); !strings.Contains(got, "Settings saved") {
		t.Fatalf("flash %q", got)
	}
	if got := testid(d, "page-title").Text(); got != "Renamed" {
		t.Fatalf("title %q", got)
	}
	if v, _ := d.Find("#f-minpayout").Attr("value"); v != "5000" {
		t.Fatalf("minimum payout shown as %q", v)
	}
	got, _ := e.Store.Program(context.Background(), e.WS.Workspace.ID, id)
	if got.Name != "Renamed" || got.Slug != "renamed" || got.HoldingPeriodDays != 0 || got.CookieDays != 1 ||
		got.MinPayoutCents != 5000 || got.AutoApprove || got.DestinationURL != "https://example.org/x" {
		t.Fatalf("stored %+v", got)
	}

	// Errors keep what was typed and change nothing.
	form.Set("slug", "other")
	form.Set("cookieDays", "9999")
	r := s.post("/programs/"+id, form)
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.Status)
	}
	d = r.Doc(t)
	if testid(d, "error-cookieDays").Length() != 1 {
		t.Fatal("no cookie days error")
	}
	if v, _ := d.Find("#f-cookie").Attr("value"); v != "9999" {
		t.Fatalf("typed value lost: %q", v)
	}
	form.Set("cookieDays", "30")
	r = s.post("/programs/"+id, form)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "error-slug").Text(), "already uses") {
		t.Fatalf("taken slug: status %d", r.Status)
	}
	if again, _ := e.Store.Program(context.Background(), e.WS.Workspace.ID, id); again.Slug != "renamed" || again.CookieDays != 1 {
		t.Fatalf("a failed edit changed the program: %+v", again)
	}
}

func TestDashProgramsGroups(t *testing.T) {
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"holdingPeriodDays": 30}), "id")
	s := e.signIn(t)
	d := s.page("/programs/" + id)
	if testid(d, "group-add-form").Length() != 1 {
		t.Fatal("no add-group form")
	}
	progFollow(t, s.post("/programs/"+id+"/groups", url.Values{"name": {"Influencers"}}), "/programs/"+id)
	progFollow(t, s.post("/programs/"+id+"/groups", url.Values{"name": {"VIP"}, "holdingPeriodDays": {"7"}}), "/programs/"+id)
	d = s.page("/programs/" + id + "?done=group-added")
	if !strings.Contains(testid(d, "flash").Text(), "Group added") {
		t.Fatal("no confirmation")
	}
	rows := testid(d, "group-row")
	if rows.Length() != 2 {
		t.Fatalf("%d group rows", rows.Length())
	}
	holding := map[string]string{}
	rows.Each(func(_ int, r *goquery.Selection) {
		holding[r.Find(`[data-testid="group-name"]`).Text()] = r.Find(`[data-testid="group-holding"]`).Text()
	})
	if holding["Influencers"] != "30 days (program's)" || holding["VIP"] != "7 days" {
		t.Fatalf("holding periods %v", holding)
	}

	// A duplicate name and a bad holding period: inline errors, nothing stored.
	r := s.post("/programs/"+id+"/groups", url.Values{"name": {"VIP"}, "holdingPeriodDays": {"x"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", r.Status)
	}
	form := testid(r.Doc(t), "group-add-form")
	if form.Find(`[data-testid="error-holdingPeriodDays"]`).Length() != 1 {
		t.Fatal("no holding period error")
	}
	r = s.post("/programs/"+id+"/groups", url.Values{"name": {"VIP"}})
	if !strings.Contains(testid(r.Doc(t), "group-add-form").Find(`[data-testid="error-name"]`).Text(), "already has a group") {
		t.Fatalf("duplicate name: status %d", r.Status)
	}

	// With HTMX the form swaps itself: errors come back as the form alone,
	// success as an HX-Redirect.
	r = s.htmx(http.MethodPost, "/programs/"+id+"/groups", url.Values{"name": {""}})
	if r.Status != http.StatusUnprocessableEntity || strings.Contains(string(r.Body), "<html") ||
		testid(r.Doc(t), "group-add-form").Find(`[data-testid="error-name"]`).Length() != 1 {
		t.Fatalf("HTMX error: status %d\n%s", r.Status, r.Body)
	}
	r = s.htmx(http.MethodPost, "/programs/"+id+"/groups", url.Values{"name": {"Bloggers"}})
	if r.Header.Get("HX-Redirect") == "" {
		t.Fatalf("HTMX success: status %d, no HX-Redirect", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM partner_groups WHERE program_id = $1`, id); n != 3 {
		t.Fatalf("%d groups, want 3", n)
	}

	// Rename a group and drop its own holding period.
	var vip string
	rows.Each(func(_ int, r *goquery.Selection) {
		if r.Find(`[data-testid="group-name"]`).Text() == "VIP" {
			vip, _ = r.Attr("data-id")
		}
	})
	progFollow(t, s.post("/programs/"+id+"/groups/"+vip, url.Values{"name": {"Gold"}, "holdingPeriodDays": {""}}), "/programs/"+id)
	g, err := e.Store.Group(context.Background(), e.WS.Workspace.ID, vip)
	if err != nil || g.Name != "Gold" || g.HoldingPeriodDays != nil {
		t.Fatalf("group after edit: %+v, %v", g, err)
	}
	r = s.post("/programs/"+id+"/groups/"+vip, url.Values{"name": {"Influencers"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("rename onto a taken name: status %d", r.Status)
	}
	edit := r.Doc(t).Find(`tr[data-id="` + vip + `"] [data-testid="group-edit-form"]`)
	if !strings.Contains(edit.Find(`[data-testid="error-name"]`).Text(), "already has a group") {
		t.Fatal("the rename error is not shown in that group's form")
	}
}

func TestDashProgramsRewards(t *testing.T) {
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"currency": "USD"}), "id")
	gid := str(e.group(t, id, map[string]any{"name": "Coupon sites"}), "id")
	s := e.signIn(t)
	d := s.page("/programs/" + id)
	if !strings.Contains(progText(testid(d, "reward-primer")), "Percentage or flat") {
		t.Fatal("the reward form's explanation is missing")
	}
	for _, key := range []string{"default-sale", gid + "-sale", gid + "-lead"} {
		if progSlot(d, key).Find(`[data-testid="reward-form"]`).Length() != 1 {
			t.Fatalf("slot %s has no form", key)
		}
	}

	add := func(form url.Values) reply {
		t.Helper()
		return s.post("/programs/"+id+"/rewards", form)
	}
	progFollow(t, add(url.Values{"event": {"sale"}, "type": {"percentage"}, "percent": {"20"}, "amount": {"ignored"},
		"interval": {"recurring"}, "durationMonths": {"12"}}), "/programs/"+id)
	progFollow(t, add(url.Values{"event": {"sale"}, "groupId": {gid}, "type": {"flat"}, "amount": {"50.00"},
		"interval": {"one_time"}}), "/programs/"+id)
	progFollow(t, add(url.Values{"event": {"lead"}, "groupId": {gid}, "type": {"flat"}, "amount": {"5"},
		"interval": {"one_time"}}), "/programs/"+id)
	d = s.page("/programs/" + id)
	for key, want := range map[string]string{
		"default-sale": "20% of every payment for 12 months",
		gid + "-sale":  "$50.00 once per customer",
		gid + "-lead":  "$5.00 per lead, once per customer",
	} {
		if got := progText(progSlot(d, key).Find(`[data-testid="reward-words"]`)); got != want {
			t.Errorf("slot %s says %q, want %q", key, got, want)
		}
	}
	if got := progText(testid(d, "groups-table").Find(`[data-testid="group-row"]`)); !strings.Contains(got, "$50.00 once per customer") {
		t.Errorf("groups table row %q lacks the sale reward", got)
	}
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE program_id = $1 AND amount_cents = 5000 AND type = 'flat'`, id); n != 1 {
		t.Fatalf("the $50.00 reward is not stored as 5000 cents")
	}

	// A second reward in a filled slot: an inline message, not a 500.
	r := add(url.Values{"event": {"sale"}, "type": {"percentage"}, "percent": {"30"}, "interval": {"one_time"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate slot: status %d", r.Status)
	}
	if got := progSlot(r.Doc(t), "default-sale").Find(`[data-testid="reward-form-error"]`).Text(); !strings.Contains(got, "already has a sale reward") {
		t.Fatalf("duplicate slot message %q", got)
	}
	r = s.htmx(http.MethodPost, "/programs/"+id+"/rewards", url.Values{"event": {"lead"}, "groupId": {gid}, "type": {"flat"},
		"amount": {"1"}, "interval": {"one_time"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "reward-form-error").Text(), "already has a lead reward") {
		t.Fatalf("duplicate slot over HTMX: status %d\n%s", r.Status, r.Body)
	}

	// The API's rules: lead rewards are flat, one-time and in a group.
	for name, tc := range map[string]struct {
		form  url.Values
		field string
	}{
		"percent zero":        {url.Values{"event": {"sale"}, "groupId": {gid}, "type": {"percentage"}, "percent": {"0"}, "interval": {"one_time"}}, "percent"},
		"percent three dp":    {url.Values{"event": {"sale"}, "groupId": {gid}, "type": {"percentage"}, "percent": {"1.255"}, "interval": {"one_time"}}, "percent"},
		"flat without amount": {url.Values{"event": {"sale"}, "groupId": {gid}, "type": {"flat"}, "interval": {"one_time"}}, "amount"},
		"no type":             {url.Values{"event": {"sale"}, "groupId": {gid}, "interval": {"one_time"}}, "type"},
		"no interval":         {url.Values{"event": {"sale"}, "groupId": {gid}, "type": {"flat"}, "amount": {"1"}}, "interval"},
		"duration zero":       {url.Values{"event": {"sale"}, "groupId": {gid}, "type": {"flat"}, "amount": {"1"}, "interval": {"recurring"}, "durationMonths": {"0"}}, "durationMonths"},
		"percentage lead":     {url.Values{"event": {"lead"}, "groupId": {gid}, "type": {"percentage"}, "percent": {"5"}, "interval": {"one_time"}}, "type"},
		"recurring lead":      {url.Values{"event": {"lead"}, "groupId": {gid}, "type": {"flat"}, "amount": {"5"}, "interval": {"recurring"}}, "interval"},
	} {
		r := s.htmx(http.MethodPost, "/programs/"+id+"/rewards", tc.form)
		if r.Status != http.StatusUnprocessableEntity || testid(r.Doc(t), "error-"+tc.field).Length() != 1 {
			t.Errorf("%s: status %d, want 422 with an error on %s\n%s", name, r.Status, tc.field, r.Body)
		}
	}
	r = add(url.Values{"event": {"lead"}, "type": {"flat"}, "amount": {"5"}, "interval": {"one_time"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "flash-error").Text(), "belongs to a group") {
		t.Fatalf("program-level lead reward: status %d", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE program_id = $1`, id); n != 3 {
		t.Fatalf("%d rewards, want 3", n)
	}

	// Change the default reward to lifetime recurring, then delete the lead reward.
	rid, _ := progSlot(d, "default-sale").Find(`[data-testid="reward-form"]`).Attr("action")
	loc := progFollow(t, s.post(rid, url.Values{"type": {"percentage"}, "percent": {"12.5"}, "interval": {"recurring"}, "durationMonths": {""}}), "/programs/"+id)
	d = s.page(loc)
	if got := progText(progSlot(d, "default-sale").Find(`[data-testid="reward-words"]`)); got != "12.5% of every payment for as long as the customer pays" {
		t.Fatalf("after edit: %q", got)
	}
	if !strings.Contains(testid(d, "flash").Text(), "Reward saved") {
		t.Fatal("no confirmation after the edit")
	}
	r = s.post(rid, url.Values{"type": {"flat"}, "amount": {"0"}, "interval": {"one_time"}})
	if r.Status != http.StatusUnprocessableEntity || progSlot(r.Doc(t), "default-sale").Find(`[data-testid="error-amount"]`).Length() != 1 {
		t.Fatalf("invalid edit: status %d", r.Status)
	}
	del, _ := progSlot(d, gid+"-lead").Find(`[data-testid="reward-delete-form"]`).Attr("action")
	progFollow(t, s.post(del, nil), "/programs/"+id)
	d = s.page("/programs/" + id)
	if progSlot(d, gid+"-lead").Find(`[data-testid="reward-empty"]`).Length() != 1 {
		t.Fatal("the deleted lead reward is still shown")
	}

	// The HTMX preview says in words what the form would pay.
	r = s.htmx(http.MethodGet, "/programs/"+id+"/reward-preview?"+url.Values{"event": {"sale"}, "groupId": {gid}, "type": {"flat"},
		"amount": {"49"}, "interval": {"recurring"}, "durationMonths": {"3"}}.Encode(), nil)
	if r.Status != http.StatusOK || progText(testid(r.Doc(t), "reward-preview")) != "Partners earn $49.00 on every payment for 3 months." {
		t.Fatalf("preview: %d %q", r.Status, progText(testid(r.Doc(t), "reward-preview")))
	}
}

func TestDashProgramsZeroDecimalCurrency(t *testing.T) {
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"currency": "JPY"}), "id")
	s := e.signIn(t)
	s.page("/programs/" + id)
	r := s.post("/programs/"+id+"/rewards", url.Values{"event": {"sale"}, "type": {"flat"}, "amount": {"500.5"}, "interval": {"one_time"}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(testid(r.Doc(t), "error-amount").Text(), "no minor unit") {
		t.Fatalf("¥500.5: status %d", r.Status)
	}
	progFollow(t, s.post("/programs/"+id+"/rewards", url.Values{"event": {"sale"}, "type": {"flat"}, "amount": {"500"}, "interval": {"one_time"}}), "/programs/"+id)
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE program_id = $1 AND amount_cents = 500`, id); n != 1 {
		t.Fatal("¥500 is not stored as 500 minor units")
	}
	d := s.page("/programs/" + id)
	if got := progText(progSlot(d, "default-sale").Find(`[data-testid="reward-words"]`)); got != "¥500 once per customer" {
		t.Fatalf("words %q", got)
	}
	if v, _ := progSlot(d, "default-sale").Find(`input[name="amount"]`).Attr("value"); v != "500" {
		t.Fatalf("amount field %q", v)
	}
}

func TestDashProgramsFinanceReadOnly(t *testing.T) {
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"name": "Read Only"}), "id")
	gid := str(e.group(t, id, nil), "id")
	rid := str(e.reward(t, id, nil), "id")
	hash, err := accounts.HashPassword("finance password")
	if err != nil {
		t.Fatal(err)
	}
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID, Email: "prog-fin@example.com", PasswordHash: hash, Role: "finance"}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	s := e.signInAs(t, "prog-fin@example.com", "finance password")
	d := s.page("/programs")
	if testid(d, "new-program").Length() != 0 || testid(d, "program-row").Length() != 1 {
		t.Fatal("finance sees a New program button or not the program")
	}
	d = s.page("/programs/" + id)
	page := testid(d, "program-page")
	if n := page.Find("form").Length(); n != 0 {
		t.Fatalf("finance sees %d forms on the program page", n)
	}
	if testid(d, "read-only").Length() != 1 || testid(d, "program-facts").Length() != 1 {
		t.Fatal("no read-only settings")
	}
	if got := progText(progSlot(d, "default-sale").Find(`[data-testid="reward-words"]`)); got != "10% of the first payment, once per customer" {
		t.Fatalf("reward words %q", got)
	}
	if testid(d, "group-row").Length() != 1 {
		t.Fatal("groups not shown")
	}
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/programs/new", nil},
		{"POST", "/programs", progValidProgram("Sneaky")},
		{"POST", "/programs/" + id, progValidProgram("Sneaky")},
		{"POST", "/programs/" + id + "/groups", url.Values{"name": {"Sneaky"}}},
		{"POST", "/programs/" + id + "/groups/" + gid, url.Values{"name": {"Sneaky"}}},
		{"POST", "/programs/" + id + "/rewards", url.Values{"event": {"lead"}, "groupId": {gid}, "type": {"flat"}, "amount": {"1"}, "interval": {"one_time"}}},
		{"POST", "/rewards/" + rid, url.Values{"type": {"flat"}, "amount": {"1"}, "interval": {"one_time"}}},
		{"POST", "/rewards/" + rid + "/delete", nil},
	} {
		var r reply
		if tc.method == "GET" {
			r = s.get(tc.path)
		} else {
			r = s.post(tc.path, tc.form)
		}
		if r.Status != http.StatusForbidden || !strings.Contains(testid(r.Doc(t), "error-message").Text(), "Only the workspace owner") {
			t.Errorf("%s %s as finance: status %d, want 403 from the owner check", tc.method, tc.path, r.Status)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE program_id = $1`, id); n != 1 {
		t.Fatalf("%d rewards after finance's attempts", n)
	}
	if n := e.count(t, `SELECT count(*) FROM programs WHERE name = 'Sneaky' OR id = $1 AND name <> 'Read Only'`, id); n != 0 {
		t.Fatal("finance changed a program")
	}
}

func TestDashProgramsWorkspaceIsolation(t *testing.T) {
	e := newEnv(t)
	a := e.program(t, map[string]any{"name": "Acme Secret Program"})
	aid := str(a, "id")
	agid := str(e.group(t, aid, nil), "id")
	arid := str(e.reward(t, aid, nil), "id")
	other, otherKey := e.newWorkspace("Globex")
	bid := str(e.programAs(t, otherKey, map[string]any{"name": "Globex Program"}), "id")

	b := e.signInAs(t, other.Owner.Email, "correct horse battery")
	d := b.page("/programs")
	if strings.Contains(d.Text(), "Acme Secret Program") || testid(d, "program-row").Length() != 1 {
		t.Fatalf("Globex's list: %q", progText(testid(d, "programs-table")))
	}
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/programs/" + aid, nil},
		{"GET", "/programs/prog_doesnotexist", nil},
		{"POST", "/programs/" + aid, progValidProgram("Hijack")},
		{"POST", "/programs/" + aid + "/groups", url.Values{"name": {"Hijack"}}},
		{"POST", "/programs/" + aid + "/groups/" + agid, url.Values{"name": {"Hijack"}}},
		{"POST", "/programs/" + aid + "/rewards", url.Values{"event": {"sale"}, "type": {"flat"}, "amount": {"1"}, "interval": {"one_time"}}},
		{"POST", "/programs/" + bid + "/groups/" + agid, url.Values{"name": {"Hijack"}}},
		{"POST", "/programs/" + bid + "/rewards", url.Values{"event": {"lead"}, "groupId": {agid}, "type": {"flat"}, "amount": {"1"}, "interval": {"one_time"}}},
		{"POST", "/rewards/" + arid, url.Values{"type": {"flat"}, "amount": {"1"}, "interval": {"one_time"}}},
		{"POST", "/rewards/" + arid + "/delete", nil},
	} {
		var r reply
		if tc.method == "GET" {
			r = b.get(tc.path)
		} else {
			r = b.post(tc.path, tc.form)
		}
		if r.Status != http.StatusNotFound || testid(r.Doc(t), "error-page").Length() != 1 {
			t.Errorf("%s %s from another workspace: status %d, want the 404 page", tc.method, tc.path, r.Status)
		}
		if strings.Contains(string(r.Body), "Acme Secret Program") {
			t.Errorf("%s %s leaks the other workspace's program", tc.method, tc.path)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE id = $1 AND type = 'percentage'`, arid); n != 1 {
		t.Fatal("Acme's reward was changed or deleted from Globex")
	}
	if n := e.count(t, `SELECT count(*) FROM partner_groups WHERE name = 'Hijack'`); n != 0 {
		t.Fatal("Globex created or renamed a group in Acme's program")
	}
}

// TestDashProgramsBrowser clicks through the HTMX parts in chromium: the
// reward form follows the chosen options and says what it pays, a reward
// added over HTMX lands on the reloaded page, and a failed group form
// shows its error in place without leaving the page.
func TestDashProgramsBrowser(t *testing.T) {
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"name": "Browser Program", "currency": "USD"}), "id")
	tab := browsertest.New(t, browsertest.Session)
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Errorf("%s: %v", what, err)
			browsertest.Screenshot(t, tab, "programs-failed")
			t.FailNow()
		}
	}
	wait := func(what, js string) {
		t.Helper()
		run(what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(browsertest.Wait)))
	}
	run("sign in",
		chromedp.Navigate(e.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), e.WS.Owner.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
		chromedp.Navigate(e.URL+"/programs/"+id),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="program-page"]`)),
		chromedp.Click(chromedp.CSS(`[data-slot="default-sale"] [data-testid="reward-toggle"]`)),
		chromedp.Click(chromedp.CSS(`#rf-default-sale [data-testid="type-flat"]`)),
	)
	wait("the percentage option dims", `getComputedStyle(document.querySelector('#rf-default-sale [data-testid="type-percentage"]').closest('.choice')).opacity === '0.6'`)
	run("type an amount", chromedp.SendKeys(chromedp.CSS("#r-default-sale-amount"), "49\t"))
	wait("the preview says what it pays", `document.querySelector('#rf-default-sale [data-testid="reward-preview"]').textContent.includes('$49.00 once per customer')`)
	run("add the reward",
		chromedp.Click(chromedp.CSS(`[data-slot="default-sale"] [data-testid="reward-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	wait("the reloaded page shows the reward", `(document.querySelector('[data-slot="default-sale"] [data-testid="reward-words"]') || {}).textContent === '$49.00 once per customer'`)
	run("submit an empty group",
		chromedp.Evaluate[chromedp.Void](`window.progMarker = 1`),
		chromedp.Click(chromedp.CSS(`[data-testid="group-add"]`)),
	)
	wait("the error shows in place", `!!document.querySelector('[data-testid="group-add-form"] [data-testid="error-name"]') && window.progMarker === 1`)
	browsertest.Screenshot(t, tab, "programs-detail")
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE program_id = $1 AND amount_cents = 4900`, id); n != 1 {
		t.Fatalf("%d $49.00 rewards stored", n)
	}
}

// TestDashRewardFormKeepsInputDuringPreview holds the preview request in
// the browser while the person goes on clicking and typing, then lets it
// through: what they chose and typed in the meantime must still be there,
// and be what is saved. (When the whole fieldset was re-rendered over HTMX,
// the late reply put back the options of the moment the request left, and a
// reward was saved as one-time.)
func TestDashRewardFormKeepsInputDuringPreview(t *testing.T) {
	e := newEnv(t)
	id := str(e.program(t, map[string]any{"name": "Held Program", "currency": "USD"}), "id")
	tab := browsertest.New(t, browsertest.Session)
	const bound = browsertest.Wait
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			browsertest.Screenshot(t, tab, "reward-held-failed")
			t.Fatalf("%s: %v", what, err)
		}
	}
	run("sign in",
		chromedp.Navigate(e.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), e.WS.Owner.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
		chromedp.Navigate(e.URL+"/programs/"+id),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="program-page"]`)),
		chromedp.Click(chromedp.CSS(`[data-slot="default-sale"] [data-testid="reward-toggle"]`)),
	)

	// Every request the form makes while it is being filled in is paused in
	// the browser until continueAll lets it through.
	var (
		mu     sync.Mutex
		paused []fetch.RequestID
	)
	if err := chromedp.Listen(tab, func(ev any) {
		if p, ok := ev.(*fetch.EventRequestPaused); ok {
			mu.Lock()
			paused = append(paused, p.RequestID)
			mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	heldCount := func() int { mu.Lock(); defer mu.Unlock(); return len(paused) }
	if _, err := chromedp.Call(tab, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/programs/" + id + "/reward-*"}}}); err != nil {
		t.Fatal(err)
	}
	continueAll := func() {
		mu.Lock()
		ids := paused
		paused = nil
		mu.Unlock()
		for _, rid := range ids {
			// A request the page has aborted in the meantime is gone: its error is expected.
			_, _ = chromedp.Call(tab, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: rid})
		}
	}

	run("choose a flat amount", chromedp.Click(chromedp.CSS(`#rf-default-sale [data-testid="type-flat"]`)))
	// Wait until the browser has sent the preview request and it is held.
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(bound); !cond(); {
			if time.Now().After(deadline) {
				t.Fatalf("waited %v for %s", bound, what)
			}
			time.Sleep(20 * time.Millisecond) // the polling interval; the bound is above
		}
	}
	wait("the form's preview request", func() bool { return heldCount() > 0 })
	// While it is held: more choices and typing.
	run("go on while the preview is in flight",
		chromedp.SendKeys(chromedp.CSS("#r-default-sale-amount"), "49"),
		chromedp.Click(chromedp.CSS(`#rf-default-sale [data-testid="interval-recurring"]`)),
		chromedp.SendKeys(chromedp.CSS("#r-default-sale-duration"), "12"),
	)
	// Let every held request through, as many times as the form sends one,
	// until the preview speaks of the last choices.
	const last = `(document.querySelector('#rf-default-sale [data-testid="reward-preview"]')||{textContent:''}).textContent.includes('$49.00 on every payment for 12 months')`
	wait("the preview of the last choices", func() bool {
		continueAll()
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](last))
		return err == nil && ok
	})
	if _, err := chromedp.Call(tab, fetch.Disable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	continueAll()
	state, err := chromedp.Run(tab, chromedp.Evaluate[[]any](`[
		document.querySelector('#rf-default-sale [data-testid="type-flat"]').checked,
		document.querySelector('#rf-default-sale [data-testid="interval-recurring"]').checked,
		document.querySelector('#r-default-sale-amount').value,
		document.querySelector('#r-default-sale-duration').value]`))
	if err != nil {
		t.Fatal(err)
	}
	if want := []any{true, true, "49", "12"}; fmt.Sprint(state) != fmt.Sprint(want) {
		browsertest.Screenshot(t, tab, "reward-held-reset")
		t.Fatalf("after the held preview came back the form holds %v, want %v (flat, recurring, 49, 12)", state, want)
	}
	run("save", chromedp.Click(chromedp.CSS(`[data-slot="default-sale"] [data-testid="reward-save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)))
	if n := e.count(t, `SELECT count(*) FROM rewards WHERE program_id = $1 AND type = 'flat' AND amount_cents = 4900
		AND interval = 'recurring' AND duration_months = 12`, id); n != 1 {
		t.Fatalf("%d flat recurring $49.00 12-month rewards saved, want 1", n)
	}
}
