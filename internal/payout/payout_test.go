package payout_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/apispec"
	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
	"github.com/partli/partli/internal/stripetest"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

const workspaceKey = "sk_test_workspace4242"

// fx is one test's world: a workspace paying with its own Stripe key
// through a recording proxy in front of stripe-mock, a program with a 10 %
// reward and partners.
type fx struct {
	t       *testing.T
	ctx     context.Context
	db      *sqlx.DB
	st      *store.Store
	cs      *commission.Service
	svc     *payout.Service
	proxy   *stripetest.Proxy
	ws      string
	program *store.Program
}

var testKeys = func() *secret.Keys {
	k, err := secret.New([]byte("partli payout tests' secret key."), nil)
	if err != nil {
		panic(err)
	}
	return k
}()

func newFx(t *testing.T, minimum int64) *fx {
	t.Helper()
	db, _ := testdb.New(t)
	ctx := context.Background()
	st := store.New(db).WithSecrets(testKeys)
	f := &fx{t: t, ctx: ctx, db: db, st: st, cs: commission.New(st), proxy: stripetest.NewProxy(t, stripetest.Mock(t))}
	f.svc = f.service()
	created, err := accounts.CreateWorkspace(ctx, st, accounts.NewWorkspace{Name: "Acme " + ids.Random(3),
		OwnerEmail: "owner-" + ids.Random(4) + "@example.com", OwnerPassword: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	f.ws = created.Workspace.ID
	if err := st.SetStripeSecretKey(ctx, f.ws, workspaceKey); err != nil {
		t.Fatal(err)
	}
	f.program = &store.Program{ID: ids.New(ids.Program), WorkspaceID: f.ws, Name: "Program", Slug: "p-" + ids.Random(4),
		DestinationURL: "https://shop.example.com/", Currency: "USD", HoldingPeriodDays: 0, CookieDays: 30, MinPayoutCents: minimum}
	if err := st.CreateProgram(ctx, f.program); err != nil {
		t.Fatal(err)
	}
	bp := int64(1000)
	if err := st.CreateReward(ctx, &store.Reward{ID: ids.New(ids.Reward), WorkspaceID: f.ws, ProgramID: f.program.ID,
		Event: "sale", Type: tracking.Percentage, PercentBP: &bp, Interval: tracking.Recurring}); err != nil {
		t.Fatal(err)
	}
	return f
}

// service is a payout service of this world (another replica's, when
// called again), with the installation's key unset.
func (f *fx) service() *payout.Service {
	return payout.New(f.st, f.cs, payout.Config{BaseURL: "http://partli.test",
		Stripe: stripe.NewPayments(stripe.PaymentsConfig{APIBase: f.proxy.URL})}, slog.New(slog.DiscardHandler))
}

type partner struct {
	*store.Partner
	click string
}

func (f *fx) partner() partner {
	f.t.Helper()
	slug := "pt-" + ids.Random(5)
	p := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: f.ws, ProgramID: f.program.ID,
		Email: slug + "@partners.example.com", Name: "Partner " + slug, Slug: slug, Status: "approved"}
	if err := f.st.CreatePartner(f.ctx, p); err != nil {
		f.t.Fatal(err)
	}
	cl := &store.Click{ID: ids.New(ids.Click), IPHash: []byte(ids.Random(8)), Flags: pq.StringArray{}}
	if _, err := f.st.HotPath().RecordClick(f.ctx, slug, cl, time.Minute, 1000); err != nil {
		f.t.Fatal(err)
	}
	return partner{p, cl.ID}
}

// earn gives the partner an approved commission of a tenth of sale.
func (f *fx) earn(p partner, sale int64, currency string) *store.Commission {
	f.t.Helper()
	res, err := tracking.New(f.st).TrackSale(f.ctx, f.ws, tracking.SaleInput{ExternalID: "o-" + ids.Random(6),
		CustomerExternalID: "cus-" + ids.Random(6), AmountCents: sale, Currency: currency, ClickID: p.click,
		EventName: "sale", OccurredAt: time.Now()})
	if err != nil || res.Commission == nil {
		f.t.Fatalf("track sale: %v", err)
	}
	out, err := f.cs.Change(f.ctx, f.ws, res.Commission.ID, commission.Approved, "", "test")
	if err != nil {
		f.t.Fatal(err)
	}
	return out.Commission
}

// stripeReady gives the partner an Express account whose payouts Stripe enabled.
func (f *fx) stripeReady(p partner) string {
	f.t.Helper()
	acct := "acct_" + ids.Random(6)
	if _, err := f.st.UseStripeAccount(f.ctx, f.ws, p.ID, acct); err != nil {
		f.t.Fatal(err)
	}
	if _, err := f.st.SetStripeAccountState(f.ctx, f.ws, acct, store.StripeAccountState{PayoutsEnabled: true, DetailsSubmitted: true}, time.Now()); err != nil {
		f.t.Fatal(err)
	}
	return acct
}

func (f *fx) payout(p partner, currency string) *store.Payout {
	f.t.Helper()
	po, err := f.cs.CreatePayout(f.ctx, f.ws, p.ID, currency, "test")
	if err != nil {
		f.t.Fatalf("create payout: %v", err)
	}
	return po
}

func (f *fx) count(query string, args ...any) int {
	f.t.Helper()
	var n int
	if err := f.db.GetContext(f.ctx, &n, query, args...); err != nil {
		f.t.Fatalf("%s: %v", query, err)
	}
	return n
}

func (f *fx) checkLedger() {
	f.t.Helper()
	problems, err := f.st.CheckLedger(f.ctx, f.ws)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, p := range problems {
		f.t.Errorf("ledger: %s", p)
	}
}

// checkEvents validates every payout event of the outbox against the
// OpenAPI document's webhooks, and returns how many of each type there are.
func (f *fx) checkEvents() map[string]int {
	f.t.Helper()
	v, err := apispec.NewValidator()
	if err != nil {
		f.t.Fatal(err)
	}
	var es []store.WebhookEvent
	if err := f.db.SelectContext(f.ctx, &es, `SELECT id, workspace_id, type, payload, created_at FROM webhook_events
		WHERE workspace_id = $1 AND type LIKE 'payout.%'`, f.ws); err != nil {
		f.t.Fatal(err)
	}
	n := map[string]int{}
	for _, e := range es {
		if err := v.CheckEvent(e.Type, e.Payload); err != nil {
			f.t.Errorf("%s event does not match the OpenAPI document: %v\n%s", e.Type, err, e.Payload)
		}
		n[e.Type]++
	}
	return n
}

func (f *fx) balance(p partner, currency string) int64 {
	f.t.Helper()
	var bs []store.PartnerBalance
	err := f.st.DB().SelectContext(f.ctx, &bs, `SELECT * FROM partner_balances WHERE workspace_id = $1 AND partner_id = $2
		ORDER BY currency`, f.ws, p.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, b := range bs {
		if b.Currency == currency {
			return b.BalanceCents
		}
	}
	return 0
}

// The transfer Stripe gets is exactly the payout: its amount and currency,
// to the partner's account, with the idempotency key made from the payout
// id, the payout in its transfer group and metadata, with the workspace's
// own key; the payout ends paid with the transfer as its reference, and its
// commissions paid with history naming the payout and the transfer.
func TestTransferRequest(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	acct := f.stripeReady(p)
	c1, c2 := f.earn(p, 25000, "USD"), f.earn(p, 12345, "USD") // 2,500 + 1,235 (rounded half up)
	po := f.payout(p, "USD")
	if po.AmountCents != 3735 || po.Method != payout.Stripe {
		t.Fatalf("payout %+v", po)
	}
	out, err := f.svc.Send(f.ctx, f.ws, po.ID)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	reqs := f.proxy.Requests("/v1/transfers")
	if len(reqs) != 1 {
		t.Fatalf("%d transfer requests, want 1: %+v", len(reqs), reqs)
	}
	r := reqs[0]
	want := map[string]string{"amount": "3735", "currency": "usd", "destination": acct, "transfer_group": po.ID,
		"metadata[partli_payout_id]": po.ID, "metadata[partli_workspace_id]": f.ws, "metadata[partli_partner_id]": p.ID}
	for k, v := range want {
		if got := r.Form.Get(k); got != v {
			t.Errorf("transfer %s = %q, want %q (form %v)", k, got, v, r.Form)
		}
	}
	if r.Method != http.MethodPost || r.IdempotencyKey != "partli-payout-"+po.ID+"-1" || r.Key != workspaceKey {
		t.Errorf("transfer request %+v", r)
	}
	if out.Status != commission.PayoutPaid || out.StripeTransferID == nil || !strings.HasPrefix(*out.StripeTransferID, "tr_") ||
		out.Reference != *out.StripeTransferID || out.PaidAt == nil || out.Attempt != 1 {
		t.Fatalf("payout after send %+v", out)
	}
	for _, c := range []*store.Commission{c1, c2} {
		got, _ := f.st.Commission(f.ctx, f.ws, c.ID)
		h, _ := f.st.History(f.ctx, f.ws, c.ID)
		if got.Status != commission.Paid || !strings.Contains(h[len(h)-1].Reason, po.ID) || !strings.Contains(h[len(h)-1].Reason, *out.StripeTransferID) {
			t.Fatalf("commission %s: %s, history %+v", c.ID, got.Status, h[len(h)-1])
		}
	}
	if n := f.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'payout.paid' AND payload->'data'->>'id' = $2
		AND payload->'data'->'partner'->>'id' = $3 AND payload->'data'->>'status' = 'paid' AND payload->'data'->'failureReason' = 'null'`,
		f.ws, po.ID, p.ID); n != 1 {
		t.Fatalf("%d payout.paid events with the payout and its partner", n)
	}
	// The partner is told, in the transaction that recorded the transfer.
	if n := f.count(`SELECT count(*) FROM mail_outbox WHERE workspace_id = $1 AND kind = 'payout_sent'
		AND recipient = $2 AND data->>'payoutId' = $3 AND (data->>'amountCents')::bigint = 3735
		AND data->>'method' = 'stripe' AND data->>'reference' = $4`, f.ws, p.Email, po.ID, *out.StripeTransferID); n != 1 {
		t.Fatalf("%d payout-sent mails for the Stripe transfer", n)
	}
	a, err := f.st.Attempt(f.ctx, f.ws, po.ID, 1)
	if err != nil || a.Status != "succeeded" || a.Tries != 1 || a.Destination != acct {
		t.Fatalf("attempt %+v %v", a, err)
	}
	f.checkLedger()

	// Without a key of its own, the workspace pays with the installation's.
	f2 := newFx(t, 0)
	if _, err := f2.db.Exec(`UPDATE stripe_connections SET secret_key = '' WHERE workspace_id = $1`, f2.ws); err != nil {
		t.Fatal(err)
	}
	p2 := f2.partner()
	f2.stripeReady(p2)
	f2.earn(p2, 10000, "USD")
	po2 := f2.payout(p2, "USD")
	if _, err := f2.svc.Send(f2.ctx, f2.ws, po2.ID); !errors.Is(err, payout.ErrStripeNotSetUp) {
		t.Fatalf("send without any key: %v", err)
	}
	installed := payout.New(f2.st, f2.cs, payout.Config{StripeSecretKey: "sk_test_installation",
		Stripe: stripe.NewPayments(stripe.PaymentsConfig{APIBase: f2.proxy.URL})}, slog.New(slog.DiscardHandler))
	if out, err := installed.Send(f2.ctx, f2.ws, po2.ID); err != nil || out.Status != commission.PayoutPaid {
		t.Fatalf("send with the installation's key: %v %+v", err, out)
	}
	if reqs := f2.proxy.Requests("/v1/transfers"); len(reqs) != 1 || reqs[0].Key != "sk_test_installation" {
		t.Fatalf("requests %+v", reqs)
	}
}

// The proxy loses Stripe's answer to the first transfer (the transfer was
// made): the request is sent again with the same idempotency key, and the
// payout ends paid once.
func TestLostAnswerIsAskedAgainWithTheSameKey(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	f.stripeReady(p)
	f.earn(p, 50000, "USD")
	po := f.payout(p, "USD")
	f.proxy.DropReplies("/v1/transfers", 1)
	out, err := f.svc.Send(f.ctx, f.ws, po.ID)
	if err != nil || out.Status != commission.PayoutPaid {
		t.Fatalf("send: %v %+v", err, out)
	}
	reqs := f.proxy.Requests("/v1/transfers")
	if len(reqs) != 2 || reqs[0].IdempotencyKey != reqs[1].IdempotencyKey || reqs[0].Answered != 0 || reqs[1].Answered != 200 {
		t.Fatalf("transfer requests %+v, want 2 with one key, the first unanswered", reqs)
	}
	if n := f.count(`SELECT count(*) FROM payout_attempts WHERE workspace_id = $1 AND payout_id = $2`, f.ws, po.ID); n != 1 {
		t.Fatalf("%d attempts, want 1", n)
	}
	if n := f.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'payout.paid'`, f.ws); n != 1 {
		t.Fatalf("%d payout.paid events, want 1", n)
	}
	if n := f.count(`SELECT count(*) FROM commission_history h JOIN commissions c ON c.workspace_id = h.workspace_id AND c.id = h.commission_id
		WHERE c.workspace_id = $1 AND h.to_status = 'paid'`, f.ws); n != 1 {
		t.Fatalf("the commission was paid %d times", n)
	}
	f.checkLedger()
}

// When no answer comes at all, the payout stays processing — not failed —
// and another send waits while the sender holds it. Once its lease runs out
// (the sender crashed, or gave up), the worker asks Stripe again with the
// same key, and the payout ends paid.
func TestNoAnswerStaysProcessingUntilAskedAgain(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	f.stripeReady(p)
	f.earn(p, 50000, "USD")
	po := f.payout(p, "USD")
	f.proxy.DropReplies("/v1/transfers", 100) // every try of the send
	out, err := f.svc.Send(f.ctx, f.ws, po.ID)
	if err != nil || out.Status != commission.PayoutProcessing {
		t.Fatalf("send without an answer: %v %+v", err, out)
	}
	if _, err := f.svc.Send(f.ctx, f.ws, po.ID); !errors.Is(err, commission.ErrPayoutInFlight) {
		t.Fatalf("send while the first sender holds it: %v", err)
	}
	if n, err := f.svc.ResolveStale(f.ctx, 10); err != nil || n != 0 {
		t.Fatalf("the worker took over a held payout: %d %v", n, err)
	}
	unanswered := len(f.proxy.Requests("/v1/transfers"))
	if unanswered < 3 {
		t.Fatalf("%d tries, want the first and stripe-go's two retries at least", unanswered)
	}
	f.proxy.KeepAnswering("/v1/transfers")
	if _, err := f.db.Exec(`UPDATE payouts SET lease_until = now() - interval '1 second' WHERE id = $1`, po.ID); err != nil {
		t.Fatal(err)
	}
	// Two replicas' workers at once: one takes it over.
	var wg sync.WaitGroup
	taken := make([]int, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := f.service().ResolveStale(f.ctx, 10)
			if err != nil {
				t.Errorf("resolve: %v", err)
			}
			taken[i] = n
		}()
	}
	wg.Wait()
	if taken[0]+taken[1] != 1 {
		t.Fatalf("taken over %v times, want once", taken)
	}
	got, _ := f.st.Payout(f.ctx, f.ws, po.ID)
	if got.Status != commission.PayoutPaid {
		t.Fatalf("payout %+v", got)
	}
	reqs := f.proxy.Requests("/v1/transfers")
	if len(reqs) != unanswered+1 || reqs[len(reqs)-1].Answered != 200 {
		t.Fatalf("%d transfer requests, want %d (the unanswered, then the worker's, answered)", len(reqs), unanswered+1)
	}
	for _, r := range reqs {
		if r.IdempotencyKey != "partli-payout-"+po.ID+"-1" {
			t.Fatalf("request with key %q", r.IdempotencyKey)
		}
	}
	if a, _ := f.st.Attempt(f.ctx, f.ws, po.ID, 1); a.Tries != 2 {
		t.Fatalf("attempt asked %d times, want 2", a.Tries)
	}
	f.checkLedger()
}

