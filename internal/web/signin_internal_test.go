package web

// An internal test: localPath, clientAddress and attemptLimiter are
// unexported. It shares the test binary (and TestMain) of the package's
// web_test tests.

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

// localPathAttacks are ?next= values a browser reads as another origin (or
// as script), each sent after a sign-in before the fix.
var localPathAttacks = []string{
	"//evil.example", "///evil.example", "https://evil.example/", "http:evil.example", "javascript:alert(1)",
	"java\tscript:alert(1)", "/\t/evil.example", "/\r\n/evil.example", "\t//evil.example", "/\n/evil.example/x?y=1",
	`/\evil.example`, `\/evil.example`, `\\evil.example`, `/\/evil.example`, "/\t\\evil.example", "\\\t\\evil.example",
	"/%2F/evil.example", "/%2f%2fevil.example", "/%5Cevil.example", "/%5C%5Cevil.example", "/\x00/evil.example",
	"/%09/evil.example", "/x\x7f", " /evil.example", "evil.example", "", "@evil.example", "/%",
}

func TestLocalPathRefusesOtherOrigins(t *testing.T) {
	for _, next := range localPathAttacks {
		if got := localPath(next, "/fallback"); got != "/fallback" {
			t.Errorf("localPath(%q) = %q, want the fallback", next, got)
		}
	}
	for _, next := range []string{"/", "/sales", "/sales?status=paid&page=2", "/partners/ptn_1#links", "/a/b/../c"} {
		if got := localPath(next, "/fallback"); got != next {
			t.Errorf("localPath(%q) = %q, want it kept", next, got)
		}
	}
}

// FuzzLocalPath: whatever next is, what localPath lets through stays on
// this origin when a browser resolves it (tab, CR, LF dropped and "\" read
// as "/", as the WHATWG URL parser does for http(s) URLs).
func FuzzLocalPath(f *testing.F) {
	for _, s := range localPathAttacks {
		f.Add(s)
	}
	f.Add("/sales?x=1")
	base, _ := url.Parse("https://partli.test/login")
	f.Fuzz(func(t *testing.T, next string) {
		got := localPath(next, "")
		if got == "" {
			return
		}
		ref, err := url.Parse(browserClean(got))
		if err != nil {
			t.Fatalf("localPath(%q) = %q, which does not parse: %v", next, got, err)
		}
		if u := base.ResolveReference(ref); u.Host != "partli.test" || u.Scheme != "https" {
			t.Fatalf("localPath(%q) = %q, which leads to %s", next, got, u)
		}
		if strings.ContainsAny(got, "\t\r\n") {
			t.Fatalf("localPath(%q) = %q keeps a control character", next, got)
		}
	})
}

func TestClientAddressGroupsIPv6Networks(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":                "203.0.113.7",
		"2001:db8:1:2:aaaa::1":       "2001:db8:1:2::",
		"2001:db8:1:2:ffff:ffff::99": "2001:db8:1:2::",
		"::ffff:203.0.113.7":         "::ffff:203.0.113.7",
		"not an ip":                  "not an ip",
	} {
		if got := clientAddress(in); got != want {
			t.Errorf("clientAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAttemptLimiter(t *testing.T) {
	l := newAttemptLimiter(20, 10*time.Minute)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for i := range 20 {
		if ok, _ := l.take("a", now); !ok {
			t.Fatalf("attempt %d of 20 refused", i+1)
		}
	}
	ok, wait := l.take("a", now)
	if ok || wait <= 0 || wait > 30*time.Second {
		t.Fatalf("21st attempt: allowed %v, wait %v; want refused with a wait of at most 30 s", ok, wait)
	}
	if ok, _ := l.take("b", now); !ok {
		t.Fatal("another address is refused")
	}
	// One attempt comes back every 30 seconds; a refusal spends none.
	if ok, _ := l.take("a", now.Add(30*time.Second)); !ok {
		t.Fatal("refused 30 s later")
	}
	if ok, _ := l.take("a", now.Add(30*time.Second)); ok {
		t.Fatal("a second attempt allowed 30 s later")
	}
	// A client left alone for the window is forgotten (its bucket is full).
	later := now.Add(11 * time.Minute)
	l.take("c", later)
	if _, kept := l.clients["a"]; kept {
		t.Fatal("an idle client is still kept after the window")
	}
}
