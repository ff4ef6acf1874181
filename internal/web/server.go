// Package web is Partli's HTTP surface: one echo app serving the API, the
// referral redirect, the dashboard and the partner portal.
package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"log/slog"
	"time"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/partli/partli/internal/codes"
	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/config"
	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/metrics"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
	"github.com/partli/partli/internal/tracking"
)

// MaxBodyBytes is the largest request body accepted.
const MaxBodyBytes = 64 << 10

// Server holds what the handlers need.
type Server struct {
	cfg         config.Config
	store       *store.Store
	tracking    *tracking.Service
	commissions *commission.Service
	log         *slog.Logger
	ipSalt      []byte
	keys        *keyCache
	csrfKey     []byte
	flows       *sessions.CookieStore
	connector   *stripe.Connector
	// passwordAttempts bounds password attempts per client address on
	// every form that checks or sets a password, or mails a link that does.
	passwordAttempts *attemptLimiter
	// metrics counts requests for GET /metrics; nil when off.
	metrics *metrics.Metrics
	payouts *payout.Service
	// links makes the addresses mails point at and their tokens.
	links email.Links
	codes *codes.Service
}

// Option configures New.
type Option func(*Server)

// WithMetrics records every request in m (PARTLI_METRICS_ADDR).
func WithMetrics(m *metrics.Metrics) Option { return func(s *Server) { s.metrics = m } }

// New builds the echo app with every route.
func New(cfg config.Config, st *store.Store, log *slog.Logger, opts ...Option) *echo.Echo {
	salt := sha256.Sum256([]byte("partli click ip salt\x00" + cfg.SessionSecret))
	s := &Server{
		cfg:         cfg,
		store:       st,
		tracking:    tracking.New(st),
		commissions: commission.New(st),
		log:         log,
		ipSalt:      salt[:],
		keys:        newKeyCache(),
		flows:       newFlowStore(cfg.SessionSecret, cfg.SecureCookies()),
		csrfKey:     csrfKeyFrom(cfg.SessionSecret),

		passwordAttempts: newAttemptLimiter(cmp.Or(cfg.SignInLimit, config.DefaultSignInLimit), signInWindow),
		links:            email.NewLinks(cfg.BaseURL, cfg.SessionSecret),
	}
	for _, o := range opts {
		o(s)
	}
	s.connector = newStripeConnector(s)
	s.payouts = NewPayouts(cfg, st, s.commissions, log)
	s.codes = NewCodes(cfg, st, log)
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	if cfg.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	} else {
		e.IPExtractor = echo.ExtractIPDirect()
	}
	e.Use(middleware.RequestID())
	e.Use(securityHeaders)
	e.Use(s.logRequests())
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{DisableStackAll: true, DisablePrintStack: true,
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			log.Error("panic", "request_id", requestID(c), "err", err, "stack", string(stack))
			return err
		}}))
	e.Use(middleware.BodyLimit("64K"))
	e.Use(s.requestTimeout(30 * time.Second))
	s.routes(e) // routes.go
	return e
}

// NewPayouts is the payout service of an installation (the server's, and
// the worker's of partli serve): Stripe at PARTLI_STRIPE_API_BASE with the
// workspaces' keys, else PARTLI_STRIPE_SECRET_KEY.
func NewPayouts(cfg config.Config, st *store.Store, cs *commission.Service, log *slog.Logger) *payout.Service {
	return payout.New(st, cs, payout.Config{StripeSecretKey: cfg.StripeSecretKey, BaseURL: cfg.BaseURL,
		Stripe: stripe.NewPayments(stripe.PaymentsConfig{APIBase: cfg.StripeAPIBase})}, log)
}

func requestID(c echo.Context) string { return c.Response().Header().Get(echo.HeaderXRequestID) }

// contentSecurityPolicy is sent with every reply. It keeps pages out of
// frames (clickjacking), <base> and forms on this origin, and plugins out.
// Scripts and styles are not restricted by it: the views still use inline
// handlers (onclick, onsubmit="return confirm(…)", hx-on) and htmx adds
// its indicator style inline; a script-src without 'unsafe-inline' needs
// those moved into a script file first.
const contentSecurityPolicy = "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"

// securityHeaders go on every reply, pages, API and assets alike: no MIME
// sniffing and no framing. Nothing here limits who may load an asset, so
// partli.js still loads on merchants' sites.
func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		return next(c)
	}
}

// logRequests writes one slog line per request: id, method, route, status, latency.
// No query strings (they may carry click ids) and no client IPs.
func (s *Server) logRequests() echo.MiddlewareFunc {
	return middleware.RequestLoggerWithConfig(middleware.RequestLoggerConfig{
		LogStatus: true, LogLatency: true, LogMethod: true, LogRoutePath: true, LogRequestID: true, LogError: true,
		HandleError: true,
		LogValuesFunc: func(c echo.Context, v middleware.RequestLoggerValues) error {
			level := slog.LevelInfo
			if v.Status >= 500 {
				level = slog.LevelError
			}
			route := v.RoutePath
			if route == "" {
				route = "unmatched"
			}
			s.metrics.Observe(route, v.Method, v.Status, v.Latency)
			s.log.LogAttrs(c.Request().Context(), level, "request",
				slog.String("request_id", v.RequestID), slog.String("method", v.Method),
				slog.String("route", v.RoutePath), slog.Int("status", v.Status),
				slog.Duration("latency", v.Latency))
			return nil
		},
	})
}

// requestTimeout bounds the time a request may wait on the database, so a
// database that hangs gives a 503 rather than a hung client.
func (s *Server) requestTimeout(d time.Duration) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ctx, cancel := context.WithTimeout(c.Request().Context(), d)
			defer cancel()
			c.SetRequest(c.Request().WithContext(ctx))
			return next(c)
		}
	}
}

// render writes a templ component, buffered so a failing template never
// sends half a page.
func (s *Server) render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	// Not the request's context: the error page is rendered after the
	// request's deadline middleware has cancelled it.
	if err := comp.Render(context.WithoutCancel(c.Request().Context()), &buf); err != nil {
		return err
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// list is the reply shape of every list endpoint.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"nextCursor"`
}

func newList[T any](rows []T, next *string) list[T] {
	if rows == nil {
		rows = []T{}
	}
	return list[T]{Data: rows, NextCursor: next}
}
