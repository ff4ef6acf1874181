package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages"
	"github.com/partli/partli/views/pages/portal"
)

// PortalSettings handles GET /partner/settings: the mail a partner gets
// (at their account's address, for every program) and their password.
func (s *Server) PortalSettings(c echo.Context) error {
	a := currentAccount(c)
	prefs, err := s.store.MailPreferences(c.Request().Context(), a.Email)
	if err != nil {
		return err
	}
	v := portal.SettingsView{CSRF: csrfToken(c), Email: a.Email, Choices: mailChoices(email.PartnerKinds, prefs)}
	v.Flash = doneText(c, donePortalSetting)
	return s.portalPage(c, http.StatusOK, "Settings", portal.Settings(v))
}

// SetPortalMail handles POST /partner/settings: each kind of notification
// on, off, or (new commissions) a daily digest.
func (s *Server) SetPortalMail(c echo.Context) error {
	if err := s.saveMailChoices(c, currentAccount(c).Email, email.PartnerKinds); err != nil {
		return err
	}
	return redirect(c, "/partner/settings?done=saved")
}

// PortalPasswordPage handles GET /partner/password.
func (s *Server) PortalPasswordPage(c echo.Context) error {
	return s.portalPage(c, http.StatusOK, "Change password", pages.Password(s.changeView(c, "/partner/password")))
}

// PortalPassword handles POST /partner/password (form current, password):
// as the dashboard's, every other session of the account ends.
func (s *Server) PortalPassword(c echo.Context) error {
	a := currentAccount(c)
	v := s.changeView(c, "/partner/password")
	hash, status, err := s.newPassword(c, store.SignInOf{Account: a.ID}, accountHash(a), v.Errors)
	if err != nil {
		return err
	}
	if status != 0 {
		return s.portalPage(c, status, "Change password", pages.Password(v))
	}
	ctx := c.Request().Context()
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetPartnerPassword(ctx, a.ID, hash, false); err != nil {
			return err
		}
		_, err := tx.EndPartnerSessions(ctx, a.ID, currentSession(c).ID)
		return err
	})
	if err != nil {
		return err
	}
	return redirect(c, "/partner/settings?done=password")
}
