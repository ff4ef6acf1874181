package stripe

// The Stripe calls of payouts, with the secret key of the platform that
// pays (the workspace's own, else the installation's): partners' Express
// accounts and their onboarding links, and the transfers that pay them.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v85"

	"github.com/partli/partli/internal/store"
)

// PaymentsConfig is how Partli reaches Stripe's API for payouts.
type PaymentsConfig struct {
	APIBase string // default https://api.stripe.com
	// HTTPClient defaults to one with a 30-second timeout.
	HTTPClient *http.Client
	// NetworkRetries is how often a request that got no answer (or a 5xx,
	// a 409 or a lock timeout) is sent again, with the same idempotency
	// key, before the caller is told; default 2.
	NetworkRetries *int64
}

// Payments makes payout calls to Stripe; it holds no key of its own.
type Payments struct {
	cfg PaymentsConfig
}

// NewPayments returns the payout calls.
func NewPayments(cfg PaymentsConfig) *Payments {
	if cfg.APIBase == "" {
		cfg.APIBase = stripego.APIURL
	}
	cfg.APIBase = strings.TrimRight(cfg.APIBase, "/")
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if cfg.NetworkRetries == nil {
		cfg.NetworkRetries = stripego.Int64(2)
	}
	return &Payments{cfg: cfg}
}

func (p *Payments) client(key string) *stripego.Client {
	backend := stripego.GetBackendWithConfig(stripego.APIBackend, &stripego.BackendConfig{
		URL: stripego.String(p.cfg.APIBase), HTTPClient: p.cfg.HTTPClient, MaxNetworkRetries: p.cfg.NetworkRetries,
		LeveledLogger: &stripego.LeveledLogger{Level: stripego.LevelNull}})
	return stripego.NewClient(key, stripego.WithBackends(&stripego.Backends{API: backend}))
}

// RefusedByStripe is Stripe answering a request with an error that settles
// it: the request did nothing, and the same request would be refused
// again (a 4xx other than 409 and 429). Anything else that goes wrong —
// no answer, a timeout, a 5xx, a 409, a 429 — leaves it unknown whether
// Stripe did the work: ask again with the same idempotency key.
type RefusedByStripe struct {
	Status  int
	Type    string
	Code    string
	Message string
}

func (e *RefusedByStripe) Error() string {
	if e.Code != "" {
		return fmt.Sprintf("stripe refused (%d %s): %s", e.Status, e.Code, e.Message)
	}
	return fmt.Sprintf("stripe refused (%d): %s", e.Status, e.Message)
}

// refusedOrUnknown turns stripe-go's error into a *RefusedByStripe when it
// settles the request, and wraps it as it is otherwise.
func refusedOrUnknown(what string, err error) error {
	var se *stripego.Error
	if errors.As(err, &se) && se.HTTPStatusCode >= 400 && se.HTTPStatusCode < 500 &&
		se.HTTPStatusCode != http.StatusConflict && se.HTTPStatusCode != http.StatusTooManyRequests {
		msg := se.Msg
		if msg == "" {
			msg = http.StatusText(se.HTTPStatusCode)
		}
		return &RefusedByStripe{Status: se.HTTPStatusCode, Type: string(se.Type), Code: string(se.Code), Message: msg}
	}
	return fmt.Errorf("stripe: %s: %w", what, err)
}

// CreateExpressAccount creates an Express connected account for a partner,
// able to receive transfers. idempotencyKey (made from the partner's id)
// makes concurrent first onboardings one account.
func (p *Payments) CreateExpressAccount(ctx context.Context, key, idempotencyKey, email string, metadata map[string]string) (string, error) {
	params := &stripego.AccountCreateParams{
		Type:  stripego.String("express"),
		Email: stripego.String(email),
		Capabilities: &stripego.AccountCreateCapabilitiesParams{
			Transfers: &stripego.AccountCreateCapabilitiesTransfersParams{Requested: stripego.Bool(true)},
		},
	}
	params.SetIdempotencyKey(idempotencyKey)
	for k, v := range metadata {
		params.AddMetadata(k, v)
	}
	acct, err := p.client(key).V1Accounts.Create(ctx, params)
	if err != nil {
		return "", refusedOrUnknown("create Express account", err)
	}
	if !strings.HasPrefix(acct.ID, "acct_") {
		return "", fmt.Errorf("stripe: created an account without an acct_ id (%q)", acct.ID)
	}
	return acct.ID, nil
}

// OnboardingLink is an Account Link that takes the partner through Stripe's
// onboarding of their account; refreshURL is where Stripe sends them when
// the link has expired, returnURL when they are done (or leave).
func (p *Payments) OnboardingLink(ctx context.Context, key, accountID, refreshURL, returnURL string) (string, error) {
	link, err := p.client(key).V1AccountLinks.Create(ctx, &stripego.AccountLinkCreateParams{
		Account: stripego.String(accountID), RefreshURL: stripego.String(refreshURL), ReturnURL: stripego.String(returnURL),
		Type: stripego.String("account_onboarding")})
	if err != nil {
		return "", refusedOrUnknown("create account link", err)
	}
	if link.URL == "" {
		return "", errors.New("stripe: the account link has no url")
	}
	return link.URL, nil
}

