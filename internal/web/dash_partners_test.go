package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// partnersFinance adds a finance user to e's workspace and signs them in.
func partnersFinance(t *testing.T, e *env) *session {
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

// partnersClick opens /r/{slug} like a browser with the given user agent
// and returns the click id from the redirect.
func partnersClick(t *testing.T, e *env, slug, userAgent string, header http.Header) string {
	t.Helper()
	h := http.Header{"User-Agent": {userAgent}}
	for k, v := range header {
		h[k] = v
	}
	r := e.callWith(http.MethodGet, "/r/"+slug, "", nil, h)
	if r.Status != http.StatusFound {
		t.Fatalf("GET /r/%s: %d", slug, r.Status)
	}
	loc, err := url.Parse(r.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query().Get("pref_cid")
}

func TestDashPartnersSearchAndFilter(t *testing.T) {
	e := newEnv(t)
	p1 := e.program(t, map[string]any{"name": "Shoes"})
	p2 := e.program(t, map[string]any{"name": "Hats"})
	alice := e.partner(t, str(p1, "id"), map[string]any{"email": "alice.zebra@blog.example", "name": "Alice"})
	e.partner(t, str(p1, "id"), map[string]any{"email": "bob@news.example", "name": "Bob"})
	carol := e.partner(t, str(p2, "id"), map[string]any{"email": "carol@zines.example", "name": "Carol", "status": "pending"})
	s := e.signIn(t)

	d := s.page("/partners")
	if n := testid(d, "partner-row").Length(); n != 3 {
		t.Fatalf("%d partner rows, want 3", n)
	}
	if testid(d, "add-partner").Length() != 1 {
		t.Fatal("no Add partner button for the owner")
	}
	// Newest first.
	if got := testid(d, "partner-email").First().Text(); got != "carol@zines.example" {
		t.Fatalf("first row %q, want the newest partner", got)
	}

	// A fragment of the email finds Alice and nobody else.
	d = s.page("/partners?q=ZEBRA")
	rows := testid(d, "partner-row")
	if rows.Length() != 1 || testid(d, "partner-email").Text() != "alice.zebra@blog.example" {
		t.Fatalf("search zebra: %d rows %q", rows.Length(), testid(d, "partner-email").Text())
	}
	if id, _ := rows.Attr("data-id"); id != str(alice, "id") {
		t.Fatalf("search found %s, want %s", id, str(alice, "id"))
	}
	if got := testid(d, "partner-search").AttrOr("value", ""); got != "ZEBRA" {
		t.Fatalf("the search box lost the query: %q", got)
	}
	if link := testid(d, "partner-link").Text(); link != "http://partli.test/r/"+str(alice, "slug") {
		t.Fatalf("link %q", link)
	}
	// LIKE wildcards are searched for literally.
	if n := testid(s.page("/partners?q=%25"), "partner-row").Length(); n != 0 {
		t.Fatalf("q=%% matched %d partners", n)
	}

	// Program and status filters.
	d = s.page("/partners?programId=" + str(p2, "id"))
	if rows := testid(d, "partner-row"); rows.Length() != 1 || rows.AttrOr("data-id", "") != str(carol, "id") {
		t.Fatalf("program filter: %d rows", rows.Length())
	}
	d = s.page("/partners?status=pending")
	if rows := testid(d, "partner-row"); rows.Length() != 1 || testid(d, "status").Text() != "pending" {
		t.Fatalf("status filter: %d rows", rows.Length())
	}
	d = s.page("/partners?q=nobody-at-all")
	if testid(d, "empty").Length() != 1 {
		t.Fatal("no empty state for a search without results")
	}
}

func TestDashPartnersPagination(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	for range 52 {
		e.partner(t, str(p, "id"), nil)
	}
	s := e.signIn(t)
	d := s.page("/partners?programId=" + str(p, "id"))
	if n := testid(d, "partner-row").Length(); n != 50 {
		t.Fatalf("first page: %d rows, want 50", n)
	}
	next, ok := testid(d, "next-page").Attr("href")
	if !ok || !strings.Contains(next, "programId="+str(p, "id")) {
		t.Fatalf("next page link %q keeps no filter", next)
	}
	d2 := s.page(next)
	if n := testid(d2, "partner-row").Length(); n != 2 {
		t.Fatalf("second page: %d rows, want 2", n)
	}
	if testid(d2, "next-page").Length() != 0 {
		t.Fatal("a next-page link on the last page")
	}
	seen := map[string]bool{}
	testid(d, "partner-row").Each(func(_ int, r *goquery.Selection) { seen[r.AttrOr("data-id", "")] = true })
	testid(d2, "partner-row").Each(func(_ int, r *goquery.Selection) {
		if seen[r.AttrOr("data-id", "")] {
			t.Fatalf("partner %s on both pages", r.AttrOr("data-id", ""))
		}
	})
	if r := s.get("/partners?cursor=garbage"); r.Status != http.StatusBadRequest {
		t.Fatalf("a broken cursor: %d, want 400", r.Status)
	}
}

func TestDashPartnersAdd(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, map[string]any{"name": "Shoes"})
	pid := str(p, "id")
	g := e.group(t, pid, map[string]any{"name": "VIP"})
	other := e.program(t, nil)
	otherGroup := e.group(t, str(other, "id"), nil)
	s := e.signIn(t)

	d := s.page("/partners/new")
	if testid(d, "partner-form").Length() != 1 {
		t.Fatal("no partner form")
	}
	// The group menu offers the chosen program's groups only, and none
	// before a program is chosen; HTMX swaps it when the program changes.
	groupsOffered := func(d *goquery.Document) []string {
		var out []string
		testid(d, "partner-group").Find("option").Each(func(_ int, o *goquery.Selection) {
			if v, _ := o.Attr("value"); v != "" {
				out = append(out, o.Text())
			}
		})
		return out
	}
	if got := groupsOffered(d); len(got) != 0 || testid(d, "partner-group").AttrOr("disabled", "no") == "no" {
		t.Fatalf("before a program is chosen the group menu offers %v (disabled: %v)", got, testid(d, "partner-group").AttrOr("disabled", "no"))
	}
	if got := groupsOffered(s.page("/partners/new?programId=" + pid)); len(got) != 1 || got[0] != "VIP" {
		t.Fatalf("for Shoes the group menu offers %v, want [VIP]", got)
	}
	r0 := s.htmx(http.MethodGet, "/partners/new/groups?programId="+str(other, "id"), nil)
	if got := groupsOffered(r0.Doc(t)); r0.Status != http.StatusOK || len(got) != 1 || got[0] != str(otherGroup, "name") ||
		testid(r0.Doc(t), "partner-group-field").Length() != 1 || testid(r0.Doc(t), "page-title").Length() != 0 {
		t.Fatalf("HTMX group menu for the other program: %d %v", r0.Status, got)
	}

	// Everything missing: 422, each field says what is wrong, nothing stored.
	r := s.post("/partners", url.Values{})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("empty form: %d", r.Status)
	}
	d = r.Doc(t)
	if n := d.Find(".field-error").Length(); n != 3 {
		t.Fatalf("%d field errors, want 3 (program, name, email)", n)
	}
	// What was typed is kept; a bad email and a bad slug are explained.
	r = s.post("/partners", url.Values{"programId": {pid}, "name": {"Jane Doe"}, "email": {"not-an-email"}, "slug": {"Bad Slug"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("bad email: %d", r.Status)
	}
	d = r.Doc(t)
	if got := testid(d, "partner-name-input").AttrOr("value", ""); got != "Jane Doe" {
		t.Fatalf("name not kept: %q", got)
	}
	if sel, _ := d.Find(`#programId option[selected]`).Attr("value"); sel != pid {
		t.Fatalf("program not kept: %q", sel)
	}
	if txt := d.Find(".field-error").Text(); !strings.Contains(txt, "email address") || !strings.Contains(txt, "lower-case") {
		t.Fatalf("errors %q", txt)
	}
	// A group of another program is refused.
	r = s.post("/partners", url.Values{"programId": {pid}, "name": {"Jane"}, "email": {"jane@example.com"}, "groupId": {str(otherGroup, "id")}})
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(r.Doc(t).Find(".field-error").Text(), "No such group") {
		t.Fatalf("other program's group: %d", r.Status)
	}
	if n := e.count(t, `SELECT count(*) FROM partners WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 0 {
		t.Fatalf("%d partners stored by refused forms", n)
	}

	// A good form: 303 to the partner's page, with a generated slug and the group.
	r = s.post("/partners", url.Values{"programId": {pid}, "name": {"Jane Doe"}, "email": {"jane@example.com"}, "groupId": {str(g, "id")}})
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/partners/ptn_") {
		t.Fatalf("add: %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	d = s.page(r.Header.Get("Location"))
	if testid(d, "flash").Length() != 1 {
		t.Fatal("no confirmation after adding a partner")
	}
	if got := testid(d, "referral-link").AttrOr("value", ""); got != "http://partli.test/r/jane-doe" {
		t.Fatalf("link %q, want a slug made from the name", got)
	}
	if got := testid(d, "partner-group").Text(); !strings.Contains(got, "VIP") {
		t.Fatalf("group %q", got)
	}
	if got := strings.TrimSpace(testid(d, "partner-status").Text()); got != "approved" {
		t.Fatalf("status %q", got)
	}

	// Same email in the same program: 409, shown on the email field.
	r = s.post("/partners", url.Values{"programId": {pid}, "name": {"Jane again"}, "email": {"JANE@example.com"}})
	if r.Status != http.StatusConflict || !strings.Contains(r.Doc(t).Find(".field-error").Text(), "already a partner") {
		t.Fatalf("duplicate email: %d", r.Status)
	}
	// A taken slug: 409 on the slug field. Without a slug, the same name gets a free one.
	r = s.post("/partners", url.Values{"programId": {pid}, "name": {"Joe"}, "email": {"joe@example.com"}, "slug": {"jane-doe"}})
	if r.Status != http.StatusConflict || !strings.Contains(r.Doc(t).Find(".field-error").Text(), "slug is taken") {
		t.Fatalf("taken slug: %d", r.Status)
	}
	r = s.post("/partners", url.Values{"programId": {pid}, "name": {"Jane Doe"}, "email": {"jane2@example.com"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("second Jane Doe: %d", r.Status)
	}
	if link := testid(s.page(r.Header.Get("Location")), "referral-link").AttrOr("value", ""); !strings.HasPrefix(link, "http://partli.test/r/jane-doe-") {
		t.Fatalf("second Jane Doe's link %q", link)
	}
	// HTMX form posts get HX-Redirect.
	r = s.htmx(http.MethodPost, "/partners", url.Values{"programId": {pid}, "name": {"Hx"}, "email": {"hx@example.com"}})
	if r.Header.Get("HX-Redirect") == "" {
		t.Fatalf("HTMX add: %d without HX-Redirect", r.Status)
	}
}

func TestDashPartnersDetailCountsAndClicks(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	pid := str(p, "id")
	e.reward(t, pid, nil)
	pa := e.partner(t, pid, nil)
	slug := str(pa, "slug")

	browser := "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"
	human := partnersClick(t, e, slug, browser, http.Header{"Cf-Ipcountry": {"DE"}, "X-Vercel-Ip-City": {"Berlin"}, "Referer": {"https://blog.example/post"}})
	partnersClick(t, e, slug, "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", nil)
	e.sale(t, e.Key, map[string]any{"clickId": human, "amountCents": 25000, "currency": "EUR"})
	e.call(http.MethodPost, "/api/track/lead", e.Key, map[string]any{"externalId": "lead-1", "customerExternalId": "cust-9", "clickId": human}).must(t, http.StatusOK)

	s := e.signIn(t)
	d := s.page("/partners/" + str(pa, "id"))
	for id, want := range map[string]string{"count-clicks": "2", "count-leads": "1", "count-sales": "1"} {
		if got := testid(d, id).Text(); got != want {
			t.Errorf("%s = %q, want %s", id, got, want)
		}
	}
	if got := testid(d, "referral-link").AttrOr("value", ""); got != "http://partli.test/r/"+slug {
		t.Fatalf("referral link %q", got)
	}
	if testid(d, "copy-link").Length() != 1 {
		t.Fatal("no copy button")
	}
	// 10 % of €250.00, per currency.
	if got := testid(d, "partner-total-earned").Text(); got != "€25.00" {
		t.Fatalf("earned %q, want €25.00", got)
	}
	if href := testid(d, "partner-commissions-link").AttrOr("href", ""); href != "/commissions?partnerId="+str(pa, "id") {
		t.Fatalf("commissions link %q", href)
	}
	if n := testid(d, "commission-row").Length(); n != 1 {
		t.Fatalf("%d recent commissions, want 1", n)
	}

	// The bot click carries an amber flag; the browser click none.
	rows := testid(d, "click-row")
	if rows.Length() != 2 {
		t.Fatalf("%d click rows", rows.Length())
	}
	flags := testid(d, "click-flag")
	if flags.Length() != 1 || flags.Text() != "bot" || !flags.HasClass("badge-amber") {
		t.Fatalf("flags: %d %q class=%q", flags.Length(), flags.Text(), flags.AttrOr("class", ""))
	}
	bot := rows.First() // newest first: the bot clicked last
	if bot.Find(`[data-testid="click-flag"]`).Length() != 1 || !strings.Contains(bot.Text(), "Googlebot/2.1") {
		t.Fatalf("bot row %q", bot.Text())
	}
	humanRow := rows.Last()
	if txt := humanRow.Text(); !strings.Contains(txt, "Berlin, DE") || !strings.Contains(txt, "blog.example") || !strings.Contains(txt, "Chrome on macOS") {
		t.Fatalf("browser row %q", txt)
	}
}

func TestDashPartnersClicksPagination(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	pa := e.partner(t, str(p, "id"), nil)
	for i := range 27 {
		// Distinct user agents; the velocity flag may appear after ten clicks from one address.
		partnersClick(t, e, str(pa, "slug"), "Mozilla/5.0 Firefox/"+strconv.Itoa(100+i), nil)
	}
	s := e.signIn(t)
	d := s.page("/partners/" + str(pa, "id"))
	if n := testid(d, "click-row").Length(); n != 25 {
		t.Fatalf("first page: %d clicks, want 25", n)
	}
	if n := testid(d, "click-flag").Length(); n == 0 {
		t.Fatal("27 quick clicks from one address carry no velocity flag")
	}
	next := testid(d, "next-page").AttrOr("href", "")
	if next == "" {
		t.Fatal("no Older link")
	}
	d = s.page(next)
	if n := testid(d, "click-row").Length(); n != 2 {
		t.Fatalf("second page: %d clicks, want 2", n)
	}
}

func TestDashPartnersMoveGroupAndStatus(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	g := e.group(t, str(p, "id"), map[string]any{"name": "Influencers"})
	otherGroup := e.group(t, str(e.program(t, nil), "id"), nil)
	pa := e.partner(t, str(p, "id"), nil)
	id := str(pa, "id")
	s := e.signIn(t)

	r := s.post("/partners/"+id+"/group", url.Values{"groupId": {str(g, "id")}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("move: %d", r.Status)
	}
	d := s.page(r.Header.Get("Location"))
	if !strings.Contains(testid(d, "flash").Text(), "Influencers") || !strings.Contains(testid(d, "partner-group").Text(), "Influencers") {
		t.Fatalf("after move: flash %q group %q", testid(d, "flash").Text(), testid(d, "partner-group").Text())
	}
	if sel := d.Find(`[data-testid="move-group-select"] option[selected]`).AttrOr("value", ""); sel != str(g, "id") {
		t.Fatalf("selected group %q", sel)
	}
	if got := e.call(http.MethodGet, "/api/partners/"+id, e.Key, nil).must(t, 200).Map(t)["groupId"]; got != str(g, "id") {
		t.Fatalf("API groupId %v", got)
	}
	// Another program's group: refused, nothing changes.
	if r := s.post("/partners/"+id+"/group", url.Values{"groupId": {str(otherGroup, "id")}}); r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("other program's group: %d", r.Status)
	}
	// Back to no group.
	s.post("/partners/"+id+"/group", url.Values{"groupId": {""}})
	if got := e.call(http.MethodGet, "/api/partners/"+id, e.Key, nil).must(t, 200).Map(t)["groupId"]; got != nil {
		t.Fatalf("API groupId %v after removing the group", got)
	}

	// Suspend, after saying what it does: the badge changes, and the link
	// still takes visitors to the merchant's site but records no click.
	if testid(d, "status-suspended").Length() != 1 || testid(d, "confirm-status-suspended").Length() != 1 {
		t.Fatal("no Suspend button, with its confirmation, for an approved partner")
	}
	if testid(d, "confirm-suspended").Find(`form`).Length() != 1 || testid(d, "confirm-suspended").Is("[open]") {
		t.Fatal("the suspend form is not behind a closed confirmation")
	}
	if got := testid(d, "confirm-suspended").Text(); !strings.Contains(got, "no longer credited") {
		t.Fatalf("the confirmation does not say what suspending does: %q", got)
	}
	clicksBefore := e.count(t, `SELECT count(*) FROM clicks WHERE partner_id = $1`, id)
	r = s.post("/partners/"+id+"/status", url.Values{"status": {"suspended"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("suspend: %d", r.Status)
	}
	d = s.page(r.Header.Get("Location"))
	if got := strings.TrimSpace(testid(d, "partner-status").Text()); got != "suspended" {
		t.Fatalf("status badge %q after suspending", got)
	}
	if !testid(d, "partner-status").Find(".badge").HasClass("badge-red") {
		t.Fatal("suspended badge is not red")
	}
	if r := e.call(http.MethodGet, "/r/"+str(pa, "slug"), "", nil); r.Status != http.StatusFound ||
		strings.Contains(r.Header.Get("Location"), "pref_cid") || !strings.HasPrefix(r.Header.Get("Location"), "https://") {
		t.Fatalf("suspended partner's link: %d %q, want a 302 to the destination without a click id", r.Status, r.Header.Get("Location"))
	}
	if n := e.count(t, `SELECT count(*) FROM clicks WHERE partner_id = $1`, id); n != clicksBefore {
		t.Fatalf("a suspended partner's link recorded a click (%d → %d)", clicksBefore, n)
	}
	if got := testid(s.page("/partners?status=suspended"), "partner-row").Length(); got != 1 {
		t.Fatalf("suspended filter: %d rows", got)
	}
	// Reinstate.
	s.post("/partners/"+id+"/status", url.Values{"status": {"approved"}})
	if got := strings.TrimSpace(testid(s.page("/partners/"+id), "partner-status").Text()); got != "approved" {
		t.Fatalf("status %q after reinstating", got)
	}
	// Nonsense status.
	if r := s.post("/partners/"+id+"/status", url.Values{"status": {"deleted"}}); r.Status != http.StatusBadRequest {
		t.Fatalf("status=deleted: %d", r.Status)
	}
}

func TestDashPartnersFinanceIsReadOnly(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	g := e.group(t, str(p, "id"), nil)
	pa := e.partner(t, str(p, "id"), nil)
	id := str(pa, "id")
	fin := partnersFinance(t, e)

	d := fin.page("/partners")
	if testid(d, "partner-row").Length() != 1 {
		t.Fatal("finance cannot see partners")
	}
	if testid(d, "add-partner").Length() != 0 {
		t.Fatal("finance sees Add partner")
	}
	d = fin.page("/partners/" + id)
	if testid(d, "move-group-form").Length() != 0 || testid(d, "status-suspended").Length() != 0 {
		t.Fatal("finance sees the owner's forms")
	}
	for path, form := range map[string]url.Values{
		"/partners":                   {"programId": {str(p, "id")}, "name": {"X"}, "email": {"x@example.com"}},
		"/partners/" + id + "/group":  {"groupId": {str(g, "id")}},
		"/partners/" + id + "/status": {"status": {"suspended"}},
	} {
		if r := fin.post(path, form); r.Status != http.StatusForbidden {
			t.Errorf("finance POST %s: %d, want 403", path, r.Status)
		}
	}
	if r := fin.get("/partners/new"); r.Status != http.StatusForbidden {
		t.Errorf("finance GET /partners/new: %d", r.Status)
	}
	got := e.call(http.MethodGet, "/api/partners/"+id, e.Key, nil).must(t, 200).Map(t)
	if got["status"] != "approved" || got["groupId"] != nil {
		t.Fatalf("finance changed the partner: %v", got)
	}
}

func TestDashPartnersOtherWorkspace(t *testing.T) {
	e := newEnv(t)
	_, otherKey := e.newWorkspace("Globex")
	op := e.programAs(t, otherKey, nil)
	theirs := e.partnerAs(t, otherKey, str(op, "id"), map[string]any{"name": "Globex Partner"})
	mine := e.partner(t, str(e.program(t, nil), "id"), nil)
	s := e.signIn(t)

	if r := s.get("/partners/" + str(theirs, "id")); r.Status != http.StatusNotFound {
		t.Fatalf("another workspace's partner: %d, want 404", r.Status)
	}
	for _, path := range []string{"/group", "/status"} {
		if r := s.post("/partners/"+str(theirs, "id")+path, url.Values{"status": {"suspended"}}); r.Status != http.StatusNotFound {
			t.Errorf("POST %s on another workspace's partner: %d, want 404", path, r.Status)
		}
	}
	d := s.page("/partners")
	if n := testid(d, "partner-row").Length(); n != 1 || testid(d, "partner-row").AttrOr("data-id", "") != str(mine, "id") {
		t.Fatalf("list shows %d rows", n)
	}
	if strings.Contains(d.Text(), "Globex Partner") {
		t.Fatal("the list shows another workspace's partner")
	}
	// Adding to another workspace's program is refused as an unknown program.
	r := s.post("/partners", url.Values{"programId": {str(op, "id")}, "name": {"X"}, "email": {"x@example.com"}})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("add to another workspace's program: %d", r.Status)
	}
	if got := e.call(http.MethodGet, "/api/partners/"+str(theirs, "id"), otherKey, nil).must(t, 200).Map(t)["status"]; got != "approved" {
		t.Fatalf("their partner's status %v", got)
	}
}
