package main

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
)

// report is everything one run measured; it is written out as JSON.
type report struct {
	Date        string            `json:"date"`
	Machine     machineInfo       `json:"machine"`
	Concurrency int               `json:"concurrency"`
	Duration    string            `json:"duration"`
	Partners    int               `json:"partners"`
	Clicks      int               `json:"clicks"`
	Durable     bool              `json:"durable"`
	Postgres    map[string]string `json:"postgres"`
	Echo        *phase            `json:"echo,omitempty"`
	Static      *phase            `json:"static,omitempty"`
	Redirects   *phase            `json:"redirects,omitempty"`
	Sizes       []sizeReport      `json:"sizes"`
	Targets     []target          `json:"targets"`
}

type machineInfo struct {
	CPUs        int    `json:"cpus"`
	CPU         string `json:"cpu"`
	MemoryMB    int64  `json:"memoryMB"`
	GOOS        string `json:"goos"`
	GOARCH      string `json:"goarch"`
	Go          string `json:"go"`
	LoadAtStart string `json:"loadAverageAtStart"`
}

// phase is one load phase: closed loop (Rate 0) or open loop at Rate.
type phase struct {
	Name       string         `json:"name"`
	Rate       float64        `json:"targetRate,omitempty"`
	Requests   int            `json:"requests"`
	OK         int            `json:"ok"`
	Errors     int            `json:"errors"`
	ErrorKinds map[string]int `json:"errorKinds,omitempty"`
	RPS        float64        `json:"requestsPerSecond"`
	MeanMs     float64        `json:"meanMs"`
	P50Ms      float64        `json:"p50Ms"`
	P99Ms      float64        `json:"p99Ms"`
	P999Ms     float64        `json:"p999Ms"`
	MaxMs      float64        `json:"maxMs"`
	PeakRSSMB  float64        `json:"serverPeakRssMB,omitempty"`
	CPU        *cpuUse        `json:"cpuPerRequest,omitempty"`
	Profile    string         `json:"cpuProfile,omitempty"` // the server's CPU profile of the phase (-profile)
	// Batches are the server's hot-path write batches during the phase, by
	// kind (sale, click), from its GET /metrics.
	Batches map[string]batchUse `json:"batches,omitempty"`
	// Statements are pg_stat_statements' lines of the phase (redirects).
	Statements []string `json:"statements,omitempty"`
}

// cpuUse is the CPU time each process spent per request (or per pgbench
// transaction), in milliseconds: where a request's cost goes.
type cpuUse struct {
	ServerMs   float64 `json:"serverMs"`        // partli serve (or the echo server)
	LoadGenMs  float64 `json:"loadGeneratorMs"` // vegeta, in this process (or pgbench)
	PostgresMs float64 `json:"postgresMs"`      // every PostgreSQL process
}

// sizeReport is the track/sale measurement at one number of existing sales.
type sizeReport struct {
	ExistingSales    int64    `json:"existingSales"`
	SeedSeconds      float64  `json:"seedSeconds"`
	Max              phase    `json:"max"`
	At70             *phase   `json:"at70Percent,omitempty"`
	PgbenchTPS       float64  `json:"pgbenchTps,omitempty"`
	PgbenchLatencyMs float64  `json:"pgbenchLatencyMs,omitempty"`
	PgbenchCPU       *cpuUse  `json:"pgbenchCpuPerTransaction,omitempty"`
	Ratio            float64  `json:"ratioToPgbench,omitempty"`
	FloorTPS         float64  `json:"floorTps,omitempty"`
	FloorLatencyMs   float64  `json:"floorLatencyMs,omitempty"`
	FloorCPU         *cpuUse  `json:"floorCpuPerTransaction,omitempty"`
	FloorRatio       float64  `json:"ratioToFloor,omitempty"`
	StatementsPerReq float64  `json:"statementsPerSale,omitempty"`
	Statements       []string `json:"statements,omitempty"`
	Verified         string   `json:"verified,omitempty"`
}

type target struct {
	Name string `json:"name"`
	Want string `json:"want"`
	Got  string `json:"got"`
	Met  bool   `json:"met"`
}

