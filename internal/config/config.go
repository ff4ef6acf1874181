// Package config reads Partli's settings from the environment, once, in main.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/partli/partli/internal/secret"
)

// Config is every setting Partli reads. The table in README.md lists them.
type Config struct {
	DatabaseURL   string        // DATABASE_URL
	Addr          string        // PARTLI_ADDR, default ":8080"
	BaseURL       string        // PARTLI_BASE_URL, default "http://localhost:8080"
	SessionSecret string        // PARTLI_SESSION_SECRET: dashboard cookies and the click IP salt
	Env           string        // PARTLI_ENV: "production" (default) or "development"
	TrustProxy    bool          // PARTLI_TRUST_PROXY: take the client IP from X-Forwarded-For
	ApproveEvery  time.Duration // PARTLI_AUTO_APPROVE_INTERVAL, default 1m
	PayoutEvery   time.Duration // PARTLI_PAYOUT_INTERVAL, default 1m: scheduled payouts, and asking Stripe again about unanswered transfers
	TrackRate     float64       // PARTLI_TRACK_RATE_LIMIT: requests/s per API key on /api/track/*, default 5000
	ClickRate     float64       // PARTLI_CLICK_RATE_LIMIT: requests/s per client IP on /api/track/click, default 20
	SignInLimit   int           // PARTLI_SIGNIN_LIMIT: password attempts per client IP per 10 minutes, default DefaultSignInLimit (0 means the default)
	DBMaxConns    int           // PARTLI_DB_MAX_CONNS, default 20
	DebugAddr     string        // PARTLI_DEBUG_ADDR: loopback address serving net/http/pprof; empty: off
	MetricsAddr   string        // PARTLI_METRICS_ADDR: loopback or private address serving GET /metrics; empty: off
	// ClickRetentionDays is PARTLI_CLICK_RETENTION_DAYS: clicks older than
	// this many days are dropped by month; 0 keeps them all.
	ClickRetentionDays int

	WebhookAllowPrivate bool // PARTLI_WEBHOOK_ALLOW_PRIVATE

	// SMTPURL (PARTLI_SMTP_URL) is the server mail goes through:
	// smtp://[user:pass@]host[:port] (STARTTLS when offered) or smtps://…
	// (implicit TLS). Empty: mail is kept unsent in the outbox.
	SMTPURL string
	// MailFrom (PARTLI_MAIL_FROM, default "Partli <partli@localhost>") is
	// the sender of every mail; mail about a program shows the program's
	// name instead of this display name.
	MailFrom *mail.Address

	// SecretKeys seal the secrets Partli stores (webhook and Stripe signing
	// secrets): PARTLI_ENCRYPTION_KEY, and PARTLI_ENCRYPTION_KEY_PREVIOUS
	// during a rotation (it opens, never seals). nil when unset: then no
	// secret can be stored, and serve refuses to start once one is.
	SecretKeys *secret.Keys

	// StripeConnectWebhookSecret (PARTLI_STRIPE_CONNECT_WEBHOOK_SECRET) verifies
	// the platform's Connect events at POST /api/stripe/webhook; empty refuses them.
	StripeConnectWebhookSecret string

	// Stripe Connect OAuth, for merchants who connect their Stripe account
	// from the dashboard. Without a client id the dashboard explains that
	// the operator must set it up.
	StripeClientID    string // PARTLI_STRIPE_CLIENT_ID: the platform's ca_…
	StripeSecretKey   string // PARTLI_STRIPE_SECRET_KEY: the platform's secret key
	StripeConnectBase string // PARTLI_STRIPE_CONNECT_BASE, default https://connect.stripe.com (authorize, token, deauthorize)
	StripeAPIBase     string // PARTLI_STRIPE_API_BASE, default https://api.stripe.com
}

// DefaultSignInLimit is PARTLI_SIGNIN_LIMIT's default: 20 password attempts
// per client address per 10 minutes, plenty for people who mistype, few
// for a script (one attempt every 30 seconds once spent).
const DefaultSignInLimit = 20

