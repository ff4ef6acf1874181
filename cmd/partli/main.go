// Command partli is the whole of Partli in one binary: migrate, serve,
// workspace create, dev.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

const usage = `partli — partner program platform

Usage:
  partli migrate                      apply pending migrations to DATABASE_URL
  partli serve                        serve HTTP on PARTLI_ADDR and run the background workers
  partli workspace create --name N --owner-email E --owner-password P [--slug S]
                                      create a workspace, its owner and an API key (prints JSON)
  partli dev                          the embedded default: a private PostgreSQL under ./.data/,
                                      migrated and seeded with a demo workspace, then serve
  partli seed --sales N [--partners P] a new workspace filled with N synthetic sales and commissions
                                      (for measuring pages at size)
  partli secrets rotate               reseal every stored secret under PARTLI_ENCRYPTION_KEY
                                      (opening those sealed under PARTLI_ENCRYPTION_KEY_PREVIOUS)
  partli ledger check [--workspace W] reconcile every partner balance with its ledger entries and
                                      with the commissions minus the payouts; fails on a difference

Environment: DATABASE_URL, PARTLI_ADDR, PARTLI_BASE_URL, PARTLI_SESSION_SECRET,
PARTLI_ENCRYPTION_KEY (see README.md).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "partli:", err)
		var ue usageError
		if errors.As(err, &ue) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg + "\n\n" + usage }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		return usageError{"no command given"}
	}
	switch args[0] {
	case "migrate":
		return cmdMigrate(ctx, stdout)
	case "serve":
		return cmdServe(ctx, log)
	case "workspace":
		if len(args) < 2 || args[1] != "create" {
			return usageError{"usage: partli workspace create --name N --owner-email E --owner-password P"}
		}
		return cmdWorkspaceCreate(ctx, args[2:], stdout, stderr)
	case "dev":
		return cmdDev(ctx, stdout, log)
	case "seed":
		return cmdSeed(ctx, args[1:], stdout, stderr, log)
	case "secrets":
		if len(args) != 2 || args[1] != "rotate" {
			return usageError{"usage: partli secrets rotate"}
		}
		return cmdSecretsRotate(ctx, stdout)
	case "ledger":
		if len(args) < 2 || args[1] != "check" {
			return usageError{"usage: partli ledger check [--workspace W]"}
		}
		return cmdLedgerCheck(ctx, args[2:], stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
}

// newFlags makes a flag set that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
