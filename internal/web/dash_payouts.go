package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

// The payouts pages: what each partner is owed (from the ledger's
// balances), the payouts, sending Stripe ones, the PayPal and Wise batch
// files and marking a batch paid, schedules. Owners and finance staff may
// use them; schedules are the owners'.

// payoutsView loads the payouts page: balances ready to pay, the programs'
// schedules and last runs, and one page of payouts.
func (s *Server) payoutsView(c echo.Context) (*dashboard.PayoutsView, error) {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	v := &dashboard.PayoutsView{CSRF: csrfToken(c), Status: c.QueryParam("status"), Owner: currentUser(c).Role == "owner"}
	if v.Status != "" && !commission.ValidPayoutStatus(v.Status) {
		return nil, echo.NewHTTPError(http.StatusBadRequest, "Unknown payout status "+strconv.Quote(v.Status)+".")
	}
	var after *store.BalanceCursor
	if b := c.QueryParam("balances"); b != "" {
		cur, err := store.DecodeBalanceCursor(b)
		if err != nil {
			return nil, badPageParam("balances")
		}
		after = cur
	}
	balances, nextBalances, err := s.store.ReadyToPay(ctx, ws, "", after, financePageSize)
	if err != nil {
		return nil, err
	}
	for _, b := range balances {
		v.Balances = append(v.Balances, balanceView(b))
	}
	if nextBalances != nil {
		v.BalancesNext = "/payouts?" + url.Values{"balances": {*nextBalances}}.Encode()
	}
	page, err := queryPage(c, "cursor", financePageSize)
	if err != nil {
		return nil, err
	}
	rows, next, err := s.store.ListPayoutRows(ctx, ws, store.PayoutFilter{Status: v.Status}, page)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		v.Payouts = append(v.Payouts, dashboard.PayoutRowView{Row: r, CanSend: canSend(r.Payout),
			CanMarkPaid: can(r.Payout, commission.PayoutMarkPaid)})
	}
	q := url.Values{}
	if v.Status != "" {
		q.Set("status", v.Status)
	}
	v.NextURL = nextURL("/payouts", q, next)
	programs, _, err := s.store.ListPrograms(ctx, ws, store.Page{Limit: 200})
	if err != nil {
		return nil, err
	}
	v.Programs = programs
	if v.Runs, err = s.store.RecentPayoutRuns(ctx, ws, 5); err != nil {
		return nil, err
	}
	// PayPal takes one currency per file: a button per currency.
	if v.PayPalCurrencies, err = s.store.PayoutCurrencies(ctx, ws, store.PayoutFilter{Status: commission.PayoutPending, Method: payout.PayPal}); err != nil {
		return nil, err
	}
	return v, nil
}

// balanceView is a balance with what the payout rules say of it.
func balanceView(b store.Balance) dashboard.BalanceView {
	bv := dashboard.BalanceView{Balance: b, MinimumApplies: commission.MinimumApplies(b.Currency, b.ProgramCurrency)}
	if err := commission.CheckPayable(b.Cents, b.Currency, b.MinPayoutCents, b.ProgramCurrency); err != nil {
		bv.Note = capitalize(commission.Explain(err)) + "."
	} else {
		bv.Payable = true
	}
	bv.MethodReady, bv.MethodWhy = payout.Readiness(b.Method)
	return bv
}

// can reports whether the payout state machine allows action on p now.
func can(p store.Payout, action string) bool {
	_, err := commission.PayoutTransition(p.ID, p.Status, action)
	return err == nil
}

// canSend reports whether Partli sends p itself (Stripe) and its state allows it.
func canSend(p store.Payout) bool {
	m := payout.Methods[p.Method]
	return m != nil && m.Transfers() && can(p, commission.PayoutSend)
}

// PayoutsPage handles GET /payouts.
func (s *Server) PayoutsPage(c echo.Context) error {
	v, err := s.payoutsView(c)
	if err != nil {
		return err
	}
	v.Flash = doneFlash(c, donePayouts)
	return s.page(c, http.StatusOK, s.meta(c, "Payouts", "payouts"), dashboard.Payouts(*v))
}

// payoutsRefused shows the payouts page again with why nothing was done.
func (s *Server) payoutsRefused(c echo.Context, status int, msg string) error {
	v, err := s.payoutsView(c)
	if err != nil {
		return err
	}
	v.Flash = dashboard.Flash{Kind: "error", Message: msg}
	return s.page(c, status, s.meta(c, "Payouts", "payouts"), dashboard.Payouts(*v))
}

