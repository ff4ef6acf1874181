package web

import (
	"github.com/labstack/echo/v4"
)

// portalRoutes is the route table of the partner portal and the public
// application pages. Every form that checks or sets a password counts
// against the client address's attempts (PARTLI_SIGNIN_LIMIT).
func (s *Server) portalRoutes(e *echo.Echo) {
	attempts := s.limitAttempts(s.passwordAttempts)

	// Signed out: applying to a program, signing in, accepting an invite.
	e.GET("/apply/:ws/:program", s.ApplyPage, s.csrf)
	e.POST("/apply/:ws/:program", s.Apply, attempts, s.csrf)
	e.GET("/partner/login", s.PartnerLoginPage, s.csrf)
	e.POST("/partner/login", s.PartnerLogin, attempts, s.csrf)
	e.POST("/partner/logout", s.PartnerLogout, s.requirePartner, s.csrf)
	e.GET("/partner/invite/:token", s.InvitePage, s.csrf)
	e.POST("/partner/invite/:token", s.AcceptInvite, attempts, s.csrf)
	// Accounts by mail (accounts.go): a forgotten password, the address
	// proven.
	e.GET("/partner/password/forgot", s.PartnerForgotPage, s.csrf)
	e.POST("/partner/password/forgot", s.PartnerForgot, attempts, s.csrf)
	e.GET("/partner/password/reset/:token", s.PartnerResetPage, s.csrf)
	e.POST("/partner/password/reset/:token", s.PartnerReset, attempts, s.csrf)
	e.GET("/partner/verify/:token", s.VerifyEmail)
	e.GET("/partner/verify", s.ResendVerificationPage, s.csrf)
	e.POST("/partner/verify", s.ResendVerification, attempts, s.csrf)

	// Signed-in partners. requirePartner runs before csrf: the token is
	// bound to the session.
	p := e.Group("/partner", s.requirePartner, s.csrf)
	p.GET("", s.PortalHome)
	p.GET("/programs/:id", s.PortalProgram)
	p.GET("/settings", s.PortalSettings)
	p.POST("/settings", s.SetPortalMail)
	p.GET("/password", s.PortalPasswordPage)
	p.POST("/password", s.PortalPassword, attempts)
	// How partners choose to be paid: a PayPal or Wise address, or Stripe
	// (onboarded on Stripe's pages, which send the partner back here).
	p.POST("/programs/:id/payout-method", s.PortalSetPayoutMethod)
	p.POST("/programs/:id/stripe", s.PortalStripeOnboarding)
	p.GET("/programs/:id/stripe/refresh", s.PortalStripeOnboarding)
	p.GET("/programs/:id/stripe/return", s.PortalStripeReturn)
	// Making codes, when the program lets partners.
	p.POST("/programs/:id/codes", s.PortalCreateCode)
}
