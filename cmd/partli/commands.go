package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"net/mail"
	"net/url"
	"os"
	"runtime/debug"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/metrics"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/web"
	"github.com/partli/partli/internal/webhook"
)

func openDB(ctx context.Context, cfg config.Config) (*sqlx.DB, error) {
	if cfg.DatabaseURL == "" {
		return nil, errors.New("DATABASE_URL is not set (or use `partli dev` for the embedded default)")
	}
	return store.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
}

func cmdMigrate(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	// Without the key the secrets in plain text could not be sealed after
	// migration 00009, which refuses unsealed rows: refuse before it runs.
	st := store.New(db).WithSecrets(cfg.SecretKeys)
	if err := st.CheckPlainSecretsSealable(ctx); err != nil {
		return err
	}
	n, err := store.Migrate(ctx, db.DB)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "applied %d migration(s); the database is up to date\n", n)
	sealed, err := st.SealPlainSecrets(ctx)
	if err != nil {
		return err
	}
	if sealed > 0 {
		fmt.Fprintf(stdout, "sealed the secrets of %d row(s) stored in plain text\n", sealed)
	}
	return nil
}

// cmdSecretsRotate reseals every stored secret under PARTLI_ENCRYPTION_KEY,
// opening those sealed under PARTLI_ENCRYPTION_KEY_PREVIOUS.
func cmdSecretsRotate(ctx context.Context, stdout io.Writer) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if cfg.SecretKeys == nil {
		return errors.New("PARTLI_ENCRYPTION_KEY is not set: set it to the new key, and PARTLI_ENCRYPTION_KEY_PREVIOUS to the key it replaces")
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.CheckSchema(ctx, db.DB); err != nil {
		return err
	}
	n, err := store.New(db).WithSecrets(cfg.SecretKeys).ResealSecrets(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "resealed the secrets of %d row(s); every stored secret is sealed under key %s\n", n, cfg.SecretKeys.CurrentID())
	return nil
}

func cmdServe(ctx context.Context, log *slog.Logger) error {
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	return serve(ctx, cfg, db, log)
}

// serveGCPercent is the Go collector's target while serving, unless GOGC
// says otherwise: the heap may grow to five times what is live (100, the
// default, is twice) before a collection. A request allocates its JSON,
// rows and headers and keeps none of it, so the live heap stays small (tens
// of MB) and the collector's work per request falls with the target:
// measured 2026-12-04 with partli-bench (2-core AMD EPYC VM, 24 GB RAM,
// PostgreSQL 15.20, other work running, load average about 2.5), the
// server's CPU per track/sale went from 0.61-0.64 ms to 0.47-0.48 ms and
// the most it sustained from 709-754 to 811-821 sales/s, its peak RSS from
// 28 to 40 MB. GOMEMLIMIT, if set, still bounds the heap.
const serveGCPercent = 400

// tuneGC sets serveGCPercent unless GOGC is set.
func tuneGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
	}
}

// serve refuses an out-of-date schema and keys that cannot open the stored
// secrets (sealing those left in plain text), starts the workers and serves HTTP
// until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg config.Config, db *sqlx.DB, log *slog.Logger) error {
	tuneGC()
	if err := store.CheckSchema(ctx, db.DB); err != nil {
		return err
	}
	if cfg.SessionSecret == "" {
		return errors.New("PARTLI_SESSION_SECRET is not set: set it to a long random string (it signs dashboard sessions)")
	}
	st := store.New(db).WithSecrets(cfg.SecretKeys)
	// The hot path's statements are prepared now: SQL the database refuses
	// stops the boot, not the first sale.
	if err := st.HotPath().Prepare(ctx); err != nil {
		return fmt.Errorf("preparing the tracking statements: %w", err)
	}
	if err := st.CheckSecretKeys(ctx); err != nil {
		return err
	}
	if n, err := st.SealPlainSecrets(ctx); err != nil {
		return err
	} else if n > 0 {
		log.Info("sealed secrets stored in plain text", "rows", n)
	}
	if cfg.SecretKeys == nil {
		log.Warn("PARTLI_ENCRYPTION_KEY is not set: webhook endpoints and Stripe signing secrets cannot be added until it is")
	}
	sender, err := mailSender(cfg, log)
	if err != nil {
		return err
	}
	workers, stopWorkers := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWorkers()
	commissions := commission.New(st)
	go commissions.RunAutoApprover(workers, cfg.ApproveEvery, log)
	payoutsDone := make(chan struct{})
	go func() {
		defer close(payoutsDone)
		web.NewPayouts(cfg, st, commissions, log).Run(workers, cfg.PayoutEvery)
	}()
	// Partners' codes in the merchants' Stripe accounts: what failed at
	// once is tried again, on the payouts' interval.
	codesDone := make(chan struct{})
	go func() {
		defer close(codesDone)
		web.NewCodes(cfg, st, log).Run(workers, cfg.PayoutEvery)
	}()
	go runMaintenance(workers, cfg, st, log)
	webhooksDone := make(chan struct{})
	go func() {
		defer close(webhooksDone)
		webhook.NewWorker(st, cfg, log, webhook.Options{}).Run(workers)
	}()
	mailDone := make(chan struct{})
	go func() {
		defer close(mailDone)
		email.NewWorker(st, sender, email.NewLinks(cfg.BaseURL, cfg.SessionSecret), log, email.Options{}).Run(workers)
	}()

	errc := make(chan error, 3)
	var webOpts []web.Option
	if cfg.MetricsAddr != "" {
		m := metrics.New(db.DB, func(ctx context.Context) ([]metrics.Outbox, error) {
			ds, err := st.OutboxDepths(ctx)
			out := make([]metrics.Outbox, len(ds))
			for i, d := range ds {
				out[i] = metrics.Outbox{Name: d.Name, Pending: d.Pending, Oldest: d.Oldest, Lag: d.Lag}
			}
			return out, err
		}, log)
		st.HotPath().SetMetrics(m)
		webOpts = append(webOpts, web.WithMetrics(m))
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		msrv := &http.Server{Addr: cfg.MetricsAddr, Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- fmt.Errorf("PARTLI_METRICS_ADDR: %w", msrv.ListenAndServe()) }()
		defer msrv.Close()
		log.Info("metrics on", "addr", cfg.MetricsAddr, "path", "/metrics")
	}
	srv := &http.Server{
		Addr:              cfg.Addr,
		Handler:           web.New(cfg, st, log, webOpts...),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	go func() { errc <- srv.ListenAndServe() }()
	if cfg.DebugAddr != "" {
		debug := &http.Server{Addr: cfg.DebugAddr, Handler: debugHandler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- fmt.Errorf("PARTLI_DEBUG_ADDR: %w", debug.ListenAndServe()) }()
		defer debug.Close()
		log.Info("profiling on", "addr", cfg.DebugAddr, "path", "/debug/pprof/")
	}
	log.Info("partli serving", "addr", cfg.Addr, "base_url", cfg.BaseURL)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdown, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err = srv.Shutdown(shutdown)
	stopWorkers()
	<-webhooksDone // attempts under way (at most 10 s) finish and are recorded
	<-payoutsDone  // a transfer under way is recorded (or left processing, asked again later)
	<-mailDone     // so do the messages being sent
	<-codesDone    // a Stripe call under way is recorded (or its lease runs out, and it is made again)
	return err
}

