package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"github.com/partli/partli/internal/ids"
)

// The mail outbox (migration 00013): one row is one message, written in the
// transaction of what it reports and sent after commit by internal/email's
// worker, which claims due rows with FOR UPDATE SKIP LOCKED and leases them
// while it sends. A row keeps its kind and the data that renders it.

// Kinds of mail. The notifications (every kind but the account mails) can
// be turned off by their recipient (mail_preferences); the digest follows
// the preference of MailCommissionCreated.
const (
	MailPasswordReset     = "password_reset"
	MailEmailVerification = "email_verification"
	MailPartnerInvite     = "partner_invite"
	MailTeammateInvite    = "teammate_invite"

	MailApplicationApproved  = "application_approved"
	MailApplicationRejected  = "application_rejected"
	MailCommissionCreated    = "commission_created"
	MailCommissionDigest     = "commission_digest"
	MailCommissionClawedBack = "commission_clawed_back"
	MailPayoutSent           = "payout_sent"
	MailApplicationReceived  = "application_received"
	MailWebhookDisabled      = "webhook_disabled"
)

// Mail statuses.
const (
	MailPending = "pending"
	MailSent    = "sent"
	MailFailed  = "failed"
)

// Mail preference choices; "" (no row) is one mail per event.
const (
	MailOff    = "off"
	MailDigest = "digest"
)

// MailRow is one message of the outbox.
type MailRow struct {
	ID            string          `db:"id"`
	WorkspaceID   string          `db:"workspace_id"`
	Kind          string          `db:"kind"`
	Recipient     string          `db:"recipient"`
	RecipientName string          `db:"recipient_name"`
	Data          json.RawMessage `db:"data"`
	Status        string          `db:"status"`
	Attempts      int             `db:"attempts"`
	NextAttemptAt time.Time       `db:"next_attempt_at"`
	// LeasedUntil is set while a worker sends the row; it is also the
	// lease's token (RecordMailAttempt).
	LeasedUntil *time.Time `db:"leased_until"`
	Subject     string     `db:"subject"`
	MessageID   string     `db:"message_id"`
	LastError   string     `db:"last_error"`
	SentAt      *time.Time `db:"sent_at"`
	CreatedAt   time.Time  `db:"created_at"`
	UpdatedAt   time.Time  `db:"updated_at"`
}

const mailCols = `id, workspace_id, kind, recipient, recipient_name, data, status, attempts, next_attempt_at,
	leased_until, subject, message_id, last_error, sent_at, created_at, updated_at`

// The data of each kind, as stored in mail_outbox.data (the worker renders
// the message from it). Statements that write rows in SQL (a new
// commission, the digest, a partner's notifications) build the same keys.

// TokenMail is a password reset or an email verification: the token is
// derived from TokenID when the mail is sent, never stored.
type TokenMail struct {
	TokenID string `json:"tokenId"`
	// Portal: the token is a portal account's (else a dashboard user's).
	Portal      bool   `json:"portal,omitempty"`
	ProgramName string `json:"programName,omitempty"`
}

// PartnerInviteMail invites a partner to the portal.
type PartnerInviteMail struct {
	InviteID      string    `json:"inviteId"`
	ProgramName   string    `json:"programName"`
	WorkspaceName string    `json:"workspaceName"`
	ExpiresAt     time.Time `json:"expiresAt"`
}

// TeammateInviteMail invites someone to a workspace's dashboard.
type TeammateInviteMail struct {
	InviteID      string    `json:"inviteId"`
	WorkspaceName string    `json:"workspaceName"`
	Role          string    `json:"role"`
	InvitedBy     string    `json:"invitedBy"`
	ExpiresAt     time.Time `json:"expiresAt"`
}

// PartnerMail is what every notification to a partner carries (added by
// QueuePartnerMail from the partner's row), with its kind's own fields.
type PartnerMail struct {
	PartnerID     string `json:"partnerId"`
	ProgramName   string `json:"programName"`
	WorkspaceName string `json:"workspaceName"`
	// A new commission, a clawback or a payout.
	CommissionID string     `json:"commissionId,omitempty"`
	PayoutID     string     `json:"payoutId,omitempty"`
	AmountCents  int64      `json:"amountCents,omitempty"`
	Currency     string     `json:"currency,omitempty"`
	PayableAt    *time.Time `json:"payableAt,omitempty"`
	Reason       string     `json:"reason,omitempty"`
	Method       string     `json:"method,omitempty"`
	Reference    string     `json:"reference,omitempty"`
}

