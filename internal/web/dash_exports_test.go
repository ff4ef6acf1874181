package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
)

// csvOf parses a CSV download, failing unless it is one.
func csvOf(t *testing.T, r reply) [][]string {
	t.Helper()
	if r.Status != http.StatusOK || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") ||
		!strings.HasPrefix(r.Header.Get("Content-Disposition"), "attachment;") {
		t.Fatalf("export: %d %s %s\n%.500s", r.Status, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"), r.Body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
	if err != nil {
		t.Fatalf("export is not CSV: %v", err)
	}
	return rows
}

// column returns the values of a named column.
func column(t *testing.T, rows [][]string, name string) []string {
	t.Helper()
	i := -1
	for j, h := range rows[0] {
		if h == name {
			i = j
		}
	}
	if i < 0 {
		t.Fatalf("no column %q in %v", name, rows[0])
	}
	var out []string
	for _, r := range rows[1:] {
		out = append(out, r[i])
	}
	return out
}

// The sales and commission exports hold every row the list's filters
// match, across many pages of the store, with typed text guarded against
// spreadsheet formulas; finance may export too; a bad filter is the list
// page with its error, not a file.
func TestDashExports(t *testing.T) {
	e := newEnv(t)
	p := e.program(t, nil)
	pid := str(p, "id")
	e.reward(t, pid, nil)
	evil := e.partner(t, pid, map[string]any{"name": "=HYPERLINK(\"https://evil.example\")", "email": "evil@example.com"})
	plain := e.partner(t, pid, map[string]any{"name": "Maya Blogger", "email": "maya@example.com"})
	saleID, cmID := e.finSale(t, e.Key, e.finClick(t, str(evil, "slug")), "+cus-1", 12345, map[string]any{"externalId": "@inv-1"})
	e.finSale(t, e.Key, e.finClick(t, str(plain, "slug")), "cus-2", 500, nil)

	// A second program with enough seeded sales to take several pages.
	other := e.program(t, map[string]any{"currency": "EUR"})
	seeded := e.partner(t, str(other, "id"), nil)
	const many = 4321
	if err := e.Store.SeedSales(context.Background(), e.WS.Workspace.ID, str(other, "id"), "EUR", []string{str(seeded, "id")}, many, 2000, nil); err != nil {
		t.Fatal(err)
	}

	hash, _ := accounts.HashPassword("finance password")
	if err := e.Store.CreateUser(context.Background(), &store.User{ID: ids.New(ids.User), WorkspaceID: e.WS.Workspace.ID,
		Email: "fin-export@example.com", PasswordHash: hash, Role: "finance"}); err != nil {
		t.Fatal(err)
	}
	fin := e.signInAs(t, "fin-export@example.com", "finance password")

	rows := csvOf(t, fin.get("/sales.csv?programId="+pid))
	if len(rows) != 3 {
		t.Fatalf("sales export of the first program: %d rows, want a header and 2", len(rows)-1)
	}
	ids := column(t, rows, "sale_id")
	if ids[1] != saleID {
		t.Fatalf("sales export order %v, want the oldest (%s) last", ids, saleID)
	}
	if got := column(t, rows, "partner_name")[1]; got != `'=HYPERLINK("https://evil.example")` {
		t.Errorf("a formula name is exported as %q", got)
	}
	if got, want := column(t, rows, "external_id")[1]+column(t, rows, "customer_external_id")[1], "'@inv-1'+cus-1"; got != want {
		t.Errorf("external ids exported as %q, want %q", got, want)
	}
	if a, m := column(t, rows, "amount")[1], column(t, rows, "amount_minor")[1]; a != "123.45" || m != "12345" {
		t.Errorf("amount %s / %s", a, m)
	}
	if r := csvOf(t, fin.get("/sales.csv?partner=maya")); len(r) != 2 || column(t, r, "partner_name")[0] != "Maya Blogger" {
		t.Errorf("sales export by partner name: %v", r)
	}

	// Every seeded sale, once, across pages.
	all := csvOf(t, fin.get("/sales.csv?programId="+str(other, "id")))
	seen := map[string]bool{}
	for _, id := range column(t, all, "sale_id") {
		seen[id] = true
	}
	if len(all)-1 != many || len(seen) != many {
		t.Fatalf("the export of %d sales has %d rows, %d distinct", many, len(all)-1, len(seen))
	}

	cms := csvOf(t, fin.get("/commissions.csv?"+url.Values{"programId": {pid}, "status": {"pending"}}.Encode()))
	if len(cms) != 3 || column(t, cms, "commission_id")[1] != cmID || column(t, cms, "status")[0] != "pending" {
		t.Fatalf("commission export: %v", cms)
	}
	if got := column(t, cms, "partner_name")[1]; !strings.HasPrefix(got, "'=") {
		t.Errorf("a formula name is exported as %q", got)
	}

	// A bad filter: the list with its error.
	if r := fin.get("/sales.csv?from=yesterday"); r.Status != http.StatusBadRequest || testid(r.Doc(t), "sales-filter").Length() != 1 {
		t.Fatalf("bad filter: %d", r.Status)
	}
	if r := fin.get("/commissions.csv?status=lost"); r.Status != http.StatusBadRequest || testid(r.Doc(t), "commissions-filter").Length() != 1 {
		t.Fatalf("bad status: %d", r.Status)
	}
	// The list pages link to their export with the same filters.
	d := fin.page("/sales?programId=" + pid)
	if href := testid(d, "export-csv").AttrOr("href", ""); href != "/sales.csv?programId="+pid {
		t.Errorf("sales export link %q", href)
	}

	// Ready to pay: approved balances per partner and currency.
	e.call("PATCH", "/api/commissions/"+cmID, e.Key, map[string]any{"status": "approved"}).must(t, http.StatusOK)
	ready := csvOf(t, fin.get("/payouts/ready.csv"))
	var found bool
	for i, pa := range column(t, ready, "partner_id") {
		if pa == str(evil, "id") {
			found = true
			if b := column(t, ready, "balance_minor")[i]; b != "1235" {
				t.Errorf("ready-to-pay balance of the partner: %s, want 1235 (10%% of 123.45, half up)", b)
			}
		}
	}
	if !found {
		t.Fatalf("the partner's approved balance is not in the ready-to-pay export: %v", ready)
	}
}