// After Stripe's idempotency keys expire (a day), an attempt whose answer
// was lost is first looked for among the transfers of its group.
func TestOldAttemptIsLookedForFirst(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	f.stripeReady(p)
	f.earn(p, 50000, "USD")
	po := f.payout(p, "USD")
	f.proxy.DropReplies("/v1/transfers", 100)
	if out, err := f.svc.Send(f.ctx, f.ws, po.ID); err != nil || out.Status != commission.PayoutProcessing {
		t.Fatalf("send: %v %+v", err, out)
	}
	f.proxy.KeepAnswering("/v1/transfers")
	unanswered := len(f.proxy.Requests("/v1/transfers"))
	if _, err := f.db.Exec(`UPDATE payouts SET lease_until = now() - interval '1 second' WHERE id = $1`, po.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec(`UPDATE payout_attempts SET started_at = now() - interval '25 hours' WHERE payout_id = $1`, po.ID); err != nil {
		t.Fatal(err)
	}
	f.proxy.Respond("/v1/transfers", stripetest.Reply{Status: 200, Body: `{"object": "list", "url": "/v1/transfers", "has_more": false,
		"data": [{"id": "tr_other", "object": "transfer", "amount": 1, "currency": "usd", "transfer_group": "po_x", "metadata": {}},
		         {"id": "tr_found", "object": "transfer", "amount": 5000, "currency": "usd", "transfer_group": "` + po.ID + `",
		          "metadata": {"partli_payout_id": "` + po.ID + `"}}]}`})
	if n, err := f.svc.ResolveStale(f.ctx, 10); err != nil || n != 1 {
		t.Fatalf("resolve: %d %v", n, err)
	}
	got, _ := f.st.Payout(f.ctx, f.ws, po.ID)
	if got.Status != commission.PayoutPaid || got.Reference != "tr_found" {
		t.Fatalf("payout %+v", got)
	}
	reqs := f.proxy.Requests("/v1/transfers")
	if last := reqs[len(reqs)-1]; last.Method != http.MethodGet || last.Form.Get("transfer_group") != po.ID {
		t.Fatalf("last request %+v, want the list of the payout's group", last)
	}
	if n := len(reqs); n != unanswered+1 {
		t.Fatalf("%d requests after %d unanswered: no transfer may be posted again", n, unanswered)
	}
}

// Stripe refusing the transfer fails the payout with Stripe's message, and
// its commissions are back in the balance; sent again it is a new attempt
// (a new key) that pays the balance as it is then.
func TestStripeRefusalFailsThePayout(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	f.stripeReady(p)
	f.earn(p, 50000, "USD")
	po := f.payout(p, "USD")
	if f.balance(p, "USD") != 0 {
		t.Fatal("the payout did not take the balance")
	}
	f.proxy.Fail("/v1/transfers", 400, "invalid_request_error", "balance_insufficient",
		"You have insufficient available funds in your Stripe account.")
	out, err := f.svc.Send(f.ctx, f.ws, po.ID)
	if err != nil {
		t.Fatalf("send: %v", err)
	}
	if out.Status != commission.PayoutFailed || out.FailureReason != "You have insufficient available funds in your Stripe account." || out.FailedAt == nil {
		t.Fatalf("payout %+v", out)
	}
	if b := f.balance(p, "USD"); b != 5000 {
		t.Fatalf("balance %d after the failure, want 5000", b)
	}
	if n := f.count(`SELECT count(*) FROM commissions WHERE workspace_id = $1 AND payout_id IS NOT NULL`, f.ws); n != 0 {
		t.Fatalf("%d commissions still in the failed payout", n)
	}
	if n := f.count(`SELECT count(*) FROM webhook_events WHERE workspace_id = $1 AND type = 'payout.failed'
		AND payload->'data'->>'failureReason' LIKE 'You have insufficient%'`, f.ws); n != 1 {
		t.Fatalf("%d payout.failed events", n)
	}
	if n := f.count(`SELECT count(*) FROM mail_outbox WHERE workspace_id = $1 AND kind = 'payout_sent'`, f.ws); n != 0 {
		t.Fatalf("%d payout-sent mails for a failed transfer", n)
	}
	f.checkLedger()
	if _, err := f.cs.MarkPayoutPaid(f.ctx, f.ws, po.ID, "ref", "u"); !errors.Is(err, commission.ErrPayoutTransition) {
		t.Fatalf("mark a failed payout paid: %v", err)
	}

	// Sent again, once Stripe has the funds: a new attempt, a new key.
	f.earn(p, 10000, "USD")
	f.proxy.Respond("/v1/transfers")
	out, err = f.svc.Send(f.ctx, f.ws, po.ID)
	if err != nil || out.Status != commission.PayoutPaid || out.AmountCents != 6000 || out.Attempt != 2 || out.FailureReason != "" {
		t.Fatalf("send again: %v %+v", err, out)
	}
	reqs := f.proxy.Requests("/v1/transfers")
	if len(reqs) != 2 || reqs[1].IdempotencyKey != "partli-payout-"+po.ID+"-2" || reqs[1].Form.Get("amount") != "6000" {
		t.Fatalf("requests %+v", reqs)
	}
	if f.balance(p, "USD") != 0 {
		t.Fatal("balance left")
	}
	f.checkLedger()
	if n := f.checkEvents(); n["payout.created"] != 1 || n["payout.failed"] != 1 || n["payout.paid"] != 1 {
		t.Fatalf("events %v", n)
	}

	// A failed payout can be canceled instead.
	f.earn(p, 20000, "USD")
	po2 := f.payout(p, "USD")
	f.proxy.Fail("/v1/transfers", 400, "invalid_request_error", "", "No such destination")
	if out, _ := f.svc.Send(f.ctx, f.ws, po2.ID); out.Status != commission.PayoutFailed {
		t.Fatalf("second payout %+v", out)
	}
	canceled, err := f.cs.CancelPayout(f.ctx, f.ws, po2.ID)
	if err != nil || canceled.Status != commission.PayoutCanceled || f.balance(p, "USD") != 2000 {
		t.Fatalf("cancel a failed payout: %v %+v (balance %d)", err, canceled, f.balance(p, "USD"))
	}
	f.checkLedger()
}

// A double click, two replicas: concurrent sends of one payout make one
// transfer; the others are told it is being sent.
func TestConcurrentSendsMakeOneTransfer(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	f.stripeReady(p)
	f.earn(p, 50000, "USD")
	po := f.payout(p, "USD")
	release := f.proxy.Block("/v1/transfers")
	var wg sync.WaitGroup
	var mu sync.Mutex
	var paid, refused int
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := f.service().Send(f.ctx, f.ws, po.ID)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, commission.ErrPayoutInFlight):
				refused++
			case err != nil:
				t.Errorf("send: %v", err)
			case out.Status == commission.PayoutPaid:
				paid++
			}
		}()
	}
	// The first sender's transfer is held at the proxy until the others
	// have all been refused.
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := refused
		mu.Unlock()
		if n == 7 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	release()
	wg.Wait()
	if paid != 1 || refused != 7 {
		t.Fatalf("%d paid, %d refused; want 1 and 7", paid, refused)
	}
	if reqs := f.proxy.Requests("/v1/transfers"); len(reqs) != 1 {
		t.Fatalf("%d transfer requests, want 1", len(reqs))
	}
	f.checkLedger()
}

