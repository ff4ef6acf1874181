package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// cmdSeed fills a new workspace with synthetic sales for measuring pages at
// size: `partli seed --sales 1000000`. Without DATABASE_URL it uses the
// embedded cluster of `partli dev`.
func cmdSeed(ctx context.Context, args []string, stdout, stderr io.Writer, log *slog.Logger) error {
	fs := newFlags("seed", stderr)
	sales := fs.Int("sales", 10000, "number of sales (each with a customer and a commission)")
	partners := fs.Int("partners", 100, "number of partners")
	batch := fs.Int("batch", 50000, "rows per transaction")
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	if *sales < 1 || *partners < 1 || *batch < 1 {
		return usageError{"--sales, --partners and --batch must be at least 1"}
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			return err
		}
		url, stopCluster, err := embeddedDatabase(ctx, stdout)
		if err != nil {
			return err
		}
		defer stopCluster(log)
		cfg.DatabaseURL = url
	}
	db, err := store.Open(ctx, cfg.DatabaseURL, 4)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := store.Migrate(ctx, db.DB); err != nil {
		return err
	}
	st := store.New(db)
	suffix := strings.ToLower(accounts.RandomText(6))
	password := accounts.RandomText(16)
	created, err := accounts.CreateWorkspace(ctx, st, accounts.NewWorkspace{
		Name: "Seeded " + suffix, OwnerEmail: "seed-" + suffix + "@partli.dev", OwnerPassword: password})
	if err != nil {
		return err
	}
	ws := created.Workspace.ID
	prog := &store.Program{ID: ids.New(ids.Program), WorkspaceID: ws, Name: "Seeded program", Slug: "seeded",
		DestinationURL: "https://example.com/", Currency: "USD", HoldingPeriodDays: 30, CookieDays: 90}
	if err := st.CreateProgram(ctx, prog); err != nil {
		return err
	}
	var partnerIDs []string
	for i := range *partners {
		p := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: ws, ProgramID: prog.ID, Status: "approved",
			Name: fmt.Sprintf("Partner %d", i+1), Email: fmt.Sprintf("partner%d-%s@example.com", i+1, suffix),
			Slug: fmt.Sprintf("seed-%s-%d", suffix, i+1)}
		if err := st.CreatePartner(ctx, p); err != nil {
			return err
		}
		partnerIDs = append(partnerIDs, p.ID)
	}
	start := time.Now()
	err = st.SeedSales(ctx, ws, prog.ID, "USD", partnerIDs, *sales, *batch, func(done int) {
		fmt.Fprintf(stdout, "\r%d / %d sales", done, *sales)
	})
	fmt.Fprintln(stdout)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Seeded %d sales and commissions for %d partners in %s.\n  owner:    %s\n  password: %s\n  API key:  %s\n",
		*sales, *partners, time.Since(start).Round(time.Second), created.Owner.Email, password, created.APIKey)
	return nil
}
