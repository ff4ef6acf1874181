package web

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/layouts"
	"github.com/partli/partli/views/pages"
)

// Accounts by mail: password resets of dashboard users (/password/…) and of
// portal accounts (/partner/password/…), and the verification of portal
// accounts made by the application form (/partner/verify/…). A link is a
// single-use token (store.AccountToken): a reset works for an hour, a
// verification for three days; using either proves the address, and a
// reset ends every other session of its person. The forms that mail a link
// answer the same whether the address has an account or not, count against
// the client address's attempts (PARTLI_SIGNIN_LIMIT), and mail one person
// at most linksPerWindow links of a kind per linkWindow.

const (
	resetTTL  = time.Hour
	verifyTTL = 72 * time.Hour
	// linksPerWindow links of one purpose are mailed to one person per
	// linkWindow at most, however many addresses ask.
	linksPerWindow = 3
	linkWindow     = time.Hour
)

// side is where a person signs in: the dashboard or the partner portal.
type side struct {
	portal bool
	prefix string // of the account pages' paths
	signIn string
	home   string
	cookie string
}

var (
	dashboardSide = side{prefix: "", signIn: "/login", home: "/", cookie: userCookie}
	portalSide    = side{portal: true, prefix: "/partner", signIn: "/partner/login", home: "/partner", cookie: partnerCookie}
)

// accountPage renders a public account page in its side's layout.
func (s *Server) accountPage(c echo.Context, sd side, status int, title string, content templ.Component) error {
	// The page's address may hold a token: no other site learns it, and
	// no cache keeps the page.
	c.Response().Header().Set("Referrer-Policy", "no-referrer")
	c.Response().Header().Set("Cache-Control", "no-store")
	if sd.portal {
		return s.portalPage(c, status, title, content)
	}
	return s.render(c, status, layouts.Base(title, content))
}

func (s *Server) forgotView(c echo.Context, sd side) pages.ForgotView {
	return pages.ForgotView{CSRF: csrfToken(c), Action: sd.prefix + "/password/forgot", Heading: "Reset your password",
		Intro: "Enter the address you sign in with: we mail you a link to choose a new password.", Button: "Mail me a link",
		SignIn: sd.signIn, Sent: c.QueryParam("sent") != ""}
}

// ForgotPage handles GET /password/forgot.
func (s *Server) ForgotPage(c echo.Context) error { return s.forgotPage(c, dashboardSide) }

// PartnerForgotPage handles GET /partner/password/forgot.
func (s *Server) PartnerForgotPage(c echo.Context) error { return s.forgotPage(c, portalSide) }

func (s *Server) forgotPage(c echo.Context, sd side) error {
	v := s.forgotView(c, sd)
	v.Email = strings.TrimSpace(c.QueryParam("email"))
	return s.accountPage(c, sd, http.StatusOK, "Reset your password", pages.Forgot(v))
}

// Forgot handles POST /password/forgot (form email).
func (s *Server) Forgot(c echo.Context) error { return s.forgot(c, dashboardSide) }

// PartnerForgot handles POST /partner/password/forgot (form email).
func (s *Server) PartnerForgot(c echo.Context) error { return s.forgot(c, portalSide) }

// forgot mails a reset link to the address's account, if it has one, and
// sends the browser to the same "check your email" page either way.
func (s *Server) forgot(c echo.Context, sd side) error {
	addr := strings.TrimSpace(c.FormValue("email"))
	if !validEmail(addr) {
		v := s.forgotView(c, sd)
		v.Email, v.Error, v.Sent = addr, "Enter your email address, such as jane@example.com.", false
		return s.accountPage(c, sd, http.StatusBadRequest, "Reset your password", pages.Forgot(v))
	}
	if err := s.mailReset(c, sd, addr); err != nil {
		return err
	}
	return redirect(c, sd.prefix+"/password/forgot?sent=1")
}

