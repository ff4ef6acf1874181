package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/validator"
)

// body is a decoded JSON object whose fields are read one by one, so that a
// wrong type is reported against its field name, all fields at once.
type body struct {
	raw  map[string]json.RawMessage
	errs Fields
}

// readBody checks the content type and decodes a JSON object.
func readBody(c echo.Context) (*body, error) {
	ct := c.Request().Header.Get(echo.HeaderContentType)
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		return nil, &APIError{Status: http.StatusUnsupportedMediaType, Code: "unsupported_media_type",
			Message: "Send the body as JSON with Content-Type: application/json."}
	}
	data, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var httpErr *echo.HTTPError
		if errors.As(err, &httpErr) {
			return nil, httpErr
		}
		return nil, &APIError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The request body could not be read."}
	}
	return parseBody(data)
}

func parseBody(data []byte) (*body, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 || data[0] != '{' {
		return nil, &APIError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The request body must be a JSON object."}
	}
	if p := scanBody(data); p != nil {
		if p.field == "" {
			return nil, &APIError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The request body's field names must be valid UTF-8 text."}
		}
		return nil, invalidField(p.field, p.msg)
	}
	b := &body{errs: Fields{}}
	if err := json.Unmarshal(data, &b.raw); err != nil {
		return nil, &APIError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The request body is not valid JSON: " + jsonProblem(err)}
	}
	return b, nil
}

func jsonProblem(err error) string {
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		return syn.Error() + " (at byte " + strconv.FormatInt(syn.Offset, 10) + ")."
	}
	return err.Error() + "."
}

// has reports whether name is present and not null.
func (b *body) has(name string) bool {
	v, ok := b.raw[name]
	return ok && string(v) != "null"
}

// present reports whether name is in the body at all (null included).
func (b *body) present(name string) bool {
	_, ok := b.raw[name]
	return ok
}

// str reads a string field; ok is false when absent, null or of another type.
func (b *body) str(name string) (string, bool) {
	if !b.has(name) {
		return "", false
	}
	var s string
	if err := json.Unmarshal(b.raw[name], &s); err != nil {
		b.errs.Add(name, "must be a string")
		return "", false
	}
	if strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
		b.errs.Add(name, "must be text without NUL characters")
		return "", false
	}
	return s, true
}

// int reads an integer field, reporting fractions and out-of-range numbers.
func (b *body) int(name string, min, max int64) (int64, bool) {
	if !b.has(name) {
		return 0, false
	}
	raw := string(b.raw[name])
	if raw == "" || !(raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9')) {
		b.errs.Add(name, "must be an integer")
		return 0, false
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil {
		var numErr *strconv.NumError
		f, ferr := strconv.ParseFloat(raw, 64)
		switch {
		case errors.As(err, &numErr) && numErr.Err == strconv.ErrRange:
			b.errs.Add(name, rangeMsg(min, max)) // an integer too large for any amount
			return 0, false
		case ferr != nil || f != math.Trunc(f):
			b.errs.Add(name, "must be an integer")
			return 0, false
		case f < float64(min) || f > float64(max):
			b.errs.Add(name, rangeMsg(min, max))
			return 0, false
		}
		n = int64(f) // an integer written with an exponent, such as 1e3
	}
	if n < min || n > max {
		b.errs.Add(name, rangeMsg(min, max))
		return 0, false
	}
	return n, true
}

func rangeMsg(min, max int64) string {
	return "must be between " + strconv.FormatInt(min, 10) + " and " + strconv.FormatInt(max, 10)
}

// boolean reads a true/false field.
func (b *body) boolean(name string) (bool, bool) {
	if !b.has(name) {
		return false, false
	}
	var v bool
	if err := json.Unmarshal(b.raw[name], &v); err != nil {
		b.errs.Add(name, "must be true or false")
		return false, false
	}
	return v, true
}

// object reads a JSON object field of at most maxBytes, returned compacted.
func (b *body) object(name string, maxBytes int) (json.RawMessage, bool) {
	if !b.has(name) {
		return nil, false
	}
	raw := bytes.TrimSpace(b.raw[name])
	if len(raw) == 0 || raw[0] != '{' {
		b.errs.Add(name, "must be a JSON object")
		return nil, false
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.errs.Add(name, "must be a JSON object")
		return nil, false
	}
	if bytes.Contains(buf.Bytes(), []byte(`\u0000`)) {
		b.errs.Add(name, "must not contain NUL characters")
		return nil, false
	}
	if buf.Len() > maxBytes {
		b.errs.Add(name, "must be at most "+strconv.Itoa(maxBytes)+" bytes of JSON")
		return nil, false
	}
	return buf.Bytes(), true
}

// text reads a string field and checks its length in characters; required
// fields report "is required" when absent or empty.
func (b *body) text(name string, required bool, maxLen int) (string, bool) {
	s, ok := b.str(name)
	if !ok {
		if required && !b.has(name) {
			b.errs.Add(name, "is required")
		}
		return "", false
	}
	s = strings.TrimSpace(s)
	switch validator.Text(s, required, maxLen) {
	case validator.CodeMissing:
		b.errs.Add(name, "is required")
		return "", false
	case validator.CodeTooLong:
		b.errs.Add(name, "must be at most "+strconv.Itoa(maxLen)+" characters")
		return "", false
	}
	return s, true
}

// timestamp reads an RFC 3339 time field, refusing implausible ones (plausibleTime).
func (b *body) timestamp(name string) (time.Time, bool) {
	s, ok := b.str(name)
	if !ok {
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		b.errs.Add(name, "must be an RFC 3339 time such as 2026-01-02T15:04:05Z")
		return time.Time{}, false
	}
	if msg := plausibleTime(t, time.Now()); msg != "" {
		b.errs.Add(name, msg)
		return time.Time{}, false
	}
	return t.UTC(), true
}

// Times Partli takes are between earliestTime and latestAhead from now: a
// sale of year 0 or 9999 is a client's bug, and one the database would
// store and sort among the rest.
var earliestTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

const latestAhead = 5 * 365 * 24 * time.Hour

// plausibleTime says what is wrong with t as an input time, "" when nothing.
func plausibleTime(t, now time.Time) string {
	if t.Before(earliestTime) || t.After(now.Add(latestAhead)) {
		return "must be a time between 2000-01-01 and 5 years from now"
	}
	return ""
}

// err returns the collected validation error, if any.
func (b *body) err() error { return b.errs.Err() }
