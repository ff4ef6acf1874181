// Package migrations holds the numbered SQL migrations, embedded into the binary
// and applied by `partli migrate` (goose, one transaction per file).
package migrations

import "embed"

//go:embed *.sql
var FS embed.FS
