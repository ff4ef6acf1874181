// Command partli-bench measures POST /api/track/sale against the physical
// limit of the machine it runs on (`make bench`).
//
// It starts a private, durable PostgreSQL cluster and a real `partli serve`,
// creates a workspace, a program with rewards and 1,000 partners with clicks,
// seeds the existing sales asked for, and then, for each size:
//
//   - drives /api/track/sale with unique externalIds at a fixed concurrency
//     for a fixed time (closed loop: the most the server sustains), and again
//     at 70 % of that rate (open loop, for the latency a merchant sees);
//   - runs pgbench with a script that does the SQL work of one sale, in one
//     transaction, at the same concurrency: the ceiling of Partli's own
//     statements. The ratio of the two is what the HTTP tier costs;
//   - runs the floor, the least SQL one attributed sale needs with every
//     guarantee (floor.go), on a schema of its own at the same concurrency:
//     what PostgreSQL itself can do per sale. track/sale ÷ floor is how near
//     Partli comes to the database's limit.
//
// Once per run it also measures a trivial echo handler (the HTTP ceiling of
// the machine), /static/partli.js from the server and /r/{slug} redirects. It prints a table and writes the
// figures as JSON. Load goes over loopback only.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// options are the command-line settings.
type options struct {
	duration    time.Duration
	warmup      time.Duration
	concurrency int
	partners    int
	clicks      int // clicks per partner
	existing    []int
	out         string
	partli      string
	dir         string
	keep        bool
	pgbench     bool
	floor       bool
	static      bool
	echo        bool
	redirects   bool
	fast        bool
	quiet       bool
	seedWorkers int
	profile     string // folder for the server's CPU profiles; empty: none
}

func main() {
	if addr := os.Getenv(echoServerEnv); addr != "" {
		runEchoServer(addr) // a child process of ours: see echo.go
		return
	}
	var o options
	var existing string
	flag.DurationVar(&o.duration, "duration", 20*time.Second, "length of each measured load phase")
	flag.DurationVar(&o.warmup, "warmup", 3*time.Second, "unmeasured load before each track/sale measurement")
	flag.IntVar(&o.concurrency, "concurrency", 16, "requests (and pgbench clients) in flight at once")
	flag.IntVar(&o.partners, "partners", 1000, "partners to create")
	flag.IntVar(&o.clicks, "clicks", 10, "clicks per partner")
	flag.StringVar(&existing, "existing", "10000", "comma-separated counts of existing sales to measure track/sale at, ascending (e.g. 10000,10000000); empty: none")
	flag.StringVar(&o.out, "out", "artifacts/bench/bench.json", "file the figures are written to as JSON")
	flag.StringVar(&o.partli, "partli", "", "partli binary to run (default: go build ./cmd/partli)")
	flag.StringVar(&o.dir, "dir", "", "folder for the cluster and logs (default: a new temporary folder, removed afterwards)")
	flag.BoolVar(&o.keep, "keep", false, "keep the temporary folder")
	flag.BoolVar(&o.pgbench, "pgbench", true, "measure the pgbench ceiling")
	flag.BoolVar(&o.floor, "floor", true, "measure the floor: the reference transaction of one sale, on a schema of its own")
	flag.BoolVar(&o.static, "static", true, "measure /static/partli.js from the same server (the yardstick of redirects)")
	flag.BoolVar(&o.echo, "echo", true, "measure the trivial echo handler")
	flag.BoolVar(&o.redirects, "redirects", true, "measure /r/{slug} redirects")
	flag.BoolVar(&o.fast, "fast", false, "run PostgreSQL without fsync (not durable; for quick looks only)")
	flag.BoolVar(&o.quiet, "quiet", false, "print only the results")
	flag.StringVar(&o.profile, "profile", "", "folder to save the server's CPU profile of each measured phase in (go tool pprof partli FILE)")
	flag.IntVar(&o.seedWorkers, "seed-workers", 4, "connections seeding existing sales at once")
	flag.Parse()
	for _, f := range strings.Split(existing, ",") {
		if strings.TrimSpace(f) == "" { // -existing= measures no track/sale
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(f, "_", "")))
		if err != nil || n < 0 || (len(o.existing) > 0 && n < o.existing[len(o.existing)-1]) {
			fmt.Fprintf(os.Stderr, "partli-bench: -existing %q: want ascending counts such as 10000,10000000\n", existing)
			os.Exit(2)
		}
		o.existing = append(o.existing, n)
	}
	if o.concurrency < 1 || o.duration < time.Second || o.partners < 1 || o.clicks < 1 || o.seedWorkers < 1 {
		fmt.Fprintln(os.Stderr, "partli-bench: -concurrency, -partners and -clicks must be at least 1, -duration at least 1s")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := run(ctx, o)
	if rep != nil {
		rep.judge() // on what was measured, also after a failure part way
		printReport(os.Stdout, rep)
		if werr := writeJSON(o.out, rep); werr != nil {
			fmt.Fprintln(os.Stderr, "partli-bench:", werr)
		} else {
			fmt.Printf("\nfigures written to %s\n", o.out)
		}
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "partli-bench:", err)
		os.Exit(1)
	}
}

func (o options) logf(format string, args ...any) {
	if !o.quiet {
		fmt.Fprintf(os.Stderr, "· "+format+"\n", args...)
	}
}

// run does the whole benchmark and returns what it measured, also when it
// fails part way.
func run(ctx context.Context, o options) (*report, error) {
	rep := &report{
		Date:        time.Now().UTC().Format(time.RFC3339),
		Machine:     machine(),
		Concurrency: o.concurrency,
		Duration:    o.duration.String(),
		Partners:    o.partners,
		Clicks:      o.partners * o.clicks,
		Durable:     !o.fast,
	}
	env, err := setUp(ctx, o, rep)
	if env != nil {
		defer env.tearDown(o)
	}
	if err != nil {
		return rep, err
	}
	rep.Postgres = env.pgSettings

	if o.echo {
		o.logf("measuring the trivial echo handler (HTTP ceiling)")
		r, err := env.measureEcho(ctx, o)
		if err != nil {
			return rep, fmt.Errorf("echo: %w", err)
		}
		rep.Echo = r
	}
	if o.static {
		o.logf("measuring /static/partli.js")
		r, err := env.measureStatic(ctx, o)
		if err != nil {
			return rep, fmt.Errorf("static: %w", err)
		}
		rep.Static = r
	}
	if o.redirects {
		o.logf("measuring /r/{slug} redirects")
		r, err := env.measureRedirects(ctx, o)
		if err != nil {
			return rep, fmt.Errorf("redirects: %w", err)
		}
		rep.Redirects = r
	}
	for _, n := range o.existing {
		sr, err := env.measureAtSize(ctx, o, n)
		if sr != nil {
			rep.Sizes = append(rep.Sizes, *sr)
		}
		if err != nil {
			return rep, err
		}
	}
	return rep, ctx.Err()
}

func machine() machineInfo {
	m := machineInfo{CPUs: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryMB = kb / 1024
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAtStart = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func writeJSON(path string, v any) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

var errStopped = errors.New("stopped")
