// Package mailpit runs mailpit (github.com/axllent/mailpit, pinned as a Go
// tool in go.mod), an SMTP server that keeps every message it receives and
// shows them in a web UI and an HTTP API. `partli dev` starts one so that
// every mail of a local Partli can be read with no set-up, and the tests
// start one to read what Partli really sent over SMTP.
package mailpit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ErrNotFound: no mailpit binary could be found or built.
var ErrNotFound = errors.New("mailpit: not found")

var (
	findOnce sync.Once
	found    string
	findErr  error
)

// Find returns the path of a mailpit binary: $PARTLI_MAILPIT, else mailpit
// next to the running executable or on PATH, else the one `go tool` builds
// from go.mod's pin (inside the checkout; the first build takes a minute or
// two, later ones come from Go's build cache). The answer is kept for the
// life of the process, so a test binary builds it at most once.
func Find() (string, error) {
	findOnce.Do(func() { found, findErr = find() })
	return found, findErr
}

func find() (string, error) {
	if p := os.Getenv("PARTLI_MAILPIT"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("PARTLI_MAILPIT=%s: %w", p, err)
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(exe), "mailpit")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p, nil
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("%w: set PARTLI_MAILPIT, put mailpit on PATH, or run from the checkout with Go installed", ErrNotFound)
	}
	// go tool -n builds the tool (when not cached) and prints its path.
	cmd := exec.Command(goBin, "tool", "-n", "mailpit")
	cmd.Dir = moduleDir()
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			err = fmt.Errorf("%v: %s", err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%w: go tool -n mailpit: %v", ErrNotFound, err)
	}
	p := strings.TrimSpace(string(out))
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: go tool -n mailpit printed %q: %v", ErrNotFound, p, err)
	}
	return p, nil
}

// moduleDir is the folder of Partli's go.mod above the working folder (or
// the working folder itself), where `go tool mailpit` resolves the pin.
func moduleDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	for d := dir; ; d = filepath.Dir(d) {
		if b, err := os.ReadFile(filepath.Join(d, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/partli/partli") {
			return d
		}
		if filepath.Dir(d) == d {
			return dir
		}
	}
}

// Options say where a mailpit listens and keeps its messages.
type Options struct {
	// SMTP and HTTP are loopback host:port addresses; empty: free ports.
	SMTP, HTTP string
	// Database is the file it keeps messages in; empty: a temporary one.
	Database string
	// Log is where its output goes; nil: nowhere.
	Log io.Writer
	// Args are more of its flags (TLS, authentication, refusals).
	Args []string
}

// Server is a running mailpit.
type Server struct {
	SMTPAddr, HTTPAddr string
	cmd                *exec.Cmd
	done               chan struct{}
	tmp                string
}

// Start runs mailpit and waits until it answers (up to a minute: on a
// loaded machine its start-up takes a while).
func Start(ctx context.Context, opts Options) (*Server, error) {
	bin, err := Find()
	if err != nil {
		return nil, err
	}
	s := &Server{SMTPAddr: opts.SMTP, HTTPAddr: opts.HTTP, done: make(chan struct{})}
	for _, a := range []*string{&s.SMTPAddr, &s.HTTPAddr} {
		if *a == "" {
			if *a, err = FreeAddr(); err != nil {
				return nil, err
			}
		}
	}
	db := opts.Database
	if db == "" {
		if s.tmp, err = os.MkdirTemp("", "partli-mailpit-"); err != nil {
			return nil, err
		}
		db = filepath.Join(s.tmp, "mailpit.db")
	}
	args := append([]string{"--smtp", s.SMTPAddr, "--listen", s.HTTPAddr, "--database", db,
		"--max", "0", "--disable-version-check", "--smtp-disable-rdns"}, opts.Args...)
	s.cmd = exec.Command(bin, args...)
	s.cmd.Stdout, s.cmd.Stderr = opts.Log, opts.Log
	// Its own process group: a Ctrl-C meant for partli does not stop it
	// before partli is done with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		s.cleanup()
		return nil, fmt.Errorf("mailpit: %w", err)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitReady(ctx, time.Minute); err != nil {
		s.Stop()
		return nil, err
	}
	return s, nil
}

func (s *Server) waitReady(ctx context.Context, bound time.Duration) error {
	deadline := time.Now().Add(bound)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get(s.UIURL() + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				if c, err := net.DialTimeout("tcp", s.SMTPAddr, 2*time.Second); err == nil {
					c.Close()
					return nil
				}
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("mailpit exited while starting (%s)", s.cmd.ProcessState)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("mailpit did not answer on %s within %s", s.HTTPAddr, bound)
		}
	}
}

// SMTPURL is the PARTLI_SMTP_URL that sends to this mailpit.
func (s *Server) SMTPURL() string { return "smtp://" + s.SMTPAddr }

// UIURL is where its web UI (and API) is.
func (s *Server) UIURL() string { return "http://" + s.HTTPAddr }

// Stop ends mailpit and waits for it.
func (s *Server) Stop() {
	if s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(10 * time.Second):
			_ = s.cmd.Process.Kill()
			<-s.done
		}
	}
	s.cleanup()
}

func (s *Server) cleanup() {
	if s.tmp != "" {
		os.RemoveAll(s.tmp)
	}
}

// FreeAddr returns a loopback address with a port nobody listens on.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Address is a mailbox as mailpit shows it.
type Address struct {
	Name    string `json:"Name"`
	Address string `json:"Address"`
}

// Summary is a message in mailpit's lists.
type Summary struct {
	ID        string    `json:"ID"`
	MessageID string    `json:"MessageID"`
	From      Address   `json:"From"`
	To        []Address `json:"To"`
	Bcc       []Address `json:"Bcc"`
	Subject   string    `json:"Subject"`
	// Username is who authenticated to send it ("" without SMTP AUTH).
	Username string `json:"Username"`
}

// Message is one message in full.
type Message struct {
	Summary
	Text            string `json:"Text"`
	HTML            string `json:"HTML"`
	ListUnsubscribe struct {
		Header     string   `json:"Header"`
		Links      []string `json:"Links"`
		Errors     string   `json:"Errors"`
		HeaderPost string   `json:"HeaderPost"`
	} `json:"ListUnsubscribe"`
	// Headers are the message's headers as received.
	Headers map[string][]string `json:"-"`
}

func (s *Server) getJSON(path string, v any) error {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(s.UIURL() + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("mailpit: GET %s: %d %s", path, resp.StatusCode, b)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// To lists the messages to address (exactly, any case), newest first.
func (s *Server) To(address string) ([]Summary, error) {
	var res struct {
		Messages []Summary `json:"messages"`
	}
	if err := s.getJSON("/api/v1/search?limit=1000&query="+url.QueryEscape("to:"+address), &res); err != nil {
		return nil, err
	}
	var out []Summary
	for _, m := range res.Messages {
		for _, to := range m.To {
			if strings.EqualFold(to.Address, address) {
				out = append(out, m)
				break
			}
		}
	}
	return out, nil
}

// All lists every message, newest first.
func (s *Server) All() ([]Summary, error) {
	var res struct {
		Messages []Summary `json:"messages"`
	}
	err := s.getJSON("/api/v1/messages?limit=100000", &res)
	return res.Messages, err
}

// Get reads one message in full, with its headers.
func (s *Server) Get(id string) (*Message, error) {
	var m Message
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id), &m); err != nil {
		return nil, err
	}
	if err := s.getJSON("/api/v1/message/"+url.PathEscape(id)+"/headers", &m.Headers); err != nil {
		return nil, err
	}
	return &m, nil
}
