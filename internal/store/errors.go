package store

import "errors"

// The unique keys a write can clash on, as ConflictError.Key names them:
// the constraint (or unique index) names of the schema.
const (
	// WorkspaceSlugKey: a workspace slug is global.
	WorkspaceSlugKey = "workspaces_slug_key"
	// UserEmailKey: a user's email is global, across workspaces (user_emails).
	UserEmailKey = "user_emails_pkey"
	// UsersEmailKey: a user's email within their workspace.
	UsersEmailKey = "users_email_key"
	// ProgramSlugKey: a program's slug within its workspace.
	ProgramSlugKey = "programs_workspace_id_slug_key"
	// GroupNameKey: a group's name within its program.
	GroupNameKey = "partner_groups_workspace_id_program_id_name_key"
	// RewardSlotKey: one reward per program (or group) and event.
	RewardSlotKey = "rewards_one_per_slot"
	// PartnerSlugKey: link slugs are global, across workspaces.
	PartnerSlugKey = "partner_slugs_pkey"
	// PartnerEmailKey: an email address is a partner of a program once.
	PartnerEmailKey = "partners_program_email_key"
	// PartnerAccountEmailKey: one portal account per email address.
	PartnerAccountEmailKey = "partner_accounts_email_key"
	// PartnerCodeKey: a code is live in one place of its workspace.
	PartnerCodeKey = "partner_codes_code_key"
	// CommissionPerEventKey: one commission per event.
	CommissionPerEventKey = "commissions_one_per_event"
	// StripeAccountKey: a Stripe account is connected to one workspace.
	StripeAccountKey = "stripe_accounts_pkey"
)

// ConflictError is a unique key clash: Key names the key (one of the *Key
// constants). It matches ErrConflict with errors.Is; ConflictKey reads Key
// from any error that wraps one.
type ConflictError struct {
	Key string
}

func (e *ConflictError) Error() string { return ErrConflict.Error() + ": " + e.Key }

// Is makes every ConflictError an ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }

// ConflictKey returns the unique key err clashed on, "" when err is no
// unique clash (or one on a key not known by name).
func ConflictKey(err error) string {
	var c *ConflictError
	if errors.As(err, &c) {
		return c.Key
	}
	return ""
}
