package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/secret"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages"
)

// APIError is an error with the API's JSON shape:
// {"error": {"code": …, "message": …, "fields": {…}}}.
type APIError struct {
	Status  int               `json:"-"`
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

func (e *APIError) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// Fields collects per-field validation messages.
type Fields map[string]string

// Add records msg for field unless the field already has one.
func (f Fields) Add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// Err returns a validation error when any field failed, else nil.
func (f Fields) Err() error {
	if len(f) == 0 {
		return nil
	}
	return &APIError{Status: http.StatusBadRequest, Code: "validation_failed", Message: "The request has invalid fields.", Fields: f}
}

func invalidField(field, msg string) error { return Fields{field: msg}.Err() }

func notFound(what string) error {
	return &APIError{Status: http.StatusNotFound, Code: "not_found", Message: "No such " + what + " in this workspace."}
}

func notFoundField(field, msg string) error {
	return &APIError{Status: http.StatusNotFound, Code: "not_found", Message: msg, Fields: map[string]string{field: msg}}
}

func conflict(field, msg string) error {
	e := &APIError{Status: http.StatusConflict, Code: "conflict", Message: msg}
	if field != "" {
		e.Fields = map[string]string{field: msg}
	}
	return e
}

// apiConflicts words the unique keys an API request can clash on: the
// field the clash is about and what to tell the caller. The dashboard's
// forms word them in formConflict, the portal's in portalConflict.
var apiConflicts = map[string]struct{ field, msg string }{
	store.ProgramSlugKey:  {"slug", "A program of this workspace already uses this slug."},
	store.GroupNameKey:    {"name", "This program already has a group with this name."},
	store.PartnerSlugKey:  {"slug", "This slug is taken; choose another."},
	store.PartnerEmailKey: {"email", "This email address is already a partner in this program."},
}

// apiConflict is the API's reply to a unique clash (a *store.ConflictError).
func apiConflict(err error) *APIError {
	if c, ok := apiConflicts[store.ConflictKey(err)]; ok {
		return conflict(c.field, c.msg).(*APIError)
	}
	return &APIError{Status: http.StatusConflict, Code: "conflict", Message: "This clashes with an existing resource."}
}

// errNoSuchGroup is a group id that names no group of the program (checkGroup).
var errNoSuchGroup = errors.New("web: no such group in this program")

// handleError is the one place errors become replies: JSON for /api and
// HTML pages elsewhere. Details of unexpected errors go to the log only.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	apiErr := s.classify(err, c)
	if apiErr.Status == http.StatusServiceUnavailable || apiErr.Status == http.StatusTooManyRequests {
		if c.Response().Header().Get("Retry-After") == "" {
			c.Response().Header().Set("Retry-After", "2")
		}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(apiErr.Status)
		return
	}
	if isAPI(c) {
		_ = c.JSON(apiErr.Status, map[string]*APIError{"error": apiErr})
		return
	}
	page := pages.Error(apiErr.Status, apiErr.Message)
	if u, ok := c.Get(userKey).(*store.User); ok && u != nil {
		// Inside the dashboard, with its navigation: the way on is one click.
		err = s.page(c, apiErr.Status, s.meta(c, statusTitle(apiErr.Status), ""), pages.ErrorContent(apiErr.Status, apiErr.Message))
	} else {
		err = s.render(c, apiErr.Status, page)
	}
	if err != nil {
		s.log.Error("rendering the error page failed", "err", err)
	}
}

func statusTitle(status int) string {
	if t := http.StatusText(status); t != "" {
		return t
	}
	return "Error"
}

func isAPI(c echo.Context) bool { return strings.HasPrefix(c.Request().URL.Path, "/api/") }