// judge compares the figures with the targets of the benchmark.
func (r *report) judge() {
	r.Targets = nil
	add := func(name, want, got string, met bool) {
		r.Targets = append(r.Targets, target{name, want, got, met})
	}
	if len(r.Sizes) > 0 {
		s := r.Sizes[0]
		if s.PgbenchTPS > 0 {
			add("track/sale share of the pgbench ceiling", "≥ 80%", fmt.Sprintf("%.0f%%", 100*s.Ratio), s.Ratio >= 0.8)
		}
		if s.FloorTPS > 0 {
			add("track/sale share of the floor", "≥ 80%", fmt.Sprintf("%.0f%%", 100*s.FloorRatio), s.FloorRatio >= 0.8)
		}
		if s.At70 != nil {
			add("track/sale p99 at 70% of the maximum rate", "≤ 25 ms", fmt.Sprintf("%.1f ms", s.At70.P99Ms), s.At70.P99Ms <= 25)
		}
		rss := s.Max.PeakRSSMB
		if s.At70 != nil {
			rss = max(rss, s.At70.PeakRSSMB)
		}
		add("server peak RSS under load", "≤ 150 MB", fmt.Sprintf("%.0f MB", rss), rss <= 150)
	}
	if len(r.Sizes) > 1 {
		first, last := r.Sizes[0], r.Sizes[len(r.Sizes)-1]
		ratio := last.Max.P50Ms / first.Max.P50Ms
		add(fmt.Sprintf("track/sale p50 at %s vs %s existing sales", count(last.ExistingSales), count(first.ExistingSales)),
			"≤ 1.2×", fmt.Sprintf("%.2f× (%.1f / %.1f ms)", ratio, last.Max.P50Ms, first.Max.P50Ms), ratio <= 1.2)
		if first.At70 != nil && last.At70 != nil {
			r70 := last.At70.P50Ms / first.At70.P50Ms
			add(fmt.Sprintf("track/sale p50 at %s vs %s, at 70%% of the rate", count(last.ExistingSales), count(first.ExistingSales)),
				"≤ 1.2×", fmt.Sprintf("%.2f× (%.1f / %.1f ms)", r70, last.At70.P50Ms, first.At70.P50Ms), r70 <= 1.2)
		}
	}
	if r.Redirects != nil {
		add("/r/{slug} redirects", "≥ 5,000/s", fmt.Sprintf("%.0f/s", r.Redirects.RPS), r.Redirects.RPS >= 5000)
		if r.Static != nil && r.Static.RPS > 0 {
			share := r.Redirects.RPS / r.Static.RPS
			add("/r/{slug} redirects ÷ /static/partli.js", "≥ 0.70", fmt.Sprintf("%.2f (%.0f / %.0f)", share, r.Redirects.RPS, r.Static.RPS), share >= 0.7)
		}
	}
}

