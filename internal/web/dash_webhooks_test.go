package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/chromedp/chromedp"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/browsertest"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/webhook"
)

// ---- helpers of the webhook pages' tests ----

// whReceiver is a local endpoint that records what it gets and answers
// with status and body.
type whReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	ids    []string // webhook-id of each request
	types  []string
	status int
	body   string
}

func newWhReceiver(t testing.TB, status int, body string) *whReceiver {
	t.Helper()
	rc := &whReceiver{status: status, body: body}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.ids = append(rc.ids, r.Header.Get("webhook-id"))
		if m := regexp.MustCompile(`"type":"([^"]+)"`).FindSubmatch(b); m != nil {
			rc.types = append(rc.types, string(m[1]))
		}
		status, body := rc.status, rc.body
		rc.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *whReceiver) got() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.ids...)
}

// whWorker runs a webhook worker with quick retries until the test ends.
func (e *env) whWorker(t testing.TB, opts webhook.Options) {
	t.Helper()
	if opts.Schedule == nil {
		opts.Schedule = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond, 10 * time.Millisecond}
	}
	opts.Jitter, opts.PollEvery, opts.Timeout = -1, 10*time.Millisecond, 2*time.Second
	w := webhook.NewWorker(e.Store, e.Cfg, nil, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// whWait polls cond until it holds (or fails the test after 15 s).
func whWait(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// whEndpoint creates an endpoint through the API and returns its id and secret.
func (e *env) whEndpoint(t testing.TB, key, u string, events ...string) (string, string) {
	t.Helper()
	if len(events) == 0 {
		events = []string{"sale.created", "commission.created"}
	}
	m := e.call("POST", "/api/webhooks", key, map[string]any{"url": u, "events": events}).must(t, http.StatusCreated).Map(t)
	return str(m, "id"), str(m, "secret")
}

// whFinance adds a finance user to e's workspace and signs in as them.
func (e *env) whFinance(t testing.TB) *session {
	t.Helper()
	hash, err := accounts.HashPassword("finance password")
	if err != nil {
		t.Fatal(err)
	}
	email := uniq("wh-fin") + "@example.com"
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID, Email: email, PasswordHash: hash, Role: "finance"}
	if err := e.Store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return e.signInAs(t, email, "finance password")
}

// whText is an element's text with its whitespace collapsed.
func whText(s *goquery.Selection) string { return strings.Join(strings.Fields(s.Text()), " ") }

// whTexts is the texts of several elements, separated by spaces.
func whTexts(s *goquery.Selection) string {
	var out []string
	s.Each(func(_ int, e *goquery.Selection) { out = append(out, whText(e)) })
	return strings.Join(out, " ")
}

// whRow is the list's card of endpoint id.
func whRow(d *goquery.Document, id string) *goquery.Selection {
	return d.Find(`[data-testid="webhook-row"][data-id="` + id + `"]`)
}

// whFollow checks r is a 303 to a path starting with prefix and returns its target.
func whFollow(t testing.TB, r reply, prefix string) string {
	t.Helper()
	loc := r.Header.Get("Location")
	if r.Status != http.StatusSeeOther || !strings.HasPrefix(loc, prefix) {
		t.Fatalf("status %d to %q, want 303 to %s…\n%s", r.Status, loc, prefix, r.Body)
	}
	return loc
}

func whForm(u string, events ...string) url.Values {
	return url.Values{"url": {u}, "events": events}
}

// ---- tests ----

func TestDashWebhooksCreateShowsSecretOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.signIn(t)
	d := s.page("/webhooks")
	if testid(d, "empty").Length() != 1 || testid(d, "create-webhook-form").Length() != 1 {
		t.Fatal("no empty state or no create form")
	}
	if d.Find(`[data-testid="nav"] a[href="/webhooks"][aria-current="page"]`).Length() != 1 {
		t.Fatal("the nav has no current Webhooks item")
	}
	// Every event type is offered, and checked to start with.
	if n := d.Find(`[data-testid="create-webhook-form"] input[name="events"][checked]`).Length(); n != len(outbox.Types) {
		t.Fatalf("%d event types checked, want %d", n, len(outbox.Types))
	}

	r := s.post("/webhooks", whForm("https://hooks.example.com/partli", "sale.created", "commission.updated"))
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/webhooks?done=added" || strings.Contains(string(r.Body), "whsec_") {
		t.Fatalf("create: status %d %q\n%s", r.Status, r.Header.Get("Location"), r.Body)
	}
	// The page the browser is sent to shows the secret, once.
	r = s.get(r.Header.Get("Location"))
	if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
		t.Fatalf("Cache-Control %q on the reply with the secret", cc)
	}
	d = r.Doc(t)
	secret, _ := testid(d, "new-webhook-secret").Attr("value")
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret shown %q", secret)
	}
	if stored := e.opened(t, `SELECT secret FROM webhook_endpoints WHERE workspace_id = $1`, e.WS.Workspace.ID); stored != secret {
		t.Fatal("the secret shown is not the endpoint's")
	}
	if testid(d, "flash").Length() != 1 {
		t.Fatal("no confirmation")
	}
	rows := testid(d, "webhook-row")
	if rows.Length() != 1 || whText(rows.Find(`[data-testid="webhook-url"]`)) != "https://hooks.example.com/partli" {
		t.Fatalf("list after create: %q", whText(rows))
	}
	if got := whTexts(rows.Find(`[data-testid="webhook-event"]`)); got != "sale.created commission.updated" {
		t.Fatalf("events %q", got)
	}
	if got := whText(rows.Find(`[data-testid="webhook-state"]`)); got != "enabled" {
		t.Fatalf("state %q", got)
	}

	// Reloading shows the endpoint, never its secret again, and adds none.
	r = s.get("/webhooks?done=added")
	if r.Status != http.StatusOK || testid(r.Doc(t), "new-webhook-secret").Length() != 0 || strings.Contains(string(r.Body), secret) {
		t.Fatal("the secret is shown again after a reload")
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d endpoints after adding one and reloading, want 1", n)
	}
	if !strings.Contains(testid(r.Doc(t), "flash").Text(), "shown once") {
		t.Fatalf("the reload says %q", testid(r.Doc(t), "flash").Text())
	}
	id := testid(r.Doc(t), "webhook-row").AttrOr("data-id", "")
	if strings.Contains(string(s.get("/webhooks/"+id).Body), secret) {
		t.Fatal("the endpoint page shows the secret")
	}
}

