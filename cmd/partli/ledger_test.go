package main

import (
	"context"
	"strings"
	"testing"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/testdb"
)

// partli ledger check: passes on books that balance, and names every
// balance that does not, failing.
func TestLedgerCheck(t *testing.T) {
	db, dbURL := testdb.New(t)
	cleanEnv(t, "DATABASE_URL", dbURL)
	ctx := context.Background()
	st := store.New(db)
	created, err := accounts.CreateWorkspace(ctx, st, accounts.NewWorkspace{Name: "Books", OwnerEmail: "books@example.com",
		OwnerPassword: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	ws := created.Workspace.ID
	prog := &store.Program{ID: ids.New(ids.Program), WorkspaceID: ws, Name: "P", Slug: "p", DestinationURL: "https://x.example/",
		Currency: "USD", HoldingPeriodDays: 30, CookieDays: 90}
	if err := st.CreateProgram(ctx, prog); err != nil {
		t.Fatal(err)
	}
	var partners []string
	for i := range 3 {
		p := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: ws, ProgramID: prog.ID, Status: "approved",
			Name: "Partner", Email: ids.Random(4) + "@example.com", Slug: "books-" + ids.Random(4) + string(rune('a'+i))}
		if err := st.CreatePartner(ctx, p); err != nil {
			t.Fatal(err)
		}
		partners = append(partners, p.ID)
	}
	if err := st.SeedSales(ctx, ws, prog.ID, "USD", partners, 3000, 1000, nil); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runCmd(t, "ledger", "check")
	if err != nil || !strings.Contains(out, "the ledger balances") {
		t.Fatalf("ledger check of seeded books: %v\n%s\n%s", err, out, errOut)
	}
	if out, _, err := runCmd(t, "ledger", "check", "--workspace", ws); err != nil || !strings.Contains(out, "the ledger balances") {
		t.Fatalf("ledger check --workspace: %v\n%s", err, out)
	}
	// A balance changed behind the ledger's back.
	if _, err := db.Exec(`UPDATE partner_balances SET balance_cents = balance_cents + 1 WHERE partner_id = $1`, partners[1]); err != nil {
		t.Fatal(err)
	}
	out, _, err = runCmd(t, "ledger", "check")
	if err == nil || !strings.Contains(err.Error(), "does not balance: 1 disagreement") || !strings.Contains(out, partners[1]) {
		t.Fatalf("ledger check of tampered books: %v\n%s", err, out)
	}
	if _, _, err := runCmd(t, "ledger"); !isUsageError(err) {
		t.Fatalf("partli ledger: %v, want a usage error", err)
	}
}
