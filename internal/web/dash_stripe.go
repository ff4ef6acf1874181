package web

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/stripe"
	"github.com/partli/partli/views/pages/dashboard"
)

const (
	// stripeStateKey holds the pending OAuth state in the flow cookie
	// stripeFlowCookie: "<random>.<unix time>.<session id>", single-use,
	// valid for stripeStateTTL in the dashboard session that started it.
	stripeStateKey   = "stripe_oauth_state"
	stripeFlowCookie = "partli_flow"
	stripeStateTTL   = time.Hour
)

// stripeConnector is Stripe Connect with this installation's settings; it
// holds no state of its own.
func (s *Server) stripeConnector() *stripe.Connector { return s.connector }

// newStripeConnector is the server's one Connector (its stripe-go client
// and HTTP client are made once, not per request).
func newStripeConnector(s *Server) *stripe.Connector {
	return stripe.NewConnector(s.store, stripe.ConnectConfig{
		ClientID: s.cfg.StripeClientID, SecretKey: s.cfg.StripeSecretKey,
		ConnectBase: s.cfg.StripeConnectBase, APIBase: s.cfg.StripeAPIBase,
	}, s.log)
}

func (s *Server) stripeRedirectURI() string { return s.cfg.BaseURL + "/integrations/stripe/callback" }

// stripeView loads what the Stripe card shows.
func (s *Server) stripeView(c echo.Context) (dashboard.StripeView, error) {
	ws := workspaceOf(c)
	conn, err := s.store.StripeConnection(c.Request().Context(), ws)
	if err != nil {
		return dashboard.StripeView{}, err
	}
	return dashboard.StripeView{
		CSRF: csrfToken(c), CanEdit: currentUser(c).Role == "owner", Conn: conn,
		ConnectReady: s.stripeConnector().Configured(), PlatformWebhook: s.cfg.StripeConnectWebhookSecret != "",
		RedirectURI: s.stripeRedirectURI(), PlatformWebhookURL: s.cfg.BaseURL + "/api/stripe/webhook",
		WebhookURL: s.cfg.BaseURL + "/api/stripe/webhook/" + ws, Events: stripe.EventTypes,
	}, nil
}

func (s *Server) stripePage(c echo.Context, status int, v dashboard.StripeView) error {
	return s.page(c, status, s.meta(c, "Stripe", "settings"), dashboard.StripePage(v))
}

// stripeFail shows the Stripe page with an error, nothing having changed.
func (s *Server) stripeFail(c echo.Context, status int, msg string) error {
	v, err := s.stripeView(c)
	if err != nil {
		return err
	}
	v.Error = msg
	return s.stripePage(c, status, v)
}

// StripePage handles GET /integrations/stripe.
func (s *Server) StripePage(c echo.Context) error {
	v, err := s.stripeView(c)
	if err != nil {
		return err
	}
	v.Flash = doneText(c, doneStripe)
	return s.stripePage(c, http.StatusOK, v)
}

// StripeCard handles GET /integrations/stripe/card: the card alone, which
// the settings page loads; opened as a page, the Stripe page.
func (s *Server) StripeCard(c echo.Context) error {
	v, err := s.stripeView(c)
	if err != nil {
		return err
	}
	if !wantsFragment(c) {
		return s.stripePage(c, http.StatusOK, v)
	}
	return s.page(c, http.StatusOK, s.meta(c, "Stripe", "settings"), dashboard.StripeCard(v))
}

// StripeConnect handles GET /integrations/stripe/connect: a new state in
// the session, and off to Stripe's authorize page.
func (s *Server) StripeConnect(c echo.Context) error {
	conn := s.stripeConnector()
	if !conn.Configured() {
		return s.stripeFail(c, http.StatusConflict, "Connecting Stripe is not set up on this Partli installation: the operator must set PARTLI_STRIPE_CLIENT_ID and PARTLI_STRIPE_SECRET_KEY.")
	}
	state := ids.Random(32)
	sess, _ := s.flows.Get(c.Request(), stripeFlowCookie)
	sess.Values[stripeStateKey] = state + "." + strconv.FormatInt(time.Now().Unix(), 10) + "." + currentSession(c).ID
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	return c.Redirect(http.StatusFound, conn.AuthorizeURL(state, s.stripeRedirectURI()))
}