// DigestMail is a day's new commissions of one address, across programs.
type DigestMail struct {
	Count  int              `json:"count"`
	Items  []DigestItem     `json:"items"` // the first maxDigestItems
	Totals map[string]int64 `json:"totals"`
	From   time.Time        `json:"from"`
	To     time.Time        `json:"to"`
}

// DigestItem is one commission of a digest.
type DigestItem struct {
	PartnerID   string    `json:"partnerId"`
	ProgramName string    `json:"programName"`
	AmountCents int64     `json:"amountCents"`
	Currency    string    `json:"currency"`
	PayableAt   time.Time `json:"payableAt"`
	CreatedAt   time.Time `json:"createdAt"`
}

// OwnerMail is a notification to a workspace's owners.
type OwnerMail struct {
	WorkspaceName string `json:"workspaceName"` // added by QueueOwnersMail
	// A new application.
	PartnerID    string `json:"partnerId,omitempty"`
	PartnerName  string `json:"partnerName,omitempty"`
	PartnerEmail string `json:"partnerEmail,omitempty"`
	ProgramName  string `json:"programName,omitempty"`
	// A webhook endpoint disabled after failures.
	EndpointID string `json:"endpointId,omitempty"`
	URL        string `json:"url,omitempty"`
	Reason     string `json:"reason,omitempty"`
}

// Mail is a message to queue as it is (the account mails: no preference
// applies to them).
type Mail struct {
	WorkspaceID string // "" for a portal account's mail
	Kind        string
	To, ToName  string
	Data        any
}

// QueueMail writes one message to the outbox, in the caller's transaction.
func (q Queries) QueueMail(ctx context.Context, m Mail) error {
	data, err := json.Marshal(m.Data)
	if err != nil {
		return fmt.Errorf("store: queue mail: %w", err)
	}
	// The id is made here: Citus takes no subquery (newIDSQL) in VALUES.
	_, err = q.exec(ctx, `INSERT INTO mail_outbox (id, workspace_id, kind, recipient, recipient_name, data)
		VALUES ($1, $2, $3, $4, $5, $6)`, ids.New(ids.Mail), m.WorkspaceID, m.Kind, m.To, m.ToName, data)
	if err != nil {
		return fmt.Errorf("store: queue mail: %w", err)
	}
	return nil
}

// notTurnedOff is the condition that address (an SQL expression) did not
// turn kind off (nor chose the digest instead).
func notTurnedOff(address, kind string) string {
	return `NOT EXISTS (SELECT 1 FROM mail_preferences mp WHERE mp.address = lower(` + address + `) AND mp.kind = ` + kind + `)`
}

// commissionMailSQL writes the new-commission mail of each new commission
// in the data-modifying CTE c (rows of commissions) to its partner, unless
// the partner turned that kind off or chose the daily digest: one INSERT …
// SELECT in the statement that writes the commission, reading the
// preference without a lock. No SQL comments and no parameters (the
// benchmark runs RecordCommissionsSQL as one line).
var commissionMailSQL = `
			INSERT INTO mail_outbox (id, workspace_id, kind, recipient, recipient_name, data)
			SELECT ` + newIDSQL("mail") + `, c.workspace_id, '` + MailCommissionCreated + `', pa.email, pa.name,
				jsonb_build_object('commissionId', c.id, 'partnerId', c.partner_id, 'programName', pr.name,
					'amountCents', c.amount_cents, 'currency', c.currency, 'payableAt', c.payable_at)
			FROM c
			JOIN partners pa ON pa.workspace_id = c.workspace_id AND pa.id = c.partner_id
			JOIN programs pr ON pr.workspace_id = c.workspace_id AND pr.id = c.program_id
			WHERE c.adjusts_id IS NULL AND c.amount_cents > 0
			  AND ` + notTurnedOff("pa.email", "'"+MailCommissionCreated+"'")

// QueuePartnerMail writes a notification of kind to a partner of the
// workspace, unless the partner's address turned that kind off: data (a
// PartnerMail) gains the partner's id, program and workspace names. One
// statement, in the caller's transaction.
func (q Queries) QueuePartnerMail(ctx context.Context, workspaceID, partnerID, kind string, data PartnerMail) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("store: queue partner mail: %w", err)
	}
	_, err = q.exec(ctx, `
		INSERT INTO mail_outbox (id, workspace_id, kind, recipient, recipient_name, data)
		SELECT `+newIDSQL("mail")+`, pa.workspace_id, $3, pa.email, pa.name,
			$4::jsonb || jsonb_build_object('partnerId', pa.id, 'programName', pr.name, 'workspaceName', w.name)
		FROM partners pa
		JOIN programs pr ON pr.workspace_id = pa.workspace_id AND pr.id = pa.program_id
		JOIN workspaces w ON w.id = pa.workspace_id
		WHERE pa.workspace_id = $1 AND pa.id = $2 AND `+notTurnedOff("pa.email", "$3"),
		workspaceID, partnerID, kind, raw)
	if err != nil {
		return fmt.Errorf("store: queue partner mail: %w", err)
	}
	return nil
}