func TestDashWebhooksCreateInvalid(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	s := e.signIn(t)
	s.page("/webhooks")
	for _, tc := range []struct {
		name  string
		form  url.Values
		field string // "url" or "events"
		msg   string
	}{
		{"no URL", whForm("", "sale.created"), "url", "Enter the URL"},
		{"not http", whForm("ftp://files.example.com/x", "sale.created"), "url", "http or https URL"},
		{"no host", whForm("https://", "sale.created"), "url", "http or https URL"},
		{"no events", whForm("https://hooks.example.com/x"), "events", "Choose at least one event type."},
		{"unknown event", whForm("https://hooks.example.com/x", "sale.created", "sale.exploded"), "events", "unknown event type"},
	} {
		r := s.post("/webhooks", tc.form)
		if r.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: status %d, want 422", tc.name, r.Status)
			continue
		}
		d := r.Doc(t)
		form := testid(d, "create-webhook-form")
		var msg string
		if tc.field == "url" {
			msg = whText(form.Find(`[data-testid="webhook-url-input"]`).Parent().Find(".field-error"))
		} else {
			msg = whText(form.Find("fieldset .field-error"))
		}
		if !strings.Contains(msg, tc.msg) {
			t.Errorf("%s: %s error %q, want it to say %q", tc.name, tc.field, msg, tc.msg)
		}
		// What was typed and checked is kept.
		if got := form.Find(`[data-testid="webhook-url-input"]`).AttrOr("value", ""); got != tc.form.Get("url") {
			t.Errorf("%s: URL field %q, want %q", tc.name, got, tc.form.Get("url"))
		}
		checked := form.Find(`input[name="events"][checked]`)
		if checked.Length() != len(tc.form["events"]) && tc.name != "unknown event" {
			t.Errorf("%s: %d boxes checked, want %d", tc.name, checked.Length(), len(tc.form["events"]))
		}
		if testid(d, "new-webhook-secret").Length() != 0 {
			t.Errorf("%s: a secret is shown", tc.name)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints`); n != 0 {
		t.Fatalf("%d endpoints after invalid forms", n)
	}
}

func TestDashWebhooksPrivateAddressRefusedInProduction(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(c *config.Config) { c.Env = "production"; c.WebhookAllowPrivate = false })
	s := e.signIn(t)
	s.page("/webhooks")
	for _, u := range []string{"http://127.0.0.1:8080/hook", "http://localhost/hook", "http://10.1.2.3/hook", "http://169.254.169.254/latest"} {
		r := s.post("/webhooks", whForm(u, "sale.created"))
		if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "Must not point to a loopback, private or link-local address.") {
			t.Errorf("%s: status %d, want 422 with the private-address message", u, r.Status)
		}
	}
	if r := s.post("/webhooks", whForm("https://93.184.216.34/hook", "sale.created")); r.Status != http.StatusSeeOther {
		t.Fatalf("public address: status %d", r.Status)
	}
}

func TestDashWebhooksDisabledAfterFailuresShowsNotice(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newWhReceiver(t, http.StatusInternalServerError, "upstream exploded")
	id, _ := e.whEndpoint(t, e.Key, rc.URL)
	s := e.signIn(t)
	s.page("/webhooks/" + id)
	// One test event, retried until the endpoint has failed 20 times in a row.
	whFollow(t, s.post("/webhooks/"+id+"/test", url.Values{"back": {"detail"}}), "/webhooks/"+id+"?done=test-sent")
	sched := make([]time.Duration, 30)
	for i := range sched {
		sched[i] = time.Millisecond
	}
	e.whWorker(t, webhook.Options{Schedule: sched})
	whWait(t, "the endpoint to be disabled", func() bool {
		return e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND NOT enabled`, id) == 1
	})
	// The 20th failure disables it. (A retry claimed in the moment between
	// recording that failure and disabling can still go out: at most one.)
	if n := len(rc.got()); n < 20 || n > 21 {
		t.Fatalf("%d requests before disabling, want 20", n)
	}

	d := s.page("/webhooks")
	row := whRow(d, id)
	if got := whText(row.Find(`[data-testid="webhook-state"]`)); got != "disabled" {
		t.Fatalf("state %q", got)
	}
	notice := row.Find(`[data-testid="webhook-disabled-notice"]`)
	if notice.Length() != 1 {
		t.Fatal("no disabled notice on the list")
	}
	text := whText(notice)
	for _, want := range []string{"This endpoint was disabled after 20 failed deliveries in a row.", "HTTP 500", "re-enable"} {
		if !strings.Contains(text, want) {
			t.Errorf("notice %q does not say %q", text, want)
		}
	}
	if notice.Find(`[data-testid="reenable-webhook"]`).Length() != 1 {
		t.Fatal("no Re-enable button in the notice")
	}
	// The endpoint's page says it too, and its log shows the 20 attempts.
	d = s.page("/webhooks/" + id)
	if testid(d, "webhook-disabled-notice").Length() != 1 {
		t.Fatal("no notice on the endpoint's page")
	}
	if n := testid(d, "attempt-row").Length(); n < 20 {
		t.Fatalf("%d attempts in the log, want 20", n)
	}
	if got := whText(testid(d, "attempt-status").First()); got != "500" {
		t.Fatalf("attempt status %q", got)
	}
	if got := whText(testid(d, "attempt-reply").First()); got != "upstream exploded" {
		t.Fatalf("attempt reply %q", got)
	}
	if got := whText(testid(d, "delivery-status")); got != "failed" {
		t.Fatalf("delivery status %q", got)
	}
	if testid(d, "resend-delivery").Length() != 0 || testid(d, "send-test-event").Length() != 0 {
		t.Fatal("resend or test offered on a disabled endpoint")
	}

	// Re-enable: the notice goes and the failure count starts again.
	whFollow(t, s.post("/webhooks/"+id+"/enable", url.Values{"back": {"list"}}), "/webhooks?done=enabled")
	d = s.page("/webhooks?done=enabled")
	if testid(d, "webhook-disabled-notice").Length() != 0 || whText(whRow(d, id).Find(`[data-testid="webhook-state"]`)) != "enabled" {
		t.Fatal("still disabled after re-enabling")
	}
	if !strings.Contains(whText(testid(d, "flash")), "Endpoint enabled") {
		t.Fatal("no confirmation")
	}
	if n := e.count(t, `SELECT consecutive_failures FROM webhook_endpoints WHERE id = $1`, id); n != 0 {
		t.Fatalf("failure count %d after re-enabling", n)
	}
}