// Concurrent creation of a program's payouts makes one payout per partner
// and currency, never one commission in two.
func TestConcurrentCreationMakesOneEach(t *testing.T) {
	f := newFx(t, 1000)
	var ps []partner
	for range 3 {
		p := f.partner()
		f.earn(p, 50000, "USD")
		f.earn(p, 30000, "EUR")
		ps = append(ps, p)
	}
	small := f.partner()
	f.earn(small, 5000, "USD") // $5.00: below the $10.00 minimum
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, err := f.service().CreateForProgram(f.ctx, f.ws, f.program.ID, nil, false, "test")
			if err != nil {
				t.Errorf("create: %v", err)
				return
			}
			mu.Lock()
			total += len(out.Payouts)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if total != 6 {
		t.Fatalf("%d payouts made, want 6 (3 partners × USD, EUR)", total)
	}
	if n := f.count(`SELECT count(*) FROM payouts WHERE workspace_id = $1`, f.ws); n != 6 {
		t.Fatalf("%d payouts stored", n)
	}
	if n := f.count(`SELECT count(*) FROM (SELECT partner_id, currency FROM payouts WHERE workspace_id = $1 GROUP BY 1, 2 HAVING count(*) > 1) d`, f.ws); n != 0 {
		t.Fatal("a partner and currency has two payouts")
	}
	if b := f.balance(small, "USD"); b != 500 {
		t.Fatalf("the small balance is %d, want 500 carried forward", b)
	}
	// The minimum is in dollars: the €30.00 balances were paid although
	// 3000 < 1000 is not the question — a minimum of another currency is
	// never compared.
	f.checkLedger()
}

