package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// load describes one load phase.
type load struct {
	name        string
	targeter    vegeta.Targeter
	concurrency int
	rate        float64 // requests per second; 0: closed loop, as fast as concurrency allows
	duration    time.Duration
	pid         int                  // server whose peak RSS and CPU to record; 0: none
	postmaster  int                  // PostgreSQL whose CPU to record; 0: none
	onResult    func(*vegeta.Result) // called for every result, from one goroutine
	profile     *profileTo           // nil: no CPU profile of the server
	metrics     string               // the server's GET /metrics, for its batches; empty: none
}

// profileTo names where a phase's CPU profile comes from and goes to.
type profileTo struct {
	url  string // the server's /debug/pprof/profile
	file string
}

// capture fetches a CPU profile of seconds from p.url into p.file. It
// returns at once; wait for the returned channel.
func (p *profileTo) capture(seconds int) <-chan error {
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			resp, err := (&http.Client{Timeout: time.Duration(seconds+30) * time.Second}).Get(fmt.Sprintf("%s?seconds=%d", p.url, seconds))
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("%s: %s", p.url, resp.Status)
			}
			if err := os.MkdirAll(filepath.Dir(p.file), 0o755); err != nil {
				return err
			}
			f, err := os.Create(p.file)
			if err != nil {
				return err
			}
			if _, err := io.Copy(f, resp.Body); err != nil {
				f.Close()
				return err
			}
			return f.Close()
		}()
	}()
	return done
}

// attack runs a load phase with vegeta and summarizes it. Latency
// percentiles are exact (every latency is kept), not estimated.
func attack(ctx context.Context, l load) (*phase, error) {
	opts := []func(*vegeta.Attacker){
		vegeta.Workers(uint64(l.concurrency)),
		vegeta.Connections(l.concurrency * 2),
		vegeta.KeepAlive(true),
		vegeta.Redirects(vegeta.NoFollow),
		vegeta.Timeout(30 * time.Second),
		vegeta.MaxBody(1 << 16),
	}
	pacer := vegeta.Pacer(vegeta.ConstantPacer{}) // zero: unlimited
	if l.rate > 0 {
		pacer = vegeta.ConstantPacer{Freq: int(math.Round(l.rate)), Per: time.Second}
		opts = append(opts, vegeta.MaxWorkers(1024))
	} else {
		opts = append(opts, vegeta.MaxWorkers(uint64(l.concurrency)))
	}
	atk := vegeta.NewAttacker(opts...)

	var rss *rssWatch
	if l.pid > 0 {
		rss = watchRSS(l.pid)
	}
	var cpu *cpuMeter
	if l.pid > 0 || l.postmaster > 0 {
		cpu = startCPU(l.pid, l.postmaster)
	}
	var profiled <-chan error
	if l.profile != nil {
		profiled = l.profile.capture(max(1, int(l.duration.Seconds())-1))
	}
	batchesBefore, err := scrapeBatches(l.metrics)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	stop := context.AfterFunc(ctx, func() { atk.Stop() })
	defer stop()

	p := &phase{Name: l.name, Rate: l.rate, ErrorKinds: map[string]int{}}
	lat := make([]time.Duration, 0, 1<<16)
	var first, last time.Time
	for res := range atk.Attack(l.targeter, pacer, l.duration, l.name) {
		if first.IsZero() || res.Timestamp.Before(first) {
			first = res.Timestamp
		}
		if end := res.End(); end.After(last) {
			last = end
		}
		p.Requests++
		lat = append(lat, res.Latency)
		if res.Code >= 200 && res.Code < 400 && res.Error == "" {
			p.OK++
		} else {
			p.Errors++
			kind := res.Error
			if res.Code != 0 {
				kind = fmt.Sprintf("HTTP %d", res.Code)
			}
			if len(kind) > 80 {
				kind = kind[:80]
			}
			p.ErrorKinds[kind]++
		}
		if l.onResult != nil {
			l.onResult(res)
		}
	}
	if rss != nil {
		p.PeakRSSMB = rss.stop()
	}
	if cpu != nil {
		c := cpu.perRequest(p.Requests)
		p.CPU = &c
	}
	if len(p.ErrorKinds) == 0 {
		p.ErrorKinds = nil
	}
	if l.metrics != "" {
		after, err := scrapeBatches(l.metrics)
		if err != nil {
			return p, fmt.Errorf("%s: %w", l.name, err)
		}
		p.Batches = after.since(batchesBefore)
	}
	if profiled != nil {
		if err := <-profiled; err != nil {
			return p, fmt.Errorf("%s: CPU profile: %w", l.name, err)
		}
		p.Profile = l.profile.file
	}
	if p.Requests == 0 {
		return p, fmt.Errorf("%s: no requests were made", l.name)
	}
	if elapsed := last.Sub(first); elapsed > 0 {
		p.RPS = float64(p.OK) / elapsed.Seconds()
	}
	slices.Sort(lat)
	var sum time.Duration
	for _, d := range lat {
		sum += d
	}
	p.MeanMs = ms(sum / time.Duration(len(lat)))
	p.P50Ms, p.P99Ms, p.P999Ms = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.99)), ms(quantile(lat, 0.999))
	p.MaxMs = ms(lat[len(lat)-1])
	return p, ctx.Err()
}

