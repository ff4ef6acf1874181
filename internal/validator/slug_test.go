package validator

import (
	"regexp"
	"testing"
	"unicode/utf8"
)

func TestSlugify(t *testing.T) {
	for _, tc := range []struct{ name, want string }{
		{"Jane Doe!", "jane-doe"},
		{"Zoë Brontë", "zoe-bronte"},
		{"Ångström & Søn", "angstrom-and-son"},
		{"Łódź Straße", "lodz-strasse"},
		{"  --Crème brûlée--  ", "creme-brulee"},
		{"ＦＵＬＬ width", "full-width"},
		{"İstanbul", "istanbul"},
		{"東京", "p"},
		{"", "p"},
		{"a---b___c", "a-b-c"},
		{"Maya 2024", "maya-2024"},
	} {
		if got := Slugify(tc.name, 40); got != tc.want {
			t.Errorf("Slugify(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
	if got := Slugify("abcdefghij-klmnop", 11); got != "abcdefghij" {
		t.Errorf("cut at a dash: %q", got)
	}
}

var slugShape = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

func FuzzSlugify(f *testing.F) {
	for _, s := range []string{"Zoë", "a b", "Łódź", "\xff", "--", "ǅemal"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		s := Slugify(name, 40)
		if len(s) > 40 || !utf8.ValidString(s) || !slugShape.MatchString(s) {
			t.Fatalf("Slugify(%q) = %q: not a slug of at most 40 bytes", name, s)
		}
	})
}
