package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// echoServerEnv, when set, makes this program serve the trivial handler
// on that address instead of benchmarking: the parent runs it as a child
// process, as it runs `partli serve`, so both pay for a process of their own.
const echoServerEnv = "PARTLI_BENCH_ECHO_ADDR"

// runEchoServer serves POST /echo: read the body, answer a small JSON
// object. It is the most an echo handler can do on this machine.
func runEchoServer(addr string) {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	reply := []byte(`{"eventId":"sale_0000000000000000000000000","attributed":true,"duplicate":false,"commission":null}`)
	e.POST("/echo", func(c echo.Context) error {
		if _, err := io.Copy(io.Discard, c.Request().Body); err != nil {
			return err
		}
		return c.JSONBlob(http.StatusOK, reply)
	})
	e.GET("/healthz", func(c echo.Context) error { return c.NoContent(http.StatusOK) })
	if err := e.Start(addr); err != nil {
		fmt.Fprintln(os.Stderr, "echo server:", err)
		os.Exit(1)
	}
}

// measureEcho drives the trivial handler with the same requests and
// concurrency as track/sale: the HTTP ceiling of the machine.
func (e *env) measureEcho(ctx context.Context, o options) (*phase, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), echoServerEnv+"="+addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}()
	for deadline := time.Now().Add(10 * time.Second); ; {
		resp, err := e.client.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("the echo server did not start: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	sale := e.saleTargeter()
	url := "http://" + addr + "/echo"
	tr := func(t *vegeta.Target) error {
		if err := sale(t); err != nil {
			return err
		}
		t.URL = url
		return nil
	}
	return attack(ctx, load{name: "echo handler (HTTP ceiling)", targeter: tr, concurrency: o.concurrency,
		duration: o.duration, pid: cmd.Process.Pid, postmaster: e.postmasterPID()})
}

// measureRedirects drives GET /r/{slug} across every partner: each request
// resolves the slug, records a click and answers 302.
func (e *env) measureRedirects(ctx context.Context, o options) (*phase, error) {
	hdr := http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"},
		"Referer": {"https://blog.example.com/review"}}
	tr := func(t *vegeta.Target) error {
		t.Method, t.Header = http.MethodGet, hdr
		t.URL = e.baseURL + "/r/" + e.slugs[rand.IntN(len(e.slugs))]
		return nil
	}
	if err := e.settle(ctx, o, load{targeter: tr, concurrency: o.concurrency}); err != nil {
		return nil, err
	}
	if e.statements {
		if _, err := e.db.ExecContext(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
			return nil, err
		}
	}
	pid, _ := e.serverPID()
	found := 0
	p, err := attack(ctx, load{name: "/r/{slug} redirects", targeter: tr, concurrency: o.concurrency,
		duration: o.duration, pid: pid, postmaster: e.postmasterPID(), profile: e.profile(o, "redirects"), metrics: e.metrics(), onResult: func(r *vegeta.Result) {
			if r.Code == http.StatusFound {
				found++
			}
		}})
	if err == nil && p.OK != found {
		err = fmt.Errorf("%d of %d redirects answered 302", found, p.OK)
	}
	if err == nil && e.statements && p.Requests > 0 {
		// What the database did per redirect: the click batches, the link
		// look-ups, the change log's reads.
		var top []statementCount
		if _, top, err = e.statementCounts(ctx); err == nil {
			p.Statements = statementLines(top, p.Requests, "redirect")
		}
	}
	return p, err
}

// measureStatic drives GET /static/partli.js on the same server: a file
// served from memory with no database work, the yardstick redirects are
// held to (both are one small GET through the same router and middleware).
func (e *env) measureStatic(ctx context.Context, o options) (*phase, error) {
	hdr := http.Header{"User-Agent": {"Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"}}
	tr := func(t *vegeta.Target) error {
		t.Method, t.Header, t.URL = http.MethodGet, hdr, e.baseURL+"/static/partli.js"
		return nil
	}
	if err := e.settle(ctx, o, load{targeter: tr, concurrency: o.concurrency}); err != nil {
		return nil, err
	}
	pid, _ := e.serverPID()
	okCount := 0
	p, err := attack(ctx, load{name: "/static/partli.js", targeter: tr, concurrency: o.concurrency,
		duration: o.duration, pid: pid, postmaster: e.postmasterPID(), profile: e.profile(o, "static"), onResult: func(r *vegeta.Result) {
			if r.Code == http.StatusOK && len(r.Body) > 0 {
				okCount++
			}
		}})
	if err == nil && p.OK != okCount {
		err = fmt.Errorf("%d of %d answers to /static/partli.js were 200 with a body", okCount, p.OK)
	}
	return p, err
}
