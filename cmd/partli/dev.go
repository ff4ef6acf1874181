package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/mailpit"
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
	if os.Getenv("PARTLI_SMTP_URL") == "" {
		mp, err := devMailpit(ctx, stdout)
		if err != nil {
			fmt.Fprintf(stdout, "Mail: mailpit could not be started (%v),\n  so mail is kept unsent in the outbox: the dashboard lists it under Settings → Email.\n", err)
		} else {
			defer mp.Stop()
			os.Setenv("PARTLI_SMTP_URL", mp.SMTPURL())
			defer os.Unsetenv("PARTLI_SMTP_URL")
		}
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

// devMailpit starts mailpit (pinned in go.mod; see internal/mailpit), which
// catches every mail this Partli sends and shows it in a web UI, keeping
// messages in .data/mailpit.db across runs. It listens on 127.0.0.1:1025
// (SMTP) and 127.0.0.1:8025 (web UI) when they are free, else on free ports,
// and says where at start.
func devMailpit(ctx context.Context, stdout io.Writer) (*mailpit.Server, error) {
	if _, err := mailpit.Find(); err != nil {
		return nil, err
	}
	opts := mailpit.Options{Database: filepath.Join(dataDir, "mailpit.db")}
	for _, a := range []struct {
		addr *string
		want string
	}{{&opts.SMTP, "127.0.0.1:1025"}, {&opts.HTTP, "127.0.0.1:8025"}} {
		if l, err := net.Listen("tcp", a.want); err == nil {
			l.Close()
			*a.addr = a.want
		}
	}
	logFile, err := os.OpenFile(filepath.Join(dataDir, "mailpit.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	opts.Log = logFile
	mp, err := mailpit.Start(ctx, opts)
	if err != nil {
		logFile.Close()
		return nil, err
	}
	fmt.Fprintf(stdout, "Mail: every message Partli sends is caught by mailpit; read them at %s\n  (SMTP on %s; its log in %s)\n",
		mp.UIURL(), mp.SMTPAddr, filepath.Join(dataDir, "mailpit.log"))
	return mp, nil
}

// embeddedDatabase starts (or joins) the private cluster of partli dev and
// returns the URL of its partli database and a function to call when done.
//
// Several partli processes may use the cluster at once (partli dev and a
// partli seed beside it): each holds a shared lock on .data/pg.lock while
// it does, and the last one out stops the cluster, whichever started it.
func embeddedDatabase(ctx context.Context, stdout io.Writer) (string, func(*slog.Logger), error) {
	dir, err := clusterDir(stdout)
	if err != nil {
		return "", nil, err
	}
	lock, err := os.OpenFile(filepath.Join(dataDir, "pg.lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return "", nil, err
	}
	// Shared while we use it; a process stopping the cluster holds it
	// exclusively, so we start only after it is down.
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_SH); err != nil {
		lock.Close()
		return "", nil, fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	fmt.Fprintf(stdout, "Starting the private PostgreSQL cluster in %s …\n", displayPath(dir))
	cluster, err := pg.Start(ctx, pg.Options{Dir: dir})
	if errors.Is(err, pg.ErrNoBinaries) {
		err = fmt.Errorf("%w\n(partli dev needs the PostgreSQL server binaries; on Debian/Ubuntu: sudo apt-get install postgresql)", err)
	}
	if err != nil {
		lock.Close()
		return "", nil, err
	}
	done := func(log *slog.Logger) {
		defer lock.Close()
		// The last one out: nobody else holds the shared lock.
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			log.Info("leaving the PostgreSQL cluster running: another partli process uses it", "dir", dir)
			return
		}
		if err := cluster.Stop(); err != nil {
			log.Warn("stopping PostgreSQL", "err", err)
		}
	}
	if err := cluster.CreateDatabase(ctx, "partli", ""); err != nil && !strings.Contains(err.Error(), "already exists") {
		done(slog.Default())
		return "", nil, err
	}
	return cluster.URL("partli"), done, nil
}

// clusterDir is where the private cluster lives: ./.data/pg, or, when this
// process is root and the postgres OS user (who runs the server) may not
// enter the checkout (a clone under /root, a mktemp -d folder), a folder of
// that user's outside it, recorded in .data/pg-location so that every later
// run finds it.
func clusterDir(stdout io.Writer) (string, error) {
	pointer := filepath.Join(dataDir, "pg-location")
	if b, err := os.ReadFile(pointer); err == nil {
		if dir := strings.TrimSpace(string(b)); dir != "" {
			return dir, nil
		}
	}
	dir := filepath.Join(dataDir, "pg")
	err := pg.CheckReachable(dir)
	if !errors.Is(err, pg.ErrUnreachable) {
		return dir, err
	}
	abs, err := filepath.Abs(dataDir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	alt := filepath.Join(outsideRoot, "dev-"+hex.EncodeToString(sum[:6]))
	if err := os.MkdirAll(outsideRoot, 0o755); err != nil {
		return "", fmt.Errorf("the postgres user may not enter %s, and %s cannot be made for the cluster instead: %w", abs, outsideRoot, err)
	}
	if err := pg.CheckReachable(alt); err != nil {
		return "", err
	}
	if err := os.WriteFile(pointer, []byte(alt+"\n"), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(stdout, "The postgres OS user (PostgreSQL refuses to run as root) may not enter %s,\n"+
		"so the private cluster lives in %s (recorded in %s; delete both to start afresh).\n", abs, alt, pointer)
	return alt, nil
}

// outsideRoot holds the clusters of checkouts the postgres user cannot enter.
const outsideRoot = "/var/lib/partli"

// displayPath shows dir relative to the working folder when it is inside it.
func displayPath(dir string) string {
	if !filepath.IsAbs(dir) {
		return "./" + dir
	}
	return dir
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
