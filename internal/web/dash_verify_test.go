package web_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"
)

// ---- helpers of the verification tests (prefixed verify) ----

// verifyGoLive fetches a program's go-live checklist as the program page
// loads it (HTMX), and returns its steps' done flags by key.
func verifyGoLive(t *testing.T, s *session, programID string) (*goquery.Document, map[string]bool) {
	t.Helper()
	r := s.htmx("GET", "/programs/"+programID+"/go-live", nil)
	if r.Status != http.StatusOK {
		t.Fatalf("go-live: %d %s", r.Status, r.Body)
	}
	doc := r.Doc(t)
	done := map[string]bool{}
	testid(doc, "go-live-step").Each(func(_ int, li *goquery.Selection) {
		done[li.AttrOr("data-step", "")] = li.AttrOr("data-done", "") == "true"
	})
	if len(done) != 4 {
		t.Fatalf("checklist has %d steps: %v\n%s", len(done), done, r.Body)
	}
	return doc, done
}

func verifyStatus(t *testing.T, e *env, programID string) (string, any) {
	t.Helper()
	p := e.call("GET", "/api/programs/"+programID, e.Key, nil).must(t, http.StatusOK).Map(t)
	return str(p, "status"), p["verifiedAt"]
}

// ---- tests ----

func TestVerifyProgramDraftUntilTestSale(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.signIn(t)
	p := e.program(t, map[string]any{"currency": "EUR"})
	pid := str(p, "id")
	if p["status"] != "draft" || p["verifiedAt"] != nil {
		t.Fatalf("a new program: %v", p)
	}

	page := s.page("/programs/" + pid)
	if got := strings.TrimSpace(testid(page, "program-status").Text()); got != "draft" {
		t.Fatalf("page status %q", got)
	}
	if testid(page, "go-live-slot").AttrOr("hx-get", "") != "/programs/"+pid+"/go-live" {
		t.Fatal("the program page does not load the checklist")
	}
	doc, done := verifyGoLive(t, s, pid)
	if done["reward"] || done["partner"] || done["test"] {
		t.Fatalf("a bare program's checklist: %v", done)
	}
	if testid(doc, "go-live").AttrOr("data-status", "") != "draft" || testid(doc, "go-live").AttrOr("hx-trigger", "") != "every 10s" {
		t.Fatal("a draft's checklist does not refresh itself")
	}
	curl := testid(doc, "go-live-curl").Text()
	if !strings.Contains(curl, e.Cfg.BaseURL+"/api/track/sale") || !strings.Contains(curl, `"currency": "EUR"`) {
		t.Fatalf("curl example %q", curl)
	}

	e.reward(t, pid, nil)
	partner := e.partner(t, pid, nil)
	doc, done = verifyGoLive(t, s, pid)
	if !done["reward"] || !done["partner"] || done["test"] {
		t.Fatalf("checklist with a reward and a partner: %v", done)
	}
	if got := testid(doc, "go-live-test-link").Text(); got != e.Cfg.BaseURL+"/r/"+str(partner, "slug") {
		t.Fatalf("test link %q", got)
	}

	// A sale that attributes to nobody proves nothing.
	e.sale(t, e.Key, map[string]any{"customerExternalId": "nobody"})
	if st, _ := verifyStatus(t, e, pid); st != "draft" {
		t.Fatalf("status after an unattributed sale: %s", st)
	}

	// The test sale, through the partner's link.
	res := e.sale(t, e.Key, map[string]any{"clickId": e.click(t, str(partner, "slug")), "customerExternalId": "test-customer-1"})
	if res["attributed"] != true {
		t.Fatalf("test sale: %v", res)
	}
	if st, at := verifyStatus(t, e, pid); st != "active" || at == nil {
		t.Fatalf("after the test sale: %s %v", st, at)
	}
	doc, done = verifyGoLive(t, s, pid)
	for _, k := range []string{"reward", "partner", "tracking", "test"} {
		if !done[k] {
			t.Fatalf("step %s not done after the test sale: %v", k, done)
		}
	}
	if testid(doc, "go-live").AttrOr("data-status", "") != "active" || testid(doc, "go-live").AttrOr("hx-trigger", "") != "" ||
		testid(doc, "go-live-instructions").Length() != 0 {
		t.Fatal("an active program's checklist still polls or instructs")
	}
	// The fragment also updates the header's badge.
	if b := doc.Find(`[data-testid="program-status"][hx-swap-oob="true"]`); strings.TrimSpace(b.Text()) != "active" {
		t.Fatalf("out-of-band badge %q", b.Text())
	}
	if got := strings.TrimSpace(testid(s.page("/programs/"+pid), "program-status").Text()); got != "active" {
		t.Fatalf("page status %q", got)
	}
	// The list says so too.
	list := e.call("GET", "/api/programs", e.Key, nil).must(t, http.StatusOK).Map(t)
	if first := list["data"].([]any)[0].(map[string]any); first["status"] != "active" {
		t.Fatalf("list: %v", first)
	}
}

// The checklist as a page of its own (no JavaScript), read-only for finance
// staff, and another workspace's program is not found.
func TestVerifyGoLivePage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := e.program(t, nil)
	pid := str(p, "id")
	doc := stripeDashFinance(t, e).page("/programs/" + pid + "/go-live")
	if testid(doc, "go-live").Length() != 1 || testid(doc, "go-live-instructions").Length() != 1 {
		t.Fatal("no checklist page")
	}
	if doc.Find(`[hx-swap-oob]`).Length() != 0 {
		t.Fatal("the page carries an out-of-band swap")
	}
	other, key := e.newWorkspace("Other")
	_ = other
	theirs := str(e.programAs(t, key, nil), "id")
	if r := e.signIn(t).htmx("GET", "/programs/"+theirs+"/go-live", nil); r.Status != http.StatusNotFound {
		t.Fatalf("another workspace's program: %d", r.Status)
	}
}
