package web

import (
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/store"
)

// Lists are keyset-paginated: a page link carries the cursor of the list's
// next page (?cursor=, or its own name when a page has several lists), and
// the API also takes ?limit=. readPage is the one reader of both, with one
// wording of a value it refuses, for the API (in error.fields) and the pages
// (in the message, which names the parameter) alike.

const (
	apiPageLimit = 50  // the API's page size without ?limit=
	maxPageLimit = 200 // the largest ?limit=
)

const (
	badLimit  = "must be an integer between 1 and 200"
	badCursor = "is not a page cursor Partli made (the link is out of date or damaged); start again from the first page"
)

// readPage reads one list's page from the query: the cursor from the
// parameter cursorParam and, when limitParam is not "", the page size from
// it (size when absent). A refused value is a 400 naming the parameter.
func readPage(c echo.Context, cursorParam, limitParam string, size int) (store.Page, error) {
	p := store.Page{Limit: size}
	f := Fields{}
	if v := c.QueryParam(limitParam); limitParam != "" && v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			f.Add(limitParam, badLimit)
		}
		p.Limit = n
	}
	if v := c.QueryParam(cursorParam); v != "" {
		cur, err := store.DecodeCursor(v)
		if err != nil {
			f.Add(cursorParam, badCursor)
		}
		p.Cursor = cur
	}
	return p, pageParamsError(f)
}

// cursorPage is the page of size after the cursor value of the parameter
// param (the first page for ""), for a cursor read from elsewhere than the
// query (a form).
func cursorPage(param, value string, size int) (store.Page, error) {
	p := store.Page{Limit: size}
	if value == "" {
		return p, nil
	}
	cur, err := store.DecodeCursor(value)
	if err != nil {
		return p, badPageParam(param)
	}
	p.Cursor = cur
	return p, nil
}

// pageParamsError is the 400 of refused page parameters (nil for none): its
// fields for the API, its message, naming each parameter, for a page.
func pageParamsError(f Fields) error {
	if len(f) == 0 {
		return nil
	}
	names := make([]string, 0, len(f))
	for k := range f {
		names = append(names, k)
	}
	sort.Strings(names)
	msg := make([]string, len(names))
	for i, k := range names {
		msg[i] = "The page parameter " + k + " " + f[k] + "."
	}
	return &APIError{Status: http.StatusBadRequest, Code: "validation_failed", Message: strings.Join(msg, " "), Fields: f}
}

// badPageParam is the 400 of a page parameter (a cursor of another kind)
// that is not one Partli made.
func badPageParam(param string) error { return pageParamsError(Fields{param: badCursor}) }

// pageOf reads the API's ?limit= and ?cursor=.
func pageOf(c echo.Context) (store.Page, error) { return readPage(c, "cursor", "limit", apiPageLimit) }

// queryPage reads a dashboard list's cursor from the query parameter param;
// its page size is the list's own.
func queryPage(c echo.Context, param string, size int) (store.Page, error) {
	return readPage(c, param, "", size)
}
