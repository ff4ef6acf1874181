package pg

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// A cluster's folder: the postgres OS user that owns it, whether that user may
// enter it, and the configuration written into it.

// ErrUnreachable is wrapped by the error of Start (and of CheckReachable)
// when this process is root and the postgres OS user, who runs the server,
// may not enter a folder above the cluster's.
var ErrUnreachable = errors.New("the postgres OS user may not enter the cluster's folder")

type osUser struct {
	name     string
	uid, gid uint32
	groups   []uint32
	home     string
}

// ChownToServerUser hands path (the folder itself, not what is in it) to the
// OS user the server runs as: postgres when this process is root. Otherwise
// it does nothing. Use it on a folder made to hold clusters, such as an
// os.MkdirTemp folder, which is private to root.
func ChownToServerUser(path string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := lookupPostgresUser()
	if err != nil {
		return err
	}
	if err := os.Chown(path, int(u.uid), int(u.gid)); err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	return nil
}

func lookupPostgresUser() (*osUser, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pg: PostgreSQL refuses to run as root, and there is no `postgres` OS user to run it as (%v): create one (`useradd --system postgres`; installing the postgresql package does) or run as a non-root user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pg: user postgres has a non-numeric uid %q or gid %q", u.Uid, u.Gid)
	}
	ou := &osUser{name: u.Username, uid: uint32(uid), gid: uint32(gid), home: u.HomeDir}
	if ids, err := u.GroupIds(); err == nil {
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				ou.groups = append(ou.groups, uint32(g))
			}
		}
	}
	return ou, nil
}

// prepareDir creates Dir, Dir/run, and, as root, hands Dir to the postgres
// user after checking that user can reach it.
func (c *Cluster) prepareDir() error {
	if c.runAs != nil {
		// Folders made above Dir must be enterable by the postgres user;
		// Dir itself is its own.
		if err := os.MkdirAll(filepath.Dir(c.Dir), 0o755); err != nil {
			return fmt.Errorf("pg: %w", err)
		}
		if err := c.checkReachable(); err != nil {
			return err
		}
	}
	for _, d := range []string{c.Dir, filepath.Join(c.Dir, "run")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("pg: %w", err)
		}
	}
	if c.runAs != nil {
		if err := chownTree(c.Dir, int(c.runAs.uid), int(c.runAs.gid)); err != nil {
			return fmt.Errorf("pg: give %s to user %s: %w", c.Dir, c.runAs.name, err)
		}
	}
	return nil
}

// CheckReachable tells whether a cluster in dir could run: as root, the
// postgres OS user must be able to enter every folder above it (an error
// wrapping ErrUnreachable when not); as anyone else, it returns nil.
func CheckReachable(dir string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	u, err := lookupPostgresUser()
	if err != nil {
		return err
	}
	return (&Cluster{Dir: abs, runAs: u}).checkReachable()
}

// checkReachable reports the first folder above Dir that the postgres user
// may not enter. Nothing outside Dir is changed.
func (c *Cluster) checkReachable() error {
	var parents []string
	for p := filepath.Dir(c.Dir); ; p = filepath.Dir(p) {
		parents = append(parents, p)
		if p == filepath.Dir(p) {
			break
		}
	}
	for i := len(parents) - 1; i >= 0; i-- {
		p := parents[i]
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pg: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		if !ok {
			return nil
		}
		var bit fs.FileMode = 0o001
		switch {
		case st.Uid == c.runAs.uid:
			bit = 0o100
		case c.runAs.inGroup(st.Gid):
			bit = 0o010
		}
		if fi.Mode().Perm()&bit == 0 {
			return fmt.Errorf("pg: %w: PostgreSQL refuses to run as root, so it runs as OS user %s, who may not enter %s (%s, owner uid %d): "+
				"put the data folder %s somewhere that user can reach (os.MkdirTemp, /tmp, /srv), not under a private folder such as t.TempDir() or /root",
				ErrUnreachable, c.runAs.name, p, fi.Mode(), st.Uid, c.Dir)
		}
	}
	return nil
}

func (u *osUser) inGroup(gid uint32) bool {
	if gid == u.gid {
		return true
	}
	for _, g := range u.groups {
		if g == gid {
			return true
		}
	}
	return false
}

func chownTree(root string, uid, gid int) error {
	return filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
}

const confName = "partli.conf"

// writeConfig (re)writes our settings into DataDir/partli.conf, which
// postgresql.conf includes; ALTER SYSTEM (postgresql.auto.conf) still wins.
func (c *Cluster) writeConfig() error {
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	var b strings.Builder
	b.WriteString("# Written by partli on every start; edits are lost. Use ALTER SYSTEM instead.\n")
	fmt.Fprintf(&b, "listen_addresses = ''\n")
	fmt.Fprintf(&b, "unix_socket_directories = %s\n", quote(filepath.Join(c.Dir, "run")))
	fmt.Fprintf(&b, "port = %d\n", DefaultPort)
	b.WriteString("max_connections = 200\nshared_buffers = 128MB\n")
	if c.opts.Fast {
		b.WriteString("fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nautovacuum = off\njit = off\n")
	}
	if len(c.opts.Preload) > 0 {
		fmt.Fprintf(&b, "shared_preload_libraries = %s\nmax_prepared_transactions = 200\n", quote(strings.Join(c.opts.Preload, ",")))
	}
	if err := c.writeFile(filepath.Join(c.DataDir, confName), []byte(b.String())); err != nil {
		return err
	}

	main := filepath.Join(c.DataDir, "postgresql.conf")
	conf, err := os.ReadFile(main)
	if err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	include := "include_if_exists = '" + confName + "'"
	if bytes.Contains(conf, []byte(include)) {
		return nil
	}
	conf = append(conf, "\n# partli's settings\n"+include+"\n"...)
	return c.writeFile(main, conf)
}

func (c *Cluster) writeFile(path string, data []byte) error {
	if err := os.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("pg: %w", err)
	}
	if c.runAs != nil {
		if err := os.Lchown(path, int(c.runAs.uid), int(c.runAs.gid)); err != nil {
			return fmt.Errorf("pg: %w", err)
		}
	}
	return nil
}