// Sending what cannot be sent is refused, naming why, and changes nothing.
func TestSendRefusals(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	f.earn(p, 50000, "USD")

	// No payout method: a payout by hand.
	po := f.payout(p, "USD")
	_, err := f.svc.Send(f.ctx, f.ws, po.ID)
	if !errors.Is(err, payout.ErrNotSent) || !strings.Contains(payout.Explain(err), "has not chosen a payout method") {
		t.Fatalf("send a manual payout: %v", err)
	}
	if _, err := f.cs.CancelPayout(f.ctx, f.ws, po.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Send(f.ctx, f.ws, po.ID); !errors.Is(err, commission.ErrPayoutTransition) || !strings.Contains(payout.Explain(err), "canceled") {
		t.Fatalf("send a canceled payout: %v", err)
	}

	// PayPal: paid with the file.
	if _, err := f.st.SetPayoutMethod(f.ctx, f.ws, p.ID, payout.PayPal, "jane@paypal.example.com"); err != nil {
		t.Fatal(err)
	}
	po = f.payout(p, "USD")
	if po.Method != payout.PayPal || po.Recipient != "jane@paypal.example.com" {
		t.Fatalf("payout %+v", po)
	}
	if _, err := f.svc.Send(f.ctx, f.ws, po.ID); !errors.Is(err, payout.ErrNotSent) || !strings.Contains(payout.Explain(err), "paypal batch file") {
		t.Fatalf("send a PayPal payout: %v", err)
	}
	if _, err := f.cs.MarkPayoutPaid(f.ctx, f.ws, po.ID, "PAYPAL-BATCH-1", "u"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Send(f.ctx, f.ws, po.ID); !errors.Is(err, commission.ErrPayoutTransition) || !strings.Contains(payout.Explain(err), "paid already") {
		t.Fatalf("send a paid payout: %v", err)
	}

	// Stripe, onboarding not finished (stripe-mock's account has payouts disabled).
	f.earn(p, 50000, "USD")
	if _, err := f.st.UseStripeAccount(f.ctx, f.ws, p.ID, "acct_notready"); err != nil {
		t.Fatal(err)
	}
	po = f.payout(p, "USD")
	_, err = f.svc.Send(f.ctx, f.ws, po.ID)
	if !errors.Is(err, payout.ErrNotReady) || !strings.Contains(payout.Explain(err), "onboarding with Stripe is not finished") {
		t.Fatalf("send to an account not onboarded: %v (%s)", err, payout.Explain(err))
	}
	if got, _ := f.st.Payout(f.ctx, f.ws, po.ID); got.Status != commission.PayoutPending || got.Attempt != 0 {
		t.Fatalf("a refused send changed the payout: %+v", got)
	}
	if n := len(f.proxy.Requests("/v1/transfers")); n != 0 {
		t.Fatalf("%d transfers", n)
	}
	// Stripe enables payouts (the account, as read): the payout goes.
	f.proxy.Respond("/v1/accounts/acct_notready", stripetest.Reply{Status: 200,
		Body: `{"id": "acct_notready", "object": "account", "payouts_enabled": true, "details_submitted": true}`})
	if out, err := f.svc.Send(f.ctx, f.ws, po.ID); err != nil || out.Status != commission.PayoutPaid {
		t.Fatalf("send once Stripe enabled payouts: %v %+v", err, out)
	}

	// Below Stripe's minimum for the currency.
	f.earn(p, 300, "USD") // 30 cents
	po = f.payout(p, "USD")
	_, err = f.svc.Send(f.ctx, f.ws, po.ID)
	if !errors.Is(err, commission.ErrBelowStripeMinimum) || !strings.Contains(payout.Explain(err), "$0.50") {
		t.Fatalf("send 30 cents: %v", err)
	}
	if got, _ := f.st.Payout(f.ctx, f.ws, po.ID); got.Status != commission.PayoutPending {
		t.Fatalf("payout %+v", got)
	}
	f.checkLedger()
}

// Onboarding makes the partner's Express account once and an Account Link
// to it; Stripe's account.updated (or reading the account) says when it is
// ready.
func TestOnboarding(t *testing.T) {
	f := newFx(t, 0)
	p := f.partner()
	url, err := f.svc.Onboarding(f.ctx, f.ws, p.ID, "http://partli.test/refresh", "http://partli.test/return")
	if err != nil || !strings.HasPrefix(url, "https://") {
		t.Fatalf("onboarding: %q %v", url, err)
	}
	m, err := f.st.PayoutMethodOf(f.ctx, f.ws, p.ID)
	if err != nil || m.Type != payout.Stripe || m.StripeAccountID == nil {
		t.Fatalf("method %+v %v", m, err)
	}
	if _, err := f.svc.Onboarding(f.ctx, f.ws, p.ID, "http://partli.test/refresh", "http://partli.test/return"); err != nil {
		t.Fatal(err)
	}
	accounts := f.proxy.Requests("/v1/accounts")
	if len(accounts) != 1 || accounts[0].Form.Get("type") != "express" || accounts[0].Form.Get("capabilities[transfers][requested]") != "true" ||
		accounts[0].Form.Get("email") != p.Email || accounts[0].IdempotencyKey != "partli-express-"+f.ws+"-"+p.ID {
		t.Fatalf("account requests %+v", accounts)
	}
	links := f.proxy.Requests("/v1/account_links")
	if len(links) != 2 || links[1].Form.Get("account") != *m.StripeAccountID || links[1].Form.Get("type") != "account_onboarding" ||
		links[1].Form.Get("return_url") != "http://partli.test/return" {
		t.Fatalf("link requests %+v", links)
	}
	if ready, why := payout.Readiness(m); ready || why == "" {
		t.Fatalf("a new account is ready: %v %q", ready, why)
	}
	got, err := f.svc.RefreshStripe(f.ctx, f.ws, p.ID)
	if err != nil || got.StripePayoutsEnabled || !strings.Contains(got.StripeRequirements, "onboarding with Stripe is not finished") {
		t.Fatalf("refresh: %+v %v", got, err)
	}
	// Switching to PayPal keeps the account for a way back.
	if _, err := f.st.SetPayoutMethod(f.ctx, f.ws, p.ID, payout.PayPal, "p@example.com"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Onboarding(f.ctx, f.ws, p.ID, "http://partli.test/refresh", "http://partli.test/return"); err != nil {
		t.Fatal(err)
	}
	if n := len(f.proxy.Requests("/v1/accounts")); n != 1 {
		t.Fatalf("%d accounts made, want 1", n)
	}
	// Stripe refusing (a bad key) is said in Stripe's words.
	f.proxy.Fail("/v1/account_links", 401, "invalid_request_error", "", "Invalid API Key provided: sk_test_****form")
	if _, err := f.svc.Onboarding(f.ctx, f.ws, p.ID, "http://partli.test/r", "http://partli.test/r"); !errors.Is(err, payout.ErrNotReady) ||
		!strings.Contains(payout.Explain(err), "Invalid API Key") {
		t.Fatalf("refused link: %v", err)
	}
}
