package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/layouts"
	"github.com/partli/partli/views/pages"
)

// unsubscribeView reads the token of an unsubscribe link.
func (s *Server) unsubscribeView(c echo.Context) (pages.UnsubscribeView, string, string, error) {
	kind, addr, ok := s.links.ParseUnsubscribe(c.Param("token"))
	if !ok {
		return pages.UnsubscribeView{}, "", "", echo.NewHTTPError(http.StatusNotFound, "This unsubscribe link is not valid. Use the one in the latest email, or change your emails in your settings.")
	}
	k, _ := email.Notification(kind)
	v := pages.UnsubscribeView{Action: c.Request().URL.Path, Kind: k.Label, Address: addr, Settings: s.cfg.BaseURL + "/partner/settings"}
	if k.Owners {
		v.Settings = s.cfg.BaseURL + "/settings/email"
	}
	return v, kind, addr, nil
}

// UnsubscribePage handles GET /unsubscribe/{token}: it asks to confirm,
// changing nothing (link scanners open links in mail).
func (s *Server) UnsubscribePage(c echo.Context) error {
	v, _, _, err := s.unsubscribeView(c)
	if err != nil {
		return err
	}
	return s.render(c, http.StatusOK, layouts.Base("Unsubscribe", pages.Unsubscribe(v)))
}

// Unsubscribe handles POST /unsubscribe/{token}, from the page's button or
// from a mail client's one-click unsubscribe (RFC 8058, body
// List-Unsubscribe=One-Click): that kind of mail is turned off for that
// address, and no other.
func (s *Server) Unsubscribe(c echo.Context) error {
	v, kind, addr, err := s.unsubscribeView(c)
	if err != nil {
		return err
	}
	if err := s.store.SetMailPreference(c.Request().Context(), addr, kind, store.MailOff); err != nil {
		return err
	}
	s.log.Info("mail unsubscribed", "request_id", requestID(c), "kind", kind)
	v.Done = true
	return s.render(c, http.StatusOK, layouts.Base("Unsubscribed", pages.Unsubscribe(v)))
}