// StripeCallback handles GET /integrations/stripe/callback, where Stripe
// sends the merchant back: ?code&state, or ?error. The state must be the
// one this session started (it is used up either way); only then is the
// code exchanged and the account stored.
func (s *Server) StripeCallback(c echo.Context) error {
	ok, err := s.stripeTakeState(c, c.QueryParam("state"))
	if err != nil {
		return err
	}
	switch e := c.QueryParam("error"); {
	case !ok: // first: ?error text is only shown to the session that started the flow
		return s.stripeFail(c, http.StatusBadRequest, "This Stripe connection was not started from this browser session, or it has expired. Nothing was changed: click Connect Stripe to start again.")
	case e == "access_denied":
		return s.stripeFail(c, http.StatusOK, "You cancelled connecting Stripe: nothing was changed. Connect again whenever you are ready.")
	case e != "":
		msg := "Stripe did not connect the account (" + e + ")"
		if d := strings.TrimSpace(c.QueryParam("error_description")); d != "" {
			msg += ": " + d
		}
		return s.stripeFail(c, http.StatusBadRequest, msg+". Nothing was changed.")
	case c.QueryParam("code") == "":
		return s.stripeFail(c, http.StatusBadRequest, "Stripe sent no authorization code. Nothing was changed: click Connect Stripe to start again.")
	}
	res, err := s.stripeConnector().Complete(c.Request().Context(), workspaceOf(c), c.QueryParam("code"))
	var refused *stripe.RefusedError
	switch {
	case errors.Is(err, stripe.ErrAccountTaken):
		return s.stripeFail(c, http.StatusConflict, "This Stripe account is already connected to another Partli workspace. Disconnect it there first, or connect a different Stripe account. Nothing was changed.")
	case errors.Is(err, stripe.ErrNotConfigured):
		return s.stripeFail(c, http.StatusConflict, "Connecting Stripe is not set up on this Partli installation. Nothing was changed.")
	case errors.As(err, &refused) && refused.Code == "invalid_grant":
		return s.stripeFail(c, http.StatusBadRequest, "Stripe did not accept the authorization: it has expired or was used already. Nothing was changed: click Connect Stripe to start again.")
	case errors.As(err, &refused):
		s.log.Error("stripe refused the oauth code exchange", "request_id", requestID(c), "err", err)
		return s.stripeFail(c, http.StatusBadGateway, "Stripe refused to connect the account ("+refused.Code+": "+refused.Description+"). Nothing was changed.")
	case err != nil:
		s.log.Error("stripe connect failed", "request_id", requestID(c), "err", err)
		return s.stripeFail(c, http.StatusBadGateway, "Stripe could not be reached to finish connecting. Nothing was changed: try again in a moment.")
	}
	s.log.Info("stripe account connected", "workspace", workspaceOf(c), "account", res.AccountID, "livemode", res.Livemode)
	if err := s.codes.QueueWorkspace(c.Request().Context(), workspaceOf(c)); err != nil {
		return err
	}
	return redirect(c, "/integrations/stripe?done=connected")
}

// stripeTakeState removes the session's pending state and reports whether
// got is that state, issued within stripeStateTTL.
func (s *Server) stripeTakeState(c echo.Context, got string) (bool, error) {
	sess, _ := s.flows.Get(c.Request(), stripeFlowCookie)
	want, _ := sess.Values[stripeStateKey].(string)
	if want == "" {
		return false, nil
	}
	delete(sess.Values, stripeStateKey)
	if err := sess.Save(c.Request(), c.Response()); err != nil {
		return false, err
	}
	parts := strings.Split(want, ".")
	if len(parts) != 3 || parts[2] != currentSession(c).ID {
		return false, nil
	}
	state := parts[0]
	at, err := strconv.ParseInt(parts[1], 10, 64)
	if err != nil || time.Since(time.Unix(at, 0)) > stripeStateTTL || got == "" {
		return false, nil
	}
	return subtle.ConstantTimeCompare([]byte(state), []byte(got)) == 1, nil
}

