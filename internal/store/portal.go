package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// PartnerAccount is a portal login: one person, possibly a partner in
// several programs of several workspaces.
type PartnerAccount struct {
	ID           string     `db:"id"`
	Email        string     `db:"email"`
	Name         string     `db:"name"`
	PasswordHash *string    `db:"password_hash"`
	FailedLogins int        `db:"failed_logins"`
	LockedUntil  *time.Time `db:"locked_until"`
	CreatedAt    time.Time  `db:"created_at"`
	// EmailVerifiedAt is when the account proved it receives mail at Email
	// (ProvePartnerAccount); nil for an account made by the public
	// application form, which anyone can fill in with anyone's address.
	EmailVerifiedAt *time.Time `db:"email_verified_at"`
}

// Verified reports whether the account's email address was proven.
func (a *PartnerAccount) Verified() bool { return a.EmailVerifiedAt != nil }

// CreatePartnerAccount inserts a portal account whose email address is not
// proven (the public application form); a taken email is ErrConflict.
func (q Queries) CreatePartnerAccount(ctx context.Context, a *PartnerAccount) error {
	err := q.get(ctx, &a.CreatedAt, `INSERT INTO partner_accounts (id, email, name, password_hash)
		VALUES ($1, $2, $3, $4) RETURNING created_at`, a.ID, a.Email, a.Name, a.PasswordHash)
	if err != nil {
		return fmt.Errorf("store: create partner account: %w", err)
	}
	return nil
}

// ProvePartnerAccount is what proof of an email address does (an accepted
// invitation; a mailed verification link later): the account of a.Email,
// with a.PasswordHash as its password and marked verified. With no account
// for the address it creates one (a.ID, a.Name). An unproven account of
// the address is taken over: its password and name are replaced and its
// sign-in count cleared; took says so, and the caller ends the account's
// sessions (whoever made it may not own the address). A proven account of
// the address is left alone: ErrConflict (its password is required
// instead). It fills in a.ID and the rest of the row.
func (q Queries) ProvePartnerAccount(ctx context.Context, a *PartnerAccount) (took bool, err error) {
	var row struct {
		PartnerAccount
		Created bool `db:"created"`
	}
	err = q.get(ctx, &row, `INSERT INTO partner_accounts AS pa (id, email, name, password_hash, email_verified_at)
		VALUES ($1, $2, $3, $4, now())
		ON CONFLICT ((lower(email))) DO UPDATE SET password_hash = EXCLUDED.password_hash, name = EXCLUDED.name,
			email_verified_at = EXCLUDED.email_verified_at, failed_logins = 0, locked_until = NULL
		WHERE pa.email_verified_at IS NULL
		RETURNING pa.*, (xmax = 0) AS created`, a.ID, a.Email, a.Name, a.PasswordHash)
	if errors.Is(err, ErrNotFound) { // the address's account is proven already
		return false, fmt.Errorf("store: prove partner account: %w", &ConflictError{Key: PartnerAccountEmailKey})
	}
	if err != nil {
		return false, fmt.Errorf("store: prove partner account: %w", err)
	}
	*a = row.PartnerAccount
	return !row.Created, nil
}

// UnlinkEnrollments detaches every enrollment from a portal account: the
// partners stay in their programs, without portal access until an
// invitation links them again.
func (q Queries) UnlinkEnrollments(ctx context.Context, accountID string) error {
	if _, err := q.exec(ctx, `UPDATE partners SET account_id = NULL, updated_at = now() WHERE account_id = $1`, accountID); err != nil {
		return fmt.Errorf("store: unlink enrollments: %w", err)
	}
	return nil
}

// PartnerAccountByEmail finds a portal account by email, any case.
func (q Queries) PartnerAccountByEmail(ctx context.Context, email string) (*PartnerAccount, error) {
	var a PartnerAccount
	if err := q.get(ctx, &a, `SELECT * FROM partner_accounts WHERE lower(email) = lower($1)`, email); err != nil {
		return nil, fmt.Errorf("store: partner account: %w", err)
	}
	return &a, nil
}

// PartnerAccountByID returns one portal account.
func (q Queries) PartnerAccountByID(ctx context.Context, id string) (*PartnerAccount, error) {
	var a PartnerAccount
	if err := q.get(ctx, &a, `SELECT * FROM partner_accounts WHERE id = $1`, id); err != nil {
		return nil, fmt.Errorf("store: partner account: %w", err)
	}
	return &a, nil
}