// mailReset writes a reset link for the account of addr to the outbox, in
// the transaction that stores its token; nothing when there is no account
// or its person was mailed linksPerWindow links lately.
func (s *Server) mailReset(c echo.Context, sd side, addr string) error {
	ctx := c.Request().Context()
	tok := &store.AccountToken{ID: ids.New(ids.Token), Purpose: store.TokenPasswordReset}
	m := store.Mail{Kind: store.MailPasswordReset, Data: store.TokenMail{TokenID: tok.ID, Portal: sd.portal}}
	if sd.portal {
		a, err := s.store.PartnerAccountByEmail(ctx, addr)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tok.AccountID, m.To, m.ToName = &a.ID, a.Email, a.Name
	} else {
		u, err := s.store.UserByEmail(ctx, addr)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		tok.UserID, tok.Workspace, m.To, m.ToName, m.WorkspaceID = &u.ID, &u.WorkspaceID, u.Email, u.Name, u.WorkspaceID
	}
	return s.mailToken(c, tok, m, resetTTL, email.PurposePasswordReset)
}

// mailToken stores tok and queues m, its mail, in one transaction, unless
// its person reached the per-recipient limit (then nothing, and a log line).
func (s *Server) mailToken(c echo.Context, tok *store.AccountToken, m store.Mail, ttl time.Duration, purpose string) error {
	ctx := c.Request().Context()
	hash := email.TokenHash(s.links.Token(purpose, tok.ID))
	var sent bool
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		var err error
		if sent, err = tx.CreateAccountToken(ctx, tok, hash, ttl, linksPerWindow, linkWindow); err != nil || !sent {
			return err
		}
		return tx.QueueMail(ctx, m)
	})
	if err == nil && !sent {
		s.log.Info("link not mailed: its recipient was mailed the most allowed lately", "request_id", requestID(c),
			"purpose", tok.Purpose, "limit", linksPerWindow, "window", linkWindow.String())
	}
	return err
}

// resetGone is the page of a reset link that does not work (any more).
func (s *Server) resetGone(c echo.Context, sd side) error {
	return s.accountPage(c, sd, http.StatusNotFound, "Link expired", pages.LinkGone(pages.LinkGoneView{
		Heading: "This link does not work any more",
		Message: "A password reset link works once, for one hour. Ask for a new one.",
		Href:    sd.prefix + "/password/forgot", Label: "Mail me a new link"}))
}

// resetToken is the live reset token of the page's link for sd, with its
// person's address; nil when the link does not work.
func (s *Server) resetToken(c echo.Context, sd side) (*store.AccountToken, string, error) {
	ctx := c.Request().Context()
	t, err := s.store.LiveAccountToken(ctx, store.TokenPasswordReset, email.TokenHash(c.Param("token")))
	if errors.Is(err, store.ErrNotFound) || (err == nil && sd.portal != (t.AccountID != nil)) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", err
	}
	if sd.portal {
		a, err := s.store.PartnerAccountByID(ctx, *t.AccountID)
		if err != nil {
			return nil, "", err
		}
		return t, a.Email, nil
	}
	u, err := s.store.UserByID(ctx, *t.Workspace, *t.UserID)
	if err != nil {
		return nil, "", err
	}
	return t, u.Email, nil
}

func (s *Server) resetView(c echo.Context, addr string) pages.PasswordView {
	return pages.PasswordView{CSRF: csrfToken(c), Action: c.Request().URL.Path, Heading: "Choose a new password",
		Intro: "It replaces your old one, and signs you out everywhere else.", Button: "Set my password", Email: addr,
		Errors: map[string]string{}}
}

// ResetPage handles GET /password/reset/{token}.
func (s *Server) ResetPage(c echo.Context) error { return s.resetPage(c, dashboardSide) }

// PartnerResetPage handles GET /partner/password/reset/{token}.
func (s *Server) PartnerResetPage(c echo.Context) error { return s.resetPage(c, portalSide) }

func (s *Server) resetPage(c echo.Context, sd side) error {
	t, addr, err := s.resetToken(c, sd)
	if err != nil {
		return err
	}
	if t == nil {
		return s.resetGone(c, sd)
	}
	return s.accountPage(c, sd, http.StatusOK, "Choose a new password", pages.Password(s.resetView(c, addr)))
}

// Reset handles POST /password/reset/{token} (form password).
func (s *Server) Reset(c echo.Context) error { return s.reset(c, dashboardSide) }

// PartnerReset handles POST /partner/password/reset/{token} (form password).
func (s *Server) PartnerReset(c echo.Context) error { return s.reset(c, portalSide) }

