package pages

import (
	"context"
	"strings"
	"testing"

	"github.com/a-h/templ"
)

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var b strings.Builder
	if err := c.Render(context.Background(), &b); err != nil {
		t.Fatalf("render: %v", err)
	}
	return b.String()
}

func TestErrorPages(t *testing.T) {
	tests := []struct {
		name string
		page templ.Component
		want []string
	}{
		{"not found with message", NotFound("This referral link does not exist."),
			[]string{"<title>Not found · Partli</title>", ">404<", "This referral link does not exist."}},
		{"not found default", NotFound(""),
			[]string{">404<", "does not exist"}},
		{"error", Error(500, "Something broke <here>"),
			[]string{"<title>Internal Server Error · Partli</title>", ">500<", "Something broke &lt;here&gt;"}},
		{"unknown status", Error(599, ""),
			[]string{"<title>Error · Partli</title>", ">599<", "Please try again"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			html := render(t, tt.page)
			for _, w := range append(tt.want,
				"<!doctype html>",
				`href="/static/app.css?v=`,
				`src="/static/htmx.min.js?v=`,
				`name="viewport"`,
			) {
				if !strings.Contains(html, w) {
					t.Errorf("page lacks %q:\n%s", w, html)
				}
			}
		})
	}
}