func TestDashWebhooksTestEventAndResend(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newWhReceiver(t, http.StatusOK, `{"ok":true,"note":"<b>thanks</b>"}`)
	s := e.signIn(t)
	s.page("/webhooks")
	if r := s.post("/webhooks", whForm(rc.URL+"/hook", "sale.created")); r.Status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.Status)
	}
	d := s.page("/webhooks")
	id := testid(d, "webhook-row").AttrOr("data-id", "")

	// Send test event from the list: it is queued and the page refreshes
	// itself while it is pending.
	whFollow(t, s.post("/webhooks/"+id+"/test", url.Values{"back": {"list"}}), "/webhooks/"+id+"?done=test-sent")
	d = s.page("/webhooks/" + id + "?done=test-sent")
	if !strings.Contains(whText(testid(d, "flash")), "Test event queued") {
		t.Fatal("no confirmation")
	}
	if got := whText(testid(d, "delivery-status")); got != "pending" {
		t.Fatalf("delivery status before the worker %q", got)
	}
	if d.Find(`#webhook-log[hx-trigger]`).Length() != 1 {
		t.Fatal("the log does not refresh itself while a delivery is pending")
	}

	e.whWorker(t, webhook.Options{})
	whWait(t, "the test event", func() bool {
		return e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE endpoint_id = $1 AND status = 'succeeded'`, id) == 1
	})
	d = s.page("/webhooks/" + id)
	del := testid(d, "delivery-row")
	if del.Length() != 1 || whText(del.Find(`[data-testid="delivery-event-type"]`)) != "webhook.test" ||
		whText(del.Find(`[data-testid="delivery-status"]`)) != "succeeded" || whText(del.Find(`[data-testid="delivery-attempts"]`)) != "1" {
		t.Fatalf("delivery row %q", whText(del))
	}
	if d.Find(`#webhook-log[hx-trigger]`).Length() != 0 {
		t.Fatal("the log still refreshes itself with nothing pending")
	}
	att := testid(d, "attempt-row")
	if att.Length() != 1 || whText(att.Find(`[data-testid="attempt-status"]`)) != "200" {
		t.Fatalf("attempt row %q", whText(att))
	}
	if !regexp.MustCompile(`^\d+ ms$`).MatchString(whText(att.Find(`[data-testid="attempt-latency"]`))) {
		t.Fatalf("latency %q", whText(att.Find(`[data-testid="attempt-latency"]`)))
	}
	if got := whText(att.Find(`[data-testid="attempt-reply"]`)); got != `{"ok":true,"note":"<b>thanks</b>"}` {
		t.Fatalf("reply %q", got)
	}
	if !strings.Contains(string(s.get("/webhooks/"+id).Body), "&lt;b&gt;thanks&lt;/b&gt;") {
		t.Fatal("the reply is not escaped")
	}
	deliveryID := del.AttrOr("data-id", "")

	// Resend: a new attempt with the same webhook-id.
	whFollow(t, s.post("/webhooks/"+id+"/deliveries/"+deliveryID+"/resend", url.Values{"back": {"detail"}}), "/webhooks/"+id+"?done=resent")
	whWait(t, "the resent delivery", func() bool {
		return e.count(t, `SELECT count(*) FROM webhook_attempts WHERE delivery_id = $1`, deliveryID) == 2 &&
			e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE id = $1 AND status = 'succeeded'`, deliveryID) == 1
	})
	d = s.page("/webhooks/" + id)
	if n := testid(d, "attempt-row").Length(); n != 2 {
		t.Fatalf("%d attempts after resending, want 2", n)
	}
	got := rc.got()
	if len(got) != 2 || got[0] != got[1] || got[0] == "" {
		t.Fatalf("webhook-ids %q, want the same one twice", got)
	}

	// The delivery's own page: the body sent and both attempts; resend from there.
	d = s.page("/webhooks/" + id + "/deliveries/" + deliveryID)
	if got := whText(testid(d, "delivery-event-id")); got != rc.got()[0] {
		t.Fatalf("event id %q, want the webhook-id %q", got, rc.got()[0])
	}
	if p := testid(d, "delivery-payload").Text(); !strings.Contains(p, `"type":"webhook.test"`) || !strings.Contains(p, id) {
		t.Fatalf("payload %q", p)
	}
	if n := testid(d, "attempt-row").Length(); n != 2 {
		t.Fatalf("%d attempts on the delivery page", n)
	}
	whFollow(t, s.post("/webhooks/"+id+"/deliveries/"+deliveryID+"/resend", url.Values{"back": {"delivery"}}),
		"/webhooks/"+id+"/deliveries/"+deliveryID+"?done=resent")
	whWait(t, "the second resend", func() bool { return len(rc.got()) == 3 })
}

func TestDashWebhooksRotateEditDisableDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, old := e.whEndpoint(t, e.Key, "https://hooks.example.com/a")
	s := e.signIn(t)
	s.page("/webhooks/" + id)

	// Rotate from the endpoint's page: the new secret once, the old one still signing.
	r := s.post("/webhooks/"+id+"/rotate-secret", url.Values{"back": {"detail"}})
	if r.Status != http.StatusSeeOther || r.Header.Get("Location") != "/webhooks/"+id+"?done=rotated" {
		t.Fatalf("rotate: %d %q", r.Status, r.Header.Get("Location"))
	}
	r = s.get(r.Header.Get("Location"))
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("rotated secret's page: Cache-Control %q", r.Header.Get("Cache-Control"))
	}
	secret := testid(r.Doc(t), "new-webhook-secret").AttrOr("value", "")
	stored := e.opened(t, `SELECT secret FROM webhook_endpoints WHERE id = $1`, id)
	previous := e.opened(t, `SELECT previous_secret FROM webhook_endpoints WHERE id = $1`, id)
	if !strings.HasPrefix(secret, "whsec_") || secret == old || stored != secret || previous != old {
		t.Fatalf("rotated secret %q (stored %q, previous %q, old %q)", secret, stored, previous, old)
	}
	if !strings.Contains(whText(testid(r.Doc(t), "new-secret-box")), "24 hours") {
		t.Fatal("the rotation does not explain the overlap")
	}
	if strings.Contains(string(s.get("/webhooks/"+id+"?done=rotated").Body), secret) {
		t.Fatal("the rotated secret is shown again")
	}
	if got := e.opened(t, `SELECT secret FROM webhook_endpoints WHERE id = $1`, id); got != secret {
		t.Fatal("reloading the page rotated the secret again")
	}
	// From the list, the list page shows it.
	r = s.post("/webhooks/"+id+"/rotate-secret", url.Values{"back": {"list"}})
	if r.Status != http.StatusSeeOther {
		t.Fatalf("rotate from the list: %d", r.Status)
	}
	r = s.get(r.Header.Get("Location"))
	if r.Status != http.StatusOK || testid(r.Doc(t), "webhooks").Length() != 1 || testid(r.Doc(t), "new-webhook-secret").Length() != 1 {
		t.Fatalf("rotate from the list: %d", r.Status)
	}

	// Edit: invalid keeps the form open with the error, valid saves.
	r = s.post("/webhooks/"+id, whForm("not a url", "lead.created"))
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid edit: %d", r.Status)
	}
	d := r.Doc(t)
	if _, open := testid(d, "edit-webhook").Attr("open"); !open || testid(d, "edit-webhook-form").Find(".field-error").Length() != 1 {
		t.Fatal("the edit form is not shown open with its error")
	}
	if got := testid(d, "edit-webhook-form").Find(`[data-testid="webhook-url-input"]`).AttrOr("value", ""); got != "not a url" {
		t.Fatalf("typed URL not kept: %q", got)
	}
	whFollow(t, s.post("/webhooks/"+id, whForm("https://hooks.example.com/b", "lead.created", "commission.updated")), "/webhooks/"+id+"?done=saved")
	d = s.page("/webhooks/" + id + "?done=saved")
	if whText(testid(d, "webhook-url")) != "https://hooks.example.com/b" || whTexts(testid(d, "webhook-event")) != "lead.created commission.updated" {
		t.Fatalf("after edit: %q / %q", whText(testid(d, "webhook-url")), whTexts(testid(d, "webhook-event")))
	}

	// Disable by hand: a quiet reason, not the red notice; a test event is refused.
	whFollow(t, s.post("/webhooks/"+id+"/disable", url.Values{"back": {"detail"}}), "/webhooks/"+id+"?done=disabled")
	d = s.page("/webhooks/" + id)
	if whText(testid(d, "webhook-state")) != "disabled" || testid(d, "webhook-disabled-notice").Length() != 0 ||
		!strings.Contains(whText(testid(d, "webhook-disabled-reason")), "Disabled by a user.") {
		t.Fatalf("after disabling: %q", whText(testid(d, "webhook-summary")))
	}
	if testid(d, "enable-webhook").Length() != 1 || testid(d, "send-test-event").Length() != 0 {
		t.Fatal("a disabled endpoint offers no Enable, or offers a test event")
	}
	r = s.post("/webhooks/"+id+"/test", url.Values{"back": {"detail"}})
	if r.Status != http.StatusConflict || !strings.Contains(whText(testid(r.Doc(t), "flash-error")), "This endpoint is disabled") {
		t.Fatalf("test event on a disabled endpoint: %d", r.Status)
	}
	whFollow(t, s.post("/webhooks/"+id+"/enable", url.Values{"back": {"detail"}}), "/webhooks/"+id+"?done=enabled")

	// Delete.
	whFollow(t, s.post("/webhooks/"+id+"/delete", nil), "/webhooks?done=deleted")
	d = s.page("/webhooks?done=deleted")
	if testid(d, "webhook-row").Length() != 0 || !strings.Contains(whText(testid(d, "flash")), "Endpoint deleted") {
		t.Fatal("the endpoint is still listed")
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints`); n != 0 {
		t.Fatalf("%d endpoints after delete", n)
	}
	if r := s.get("/webhooks/" + id); r.Status != http.StatusNotFound {
		t.Fatalf("deleted endpoint's page: %d", r.Status)
	}
}

func TestDashWebhooksFinanceReadOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rc := newWhReceiver(t, http.StatusOK, "ok")
	id, _ := e.whEndpoint(t, e.Key, rc.URL)
	did, err := e.webhooks().SendTestEvent(context.Background(), e.WS.Workspace.ID, id)
	if err != nil {
		t.Fatal(err)
	}
	fin := e.whFinance(t)
	d := fin.page("/webhooks")
	if whRow(d, id).Length() != 1 {
		t.Fatal("finance does not see the endpoint")
	}
	if n := testid(d, "webhooks").Find("form").Length(); n != 0 || testid(d, "create-webhook-form").Length() != 0 {
		t.Fatalf("finance sees %d forms on the list", n)
	}
	d = fin.page("/webhooks/" + id)
	if n := testid(d, "webhook-page").Find("form").Length() + testid(d, "deliveries").Find("form").Length(); n != 0 {
		t.Fatalf("finance sees %d forms on the endpoint page", n)
	}
	if testid(d, "read-only").Length() != 1 || testid(d, "delivery-row").Length() != 1 {
		t.Fatal("no read-only note or no delivery log for finance")
	}
	if d = fin.page("/webhooks/" + id + "/deliveries/" + did); testid(d, "resend-delivery").Length() != 0 {
		t.Fatal("finance may resend")
	}
	for _, tc := range []struct {
		path string
		form url.Values
	}{
		{"/webhooks", whForm("https://hooks.example.com/sneaky", "sale.created")},
		{"/webhooks/" + id, whForm("https://hooks.example.com/sneaky", "sale.created")},
		{"/webhooks/" + id + "/disable", nil},
		{"/webhooks/" + id + "/enable", nil},
		{"/webhooks/" + id + "/rotate-secret", nil},
		{"/webhooks/" + id + "/delete", nil},
		{"/webhooks/" + id + "/test", nil},
		{"/webhooks/" + id + "/deliveries/" + did + "/resend", nil},
	} {
		r := fin.post(tc.path, tc.form)
		if r.Status != http.StatusForbidden || !strings.Contains(testid(r.Doc(t), "error-message").Text(), "Only the workspace owner") {
			t.Errorf("finance POST %s: status %d, want 403", tc.path, r.Status)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND enabled AND url = $2`, id, rc.URL); n != 1 {
		t.Fatal("finance changed the endpoint")
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_deliveries`); n != 1 {
		t.Fatalf("%d deliveries after finance's attempts, want 1", n)
	}
}

func TestDashWebhooksWorkspaceIsolation(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	aid, _ := e.whEndpoint(t, e.Key, "https://acme-secret.example.com/hook")
	adid, err := e.webhooks().SendTestEvent(context.Background(), e.WS.Workspace.ID, aid)
	if err != nil {
		t.Fatal(err)
	}
	other, otherKey := e.newWorkspace("Globex")
	bid, _ := e.whEndpoint(t, otherKey, "https://globex.example.com/hook")

	b := e.signInAs(t, other.Owner.Email, "correct horse battery")
	d := b.page("/webhooks")
	if testid(d, "webhook-row").Length() != 1 || strings.Contains(d.Text(), "acme-secret") {
		t.Fatalf("Globex's list: %q", whText(testid(d, "webhooks")))
	}
	for _, tc := range []struct {
		method, path string
		form         url.Values
	}{
		{"GET", "/webhooks/" + aid, nil},
		{"GET", "/webhooks/wh_doesnotexist", nil},
		{"GET", "/webhooks/" + aid + "/deliveries/" + adid, nil},
		{"GET", "/webhooks/" + bid + "/deliveries/" + adid, nil},
		{"POST", "/webhooks/" + aid, whForm("https://globex.example.com/hijack", "sale.created")},
		{"POST", "/webhooks/" + aid + "/disable", nil},
		{"POST", "/webhooks/" + aid + "/enable", nil},
		{"POST", "/webhooks/" + aid + "/rotate-secret", nil},
		{"POST", "/webhooks/" + aid + "/delete", nil},
		{"POST", "/webhooks/" + aid + "/test", nil},
		{"POST", "/webhooks/" + aid + "/deliveries/" + adid + "/resend", nil},
		{"POST", "/webhooks/" + bid + "/deliveries/" + adid + "/resend", nil},
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
		if strings.Contains(string(r.Body), "acme-secret") {
			t.Errorf("%s %s leaks the other workspace's endpoint", tc.method, tc.path)
		}
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_endpoints WHERE id = $1 AND enabled AND url = 'https://acme-secret.example.com/hook'`, aid); n != 1 {
		t.Fatal("Globex changed Acme's endpoint")
	}
	if n := e.count(t, `SELECT count(*) FROM webhook_deliveries WHERE workspace_id = $1`, e.WS.Workspace.ID); n != 1 {
		t.Fatalf("%d Acme deliveries, want 1", n)
	}
	// A delivery id of one endpoint under another endpoint of the same workspace is not found either.
	aid2, _ := e.whEndpoint(t, e.Key, "https://acme-2.example.com/hook")
	a := e.signIn(t)
	if r := a.get("/webhooks/" + aid2 + "/deliveries/" + adid); r.Status != http.StatusNotFound {
		t.Fatalf("delivery under the wrong endpoint: %d", r.Status)
	}
}

func TestDashWebhooksPagination(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id, _ := e.whEndpoint(t, e.Key, "https://hooks.example.com/many")
	svc := e.webhooks()
	for range 30 {
		if _, err := svc.SendTestEvent(context.Background(), e.WS.Workspace.ID, id); err != nil {
			t.Fatal(err)
		}
	}
	s := e.signIn(t)
	d := s.page("/webhooks/" + id)
	first := testid(d, "delivery-row")
	if first.Length() != 25 {
		t.Fatalf("%d deliveries on the first page, want 25", first.Length())
	}
	next := testid(d, "next-page").AttrOr("href", "")
	if !strings.Contains(next, "dcursor=") {
		t.Fatalf("next link %q", next)
	}
	d = s.page(next)
	second := testid(d, "delivery-row")
	if second.Length() != 5 || testid(d, "next-page").Length() != 0 {
		t.Fatalf("%d deliveries on the second page", second.Length())
	}
	seen := map[string]bool{}
	first.Each(func(_ int, r *goquery.Selection) { seen[r.AttrOr("data-id", "")] = true })
	second.Each(func(_ int, r *goquery.Selection) {
		if seen[r.AttrOr("data-id", "")] {
			t.Errorf("delivery %s on both pages", r.AttrOr("data-id", ""))
		}
	})
	// The status filter.
	if n := testid(s.page("/webhooks/"+id+"?status=succeeded"), "delivery-row").Length(); n != 0 {
		t.Fatalf("%d succeeded deliveries, want 0", n)
	}
	if r := s.get("/webhooks/" + id + "?dcursor=garbage"); r.Status != http.StatusBadRequest {
		t.Fatalf("bad cursor: %d", r.Status)
	}
}

// webhooks is the webhook service over e's store.
func (e *env) webhooks() *webhook.Service { return webhook.NewService(e.Store, e.Cfg) }

// TestDashWebhooksBrowser clicks through the pages in chromium: add an
// endpoint (the secret shows once), send a test event, and watch the log
// refresh itself until the attempt shows 200; then the disabled notice.
func TestDashWebhooksBrowser(t *testing.T) {
	e := newEnv(t)
	rc := newWhReceiver(t, http.StatusOK, `{"received":true}`)
	tab := browsertest.New(t, browsertest.Session)
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tab, steps...); err != nil {
			t.Errorf("%s: %v", what, err)
			browsertest.Screenshot(t, tab, "webhooks-failed")
			t.FailNow()
		}
	}
	wait := func(what, js string) {
		t.Helper()
		run(what, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingTimeout(browsertest.Wait)))
	}
	run("sign in and add an endpoint",
		chromedp.Navigate(e.URL+"/login"),
		chromedp.SendKeys(chromedp.CSS("#email"), e.WS.Owner.Email),
		chromedp.SendKeys(chromedp.CSS("#password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`[data-testid="sign-in"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user-email"]`)),
		chromedp.Navigate(e.URL+"/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="create-webhook-form"]`)),
		chromedp.SendKeys(chromedp.CSS("#new-webhook-url"), rc.URL+"/partli"),
		chromedp.Click(chromedp.CSS(`[data-testid="create-webhook-form"] [data-testid="event-lead.created"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="create-webhook"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="new-webhook-secret"]`)),
	)
	wait("the secret is shown", `document.querySelector('[data-testid="new-webhook-secret"]').value.startsWith('whsec_')`)
	wait("lead.created was left out", `[...document.querySelectorAll('[data-testid="webhook-row"] [data-testid="webhook-event"]')].map(e => e.textContent).join(',') === 'sale.created,commission.created,commission.updated,payout.created,payout.paid,payout.failed'`)
	browsertest.Screenshot(t, tab, "webhooks-created")

	run("open the log and send a test event",
		chromedp.Click(chromedp.CSS(`[data-testid="webhook-log-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="webhook-page"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="send-test-event"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	wait("the delivery is pending", `document.querySelector('[data-testid="delivery-status"]').textContent === 'pending'`)
	run("mark the page", chromedp.Evaluate[chromedp.Void](`window.whMarker = 1`))
	e.whWorker(t, webhook.Options{})
	wait("the log refreshes itself with the 200", `window.whMarker === 1 && (document.querySelector('[data-testid="attempt-status"]') || {}).textContent === '200' && document.querySelector('[data-testid="delivery-status"]').textContent === 'succeeded'`)
	browsertest.Screenshot(t, tab, "webhooks-log")

	// What the owner sees once Partli has disabled an endpoint.
	id := e.whOnlyEndpoint(t)
	if _, err := e.DB.Exec(`UPDATE webhook_endpoints SET enabled = false, disabled_at = now(),
		disabled_reason = 'Disabled after 20 consecutive failed deliveries; the last one: HTTP 503.' WHERE id = $1`, id); err != nil {
		t.Fatal(err)
	}
	run("see the notice",
		chromedp.Navigate(e.URL+"/webhooks"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="webhook-disabled-notice"]`)),
	)
	browsertest.Screenshot(t, tab, "webhooks-disabled")
	run("re-enable",
		chromedp.Click(chromedp.CSS(`[data-testid="reenable-webhook"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	wait("the notice is gone", `!document.querySelector('[data-testid="webhook-disabled-notice"]') && document.querySelector('[data-testid="webhook-state"]').textContent === 'enabled'`)
}

// whOnlyEndpoint is the id of the one endpoint of e's workspace.
func (e *env) whOnlyEndpoint(t testing.TB) string {
	t.Helper()
	var id string
	if err := e.DB.Get(&id, `SELECT id FROM webhook_endpoints WHERE workspace_id = $1`, e.WS.Workspace.ID); err != nil {
		t.Fatal(err)
	}
	return id
}
