// Package browsertest starts Debian's chromium, headless, for tests that
// drive pages the way a person does (chromedp), and keeps their screenshots
// as test artifacts.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Bounds for browser tests. They are long on purpose: `make test` must pass
// on a two-core machine with other CPU-heavy work running, where a page that
// renders in 50 ms alone can take seconds (seen 2026-12-03 on a 2-core AMD
// EPYC VM running the web tests beside other packages). A test waits on a
// condition up to Wait; a whole browser session may last up to Session.
const (
	Wait    = 60 * time.Second
	Session = 6 * time.Minute
)

// ExecPath finds the chromium binary: $PARTLI_CHROMIUM, else chromium or
// chromium-browser on PATH.
func ExecPath() (string, bool) {
	if p := os.Getenv("PARTLI_CHROMIUM"); p != "" {
		return p, true
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, true
		}
	}
	return "", false
}

// New starts a headless chromium for the test and returns a tab's context,
// bounded by timeout. Without chromium the test is skipped locally, and fails
// in CI (CI=true), where .ci/run installs it.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	path, ok := ExecPath()
	if !ok {
		if os.Getenv("CI") == "true" {
			t.Fatal("chromium is not installed (.ci/run installs Debian's chromium)")
		}
		t.Skip("chromium is not installed: apt-get install chromium")
	}
	dir, err := os.MkdirTemp("", "partli-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for range 50 { // chromium's children may still write for a moment after it stops
			if os.RemoveAll(dir) == nil {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(dir),
		chromedp.WindowSize(1366, 900),
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	tab, cancelTab := chromedp.NewContext(alloc)
	t.Cleanup(cancelTab)
	if err := chromedp.Do(tab); err != nil { // start the browser now, so failures show here
		t.Fatalf("starting chromium: %v", err)
	}
	return tab
}

// ArtifactsDir is where screenshots go: $PARTLI_ARTIFACTS, else
// artifacts/screenshots at the repository root (git-ignored).
func ArtifactsDir() string {
	if d := os.Getenv("PARTLI_ARTIFACTS"); d != "" {
		return d
	}
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "artifacts", "screenshots")
}

// Screenshot saves a full-page PNG of the tab as <name>.png and returns its path.
func Screenshot(t testing.TB, tab context.Context, name string) string {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := ArtifactsDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
	return path
}
