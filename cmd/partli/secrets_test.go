package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/outbox"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/webhook"
	"github.com/partli/partli/migrations"
)

func keysOf(t *testing.T, current string) *secret.Keys {
	t.Helper()
	raw, err := secret.ParseKey(current)
	if err != nil {
		t.Fatal(err)
	}
	k, err := secret.New(raw, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// Secrets a Partli from before sealing stored in plain text are sealed by
// `partli migrate` (which refuses to run without the key), deliveries still
// verify with the receiver's library, `partli serve` refuses keys that
// cannot open them, and `partli secrets rotate` reseals them under a new key.
func TestMigrateSealsPlainSecretsAndRotateReseals(t *testing.T) {
	ctx := context.Background()
	dbURL := unmigratedDB(t)
	db, err := store.Open(ctx, dbURL, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// The schema as it was before secrets were sealed, with what the
	// Partli of then wrote.
	p, err := goose.NewProvider(goose.DialectPostgres, db.DB, migrations.FS)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	ws := "ws_plain"
	if _, err := db.Exec(`INSERT INTO workspaces (id, name, slug) VALUES ($1, 'Plain', 'plain')`, ws); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var got []*http.Request
	var bodies [][]byte
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		got, bodies = append(got, r), append(bodies, b)
		mu.Unlock()
	}))
	defer rc.Close()
	plain := map[string]string{"secret": webhook.NewSecret(), "previous_secret": webhook.NewSecret(), "webhook_secret": "whsec_stripe_plain_secret"}
	if _, err := db.Exec(`INSERT INTO webhook_endpoints (id, workspace_id, url, events, secret, previous_secret, previous_secret_expires_at)
		VALUES ('we_plain', $1, $2, '{sale.created}', $3, $4, now() + interval '1 day')`, ws, rc.URL, plain["secret"], plain["previous_secret"]); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO stripe_connections (workspace_id, webhook_secret) VALUES ($1, $2)`, ws, plain["webhook_secret"]); err != nil {
		t.Fatal(err)
	}
	stored := func() map[string]string {
		t.Helper()
		out := map[string]string{}
		var a, b, c string
		if err := db.QueryRow(`SELECT e.secret, e.previous_secret, s.webhook_secret FROM webhook_endpoints e, stripe_connections s
			WHERE e.id = 'we_plain' AND s.workspace_id = $1`, ws).Scan(&a, &b, &c); err != nil {
			t.Fatal(err)
		}
		out["secret"], out["previous_secret"], out["webhook_secret"] = a, b, c
		return out
	}
	sealedUnder := func(keys *secret.Keys) {
		t.Helper()
		for col, v := range stored() {
			id, ok := secret.SealedBy(v)
			opened, err := keys.Open(v)
			if !ok || id != keys.CurrentID() || err != nil || opened != plain[col] || strings.Contains(v, "whsec_") {
				t.Fatalf("%s is %q (%v): want it sealed under key %s, opening to what was stored", col, v, err, keys.CurrentID())
			}
		}
	}

	// Without the key, migrate refuses before migrating.
	cleanEnv(t, "DATABASE_URL", dbURL)
	if _, _, err := runCmd(t, "migrate"); err == nil || !strings.Contains(err.Error(), "PARTLI_ENCRYPTION_KEY") ||
		!strings.Contains(err.Error(), "plain text") {
		t.Fatalf("migrate without a key over secrets in plain text: %v, want a refusal naming PARTLI_ENCRYPTION_KEY", err)
	}
	if err := store.CheckSchema(ctx, db.DB); err == nil {
		t.Fatal("migrate without a key applied the migrations")
	}

	key1 := secret.NewKey()
	keys1 := keysOf(t, key1)
	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_ENCRYPTION_KEY", key1)
	out, _, err := runCmd(t, "migrate")
	if err != nil || !strings.Contains(out, "sealed the secrets of 2 row(s)") {
		t.Fatalf("migrate with a key: %v\n%s", err, out)
	}
	sealedUnder(keys1)
	if out, _, err := runCmd(t, "migrate"); err != nil || strings.Contains(out, "sealed") {
		t.Fatalf("a second migrate: %v\n%s", err, out)
	}
	// Nothing left to seal: migrate needs no key (serve does).
	cleanEnv(t, "DATABASE_URL", dbURL)
	if out, _, err := runCmd(t, "migrate"); err != nil {
		t.Fatalf("migrate without a key over sealed secrets: %v\n%s", err, out)
	}

	// Deliveries are signed with the secrets as they were, both of them
	// during the overlap, and verify with the Standard Webhooks library.
	st := store.New(db).WithSecrets(keys1)
	ev, err := outbox.New(ws, outbox.SaleCreated, time.Now(), map[string]any{"id": "sale_1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.InTx(ctx, func(tx *store.Tx) error { return tx.InsertWebhookEvents(ctx, ev) }); err != nil {
		t.Fatal(err)
	}
	workerCtx, stopWorker := context.WithCancel(ctx)
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		webhook.NewWorker(st, config.Config{Env: "development", WebhookAllowPrivate: true}, slog.New(slog.DiscardHandler),
			webhook.Options{PollEvery: 20 * time.Millisecond, Jitter: -1}).Run(workerCtx)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no delivery within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	stopWorker()
	<-workerDone
	for _, s := range []string{plain["secret"], plain["previous_secret"]} {
		wh, err := standardwebhooks.NewWebhook(s)
		if err != nil {
			t.Fatal(err)
		}
		if err := wh.Verify(bodies[0], got[0].Header); err != nil {
			t.Fatalf("the delivery does not verify with a secret sealed by migrate: %v", err)
		}
	}
	if s, err := st.StripeWebhookSecret(ctx, ws); err != nil || s != plain["webhook_secret"] {
		t.Fatalf("the Stripe secret reads %q (%v)", s, err)
	}

	// serve refuses to start without the key, or with a key that did not seal them.
	key2 := secret.NewKey()
	for _, env := range [][]string{{}, {"PARTLI_ENCRYPTION_KEY", key2}} {
		cleanEnv(t, append([]string{"DATABASE_URL", dbURL, "PARTLI_ADDR", freeAddr(t), "PARTLI_SESSION_SECRET", testSecret}, env...)...)
		_, _, err := runCmd(t, "serve")
		if err == nil || !strings.Contains(err.Error(), "PARTLI_ENCRYPTION_KEY") {
			t.Fatalf("serve with %v: %v, want a refusal naming PARTLI_ENCRYPTION_KEY", env, err)
		}
		if len(env) > 0 && !strings.Contains(err.Error(), keys1.CurrentID()) {
			t.Fatalf("serve with another key: %v, want the id of the key that sealed them (%s)", err, keys1.CurrentID())
		}
	}

	// Rotation: the new key seals, the old one opens; then only the new one is needed.
	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_ENCRYPTION_KEY", key2, "PARTLI_ENCRYPTION_KEY_PREVIOUS", key1)
	out, _, err = runCmd(t, "secrets", "rotate")
	keys2 := keysOf(t, key2)
	if err != nil || !strings.Contains(out, "resealed the secrets of 2 row(s)") || !strings.Contains(out, keys2.CurrentID()) {
		t.Fatalf("secrets rotate: %v\n%s", err, out)
	}
	sealedUnder(keys2)
	addr := freeAddr(t)
	cleanEnv(t, "DATABASE_URL", dbURL, "PARTLI_ADDR", addr, "PARTLI_SESSION_SECRET", testSecret, "PARTLI_ENCRYPTION_KEY", key2)
	b := runInBackground(t, "serve")
	b.waitHealthy(t, "http://"+addr, 30*time.Second)
	b.stop(t)
}

func TestSecretsRotateUsage(t *testing.T) {
	cleanEnv(t)
	for _, args := range [][]string{{"secrets"}, {"secrets", "show"}, {"secrets", "rotate", "now"}} {
		if _, _, err := runCmd(t, args...); !isUsageError(err) {
			t.Errorf("partli %s: %v, want a usage error", strings.Join(args, " "), err)
		}
	}
	if _, _, err := runCmd(t, "secrets", "rotate"); err == nil || !strings.Contains(err.Error(), "PARTLI_ENCRYPTION_KEY") {
		t.Errorf("secrets rotate without a key: %v, want an error naming PARTLI_ENCRYPTION_KEY", err)
	}
	cleanEnv(t, "PARTLI_ENCRYPTION_KEY", "not a key")
	if _, _, err := runCmd(t, "migrate"); err == nil || !strings.Contains(err.Error(), "PARTLI_ENCRYPTION_KEY") || strings.Contains(err.Error(), "not a key") {
		t.Errorf("a malformed key: %v, want an error naming PARTLI_ENCRYPTION_KEY without its value", err)
	}
}
