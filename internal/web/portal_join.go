package web

import (
	"crypto/sha256"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/accounts"
	"github.com/partli/partli/internal/email"
	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
	"github.com/partli/partli/views/pages/portal"
)

// How a person joins a program: the public application form, or an
// invitation from the program's owner. Both lead to a portal account,
// which is global (one per email address, across workspaces).
//
// The application form proves nothing about the email address typed into
// it, so the account it makes is unproven (store.PartnerAccount.Verified):
// it may sign in, but it cannot keep the address from its owner. An
// invitation to the address takes such an account over (its password is
// set, and whoever made it is signed out and loses the applications it
// filed unless the same password is entered); a proven account needs its
// password for both forms.

// applyTarget loads the workspace and program of /apply/{ws}/{program}.
func (s *Server) applyTarget(c echo.Context) (*store.Workspace, *store.Program, []string, error) {
	ctx := c.Request().Context()
	ws, err := s.store.WorkspaceBySlug(ctx, c.Param("ws"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, echo.NewHTTPError(http.StatusNotFound, "This program does not exist or does not take applications.")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	p, err := s.store.ProgramBySlug(ctx, ws.ID, c.Param("program"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, nil, echo.NewHTTPError(http.StatusNotFound, "This program does not exist or does not take applications.")
	}
	if err != nil {
		return nil, nil, nil, err
	}
	rewards, err := s.store.PartnerRewards(ctx, ws.ID, p.ID, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	return ws, p, portal.Terms(rewards, nil, p.HoldingPeriodDays), nil
}

// ApplyPage handles GET /apply/{workspaceSlug}/{programSlug}; after an
// application (?applied=pending|approved, with linked=0 or confirm=1) it is
// the thank-you page.
func (s *Server) ApplyPage(c echo.Context) error {
	ws, p, terms, err := s.applyTarget(c)
	if err != nil {
		return err
	}
	v := portal.ApplyView{CSRF: csrfToken(c), WorkspaceName: ws.Name, Program: p, Terms: terms}
	if st := c.QueryParam("applied"); st == "pending" || st == "approved" {
		v.Done, v.AutoApproved = true, st == "approved"
		v.Unlinked, v.Confirm = c.QueryParam("linked") == "0", c.QueryParam("confirm") == "1"
	}
	return s.portalPage(c, http.StatusOK, "Apply to "+p.Name, portal.Apply(v))
}

// Apply handles POST /apply/{workspaceSlug}/{programSlug}: a pending partner
// (approved at once when the program auto-approves) with a portal account.
func (s *Server) Apply(c echo.Context) error {
	ws, p, terms, err := s.applyTarget(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	form := map[string]string{}
	for _, k := range []string{"name", "email", "website", "country", "pitch"} {
		form[k] = strings.TrimSpace(c.FormValue(k))
	}
	password := c.FormValue("password")
	errs := map[string]string{}
	for _, e := range validator.Partner(form["name"], form["email"], "") {
		errs[e.Field] = portalPartnerRule[e.Field+" "+e.Code]
	}
	if w := form["website"]; w != "" && validator.URL(w, validator.WebsiteMax) != validator.CodeOK {
		errs["website"] = "Enter a full address starting with https://."
	}
	if validator.Text(form["country"], false, validator.CountryMax) != validator.CodeOK {
		errs["country"] = "At most " + strconv.Itoa(validator.CountryMax) + " characters."
	}
	if validator.Text(form["pitch"], false, validator.PitchMax) != validator.CodeOK {
		errs["pitch"] = "At most " + strconv.Itoa(validator.PitchMax) + " characters."
	}
	if err := accounts.CheckNewPassword(password); err != nil {
		errs["password"] = capitalize(err.Error()) + "."
	}
	v := portal.ApplyView{CSRF: csrfToken(c), WorkspaceName: ws.Name, Program: p, Terms: terms, Form: form, Errors: errs}
	if len(errs) == 0 {
		account, create, msg, err := s.accountFor(c, form["email"], form["name"], password)
		if err != nil {
			return err
		}
		if msg != "" {
			errs["password"] = msg
		} else {
			pa := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: ws.ID, ProgramID: p.ID,
				Email: form["email"], Name: form["name"], Status: "pending",
				Website: form["website"], Country: form["country"], Pitch: form["pitch"]}
			if account != nil {
				pa.AccountID = &account.ID
			}
			if p.AutoApprove {
				pa.Status = "approved"
			}
			// In the application's transaction: the new account, the link
			// proving its address, and the owners' mail.
			hook := partnerHook{
				before: func(tx *store.Tx) error {
					if create {
						return tx.CreatePartnerAccount(ctx, account)
					}
					return nil
				},
				after: func(tx *store.Tx) error {
					if account != nil && !account.Verified() {
						if err := s.mailVerification(c, tx, account, ws.ID, p.Name); err != nil {
							return err
						}
					}
					return tx.QueueOwnersMail(ctx, ws.ID, store.MailApplicationReceived, store.OwnerMail{
						PartnerID: pa.ID, PartnerName: pa.Name, PartnerEmail: pa.Email, ProgramName: p.Name})
				},
			}
			err := s.insertPartner(ctx, pa, hook)
			switch {
			case portalConflict(err, errs):
			case err != nil:
				return err
			default:
				s.log.Info("partner application", "workspace", ws.ID, "program", p.ID, "partner", pa.ID, "status", pa.Status)
				// Post/redirect/get: a refresh of the thank-you page applies
				// nothing again. It says only what the query names.
				q := url.Values{"applied": {pa.Status}}
				if account == nil {
					q.Set("linked", "0")
				} else if !account.Verified() {
					q.Set("confirm", "1")
				}
				return redirect(c, "/apply/"+ws.Slug+"/"+p.Slug+"?"+q.Encode())
			}
		}
	}
	return s.portalPage(c, http.StatusUnprocessableEntity, "Apply to "+p.Name, portal.Apply(v))
}

const accountTaken = "This email already has a partner account: enter its password."

// portalPartnerRule words an application's rules (validator.Partner) for
// the portal's form, by field and code. Lengths are in characters.
var portalPartnerRule = map[string]string{
	"name " + validator.CodeMissing:  "Enter your name.",
	"name " + validator.CodeTooLong:  "At most " + strconv.Itoa(validator.NameMax) + " characters.",
	"email " + validator.CodeMissing: "Enter an email address such as jane@example.com.",
	"email " + validator.CodeInvalid: "Enter an email address such as jane@example.com.",
}

// portalConflicts words the unique keys a portal form can clash on: the
// field the clash is about and the sentence shown next to it.
var portalConflicts = map[string]struct{ field, msg string }{
	store.PartnerEmailKey:        {"email", "You have already applied to this program with this email address."},
	store.PartnerAccountEmailKey: {"password", accountTaken}, // made by a concurrent request
}

// portalConflict puts a unique clash (a *store.ConflictError) next to the
// portal form field it is about, reporting whether err was one it words.
func portalConflict(err error, into map[string]string) bool {
	c, ok := portalConflicts[store.ConflictKey(err)]
	if ok {
		into[c.field] = c.msg
	}
	return ok
}

// accountFor returns the portal account an application joins: a new
// (unproven) one for the caller to create (create), or the existing one
// when password is its password. When the existing account is proven, any
// other password is refused (msg); when it is unproven, whoever made it may
// not own the address, so it cannot block the application either: the
// application is taken without an account (nil), and an invitation links
// it later.
func (s *Server) accountFor(c echo.Context, email, name, password string) (a *store.PartnerAccount, create bool, msg string, err error) {
	ctx := c.Request().Context()
	a, err = s.store.PartnerAccountByEmail(ctx, email)
	if err == nil {
		status, _, err := s.checkPassword(ctx, store.SignInOf{Account: a.ID}, accountHash(a), password)
		switch {
		case err != nil:
			return nil, false, "", err
		case status == 0:
			return a, false, "", nil
		case a.Verified():
			return nil, false, accountTaken, nil
		}
		return nil, false, "", nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, false, "", err
	}
	hash, err := accounts.HashPassword(password)
	if err != nil {
		return nil, false, "", err
	}
	return &store.PartnerAccount{ID: ids.New(ids.Account), Email: email, Name: name, PasswordHash: &hash}, true, "", nil
}

// NewInvite makes an invite link for a partner and mails it to them, in
// the transaction that stores the invite; the token is stored hashed (and
// derived from the invite's id for the mail, see email.Links), and the
// link is shown to the owner who asked for it. The log records that an
// invite was made, never its link: the token signs the partner in.
func (s *Server) NewInvite(c echo.Context, p *store.Partner) (string, error) {
	ctx := c.Request().Context()
	id := ids.New(ids.Invite)
	token := s.links.Token(email.PurposePartnerInvite, id)
	expires := time.Now().Add(inviteTTL)
	program, err := s.store.Program(ctx, p.WorkspaceID, p.ProgramID)
	if err != nil {
		return "", err
	}
	ws, err := s.store.WorkspaceByID(ctx, p.WorkspaceID)
	if err != nil {
		return "", err
	}
	err = s.store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.CreateInvite(ctx, id, p.WorkspaceID, p.ID, email.TokenHash(token), expires); err != nil {
			return err
		}
		return tx.QueueMail(ctx, store.Mail{WorkspaceID: p.WorkspaceID, Kind: store.MailPartnerInvite, To: p.Email, ToName: p.Name,
			Data: store.PartnerInviteMail{InviteID: id, ProgramName: program.Name, WorkspaceName: ws.Name, ExpiresAt: expires}})
	})
	if err != nil {
		return "", err
	}
	s.log.Info("partner invite created", "request_id", requestID(c), "workspace", p.WorkspaceID, "partner", p.ID, "invite", id)
	return s.cfg.BaseURL + "/partner/invite/" + token, nil
}

func (s *Server) invite(c echo.Context) (*store.Invite, error) {
	sum := sha256.Sum256([]byte(c.Param("token")))
	inv, err := s.store.InviteByTokenHash(c.Request().Context(), sum[:])
	if errors.Is(err, store.ErrNotFound) || (err == nil && (inv.AcceptedAt != nil || inv.ExpiresAt.Before(time.Now()))) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "This invitation link is not valid any more. Ask the program owner for a new one.")
	}
	return inv, err
}

