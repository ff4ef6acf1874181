package web

import (
	"github.com/labstack/echo/v4"
)

// dashboardRoutes is the route table of the merchant dashboard: sign-in for
// anyone, pages for signed-in users, changes to configuration for owners.
func (s *Server) dashboardRoutes(e *echo.Echo) {
	csrf := s.csrf()
	e.GET("/login", s.LoginPage, csrf)
	e.POST("/login", s.Login, csrf)
	e.POST("/logout", s.Logout, csrf)

	d := e.Group("", csrf, s.requireUser)
	owner := d.Group("", s.requireOwner)

	d.GET("/", s.OverviewPage)
	s.programPages(d, owner)  // dash_programs.go
	s.partnerPages(d, owner)  // dash_partners.go
	s.settingsPages(d, owner) // dash_settings.go
	s.financePages(d)         // dash_finance.go: sales, commissions, payouts
	s.webhookPages(d, owner)  // dash_webhooks.go
	s.stripePages(d, owner)   // dash_stripe.go: Stripe Connect, programs' go-live checklist
}
