package web

import (
	"errors"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/layouts"
	"github.com/partli/partli/views/pages"
)

// A teammate's invitation (InviteUserForm) is accepted at /invite/{token}:
// the invitee chooses their own name and password, and becomes a user of
// the workspace with the role the owner chose.

func (s *Server) teammateInvite(c echo.Context) (*store.UserInvite, error) {
	inv, err := s.store.UserInviteByTokenHash(c.Request().Context(), email.TokenHash(c.Param("token")))
	if errors.Is(err, store.ErrNotFound) || (err == nil && !inv.Open(time.Now())) {
		return nil, nil
	}
	return inv, err
}

func (s *Server) teammateGone(c echo.Context) error {
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, http.StatusNotFound, layouts.Base("Invitation expired", pages.LinkGone(pages.LinkGoneView{
		Heading: "This invitation does not work any more",
		Message: "An invitation works once, for 7 days, until the owner revokes it. Ask the workspace's owner for a new one.",
		Href:    "/login", Label: "Sign in"})))
}

func (s *Server) teammateView(c echo.Context, inv *store.UserInvite) pages.PasswordView {
	role := "an owner"
	if inv.Role == "finance" {
		role = "finance staff"
	}
	return pages.PasswordView{CSRF: csrfToken(c), Action: c.Request().URL.Path, Heading: "Join " + inv.WorkspaceName,
		Intro:  "You were invited to its Partli dashboard as " + role + ". Choose your name and password.",
		Button: "Join " + inv.WorkspaceName, Email: inv.Email, AskName: true, Errors: map[string]string{}}
}

func (s *Server) teammatePage(c echo.Context, status int, v pages.PasswordView) error {
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	c.Response().Header().Set("Cache-Control", "no-store")
	return s.render(c, status, layouts.Base(v.Heading, pages.Password(v)))
}

// TeammateInvitePage handles GET /invite/{token}.
func (s *Server) TeammateInvitePage(c echo.Context) error {
	inv, err := s.teammateInvite(c)
	if err != nil {
		return err
	}
	if inv == nil {
		return s.teammateGone(c)
	}
	return s.teammatePage(c, http.StatusOK, s.teammateView(c, inv))
}

// AcceptTeammateInvite handles POST /invite/{token} (form name, password):
// the invitation is spent, the user made and signed in, in one step.
func (s *Server) AcceptTeammateInvite(c echo.Context) error {
	ctx := c.Request().Context()
	inv, err := s.teammateInvite(c)
	if err != nil {
		return err
	}
	if inv == nil {
		return s.teammateGone(c)
	}
	v := s.teammateView(c, inv)
	v.Name = strings.TrimSpace(c.FormValue("name"))
	password := c.FormValue("password")
	if utf8.RuneCountInString(v.Name) > 200 {
		v.Errors["name"] = "Must be at most 200 characters."
	}
	if err := accounts.CheckNewPassword(password); err != nil {
		v.Errors["password"] = "The password " + err.Error() + "."
	}
	if len(v.Errors) > 0 {
		return s.teammatePage(c, http.StatusUnprocessableEntity, v)
	}
	hash, err := accounts.HashPassword(password)
	if err != nil {
		return err
	}
	u := &store.User{ID: ids.New(ids.User), WorkspaceID: inv.WorkspaceID, Email: inv.Email, Name: v.Name,
		PasswordHash: hash, Role: inv.Role}
	errUsed := errors.New("web: invitation used meanwhile")
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if ok, err := tx.AcceptUserInvite(ctx, inv.WorkspaceID, inv.ID); err != nil {
			return err
		} else if !ok {
			return errUsed
		}
		return tx.CreateUser(ctx, u)
	})
	switch {
	case errors.Is(err, errUsed):
		return s.teammateGone(c)
	case formConflict(err, v.Errors):
		return s.teammatePage(c, http.StatusConflict, v)
	case err != nil:
		return err
	}
	s.log.Info("teammate invite accepted", "request_id", requestID(c), "workspace", inv.WorkspaceID, "invite", inv.ID, "user", u.ID)
	if err := s.startSession(c, userCookie, &store.Session{UserID: &u.ID, Workspace: &u.WorkspaceID}); err != nil {
		return err
	}
	return redirect(c, "/")
}
