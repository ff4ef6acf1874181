package web

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

// overviewRanges are the overview's ready-made ranges, ending today (UTC)
// inclusive; "mtd" and "ytd" start on the first of the month or year.
var overviewRanges = []dashboard.RangeOption{
	{Key: "7d", Label: "Last 7 days"}, {Key: "30d", Label: "Last 30 days"}, {Key: "90d", Label: "Last 90 days"},
	{Key: "mtd", Label: "This month"}, {Key: "lm", Label: "Last month"}, {Key: "12m", Label: "Last 12 months"},
	{Key: "ytd", Label: "This year"},
}

// overviewRange turns ?range= or ?from=&to= (UTC days, both inclusive) into
// the store's query; the default is the last 30 days.
func overviewRange(c echo.Context, now time.Time) (dashboard.OverviewFilter, store.OverviewQuery, map[string]string) {
	f := dashboard.OverviewFilter{Range: c.QueryParam("range"), From: c.QueryParam("from"), To: c.QueryParam("to"),
		ProgramID: c.QueryParam("programId"), Ranges: overviewRanges}
	errs := map[string]string{}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	q := store.OverviewQuery{ProgramID: f.ProgramID, To: today.AddDate(0, 0, 1)}
	if f.From != "" || f.To != "" {
		f.Range = ""
		from, okFrom := parseDay(f.From)
		to, okTo := parseDay(f.To)
		switch {
		case !okFrom || from == nil:
			errs["from"] = "Enter the first day as YYYY-MM-DD."
		case !okTo:
			errs["to"] = "Enter the last day as YYYY-MM-DD."
		default:
			q.From = *from
			if to != nil {
				q.To = to.AddDate(0, 0, 1)
			}
			if !q.From.Before(q.To) {
				errs["to"] = "Must be on or after the first day."
			} else if q.To.Sub(q.From) > 10*366*24*time.Hour {
				errs["from"] = "Choose a range of at most ten years."
			}
		}
		if len(errs) == 0 {
			return f, q, nil
		}
	}
	switch f.Range {
	case "7d":
		q.From = today.AddDate(0, 0, -6)
	case "90d":
		q.From = today.AddDate(0, 0, -89)
	case "mtd":
		q.From = time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
	case "lm":
		q.To = time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC)
		q.From = q.To.AddDate(0, -1, 0)
	case "12m":
		q.From = today.AddDate(-1, 0, 1)
	case "ytd":
		q.From = time.Date(today.Year(), 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		f.Range = "30d"
		q.From = today.AddDate(0, 0, -29)
	}
	if len(errs) > 0 {
		return f, q, errs
	}
	return f, q, nil
}

// OverviewPage handles GET /: sales, commissions by status, top partners,
// clicks and conversion, and charts for a date range, from the daily
// roll-ups.
func (s *Server) OverviewPage(c echo.Context) error {
	f, q, errs := overviewRange(c, time.Now().UTC())
	programs, err := s.programOptions(c)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if errs != nil {
		status = http.StatusBadRequest
	}
	o, err := s.store.Overview(c.Request().Context(), workspaceOf(c), q)
	if err != nil {
		return err
	}
	v := dashboard.NewOverviewView(f, programs, errs, o)
	return s.page(c, status, s.meta(c, "Overview", "overview"), dashboard.Overview(v))
}