// inviteView is the invitation page for inv: asking for the password of
// the address's proven account, or for a new one.
func (s *Server) inviteView(c echo.Context, inv *store.Invite) (portal.InviteView, *store.PartnerAccount, error) {
	v := portal.InviteView{CSRF: csrfToken(c), Email: inv.Email, Name: inv.Name, Program: inv.ProgramName}
	a, err := s.store.PartnerAccountByEmail(c.Request().Context(), inv.Email)
	if errors.Is(err, store.ErrNotFound) {
		return v, nil, nil
	}
	if err != nil {
		return v, nil, err
	}
	v.HasAccount, v.Unproven = a.Verified(), !a.Verified()
	return v, a, nil
}

// InvitePage handles GET /partner/invite/{token}.
func (s *Server) InvitePage(c echo.Context) error {
	inv, err := s.invite(c)
	if err != nil {
		return err
	}
	v, _, err := s.inviteView(c, inv)
	if err != nil {
		return err
	}
	return s.portalPage(c, http.StatusOK, "Join "+inv.ProgramName, portal.Invite(v))
}

// errProvenMeanwhile: the address's account was proven by another request
// while this one was setting its password.
var errProvenMeanwhile = errors.New("web: account proven meanwhile")

// AcceptInvite handles POST /partner/invite/{token}: it links the
// enrollment to the address's portal account and signs in. A proven
// account needs its password. Otherwise the invitation proves the address:
// the password entered becomes the account's, made now or taken over from
// an unproven one (see the top of this file).
func (s *Server) AcceptInvite(c echo.Context) error {
	inv, err := s.invite(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	password := c.FormValue("password")
	v, existing, err := s.inviteView(c, inv)
	if err != nil {
		return err
	}
	fail := func(msg string) error {
		v.Error = msg
		return s.portalPage(c, http.StatusUnprocessableEntity, "Join "+inv.ProgramName, portal.Invite(v))
	}
	link := func(tx *store.Tx, accountID string) error {
		if ok, err := tx.AcceptInvite(ctx, inv.ID); err != nil {
			return err
		} else if !ok {
			return echo.NewHTTPError(http.StatusConflict, "This invitation was already used.")
		}
		return tx.LinkPartnerAccount(ctx, inv.WorkspaceID, inv.PartnerID, accountID)
	}

	var accountID string
	if existing != nil && existing.Verified() {
		status, msg, err := s.checkPassword(ctx, store.SignInOf{Account: existing.ID}, accountHash(existing), password)
		if err != nil {
			return err
		}
		if status != 0 {
			if status == http.StatusUnauthorized {
				msg = accountTaken
			}
			return fail(msg)
		}
		accountID = existing.ID
		if err := s.store.InTx(ctx, func(tx *store.Tx) error { return link(tx, accountID) }); err != nil {
			return err
		}
	} else {
		if err := accounts.CheckNewPassword(password); err != nil {
			return fail("The password " + err.Error() + ".")
		}
		// The same password as the unproven account's: the person who
		// applied is the one invited, and keeps the applications.
		same := existing != nil && accounts.CheckPassword(accountHash(existing), password)
		hash, err := accounts.HashPassword(password)
		if err != nil {
			return err
		}
		a := &store.PartnerAccount{ID: ids.New(ids.Account), Email: inv.Email, Name: inv.Name, PasswordHash: &hash}
		err = s.store.InTx(ctx, func(tx *store.Tx) error {
			took, err := tx.ProvePartnerAccount(ctx, a)
			if errors.Is(err, store.ErrConflict) {
				return errProvenMeanwhile
			}
			if err != nil {
				return err
			}
			if took && !same {
				if _, err := tx.EndPartnerSessions(ctx, a.ID, ""); err != nil {
					return err
				}
				if err := tx.UnlinkEnrollments(ctx, a.ID); err != nil {
					return err
				}
				s.log.Info("invitation took over an unproven partner account", "account", a.ID, "workspace", inv.WorkspaceID, "partner", inv.PartnerID)
			}
			return link(tx, a.ID)
		})
		if errors.Is(err, errProvenMeanwhile) {
			v.HasAccount, v.Unproven = true, false
			return fail(accountTaken)
		}
		if err != nil {
			return err
		}
		accountID = a.ID
	}
	if err := s.signInPartner(c, accountID); err != nil {
		return err
	}
	return redirect(c, "/partner")
}