func count(n int64) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func printReport(w io.Writer, r *report) {
	fmt.Fprintf(w, "\nPartli benchmark, %s\n", r.Date)
	fmt.Fprintf(w, "machine: %d CPUs (%s), %d MB RAM, %s/%s, %s; load average at start %s\n",
		r.Machine.CPUs, r.Machine.CPU, r.Machine.MemoryMB, r.Machine.GOOS, r.Machine.GOARCH, r.Machine.Go, r.Machine.LoadAtStart)
	durable := "durable (fsync on, synchronous_commit on)"
	if !r.Durable {
		durable = "NOT durable (fsync off)"
	}
	fmt.Fprintf(w, "load: concurrency %d, %s per phase, loopback; PostgreSQL %s, %s\n", r.Concurrency, r.Duration, r.Postgres["server_version"], durable)
	fmt.Fprintf(w, "data: %d partners, %d clicks\n\n", r.Partners, r.Clicks)

	fmt.Fprintf(w, "%-34s %9s %8s %8s %8s %8s %7s %8s\n", "phase", "req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "RSS MB")
	line := func(p *phase) {
		if p == nil {
			return
		}
		rss := "-"
		if p.PeakRSSMB > 0 {
			rss = fmt.Sprintf("%.0f", p.PeakRSSMB)
		}
		fmt.Fprintf(w, "%-34s %9.0f %8.2f %8.2f %8.2f %8.1f %7d %8s\n", p.Name, p.RPS, p.P50Ms, p.P99Ms, p.P999Ms, p.MaxMs, p.Errors, rss)
	}
	line(r.Echo)
	line(r.Static)
	line(r.Redirects)
	for i := range r.Sizes {
		line(&r.Sizes[i].Max)
		line(r.Sizes[i].At70)
	}
	if r.Redirects != nil && len(r.Redirects.Batches) > 0 {
		fmt.Fprintf(w, "\nbatches in %s: %s\n", r.Redirects.Name, batchLine(r.Redirects.Batches))
	}
	if r.Redirects != nil && len(r.Redirects.Statements) > 0 {
		fmt.Fprintf(w, "SQL statements in %s (pg_stat_statements):\n", r.Redirects.Name)
		for _, l := range r.Redirects.Statements {
			if !strings.HasPrefix(strings.TrimSpace(l), "0.00") { // what a share of the redirects run
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
	}
	for _, s := range r.Sizes {
		fmt.Fprintf(w, "\nat %s existing sales (seeded in %.0f s):\n", count(s.ExistingSales), s.SeedSeconds)
		if s.PgbenchTPS > 0 {
			fmt.Fprintf(w, "  pgbench, the same SQL per sale in one transaction: %.0f tps (mean latency %.2f ms)\n", s.PgbenchTPS, s.PgbenchLatencyMs)
			fmt.Fprintf(w, "  track/sale ÷ pgbench = %.0f / %.0f = %.2f\n", s.Max.RPS, s.PgbenchTPS, s.Ratio)
		}
		if s.FloorTPS > 0 {
			fmt.Fprintf(w, "  floor, the reference transaction of one sale: %.0f tps (mean latency %.2f ms)\n", s.FloorTPS, s.FloorLatencyMs)
			fmt.Fprintf(w, "  track/sale ÷ floor = %.0f / %.0f = %.2f\n", s.Max.RPS, s.FloorTPS, s.FloorRatio)
		}
		if c := s.Max.CPU; c != nil {
			fmt.Fprintf(w, "  CPU per sale, track/sale: server %.2f ms, load generator %.2f ms, PostgreSQL %.2f ms\n", c.ServerMs, c.LoadGenMs, c.PostgresMs)
		}
		if c := s.PgbenchCPU; c != nil {
			fmt.Fprintf(w, "  CPU per sale, pgbench:    pgbench %.2f ms, PostgreSQL %.2f ms\n", c.LoadGenMs, c.PostgresMs)
		}
		if c := s.FloorCPU; c != nil {
			fmt.Fprintf(w, "  CPU per sale, floor:      pgbench %.2f ms, PostgreSQL %.2f ms\n", c.LoadGenMs, c.PostgresMs)
		}
		if s.StatementsPerReq > 0 {
			fmt.Fprintf(w, "  SQL statements per sale (pg_stat_statements, BEGIN and COMMIT included): %.1f\n", s.StatementsPerReq)
			for _, l := range s.Statements {
				if !strings.HasPrefix(strings.TrimSpace(l), "0.") { // what every sale runs
					fmt.Fprintf(w, "    %s\n", l)
				}
			}
		}
		for _, p := range []*phase{&s.Max, s.At70} {
			if p != nil && len(p.Batches) > 0 {
				fmt.Fprintf(w, "  batches in %s: %s\n", p.Name, batchLine(p.Batches))
			}
		}
		if s.Verified != "" {
			fmt.Fprintf(w, "  check: %s\n", s.Verified)
		}
		for _, p := range []*phase{&s.Max, s.At70} {
			if p != nil && len(p.ErrorKinds) > 0 {
				fmt.Fprintf(w, "  errors in %s: %s\n", p.Name, kinds(p.ErrorKinds))
			}
		}
	}
	if len(r.Targets) > 0 {
		fmt.Fprintf(w, "\ntargets:\n")
		for _, t := range r.Targets {
			mark := "MET   "
			if !t.Met {
				mark = "MISSED"
			}
			fmt.Fprintf(w, "  %s %-52s want %-10s got %s\n", mark, t.Name, t.Want, t.Got)
		}
	}
}

func kinds(m map[string]int) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return m[ks[i]] > m[ks[j]] })
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%d× %s", m[k], k))
	}
	return strings.Join(parts, "; ")
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
