package web

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/money"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

// The commissions pages of the finance pages (dash_finance.go): the list and
// one commission, their status changes one at a time and in bulk.

// commissionsFilter reads the list's filter from the query (GET) or the bulk form (POST).
func commissionsFilter(c echo.Context) dashboard.CommissionsFilter {
	get := c.QueryParam
	if c.Request().Method == http.MethodPost {
		get = c.FormValue
	}
	return dashboard.CommissionsFilter{Status: get("status"), ProgramID: get("programId"),
		Partner: firstNonEmpty(get("partner"), get("partnerId")), Customer: strings.TrimSpace(get("customer"))}
}

// commissionsQuery turns the list's filter into the store's query, setting
// v's partner filter and errors.
func (s *Server) commissionsQuery(c echo.Context, f dashboard.CommissionsFilter, v *dashboard.CommissionsView) (store.CommissionsQuery, error) {
	if f.Status != "" && !commission.ValidStatus(f.Status) {
		v.Errors["status"] = "Choose a status from the list."
	}
	q := store.CommissionsQuery{ProgramID: f.ProgramID, Status: f.Status, CustomerExternalID: f.Customer}
	var (
		problem string
		err     error
	)
	if v.PartnerFilter, problem, err = s.partnerFilter(c, f.ProgramID, f.Partner); err != nil {
		return q, err
	}
	q.PartnerIDs = v.PartnerFilter.IDs
	v.PartnerFilter.List, v.PartnerFilter.Query = "/commissions", f.Query()
	if problem != "" {
		v.Errors["partner"] = problem
	}
	return q, nil
}

// commissionsView loads one page of the commission list for f; status is
// 400 when the filter is invalid.
func (s *Server) commissionsView(c echo.Context, f dashboard.CommissionsFilter, cursor string) (dashboard.CommissionsView, int, error) {
	v := dashboard.CommissionsView{CSRF: csrfToken(c), Filter: f, Cursor: cursor, Errors: map[string]string{}}
	page, err := cursorPage("cursor", cursor, financePageSize)
	if err != nil {
		return v, 0, err
	}
	if v.Programs, err = s.programOptions(c); err != nil {
		return v, 0, err
	}
	var q store.CommissionsQuery
	if q, err = s.commissionsQuery(c, f, &v); err != nil {
		return v, 0, err
	}
	if len(v.Errors) > 0 {
		return v, http.StatusBadRequest, nil
	}
	rows, next, err := s.store.ListCommissionRows(c.Request().Context(), workspaceOf(c), q, page)
	if err != nil {
		return v, 0, err
	}
	for _, r := range rows {
		v.Rows = append(v.Rows, dashboard.CommissionRowView{Row: r, CSRF: v.CSRF})
	}
	v.NextURL = nextURL("/commissions", f.Query(), next)
	return v, http.StatusOK, nil
}

// CommissionsPage handles GET /commissions: filters status, partner
// (?partner= or ?partnerId=), program and customer.
func (s *Server) CommissionsPage(c echo.Context) error {
	v, status, err := s.commissionsView(c, commissionsFilter(c), c.QueryParam("cursor"))
	if err != nil {
		return err
	}
	return s.page(c, status, s.meta(c, "Commissions", "commissions"), dashboard.Commissions(v))
}

// commissionRow loads one commission of the workspace, as a 404 when there is none.
func (s *Server) commissionRow(c echo.Context, id string) (*store.CommissionRow, error) {
	r, err := s.store.CommissionRowByID(c.Request().Context(), workspaceOf(c), id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundPage("commission")
	}
	return r, err
}

// CommissionRowFragment handles GET /commissions/:id/row: the list row
// (used to close the claw-back form).
func (s *Server) CommissionRowFragment(c echo.Context) error {
	r, err := s.commissionRow(c, c.Param("id"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, dashboard.CommissionRow(dashboard.CommissionRowView{Row: *r, CSRF: csrfToken(c)}))
}

// ClawBackForm handles GET /commissions/:id/clawback: the row as an inline
// form asking for the reason; without HTMX, the commission's page.
func (s *Server) ClawBackForm(c echo.Context) error {
	if !wantsFragment(c) {
		return redirect(c, "/commissions/"+c.Param("id"))
	}
	r, err := s.commissionRow(c, c.Param("id"))
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, dashboard.CommissionRow(dashboard.CommissionRowView{Row: *r, CSRF: csrfToken(c), Clawback: true}))
}

