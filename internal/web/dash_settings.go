package web

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/pages/dashboard"
)

// settingsPages registers the settings page: everyone signed in can look;
// owners create and revoke API keys, add finance users, change other
// users' roles and remove them.
func (s *Server) settingsPages(d, owner *echo.Group) {
	d.GET("/settings", s.SettingsPage)
	owner.POST("/settings/keys", s.CreateKeyForm)
	owner.POST("/settings/keys/:id/revoke", s.RevokeKeyForm)
	owner.POST("/settings/users", s.AddUserForm)
	owner.POST("/settings/users/:id/role", s.ChangeRoleForm)
	owner.POST("/settings/users/:id/remove", s.RemoveUserForm)
}

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
	switch c.QueryParam("done") {
	case "key-revoked":
		v.Flash = "API key revoked: requests that use it are refused from now on."
	case "user-added":
		v.Flash = "User added. They can sign in with the email address and password you chose."
	case "role-changed":
		v.Flash = "Role changed. The user was signed out and has the new role from their next sign-in."
	case "user-removed":
		v.Flash = "User removed and signed out."
	}
	return s.settingsPage(c, http.StatusOK, v)
}

// CreateKeyForm handles POST /settings/keys. The reply is the settings page
// itself with the new key in full, shown this once: the key is never put in
// a URL, a cookie or the session, and the reply is not cached.
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
	v, err := s.settingsView(c)
	if err != nil {
		return err
	}
	v.NewKey, v.NewKeyName = text, name
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.settingsPage(c, http.StatusCreated, v)
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

// AddUserForm handles POST /settings/users: a finance user with an email
// address (unique across Partli) and an initial password.
func (s *Server) AddUserForm(c echo.Context) error {
	ctx := c.Request().Context()
	form := dashboard.SettingsUserForm{
		Email:  strings.TrimSpace(c.FormValue("email")),
		Name:   strings.TrimSpace(c.FormValue("name")),
		Errors: map[string]string{},
	}
	password := c.FormValue("password")
	switch {
	case form.Email == "":
		form.Errors["email"] = "Enter their email address."
	case !validEmail(form.Email):
		form.Errors["email"] = "Must be an email address such as jane@example.com."
	}
	if len([]rune(form.Name)) > 200 {
		form.Errors["name"] = "Must be at most 200 characters."
	}
	if err := accounts.CheckNewPassword(password); err != nil {
		form.Errors["password"] = capitalize(err.Error()) + "."
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
	hash, err := accounts.HashPassword(password)
	if err != nil {
		return err
	}
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: workspaceOf(c), Email: form.Email, Name: form.Name,
		PasswordHash: hash, Role: "finance"}
	err = s.store.CreateUser(ctx, u)
	if store.ConflictOn(err, "users_email_key") {
		form.Errors["email"] = "A user with this email address already exists."
		return fail(http.StatusConflict)
	}
	if err != nil {
		return err
	}
	return redirect(c, "/settings?done=user-added#users")
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