// LinkPartnerAccount attaches an enrollment to a portal account.
func (q Queries) LinkPartnerAccount(ctx context.Context, workspaceID, partnerID, accountID string) error {
	n, err := q.exec(ctx, `UPDATE partners SET account_id = $3, updated_at = now() WHERE workspace_id = $1 AND id = $2`,
		workspaceID, partnerID, accountID)
	if err != nil {
		return fmt.Errorf("store: link partner account: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Enrollment is one program a portal account is a partner in.
type Enrollment struct {
	Partner
	ProgramName    string `db:"program_name"`
	ProgramSlug    string `db:"program_slug"`
	DestinationURL string `db:"destination_url"`
	HoldingDays    int    `db:"holding_days"`
	CookieDays     int    `db:"cookie_days"`
	WorkspaceName  string `db:"workspace_name"`
}

const enrollmentSelect = `SELECT pa.id, pa.workspace_id, pa.program_id, pa.account_id, pa.group_id, pa.email, pa.name,
	pa.slug, pa.status, pa.website, pa.country, pa.pitch, pa.created_at, pa.updated_at,
	pr.name AS program_name, pr.slug AS program_slug, pr.destination_url,
	coalesce(g.holding_period_days, pr.holding_period_days) AS holding_days, pr.cookie_days, w.name AS workspace_name
	FROM partners pa
	JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
	JOIN workspaces w ON w.id = pa.workspace_id
	LEFT JOIN partner_groups g ON g.workspace_id = pa.workspace_id AND g.id = pa.group_id`

// Enrollments lists the programs of a portal account, newest first.
func (q Queries) Enrollments(ctx context.Context, accountID string) ([]Enrollment, error) {
	var es []Enrollment
	if err := q.sel(ctx, &es, enrollmentSelect+` WHERE pa.account_id = $1 ORDER BY pa.created_at DESC, pa.id DESC`, accountID); err != nil {
		return nil, fmt.Errorf("store: enrollments: %w", err)
	}
	return es, nil
}

// EnrollmentOf returns one enrollment, only when it belongs to the account.
func (q Queries) EnrollmentOf(ctx context.Context, accountID, partnerID string) (*Enrollment, error) {
	var e Enrollment
	if err := q.get(ctx, &e, enrollmentSelect+` WHERE pa.account_id = $1 AND pa.id = $2`, accountID, partnerID); err != nil {
		return nil, fmt.Errorf("store: enrollment: %w", err)
	}
	return &e, nil
}

// Earnings totals a partner's commissions per status and currency.
func (q Queries) Earnings(ctx context.Context, workspaceID, partnerID string) ([]StatusAmount, error) {
	var rows []StatusAmount
	err := q.sel(ctx, &rows, `SELECT status, currency, count(*) AS n, sum(amount_cents) AS cents FROM commissions
		WHERE workspace_id = $1 AND partner_id = $2 GROUP BY status, currency ORDER BY currency, status`, workspaceID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: earnings: %w", err)
	}
	return rows, nil
}

// PartnerCounts are a partner's funnel numbers.
type PartnerCounts struct {
	Clicks int64 `db:"clicks"`
	Leads  int64 `db:"leads"`
	Sales  int64 `db:"sales"`
}

// CountsOf counts a partner's clicks, leads and sales.
func (q Queries) CountsOf(ctx context.Context, workspaceID, partnerID string) (*PartnerCounts, error) {
	var c PartnerCounts
	err := q.get(ctx, &c, `SELECT
		(SELECT count(*) FROM clicks WHERE workspace_id = $1 AND partner_id = $2) AS clicks,
		(SELECT count(*) FROM events WHERE workspace_id = $1 AND partner_id = $2 AND kind = 'lead') AS leads,
		(SELECT count(*) FROM events WHERE workspace_id = $1 AND partner_id = $2 AND kind = 'sale') AS sales`,
		workspaceID, partnerID)
	if err != nil {
		return nil, fmt.Errorf("store: partner counts: %w", err)
	}
	return &c, nil
}

// PortalCommission is a commission as its partner sees it.
type PortalCommission struct {
	Commission
	ClawbackReason *string `db:"clawback_reason"`
}

// RecentCommissions lists a partner's latest commissions with the reason of
// any clawback.
func (q Queries) RecentCommissions(ctx context.Context, workspaceID, partnerID string, limit int) ([]PortalCommission, error) {
	var rows []PortalCommission
	err := q.sel(ctx, &rows, `SELECT c.*, cu.external_id AS customer_external_id,
			(SELECT h.reason FROM commission_history h WHERE h.workspace_id = c.workspace_id
				AND h.commission_id = c.id AND h.to_status = 'clawed_back' ORDER BY h.id DESC LIMIT 1) AS clawback_reason
		FROM commissions c LEFT JOIN customers cu ON cu.workspace_id = c.workspace_id AND cu.id = c.customer_id
		WHERE c.workspace_id = $1 AND c.partner_id = $2
		ORDER BY c.created_at DESC, c.id DESC LIMIT $3`, workspaceID, partnerID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent commissions: %w", err)
	}
	return rows, nil
}

// EarningsByDay is a partner's daily commissions over the last 30 days, in
// its main currency.
func (q Queries) EarningsByDay(ctx context.Context, workspaceID, partnerID string, now time.Time) (string, []DayAmount, error) {
	since := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -29)
	var currency string
	if err := q.get(ctx, &currency, `SELECT coalesce((SELECT currency FROM commissions
		WHERE workspace_id = $1 AND partner_id = $2 AND created_at >= $3
		GROUP BY currency ORDER BY sum(amount_cents) DESC LIMIT 1), '')`, workspaceID, partnerID, since); err != nil {
		return "", nil, fmt.Errorf("store: earnings currency: %w", err)
	}
	var days []DayAmount
	err := q.sel(ctx, &days, `
		WITH days AS (SELECT generate_series($3::date, $3::date + 29, interval '1 day')::date AS day),
		c AS (SELECT created_at::date AS day, sum(amount_cents) AS cents FROM commissions
			WHERE workspace_id = $1 AND partner_id = $2 AND currency = $4 AND created_at >= $3 AND status <> 'clawed_back' GROUP BY 1)
		SELECT days.day, 0::bigint AS sale_cents, coalesce(c.cents, 0) AS commission_cents
		FROM days LEFT JOIN c USING (day) ORDER BY days.day`, workspaceID, partnerID, since, currency)
	if err != nil {
		return "", nil, fmt.Errorf("store: earnings by day: %w", err)
	}
	return currency, days, nil
}

// PartnerPayout is a payout as its partner sees it.
type PartnerPayout struct {
	ID            string     `db:"id"`
	Currency      string     `db:"currency"`
	AmountCents   int64      `db:"amount_cents"`
	Status        string     `db:"status"`
	Method        string     `db:"method"`
	Reference     string     `db:"reference"`
	FailureReason string     `db:"failure_reason"`
	PaidAt        *time.Time `db:"paid_at"`
	CreatedAt     time.Time  `db:"created_at"`
}

// PayoutsOf lists a partner's payouts, newest first.
func (q Queries) PayoutsOf(ctx context.Context, workspaceID, partnerID string, limit int) ([]PartnerPayout, error) {
	var rows []PartnerPayout
	err := q.sel(ctx, &rows, `SELECT id, currency, amount_cents, status, method, reference, failure_reason, paid_at, created_at
		FROM payouts WHERE workspace_id = $1 AND partner_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3`,
		workspaceID, partnerID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: payouts of partner: %w", err)
	}
	return rows, nil
}

// CreateInvite stores an invite's token hash.
func (q Queries) CreateInvite(ctx context.Context, id, workspaceID, partnerID string, tokenHash []byte, expires time.Time) error {
	err := q.atomically(ctx, func(q Queries) error {
		if _, err := q.exec(ctx, `INSERT INTO invite_tokens (token_hash, workspace, invite_id) VALUES ($1, $2, $3)`,
			tokenHash, workspaceID, id); err != nil {
			return err
		}
		_, err := q.exec(ctx, `INSERT INTO partner_invites (id, workspace_id, partner_id, token_hash, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, id, workspaceID, partnerID, tokenHash, expires)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: create invite: %w", err)
	}
	return nil
}

// Invite is an open invitation and the partner it is for.
type Invite struct {
	ID          string     `db:"id"`
	WorkspaceID string     `db:"workspace_id"`
	PartnerID   string     `db:"partner_id"`
	ExpiresAt   time.Time  `db:"expires_at"`
	AcceptedAt  *time.Time `db:"accepted_at"`
	Email       string     `db:"email"`
	Name        string     `db:"name"`
	ProgramName string     `db:"program_name"`
}

// InviteByTokenHash finds an invite by the SHA-256 of its token.
func (q Queries) InviteByTokenHash(ctx context.Context, hash []byte) (*Invite, error) {
	var at struct {
		Workspace string `db:"workspace"`
		InviteID  string `db:"invite_id"`
	}
	if err := q.get(ctx, &at, `SELECT workspace, invite_id FROM invite_tokens WHERE token_hash = $1`, hash); err != nil {
		return nil, fmt.Errorf("store: invite: %w", err)
	}
	var inv Invite
	err := q.get(ctx, &inv, `SELECT i.id, i.workspace_id, i.partner_id, i.expires_at, i.accepted_at,
			pa.email, pa.name, pr.name AS program_name
		FROM partner_invites i
		JOIN partners pa ON pa.workspace_id = i.workspace_id AND pa.id = i.partner_id
		JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
		WHERE i.workspace_id = $1 AND i.id = $2`, at.Workspace, at.InviteID)
	if err != nil {
		return nil, fmt.Errorf("store: invite: %w", err)
	}
	return &inv, nil
}

// AcceptInvite marks an invite used; false when it was already used.
func (q Queries) AcceptInvite(ctx context.Context, id string) (bool, error) {
	n, err := q.exec(ctx, `UPDATE partner_invites SET accepted_at = now() WHERE id = $1 AND accepted_at IS NULL`, id)
	return n == 1, err
}

// DefaultSaleReward and GroupRewards give the reward terms a partner sees.
func (q Queries) PartnerRewards(ctx context.Context, workspaceID, programID string, groupID *string) ([]Reward, error) {
	var rs []Reward
	err := q.sel(ctx, &rs, rewardSelect+` WHERE r.workspace_id = $1 AND r.program_id = $2
		AND (r.group_id IS NULL OR r.group_id = $3) ORDER BY r.event DESC, r.group_id NULLS LAST`, workspaceID, programID, groupID)
	if err != nil {
		return nil, fmt.Errorf("store: partner rewards: %w", err)
	}
	return rs, nil
}
