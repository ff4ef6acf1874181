package store

import (
	"encoding/json"
	"time"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/money"
)

// The rows of Partli. JSON tags give the API's shape where a row is replied
// as it is; fields tagged "-" are internal.

type Workspace struct {
	ID        string    `db:"id" json:"id"`
	Name      string    `db:"name" json:"name"`
	Slug      string    `db:"slug" json:"slug"`
	CreatedAt time.Time `db:"created_at" json:"createdAt"`
}

type User struct {
	ID           string     `db:"id"`
	WorkspaceID  string     `db:"workspace_id"`
	Email        string     `db:"email"`
	Name         string     `db:"name"`
	PasswordHash string     `db:"password_hash"`
	Role         string     `db:"role"`
	FailedLogins int        `db:"failed_logins"`
	LockedUntil  *time.Time `db:"locked_until"`
	CreatedAt    time.Time  `db:"created_at"`
}

type APIKey struct {
	ID          string     `db:"id"`
	WorkspaceID string     `db:"workspace_id"`
	Name        string     `db:"name"`
	Prefix      string     `db:"prefix"`
	Hash        []byte     `db:"hash"`
	CreatedBy   *string    `db:"created_by"`
	CreatedAt   time.Time  `db:"created_at"`
	LastUsedAt  *time.Time `db:"last_used_at"`
	RevokedAt   *time.Time `db:"revoked_at"`
}

type Program struct {
	ID                string     `db:"id" json:"id"`
	WorkspaceID       string     `db:"workspace_id" json:"-"`
	Name              string     `db:"name" json:"name"`
	Slug              string     `db:"slug" json:"slug"`
	DestinationURL    string     `db:"destination_url" json:"destinationUrl"`
	Currency          string     `db:"currency" json:"currency"`
	HoldingPeriodDays int        `db:"holding_period_days" json:"holdingPeriodDays"`
	CookieDays        int        `db:"cookie_days" json:"cookieDays"`
	MinPayoutCents    int64      `db:"min_payout_cents" json:"minPayoutCents"`
	AutoApprove       bool       `db:"auto_approve" json:"autoApprove"`
	PayoutSchedule    string     `db:"payout_schedule" json:"payoutSchedule"` // manual, weekly or monthly
	PayoutDay         *int       `db:"payout_day" json:"payoutDay"`           // ISO weekday (weekly) or day of the month (monthly)
	VerifiedAt        *time.Time `db:"verified_at" json:"verifiedAt"`         // first event tracked end to end; nil: a draft
	CreatedAt         time.Time  `db:"created_at" json:"createdAt"`
	UpdatedAt         time.Time  `db:"updated_at" json:"updatedAt"`
	ProgramCodeTerms
}

// Program statuses: a draft until a test event has gone end to end.
const (
	ProgramDraft  = "draft"
	ProgramActive = "active"
)

// Status is "draft" until the program is verified, then "active".
func (p Program) Status() string {
	if p.VerifiedAt == nil {
		return ProgramDraft
	}
	return ProgramActive
}

// MarshalJSON adds `status` and `discount`.
func (p Program) MarshalJSON() ([]byte, error) {
	type plain Program
	return json.Marshal(struct {
		plain
		Status   string    `json:"status"`
		Discount *Discount `json:"discount"`
	}{plain(p), p.Status(), p.Discount()})
}

type Group struct {
	ID                string    `db:"id" json:"id"`
	WorkspaceID       string    `db:"workspace_id" json:"-"`
	ProgramID         string    `db:"program_id" json:"programId"`
	Name              string    `db:"name" json:"name"`
	HoldingPeriodDays *int      `db:"holding_period_days" json:"holdingPeriodDays"`
	CreatedAt         time.Time `db:"created_at" json:"createdAt"`
}

