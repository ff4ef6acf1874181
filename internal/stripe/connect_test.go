package stripe

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/tracking"
)

func TestMain(m *testing.M) { os.Exit(testdb.Main(m)) }

// fakeConnect stands in for connect.stripe.com: /oauth/token gives the
// account of each known code (once), /oauth/deauthorize removes the
// platform's access to a connected account.
type fakeConnect struct {
	*httptest.Server
	mu        sync.Mutex
	codes     map[string]string // code → account
	connected map[string]bool   // accounts connected to the platform
	fail      bool              // answer 500
	requests  []fakeRequest
}

type fakeRequest struct {
	Path, Auth string
	Form       url.Values
}

const (
	testClientID  = "ca_test_partli"
	testSecretKey = "sk_test_platform"
)

func newFakeConnect(t testing.TB) *fakeConnect {
	f := &fakeConnect{codes: map[string]string{}, connected: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeConnect) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, fakeRequest{Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Form: form})
	w.Header().Set("Content-Type", "application/json")
	oauthError := func(status int, code, desc string) {
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
	}
	if f.fail {
		w.WriteHeader(http.StatusInternalServerError)
		w.Write([]byte(`{"error": {"type": "api_error", "message": "down"}}`))
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+testSecretKey {
		oauthError(http.StatusUnauthorized, "invalid_client", "bad key")
		return
	}
	switch r.URL.Path {
	case "/oauth/token":
		account, ok := f.codes[form.Get("code")]
		if !ok || form.Get("grant_type") != "authorization_code" || form.Get("client_secret") != testSecretKey {
			oauthError(http.StatusBadRequest, "invalid_grant", "Authorization code does not exist: "+form.Get("code"))
			return
		}
		delete(f.codes, form.Get("code"))
		f.connected[account] = true
		json.NewEncoder(w).Encode(map[string]any{"access_token": "sk_test_access", "livemode": false,
			"refresh_token": "rt_x", "scope": "read_write", "stripe_publishable_key": "pk_test_x",
			"stripe_user_id": account, "token_type": "bearer"})
	case "/oauth/deauthorize":
		account := form.Get("stripe_user_id")
		if form.Get("client_id") != testClientID || !f.connected[account] {
			oauthError(http.StatusUnauthorized, "invalid_client",
				"This application is not connected to stripe account "+account+", or that account does not exist.")
			return
		}
		delete(f.connected, account)
		json.NewEncoder(w).Encode(map[string]string{"stripe_user_id": account})
	default:
		http.NotFound(w, r)
	}
}

// code makes an authorization code that connects account.
func (f *fakeConnect) code(account string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := "ac_" + ids.Random(8)
	f.codes[c] = account
	return c
}