func (s *Server) classify(err error, c echo.Context) *APIError {
	var apiErr *APIError
	var httpErr *echo.HTTPError
	switch {
	case errors.As(err, &apiErr):
		return apiErr
	case errors.Is(err, store.ErrNotFound):
		return &APIError{Status: http.StatusNotFound, Code: "not_found", Message: "No such resource in this workspace."}
	case errors.Is(err, commission.ErrReasonRequired):
		return &APIError{Status: http.StatusBadRequest, Code: "validation_failed", Message: err.Error(),
			Fields: map[string]string{"reason": "is required to claw back a commission"}}
	case errors.Is(err, commission.ErrReferenceRequired):
		return &APIError{Status: http.StatusBadRequest, Code: "validation_failed", Message: "A reference is required to mark a payout paid.",
			Fields: map[string]string{"reference": "is required: the bank's or payment provider's reference of the payment"}}
	case errors.Is(err, commission.ErrPayoutTransition):
		return &APIError{Status: http.StatusConflict, Code: "invalid_transition", Message: capitalize(payout.Explain(err)) + "."}
	case payout.IsRefusal(err):
		return &APIError{Status: http.StatusConflict, Code: "conflict", Message: capitalize(payout.Explain(err)) + "."}
	case errors.Is(err, commission.ErrInvalidTransition):
		return &APIError{Status: http.StatusConflict, Code: "invalid_transition", Message: capitalize(err.Error()) + "."}
	case errors.Is(err, store.ErrConflict):
		return apiConflict(err)
	case errors.Is(err, errNoSuchGroup):
		return notFoundField("groupId", "No such group in this program.").(*APIError)
	case errors.Is(err, secret.ErrNoKey):
		s.log.Warn("a secret cannot be stored without PARTLI_ENCRYPTION_KEY", "request_id", requestID(c))
		return &APIError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "This server cannot store secrets (webhook and Stripe signing secrets) until its operator sets PARTLI_ENCRYPTION_KEY."}
	case store.IsBadInput(err):
		return &APIError{Status: http.StatusBadRequest, Code: "validation_failed",
			Message: "The request contains a value that cannot be stored (for example a NUL character or a number out of range)."}
	case store.IsUnavailable(err) || errors.Is(err, context.DeadlineExceeded):
		s.log.Warn("database unavailable", "request_id", requestID(c), "err", err)
		return &APIError{Status: http.StatusServiceUnavailable, Code: "unavailable",
			Message: "The service is temporarily unavailable; retry the request later."}
	case errors.As(err, &httpErr):
		return fromHTTPError(httpErr)
	}
	s.log.Error("request failed", "request_id", requestID(c), "method", c.Request().Method,
		"path", c.Path(), "err", err)
	return &APIError{Status: http.StatusInternalServerError, Code: "internal",
		Message: "Something went wrong on our side (request " + requestID(c) + ")."}
}

func fromHTTPError(e *echo.HTTPError) *APIError {
	msg := http.StatusText(e.Code)
	if m, ok := e.Message.(string); ok && m != "" {
		msg = m
	}
	code := map[int]string{
		http.StatusBadRequest:            "validation_failed",
		http.StatusUnauthorized:          "unauthorized",
		http.StatusForbidden:             "forbidden",
		http.StatusNotFound:              "not_found",
		http.StatusMethodNotAllowed:      "method_not_allowed",
		http.StatusConflict:              "conflict",
		http.StatusRequestEntityTooLarge: "payload_too_large",
		http.StatusUnsupportedMediaType:  "unsupported_media_type",
		http.StatusTooManyRequests:       "rate_limited",
		http.StatusServiceUnavailable:    "unavailable",
	}[e.Code]
	custom := msg != http.StatusText(e.Code)
	switch {
	case custom: // a handler's own words
	case e.Code == http.StatusNotFound:
		msg = "No such route."
	case e.Code == http.StatusRequestEntityTooLarge:
		msg = "The request body is larger than 64 KiB."
	case e.Code == http.StatusTooManyRequests:
		msg = "Too many requests; slow down and retry after the time in Retry-After."
	}
	if code == "" {
		code = "internal"
		if e.Code < 500 {
			code = "bad_request"
		}
	}
	return &APIError{Status: e.Code, Code: code, Message: msg}
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
