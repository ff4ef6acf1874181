package web

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/partli/partli/internal/apispec"
)

// staticHandler serves embedded assets; URLs carry a content hash (?v=), so
// they may be cached for a long time.
func staticHandler(files fs.FS) http.Handler {
	h := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		h.ServeHTTP(w, r)
	})
}

// Health answers 200 when the database answers, 503 when it does not.
func (s *Server) Health(c echo.Context) error {
	if err := s.store.DB().PingContext(c.Request().Context()); err != nil {
		return &APIError{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: "The database is unreachable."}
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

// OpenAPI serves the API description.
func (s *Server) OpenAPI(c echo.Context) error {
	doc, err := apispec.JSON()
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, doc)
}

// rateLimit allows ratePerSec requests per identifier (burst: one second's
// worth) and answers 429 with Retry-After beyond it.
func (s *Server) rateLimit(ratePerSec float64, identify func(echo.Context) string) echo.MiddlewareFunc {
	burst := int(ratePerSec)
	if burst < 1 {
		burst = 1
	}
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(ratePerSec), Burst: burst, ExpiresIn: 5 * time.Minute,
	})
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store:               store,
		IdentifierExtractor: func(c echo.Context) (string, error) { return identify(c), nil },
		DenyHandler: func(c echo.Context, _ string, _ error) error {
			c.Response().Header().Set("Retry-After", "1")
			return &APIError{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: "Too many requests; retry after the time in Retry-After."}
		},
		ErrorHandler: func(c echo.Context, err error) error { return err },
	})
}

// compactJSON is stored JSON as pages show it: compact, never indented.
// Indenting multiplies the size of nested values (each level adds a line
// and its indentation), so a page showing input could grow without bound.
func compactJSON(raw []byte) string {
	var buf bytes.Buffer
	if json.Compact(&buf, raw) != nil {
		return string(raw)
	}
	return buf.String()
}
