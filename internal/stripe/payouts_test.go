package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripetest"
	"github.com/partli/partli/internal/tracking"
)

// account.updated of a partner's Express account, at the platform endpoint
// (or the workspace's own): what Stripe says decides whether payouts can go
// to it; an older event changes nothing; other accounts are acknowledged.
func TestAccountUpdatedEvent(t *testing.T) {
	t.Parallel()
	e := newConnectEnv(t, 2)
	ctx := context.Background()
	ws, other := e.ws[0], e.ws[1]
	const platformSecret = "whsec_platform"
	in := New(e.st, tracking.New(e.st), commission.New(e.st), platformSecret, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var programID string
	if err := e.st.DB().GetContext(ctx, &programID, `INSERT INTO programs (id, workspace_id, name, slug, destination_url, currency,
		holding_period_days, cookie_days) VALUES ($1, $2, 'P', 'p', 'https://x.example', 'USD', 0, 30) RETURNING id`, ids.New(ids.Program), ws); err != nil {
		t.Fatal(err)
	}
	partner := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: ws, ProgramID: programID, Email: "p@example.com",
		Name: "P", Slug: "p-" + ids.Random(5), Status: "approved"}
	if err := e.st.CreatePartner(ctx, partner); err != nil {
		t.Fatal(err)
	}
	acct := "acct_" + ids.Random(8)
	if _, err := e.st.UseStripeAccount(ctx, ws, partner.ID, acct); err != nil {
		t.Fatal(err)
	}
	event := func(account string, created time.Time, object map[string]any) ([]byte, string) {
		payload, _ := json.Marshal(map[string]any{
			"id": "evt_" + ids.Random(8), "object": "event", "type": AccountUpdated, "account": account,
			"created": created.Unix(), "livemode": false, "api_version": "2026-03-25.dahlia",
			"data": map[string]any{"object": object},
		})
		return payload, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: platformSecret}).Header
	}
	deliver := func(account string, created time.Time, object map[string]any) *Reply {
		t.Helper()
		payload, sig := event(account, created, object)
		r, err := in.Connect(ctx, payload, sig)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	method := func() *store.PayoutMethod {
		t.Helper()
		m, err := e.st.PayoutMethodOf(ctx, ws, partner.ID)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	now := time.Now()
	r := deliver(acct, now.Add(-time.Hour), map[string]any{"id": acct, "object": "account", "payouts_enabled": false, "details_submitted": true,
		"requirements": map[string]any{"disabled_reason": "requirements.past_due", "currently_due": []string{"external_account"}}})
	if m := method(); m.StripePayoutsEnabled || !strings.Contains(m.StripeRequirements, "requirements: past due") ||
		!strings.Contains(m.StripeRequirements, "external_account") || !strings.Contains(r.Outcome, "cannot be paid yet") {
		t.Fatalf("not ready: %+v %+v", m, r)
	}
	r = deliver(acct, now, map[string]any{"id": acct, "object": "account", "payouts_enabled": true, "details_submitted": true})
	if m := method(); !m.StripePayoutsEnabled || m.StripeRequirements != "" || !strings.Contains(r.Outcome, "enabled") {
		t.Fatalf("ready: %+v %+v", m, r)
	}
	// A late, older event does not undo a newer one.
	deliver(acct, now.Add(-time.Minute), map[string]any{"id": acct, "object": "account", "payouts_enabled": false})
	if !method().StripePayoutsEnabled {
		t.Fatal("an older event undid a newer one")
	}
	// An account that is no partner's: acknowledged, nothing stored.
	if r := deliver("acct_nobody", now, map[string]any{"id": "acct_nobody", "payouts_enabled": true}); !strings.HasPrefix(r.Outcome, "ignored") {
		t.Fatalf("unknown account: %+v", r)
	}
	// At another workspace's own endpoint, this partner's account is not its own.
	keys, err := secret.New([]byte("partli stripe tests' secret key."), nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed := e.st.WithSecrets(keys)
	if err := sealed.SetStripeWebhookSecret(ctx, other, "whsec_x"); err != nil {
		t.Fatal(err)
	}
	in = New(sealed, tracking.New(sealed), commission.New(sealed), platformSecret, slog.New(slog.NewTextHandler(io.Discard, nil)))
	payload, _ := event(acct, now.Add(time.Hour), map[string]any{"id": acct, "payouts_enabled": false})
	sig := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_x"}).Header
	if r, err := in.Workspace(ctx, other, payload, sig); err != nil || !strings.HasPrefix(r.Outcome, "ignored") {
		t.Fatalf("another workspace's endpoint: %+v %v", r, err)
	}
	if !method().StripePayoutsEnabled {
		t.Fatal("another workspace's event changed the partner's account")
	}
}

// The payout calls' requests, as stripe-mock (Stripe's API description)
// validates them, and Stripe's refusals told apart from no answer.
func TestPaymentsAgainstStripeMock(t *testing.T) {
	t.Parallel()
	proxy := stripetest.NewProxy(t, stripetest.Mock(t))
	p := NewPayments(PaymentsConfig{APIBase: proxy.URL})
	ctx := context.Background()
	acct, err := p.CreateExpressAccount(ctx, "sk_test_123", "key-1", "p@example.com", map[string]string{"partli_partner_id": "ptn_1"})
	if err != nil || !strings.HasPrefix(acct, "acct_") {
		t.Fatalf("account: %q %v", acct, err)
	}
	if url, err := p.OnboardingLink(ctx, "sk_test_123", acct, "https://partli.test/r", "https://partli.test/d"); err != nil || url == "" {
		t.Fatalf("link: %q %v", url, err)
	}
	st, err := p.AccountState(ctx, "sk_test_123", acct)
	if err != nil || st.PayoutsEnabled || st.Requirements == "" {
		t.Fatalf("state %+v %v", st, err)
	}
	id, err := p.Transfer(ctx, "sk_test_123", TransferRequest{AmountCents: 1234, Currency: "EUR", Destination: acct,
		IdempotencyKey: "partli-payout-po_1-1", WorkspaceID: "ws_1", PayoutID: "po_1", PartnerID: "ptn_1"})
	if err != nil || !strings.HasPrefix(id, "tr_") {
		t.Fatalf("transfer: %q %v", id, err)
	}
	proxy.Fail("/v1/transfers", 402, "card_error", "insufficient_funds", "Insufficient funds.")
	_, err = p.Transfer(ctx, "sk_test_123", TransferRequest{AmountCents: 1234, Currency: "EUR", Destination: acct, IdempotencyKey: "k2", PayoutID: "po_2"})
	var refused *RefusedByStripe
	if !errors.As(err, &refused) || refused.Message != "Insufficient funds." || refused.Code != "insufficient_funds" {
		t.Fatalf("refusal: %v", err)
	}
	for _, status := range []int{http.StatusConflict, http.StatusTooManyRequests, http.StatusInternalServerError} {
		proxy.Fail("/v1/transfers", status, "api_error", "", "try again")
		noRetry := NewPayments(PaymentsConfig{APIBase: proxy.URL, NetworkRetries: new(int64)})
		_, err := noRetry.Transfer(ctx, "sk_test_123", TransferRequest{AmountCents: 1, Currency: "usd", Destination: acct, IdempotencyKey: "k3", PayoutID: "po_3"})
		if err == nil || errors.As(err, &refused) {
			t.Fatalf("%d: %v, want an unknown outcome (not a refusal)", status, err)
		}
	}
	proxy.Respond("/v1/transfers")
	if found, err := p.FindTransfer(ctx, "sk_test_123", "po_nope"); err != nil || found != "" {
		t.Fatalf("find: %q %v", found, err)
	}
}
