package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/payout"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/portal"
)

// How partners choose to be paid, in the portal: a PayPal or Wise address,
// or Stripe (an Express account on the merchant's Stripe platform, onboarded
// on Stripe's pages, which send the partner back here).

// portalStripePath is where Stripe's onboarding sends a partner back: to
// "refresh" (the link expired: a new one) or "return" (done, or left).
func portalStripePath(partnerID, what string) string {
	return "/partner/programs/" + partnerID + "/stripe/" + what
}

// portalEnrollment loads the signed-in partner's enrollment :id; another
// partner's is a 404, as one that does not exist.
func (s *Server) portalEnrollment(c echo.Context) (*store.Enrollment, error) {
	e, err := s.store.EnrollmentOf(c.Request().Context(), currentAccount(c).ID, c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "You are not a partner in this program.")
	}
	return e, err
}

// payoutMethodView is the payout method section of an enrollment's page.
func (s *Server) payoutMethodView(c echo.Context, e *store.Enrollment) (portal.PayoutMethodView, error) {
	v := portal.PayoutMethodView{CSRF: csrfToken(c), PartnerID: e.ID, Notice: doneText(c, donePortalMethod),
		Types: []string{payout.PayPal, payout.Wise}}
	m, err := s.store.PayoutMethodOf(c.Request().Context(), e.WorkspaceID, e.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return v, err
	default:
		v.Method = m
		v.Email = m.Email
	}
	v.Ready, v.Why = payout.Readiness(v.Method)
	if _, err := s.payouts.StripeKey(c.Request().Context(), e.WorkspaceID); err == nil {
		v.StripeAvailable = true
	} else if !payout.IsRefusal(err) {
		return v, err
	}
	return v, nil
}

// PortalSetPayoutMethod handles POST /partner/programs/{id}/payout-method
// {type: paypal|wise, email}.
func (s *Server) PortalSetPayoutMethod(c echo.Context) error {
	e, err := s.portalEnrollment(c)
	if err != nil {
		return err
	}
	typ, email := c.FormValue("type"), strings.TrimSpace(c.FormValue("email"))
	problem := ""
	switch {
	case typ != payout.PayPal && typ != payout.Wise:
		problem = "Choose PayPal or Wise."
	case !validEmail(email):
		problem = "Enter the email address of your " + portal.MethodName(typ) + " account, such as jane@example.com."
	}
	if problem == "" {
		if _, err := s.store.SetPayoutMethod(c.Request().Context(), e.WorkspaceID, e.ID, typ, email); err != nil {
			return err
		}
		return redirect(c, "/partner/programs/"+e.ID+"?done=method_saved#payout-method")
	}
	return s.portalProgramPage(c, e, http.StatusUnprocessableEntity, func(v *portal.PayoutMethodView) {
		v.Error, v.Email, v.Chosen = problem, email, typ
	})
}

// PortalStripeOnboarding handles POST /partner/programs/{id}/stripe (and
// GET …/stripe/refresh, where Stripe sends a partner whose link expired):
// to Stripe's onboarding, the partner's Express account made on first use.
func (s *Server) PortalStripeOnboarding(c echo.Context) error {
	e, err := s.portalEnrollment(c)
	if err != nil {
		return err
	}
	url, err := s.payouts.Onboarding(c.Request().Context(), e.WorkspaceID, e.ID,
		s.cfg.BaseURL+portalStripePath(e.ID, "refresh"), s.cfg.BaseURL+portalStripePath(e.ID, "return"))
	if payout.IsRefusal(err) {
		return s.portalProgramPage(c, e, http.StatusConflict, func(v *portal.PayoutMethodView) {
			v.Error = capitalize(payout.Explain(err)) + "."
		})
	}
	if err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, url)
}

// PortalStripeReturn handles GET /partner/programs/{id}/stripe/return:
// back from Stripe's onboarding, the account is read from Stripe.
func (s *Server) PortalStripeReturn(c echo.Context) error {
	e, err := s.portalEnrollment(c)
	if err != nil {
		return err
	}
	m, err := s.payouts.RefreshStripe(c.Request().Context(), e.WorkspaceID, e.ID)
	if err != nil && !payout.IsRefusal(err) && !errors.Is(err, store.ErrNotFound) {
		s.log.Warn("portal: reading the partner's Stripe account failed", "request_id", requestID(c), "partner", e.ID, "err", err)
	}
	done := "stripe_pending"
	if ready, _ := payout.Readiness(m); err == nil && ready {
		done = "stripe_ready"
	}
	return redirect(c, "/partner/programs/"+e.ID+"?done="+done+"#payout-method")
}
