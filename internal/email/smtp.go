package email

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
	"golang.org/x/net/idna"
)

// Sender sends one message and returns its Message-ID. An error that
// IsPermanent will fail the same way however often it is tried (the server
// refused the recipient or the message); any other is retried.
type Sender interface {
	Send(ctx context.Context, m *Message) (string, error)
}

// PermanentError is a refusal that a retry cannot change.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// IsPermanent reports whether err is a PermanentError.
func IsPermanent(err error) bool {
	var p *PermanentError
	return errors.As(err, &p)
}

// SMTP sends through one SMTP server, given as PARTLI_SMTP_URL:
// smtp://[user:pass@]host[:port] (port 25 by default; STARTTLS whenever the
// server offers it) or smtps://… (implicit TLS, port 465 by default). The
// user name and password, when given, authenticate (the strongest
// mechanism the server offers; ?auth=plain, login, cram-md5, scram-sha-1 or
// scram-sha-256 picks one, and plain-noenc or login-noenc allow a password
// over a connection without TLS). Each message takes one connection, with
// Timeout for each step of the conversation.
type SMTP struct {
	host     string
	port     int
	implicit bool
	user     string
	pass     string
	auth     gomail.SMTPAuthType
	from     *mail.Address
	helo     string
	timeout  time.Duration
	tls      *tls.Config
}

// SMTPOptions tune an SMTP sender; zero fields take the defaults named.
type SMTPOptions struct {
	Timeout time.Duration // each step (connect, a command, the data); 30 s
	// TLS replaces the TLS settings (the system's certificate roots, TLS
	// 1.2 at least); tests give their own roots.
	TLS *tls.Config
	// HELO is the name given to the server; "localhost".
	HELO string
}

var authTypes = map[string]gomail.SMTPAuthType{
	"plain": gomail.SMTPAuthPlain, "login": gomail.SMTPAuthLogin, "cram-md5": gomail.SMTPAuthCramMD5,
	"scram-sha-1": gomail.SMTPAuthSCRAMSHA1, "scram-sha-256": gomail.SMTPAuthSCRAMSHA256,
	"plain-noenc": gomail.SMTPAuthPlainNoEnc, "login-noenc": gomail.SMTPAuthLoginNoEnc,
}

// ParseSMTPURL checks PARTLI_SMTP_URL without connecting.
func ParseSMTPURL(raw string) error {
	_, err := NewSMTP(raw, &mail.Address{Address: "partli@localhost"}, SMTPOptions{})
	return err
}

