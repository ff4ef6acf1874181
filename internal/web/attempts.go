package web

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"
)

// signInWindow is the period PARTLI_SIGNIN_LIMIT counts over.
const signInWindow = 10 * time.Minute

// attemptLimiter bounds the attempts of each client address at a form that
// checks or sets a password: n per window, as a token bucket (n at once,
// then one more every window/n). It is in memory, per replica: behind N
// replicas a client gets up to N times n. The per-account lock
// (ClaimSignInAttempt) is what holds across replicas and addresses; this
// limit keeps one address from trying many accounts.
type attemptLimiter struct {
	mu      sync.Mutex
	every   rate.Limit
	n       int
	window  time.Duration
	clients map[string]*rate.Limiter
	swept   time.Time
}

func newAttemptLimiter(n int, window time.Duration) *attemptLimiter {
	return &attemptLimiter{every: rate.Every(window / time.Duration(n)), n: n, window: window,
		clients: map[string]*rate.Limiter{}}
}

// take spends one attempt of key at now; when none is left it reports how
// long until one is.
func (l *attemptLimiter) take(key string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) >= l.window {
		// A bucket left alone for a window is full again: forgetting it
		// changes nothing, and keeps the map as small as the recent clients.
		for k, lim := range l.clients {
			if lim.TokensAt(now) >= float64(l.n) {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	lim, ok := l.clients[key]
	if !ok {
		lim = rate.NewLimiter(l.every, l.n)
		l.clients[key] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// limitAttempts answers 429 with Retry-After once the client address has
// used up its attempts at l; each request it lets through is one attempt.
// Put it on the POST route of any form that checks or sets a password,
// before csrf: e.POST(path, handler, s.limitAttempts(s.passwordAttempts), s.csrf).
func (s *Server) limitAttempts(l *attemptLimiter) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ok, wait := l.take(clientAddress(c.RealIP()), time.Now())
			if !ok {
				secs := int(math.Ceil(wait.Seconds()))
				c.Response().Header().Set("Retry-After", strconv.Itoa(secs))
				return echo.NewHTTPError(http.StatusTooManyRequests, "Too many attempts from your network. Try again in "+inMinutes(wait)+".")
			}
			return next(c)
		}
	}
}

// clientAddress is the unit a client is counted by: its IPv4 address, or
// the /64 network of an IPv6 address (one host is given a whole /64).
func clientAddress(ip string) string {
	parsed := net.ParseIP(ip)
	if parsed == nil || parsed.To4() != nil {
		return ip
	}
	return parsed.Mask(net.CIDRMask(64, 128)).String()
}

// inMinutes words a wait in whole minutes, rounded up: "1 minute", "15 minutes".
func inMinutes(d time.Duration) string {
	m := int(math.Ceil(d.Minutes()))
	if m <= 1 {
		return "1 minute"
	}
	return strconv.Itoa(m) + " minutes"
}
