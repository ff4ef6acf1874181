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

	// NewKey is the full text of a key created by this very request: shown
	// once, never stored or put in a URL.
	NewKey     string
	NewKeyName string
	KeyName    string
	KeyError   string

	User SettingsUserForm
}

// SettingsUserForm is the "Add a finance user" form.
type SettingsUserForm struct {
	Email  string
	Name   string
	Errors map[string]string
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
