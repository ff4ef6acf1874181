package web

import (
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/codes"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
	"github.com/partli/partli/views/pages/dashboard"
	"github.com/partli/partli/views/pages/portal"
)

// A partner's codes in the portal: what the customers they refer get, what
// each code brought in, and making codes when the program lets partners.

// portalCodesView is an enrollment's codes section.
func (s *Server) portalCodesView(c echo.Context, e *store.Enrollment) (portal.CodesView, error) {
	ctx := c.Request().Context()
	v := portal.CodesView{CSRF: csrfToken(c), PartnerID: e.ID}
	v.Notice = doneText(c, donePortalCodes)
	p, err := s.store.Program(ctx, e.WorkspaceID, e.ProgramID)
	if err != nil {
		return v, err
	}
	v.Discount = p.Discount()
	cs, err := s.store.CodesOf(ctx, e.WorkspaceID, e.ID)
	if err != nil {
		return v, err
	}
	reports, err := s.store.CodeReports(ctx, e.WorkspaceID, "", e.ID)
	if err != nil {
		return v, err
	}
	byID := map[string]store.CodeReport{}
	for _, r := range reports {
		byID[r.CodeID] = r
	}
	live := 0
	for _, cd := range cs {
		v.Codes = append(v.Codes, dashboard.CodeRow{Code: cd, Report: byID[cd.ID]})
		if cd.Live() {
			live++
		}
	}
	v.MayCreate, v.Why = codes.PartnerMayCreate(p, e.Status, live)
	if !p.PartnersCreateCodes && len(cs) > 0 {
		v.Why = "" // the owner gave codes: nothing to explain
	}
	return v, nil
}

// PortalCreateCode handles POST /partner/programs/{partnerId}/codes: a
// partner makes a code, when the program lets partners (at most
// codes.MaxPartnerCodes live ones).
func (s *Server) PortalCreateCode(c echo.Context) error {
	e, err := s.portalEnrollment(c)
	if err != nil {
		return err
	}
	v, err := s.portalCodesView(c, e)
	if err != nil {
		return err
	}
	if !v.MayCreate {
		return echo.NewHTTPError(http.StatusForbidden, v.Why)
	}
	code := strings.TrimSpace(c.FormValue("code"))
	msg := dashCodeProblem(validator.Code(code))
	if msg == "" {
		_, err := s.codes.Create(c.Request().Context(), e.WorkspaceID, e.ID, code, store.CodeByPartner)
		switch {
		case errors.Is(err, store.ErrCodeTaken):
			msg = "The code " + strings.ToUpper(code) + " is taken (codes are the same in any case): choose another."
		case err != nil:
			return err
		default:
			return redirect(c, "/partner/programs/"+e.ID+"?done=code-added#codes")
		}
	}
	return s.portalProgramPageWith(c, e, http.StatusUnprocessableEntity, func(pv *portal.ProgramView) {
		pv.Codes.New, pv.Codes.Error = code, msg
	})
}