// CommissionPage handles GET /commissions/:id: the commission, its history and adjustments.
func (s *Server) CommissionPage(c echo.Context) error {
	v, err := s.commissionView(c, c.Param("id"))
	if err != nil {
		return err
	}
	v.Flash = doneFlash(c, doneCommission)
	return s.page(c, http.StatusOK, s.meta(c, "Commission", "commissions"), dashboard.Commission(*v))
}

func (s *Server) commissionView(c echo.Context, id string) (*dashboard.CommissionView, error) {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	r, err := s.commissionRow(c, id)
	if err != nil {
		return nil, err
	}
	h, err := s.store.History(ctx, ws, r.ID)
	if err != nil {
		return nil, err
	}
	adj, err := s.store.Adjustments(ctx, ws, r.ID)
	if err != nil {
		return nil, err
	}
	return &dashboard.CommissionView{CSRF: csrfToken(c), C: r, History: h, Adjustments: adj}, nil
}

// Why a claw-back reason was refused (readReason).
var (
	reasonMissing = "Give a reason: it is kept in the commission's history."
	reasonTooLong = "Keep the reason under " + strconv.Itoa(maxReasonLen) + " characters."
)

// readReason reads and checks the claw-back reason of a form; problem is
// reasonMissing, reasonTooLong or "".
func readReason(c echo.Context, to string) (reason, problem string) {
	reason = strings.TrimSpace(c.FormValue("reason"))
	switch {
	case len(reason) > maxReasonLen:
		problem = reasonTooLong
	case commission.NeedsReason(commission.Status(to)) && reason == "":
		problem = reasonMissing
	}
	return reason, problem
}

// reasonFlash is the page message for a reason the form refused.
func reasonFlash(problem string) string {
	if problem == reasonMissing {
		return "enter a reason first."
	}
	return "the reason is too long."
}

// changeDoneMessage is the confirmation of one change, in the words a
// person recognises: whose commission, how much.
func changeDoneMessage(out *commission.Outcome, r *store.CommissionRow) string {
	what := possessive(r.PartnerName) + " " + money.Format(r.AmountCents, r.Currency) + " commission"
	if out.Adjustment != nil {
		return fmt.Sprintf("Clawed back %s after payout: an adjustment of %s nets against their next payout.",
			what, money.Format(out.Adjustment.AmountCents, out.Adjustment.Currency))
	}
	switch out.Commission.Status {
	case commission.Approved:
		return "Approved " + what + "."
	case commission.Paid:
		return "Marked " + what + " paid."
	}
	return "Clawed back " + what + "."
}

// possessive is "Maya's", "James'".
func possessive(name string) string {
	if strings.HasSuffix(name, "s") {
		return name + "’"
	}
	return name + "’s"
}

// commissionAction handles POST /commissions/:id/{approve,pay,clawback}.
// An HTMX request gets the list row back with a message; a plain form post
// is redirected to the commission's page. Refusals say why: 422 for a
// missing reason (with the form again), 409 for a change the rules forbid.
func (s *Server) commissionAction(to string) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Param("id")
		reason, problem := readReason(c, to)
		var out *commission.Outcome
		var err error
		if problem == "" {
			out, err = s.commissions.Change(c.Request().Context(), workspaceOf(c), id, to, reason, actorOf(c))
			if errors.Is(err, commission.ErrReasonRequired) {
				problem, err = reasonMissing, nil
			}
		}
		switch {
		case errors.Is(err, store.ErrNotFound):
			return notFoundPage("commission")
		case err != nil && !commission.IsRefusal(err):
			return err
		}

		if !wantsFragment(c) {
			if problem == "" && err == nil {
				done := to
				if out.Adjustment != nil {
					done = "adjusted"
				}
				return redirect(c, "/commissions/"+id+"?done="+done)
			}
			v, verr := s.commissionView(c, id)
			if verr != nil {
				return verr
			}
			if problem != "" {
				v.Reason, v.ReasonError = reason, problem
				return s.page(c, http.StatusUnprocessableEntity, s.meta(c, "Commission", "commissions"), dashboard.Commission(*v))
			}
			v.Flash = dashboard.Flash{Kind: "error", Message: capitalize(commission.Explain(err)) + "."}
			return s.page(c, http.StatusConflict, s.meta(c, "Commission", "commissions"), dashboard.Commission(*v))
		}

		r, rerr := s.commissionRow(c, id)
		if rerr != nil {
			return rerr
		}
		rv := dashboard.CommissionRowView{Row: *r, CSRF: csrfToken(c)}
		switch {
		case problem != "":
			rv.Clawback, rv.Reason, rv.ReasonError = true, reason, problem
			return s.render(c, http.StatusUnprocessableEntity, dashboard.CommissionRowSwap(rv,
				dashboard.Flash{Kind: "error", Message: "Not clawed back: " + reasonFlash(problem)}))
		case err != nil:
			return s.render(c, http.StatusConflict, dashboard.CommissionRowSwap(rv,
				dashboard.Flash{Kind: "error", Message: capitalize(commission.Explain(err)) + "."}))
		}
		return s.render(c, http.StatusOK, dashboard.CommissionRowSwap(rv, dashboard.Flash{Kind: "success", Message: changeDoneMessage(out, r)}))
	}
}