// StripeDisconnect handles POST /integrations/stripe/disconnect: Stripe
// removes Partli's access (deauthorize), then the account is forgotten.
func (s *Server) StripeDisconnect(c echo.Context) error {
	res, err := s.stripeConnector().Disconnect(c.Request().Context(), workspaceOf(c))
	var refused *stripe.RefusedError
	switch {
	case errors.Is(err, stripe.ErrNotConnected):
		return redirect(c, "/integrations/stripe")
	case errors.As(err, &refused):
		return s.stripeFail(c, http.StatusBadGateway, "Stripe refused to disconnect the account ("+refused.Code+": "+refused.Description+"). Nothing was changed.")
	case err != nil:
		s.log.Error("stripe disconnect failed", "request_id", requestID(c), "err", err)
		return s.stripeFail(c, http.StatusBadGateway, "Stripe could not be reached to disconnect the account. Nothing was changed: try again in a moment.")
	}
	s.log.Info("stripe account disconnected", "workspace", workspaceOf(c), "account", res.AccountID, "at_stripe", res.AtStripe)
	if !res.AtStripe {
		return redirect(c, "/integrations/stripe?done=forgotten")
	}
	return redirect(c, "/integrations/stripe?done=disconnected")
}

// StripeWebhookSecretForm handles POST /integrations/stripe/webhook-secret:
// the signing secret of the merchant's own endpoint, with the same rule as
// PUT /api/integrations/stripe.
func (s *Server) StripeWebhookSecretForm(c echo.Context) error {
	secret := strings.TrimSpace(c.FormValue("webhookSecret"))
	if msg := stripeSecretProblem(secret); msg != "" {
		msg = strings.ToUpper(msg[:1]) + msg[1:] + "."
		v, err := s.stripeView(c)
		if err != nil {
			return err
		}
		v.SecretValue, v.SecretError = secret, msg
		return s.stripePage(c, http.StatusUnprocessableEntity, v)
	}
	if err := s.store.SetStripeWebhookSecret(c.Request().Context(), workspaceOf(c), secret); err != nil {
		return err
	}
	return redirect(c, "/integrations/stripe?done=webhook-secret")
}

// StripeSecretKeyForm handles POST /integrations/stripe/secret-key: the
// workspace's Stripe secret key for payouts, with the same rule as PUT
// /api/integrations/stripe.
func (s *Server) StripeSecretKeyForm(c echo.Context) error {
	key := strings.TrimSpace(c.FormValue("secretKey"))
	if msg := stripeKeyProblem(key); msg != "" {
		v, err := s.stripeView(c)
		if err != nil {
			return err
		}
		v.KeyError = capitalize(msg) + "."
		return s.stripePage(c, http.StatusUnprocessableEntity, v)
	}
	if err := s.store.SetStripeSecretKey(c.Request().Context(), workspaceOf(c), key); err != nil {
		return err
	}
	// Codes waiting for Stripe get their promotion codes now.
	if err := s.codes.QueueWorkspace(c.Request().Context(), workspaceOf(c)); err != nil {
		return err
	}
	return redirect(c, "/integrations/stripe?done=secret-key")
}

// ProgramGoLive handles GET /programs/:id/go-live: the checklist, which the
// program page loads (and refreshes while the program is a draft); opened
// as a page, the checklist alone.
func (s *Server) ProgramGoLive(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	facts, err := s.store.ProgramGoLive(c.Request().Context(), p.WorkspaceID, p.ID)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("program")
	}
	if err != nil {
		return err
	}
	// The program row was read first: the checklist's own reading is the
	// newer one.
	p.VerifiedAt = facts.VerifiedAt
	v := dashboard.GoLiveView{Program: p, Facts: facts, BaseURL: s.cfg.BaseURL, Fragment: wantsFragment(c)}
	meta := s.meta(c, p.Name+": go live", "programs")
	if v.Fragment {
		return s.page(c, http.StatusOK, meta, dashboard.GoLiveCard(v))
	}
	return s.page(c, http.StatusOK, meta, dashboard.GoLivePage(v))
}