// QueueOwnersMail writes a notification of kind to each owner of the
// workspace who did not turn that kind off: one message per owner, in one
// statement, in the caller's transaction.
func (q Queries) QueueOwnersMail(ctx context.Context, workspaceID, kind string, data OwnerMail) error {
	raw, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("store: queue owners' mail: %w", err)
	}
	_, err = q.exec(ctx, `
		INSERT INTO mail_outbox (id, workspace_id, kind, recipient, recipient_name, data)
		SELECT `+newIDSQL("mail")+`, u.workspace_id, $2, u.email, u.name,
			$3::jsonb || jsonb_build_object('workspaceName', w.name)
		FROM users u JOIN workspaces w ON w.id = u.workspace_id
		WHERE u.workspace_id = $1 AND u.role = 'owner' AND `+notTurnedOff("u.email", "$2")+`
		ORDER BY u.created_at, u.id`, workspaceID, kind, raw)
	if err != nil {
		return fmt.Errorf("store: queue owners' mail: %w", err)
	}
	return nil
}

// PayoutSent is what the "payout sent" mail says.
type PayoutSent struct {
	WorkspaceID, PartnerID, PayoutID string
	AmountCents                      int64
	Currency                         string
	Method                           string // stripe | paypal | wise | manual
	Reference                        string
}

// QueuePayoutSentMail is the hook of payouts for mail: call it in the
// transaction that moves a payout to paid (marked paid with a reference,
// or a Stripe transfer that succeeded), once per payout. It writes the
// "payout sent" mail to the payout's partner, unless they turned it off.
func (tx *Tx) QueuePayoutSentMail(ctx context.Context, p PayoutSent) error {
	return tx.QueuePartnerMail(ctx, p.WorkspaceID, p.PartnerID, MailPayoutSent, PartnerMail{
		PayoutID: p.PayoutID, AmountCents: p.AmountCents, Currency: p.Currency, Method: p.Method, Reference: p.Reference})
}

// maxDigestItems bounds the commissions a digest lists (it counts and
// totals all of them).
const maxDigestItems = 100

