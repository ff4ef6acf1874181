package stripe

// Stripe Connect OAuth: a merchant connects their Stripe account from the
// dashboard; Stripe then sends that account's events to the platform's
// endpoint (POST /api/stripe/webhook), which routes them to the workspace
// by the event's account (Intake.Connect). Partli keeps only the account
// id: it reads everything it needs from the events, so the access token the
// exchange returns is not stored.

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v85"
	"github.com/stripe/stripe-go/v85/form"

	"github.com/partli/partli/internal/store"
)

// AccountDeauthorized is the event of a connected account removing the
// platform's access (from its Stripe dashboard, or by our deauthorize).
const AccountDeauthorized = "account.application.deauthorized"

// EventTypes are the events a merchant enables on their own webhook
// endpoint: the ones the intake acts on.
var EventTypes = []string{CheckoutCompleted, CheckoutAsyncPaid, InvoicePaid, InvoicePaymentPaid, ChargeRefunded, ChargeDisputeCreated}

var (
	// ErrNotConfigured: the installation has no Connect client id and
	// platform secret key.
	ErrNotConfigured = errors.New("stripe: Connect is not configured (PARTLI_STRIPE_CLIENT_ID, PARTLI_STRIPE_SECRET_KEY)")
	// ErrAccountTaken: the Stripe account is connected to another workspace.
	ErrAccountTaken = errors.New("stripe: the Stripe account is connected to another workspace")
	// ErrNotConnected: the workspace has no connected account.
	ErrNotConnected = errors.New("stripe: no Stripe account is connected")
)

// RefusedError is Stripe declining an OAuth request (an expired or used
// code, an account that is not connected): Code is Stripe's OAuth error,
// e.g. invalid_grant.
type RefusedError struct {
	Status      int
	Code        string
	Description string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("stripe: oauth refused (%d %s): %s", e.Status, e.Code, e.Description)
}

// ConnectConfig is how Partli reaches Stripe Connect.
type ConnectConfig struct {
	ClientID    string // the platform's ca_…
	SecretKey   string // the platform's secret key
	ConnectBase string // default https://connect.stripe.com
	APIBase     string // default https://api.stripe.com
	// HTTPClient defaults to one with a 20-second timeout.
	HTTPClient *http.Client
}

// Connector connects and disconnects workspaces' Stripe accounts.
type Connector struct {
	store  *store.Store
	cfg    ConnectConfig
	client *stripego.Client
	log    *slog.Logger
}

// NewConnector returns the connector; it talks to Stripe only when asked.
func NewConnector(st *store.Store, cfg ConnectConfig, log *slog.Logger) *Connector {
	if cfg.ConnectBase == "" {
		cfg.ConnectBase = stripego.ConnectURL
	}
	if cfg.APIBase == "" {
		cfg.APIBase = stripego.APIURL
	}
	cfg.ConnectBase = strings.TrimRight(cfg.ConnectBase, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 20 * time.Second}
	}
	backend := func(url string) *stripego.BackendConfig {
		// No retries: an authorization code is single-use, and a person
		// is waiting who can click again.
		return &stripego.BackendConfig{URL: stripego.String(url), HTTPClient: cfg.HTTPClient,
			MaxNetworkRetries: stripego.Int64(0), LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull}}
	}
	client := stripego.NewClient(cfg.SecretKey, stripego.WithBackends(&stripego.Backends{
		API:     stripego.GetBackendWithConfig(stripego.APIBackend, backend(cfg.APIBase)),
		Connect: stripego.GetBackendWithConfig(stripego.ConnectBackend, backend(cfg.ConnectBase)),
	}))
	return &Connector{store: st, cfg: cfg, client: client, log: log}
}

// Configured reports whether the installation can connect Stripe accounts.
func (c *Connector) Configured() bool { return c.cfg.ClientID != "" && c.cfg.SecretKey != "" }

// AuthorizeURL is where the merchant is sent to connect their account
// (stripe-go's own AuthorizeURL always uses connect.stripe.com, so the
// same parameters are written against the configured base).
func (c *Connector) AuthorizeURL(state, redirectURI string) string {
	qs := &form.Values{}
	form.AppendTo(qs, &stripego.AuthorizeURLParams{
		ResponseType: stripego.String("code"),
		ClientID:     stripego.String(c.cfg.ClientID),
		Scope:        stripego.String(string(stripego.OAuthScopeTypeReadWrite)),
		State:        stripego.String(state),
		RedirectURI:  stripego.String(redirectURI),
	})
	return c.cfg.ConnectBase + "/oauth/authorize?" + qs.Encode()
}

// Connected is the outcome of a completed authorization.
type Connected struct {
	AccountID string
	Livemode  bool
	// Replaced is the account the workspace had before, now disconnected
	// at Stripe too; "" when there was none (or it was this one).
	Replaced string
}

