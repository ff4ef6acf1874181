package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/export"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

// The finance pages: sales, commissions (with their status changes) and
// payouts. Owners and finance staff may use all of them.

const (
	financePageSize = 50
	maxBulk         = 200
	maxReasonLen    = 1000
	maxReferenceLen = 200
)

// actorOf names the signed-in user in commission history and payouts.
func actorOf(c echo.Context) string { return "user:" + currentUser(c).Email }

// nextURL is the link to the page after next (empty on the last page).
func nextURL(path string, q url.Values, next *string) string {
	if next == nil {
		return ""
	}
	q.Set("cursor", *next)
	return path + "?" + q.Encode()
}

// programOptions lists the workspace's programs for a filter.
func (s *Server) programOptions(c echo.Context) ([]dashboard.Option, error) {
	ps, _, err := s.store.ListPrograms(c.Request().Context(), workspaceOf(c), store.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	opts := make([]dashboard.Option, len(ps))
	for i, p := range ps {
		opts[i] = dashboard.Option{Value: p.ID, Label: p.Name}
	}
	return opts, nil
}

// partnerFilter turns what was typed in a partner filter into the partners
// it names: an id, link slug or email exactly, else every partner whose
// name, email or slug contains it ("Maya"). nil means no partner filter; a
// message is set when nothing matches. Several matches come back as the
// choices of the filter's picker, to narrow to one.
func (s *Server) partnerFilter(c echo.Context, programID, text string) (f dashboard.PartnerFilter, problem string, err error) {
	f.Text = strings.TrimSpace(text)
	if f.Text == "" {
		return f, "", nil
	}
	ps, exact, err := s.store.MatchPartners(c.Request().Context(), workspaceOf(c), programID, f.Text, partnerMatchLimit)
	if err != nil {
		return f, "", err
	}
	if len(ps) == 0 {
		return f, "No partner has this name, email, link slug or id.", nil
	}
	f.IDs = make([]string, len(ps))
	for i, p := range ps {
		f.IDs[i] = p.ID
	}
	switch {
	case len(ps) == 1:
		f.Hint = "Showing " + ps[0].Name + " (" + ps[0].Email + ")"
	case exact:
		f.Hint = fmt.Sprintf("Showing %d partners with this email, one per program", len(ps))
	default:
		f.Hint = fmt.Sprintf("Showing %d partners whose name, email or link contains “%s”; pick one to narrow", len(ps), f.Text)
		f.Choices = ps
	}
	if !exact && len(ps) == partnerMatchLimit {
		f.Hint = fmt.Sprintf("Showing the first %d partners whose name, email or link contains “%s”; type more to narrow", len(ps), f.Text)
	}
	return f, "", nil
}

// partnerMatchLimit is how many partners a partner filter matches at most.
const partnerMatchLimit = 20

// PartnerSuggestions handles GET /partners/suggest?list=&partner=&…: the
// partner filter's picker, which HTMX fills in as the person types; each
// choice links to the list (/sales or /commissions) with the other filters
// kept and that partner chosen.
func (s *Server) PartnerSuggestions(c echo.Context) error {
	f := dashboard.PartnerFilter{Text: strings.TrimSpace(c.QueryParam("partner"))}
	switch f.List = c.QueryParam("list"); f.List {
	case "/sales":
		f.Query = dashboard.SalesFilter{ProgramID: c.QueryParam("programId"), Customer: c.QueryParam("customer"),
			From: c.QueryParam("from"), To: c.QueryParam("to")}.Query()
	case "/commissions":
		f.Query = dashboard.CommissionsFilter{Status: c.QueryParam("status"), ProgramID: c.QueryParam("programId"),
			Customer: c.QueryParam("customer")}.Query()
	default:
		return echo.NewHTTPError(http.StatusBadRequest, "Suggestions are for the sales or the commissions list.")
	}
	if len([]rune(f.Text)) >= 2 {
		ps, _, err := s.store.MatchPartners(c.Request().Context(), workspaceOf(c), c.QueryParam("programId"), f.Text, 8)
		if err != nil {
			return err
		}
		f.Choices = ps
	}
	return s.render(c, http.StatusOK, dashboard.PartnerPicker(f))
}

// parseDay reads a YYYY-MM-DD date as midnight UTC, within plausibleTime.
func parseDay(v string) (*time.Time, bool) {
	if v == "" {
		return nil, true
	}
	t, err := time.Parse(time.DateOnly, v)
	if err != nil || plausibleTime(t, time.Now()) != "" {
		return nil, false
	}
	return &t, true
}

// ---- sales ----

// salesFilter reads the sales list's filter from the query: program,
// partner, customer and a date range (UTC days, both inclusive). v.Errors
// holds what is wrong with it.
func (s *Server) salesFilter(c echo.Context) (dashboard.SalesView, store.SalesQuery, error) {
	v := dashboard.SalesView{Errors: map[string]string{}, Filter: dashboard.SalesFilter{
		ProgramID: c.QueryParam("programId"), Partner: firstNonEmpty(c.QueryParam("partner"), c.QueryParam("partnerId")),
		Customer: strings.TrimSpace(c.QueryParam("customer")), From: c.QueryParam("from"), To: c.QueryParam("to")}}
	q := store.SalesQuery{ProgramID: v.Filter.ProgramID, CustomerExternalID: v.Filter.Customer}
	var ok bool
	if q.From, ok = parseDay(v.Filter.From); !ok {
		v.Errors["from"] = "Enter a date as YYYY-MM-DD, from 2000 to 5 years from now."
	}
	if q.To, ok = parseDay(v.Filter.To); !ok {
		v.Errors["to"] = "Enter a date as YYYY-MM-DD, from 2000 to 5 years from now."
	} else if q.To != nil {
		end := q.To.AddDate(0, 0, 1) // the whole day is included
		q.To = &end
	}
	if q.From != nil && q.To != nil && !q.From.Before(*q.To) {
		v.Errors["to"] = "Must be on or after the start date."
	}
	var (
		problem string
		err     error
	)
	if v.PartnerFilter, problem, err = s.partnerFilter(c, q.ProgramID, v.Filter.Partner); err != nil {
		return v, q, err
	}
	q.PartnerIDs = v.PartnerFilter.IDs
	v.PartnerFilter.List, v.PartnerFilter.Query = "/sales", v.Filter.Query()
	if problem != "" {
		v.Errors["partner"] = problem
	}
	return v, q, nil
}

// SalesPage handles GET /sales: the filtered list, newest first.
func (s *Server) SalesPage(c echo.Context) error {
	v, q, err := s.salesFilter(c)
	if err != nil {
		return err
	}
	page, err := queryPage(c, "cursor", financePageSize)
	if err != nil {
		return err
	}
	if v.Programs, err = s.programOptions(c); err != nil {
		return err
	}
	if len(v.Errors) > 0 {
		return s.page(c, http.StatusBadRequest, s.meta(c, "Sales", "sales"), dashboard.Sales(v))
	}
	rows, next, err := s.store.ListSaleRows(c.Request().Context(), workspaceOf(c), q, page)
	if err != nil {
		return err
	}
	v.Rows, v.NextURL = rows, nextURL("/sales", v.Filter.Query(), next)
	return s.page(c, http.StatusOK, s.meta(c, "Sales", "sales"), dashboard.Sales(v))
}

// SalePage handles GET /sales/:id.
func (s *Server) SalePage(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	sale, err := s.store.SaleDetailByID(ctx, ws, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFoundPage("sale")
	}
	if err != nil {
		return err
	}
	cs, err := s.store.CommissionRowsOfSale(ctx, ws, sale.ID)
	if err != nil {
		return err
	}
	v := dashboard.SaleView{Sale: sale, Commissions: cs}
	if len(sale.Metadata) > 0 && string(sale.Metadata) != "null" {
		v.Metadata = compactJSON(sale.Metadata)
	}
	return s.page(c, http.StatusOK, s.meta(c, "Sale "+sale.ExternalID, "sales"), dashboard.Sale(v))
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// ---- commissions ----

func dedupe(ids []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		if id = strings.TrimSpace(id); id != "" && !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	return out
}

// ---- CSV ----

// csvText keeps spreadsheet programs from running a cell as a formula (export.Text).
func csvText(s string) string { return export.Text(s) }