// QueueDigests writes the daily digest of up to limit addresses whose day
// is over: one message per address with the new commissions of every
// partner with that address, in any workspace, created since its last
// digest. A digest covers commissions created more than five minutes ago
// only, so none written by a transaction still open is missed. An address
// with nothing new gets no mail; its day starts again. It returns how many
// digests it wrote.
//
// Two statements of one transaction, so that an address's day moves on
// only with its digest written: claimDigestsSQL moves the due addresses'
// day on (mail_preferences is global), locking them so that every replica
// may run it (on plain PostgreSQL a concurrent run skips them; on Citus,
// which serialises writes to a reference table, it waits and then finds
// them no longer due); queueDigestsSQL then gathers each address's
// commissions from its partners in every workspace (on Citus, one query on
// every shard, colocated by workspace) and writes the digests.
func (s *Store) QueueDigests(ctx context.Context, limit int) (int, error) {
	var n int
	err := s.InTx(ctx, func(tx *Tx) error {
		n = 0
		var due []struct {
			Address string    `db:"address"`
			From    time.Time `db:"digest_from"`
			Cut     time.Time `db:"cut"`
		}
		if err := tx.sel(ctx, &due, claimDigestsSQL, limit, MailCommissionCreated); err != nil || len(due) == 0 {
			return err
		}
		addresses, froms, cuts := make([]string, len(due)), make([]string, len(due)), make([]string, len(due))
		for i, d := range due {
			addresses[i] = d.Address
			froms[i], cuts[i] = d.From.UTC().Format(time.RFC3339Nano), d.Cut.UTC().Format(time.RFC3339Nano)
		}
		written, err := tx.exec(ctx, queueDigestsSQL, pq.Array(addresses), pq.Array(froms), pq.Array(cuts),
			maxDigestItems, MailCommissionDigest)
		n = int(written)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: queue digests: %w", err)
	}
	return n, nil
}

// claimDigestsSQL moves the day of up to $1 addresses whose day of kind $2
// (new commissions) is over to the digest's cut, five minutes ago, and
// returns each with its day (digest_from to cut). The oldest days go first.
const claimDigestsSQL = `
	UPDATE mail_preferences mp SET digest_from = due.cut, updated_at = now()
	FROM (
		SELECT address, kind, digest_from, now() - interval '5 minutes' AS cut FROM mail_preferences
		WHERE kind = $2 AND choice = 'digest' AND digest_from <= now() - interval '1 day 5 minutes'
		ORDER BY digest_from LIMIT $1
		FOR UPDATE SKIP LOCKED
	) due
	WHERE mp.address = due.address AND mp.kind = due.kind
	RETURNING due.address, due.digest_from, due.cut`

// queueDigestsSQL writes the digest (kind $5, listing the first $4
// commissions) of each address of $1 with its day, $2 to $3: the new
// commissions of the day of every partner with that address. The CTEs are
// the INSERT's query's: written before INSERT, the same statement inserted
// no row on Citus 13.2, and said nothing.
var queueDigestsSQL = `
	INSERT INTO mail_outbox (id, workspace_id, kind, recipient, recipient_name, data)
	WITH due AS (
		SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS due (address, digest_from, cut)
	), cm AS (
		SELECT due.address, pa.email, pa.name, pr.name AS program_name, c.id, c.partner_id, c.amount_cents, c.currency,
			c.payable_at, c.created_at
		FROM due
		JOIN partners pa ON lower(pa.email) = due.address
		JOIN commissions c ON c.workspace_id = pa.workspace_id AND c.partner_id = pa.id
			AND c.created_at >= due.digest_from AND c.created_at < due.cut
		JOIN programs pr ON pr.workspace_id = c.workspace_id AND pr.id = c.program_id
		WHERE c.adjusts_id IS NULL AND c.amount_cents > 0
	), numbered AS (
		SELECT *, row_number() OVER (PARTITION BY address ORDER BY created_at, id) AS n FROM cm
	), totals AS (
		SELECT address, jsonb_object_agg(currency, cents) AS totals
		FROM (SELECT address, currency, sum(amount_cents) AS cents FROM cm GROUP BY address, currency) t
		GROUP BY address
	), agg AS (
		SELECT address, min(email) AS email, min(name) AS name, count(*) AS count,
			jsonb_agg(jsonb_build_object('partnerId', partner_id, 'programName', program_name,
				'amountCents', amount_cents, 'currency', currency, 'payableAt', payable_at, 'createdAt', created_at)
				ORDER BY n) FILTER (WHERE n <= $4) AS items
		FROM numbered GROUP BY address
	)
	SELECT ` + newIDSQL("mail") + `, '', $5, agg.email, agg.name,
		jsonb_build_object('count', agg.count, 'items', agg.items, 'totals', totals.totals,
			'from', due.digest_from, 'to', due.cut)
	FROM agg JOIN totals USING (address) JOIN due USING (address)`

// ClaimMail leases up to limit due messages for lease: their next attempt
// moves to the lease's end, so no other worker takes them while this one
// sends, and no row lock is held while it talks to the SMTP server. A
// worker that dies loses its lease, and the message is due again when the
// lease ends.
func (q Queries) ClaimMail(ctx context.Context, limit int, lease time.Duration) ([]MailRow, error) {
	rows, err := claimByWorkspace(ctx, q, "mail_outbox", "status = 'pending' AND next_attempt_at <= now()", "next_attempt_at", limit, func(ws string, n int) ([]MailRow, error) {
		var some []MailRow
		err := q.sel(ctx, &some, `
			UPDATE mail_outbox m
			SET next_attempt_at = now() + $2 * interval '1 millisecond',
				leased_until = now() + $2 * interval '1 millisecond'
			FROM (
				SELECT id FROM mail_outbox
				WHERE workspace_id = $3 AND status = 'pending' AND next_attempt_at <= now()
				ORDER BY next_attempt_at
				LIMIT $1
				FOR UPDATE SKIP LOCKED
			) due
			WHERE m.workspace_id = $3 AND m.id = due.id
			RETURNING m.id, m.workspace_id, m.kind, m.recipient, m.recipient_name, m.data, m.status, m.attempts,
				m.next_attempt_at, m.leased_until, m.subject, m.message_id, m.last_error, m.sent_at, m.created_at, m.updated_at`,
			n, lease.Milliseconds(), ws)
		return some, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: claim mail: %w", err)
	}
	return rows, nil
}

// MailAttempt is the outcome of sending a claimed message.
type MailAttempt struct {
	Row MailRow
	// Status is sent, pending (retry after RetryIn) or failed (no retry).
	Status    string
	RetryIn   time.Duration
	Subject   string
	MessageID string
	Error     string
}

// RecordMailAttempt applies an attempt's outcome, only while the worker
// still holds the lease (false otherwise: the lease ran out, and another
// worker may send the message again).
func (q Queries) RecordMailAttempt(ctx context.Context, a MailAttempt) (bool, error) {
	// The times are this process's ($9 now, $4 the retry's): Citus takes
	// no now() inside a CASE, nor timestamptz arithmetic (STABLE).
	now := time.Now().UTC()
	n, err := q.exec(ctx, `
		UPDATE mail_outbox SET status = $3, attempts = attempts + 1, leased_until = NULL,
			next_attempt_at = CASE WHEN $3 = 'pending' THEN $4::timestamptz ELSE next_attempt_at END,
			sent_at = CASE WHEN $3 = 'sent' THEN $9::timestamptz END,
			subject = $5, message_id = $6, last_error = $7, updated_at = now()
		WHERE workspace_id = $8 AND id = $1 AND leased_until = $2 AND status = 'pending'`,
		a.Row.ID, a.Row.LeasedUntil, a.Status, now.Add(a.RetryIn), a.Subject, a.MessageID, a.Error, a.Row.WorkspaceID, now)
	if err != nil {
		return false, fmt.Errorf("store: record mail attempt: %w", err)
	}
	return n == 1, nil
}

// RetryMail makes a failed message of the workspace due now, with a fresh
// retry schedule (Settings → Email).
func (q Queries) RetryMail(ctx context.Context, workspaceID, id string) error {
	n, err := q.exec(ctx, `UPDATE mail_outbox SET status = 'pending', attempts = 0, next_attempt_at = now(),
			leased_until = NULL, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 AND status = 'failed'`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("store: retry mail: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("store: retry mail: %w", ErrNotFound)
	}
	return nil
}

// ListMail lists a workspace's outbox, newest first; status, when set,
// keeps only messages in that status.
func (q Queries) ListMail(ctx context.Context, workspaceID, status string, page Page) ([]MailRow, *string, error) {
	t, id := page.cursorArgs()
	var rows []MailRow
	err := q.sel(ctx, &rows, `SELECT `+mailCols+` FROM mail_outbox
		WHERE workspace_id = $1 AND ($2 = '' OR status = $2)
		  AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
		ORDER BY created_at DESC, id DESC LIMIT $5`, workspaceID, status, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list mail: %w", err)
	}
	rows, next := trim(page, rows, func(m MailRow) Cursor { return Cursor{m.CreatedAt, m.ID} })
	return rows, next, nil
}

// MailPreferences returns what address turned off or gathers in a digest:
// kind → choice (MailOff or MailDigest); a kind absent is sent.
func (q Queries) MailPreferences(ctx context.Context, address string) (map[string]string, error) {
	var rows []struct {
		Kind   string `db:"kind"`
		Choice string `db:"choice"`
	}
	if err := q.sel(ctx, &rows, `SELECT kind, choice FROM mail_preferences WHERE address = lower($1)`, address); err != nil {
		return nil, fmt.Errorf("store: mail preferences: %w", err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Kind] = r.Choice
	}
	return out, nil
}

// SetMailPreference records address's choice for kind: "" sends each
// message again, MailOff sends none, MailDigest (new commissions only)
// gathers a day's in one message, its first day starting now (choosing it
// again keeps the day already started).
func (q Queries) SetMailPreference(ctx context.Context, address, kind, choice string) error {
	address = strings.ToLower(address)
	var err error
	switch choice {
	case "":
		_, err = q.exec(ctx, `DELETE FROM mail_preferences WHERE address = $1 AND kind = $2`, address, kind)
	case MailOff, MailDigest:
		_, err = q.exec(ctx, `
			INSERT INTO mail_preferences (address, kind, choice, digest_from)
			VALUES ($1, $2, $3, CASE WHEN $3 = 'digest' THEN now() END)
			ON CONFLICT (address, kind) DO UPDATE SET choice = EXCLUDED.choice,
				digest_from = CASE WHEN EXCLUDED.choice = 'digest' THEN coalesce(mail_preferences.digest_from, EXCLUDED.updated_at) END,
				updated_at = EXCLUDED.updated_at`, address, kind, choice)
	default:
		return fmt.Errorf("store: mail preference: unknown choice %q", choice)
	}
	if err != nil {
		return fmt.Errorf("store: set mail preference: %w", err)
	}
	return nil
}