// connectedAccount is what Partli reads of an account (from the API or an
// account.updated event, in any API version).
type connectedAccount struct {
	ID               string `json:"id"`
	PayoutsEnabled   bool   `json:"payouts_enabled"`
	DetailsSubmitted bool   `json:"details_submitted"`
	Requirements     *struct {
		DisabledReason string   `json:"disabled_reason"`
		CurrentlyDue   []string `json:"currently_due"`
		PastDue        []string `json:"past_due"`
	} `json:"requirements"`
}

// state says whether the account can be paid out to and, if not, why.
func (a connectedAccount) state() store.StripeAccountState {
	s := store.StripeAccountState{PayoutsEnabled: a.PayoutsEnabled, DetailsSubmitted: a.DetailsSubmitted}
	if a.PayoutsEnabled {
		return s
	}
	var why []string
	if !a.DetailsSubmitted {
		why = append(why, "onboarding with Stripe is not finished")
	}
	if r := a.Requirements; r != nil {
		if r.DisabledReason != "" {
			why = append(why, "Stripe holds payouts ("+strings.NewReplacer("_", " ", ".", ": ").Replace(r.DisabledReason)+")")
		}
		due := append(append([]string{}, r.PastDue...), r.CurrentlyDue...)
		if len(due) > 0 {
			if len(due) > 5 {
				due = append(due[:5], fmt.Sprintf("and %d more", len(due)-5))
			}
			why = append(why, "Stripe needs "+strings.Join(due, ", "))
		}
	}
	if len(why) == 0 {
		why = append(why, "Stripe has not enabled payouts to this account yet")
	}
	s.Requirements = strings.Join(why, "; ")
	return s
}

// AccountState reads a connected account's state from Stripe.
func (p *Payments) AccountState(ctx context.Context, key, accountID string) (store.StripeAccountState, error) {
	acct, err := p.client(key).V1Accounts.GetByID(ctx, accountID, nil)
	if err != nil {
		return store.StripeAccountState{}, refusedOrUnknown("read account "+accountID, err)
	}
	var a connectedAccount
	if acct.LastResponse == nil || json.Unmarshal(acct.LastResponse.RawJSON, &a) != nil {
		return store.StripeAccountState{}, fmt.Errorf("stripe: reading account %s: not an account", accountID)
	}
	return a.state(), nil
}

// TransferRequest is one transfer of a payout attempt.
type TransferRequest struct {
	AmountCents    int64
	Currency       string
	Destination    string
	IdempotencyKey string
	WorkspaceID    string
	PayoutID       string
	PartnerID      string
}

// Metadata keys Partli puts on its transfers.
const (
	MetadataPayoutID    = "partli_payout_id"
	MetadataWorkspaceID = "partli_workspace_id"
	MetadataPartnerID   = "partli_partner_id"
)

// Transfer sends a payout's money to the partner's account and returns the
// transfer's id. A *RefusedByStripe error means no transfer was made; any
// other error leaves it unknown, and asking again with the same
// IdempotencyKey (within Stripe's 24 hours) is safe: Stripe answers with
// the transfer it made, or makes it.
func (p *Payments) Transfer(ctx context.Context, key string, r TransferRequest) (string, error) {
	params := &stripego.TransferCreateParams{
		Amount:        stripego.Int64(r.AmountCents),
		Currency:      stripego.String(strings.ToLower(r.Currency)),
		Destination:   stripego.String(r.Destination),
		TransferGroup: stripego.String(r.PayoutID),
		Description:   stripego.String("Partli payout " + r.PayoutID),
	}
	params.SetIdempotencyKey(r.IdempotencyKey)
	params.AddMetadata(MetadataPayoutID, r.PayoutID)
	params.AddMetadata(MetadataWorkspaceID, r.WorkspaceID)
	params.AddMetadata(MetadataPartnerID, r.PartnerID)
	tr, err := p.client(key).V1Transfers.Create(ctx, params)
	if err != nil {
		return "", refusedOrUnknown("transfer "+r.PayoutID, err)
	}
	if !strings.HasPrefix(tr.ID, "tr_") {
		return "", fmt.Errorf("stripe: transfer %s: the answer names no transfer (%q)", r.PayoutID, tr.ID)
	}
	return tr.ID, nil
}

// FindTransfer looks for the transfer of a payout among the platform's
// transfers of its transfer group (the payout id), by the payout id in its
// metadata: after Stripe's idempotency keys have expired (24 hours), this
// is how an attempt whose answer was lost is settled without paying twice.
// It returns "" when there is none.
func (p *Payments) FindTransfer(ctx context.Context, key, payoutID string) (string, error) {
	params := &stripego.TransferListParams{TransferGroup: stripego.String(payoutID)}
	params.Limit = stripego.Int64(100)
	for tr, err := range p.client(key).V1Transfers.List(ctx, params).All(ctx) {
		if err != nil {
			return "", refusedOrUnknown("list transfers of "+payoutID, err)
		}
		if tr.TransferGroup == payoutID && tr.Metadata[MetadataPayoutID] == payoutID {
			return tr.ID, nil
		}
	}
	return "", nil
}