func (f *fakeConnect) calls(path string) []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeRequest
	for _, r := range f.requests {
		if r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

type connectEnv struct {
	st   *store.Store
	fake *fakeConnect
	c    *Connector
	ws   []string
}

func newConnectEnv(t *testing.T, workspaces int) *connectEnv {
	t.Helper()
	db, _ := testdb.New(t)
	st := store.New(db)
	fake := newFakeConnect(t)
	env := &connectEnv{st: st, fake: fake, c: NewConnector(st, ConnectConfig{ClientID: testClientID, SecretKey: testSecretKey,
		ConnectBase: fake.URL, APIBase: fake.URL}, slog.New(slog.NewTextHandler(io.Discard, nil)))}
	for range workspaces {
		created, err := accounts.CreateWorkspace(context.Background(), st, accounts.NewWorkspace{
			Name: "Shop " + ids.Random(4), OwnerEmail: "owner-" + ids.Random(6) + "@example.com", OwnerPassword: "correct horse battery"})
		if err != nil {
			t.Fatal(err)
		}
		env.ws = append(env.ws, created.Workspace.ID)
	}
	return env
}

func (e *connectEnv) account(t *testing.T, ws string) *store.StripeConnection {
	t.Helper()
	c, err := e.st.StripeConnection(context.Background(), ws)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestStripeConnectAuthorizeURL(t *testing.T) {
	c := NewConnector(nil, ConnectConfig{ClientID: testClientID, SecretKey: testSecretKey, ConnectBase: "https://connect.example/"}, slog.Default())
	u, err := url.Parse(c.AuthorizeURL("st4te", "https://partli.example/integrations/stripe/callback"))
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme+"://"+u.Host+u.Path != "https://connect.example/oauth/authorize" {
		t.Fatalf("authorize URL %s", u)
	}
	want := url.Values{"response_type": {"code"}, "client_id": {testClientID}, "scope": {"read_write"},
		"state": {"st4te"}, "redirect_uri": {"https://partli.example/integrations/stripe/callback"}}
	if got := u.Query(); got.Encode() != want.Encode() {
		t.Fatalf("query %v, want %v", got, want)
	}
	if NewConnector(nil, ConnectConfig{}, slog.Default()).Configured() {
		t.Fatal("a connector without client id and key is configured")
	}
}

func TestStripeConnectCompleteAndDisconnect(t *testing.T) {
	t.Parallel()
	e := newConnectEnv(t, 2)
	ctx := context.Background()
	a, b := e.ws[0], e.ws[1]
	acct := "acct_" + ids.Random(8)

	// A code Stripe does not know: refused, nothing stored.
	_, err := e.c.Complete(ctx, a, "ac_unknown")
	var refused *RefusedError
	if !errors.As(err, &refused) || refused.Code != "invalid_grant" || refused.Status != http.StatusBadRequest {
		t.Fatalf("unknown code: %v", err)
	}
	if e.account(t, a).Connected() {
		t.Fatal("a refused code connected an account")
	}

	res, err := e.c.Complete(ctx, a, e.fake.code(acct))
	if err != nil {
		t.Fatal(err)
	}
	if res.AccountID != acct || res.Livemode || res.Replaced != "" {
		t.Fatalf("connected %+v", res)
	}
	conn := e.account(t, a)
	if !conn.Connected() || *conn.AccountID != acct || conn.Livemode || conn.ConnectedAt == nil {
		t.Fatalf("stored %+v", conn)
	}
	tok := e.fake.calls("/oauth/token")
	if len(tok) != 2 || tok[1].Auth != "Bearer "+testSecretKey || tok[1].Form.Get("client_secret") != testSecretKey {
		t.Fatalf("token requests %+v", tok)
	}
	if ws, err := e.st.WorkspaceByStripeAccount(ctx, acct); err != nil || ws != a {
		t.Fatalf("events of %s route to %q (%v), want %s", acct, ws, err, a)
	}

	// The same account from another workspace: refused, the first keeps it,
	// and Stripe is not told to cut it off.
	if _, err := e.c.Complete(ctx, b, e.fake.code(acct)); !errors.Is(err, ErrAccountTaken) {
		t.Fatalf("taken account: %v", err)
	}
	if e.account(t, b).Connected() || *e.account(t, a).AccountID != acct || len(e.fake.calls("/oauth/deauthorize")) != 0 {
		t.Fatal("a taken account moved or was deauthorized")
	}

	// Switching to another account deauthorizes the old one.
	other := "acct_" + ids.Random(8)
	res, err = e.c.Complete(ctx, a, e.fake.code(other))
	if err != nil || res.Replaced != acct {
		t.Fatalf("switch: %+v %v", res, err)
	}
	if d := e.fake.calls("/oauth/deauthorize"); len(d) != 1 || d[0].Form.Get("stripe_user_id") != acct || d[0].Form.Get("client_id") != testClientID {
		t.Fatalf("deauthorize requests %+v", d)
	}

	// Stripe is down: nothing changes.
	e.fake.mu.Lock()
	e.fake.fail = true
	e.fake.mu.Unlock()
	if _, err := e.c.Disconnect(ctx, a); err == nil || errors.As(err, &refused) {
		t.Fatalf("disconnect with Stripe down: %v", err)
	}
	if !e.account(t, a).Connected() {
		t.Fatal("a failed disconnection forgot the account")
	}
	e.fake.mu.Lock()
	e.fake.fail = false
	e.fake.mu.Unlock()

	d, err := e.c.Disconnect(ctx, a)
	if err != nil || d.AccountID != other || !d.AtStripe {
		t.Fatalf("disconnect: %+v %v", d, err)
	}
	if e.account(t, a).Connected() {
		t.Fatal("still connected")
	}
	if _, err := e.c.Disconnect(ctx, a); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("second disconnect: %v", err)
	}

	// a let go of acct when it switched: b may connect it now.
	if _, err := e.c.Complete(ctx, b, e.fake.code(acct)); err != nil || *e.account(t, b).AccountID != acct {
		t.Fatalf("b connecting a freed account: %v", err)
	}
}

func TestStripeConnectDisconnectAfterStripeRemovedAccess(t *testing.T) {
	t.Parallel()
	e := newConnectEnv(t, 1)
	ctx := context.Background()
	acct := "acct_" + ids.Random(8)
	if _, err := e.c.Complete(ctx, e.ws[0], e.fake.code(acct)); err != nil {
		t.Fatal(err)
	}
	e.fake.mu.Lock()
	delete(e.fake.connected, acct) // the merchant removed Partli in Stripe
	e.fake.mu.Unlock()
	d, err := e.c.Disconnect(ctx, e.ws[0])
	if err != nil || d.AtStripe || d.AccountID != acct {
		t.Fatalf("disconnect: %+v %v", d, err)
	}
	if e.account(t, e.ws[0]).Connected() {
		t.Fatal("still connected")
	}
}

// account.application.deauthorized clears the account, unless the account
// was connected again after it happened (a late retry).
func TestStripeConnectDeauthorizedEvent(t *testing.T) {
	t.Parallel()
	e := newConnectEnv(t, 1)
	ctx := context.Background()
	ws := e.ws[0]
	const secret = "whsec_platform"
	in := New(e.st, tracking.New(e.st), commission.New(e.st), secret, slog.New(slog.NewTextHandler(io.Discard, nil)))
	deliver := func(account string, created time.Time) *Reply {
		t.Helper()
		payload, _ := json.Marshal(map[string]any{
			"id": "evt_" + ids.Random(8), "object": "event", "type": AccountDeauthorized, "account": account,
			"created": created.Unix(), "livemode": false, "api_version": "2026-03-25.dahlia",
			"data": map[string]any{"object": map[string]any{"id": testClientID, "object": "application", "name": "Partli"}},
		})
		signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret})
		r, err := in.Connect(ctx, payload, signed.Header)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	acct := "acct_" + ids.Random(8)
	if _, err := e.c.Complete(ctx, ws, e.fake.code(acct)); err != nil {
		t.Fatal(err)
	}
	// Deauthorized a minute before this connection: a late delivery.
	if r := deliver(acct, time.Now().Add(-time.Minute)); !strings.HasPrefix(r.Outcome, "ignored") || !e.account(t, ws).Connected() {
		t.Fatalf("a stale deauthorization cleared a newer connection: %+v", r)
	}
	r := deliver(acct, time.Now())
	if !strings.Contains(r.Outcome, "disconnected") || e.account(t, ws).Connected() {
		t.Fatalf("deauthorized: %+v, connected %v", r, e.account(t, ws).Connected())
	}
	if _, err := e.st.WorkspaceByStripeAccount(ctx, acct); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("events of a deauthorized account still route: %v", err)
	}
	// An account nobody has: acknowledged.
	if r := deliver("acct_nobody", time.Now()); !strings.HasPrefix(r.Outcome, "ignored") {
		t.Fatalf("unknown account: %+v", r)
	}
}
