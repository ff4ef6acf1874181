// Package config reads Partli's settings from the environment, once, in main.
package config

import (
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
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
	TrackRate     float64       // PARTLI_TRACK_RATE_LIMIT: requests/s per API key on /api/track/*, default 5000
	ClickRate     float64       // PARTLI_CLICK_RATE_LIMIT: requests/s per client IP on /api/track/click, default 20
	DBMaxConns    int           // PARTLI_DB_MAX_CONNS, default 20

	WebhookAllowPrivate bool // PARTLI_WEBHOOK_ALLOW_PRIVATE

	// StripeConnectWebhookSecret (PARTLI_STRIPE_CONNECT_WEBHOOK_SECRET) verifies
	// the platform's Connect events at POST /api/stripe/webhook; empty refuses them.
	StripeConnectWebhookSecret string
}

// FromEnv reads the environment. It fails on values it cannot parse, naming them.
func FromEnv() (Config, error) {
	c := Config{
		DatabaseURL:   os.Getenv("DATABASE_URL"),
		Addr:          envOr("PARTLI_ADDR", ":8080"),
		BaseURL:       strings.TrimRight(envOr("PARTLI_BASE_URL", "http://localhost:8080"), "/"),
		SessionSecret: os.Getenv("PARTLI_SESSION_SECRET"),
		Env:           envOr("PARTLI_ENV", "production"),

		StripeConnectWebhookSecret: os.Getenv("PARTLI_STRIPE_CONNECT_WEBHOOK_SECRET"),
	}
	var errs []string
	parse := func(name string, set func(string) error) {
		if v := os.Getenv(name); v != "" {
			if err := set(v); err != nil {
				errs = append(errs, fmt.Sprintf("%s=%q: %v", name, v, err))
			}
		}
	}
	c.ApproveEvery, c.TrackRate, c.ClickRate, c.DBMaxConns = time.Minute, 5000, 20, 20
	parse("PARTLI_TRUST_PROXY", func(v string) (err error) { c.TrustProxy, err = strconv.ParseBool(v); return })
	parse("PARTLI_WEBHOOK_ALLOW_PRIVATE", func(v string) (err error) { c.WebhookAllowPrivate, err = strconv.ParseBool(v); return })
	parse("PARTLI_AUTO_APPROVE_INTERVAL", func(v string) (err error) { c.ApproveEvery, err = time.ParseDuration(v); return })
	parse("PARTLI_TRACK_RATE_LIMIT", func(v string) (err error) { c.TrackRate, err = strconv.ParseFloat(v, 64); return })
	parse("PARTLI_CLICK_RATE_LIMIT", func(v string) (err error) { c.ClickRate, err = strconv.ParseFloat(v, 64); return })
	parse("PARTLI_DB_MAX_CONNS", func(v string) (err error) { c.DBMaxConns, err = strconv.Atoi(v); return })
	if u, err := url.Parse(c.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Sprintf("PARTLI_BASE_URL=%q: must be an http(s) origin", c.BaseURL))
	}
	if c.Env != "production" && c.Env != "development" {
		errs = append(errs, fmt.Sprintf("PARTLI_ENV=%q: must be production or development", c.Env))
	}
	if c.ApproveEvery <= 0 || c.TrackRate <= 0 || c.ClickRate <= 0 || c.DBMaxConns <= 0 {
		errs = append(errs, "intervals, rate limits and PARTLI_DB_MAX_CONNS must be positive")
	}
	if len(errs) > 0 {
		return c, fmt.Errorf("config: %s", strings.Join(errs, "; "))
	}
	return c, nil
}

// SecureCookies reports whether cookies must be marked Secure (served over https).
func (c Config) SecureCookies() bool { return strings.HasPrefix(c.BaseURL, "https://") }

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
