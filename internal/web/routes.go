package web

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/static"
)

// The route tables, one per surface, each grouped by who may call what
// (the middleware groups):
//
//   - routes_api.go: the referral redirect, public tracking, Stripe's
//     webhooks and the JSON API for API-key holders;
//   - routes_dashboard.go: the merchant dashboard, signed out, signed in
//     (owners and finance staff) and owners only;
//   - routes_portal.go: the partner portal and the application pages,
//     signed out and signed-in partners.
//
// The server-wide middleware is in New (server.go); routes wires the tables
// and registers the routes that serve every surface.
func (s *Server) routes(e *echo.Echo) {
	s.apiRoutes(e)
	s.dashboardRoutes(e)
	s.portalRoutes(e)
	s.sharedRoutes(e)
}

// sharedRoutes are the routes of no one surface: static assets, health, and
// the unsubscribe links in both the dashboard's and the portal's mail.
func (s *Server) sharedRoutes(e *echo.Echo) {
	// Anyone.
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(static.FS))))
	e.GET("/healthz", s.Health)

	// Anyone with a link from mail. No CSRF token: mail clients POST here
	// themselves (RFC 8058 one-click unsubscribe), and the signed token in
	// the address is the authority.
	e.GET("/unsubscribe/:token", s.UnsubscribePage)
	e.POST("/unsubscribe/:token", s.Unsubscribe)
}
