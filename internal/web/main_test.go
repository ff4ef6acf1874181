package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/apispec"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/mailpit"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
	"github.com/partli/partli/internal/web"
)

func TestMain(m *testing.M) {
	// mailpit (pinned in go.mod) is built once for the test binary; the
	// tests of mail start it on first use (mail_test.go).
	if _, err := mailpit.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "web tests: mailpit:", err)
	}
	code := testdb.Main(m)
	stopTestMailpit()
	os.Exit(code)
}

// validator checks every /api exchange of every test against the OpenAPI
// document; TestOpenAPICoverage asserts which operations were exercised.
var (
	validatorOnce sync.Once
	validator     *apispec.Validator
)

func specValidator(t testing.TB) *apispec.Validator {
	validatorOnce.Do(func() {
		v, err := apispec.NewValidator()
		if err != nil {
			t.Fatalf("openapi validator: %v", err)
		}
		validator = v
	})
	return validator
}

// env is one test's Partli: a fresh database, the real router on a loopback
// httptest server, and one workspace with an API key.
type env struct {
	t     testing.TB
	DB    *sqlx.DB
	Store *store.Store
	Cfg   config.Config
	URL   string
	WS    *accounts.Created
	Key   string
	// NoRedirect is a client that stops at redirects (for /r/{slug}).
	NoRedirect *http.Client
	// Log is everything the server logged (Info and above).
	Log *logBuffer
}

// logBuffer keeps a server's log for a test to read while it runs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testKeys seal the secrets the tests store (a fixed key: a failure replays).
var testKeys = func() *secret.Keys {
	k, err := secret.New([]byte("partli web tests' encryption key"), nil)
	if err != nil {
		panic(err)
	}
	return k
}()

// testConfig is the configuration tests serve with.
func testConfig() config.Config {
	return config.Config{
		Addr: "127.0.0.1:0", BaseURL: "http://partli.test", SessionSecret: "test-secret-test-secret-test-secret",
		Env: "development", ApproveEvery: 0, TrackRate: 100000, ClickRate: 100000, SignInLimit: 20, DBMaxConns: 20,
		WebhookAllowPrivate: true, SecretKeys: testKeys, MailFrom: &mail.Address{Name: "Partli", Address: "partli@partli.test"},
	}
}

// newEnv starts a server on a fresh database; change cfg with opts.
func newEnv(t testing.TB, opts ...func(*config.Config)) *env {
	t.Helper()
	db, _ := testdb.New(t)
	cfg := testConfig()
	for _, o := range opts {
		o(&cfg)
	}
	return newEnvOn(t, db, cfg)
}

func newEnvOn(t testing.TB, db *sqlx.DB, cfg config.Config) *env {
	t.Helper()
	st := store.New(db).WithSecrets(cfg.SecretKeys)
	logs := &logBuffer{}
	var h slog.Handler = slog.NewTextHandler(logs, nil)
	if testing.Verbose() {
		h = slog.NewMultiHandler(h, slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	log := slog.New(h)
	srv := httptest.NewServer(web.New(cfg, st, log))
	t.Cleanup(srv.Close)
	e := &env{t: t, DB: db, Store: st, Cfg: cfg, URL: srv.URL, Log: logs,
		NoRedirect: &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	e.WS, e.Key = e.newWorkspace("Acme")
	return e
}

var wsCounter struct {
	sync.Mutex
	n int
}

// newWorkspace creates another workspace (with its owner and key) in the same database.
func (e *env) newWorkspace(name string) (*accounts.Created, string) {
	e.t.Helper()
	wsCounter.Lock()
	wsCounter.n++
	n := wsCounter.n
	wsCounter.Unlock()
	created, err := accounts.CreateWorkspace(context.Background(), e.Store, accounts.NewWorkspace{
		Name: name, OwnerEmail: strings.ToLower(name) + "-" + itoa(n) + "@example.com", OwnerPassword: "correct horse battery"})
	if err != nil {
		e.t.Fatalf("create workspace: %v", err)
	}
	return created, created.APIKey
}

func itoa(n int) string { return strconv.Itoa(n) }

// reply is an HTTP reply with its body read.
type reply struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test when it is not JSON.
func (r reply) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("reply %d is not JSON: %v\n%s", r.Status, err, r.Body)
	}
}

// Map decodes the body as a JSON object.
func (r reply) Map(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	r.JSON(t, &m)
	return m
}

// ErrorCode returns error.code of an error reply.
func (r reply) ErrorCode(t testing.TB) string {
	t.Helper()
	var e struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	return e.Error.Code
}

// ErrorFields returns error.fields of an error reply.
func (r reply) ErrorFields(t testing.TB) map[string]string {
	t.Helper()
	var e struct {
		Error struct {
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.JSON(t, &e)
	return e.Error.Fields
}

// call sends a request with key (none when empty) and a body: a string or
// []byte is sent as is, anything else as JSON. /api exchanges are checked
// against the OpenAPI document.
func (e *env) call(method, path, key string, body any) reply {
	e.t.Helper()
	return e.callWith(method, path, key, body, nil)
}

func (e *env) callWith(method, path, key string, body any, header http.Header) reply {
	e.t.Helper()
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			e.t.Fatalf("marshal body: %v", err)
		}
	}
	var rd io.Reader
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		e.t.Fatalf("new request: %v", err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := e.NoRedirect.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatalf("read reply: %v", err)
	}
	if strings.HasPrefix(path, "/api/") {
		if err := specValidator(e.t).Check(req, raw, resp.StatusCode, resp.Header, got); err != nil && !errors.Is(err, apispec.ErrUndocumented) {
			e.t.Errorf("%s %s → %d does not match the OpenAPI document: %v\n%s", method, path, resp.StatusCode, err, got)
		}
	}
	return reply{Status: resp.StatusCode, Header: resp.Header, Body: got}
}

// must fails the test unless the reply has status want; it returns the reply.
func (r reply) must(t testing.TB, want int) reply {
	t.Helper()
	if r.Status != want {
		t.Fatalf("status %d, want %d: %s", r.Status, want, r.Body)
	}
	return r
}