type Reward struct {
	ID             string    `db:"id" json:"id"`
	WorkspaceID    string    `db:"workspace_id" json:"-"`
	ProgramID      string    `db:"program_id" json:"programId"`
	GroupID        *string   `db:"group_id" json:"groupId"`
	Event          string    `db:"event" json:"event"`
	Type           string    `db:"type" json:"type"`
	PercentBP      *int64    `db:"percent_bp" json:"-"`
	AmountCents    *int64    `db:"amount_cents" json:"amountCents"`
	Currency       *string   `db:"currency" json:"currency"` // the program's, for flat rewards
	Interval       string    `db:"interval" json:"interval"`
	DurationMonths *int      `db:"duration_months" json:"durationMonths"`
	CreatedAt      time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt      time.Time `db:"updated_at" json:"updatedAt"`
}

// MarshalJSON adds `percent` as a decimal number (1250 basis points → 12.5).
func (r Reward) MarshalJSON() ([]byte, error) {
	type plain Reward
	var percent json.RawMessage = []byte("null")
	if r.PercentBP != nil {
		percent = []byte(money.FormatPercent(*r.PercentBP))
	}
	return json.Marshal(struct {
		plain
		Percent json.RawMessage `json:"percent"`
	}{plain(r), percent})
}

type Partner struct {
	ID          string    `db:"id" json:"id"`
	WorkspaceID string    `db:"workspace_id" json:"-"`
	ProgramID   string    `db:"program_id" json:"programId"`
	AccountID   *string   `db:"account_id" json:"-"`
	GroupID     *string   `db:"group_id" json:"groupId"`
	Email       string    `db:"email" json:"email"`
	Name        string    `db:"name" json:"name"`
	Slug        string    `db:"slug" json:"slug"`
	Link        string    `db:"-" json:"link"`
	Status      string    `db:"status" json:"status"`
	Website     string    `db:"website" json:"-"`
	Country     string    `db:"country" json:"-"`
	Pitch       string    `db:"pitch" json:"-"`
	CreatedAt   time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt   time.Time `db:"updated_at" json:"updatedAt"`
	// PayoutMethod is how the partner is paid (nil: none chosen), filled
	// in by the handlers that reply with partners.
	PayoutMethod *PartnerPayoutMethod `db:"-" json:"payoutMethod"`
}

// PartnerPayoutMethod is a partner's payout method as the API shows it:
// its type, whether a payout can be sent with it now, and if not, why.
type PartnerPayoutMethod struct {
	Type   string  `json:"type"`
	Ready  bool    `json:"ready"`
	Reason *string `json:"reason"`
}

// What a click is flagged with (Click.Flags). A flagged click still
// redirects and attributes; the flags are for the people reviewing a
// partner's traffic.
const (
	// ClickFlagBot: the user agent looks like a bot or a script.
	ClickFlagBot = "bot"
	// ClickFlagVelocity: many clicks from one IP hash on the partner within
	// minutes (RecordClick adds it).
	ClickFlagVelocity = "velocity"
)

type Click struct {
	ID          string         `db:"id"`
	WorkspaceID string         `db:"workspace_id"`
	ProgramID   string         `db:"program_id"`
	PartnerID   string         `db:"partner_id"`
	IPHash      []byte         `db:"ip_hash"`
	UserAgent   string         `db:"user_agent"`
	Referer     string         `db:"referer"`
	URL         string         `db:"url"`
	Country     string         `db:"country"`
	City        string         `db:"city"`
	Flags       pq.StringArray `db:"flags"` // ClickFlagBot, ClickFlagVelocity
	CreatedAt   time.Time      `db:"created_at"`
}

type Customer struct {
	ID          string    `db:"id"`
	WorkspaceID string    `db:"workspace_id"`
	ExternalID  string    `db:"external_id"`
	Email       string    `db:"email"`
	Name        string    `db:"name"`
	ProgramID   *string   `db:"program_id"`
	PartnerID   *string   `db:"partner_id"`
	ClickID     *string   `db:"click_id"`
	CreatedAt   time.Time `db:"created_at"`
}

