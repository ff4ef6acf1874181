package web_test

import (
	"flag"
	"io"
	"log/slog"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/partli/partli/internal/web"
)

var updateRoutes = flag.Bool("update-routes", false, "rewrite testdata/routes.txt from the server's route table")

// routeSurface names the surface a path belongs to, as the route tables are
// split: routes_api.go, routes_dashboard.go, routes_portal.go and the
// server-wide routes of routes.go.
func routeSurface(path string) string {
	switch {
	case path == "/static/*" || path == "/healthz" || strings.HasPrefix(path, "/unsubscribe/"):
		return "server"
	case strings.HasPrefix(path, "/api") || strings.HasPrefix(path, "/r/"):
		return "api"
	case path == "/partner" || strings.HasPrefix(path, "/partner/") || strings.HasPrefix(path, "/apply/"):
		return "portal"
	}
	return "dashboard"
}

// closureName hides the numbering of anonymous handlers (they keep the name
// of the route table or constructor they are written in); methodValue hides
// the route table a handler constructor was called in.
var (
	closureName = regexp.MustCompile(`\.func\d+(\.\d+)*$`)
	methodValue = regexp.MustCompile(`\(\*Server\)\.\w+\.\(\*Server\)\.`)
)

// TestRouteTable lists every route (method, path, handler) with its surface
// against testdata/routes.txt, so that a route added, removed or moved to
// another handler shows in review. Run with -update-routes after a
// deliberate change.
func TestRouteTable(t *testing.T) {
	e := newEnv(t)
	app := web.New(e.Cfg, e.Store, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var lines []string
	for _, r := range app.Routes() {
		name := strings.TrimPrefix(r.Name, "github.com/partli/partli/")
		name = methodValue.ReplaceAllString(name, "(*Server).")
		name = closureName.ReplaceAllString(name, ".(closure)")
		lines = append(lines, routeSurface(r.Path)+"\t"+r.Method+"\t"+r.Path+"\t"+name)
	}
	sort.Strings(lines)
	got := strings.Join(lines, "\n") + "\n"
	const golden = "testdata/routes.txt"
	if *updateRoutes {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("route table differs from %s (run with -update-routes after a deliberate change):\n%s", golden, diffLines(string(want), got))
	}
}

// diffLines lists the lines only in want (-) and only in got (+).
func diffLines(want, got string) string {
	in := func(s string) map[string]bool {
		m := map[string]bool{}
		for _, l := range strings.Split(s, "\n") {
			m[l] = true
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if !g[l] {
			b.WriteString("- " + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if !w[l] {
			b.WriteString("+ " + l + "\n")
		}
	}
	return b.String()
}