// FromEnv reads the environment. It fails on values it cannot parse, naming them.
func FromEnv() (Config, error) {
	c := Config{
		DatabaseURL:   os.Getenv("DATABASE_URL"),
		Addr:          envOr("PARTLI_ADDR", ":8080"),
		BaseURL:       strings.TrimRight(envOr("PARTLI_BASE_URL", "http://localhost:8080"), "/"),
		SessionSecret: os.Getenv("PARTLI_SESSION_SECRET"),
		Env:           envOr("PARTLI_ENV", "production"),
		DebugAddr:     os.Getenv("PARTLI_DEBUG_ADDR"),
		MetricsAddr:   os.Getenv("PARTLI_METRICS_ADDR"),
		SMTPURL:       os.Getenv("PARTLI_SMTP_URL"),

		StripeConnectWebhookSecret: os.Getenv("PARTLI_STRIPE_CONNECT_WEBHOOK_SECRET"),
		StripeClientID:             os.Getenv("PARTLI_STRIPE_CLIENT_ID"),
		StripeSecretKey:            os.Getenv("PARTLI_STRIPE_SECRET_KEY"),
		StripeConnectBase:          strings.TrimRight(envOr("PARTLI_STRIPE_CONNECT_BASE", "https://connect.stripe.com"), "/"),
		StripeAPIBase:              strings.TrimRight(envOr("PARTLI_STRIPE_API_BASE", "https://api.stripe.com"), "/"),
	}
	var errs []string
	parse := func(name string, set func(string) error) {
		if v := os.Getenv(name); v != "" {
			if err := set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	}
	c.ApproveEvery, c.PayoutEvery, c.TrackRate, c.ClickRate, c.DBMaxConns, c.SignInLimit = time.Minute, time.Minute, 5000, 20, 20, DefaultSignInLimit
	parse("PARTLI_TRUST_PROXY", func(v string) (err error) { c.TrustProxy, err = strconv.ParseBool(v); return })
	parse("PARTLI_WEBHOOK_ALLOW_PRIVATE", func(v string) (err error) { c.WebhookAllowPrivate, err = strconv.ParseBool(v); return })
	parse("PARTLI_AUTO_APPROVE_INTERVAL", func(v string) (err error) { c.ApproveEvery, err = time.ParseDuration(v); return })
	parse("PARTLI_PAYOUT_INTERVAL", func(v string) (err error) { c.PayoutEvery, err = time.ParseDuration(v); return })
	parse("PARTLI_TRACK_RATE_LIMIT", func(v string) (err error) { c.TrackRate, err = strconv.ParseFloat(v, 64); return })
	parse("PARTLI_CLICK_RATE_LIMIT", func(v string) (err error) { c.ClickRate, err = strconv.ParseFloat(v, 64); return })
	parse("PARTLI_DB_MAX_CONNS", func(v string) (err error) { c.DBMaxConns, err = strconv.Atoi(v); return })
	parse("PARTLI_SIGNIN_LIMIT", func(v string) (err error) { c.SignInLimit, err = strconv.Atoi(v); return })
	parse("PARTLI_CLICK_RETENTION_DAYS", func(v string) (err error) {
		if c.ClickRetentionDays, err = strconv.Atoi(v); err == nil && c.ClickRetentionDays < 0 {
			err = fmt.Errorf("must be 0 (keep every click) or a number of days")
		}
		return
	})
	for _, base := range [][2]string{{"PARTLI_BASE_URL", c.BaseURL}, {"PARTLI_STRIPE_CONNECT_BASE", c.StripeConnectBase}, {"PARTLI_STRIPE_API_BASE", c.StripeAPIBase}} {
		if u, err := url.Parse(base[1]); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Sprintf("%s=%q: must be an http(s) origin", base[0], base[1]))
		}
	}
	if err := c.readMail(); err != nil {
		errs = append(errs, err.Error())
	}
	if err := c.readSecretKeys(); err != nil {
		errs = append(errs, err.Error())
	}
	if (c.StripeClientID == "") != (c.StripeSecretKey == "") {
		errs = append(errs, "PARTLI_STRIPE_CLIENT_ID and PARTLI_STRIPE_SECRET_KEY must be set together (Stripe Connect needs both)")
	}
	if c.MetricsAddr != "" && !privateAddr(c.MetricsAddr) {
		errs = append(errs, fmt.Sprintf("PARTLI_METRICS_ADDR=%q: must be a loopback or private host:port such as 127.0.0.1:9090 or 10.0.0.5:9090 (not a public address)", c.MetricsAddr))
	}
	if c.DebugAddr != "" && !loopback(c.DebugAddr) {
		errs = append(errs, fmt.Sprintf("PARTLI_DEBUG_ADDR=%q: must be a loopback host:port such as 127.0.0.1:6060 (profiles expose the process)", c.DebugAddr))
	}
	if c.Env != "production" && c.Env != "development" {
		errs = append(errs, fmt.Sprintf("PARTLI_ENV=%q: must be production or development", c.Env))
	}
	if c.ApproveEvery <= 0 || c.PayoutEvery <= 0 || c.TrackRate <= 0 || c.ClickRate <= 0 || c.DBMaxConns <= 0 || c.SignInLimit <= 0 {
		errs = append(errs, "intervals, rate limits, PARTLI_SIGNIN_LIMIT and PARTLI_DB_MAX_CONNS must be positive")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// DefaultMailFrom is PARTLI_MAIL_FROM's default.
const DefaultMailFrom = "Partli <partli@localhost>"

// readMail reads PARTLI_SMTP_URL (its form; the mail sender checks the
// rest at start) and PARTLI_MAIL_FROM. The URL may hold a password: errors
// never quote it.
func (c *Config) readMail() error {
	from := envOr("PARTLI_MAIL_FROM", DefaultMailFrom)
	a, err := mail.ParseAddress(from)
	if err != nil || strings.ContainsAny(from, "\r\n") {
		return fmt.Errorf("PARTLI_MAIL_FROM=%q: must be an address such as Partli <partli@example.com>", from)
	}
	c.MailFrom = a
	if c.SMTPURL == "" {
		return nil
	}
	u, err := url.Parse(c.SMTPURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
		return errors.New("PARTLI_SMTP_URL: must be smtp://[user:pass@]host[:port] (STARTTLS when the server offers it) or smtps://… (implicit TLS)")
	}
	return nil
}

// readSecretKeys reads PARTLI_ENCRYPTION_KEY and PARTLI_ENCRYPTION_KEY_PREVIOUS.
// The values are keys: errors never quote them.
func (c *Config) readSecretKeys() error {
	cur, prev := os.Getenv("PARTLI_ENCRYPTION_KEY"), os.Getenv("PARTLI_ENCRYPTION_KEY_PREVIOUS")
	if cur == "" {
		if prev != "" {
			return errors.New("PARTLI_ENCRYPTION_KEY_PREVIOUS is set without PARTLI_ENCRYPTION_KEY (the previous key only opens; the current one seals)")
		}
		return nil
	}
	current, err := secret.ParseKey(cur)
	if err != nil {
		return fmt.Errorf("PARTLI_ENCRYPTION_KEY %v", err)
	}
	var previous []byte
	if prev != "" {
		if previous, err = secret.ParseKey(prev); err != nil {
			return fmt.Errorf("PARTLI_ENCRYPTION_KEY_PREVIOUS %v", err)
		}
	}
	if c.SecretKeys, err = secret.New(current, previous); err != nil {
		return fmt.Errorf("PARTLI_ENCRYPTION_KEY: %v", err)
	}
	return nil
}

// SecureCookies reports whether cookies must be marked Secure (served over https).
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// loopback reports whether addr is host:port with a loopback host.
func loopback(addr string) bool {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// privateAddr reports whether addr is host:port on a loopback or private
// (RFC 1918, RFC 4193) address.
func privateAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}
