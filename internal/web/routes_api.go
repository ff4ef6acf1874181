package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// apiRoutes is the route table of the API surface: the referral redirect
// and public tracking for anyone, Stripe's webhooks, and the JSON API for
// API-key holders.
func (s *Server) apiRoutes(e *echo.Echo) {
	// Anyone: the referral redirect and the API description.
	e.GET("/r/:slug", s.Redirect)
	e.GET("/api/openapi.json", s.OpenAPI)

	// Stripe's webhook deliveries, authenticated by their signature.
	e.POST("/api/stripe/webhook", s.StripeWebhook)
	e.POST("/api/stripe/webhook/:workspaceId", s.StripeWorkspaceWebhook)

	// Public tracking from partli.js on merchants' sites: CORS, rate-limited per client IP.
	click := e.Group("/api/track/click",
		middleware.CORSWithConfig(middleware.CORSConfig{AllowOrigins: []string{"*"},
			AllowMethods: []string{http.MethodPost, http.MethodOptions}, AllowHeaders: []string{echo.HeaderContentType}}),
		s.rateLimit(s.cfg.ClickRate, func(c echo.Context) string { return c.RealIP() }))
	click.POST("", s.TrackClick)
	click.OPTIONS("", func(c echo.Context) error { return c.NoContent(http.StatusNoContent) })

	// API-key holders: a merchant's backend.
	api := e.Group("/api", s.requireKey)

	// Tracking from a merchant's backend, rate-limited per API key.
	track := api.Group("/track", s.rateLimit(s.cfg.TrackRate, func(c echo.Context) string { return c.Get(apiKeyIDKey).(string) }))
	track.POST("/sale", s.TrackSale)
	track.POST("/lead", s.TrackLead)
	track.POST("/refund", s.TrackRefund)

	api.PUT("/integrations/stripe", s.PutStripeIntegration)

	// Programs, their groups and rewards, partners and their codes.
	api.POST("/programs", s.CreateProgram)
	api.GET("/programs", s.ListPrograms)
	api.GET("/programs/:id", s.GetProgram)
	api.PATCH("/programs/:id", s.UpdateProgram)
	api.POST("/programs/:id/groups", s.CreateGroup)
	api.GET("/programs/:id/groups", s.ListGroups)
	api.POST("/programs/:id/rewards", s.CreateReward)
	api.GET("/programs/:id/rewards", s.ListRewards)
	api.PATCH("/rewards/:id", s.UpdateReward)
	api.DELETE("/rewards/:id", s.DeleteReward)
	api.POST("/programs/:id/partners", s.CreatePartner)
	api.GET("/programs/:id/partners", s.ListPartners)
	api.GET("/partners/:id", s.GetPartner)
	api.PATCH("/partners/:id", s.UpdatePartner)
	api.POST("/partners/:id/codes", s.CreateCode)
	api.GET("/partners/:id/codes", s.ListCodes)
	api.DELETE("/codes/:id", s.RetireCode)

	// Webhook endpoints.
	api.POST("/webhooks", s.CreateWebhook)
	api.GET("/webhooks", s.ListWebhooks)
	api.PATCH("/webhooks/:id", s.UpdateWebhook)
	api.DELETE("/webhooks/:id", s.DeleteWebhook)
	api.POST("/webhooks/:id/rotate-secret", s.RotateWebhookSecret)

	// Sales and commissions.
	api.GET("/sales", s.ListSales)
	api.GET("/commissions", s.ListCommissions)
	api.GET("/commissions/:id", s.GetCommission)
	api.PATCH("/commissions/:id", s.UpdateCommission)

	// Payouts: creating a program's payouts, listing them, sending a Stripe
	// one, marking one paid outside Partli, canceling, the batch files of
	// PayPal and Wise, and partners' payout methods.
	api.POST("/payouts", s.CreatePayouts)
	api.GET("/payouts", s.ListPayouts)
	api.GET("/payouts/export", s.ExportPayoutsAPI)
	api.GET("/payouts/:id", s.GetPayout)
	api.POST("/payouts/:id/send", s.SendPayout)
	api.POST("/payouts/:id/mark-paid", s.MarkPayoutPaidAPI)
	api.POST("/payouts/:id/cancel", s.CancelPayoutAPI)
	api.PUT("/partners/:id/payout-method", s.PutPayoutMethod)
	api.POST("/partners/:id/stripe-onboarding", s.StripeOnboarding)

	// Unknown /api paths answer in JSON, after authentication like the rest.
	api.Any("/*", func(c echo.Context) error { return echo.ErrNotFound })
}