// quantile of sorted durations, nearest rank.
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(math.Ceil(q*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// rssWatch records a process's peak resident set size: the kernel's high
// water mark (reset at the start where the kernel allows it) and, as a
// fallback, samples of the current RSS.
type rssWatch struct {
	pid    int
	reset  bool
	peakKB int64
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
}

func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, done: make(chan struct{})}
	// "5" resets VmHWM to the current RSS (Linux ≥ 4.0).
	w.reset = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0) == nil
	w.wg.Go(func() {
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := procStatusKB(pid, "VmRSS"); kb > 0 {
				w.mu.Lock()
				w.peakKB = max(w.peakKB, kb)
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-t.C:
			}
		}
	})
	return w
}

// stop returns the peak RSS in MB.
func (w *rssWatch) stop() float64 {
	close(w.done)
	w.wg.Wait()
	peak := w.peakKB
	if w.reset {
		peak = max(peak, procStatusKB(w.pid, "VmHWM"))
	}
	return float64(peak) / 1024
}

func procStatusKB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && k == field {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// cpuSeconds is the CPU time (user + system) a process has used so far, with
// withChildren also that of its reaped children (for the postmaster: the
// backends that have exited).
func cpuSeconds(pid int, withChildren bool) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid …": fields after the last ')'.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 15 {
		return 0
	}
	// utime, stime, cutime, cstime are fields 14–17 of stat, 12–15 here.
	sum := 0.0
	n := 2
	if withChildren {
		n = 4
	}
	for _, v := range f[11 : 11+n] {
		t, _ := strconv.ParseFloat(v, 64)
		sum += t
	}
	return sum / 100 // USER_HZ
}

// childrenOf lists the processes whose parent is pid.
func childrenOf(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var kids []int
	for _, e := range entries {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, p)
		}
	}
	return kids
}

// cpuMeter measures the CPU time used meanwhile by the server, this
// process (the load generator) and PostgreSQL (the postmaster and every
// backend).
type cpuMeter struct {
	server, postmaster int
	s0, b0, p0         float64
}

func startCPU(server, postmaster int) *cpuMeter {
	m := &cpuMeter{server: server, postmaster: postmaster}
	m.s0, m.b0, m.p0 = m.read()
	return m
}

func (m *cpuMeter) read() (server, bench, postgres float64) {
	if m.server > 0 {
		server = cpuSeconds(m.server, true)
	}
	bench = cpuSeconds(os.Getpid(), false)
	if m.postmaster > 0 {
		postgres = cpuSeconds(m.postmaster, true)
		for _, k := range childrenOf(m.postmaster) {
			postgres += cpuSeconds(k, false)
		}
	}
	return
}

// perRequest returns the CPU milliseconds each used per request.
func (m *cpuMeter) perRequest(n int) cpuUse {
	s, b, p := m.read()
	if n == 0 {
		return cpuUse{}
	}
	f := 1000 / float64(n)
	return cpuUse{ServerMs: (s - m.s0) * f, LoadGenMs: (b - m.b0) * f, PostgresMs: max(0, p-m.p0) * f}
}