// bulkActions maps the bulk form's action to a status and its past tense.
var bulkActions = map[string]struct{ to, done string }{
	"approve":  {commission.Approved, "approved"},
	"pay":      {commission.Paid, "marked paid"},
	"clawback": {commission.ClawedBack, "clawed back"},
}

// BulkCommissions handles POST /commissions/bulk {ids…, action, reason}:
// each selected commission is changed on its own, so one refusal does not
// stop the others, and the list comes back saying how many changed and why
// the others were refused.
func (s *Server) BulkCommissions(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	v, status, err := s.commissionsView(c, commissionsFilter(c), form.Get("cursor"))
	if err != nil {
		return err
	}
	render := func(status int) error {
		return s.page(c, status, s.meta(c, "Commissions", "commissions"), dashboard.Commissions(v))
	}
	if status != http.StatusOK {
		return render(status)
	}
	action, ok := bulkActions[form.Get("action")]
	ids := dedupe(form["ids"])
	reason, problem := readReason(c, action.to)
	v.BulkReason = reason
	switch {
	case !ok:
		v.Flash = dashboard.Flash{Kind: "error", Message: "Choose an action: approve, mark paid or claw back."}
		return render(http.StatusUnprocessableEntity)
	case len(ids) == 0:
		v.Flash = dashboard.Flash{Kind: "error", Message: "Select at least one commission first."}
		return render(http.StatusUnprocessableEntity)
	case len(ids) > maxBulk:
		v.Flash = dashboard.Flash{Kind: "error", Message: fmt.Sprintf("Select at most %d commissions at once.", maxBulk)}
		return render(http.StatusUnprocessableEntity)
	case problem != "":
		v.Errors["reason"] = problem
		v.Flash = dashboard.Flash{Kind: "error", Message: "Nothing was clawed back: " + reasonFlash(problem)}
		return render(http.StatusUnprocessableEntity)
	}

	changed, adjusted := 0, 0
	refused := map[string]int{}
	for _, id := range ids {
		out, err := s.commissions.Change(c.Request().Context(), workspaceOf(c), id, action.to, reason, actorOf(c))
		switch {
		case errors.Is(err, store.ErrNotFound):
			refused["not found in this workspace"]++
		case commission.IsRefusal(err):
			refused[commission.Explain(err)]++
		case err != nil:
			return err
		default:
			changed++
			if out.Adjustment != nil {
				adjusted++
			}
		}
	}
	// Show the list as it is now.
	if v, _, err = s.commissionsView(c, v.Filter, v.Cursor); err != nil {
		return err
	}
	v.Flash = dashboard.Flash{Kind: "success", Message: bulkSummary(changed, adjusted, action.done, refused)}
	if changed == 0 {
		v.Flash.Kind = "error"
	}
	return render(http.StatusOK)
}

// bulkSummary says what a bulk action did: "2 approved; 1 refused: a paid
// commission cannot become approved".
func bulkSummary(changed, adjusted int, done string, refused map[string]int) string {
	msg := fmt.Sprintf("%d %s", changed, done)
	if adjusted > 0 {
		msg += fmt.Sprintf(" (%d already paid: negative adjustments net against the next payouts)", adjusted)
	}
	if len(refused) == 0 {
		return msg + "."
	}
	total := 0
	reasons := make([]string, 0, len(refused))
	for r, n := range refused {
		total += n
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	if len(reasons) == 1 {
		return fmt.Sprintf("%s; %d refused: %s.", msg, total, reasons[0])
	}
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s (%d)", r, refused[r])
	}
	return fmt.Sprintf("%s; %d refused: %s.", msg, total, strings.Join(parts, "; "))
}
