package web

import (
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/stripe"
)

// stripeIntake is the Stripe webhook intake; it holds no state of its own.
func (s *Server) stripeIntake() *stripe.Intake {
	return stripe.New(s.store, s.tracking, s.commissions, s.cfg.StripeConnectWebhookSecret, s.log).WithInvoiceDiscounts(s.codes)
}

// PutStripeIntegration handles PUT /api/integrations/stripe
// {webhookSecret?, secretKey?}: stores the signing secret of the merchant's
// own Stripe webhook endpoint, and the workspace's Stripe secret key that
// payouts use (both sealed, neither ever shown again), and replies with the
// URL that endpoint must post to.
func (s *Server) PutStripeIntegration(c echo.Context) error {
	b, err := readBody(c)
	if err != nil {
		return err
	}
	secret, hasSecret := b.text("webhookSecret", false, 255)
	if problem := stripeSecretProblem(secret); hasSecret && problem != "" {
		b.errs.Add("webhookSecret", problem)
	}
	key, hasKey := b.text("secretKey", false, 255)
	if problem := stripeKeyProblem(key); hasKey && problem != "" {
		b.errs.Add("secretKey", problem)
	}
	if !hasSecret && !hasKey && len(b.errs) == 0 {
		b.errs.Add("webhookSecret", "give webhookSecret, secretKey or both")
	}
	if err := b.err(); err != nil {
		return err
	}
	ctx, ws := c.Request().Context(), workspaceOf(c)
	if hasSecret {
		if err := s.store.SetStripeWebhookSecret(ctx, ws, secret); err != nil {
			return err
		}
	}
	if hasKey {
		if err := s.store.SetStripeSecretKey(ctx, ws, key); err != nil {
			return err
		}
		// Codes waiting for Stripe get their promotion codes now.
		if err := s.codes.QueueWorkspace(ctx, ws); err != nil {
			return err
		}
	}
	keySet, err := s.store.HasStripeSecretKey(ctx, ws)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"webhookUrl": s.cfg.BaseURL + "/api/stripe/webhook/" + ws, "secretKeySet": keySet})
}

// stripeKeyProblem says what is wrong with a Stripe secret key, for the API
// and the dashboard form; "" when nothing is. Payouts need a secret key
// (sk_) or a restricted key (rk_) with Connect and transfers.
func stripeKeyProblem(key string) string {
	switch {
	case key == "":
		return "paste the secret key from your Stripe dashboard (Developers → API keys)"
	case strings.HasPrefix(key, "pk_"):
		return "this is a publishable key: payouts need the secret key, starting with sk_ (or a restricted key, rk_)"
	case !strings.HasPrefix(key, "sk_") && !strings.HasPrefix(key, "rk_"):
		return "must be a Stripe secret key, starting with sk_live_ or sk_test_ (or a restricted key, rk_)"
	}
	for i := 0; i < len(key); i++ {
		if key[i] <= ' ' || key[i] > '~' {
			return "must be the key exactly as Stripe shows it (letters, digits and underscores, no spaces)"
		}
	}
	return ""
}

// StripeWebhook handles POST /api/stripe/webhook: platform (Connect) events,
// routed to the workspace connected to the event's account.
func (s *Server) StripeWebhook(c echo.Context) error {
	return s.stripeDelivery(c, func(payload []byte, sig string) (*stripe.Reply, error) {
		return s.stripeIntake().Connect(c.Request().Context(), payload, sig)
	})
}

// StripeWorkspaceWebhook handles POST /api/stripe/webhook/{workspaceId}:
// events of the merchant's own Stripe account.
func (s *Server) StripeWorkspaceWebhook(c echo.Context) error {
	ws := c.Param("workspaceId")
	return s.stripeDelivery(c, func(payload []byte, sig string) (*stripe.Reply, error) {
		return s.stripeIntake().Workspace(c.Request().Context(), ws, payload, sig)
	})
}

// stripeDelivery reads a delivery as the exact bytes Stripe signed and
// answers as Stripe expects: 400 for a signature that does not verify
// (nothing stored), 2xx for every event dealt with, including those that
// are ignored, and 5xx (Stripe retries) only when the work could not be done.
func (s *Server) stripeDelivery(c echo.Context, process func(payload []byte, sig string) (*stripe.Reply, error)) error {
	payload, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var httpErr *echo.HTTPError
		if errors.As(err, &httpErr) {
			return httpErr
		}
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_json", Message: "The request body could not be read."}
	}
	reply, err := process(payload, c.Request().Header.Get("Stripe-Signature"))
	if errors.Is(err, stripe.ErrBadSignature) {
		s.log.Warn("stripe webhook refused", "request_id", requestID(c), "err", err)
		return &APIError{Status: http.StatusBadRequest, Code: "invalid_signature",
			Message: "The Stripe-Signature header does not verify against this endpoint's signing secret."}
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, reply)
}

// stripeSecretProblem says what is wrong with a Stripe endpoint signing
// secret, for the API and the dashboard form alike; "" when nothing is.
// Stripe's secrets are whsec_ and printable ASCII.
func stripeSecretProblem(secret string) string {
	switch {
	case secret == "":
		return "paste the endpoint's signing secret from your Stripe dashboard"
	case !strings.HasPrefix(secret, "whsec_"):
		return "must be the endpoint's signing secret, starting with whsec_"
	case len(secret) > 255:
		return "must be at most 255 characters"
	}
	for i := 0; i < len(secret); i++ {
		if secret[i] <= ' ' || secret[i] > '~' {
			return "must be the signing secret exactly as Stripe shows it (letters, digits and symbols, no spaces)"
		}
	}
	return ""
}
