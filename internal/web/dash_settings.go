package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

const (
	settingsKeyNameMax = 100
	// settingsPrograms bounds the apply-page list; workspaces run a handful of programs.
	settingsPrograms = 50
)

// settingsView loads what the settings page shows.
func (s *Server) settingsView(c echo.Context) (dashboard.SettingsView, error) {
	ctx := c.Request().Context()
	ws, _ := c.Get("workspace").(*store.Workspace)
	if ws == nil {
		return dashboard.SettingsView{}, errors.New("web: settings: no workspace on the context")
	}
	u := currentUser(c)
	v := dashboard.SettingsView{CSRF: csrfToken(c), CanEdit: u.Role == "owner", BaseURL: s.cfg.BaseURL,
		Workspace: *ws, CurrentUserID: u.ID, User: dashboard.SettingsUserForm{Errors: map[string]string{}}}
	var err error
	if v.Programs, _, err = s.store.ListPrograms(ctx, ws.ID, store.Page{Limit: settingsPrograms}); err != nil {
		return v, err
	}
	if v.Users, err = s.store.ListUsers(ctx, ws.ID); err != nil {
		return v, err
	}
	if v.Keys, err = s.store.ListAPIKeys(ctx, ws.ID); err != nil {
		return v, err
	}
	if v.Invites, err = s.store.OpenUserInvites(ctx, ws.ID); err != nil {
		return v, err
	}
	v.MailHeld = s.cfg.SMTPURL == ""
	return v, nil
}

func (s *Server) settingsPage(c echo.Context, status int, v dashboard.SettingsView) error {
	return s.page(c, status, s.meta(c, "Settings", "settings"), dashboard.Settings(v))
}

// SettingsPage handles GET /settings.
func (s *Server) SettingsPage(c echo.Context) error {
	v, err := s.settingsView(c)
	if err != nil {
		return err
	}
	var key newAPIKey
	if ok, err := s.takeFlash(c, flashAPIKey, &key); err != nil {
		return err
	} else if ok {
		v.NewKey, v.NewKeyName = key.Key, key.Name
	}
	var inv dashboard.SettingsNewInvite
	if ok, err := s.takeFlash(c, flashTeammateLink, &inv); err != nil {
		return err
	} else if ok {
		v.NewInvite = &inv
	}
	switch c.QueryParam("done") {
	case "key-created":
		v.Flash = "API key created."
		if v.NewKey == "" {
			v.Flash += " Its full text was shown once, right after it was made, and cannot be shown again."
		}
	case "key-revoked":
		v.Flash = "API key revoked: requests that use it are refused from now on."
	case "user-invited":
		v.Flash = "Invitation sent. They appear in the team once they accept it."
		if v.NewInvite == nil {
			v.Flash += " Its link was shown once, right after it was made; invite them again for a new one."
		}
	case "invite-revoked":
		v.Flash = "Invitation revoked: its link no longer works."
	case "password-changed":
		v.Flash = "Password changed. Your other sessions were signed out."
	case "role-changed":
		v.Flash = "Role changed. The user was signed out and has the new role from their next sign-in."
	case "user-removed":
		v.Flash = "User removed and signed out."
	}
	return s.settingsPage(c, http.StatusOK, v)
}

// newAPIKey is a key just made, carried to the settings page to be shown once.
type newAPIKey struct{ Key, Name string }

// CreateKeyForm handles POST /settings/keys. The new key is carried in the
// session to the settings page the browser is sent to, which shows it in
// full this once (a refresh shows it no more, and makes no other key); it
// is never put in a URL or a cookie.
func (s *Server) CreateKeyForm(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	if len([]rune(name)) > settingsKeyNameMax {
		v, err := s.settingsView(c)
		if err != nil {
			return err
		}
		v.KeyName, v.KeyError = name, "Must be at most "+strconv.Itoa(settingsKeyNameMax)+" characters."
		return s.settingsPage(c, http.StatusUnprocessableEntity, v)
	}
	if name == "" {
		name = "API key"
	}
	u := currentUser(c)
	text, key := accounts.NewAPIKey(u.WorkspaceID, name, &u.ID)
	if err := s.store.CreateAPIKey(c.Request().Context(), key); err != nil {
		return err
	}
	if err := s.setFlash(c, flashAPIKey, newAPIKey{Key: text, Name: name}); err != nil {
		return err
	}
	return redirect(c, "/settings?done=key-created#api-keys")
}

// RevokeKeyForm handles POST /settings/keys/:id/revoke. The key stops
// working at once in this process (its cache entry is dropped) and within
// the cache's few seconds on other replicas.
func (s *Server) RevokeKeyForm(c echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	err := s.store.RevokeAPIKey(ctx, workspaceOf(c), id)
	if errors.Is(err, store.ErrNotFound) {
		return notFound("API key")
	}
	if err != nil {
		return err
	}
	s.keys.forget(id)
	return redirect(c, "/settings?done=key-revoked#api-keys")
}

