package testdb

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
)

// The shared folder's files: the watchdog that cleans up after a killed test
// binary, and copying a pristine data folder.

// watchdogScript waits for the test binary to be gone (its end of the pipe on
// stdin closes however it ends, even on SIGKILL or a test timeout), then
// stops every server still running under $1 and removes $1. After a normal
// Main, there is nothing left to do.
const watchdogScript = `
cat >/dev/null
for f in "$1"/*/data/postmaster.pid; do
	[ -f "$f" ] || continue
	pid=$(head -n 1 "$f")
	kill -QUIT "$pid" 2>/dev/null   # immediate shutdown
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done
done
rm -rf "$1" 2>/dev/null || { sleep 1; rm -rf "$1"; }
`

func startWatchdog(dir string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return err
	}
	defer r.Close()
	cmd := exec.Command("/bin/sh", "-c", watchdogScript, "partli-testdb-watchdog", dir)
	cmd.Stdin = r
	// Its own process group: a ^C in the terminal must not kill it before
	// the binary it watches.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		w.Close()
		return fmt.Errorf("start watchdog: %w", err)
	}
	go cmd.Wait()
	watchdog = w
	return nil
}

// copyTree copies a stopped cluster's folder, modes included (PostgreSQL
// insists on 0700 or 0750 for its data folder).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.MkdirAll(target, 0o700); err != nil {
				return err
			}
			return os.Chmod(target, info.Mode().Perm())
		case d.Type()&fs.ModeSymlink != 0:
			link, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			return copyFile(path, target, info.Mode().Perm())
		default:
			return nil // sockets and the like are not part of a stopped cluster
		}
	})
}

func copyFile(src, dst string, perm fs.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