// Complete exchanges the authorization code for the connected account and
// records it as the workspace's. An account connected to another workspace
// is ErrAccountTaken and changes nothing.
func (c *Connector) Complete(ctx context.Context, workspaceID, code string) (*Connected, error) {
	if !c.Configured() {
		return nil, ErrNotConfigured
	}
	before, err := c.store.StripeConnection(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	tok, err := c.client.OAuth.Create(ctx, &stripego.OAuthTokenParams{
		GrantType: stripego.String("authorization_code"), Code: stripego.String(code)})
	if err != nil {
		return nil, oauthErr("exchange code", err)
	}
	if !strings.HasPrefix(tok.StripeUserID, "acct_") {
		return nil, fmt.Errorf("stripe: oauth token names no account (stripe_user_id %q)", tok.StripeUserID)
	}
	err = c.store.ConnectStripeAccount(ctx, workspaceID, tok.StripeUserID, tok.Livemode)
	if store.ConflictKey(err) == store.StripeAccountKey {
		// Not deauthorized: that would cut the other workspace off.
		return nil, fmt.Errorf("%w: %s", ErrAccountTaken, tok.StripeUserID)
	}
	if err != nil {
		return nil, err
	}
	out := &Connected{AccountID: tok.StripeUserID, Livemode: tok.Livemode}
	if before.Connected() && *before.AccountID != tok.StripeUserID {
		// The workspace switched accounts: the old one would go on sending
		// events nobody routes. Best effort: the new connection stands.
		out.Replaced = *before.AccountID
		if err := c.deauthorize(ctx, out.Replaced); err != nil {
			c.log.Warn("stripe: deauthorizing the replaced account failed", "workspace", workspaceID,
				"account", out.Replaced, "err", err)
		}
	}
	return out, nil
}

// Disconnected is the outcome of a disconnection.
type Disconnected struct {
	AccountID string
	// AtStripe: Stripe removed Partli's access now (false: it had been
	// removed already, or Connect is no longer configured here).
	AtStripe bool
}

// Disconnect deauthorizes the workspace's account at Stripe and forgets it.
// If Stripe cannot be reached or refuses for another reason than the
// account not being connected, nothing changes and the error says why.
func (c *Connector) Disconnect(ctx context.Context, workspaceID string) (*Disconnected, error) {
	conn, err := c.store.StripeConnection(ctx, workspaceID)
	if err != nil {
		return nil, err
	}
	if !conn.Connected() {
		return nil, ErrNotConnected
	}
	out := &Disconnected{AccountID: *conn.AccountID}
	if c.Configured() {
		err := c.deauthorize(ctx, out.AccountID)
		var refused *RefusedError
		switch {
		case err == nil:
			out.AtStripe = true
		case errors.As(err, &refused) && refused.notConnected():
		default:
			return nil, err
		}
	}
	if _, err := c.store.DisconnectStripeAccount(ctx, workspaceID, out.AccountID); err != nil {
		return nil, err
	}
	return out, nil
}

func (c *Connector) deauthorize(ctx context.Context, accountID string) error {
	_, err := c.client.OAuth.Delete(ctx, &stripego.DeauthorizeParams{
		ClientID: stripego.String(c.cfg.ClientID), StripeUserID: stripego.String(accountID)})
	if err != nil {
		return oauthErr("deauthorize "+accountID, err)
	}
	return nil
}

// notConnected reports whether Stripe refused a deauthorization because
// the account is not connected to the platform (any more).
func (e *RefusedError) notConnected() bool {
	return e.Code == "invalid_client" && strings.Contains(strings.ToLower(e.Description), "not connected")
}

// oauthErr turns stripe-go's OAuth error into a RefusedError; anything else
// (no answer, not JSON) is wrapped as it is.
func oauthErr(what string, err error) error {
	var se *stripego.Error
	if errors.As(err, &se) && (se.OAuthError != "" || (se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500)) {
		code, desc := se.OAuthError, se.OAuthErrorDescription
		if code == "" {
			code, desc = string(se.Code), se.Msg
		}
		return &RefusedError{Status: se.HTTPStatusCode, Code: code, Description: desc}
	}
	return fmt.Errorf("stripe: %s: %w", what, err)
}

// deauthorized handles account.application.deauthorized from the platform
// endpoint: the account removed Partli's access, so the workspace that had
// it connected forgets it (and its Stripe card says so). A delivery that
// arrives after the account was connected again changes nothing.
func (in *Intake) deauthorized(ctx context.Context, ev stripego.Event, reply *Reply) (*Reply, error) {
	at := time.Now().UTC()
	if ev.Created > 0 {
		at = time.Unix(ev.Created, 0).UTC()
	}
	ws, err := in.store.StripeAccountDeauthorized(ctx, ev.Account, at)
	if err != nil {
		return nil, err
	}
	if ws == "" {
		reply.Outcome = "ignored: account " + ev.Account + " is not connected to a workspace (or was connected again since)"
		return reply, nil
	}
	in.log.Info("stripe account deauthorized Partli", "workspace", ws, "account", ev.Account, "event", ev.ID)
	reply.Outcome = "account " + ev.Account + " disconnected: it removed Partli's access in Stripe"
	if _, err := in.store.RecordStripeEvent(ctx, ws+":"+ev.ID, ws, string(ev.Type), reply.Outcome); err != nil {
		return nil, err
	}
	return reply, nil
}
