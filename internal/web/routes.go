package web

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/partli/partli/static"
)

// routes is the one route table, grouped by who may call what.
func (s *Server) routes(e *echo.Echo) {
	// Anyone: the referral redirect, static assets, the API description, health.
	e.GET("/r/:slug", s.Redirect)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler(static.FS))))
	e.GET("/healthz", s.Health)
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
	track := api.Group("/track", s.rateLimit(s.cfg.TrackRate, func(c echo.Context) string { return c.Get(apiKeyIDKey).(string) }))
	track.POST("/sale", s.TrackSale)
	track.POST("/lead", s.TrackLead)
	track.POST("/refund", s.TrackRefund)
	api.PUT("/integrations/stripe", s.PutStripeIntegration)

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

	api.POST("/webhooks", s.CreateWebhook)
	api.GET("/webhooks", s.ListWebhooks)
	api.PATCH("/webhooks/:id", s.UpdateWebhook)
	api.DELETE("/webhooks/:id", s.DeleteWebhook)
	api.POST("/webhooks/:id/rotate-secret", s.RotateWebhookSecret)

	api.GET("/sales", s.ListSales)
	api.GET("/commissions", s.ListCommissions)
	api.GET("/commissions/:id", s.GetCommission)
	api.PATCH("/commissions/:id", s.UpdateCommission)
	s.payoutRoutes(api) // api_payouts.go

	// Unknown /api paths answer in JSON, after authentication like the rest.
	api.Any("/*", func(c echo.Context) error { return echo.ErrNotFound })
}
