package static

import (
	"regexp"
	"testing"
)

func TestVersion(t *testing.T) {
	hex := regexp.MustCompile(`^[0-9a-f]{12}$`)
	for _, name := range []string{"app.css", "htmx.min.js"} {
		v := Version(name)
		if !hex.MatchString(v) {
			t.Errorf("Version(%q) = %q, want 12 hex digits", name, v)
		}
		if again := Version(name); again != v {
			t.Errorf("Version(%q) changed between calls: %q then %q", name, v, again)
		}
	}
	if v := Version("app.css"); v == Version("htmx.min.js") {
		t.Errorf("app.css and htmx.min.js share version %q", v)
	}
	if v := Version("missing.css"); v != "" {
		t.Errorf("Version(missing.css) = %q, want empty", v)
	}
}
