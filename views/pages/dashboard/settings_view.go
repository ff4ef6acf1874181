package dashboard

import (
	"github.com/partli/partli/internal/store"
)

// SettingsView is the settings page: the workspace, its users and its API keys.
type SettingsView struct {
	CSRF          string
	CanEdit       bool
	Flash         string
	BaseURL       string
	Workspace     store.Workspace
	Programs      []store.Program
	Users         []store.User
	CurrentUserID string
	Keys          []store.APIKey

	// NewKey is the full text of a key just created, shown once: carried
	// from the POST that made it in the session, and taken from it.
	NewKey     string
	NewKeyName string
	KeyName    string
	KeyError   string

	// Invites are the invitations not accepted yet; NewInvite is the link
	// of one just made, shown once (it was mailed too).
	Invites   []store.UserInvite
	NewInvite *SettingsNewInvite
	User      SettingsUserForm
	// MailHeld: no SMTP server is set up, so invitations are not mailed.
	MailHeld bool
}

// SettingsNewInvite is an invitation link to show once.
type SettingsNewInvite struct {
	Email, Role, Link string
}

// SettingsUserForm is the "Invite a teammate" form.
type SettingsUserForm struct {
	Email  string
	Role   string
	Errors map[string]string
}

// settingsRoleChecked reports whether the invite form's role choice is
// role (finance unless owner was chosen).
func settingsRoleChecked(f SettingsUserForm, role string) bool {
	if f.Role == "owner" {
		return role == "owner"
	}
	return role == "finance"
}

// settingsKeyLabel shows a key by its prefix: "pk_live_AbCd…".
func settingsKeyLabel(k store.APIKey) string { return k.Prefix + "…" }

func settingsKeyName(k store.APIKey) string {
	if k.Name == "" {
		return "Unnamed key"
	}
	return k.Name
}

// settingsOtherRole is the role a user's role button offers.
func settingsOtherRole(role string) string {
	if role == "owner" {
		return "finance"
	}
	return "owner"
}

func settingsRoleClass(role string) string {
	if role == "owner" {
		return "badge badge-green"
	}
	return "badge badge-gray"
}