// Sale is a sale event as the API shows it.
type Sale struct {
	ID                 string          `db:"id" json:"id"`
	WorkspaceID        string          `db:"workspace_id" json:"-"`
	ExternalID         string          `db:"external_id" json:"externalId"`
	CustomerID         string          `db:"customer_id" json:"-"`
	CustomerExternalID string          `db:"customer_external_id" json:"customerExternalId"`
	ProgramID          string          `db:"program_id" json:"programId"`
	PartnerID          string          `db:"partner_id" json:"partnerId"`
	ClickID            *string         `db:"click_id" json:"clickId"`
	CodeID             *string         `db:"code_id" json:"codeId"`         // the code that attributed it, or agreed
	CouponCode         *string         `db:"coupon_code" json:"couponCode"` // that code as written
	AmountCents        int64           `db:"amount_cents" json:"amountCents"`
	RefundedCents      int64           `db:"refunded_cents" json:"refundedCents"`
	Currency           string          `db:"currency" json:"currency"`
	EventName          string          `db:"event_name" json:"eventName"`
	Metadata           json.RawMessage `db:"metadata" json:"metadata"`
	OccurredAt         time.Time       `db:"occurred_at" json:"occurredAt"`
	CreatedAt          time.Time       `db:"created_at" json:"createdAt"`
}

// Event is a sale or lead row as the pipeline writes it.
type Event struct {
	ID          string          `db:"id"`
	WorkspaceID string          `db:"workspace_id"`
	Kind        string          `db:"kind"`
	ExternalID  string          `db:"external_id"`
	CustomerID  *string         `db:"customer_id"`
	ProgramID   string          `db:"program_id"`
	PartnerID   string          `db:"partner_id"`
	ClickID     *string         `db:"click_id"`
	CodeID      *string         `db:"code_id"`
	AmountCents int64           `db:"amount_cents"`
	Currency    *string         `db:"currency"`
	EventName   string          `db:"event_name"`
	Metadata    json.RawMessage `db:"metadata"`
	OccurredAt  time.Time       `db:"occurred_at"`
	CreatedAt   time.Time       `db:"created_at"`
}

type Commission struct {
	ID                   string    `db:"id" json:"id"`
	WorkspaceID          string    `db:"workspace_id" json:"-"`
	ProgramID            string    `db:"program_id" json:"programId"`
	PartnerID            string    `db:"partner_id" json:"partnerId"`
	CustomerID           *string   `db:"customer_id" json:"-"`
	CustomerExternalID   *string   `db:"customer_external_id" json:"customerExternalId"`
	EventID              string    `db:"event_id" json:"eventId"`
	AdjustsID            *string   `db:"adjusts_id" json:"adjustsId"`
	RewardID             *string   `db:"reward_id" json:"rewardId"`
	Type                 string    `db:"type" json:"type"`
	AmountCents          int64     `db:"amount_cents" json:"amountCents"`
	Currency             string    `db:"currency" json:"currency"`
	Status               string    `db:"status" json:"status"`
	PayableAt            time.Time `db:"payable_at" json:"payableAt"`
	RewardType           *string   `db:"reward_type" json:"-"`
	RewardPercentBP      *int64    `db:"reward_percent_bp" json:"-"`
	RewardAmountCents    *int64    `db:"reward_amount_cents" json:"-"`
	RewardInterval       *string   `db:"reward_interval" json:"-"`
	RewardDurationMonths *int      `db:"reward_duration_months" json:"-"`
	SaleAmountCents      int64     `db:"sale_amount_cents" json:"-"`
	OccurredAt           time.Time `db:"occurred_at" json:"-"`
	PayoutID             *string   `db:"payout_id" json:"-"`
	CreatedAt            time.Time `db:"created_at" json:"createdAt"`
	UpdatedAt            time.Time `db:"updated_at" json:"updatedAt"`
}

type HistoryEntry struct {
	From   *string   `db:"from_status" json:"from"`
	To     string    `db:"to_status" json:"to"`
	Reason string    `db:"reason" json:"reason"`
	Actor  string    `db:"actor" json:"actor"`
	At     time.Time `db:"created_at" json:"at"`
}

// WebhookEvent is an outbox row: an event to deliver to the workspace's endpoints.
type WebhookEvent struct {
	ID          string          `db:"id"`
	WorkspaceID string          `db:"workspace_id"`
	Type        string          `db:"type"`
	Payload     json.RawMessage `db:"payload"`
	CreatedAt   time.Time       `db:"created_at"`
}
