package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/pg"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
)

const dataDir = ".data"

// cmdDev is the embedded default: a private PostgreSQL cluster under
// ./.data/ (unless DATABASE_URL is set), migrated, seeded once, served.
func cmdDev(ctx context.Context, stdout io.Writer, log *slog.Logger) error {
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return err
	}
	if os.Getenv("PARTLI_SESSION_SECRET") == "" {
		session, err := keptSecret(filepath.Join(dataDir, "session-secret"), func() string { return accounts.RandomText(48) },
			func(s string) bool { return len(s) >= 32 })
		if err != nil {
			return err
		}
		os.Setenv("PARTLI_SESSION_SECRET", session)
	}
	if os.Getenv("PARTLI_ENCRYPTION_KEY") == "" { // it seals the webhook and Stripe secrets in the database
		key, err := keptSecret(filepath.Join(dataDir, "encryption-key"), secret.NewKey,
			func(s string) bool { _, err := secret.ParseKey(s); return err == nil })
		if err != nil {
			return err
		}
		os.Setenv("PARTLI_ENCRYPTION_KEY", key)
	}
	if os.Getenv("PARTLI_ENV") == "" {
		os.Setenv("PARTLI_ENV", "development")
	}
	if os.Getenv("PARTLI_WEBHOOK_ALLOW_PRIVATE") == "" {
		os.Setenv("PARTLI_WEBHOOK_ALLOW_PRIVATE", "1")
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		url, stopCluster, err := embeddedDatabase(ctx, stdout)
		if err != nil {
			return err
		}
		defer stopCluster(log)
		cfg.DatabaseURL = url
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DBMaxConns)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db.DB); err != nil {
		return err
	}
	if err := seedDemo(ctx, store.New(db), cfg, stdout); err != nil {
		return err
	}
	return serve(ctx, cfg, db, log)
}

// embeddedDatabase starts (or reuses) the private cluster under ./.data/pg
// and returns the URL of its partli database and a function that stops it.
func embeddedDatabase(ctx context.Context, stdout io.Writer) (string, func(*slog.Logger), error) {
	fmt.Fprintln(stdout, "Starting the private PostgreSQL cluster in ./.data/pg …")
	cluster, err := pg.Start(ctx, pg.Options{Dir: filepath.Join(dataDir, "pg")})
	if errors.Is(err, pg.ErrNoBinaries) {
		return "", nil, fmt.Errorf("%w\n(partli dev needs the PostgreSQL server binaries; on Debian/Ubuntu: sudo apt-get install postgresql)", err)
	}
	if err != nil {
		return "", nil, err
	}
	stop := func(log *slog.Logger) {
		if err := cluster.Stop(); err != nil {
			log.Warn("stopping PostgreSQL", "err", err)
		}
	}
	if err := cluster.CreateDatabase(ctx, "partli", ""); err != nil && !strings.Contains(err.Error(), "already exists") {
		stop(slog.Default())
		return "", nil, err
	}
	return cluster.URL("partli"), stop, nil
}

// keptSecret reads a secret from path, making one on first use. A file
// that does not hold a valid one is an error, not replaced: what the old
// value sealed or signed would be lost.
func keptSecret(path string, make func() string, valid func(string) bool) (string, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil && valid(strings.TrimSpace(string(b))):
		return strings.TrimSpace(string(b)), nil
	case err == nil:
		return "", fmt.Errorf("%s does not hold a valid value; restore it, or delete ./.data/ to start afresh", path)
	case !errors.Is(err, os.ErrNotExist):
		return "", err
	}
	s := make()
	if err := os.WriteFile(path, []byte(s+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("keeping %s: %w", path, err)
	}
	return s, nil
}

// seedDemo creates the demo workspace (slug demo) once: a program, a group, rewards and
// two partners. Its credentials are printed and kept in .data/demo.txt.
func seedDemo(ctx context.Context, st *store.Store, cfg config.Config, stdout io.Writer) error {
	credsFile := filepath.Join(dataDir, "demo.txt")
	if taken, err := st.WorkspaceSlugTaken(ctx, "demo"); err != nil {
		return err
	} else if taken {
		if b, err := os.ReadFile(credsFile); err == nil {
			fmt.Fprintf(stdout, "\n%s\n", b)
		}
		return nil
	}
	password := accounts.RandomText(16)
	created, err := accounts.CreateWorkspace(ctx, st, accounts.NewWorkspace{
		Name: "Demo Store", Slug: "demo", OwnerEmail: "owner@demo.partli.dev", OwnerPassword: password})
	if err != nil {
		return err
	}
	ws := created.Workspace.ID
	prog := &store.Program{ID: ids.New(ids.Program), WorkspaceID: ws, Name: "Demo Pro plan", Slug: "pro",
		DestinationURL: "https://example.com/pricing", Currency: "USD", HoldingPeriodDays: 30, CookieDays: 90}
	if err := st.CreateProgram(ctx, prog); err != nil {
		return err
	}
	fourteen := 14
	group := &store.Group{ID: ids.New(ids.Group), WorkspaceID: ws, ProgramID: prog.ID, Name: "Creators", HoldingPeriodDays: &fourteen}
	if err := st.CreateGroup(ctx, group); err != nil {
		return err
	}
	twelve := 12
	bp20, bp30, flat := int64(2000), int64(3000), int64(500)
	for _, r := range []*store.Reward{
		{Event: "sale", Type: "percentage", PercentBP: &bp20, Interval: "recurring", DurationMonths: &twelve},
		{GroupID: &group.ID, Event: "sale", Type: "percentage", PercentBP: &bp30, Interval: "recurring", DurationMonths: &twelve},
		{GroupID: &group.ID, Event: "lead", Type: "flat", AmountCents: &flat, Interval: "one_time"},
	} {
		r.ID, r.WorkspaceID, r.ProgramID = ids.New(ids.Reward), ws, prog.ID
		if err := st.CreateReward(ctx, r); err != nil {
			return err
		}
	}
	for _, p := range []*store.Partner{
		{Name: "Ada Lovelace", Email: "ada@example.com", Slug: "ada"},
		{Name: "Grace Hopper", Email: "grace@example.com", Slug: "grace", GroupID: &group.ID},
	} {
		p.ID, p.WorkspaceID, p.ProgramID, p.Status = ids.New(ids.Partner), ws, prog.ID, "approved"
		if err := st.CreatePartner(ctx, p); err != nil {
			return err
		}
	}
	creds := fmt.Sprintf(`Demo workspace "Demo Store" (slug demo)
  dashboard:  %[1]s/login
  owner:      owner@demo.partli.dev
  password:   %[2]s
  API key:    %[3]s
  program:    %[4]s (20%% recurring for 12 months; Creators group 30%%, $5 per lead)
  partners:   %[1]s/r/ada  %[1]s/r/grace
`, cfg.BaseURL, password, created.APIKey, prog.ID)
	if err := os.WriteFile(credsFile, []byte(creds), 0o600); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n%s(kept in %s)\n\n", creds, credsFile)
	return nil
}
