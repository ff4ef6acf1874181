package web

import (
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/commission"
)

// dashboardRoutes is the route table of the merchant dashboard: sign-in and
// the pages mail links lead to for anyone (every form that checks or sets a
// password counts against the client address's attempts,
// PARTLI_SIGNIN_LIMIT per 10 minutes), pages for signed-in users (owners and
// finance staff), changes to configuration for owners.
func (s *Server) dashboardRoutes(e *echo.Echo) {
	attempts := s.limitAttempts(s.passwordAttempts)

	// Signed out. requireUser runs before csrf: the token is bound to the
	// session.
	e.GET("/login", s.LoginPage, s.csrf)
	e.POST("/login", s.Login, attempts, s.csrf)
	e.POST("/logout", s.Logout, s.requireUser, s.csrf)
	// Accounts by mail (accounts.go) and teammates' invitations
	// (dash_teammates.go).
	e.GET("/password/forgot", s.ForgotPage, s.csrf)
	e.POST("/password/forgot", s.Forgot, attempts, s.csrf)
	e.GET("/password/reset/:token", s.ResetPage, s.csrf)
	e.POST("/password/reset/:token", s.Reset, attempts, s.csrf)
	e.GET("/invite/:token", s.TeammateInvitePage, s.csrf)
	e.POST("/invite/:token", s.AcceptTeammateInvite, attempts, s.csrf)

	d := e.Group("", s.requireUser, s.csrf)
	owner := d.Group("", s.requireOwner)

	// Signed in, owners and finance staff: every page to look at, their own
	// password and mail.
	d.GET("/", s.OverviewPage)
	d.GET("/programs", s.DashPrograms)
	d.GET("/programs/:id", s.DashProgram)
	d.GET("/programs/:id/go-live", s.ProgramGoLive)
	d.GET("/partners", s.PartnersPage)
	d.GET("/partners/:id", s.PartnerPage)
	d.GET("/settings", s.SettingsPage)
	d.GET("/settings/password", s.ChangePasswordPage)
	d.POST("/settings/password", s.ChangePassword, attempts)
	d.GET("/settings/email", s.EmailPage)
	d.POST("/settings/email/preferences", s.SetEmailPreferences)
	d.GET("/webhooks", s.DashWebhooks)
	d.GET("/webhooks/:id", s.DashWebhook)
	d.GET("/webhooks/:id/deliveries/:deliveryId", s.DashWebhookDelivery)
	d.GET("/integrations/stripe", s.StripePage)
	d.GET("/integrations/stripe/card", s.StripeCard)

	// Signed in, owners and finance staff: the finance pages. Sales,
	// commissions with their status changes, and payouts: what each partner
	// is owed, sending Stripe ones, the PayPal and Wise batch files and
	// marking a batch paid.
	d.GET("/partners/suggest", s.PartnerSuggestions)
	d.GET("/sales", s.SalesPage)
	d.GET("/sales.csv", s.ExportSales)
	d.GET("/sales/:id", s.SalePage)
	d.GET("/commissions", s.CommissionsPage)
	d.GET("/commissions.csv", s.ExportCommissions)
	d.POST("/commissions/bulk", s.BulkCommissions)
	d.GET("/commissions/:id", s.CommissionPage)
	d.GET("/commissions/:id/row", s.CommissionRowFragment)
	d.GET("/commissions/:id/clawback", s.ClawBackForm)
	d.POST("/commissions/:id/approve", s.commissionAction(commission.Approved))
	d.POST("/commissions/:id/pay", s.commissionAction(commission.Paid))
	d.POST("/commissions/:id/clawback", s.commissionAction(commission.ClawedBack))
	d.GET("/payouts", s.PayoutsPage)
	d.POST("/payouts", s.CreatePayout)
	d.POST("/payouts/program", s.CreateProgramPayouts)
	d.POST("/payouts/mark-paid", s.MarkBatchPaid)
	d.GET("/payouts/export.csv", s.ExportPayouts)
	d.GET("/payouts/ready.csv", s.ExportReadyToPay)
	d.GET("/payouts/:id", s.PayoutPage)
	d.GET("/payouts/:id/export.csv", s.ExportPayout)
	d.POST("/payouts/:id/send", s.SendPayoutPage)
	d.POST("/payouts/:id/paid", s.MarkPayoutPaid)
	d.POST("/payouts/:id/cancel", s.CancelPayout)

	// Owners: programs, their groups, rewards and customer discounts.
	owner.GET("/programs/new", s.DashNewProgram)
	owner.GET("/programs/currency-unit", s.DashCurrencyUnit)
	owner.POST("/programs", s.DashCreateProgram)
	owner.POST("/programs/:id", s.DashUpdateProgram)
	owner.POST("/programs/:id/groups", s.DashCreateGroup)
	owner.POST("/programs/:id/groups/:groupId", s.DashUpdateGroup)
	owner.GET("/programs/:id/reward-preview", s.DashRewardPreview)
	owner.POST("/programs/:id/rewards", s.DashCreateReward)
	owner.POST("/rewards/:id", s.DashUpdateReward)
	owner.POST("/rewards/:id/delete", s.DashDeleteReward)
	owner.POST("/programs/:id/discount", s.DashSetDiscount)
	owner.GET("/programs/:id/discount-preview", s.DashDiscountPreview)

	// Owners: partners (adding, moving between groups, status, codes) and
	// their invitations to the portal; the invite link is shown once, on the
	// page the POST redirects to.
	owner.GET("/partners/new", s.NewPartnerPage)
	owner.GET("/partners/new/groups", s.NewPartnerGroups)
	owner.POST("/partners", s.AddPartner)
	owner.POST("/partners/:id/group", s.MovePartner)
	owner.POST("/partners/:id/status", s.SetPartnerStatus)
	owner.POST("/partners/:id/invite", s.InvitePartner)
	owner.GET("/partners/:id/invite", s.InvitedPage)
	owner.POST("/partners/:id/codes", s.DashCreateCode)
	owner.POST("/codes/:id/retire", s.DashRetireCode)
	owner.POST("/codes/:id/stripe-retry", s.DashRetryCode)

	// Owners: payout schedules.
	owner.POST("/payouts/schedule", s.SetPayoutSchedule)

	// Owners: settings (API keys, teammates and their roles, failed mail
	// sent again).
	owner.POST("/settings/keys", s.CreateKeyForm)
	owner.POST("/settings/keys/:id/revoke", s.RevokeKeyForm)
	owner.POST("/settings/users", s.InviteUserForm)
	owner.POST("/settings/invites/:id/revoke", s.RevokeInviteForm)
	owner.POST("/settings/users/:id/role", s.ChangeRoleForm)
	owner.POST("/settings/users/:id/remove", s.RemoveUserForm)
	owner.POST("/settings/email/:id/retry", s.RetryEmail)

	// Owners: webhook endpoints, test events and resent deliveries.
	owner.POST("/webhooks", s.DashCreateWebhook)
	owner.POST("/webhooks/:id", s.DashUpdateWebhook)
	owner.POST("/webhooks/:id/enable", s.DashEnableWebhook)
	owner.POST("/webhooks/:id/disable", s.DashDisableWebhook)
	owner.POST("/webhooks/:id/rotate-secret", s.DashRotateWebhook)
	owner.POST("/webhooks/:id/delete", s.DashDeleteWebhook)
	owner.POST("/webhooks/:id/test", s.DashTestWebhook)
	owner.POST("/webhooks/:id/deliveries/:deliveryId/resend", s.DashResendWebhookDelivery)

	// Owners: the Stripe integration (Connect OAuth and the merchant's own
	// webhook endpoint and key).
	owner.GET("/integrations/stripe/connect", s.StripeConnect)
	owner.GET("/integrations/stripe/callback", s.StripeCallback)
	owner.POST("/integrations/stripe/disconnect", s.StripeDisconnect)
	owner.POST("/integrations/stripe/webhook-secret", s.StripeWebhookSecretForm)
	owner.POST("/integrations/stripe/secret-key", s.StripeSecretKeyForm)
}