// reset sets the password of the link's person, spending the link (and
// the other reset links mailed to them), and ends every other session of
// theirs: a browser of theirs that is signed in and used the link stays
// signed in; otherwise the browser goes to sign in with the new password.
// A portal account's address is proven by it.
func (s *Server) reset(c echo.Context, sd side) error {
	ctx := c.Request().Context()
	t, addr, err := s.resetToken(c, sd)
	if err != nil {
		return err
	}
	if t == nil {
		return s.resetGone(c, sd)
	}
	password := c.FormValue("password")
	if err := accounts.CheckNewPassword(password); err != nil {
		v := s.resetView(c, addr)
		v.Errors["password"] = "The password " + err.Error() + "."
		return s.accountPage(c, sd, http.StatusUnprocessableEntity, "Choose a new password", pages.Password(v))
	}
	hash, err := accounts.HashPassword(password)
	if err != nil {
		return err
	}
	current, err := s.liveSession(c, sd.cookie)
	if err != nil {
		return err
	}
	keep := ""
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		t, err := tx.UseAccountToken(ctx, store.TokenPasswordReset, email.TokenHash(c.Param("token")))
		if err != nil {
			return err
		}
		if sd.portal {
			if t.AccountID == nil {
				return store.ErrNotFound
			}
			if current != nil && current.AccountID != nil && *current.AccountID == *t.AccountID {
				keep = current.ID
			}
			if err := tx.SetPartnerPassword(ctx, *t.AccountID, hash, true); err != nil {
				return err
			}
			_, err = tx.EndPartnerSessions(ctx, *t.AccountID, keep)
			return err
		}
		if t.UserID == nil {
			return store.ErrNotFound
		}
		if current != nil && current.UserID != nil && *current.UserID == *t.UserID {
			keep = current.ID
		}
		if err := tx.SetUserPassword(ctx, *t.Workspace, *t.UserID, hash); err != nil {
			return err
		}
		_, err = tx.EndUserSessions(ctx, *t.UserID, keep)
		return err
	})
	if errors.Is(err, store.ErrNotFound) { // spent by a concurrent request
		return s.resetGone(c, sd)
	}
	if err != nil {
		return err
	}
	s.log.Info("password reset by mailed link", "request_id", requestID(c), "token", t.ID)
	if keep != "" {
		return redirect(c, sd.home)
	}
	return redirect(c, sd.signIn+"?reset=1")
}

// VerifyEmail handles GET /partner/verify/{token}: opening the link mailed
// to a portal account made by the application form proves its address;
// the browser goes to sign in.
func (s *Server) VerifyEmail(c echo.Context) error {
	ctx := c.Request().Context()
	var account string
	err := s.store.InTx(ctx, func(tx *store.Tx) error {
		t, err := tx.UseAccountToken(ctx, store.TokenEmailVerification, email.TokenHash(c.Param("token")))
		if err != nil {
			return err
		}
		if t.AccountID == nil {
			return store.ErrNotFound
		}
		account = *t.AccountID
		_, err = tx.VerifyPartnerAccount(ctx, account)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return s.accountPage(c, portalSide, http.StatusNotFound, "Link expired", pages.LinkGone(pages.LinkGoneView{
			Heading: "This link does not work any more",
			Message: "A confirmation link works once, for three days. If you confirmed your address already, sign in; otherwise ask for a new link.",
			Href:    "/partner/verify", Label: "Mail me a new link"}))
	}
	if err != nil {
		return err
	}
	s.log.Info("partner account verified", "request_id", requestID(c), "account", account)
	return redirect(c, "/partner/login?verified=1")
}

func (s *Server) resendView(c echo.Context) pages.ForgotView {
	return pages.ForgotView{CSRF: csrfToken(c), Action: "/partner/verify", Heading: "Confirm your email address",
		Intro: "Enter the address you applied with: we mail you a new link to confirm it.", Button: "Mail me the link again",
		SignIn: "/partner/login", Sent: c.QueryParam("sent") != ""}
}

// ResendVerificationPage handles GET /partner/verify: the "send the link
// again" page of accounts whose address is not proven yet.
func (s *Server) ResendVerificationPage(c echo.Context) error {
	v := s.resendView(c)
	v.Email = strings.TrimSpace(c.QueryParam("email"))
	return s.accountPage(c, portalSide, http.StatusOK, "Confirm your email address", pages.Forgot(v))
}

// ResendVerification handles POST /partner/verify (form email): a new
// verification link to the address's unproven account, if it has one; the
// reply is the same either way.
func (s *Server) ResendVerification(c echo.Context) error {
	ctx := c.Request().Context()
	addr := strings.TrimSpace(c.FormValue("email"))
	if !validEmail(addr) {
		v := s.resendView(c)
		v.Email, v.Error, v.Sent = addr, "Enter your email address, such as jane@example.com.", false
		return s.accountPage(c, portalSide, http.StatusBadRequest, "Confirm your email address", pages.Forgot(v))
	}
	a, err := s.store.PartnerAccountByEmail(ctx, addr)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case !a.Verified():
		if err := s.mailVerification(c, nil, a, "", ""); err != nil {
			return err
		}
	}
	return redirect(c, "/partner/verify?sent=1")
}