// NewSMTP returns the sender of rawURL, mailing from from (whose display
// name each message may replace).
func NewSMTP(rawURL string, from *mail.Address, opts SMTPOptions) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("must be smtp://[user:pass@]host[:port] or smtps://…")
	}
	s := &SMTP{host: u.Hostname(), from: from, timeout: opts.Timeout, helo: opts.HELO, auth: gomail.SMTPAuthAutoDiscover}
	switch u.Scheme {
	case "smtp":
		s.port = 25
	case "smtps":
		s.port, s.implicit = 465, true
	default:
		return nil, errors.New("must start with smtp:// (STARTTLS when offered) or smtps:// (implicit TLS)")
	}
	if s.host == "" {
		return nil, errors.New("names no host")
	}
	if p := u.Port(); p != "" {
		if s.port, err = strconv.Atoi(p); err != nil || s.port < 1 || s.port > 65535 {
			return nil, errors.New("has a port that is not a number from 1 to 65535")
		}
	}
	if u.User != nil {
		s.user = u.User.Username()
		s.pass, _ = u.User.Password()
	}
	if a := u.Query().Get("auth"); a != "" {
		t, ok := authTypes[strings.ToLower(a)]
		if !ok {
			return nil, fmt.Errorf("?auth=%s is not one of plain, login, cram-md5, scram-sha-1, scram-sha-256, plain-noenc, login-noenc", a)
		}
		s.auth = t
	}
	if u.Path != "" && u.Path != "/" {
		return nil, errors.New("must not have a path")
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	if s.helo == "" {
		s.helo = "localhost"
	}
	s.tls = opts.TLS
	if s.tls == nil {
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s.tls = s.tls.Clone()
	if s.tls.ServerName == "" {
		s.tls.ServerName = s.host
	}
	return s, nil
}

// Describe names the server for logs, without the password.
func (s *SMTP) Describe() string {
	scheme := "smtp"
	if s.implicit {
		scheme = "smtps"
	}
	return scheme + "://" + net.JoinHostPort(s.host, strconv.Itoa(s.port))
}

// Send sends m in one SMTP conversation. Once the server has accepted the
// message, a failure to end the conversation politely is not an error: the
// message is on its way, and sending it again would duplicate it.
func (s *SMTP) Send(ctx context.Context, m *Message) (string, error) {
	msg, err := s.build(m)
	if err != nil {
		return "", &PermanentError{err}
	}
	opts := []gomail.Option{gomail.WithPort(s.port), gomail.WithTimeout(s.timeout), gomail.WithTLSConfig(s.tls),
		gomail.WithHELO(s.helo)}
	if s.implicit {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.user != "" {
		opts = append(opts, gomail.WithSMTPAuth(s.auth), gomail.WithUsername(s.user), gomail.WithPassword(s.pass))
	}
	c, err := gomail.NewClient(s.host, opts...)
	if err != nil {
		return "", fmt.Errorf("smtp: %w", err)
	}
	conn, err := c.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return "", fmt.Errorf("connecting to %s: %w", s.Describe(), err)
	}
	err = c.SendWithSMTPClient(conn, msg)
	_ = c.CloseWithSMTPClient(conn)
	if err != nil {
		return "", fmt.Errorf("sending through %s: %w", s.Describe(), classify(err, m.To))
	}
	return msg.GetMessageID(), nil
}

// classify marks the server's 5xx refusals of the recipient or of the
// message as permanent: they say the same however often they are asked.
// Anything else is worth another try: a 4xx, a connection lost, and what
// the operator can fix meanwhile (a refused sender or authentication, a
// certificate).
func classify(err error, to string) error {
	var se *gomail.SendError
	if !errors.As(err, &se) {
		return err
	}
	code := se.ErrorCode()
	permanent := code >= 500 && code < 600 &&
		(se.Reason == gomail.ErrSMTPRcptTo || se.Reason == gomail.ErrSMTPData || se.Reason == gomail.ErrSMTPDataClose)
	if !permanent {
		return err
	}
	if local, _, _ := strings.Cut(to, "@"); !isASCII(local) {
		err = fmt.Errorf("%w (the address has characters outside ASCII before the @, which the server must accept with SMTPUTF8)", err)
	}
	return &PermanentError{err}
}

// build makes the MIME message: From, To, Subject, Message-ID, Date, the
// one-click unsubscribe headers of RFC 8058, and a plain-text part with its
// HTML alternative. Compose already made the subject and names one line
// each; the addresses are checked again here, and their domains written in
// ASCII (IDNA).
func (s *SMTP) build(m *Message) (*gomail.Msg, error) {
	to, err := asciiAddress(m.To)
	if err != nil {
		return nil, err
	}
	from, err := asciiAddress(s.from.Address)
	if err != nil {
		return nil, fmt.Errorf("PARTLI_MAIL_FROM: %w", err)
	}
	fromName := s.from.Name
	if m.FromName != "" {
		fromName = m.FromName
	}
	msg := gomail.NewMsg()
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderFrom, &mail.Address{Name: oneLine(fromName, maxName), Address: from})
	msg.SetAddrHeaderFromMailAddress(gomail.HeaderTo, &mail.Address{Name: oneLine(m.ToName, maxName), Address: to})
	msg.Subject(oneLine(m.Subject, maxSubject))
	_, domain, _ := strings.Cut(from, "@")
	msg.SetMessageIDWithValue(m.ID + "@" + domain)
	msg.SetDate()
	if m.Unsubscribe != "" {
		msg.SetGenHeader("List-Unsubscribe", "<"+m.Unsubscribe+">")
		msg.SetGenHeader("List-Unsubscribe-Post", "List-Unsubscribe=One-Click")
	}
	msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	return msg, nil
}

// asciiAddress checks an address and writes its domain in ASCII (IDNA:
// jörg@bücher.example → jörg@xn--bcher-kva.example); the local part stays
// as it is (the server needs SMTPUTF8 for one outside ASCII).
func asciiAddress(addr string) (string, error) {
	if strings.ContainsAny(addr, "\r\n") {
		return "", fmt.Errorf("the address %q holds a line break", addr)
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" {
		return "", fmt.Errorf("%q is not an email address", addr)
	}
	local, domain, ok := strings.Cut(a.Address, "@")
	if !ok {
		return "", fmt.Errorf("%q is not an email address", addr)
	}
	d, err := idna.Lookup.ToASCII(domain)
	if err != nil {
		return "", fmt.Errorf("the domain of %q is not a valid international domain name: %v", addr, err)
	}
	return local + "@" + d, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