// mailSender is the SMTP server of PARTLI_SMTP_URL; without one, mail is
// kept in the outbox, unsent, and serve says so at start.
func mailSender(cfg config.Config, log *slog.Logger) (email.Sender, error) {
	from := cfg.MailFrom
	if from == nil {
		from = &mail.Address{Name: "Partli", Address: "partli@localhost"}
	}
	if cfg.SMTPURL == "" {
		log.Warn("PARTLI_SMTP_URL is not set: no mail is sent; every message is kept in the outbox, unsent, and listed in the dashboard's Settings → Email until it is set")
		return nil, nil
	}
	helo := "localhost"
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Hostname() != "" {
		helo = u.Hostname()
	}
	smtp, err := email.NewSMTP(cfg.SMTPURL, from, email.SMTPOptions{HELO: helo})
	if err != nil {
		return nil, fmt.Errorf("PARTLI_SMTP_URL %v", err)
	}
	log.Info("mail goes through an SMTP server", "smtp", smtp.Describe(), "from", from.String())
	return smtp, nil
}

func cmdWorkspaceCreate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("workspace create", stderr)
	name := fs.String("name", "", "workspace name")
	slug := fs.String("slug", "", "workspace slug (default: from the name)")
	email := fs.String("owner-email", "", "owner's email address")
	password := fs.String("owner-password", "", "owner's password")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *name == "" || *email == "" || *password == "" {
		return usageError{"--name, --owner-email and --owner-password are required"}
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.CheckSchema(ctx, db.DB); err != nil {
		return err
	}
	created, err := accounts.CreateWorkspace(ctx, store.New(db), accounts.NewWorkspace{
		Name: *name, Slug: *slug, OwnerEmail: *email, OwnerPassword: *password})
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(map[string]string{
		"workspaceId": created.Workspace.ID, "slug": created.Workspace.Slug, "apiKey": created.APIKey})
}

// debugHandler serves net/http/pprof's profiles: PARTLI_DEBUG_ADDR, which
// config allows on loopback only.
func debugHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// runMaintenance does the housekeeping every replica may do at once (each
// step is idempotent, and the partition steps take turns under a lock):
// the click partitions of the coming months are made, the months past
// PARTLI_CLICK_RETENTION_DAYS dropped, and old link changes pruned.
func runMaintenance(ctx context.Context, cfg config.Config, st *store.Store, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		now := time.Now()
		if err := st.EnsureClickPartitions(ctx, now, 2); err != nil && ctx.Err() == nil {
			log.Warn("maintenance: making click partitions", "err", err)
		}
		if cfg.ClickRetentionDays > 0 {
			dropped, err := st.DropClickPartitions(ctx, now, time.Duration(cfg.ClickRetentionDays)*24*time.Hour)
			if err != nil && ctx.Err() == nil {
				log.Warn("maintenance: dropping old click partitions", "err", err)
			}
			for _, p := range dropped {
				log.Info("maintenance: dropped clicks past their retention", "partition", p, "retention_days", cfg.ClickRetentionDays)
			}
		}
		if err := st.PruneLinkChanges(ctx); err != nil && ctx.Err() == nil {
			log.Warn("maintenance: pruning link changes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// cmdLedgerCheck reconciles the balance ledger: every partner's balance
// (partner_balances) against the sum of its ledger entries and against the
// commissions and payouts themselves (commissions minus payouts), and every
// payout against the commissions it settles. It prints each disagreement
// and fails when there is one.
func cmdLedgerCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ledger check", stderr)
	workspace := fs.String("workspace", "", "check one workspace (default: all)")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := store.CheckSchema(ctx, db.DB); err != nil {
		return err
	}
	problems, err := store.New(db).CheckLedger(ctx, *workspace)
	if err != nil {
		return err
	}
	for _, p := range problems {
		fmt.Fprintln(stdout, p.String())
	}
	if len(problems) > 0 {
		return fmt.Errorf("the ledger does not balance: %d disagreement(s)", len(problems))
	}
	fmt.Fprintln(stdout, "the ledger balances: every balance equals its ledger entries and the commissions minus the payouts")
	return nil
}