// CreatePayout handles POST /payouts {partnerId, currency}: one payout of
// all the partner's approved, unpaid commissions in that currency.
func (s *Server) CreatePayout(c echo.Context) error {
	partnerID, currency := strings.TrimSpace(c.FormValue("partnerId")), c.FormValue("currency")
	p, err := s.commissions.CreatePayout(c.Request().Context(), workspaceOf(c), partnerID, currency, actorOf(c))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFoundPage("partner")
	case commission.IsPayoutRefusal(err):
		return s.payoutsRefused(c, http.StatusUnprocessableEntity, "No payout was created: "+commission.Explain(err)+".")
	case err != nil:
		return err
	}
	return redirect(c, "/payouts/"+p.ID+"?done=payout_created")
}

// CreateProgramPayouts handles POST /payouts/program {programId}: one
// payout per partner and currency of the program whose balance reaches
// the minimum, as POST /api/payouts.
func (s *Server) CreateProgramPayouts(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	programID := strings.TrimSpace(c.FormValue("programId"))
	if _, err := s.store.Program(ctx, ws, programID); errors.Is(err, store.ErrNotFound) {
		return s.payoutsRefused(c, http.StatusUnprocessableEntity, "Choose one of the workspace's programs.")
	} else if err != nil {
		return err
	}
	out, err := s.payouts.CreateForProgram(ctx, ws, programID, nil, false, actorOf(c))
	if err != nil {
		return err
	}
	if len(out.Payouts) == 0 {
		return redirect(c, "/payouts?done=payouts_none")
	}
	return redirect(c, "/payouts?status=pending&done=payouts_created")
}

// MarkBatchPaid handles POST /payouts/mark-paid {ids…, reference}: the
// payouts of a batch (a PayPal or Wise file, a bank batch) marked paid
// with the batch's reference, each on its own, saying which were refused.
func (s *Server) MarkBatchPaid(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return echo.NewHTTPError(http.StatusBadRequest, "The form could not be read.")
	}
	ids := dedupe(form["ids"])
	reference := strings.TrimSpace(form.Get("reference"))
	switch {
	case len(ids) == 0:
		return s.payoutsRefused(c, http.StatusUnprocessableEntity, "Select the payouts of the batch first.")
	case len(ids) > maxBulk:
		return s.payoutsRefused(c, http.StatusUnprocessableEntity, fmt.Sprintf("Select at most %d payouts at once.", maxBulk))
	case reference == "":
		return s.payoutsRefused(c, http.StatusUnprocessableEntity, "Enter the batch's reference (the PayPal batch id, the Wise batch reference), so the payments can be traced.")
	case len(reference) > maxReferenceLen:
		return s.payoutsRefused(c, http.StatusUnprocessableEntity, "Keep the reference under "+strconv.Itoa(maxReferenceLen)+" characters.")
	}
	paid := 0
	refused := map[string]int{}
	for _, id := range ids {
		_, err := s.commissions.MarkPayoutPaid(c.Request().Context(), workspaceOf(c), id, reference, actorOf(c))
		switch {
		case errors.Is(err, store.ErrNotFound):
			refused["not found in this workspace"]++
		case commission.IsPayoutRefusal(err):
			refused[commission.Explain(err)]++
		case err != nil:
			return err
		default:
			paid++
		}
	}
	if len(refused) == 0 {
		return redirect(c, "/payouts?status=paid&done=batch_paid")
	}
	v, err := s.payoutsView(c)
	if err != nil {
		return err
	}
	v.Flash = dashboard.Flash{Kind: "error", Message: bulkSummary(paid, 0, "marked paid", refused)}
	return s.page(c, http.StatusOK, s.meta(c, "Payouts", "payouts"), dashboard.Payouts(*v))
}

// SetPayoutSchedule handles POST /payouts/schedule {programId, schedule, day} (owners).
func (s *Server) SetPayoutSchedule(c echo.Context) error {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	p, err := s.store.Program(ctx, ws, strings.TrimSpace(c.FormValue("programId")))
	if errors.Is(err, store.ErrNotFound) {
		return notFoundPage("program")
	}
	if err != nil {
		return err
	}
	schedule := c.FormValue("schedule")
	var day *int
	if schedule != payout.ScheduleManual {
		n, err := strconv.Atoi(strings.TrimSpace(c.FormValue("day")))
		if err == nil {
			day = &n
		}
	}
	if _, problem := payout.CheckSchedule(schedule, day); problem != "" {
		return s.payoutsRefused(c, http.StatusUnprocessableEntity, "The schedule of "+p.Name+" was not changed: the day "+problem+".")
	}
	if err := s.store.SetPayoutSchedule(ctx, p, schedule, day); err != nil {
		return err
	}
	return redirect(c, "/payouts?done=schedule_saved")
}