// mailVerification writes a verification link for the unproven account a
// to the outbox, in tx when given (an application's), else in its own.
func (s *Server) mailVerification(c echo.Context, tx *store.Tx, a *store.PartnerAccount, workspaceID, program string) error {
	tok := &store.AccountToken{ID: ids.New(ids.Token), Purpose: store.TokenEmailVerification, AccountID: &a.ID}
	m := store.Mail{WorkspaceID: workspaceID, Kind: store.MailEmailVerification, To: a.Email, ToName: a.Name,
		Data: store.TokenMail{TokenID: tok.ID, Portal: true, ProgramName: program}}
	if tx == nil {
		return s.mailToken(c, tok, m, verifyTTL, email.PurposeEmailVerification)
	}
	ctx := c.Request().Context()
	ok, err := tx.CreateAccountToken(ctx, tok, email.TokenHash(s.links.Token(email.PurposeEmailVerification, tok.ID)),
		verifyTTL, linksPerWindow, linkWindow)
	if err != nil || !ok {
		return err
	}
	return tx.QueueMail(ctx, m)
}

// ChangePasswordPage handles GET /settings/password.
func (s *Server) ChangePasswordPage(c echo.Context) error {
	return s.page(c, http.StatusOK, s.meta(c, "Change password", "settings"), pages.Password(s.changeView(c, "/settings/password")))
}

func (s *Server) changeView(c echo.Context, action string) pages.PasswordView {
	return pages.PasswordView{CSRF: csrfToken(c), Action: action, Heading: "Change your password",
		Intro: "Your other sessions are signed out; this one stays.", Button: "Change password", Current: true,
		Errors: map[string]string{}}
}

// ChangePassword handles POST /settings/password (form current, password):
// the current password is checked (with the sign-in lockout), and every
// other session of the user ends.
func (s *Server) ChangePassword(c echo.Context) error {
	u := currentUser(c)
	v := s.changeView(c, "/settings/password")
	fail := func(status int) error {
		return s.page(c, status, s.meta(c, "Change password", "settings"), pages.Password(v))
	}
	hash, status, err := s.newPassword(c, store.SignInOf{Workspace: u.WorkspaceID, ID: u.ID}, u.PasswordHash, v.Errors)
	if err != nil {
		return err
	}
	if status != 0 {
		return fail(status)
	}
	ctx := c.Request().Context()
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.SetUserPassword(ctx, u.WorkspaceID, u.ID, hash); err != nil {
			return err
		}
		_, err := tx.EndUserSessions(ctx, u.ID, currentSession(c).ID)
		return err
	})
	if err != nil {
		return err
	}
	return redirect(c, "/settings?done=password-changed")
}

// newPassword checks a change-of-password form against the row id of table
// (users or partner_accounts) with its current hash: the current password
// (counted like a sign-in) and the new one's rule. It returns the new
// hash, or a status with the form's errors.
func (s *Server) newPassword(c echo.Context, who store.SignInOf, current string, errs map[string]string) (string, int, error) {
	password := c.FormValue("password")
	status, msg, err := s.checkPassword(c.Request().Context(), who, current, c.FormValue("current"))
	if err != nil {
		return "", 0, err
	}
	if status != 0 {
		if status == http.StatusUnauthorized {
			msg = "That is not your current password."
		}
		errs["current"] = msg
		return "", status, nil
	}
	if err := accounts.CheckNewPassword(password); err != nil {
		errs["password"] = "The password " + err.Error() + "."
		return "", http.StatusUnprocessableEntity, nil
	}
	hash, err := accounts.HashPassword(password)
	return hash, 0, err
}
