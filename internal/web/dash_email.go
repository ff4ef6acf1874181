package web

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
	"github.com/partli/partli/views/pages/dashboard"
)

const mailLogPage = 50

// mailChoices is what address chose for each of kinds.
func mailChoices(kinds []email.Kind, prefs map[string]string) []components.MailChoice {
	out := make([]components.MailChoice, len(kinds))
	for i, k := range kinds {
		out[i] = components.MailChoice{Kind: k.Name, Label: k.Label, Choice: prefs[k.Name],
			Digest: k.Name == store.MailCommissionCreated}
	}
	return out
}

// saveMailChoices applies a MailChoices form for address: each of kinds is
// "on", "off" or (new commissions) "digest"; a kind left out is unchanged.
func (s *Server) saveMailChoices(c echo.Context, address string, kinds []email.Kind) error {
	for _, k := range kinds {
		choice := c.FormValue(k.Name)
		switch {
		case choice == "":
			continue
		case choice == "on":
			choice = ""
		case choice == store.MailOff, choice == store.MailDigest && k.Name == store.MailCommissionCreated:
		default:
			return echo.NewHTTPError(http.StatusBadRequest, "Choose “Email me each time”, “One email a day” or “Off” for "+k.Label+".")
		}
		if err := s.store.SetMailPreference(c.Request().Context(), address, k.Name, choice); err != nil {
			return err
		}
	}
	return nil
}

// EmailPage handles GET /settings/email (?status=pending|sent|failed, ?cursor=).
func (s *Server) EmailPage(c echo.Context) error {
	ctx := c.Request().Context()
	u := currentUser(c)
	v := dashboard.EmailView{CSRF: csrfToken(c), CanEdit: u.Role == "owner", MailHeld: s.cfg.SMTPURL == "", Email: u.Email}
	switch st := c.QueryParam("status"); st {
	case store.MailPending, store.MailSent, store.MailFailed:
		v.Status = st
	}
	if u.Role == "owner" {
		prefs, err := s.store.MailPreferences(ctx, u.Email)
		if err != nil {
			return err
		}
		v.Choices = mailChoices(email.OwnerKinds, prefs)
	}
	page, err := queryPage(c, "cursor", mailLogPage)
	if err != nil {
		return err
	}
	rows, next, err := s.store.ListMail(ctx, workspaceOf(c), v.Status, page)
	if err != nil {
		return err
	}
	for _, r := range rows {
		v.Rows = append(v.Rows, dashboard.EmailRow{MailRow: r, Subject: s.links.Subject(r)})
	}
	if next != nil {
		q := url.Values{"cursor": {*next}}
		if v.Status != "" {
			q.Set("status", v.Status)
		}
		v.NextHref = "/settings/email?" + q.Encode()
	}
	v.Flash = doneText(c, doneEmail)
	return s.page(c, http.StatusOK, s.meta(c, "Email", "settings"), dashboard.Email(v))
}

// SetEmailPreferences handles POST /settings/email/preferences: the
// signed-in owner's own notifications.
func (s *Server) SetEmailPreferences(c echo.Context) error {
	u := currentUser(c)
	if u.Role != "owner" {
		return echo.NewHTTPError(http.StatusForbidden, "Notifications go to the workspace's owners.")
	}
	if err := s.saveMailChoices(c, u.Email, email.OwnerKinds); err != nil {
		return err
	}
	return redirect(c, "/settings/email?done=saved")
}

// RetryEmail handles POST /settings/email/:id/retry: a failed message is
// due again.
func (s *Server) RetryEmail(c echo.Context) error {
	err := s.store.RetryMail(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("failed message")
	}
	if err != nil {
		return err
	}
	return redirect(c, "/settings/email?done=retried")
}
