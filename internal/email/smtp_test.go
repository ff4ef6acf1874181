package email

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partli/partli/internal/mailpit"
)

// The SMTP sender against a real SMTP server, mailpit, on loopback: what
// arrives is read back through mailpit's HTTP API.

func TestMain(m *testing.M) {
	// Build mailpit once for the whole test binary (go tool's cache keeps it).
	if _, err := mailpit.Find(); err != nil {
		fmt.Fprintln(os.Stderr, "email tests: mailpit:", err)
	}
	os.Exit(m.Run())
}

func startMailpit(t *testing.T, args ...string) *mailpit.Server {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	mp, err := mailpit.Start(ctx, mailpit.Options{Args: args})
	if err != nil {
		t.Fatalf("starting mailpit: %v", err)
	}
	t.Cleanup(mp.Stop)
	return mp
}

var testFrom = &mail.Address{Name: "Partli", Address: "partli@partli.example"}

func newSender(t *testing.T, url string, roots *x509.CertPool) *SMTP {
	t.Helper()
	opts := SMTPOptions{Timeout: 20 * time.Second}
	if roots != nil {
		opts.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	s, err := NewSMTP(url, testFrom, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func testMessage(to string) *Message {
	return &Message{ID: "mail_" + strings.NewReplacer("@", "_", ".", "_").Replace(to) + fmt.Sprint(time.Now().UnixNano()),
		FromName: "Acme Pro", To: to, ToName: "Jane Doe", Subject: "New commission: $12.34 from Acme Pro",
		Text: "You earned $12.34.\nhttps://partli.example/partner\n", HTML: `<p>You earned <b>$12.34</b>.</p>`,
		Unsubscribe: "https://partli.example/unsubscribe/abc.def"}
}

// waitFor polls mailpit until a message to address arrived (bounded: the
// machine is loaded).
func waitFor(t *testing.T, mp *mailpit.Server, address string) *mailpit.Message {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ms, err := mp.To(address)
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) > 0 {
			m, err := mp.Get(ms[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("no mail to %s arrived", address)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestSMTPDeliversBothPartsAndOneClickUnsubscribe(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t)
	s := newSender(t, mp.SMTPURL(), nil)
	m := testMessage("jane@example.com")
	id, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	got := waitFor(t, mp, "jane@example.com")
	if got.From.Name != "Acme Pro" || got.From.Address != "partli@partli.example" {
		t.Errorf("From %+v, want the program's name and PARTLI_MAIL_FROM's address", got.From)
	}
	if got.To[0].Name != "Jane Doe" || got.Subject != m.Subject {
		t.Errorf("To %+v, subject %q", got.To, got.Subject)
	}
	if !strings.Contains(got.Text, "You earned $12.34.") || !strings.Contains(got.HTML, "<b>$12.34</b>") {
		t.Errorf("parts: text %q html %q", got.Text, got.HTML)
	}
	if got.ListUnsubscribe.HeaderPost != "List-Unsubscribe=One-Click" || len(got.ListUnsubscribe.Links) != 1 ||
		got.ListUnsubscribe.Links[0] != m.Unsubscribe || got.ListUnsubscribe.Errors != "" {
		t.Errorf("List-Unsubscribe %+v", got.ListUnsubscribe)
	}
	if "<"+got.MessageID+">" != id || !strings.HasPrefix(got.MessageID, m.ID+"@partli.example") {
		t.Errorf("Message-ID %q, sender said %q", got.MessageID, id)
	}
}

func TestSMTPStartTLSWithAuth(t *testing.T) {
	t.Parallel()
	dir, roots := testCert(t)
	auth := filepath.Join(dir, "auth")
	if err := os.WriteFile(auth, []byte("mailer:s3cret+pass!\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mp := startMailpit(t, "--smtp-tls-cert", filepath.Join(dir, "cert.pem"), "--smtp-tls-key", filepath.Join(dir, "key.pem"),
		"--smtp-require-starttls", "--smtp-auth-file", auth)
	// STARTTLS is used because the server offers it; the password is sent
	// only over it.
	s := newSender(t, "smtp://mailer:s3cret%2Bpass%21@"+mp.SMTPAddr, roots)
	if _, err := s.Send(context.Background(), testMessage("tls@example.com")); err != nil {
		t.Fatal(err)
	}
	if got := waitFor(t, mp, "tls@example.com"); got.Username != "mailer" {
		t.Errorf("authenticated as %q", got.Username)
	}
	// A wrong password, and a certificate nobody vouches for, fail, and may
	// be retried (the server's settings may change).
	for name, s := range map[string]*SMTP{
		"wrong password":     newSender(t, "smtp://mailer:wrong@"+mp.SMTPAddr, roots),
		"untrusted cert":     newSender(t, "smtp://mailer:s3cret%2Bpass%21@"+mp.SMTPAddr, nil),
		"no password at all": newSender(t, mp.SMTPURL(), roots),
	} {
		_, err := s.Send(context.Background(), testMessage("never@example.com"))
		if err == nil || IsPermanent(err) {
			t.Errorf("%s: %v, want a retryable error", name, err)
		}
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	t.Parallel()
	dir, roots := testCert(t)
	mp := startMailpit(t, "--smtp-tls-cert", filepath.Join(dir, "cert.pem"), "--smtp-tls-key", filepath.Join(dir, "key.pem"),
		"--smtp-require-tls")
	if _, err := newSender(t, "smtps://"+mp.SMTPAddr, roots).Send(context.Background(), testMessage("smtps@example.com")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, mp, "smtps@example.com")
	if _, err := newSender(t, mp.SMTPURL(), roots).Send(context.Background(), testMessage("plain@example.com")); err == nil {
		t.Error("plain SMTP to an implicit-TLS port was accepted")
	}
}

func TestSMTPRefusalsAndDownServer(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t, "--smtp-allowed-recipients", "^ok@")
	s := newSender(t, mp.SMTPURL(), nil)
	if _, err := s.Send(context.Background(), testMessage("ok@example.com")); err != nil {
		t.Fatal(err)
	}
	_, err := s.Send(context.Background(), testMessage("refused@example.com"))
	if !IsPermanent(err) {
		t.Errorf("a refused recipient: %v, want a permanent error", err)
	}
	// Nobody listening: retryable, naming the server.
	addr, err := mailpit.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	_, err = newSender(t, "smtp://"+addr, nil).Send(context.Background(), testMessage("ok@example.com"))
	if err == nil || IsPermanent(err) || !strings.Contains(err.Error(), "smtp://"+addr) {
		t.Errorf("a server that is down: %v", err)
	}
	// An address that cannot be one is refused before any connection.
	m := testMessage("x@example.com")
	m.To = "x@example.com\r\nRCPT TO:<evil@example.com>"
	if _, err := s.Send(context.Background(), m); !IsPermanent(err) {
		t.Errorf("an address with a line break: %v", err)
	}
}

func TestSMTPNonASCIIAndInjectedHeaders(t *testing.T) {
	t.Parallel()
	mp := startMailpit(t)
	s := newSender(t, mp.SMTPURL(), nil)
	m := testMessage("jörg@bücher.example")
	m.ToName = "Jörg Müller\r\nBcc: victim@example.com"
	m.FromName = "Acme\nX-Evil: 1"
	m.Subject = "Hello\r\nBcc: victim@example.com"
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	// The domain is written in ASCII (IDNA); the local part with SMTPUTF8.
	got := waitFor(t, mp, "jörg@xn--bcher-kva.example")
	if got.To[0].Name != "Jörg Müller Bcc: victim@example.com" || len(got.Bcc) != 0 {
		t.Errorf("To %+v, Bcc %+v", got.To, got.Bcc)
	}
	if got.Subject != "Hello Bcc: victim@example.com" || got.From.Name != "Acme X-Evil: 1" {
		t.Errorf("subject %q, from %q", got.Subject, got.From.Name)
	}
	for h := range got.Headers {
		if strings.EqualFold(h, "Bcc") || strings.EqualFold(h, "X-Evil") {
			t.Errorf("an injected header arrived: %s", h)
		}
	}
	if ms, _ := mp.To("victim@example.com"); len(ms) != 0 {
		t.Errorf("the injected recipient got %d messages", len(ms))
	}
}

// testCert writes a self-signed certificate for 127.0.0.1 and localhost
// (cert.pem, key.pem) and returns its folder and a pool trusting it.
func testCert(t *testing.T) (string, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "partli test SMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return dir, pool
}
