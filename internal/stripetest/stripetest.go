// Package stripetest runs Stripe's own API stand-in, stripe-mock (pinned as
// a Go tool in go.mod), for tests, behind a recording proxy of their own:
// the requests that reach "Stripe" are real shapes, validated by Stripe's
// API description, and the proxy can lose an answer or answer an error.
//
//	mock := stripetest.Mock(t)         // one stripe-mock per test binary
//	proxy := stripetest.NewProxy(t, mock)
//	... point PARTLI_STRIPE_API_BASE (or stripe.PaymentsConfig.APIBase) at proxy.URL ...
//	proxy.DropReplies("/v1/transfers", 1) // the first transfer happens, its answer is lost
//
// stripe-mock is stateless: the objects it returns are canned (a transfer
// gets a new id each time, an account has payouts disabled); a test that
// needs another answer gives it with Respond.
package stripetest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	mockOnce sync.Once
	mockSock string
	mockErr  error
)

// Mock returns the Unix socket of this test binary's stripe-mock, building
// and starting it on first use (go build of the version go.mod pins; the
// build cache makes it quick after the first time). It dies with the test
// binary.
func Mock(t testing.TB) string {
	t.Helper()
	mockOnce.Do(func() { mockSock, mockErr = startMock() })
	if mockErr != nil {
		t.Fatalf("stripe-mock: %v", mockErr)
	}
	return mockSock
}

func startMock() (string, error) {
	dir, err := os.MkdirTemp("", "partli-stripe-mock-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "stripe-mock")
	build := exec.Command("go", "build", "-o", bin, "github.com/stripe/stripe-mock")
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build github.com/stripe/stripe-mock: %v\n%s", err, out)
	}
	sock := filepath.Join(dir, "stripe.sock")
	cmd := exec.Command(bin, "-http-unix", sock)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	// Killed with the test binary, however it ends.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if c, err := net.Dial("unix", sock); err == nil {
			c.Close()
			return sock, nil
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			return "", fmt.Errorf("did not listen on %s within a minute: %s", sock, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Request is one request that reached the proxy.
type Request struct {
	Method         string
	Path           string
	Form           url.Values // the form body (POST) or the query (GET)
	IdempotencyKey string
	// Key is the secret key the request authenticated with.
	Key string
	// Account is the connected account it acted for (Stripe-Account), if any.
	Account string
	// Answered is the status the caller got; 0 when its answer was dropped.
	Answered int
}

// Reply is an answer the proxy gives instead of stripe-mock's.
type Reply struct {
	Status int
	Body   string
}

// Proxy is a recording HTTP proxy in front of stripe-mock.
type Proxy struct {
	*httptest.Server
	mock *http.Client
	mu   sync.Mutex
	reqs []Request
	// drops[path] is how many more requests to path reach stripe-mock but
	// get no answer (the connection is closed instead).
	drops map[string]int
	// replies[path] are answered instead of stripe-mock, the first one
	// first; the last one stays.
	replies map[string][]Reply
	// blocks[path], when set, holds requests to path until it is closed.
	blocks map[string]chan struct{}
}

// NewProxy starts a proxy to the stripe-mock at sock, closed when the test ends.
func NewProxy(t testing.TB, sock string) *Proxy {
	p := &Proxy{drops: map[string]int{}, replies: map[string][]Reply{}, blocks: map[string]chan struct{}{},
		mock: &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}}
	p.Server = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.Close)
	return p
}

// DropReplies makes the next n requests to path reach stripe-mock (so the
// work is done) and lose their answer: the connection closes unanswered.
// The client may send a request again more than once for one lost answer
// (stripe-go retries; Go's transport retries a request with an
// Idempotency-Key on a reused connection), each taking one of the n.
func (p *Proxy) DropReplies(path string, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drops[path] += n
}

// KeepAnswering stops dropping the answers to path.
func (p *Proxy) KeepAnswering(path string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.drops, path)
}

// Respond answers requests to path with replies instead of stripe-mock, in
// order, the last one for every request after.
func (p *Proxy) Respond(path string, replies ...Reply) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.replies[path] = replies
}

// Fail answers requests to path with a Stripe error (the API's shape).
func (p *Proxy) Fail(path string, status int, typ, code, message string) {
	p.Respond(path, Reply{Status: status, Body: fmt.Sprintf(`{"error": {"type": %q, "code": %q, "message": %q}}`, typ, code, message)})
}

// Block holds requests to path until the returned function is called.
func (p *Proxy) Block(path string) (release func()) {
	ch := make(chan struct{})
	p.mu.Lock()
	p.blocks[path] = ch
	p.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

// Requests returns the requests made so far (to path only, when given).
func (p *Proxy) Requests(path string) []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Request
	for _, r := range p.reqs {
		if path == "" || r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	form, _ := url.ParseQuery(string(body))
	if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	rec := Request{Method: r.Method, Path: r.URL.Path, Form: form, IdempotencyKey: r.Header.Get("Idempotency-Key"),
		Key: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "), Account: r.Header.Get("Stripe-Account")}
	p.mu.Lock()
	block := p.blocks[r.URL.Path]
	drop := p.drops[r.URL.Path] > 0
	if drop {
		p.drops[r.URL.Path]--
	}
	var reply *Reply
	if rs := p.replies[r.URL.Path]; len(rs) > 0 {
		reply = &rs[0]
		if len(rs) > 1 {
			p.replies[r.URL.Path] = rs[1:]
		}
	}
	i := len(p.reqs)
	p.reqs = append(p.reqs, rec)
	p.mu.Unlock()
	if block != nil {
		<-block
	}
	answered := func(status int) {
		p.mu.Lock()
		p.reqs[i].Answered = status
		p.mu.Unlock()
	}
	if reply != nil && !drop {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Request-Id", "req_proxy")
		w.WriteHeader(reply.Status)
		io.WriteString(w, reply.Body)
		answered(reply.Status)
		return
	}
	out, err := http.NewRequestWithContext(r.Context(), r.Method, "http://stripe-mock"+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	out.Header = r.Header.Clone()
	resp, err := p.mock.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	got, _ := io.ReadAll(resp.Body)
	if drop {
		// The work is done; the answer is lost on the way back.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				conn.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	w.Write(got)
	answered(resp.StatusCode)
}
