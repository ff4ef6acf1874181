// Package static holds the browser assets Partli serves under /static/: the
// Tailwind build (app.css, generated from css/input.css by `make generate`)
// and the vendored htmx. They are embedded so the binary is self-contained.
package static

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"sync"
)

// FS holds the files served under /static/.
//
//go:embed app.css htmx.min.js partli.js
var FS embed.FS

// versionLen is how many hex digits of the SHA-256 go into a version: enough
// to tell builds apart, short enough for a tidy URL.
const versionLen = 12

var versions = sync.OnceValue(func() map[string]string {
	m := make(map[string]string)
	_ = fs.WalkDir(FS, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := FS.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[path] = hex.EncodeToString(sum[:])[:versionLen]
		return nil
	})
	return m
})

// Version returns a short content hash of the embedded file name (for example
// "app.css"), for cache-busting URLs such as /static/app.css?v=<version>, so
// the assets can be served with a long max-age. The hashes are computed once.
// It returns "" for a name that is not embedded.
func Version(name string) string {
	return versions()[name]
}
