package web

import (
	"github.com/labstack/echo/v4"
)

// dashboardRoutes is the route table of the merchant dashboard: sign-in for
// anyone (at most PARTLI_SIGNIN_LIMIT attempts per client address per 10
// minutes), pages for signed-in users, changes to configuration for owners.
func (s *Server) dashboardRoutes(e *echo.Echo) {
	// requireUser runs before csrf: the token is bound to the session.
	e.GET("/login", s.LoginPage, s.csrf)
	e.POST("/login", s.Login, s.limitAttempts(s.passwordAttempts), s.csrf)
	e.POST("/logout", s.Logout, s.requireUser, s.csrf)

	d := e.Group("", s.requireUser, s.csrf)
	owner := d.Group("", s.requireOwner)

	d.GET("/", s.OverviewPage)
	s.programPages(d, owner)  // dash_programs.go
	s.partnerPages(d, owner)  // dash_partners.go
	s.settingsPages(d, owner) // dash_settings.go
	s.financePages(d)         // dash_finance.go: sales, commissions, payouts
	s.webhookPages(d, owner)  // dash_webhooks.go
	s.stripePages(d, owner)   // dash_stripe.go: Stripe Connect, programs' go-live checklist
	s.codePages(owner)        // dash_codes.go: programs' customer discounts, partners' codes
}