// payoutView loads one payout of the workspace, its attempts and a page of its commissions.
func (s *Server) payoutView(c echo.Context, id string) (*dashboard.PayoutView, error) {
	ctx, ws := c.Request().Context(), workspaceOf(c)
	p, err := s.store.PayoutRowByID(ctx, ws, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFoundPage("payout")
	}
	if err != nil {
		return nil, err
	}
	page, err := queryPage(c, "cursor", financePageSize)
	if err != nil {
		return nil, err
	}
	cs, next, err := s.store.PayoutCommissionRows(ctx, ws, p.ID, page)
	if err != nil {
		return nil, err
	}
	v := &dashboard.PayoutView{CSRF: csrfToken(c), P: p, Commissions: cs, NextURL: nextURL("/payouts/"+p.ID, url.Values{}, next),
		CanSend: canSend(p.Payout), CanMarkPaid: can(p.Payout, commission.PayoutMarkPaid), CanCancel: can(p.Payout, commission.PayoutCancel)}
	if v.Attempts, err = s.store.Attempts(ctx, ws, p.ID); err != nil {
		return nil, err
	}
	m, err := s.store.PayoutMethodOf(ctx, ws, p.PartnerID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		m = nil
	case err != nil:
		return nil, err
	}
	if m != nil {
		v.PartnerMethod = m.Type
	}
	v.MethodReady = true // a payout settled is past its method's readiness
	if v.CanSend || v.CanMarkPaid {
		v.MethodReady, v.MethodWhy = payout.Readiness(m)
	}
	if v.CanSend {
		if err := commission.CheckStripeAmount(p.AmountCents, p.Currency); err != nil {
			v.SendProblem = capitalize(commission.Explain(err)) + "."
		}
	}
	return v, nil
}

// PayoutPage handles GET /payouts/:id.
func (s *Server) PayoutPage(c echo.Context) error {
	v, err := s.payoutView(c, c.Param("id"))
	if err != nil {
		return err
	}
	v.Flash = doneFlash(c, donePayouts)
	return s.page(c, http.StatusOK, s.meta(c, "Payout", "payouts"), dashboard.Payout(*v))
}

// payoutRefused shows a payout's page again with why nothing was done.
func (s *Server) payoutRefused(c echo.Context, id string, status int, msg string) error {
	v, err := s.payoutView(c, id)
	if err != nil {
		return err
	}
	v.Flash = dashboard.Flash{Kind: "error", Message: msg}
	return s.page(c, status, s.meta(c, "Payout", "payouts"), dashboard.Payout(*v))
}

// SendPayoutPage handles POST /payouts/:id/send: "Pay" on a Stripe payout.
func (s *Server) SendPayoutPage(c echo.Context) error {
	id := c.Param("id")
	p, err := s.payouts.Send(c.Request().Context(), workspaceOf(c), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFoundPage("payout")
	case payout.IsRefusal(err):
		return s.payoutRefused(c, id, http.StatusConflict, "Not sent: "+payout.Explain(err)+".")
	case err != nil:
		return err
	}
	done := map[string]string{commission.PayoutPaid: "payout_sent", commission.PayoutFailed: "payout_failed"}[p.Status]
	if done == "" {
		done = "payout_processing"
	}
	return redirect(c, "/payouts/"+id+"?done="+done)
}

// MarkPayoutPaid handles POST /payouts/:id/paid {reference}.
func (s *Server) MarkPayoutPaid(c echo.Context) error {
	id := c.Param("id")
	reference := strings.TrimSpace(c.FormValue("reference"))
	problem := ""
	switch {
	case reference == "":
		problem = "Enter the bank or payment provider's reference, so the payment can be traced."
	case len(reference) > maxReferenceLen:
		problem = "Keep the reference under " + strconv.Itoa(maxReferenceLen) + " characters."
	}
	var err error
	if problem == "" {
		_, err = s.commissions.MarkPayoutPaid(c.Request().Context(), workspaceOf(c), id, reference, actorOf(c))
		switch {
		case errors.Is(err, store.ErrNotFound):
			return notFoundPage("payout")
		case err == nil:
			return redirect(c, "/payouts/"+id+"?done=payout_paid")
		case !commission.IsPayoutRefusal(err):
			return err
		}
	}
	v, verr := s.payoutView(c, id)
	if verr != nil {
		return verr
	}
	v.Reference = reference
	if problem != "" {
		v.ReferenceError = problem
		return s.page(c, http.StatusUnprocessableEntity, s.meta(c, "Payout", "payouts"), dashboard.Payout(*v))
	}
	v.Flash = dashboard.Flash{Kind: "error", Message: capitalize(commission.Explain(err)) + "."}
	return s.page(c, http.StatusConflict, s.meta(c, "Payout", "payouts"), dashboard.Payout(*v))
}

// CancelPayout handles POST /payouts/:id/cancel.
func (s *Server) CancelPayout(c echo.Context) error {
	id := c.Param("id")
	_, err := s.commissions.CancelPayout(c.Request().Context(), workspaceOf(c), id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFoundPage("payout")
	case commission.IsPayoutRefusal(err):
		return s.payoutRefused(c, id, http.StatusConflict, capitalize(commission.Explain(err))+".")
	case err != nil:
		return err
	}
	return redirect(c, "/payouts/"+id+"?done=payout_cancel")
}