// teammateInviteTTL is how long a teammate's invitation works.
const teammateInviteTTL = 7 * 24 * time.Hour

// InviteUserForm handles POST /settings/users: email and role (owner or
// finance). The invitation is mailed, and its link is shown once to the
// owner too; the invitee chooses their own name and password
// (AcceptTeammateInvite). An address that already has a Partli user
// (addresses are unique across Partli) is refused.
func (s *Server) InviteUserForm(c echo.Context) error {
	ctx := c.Request().Context()
	form := dashboard.SettingsUserForm{
		Email:  strings.TrimSpace(c.FormValue("email")),
		Role:   c.FormValue("role"),
		Errors: map[string]string{},
	}
	if form.Role == "" {
		form.Role = "finance"
	}
	switch {
	case form.Email == "":
		form.Errors["email"] = "Enter their email address."
	case !validEmail(form.Email):
		form.Errors["email"] = "Must be an email address such as jane@example.com."
	}
	if form.Role != "owner" && form.Role != "finance" {
		form.Errors["role"] = "Choose owner or finance."
	}
	fail := func(status int) error {
		v, err := s.settingsView(c)
		if err != nil {
			return err
		}
		v.User = form
		return s.settingsPage(c, status, v)
	}
	if len(form.Errors) > 0 {
		return fail(http.StatusUnprocessableEntity)
	}
	if _, err := s.store.UserByEmail(ctx, form.Email); err == nil {
		form.Errors["email"] = "A user with this email address already exists."
		return fail(http.StatusConflict)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	u := currentUser(c)
	ws, _ := c.Get("workspace").(*store.Workspace)
	inv := &store.UserInvite{ID: ids.New(ids.UserInvite), WorkspaceID: u.WorkspaceID, Email: form.Email, Role: form.Role, InvitedBy: &u.ID}
	token := s.links.Token(email.PurposeTeammateInvite, inv.ID)
	by := u.Name
	if by == "" {
		by = u.Email
	}
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateUserInvite(ctx, inv, email.TokenHash(token), teammateInviteTTL); err != nil {
			return err
		}
		return tx.QueueMail(ctx, store.Mail{WorkspaceID: inv.WorkspaceID, Kind: store.MailTeammateInvite, To: inv.Email,
			Data: store.TeammateInviteMail{InviteID: inv.ID, WorkspaceName: ws.Name, Role: inv.Role, InvitedBy: by, ExpiresAt: inv.ExpiresAt}})
	})
	if err != nil {
		return err
	}
	s.log.Info("teammate invite created", "request_id", requestID(c), "workspace", inv.WorkspaceID, "invite", inv.ID, "role", inv.Role)
	link := s.cfg.BaseURL + "/invite/" + token
	if err := s.setFlash(c, flashTeammateLink, dashboard.SettingsNewInvite{Email: inv.Email, Role: inv.Role, Link: link}); err != nil {
		return err
	}
	return redirect(c, "/settings?done=user-invited#users")
}

// RevokeInviteForm handles POST /settings/invites/:id/revoke.
func (s *Server) RevokeInviteForm(c echo.Context) error {
	err := s.store.RevokeUserInvite(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("invitation")
	}
	if err != nil {
		return err
	}
	return redirect(c, "/settings?done=invite-revoked#users")
}

// userChange is the one rule of the role and removal forms: an owner
// changes other users, never their own account (so a workspace always
// keeps the owner doing it; the store guards concurrent changes too).
func userChange(c echo.Context, what string) error {
	if c.Param("id") == currentUser(c).ID {
		return echo.NewHTTPError(http.StatusConflict, "You cannot "+what+" yourself: ask another owner.")
	}
	return nil
}

func userChangeErr(err error) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notFound("user")
	case errors.Is(err, store.ErrLastOwner):
		return echo.NewHTTPError(http.StatusConflict, "The workspace must keep at least one owner.")
	}
	return err
}

// ChangeRoleForm handles POST /settings/users/:id/role (role=owner|finance).
// The user's sessions end, so the new role holds from their next sign-in.
func (s *Server) ChangeRoleForm(c echo.Context) error {
	if err := userChange(c, "change the role of"); err != nil {
		return err
	}
	role := c.FormValue("role")
	if role != "owner" && role != "finance" {
		return echo.NewHTTPError(http.StatusUnprocessableEntity, "The role must be owner or finance.")
	}
	if err := s.store.SetUserRole(c.Request().Context(), workspaceOf(c), c.Param("id"), role); err != nil {
		return userChangeErr(err)
	}
	return redirect(c, "/settings?done=role-changed#users")
}

// RemoveUserForm handles POST /settings/users/:id/remove: the user is
// deleted and signed out everywhere.
func (s *Server) RemoveUserForm(c echo.Context) error {
	if err := userChange(c, "remove"); err != nil {
		return err
	}
	if err := s.store.RemoveUser(c.Request().Context(), workspaceOf(c), c.Param("id")); err != nil {
		return userChangeErr(err)
	}
	return redirect(c, "/settings?done=user-removed#users")
}
