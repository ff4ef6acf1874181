package pg

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Finding PostgreSQL's server binaries, the extensions installed with them,
// and their version.

// ErrNoBinaries is wrapped by FindBinDir's error when no PostgreSQL server
// binaries are installed.
var ErrNoBinaries = errors.New("no PostgreSQL server binaries found (initdb, pg_ctl, postgres)")

// HasExtension reports whether the server binaries found by FindBinDir come
// with extension name (its control file is installed).
func HasExtension(name string) bool {
	bin, err := FindBinDir()
	if err != nil {
		return false
	}
	// The binaries may be links (/usr/local/bin): pg_config sits beside the real ones.
	if real, err := filepath.EvalSymlinks(filepath.Join(bin, "postgres")); err == nil {
		bin = filepath.Dir(real)
	}
	out, err := exec.Command(filepath.Join(bin, "pg_config"), "--sharedir").Output()
	dirs := []string{filepath.Join(filepath.Dir(bin), "..", "share", "extension")}
	if err == nil {
		dirs = append([]string{filepath.Join(strings.TrimSpace(string(out)), "extension")}, dirs...)
	}
	for _, d := range append(dirs, "/usr/share/postgresql/"+filepath.Base(filepath.Dir(bin))+"/extension") {
		if _, err := os.Stat(filepath.Join(d, name+".control")); err == nil {
			return true
		}
	}
	return false
}

// serverBinaries must all sit in the one folder FindBinDir returns.
var serverBinaries = []string{"pg_ctl", "initdb", "postgres"}

// FindBinDir returns the folder holding initdb, pg_ctl and postgres: the one
// on PATH if there is one, else the newest of the usual install locations
// (Debian's /usr/lib/postgresql/*/bin, PGDG's /usr/pgsql-*/bin, Homebrew).
func FindBinDir() (string, error) {
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		dirs := []string{filepath.Dir(p)}
		if real, err := filepath.EvalSymlinks(p); err == nil && filepath.Dir(real) != dirs[0] {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, d := range dirs {
			if hasServerBinaries(d) {
				return d, nil
			}
		}
	}

	var candidates []string
	for _, pattern := range []string{
		"/usr/lib/postgresql/*/bin",
		"/usr/pgsql-*/bin",
		"/opt/homebrew/opt/postgresql@*/bin",
		"/usr/local/opt/postgresql@*/bin",
		"/usr/local/pgsql/bin",
	} {
		m, _ := filepath.Glob(pattern)
		for _, d := range m {
			if hasServerBinaries(d) {
				candidates = append(candidates, d)
			}
		}
	}
	if len(candidates) == 0 {
		return "", fmt.Errorf("%w: install them with `apt-get install postgresql` (Debian/Ubuntu), "+
			"`brew install postgresql@15` (macOS) or `dnf install postgresql-server` (Fedora/RHEL), "+
			"put their folder on PATH, or set DATABASE_URL to an existing PostgreSQL", ErrNoBinaries)
	}
	sort.SliceStable(candidates, func(i, j int) bool {
		return versionLess(dirVersion(candidates[j]), dirVersion(candidates[i]))
	})
	return candidates[0], nil
}

func hasServerBinaries(dir string) bool {
	for _, b := range serverBinaries {
		fi, err := os.Stat(filepath.Join(dir, b))
		if err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
			return false
		}
	}
	return true
}

// dirVersion pulls the version out of paths such as /usr/lib/postgresql/15/bin
// or /usr/pgsql-16/bin: the last path element that starts with a digit, after
// any '-' or '@'.
func dirVersion(dir string) []int {
	var best []int
	for _, el := range strings.Split(dir, string(filepath.Separator)) {
		if i := strings.LastIndexAny(el, "-@"); i >= 0 {
			el = el[i+1:]
		}
		if v := parseVersion(el); v != nil {
			best = v
		}
	}
	return best
}

func parseVersion(s string) []int {
	var v []int
	for _, part := range strings.Split(s, ".") {
		n, err := strconv.Atoi(part)
		if err != nil {
			return nil
		}
		v = append(v, n)
	}
	return v
}

func versionLess(a, b []int) bool {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return len(a) < len(b)
}

// checkVersion refuses a data folder made by another major version, which
// the server would refuse less clearly.
func (c *Cluster) checkVersion(ctx context.Context) error {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "PG_VERSION"))
	if err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	have := strings.TrimSpace(string(b))
	if c.major == "" {
		out, err := c.output(ctx, "pg_ctl", "--version")
		if err != nil {
			return fmt.Errorf("pg: %w", err)
		}
		// "pg_ctl (PostgreSQL) 15.14 (Debian 15.14-1.pgdg120+1)"
		f := strings.Fields(out)
		if len(f) < 3 {
			return fmt.Errorf("pg: unexpected pg_ctl --version output %q", out)
		}
		c.major = strings.Split(f[2], ".")[0]
		if strings.HasPrefix(c.major, "9") || strings.HasPrefix(c.major, "8") {
			c.major = strings.Join(strings.Split(f[2], ".")[:2], ".")
		}
	}
	if have != c.major {
		return fmt.Errorf("pg: %s was made by PostgreSQL %s, but the binaries in %s are PostgreSQL %s: "+
			"run it with PostgreSQL %s, or move the folder away to start afresh", c.DataDir, have, c.BinDir, c.major, have)
	}
	return nil
}
