package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
	"github.com/partli/partli/views/pages/dashboard"
)

const (
	partnersPerPage      = 50
	partnerClicksPerPage = 25
	// partnerProgramChoices bounds the program pickers; workspaces run a handful of programs.
	partnerProgramChoices = 200
)

// PartnersPage handles GET /partners: ?q= (name, email or slug), ?programId=,
// ?status= and ?cursor=.
func (s *Server) PartnersPage(c echo.Context) error {
	ctx := c.Request().Context()
	ws := workspaceOf(c)
	f := store.PartnerFilter{
		Query:     strings.TrimSpace(c.QueryParam("q")),
		ProgramID: c.QueryParam("programId"),
		Status:    c.QueryParam("status"),
	}
	if len(f.Query) > 200 {
		f.Query = f.Query[:200]
	}
	if !oneOf(f.Status, PartnerStatuses) {
		f.Status = ""
	}
	page, err := queryPage(c, "cursor", partnersPerPage)
	if err != nil {
		return err
	}
	programs, _, err := s.store.ListPrograms(ctx, ws, store.Page{Limit: partnerProgramChoices})
	if err != nil {
		return err
	}
	rows, next, err := s.store.ListPartnerRows(ctx, ws, f, page)
	if err != nil {
		return err
	}
	v := dashboard.PartnersView{
		CanEdit: currentUser(c).Role == "owner", Query: f.Query, ProgramID: f.ProgramID, Status: f.Status,
		Statuses: PartnerStatuses, Programs: programs,
		Filtered: f.Query != "" || f.ProgramID != "" || f.Status != "",
	}
	for _, r := range rows {
		v.Rows = append(v.Rows, dashboard.PartnerListRow{PartnerRow: r, Link: s.cfg.BaseURL + "/r/" + r.Slug})
	}
	if next != nil {
		q := url.Values{"cursor": {*next}}
		for k, val := range map[string]string{"q": f.Query, "programId": f.ProgramID, "status": f.Status} {
			if val != "" {
				q.Set(k, val)
			}
		}
		v.NextHref = "/partners?" + q.Encode()
	}
	return s.page(c, http.StatusOK, s.meta(c, "Partners", "partners"), dashboard.Partners(v))
}

// partnerForm loads the choices of the "Add partner" form.
func (s *Server) partnerForm(c echo.Context) (dashboard.PartnerFormView, error) {
	ctx := c.Request().Context()
	ws := workspaceOf(c)
	v := dashboard.PartnerFormView{CSRF: csrfToken(c), Errors: map[string]string{}, BaseURL: s.cfg.BaseURL}
	var err error
	if v.Programs, _, err = s.store.ListPrograms(ctx, ws, store.Page{Limit: partnerProgramChoices}); err != nil {
		return v, err
	}
	if v.Groups, err = s.store.GroupsOfWorkspace(ctx, ws); err != nil {
		return v, err
	}
	return v, nil
}

// NewPartnerPage handles GET /partners/new (?programId= preselects a program).
func (s *Server) NewPartnerPage(c echo.Context) error {
	v, err := s.partnerForm(c)
	if err != nil {
		return err
	}
	v.ProgramID = c.QueryParam("programId")
	if len(v.Programs) == 1 {
		v.ProgramID = v.Programs[0].ID
	}
	return s.page(c, http.StatusOK, s.meta(c, "Add partner", "partners"), dashboard.PartnerNew(v))
}

// NewPartnerGroups handles GET /partners/new/groups?programId=: the add
// form's group menu for the chosen program, which HTMX swaps in when the
// program menu changes.
func (s *Server) NewPartnerGroups(c echo.Context) error {
	v, err := s.partnerForm(c)
	if err != nil {
		return err
	}
	for _, p := range v.Programs {
		if p.ID == c.QueryParam("programId") {
			v.ProgramID = p.ID
		}
	}
	return s.page(c, http.StatusOK, s.meta(c, "Add partner", "partners"), dashboard.PartnerGroupField(v))
}

// AddPartner handles POST /partners: the API's rules (required name and
// email, optional group of the program, optional slug or one made from the
// name), with errors shown next to their fields.
func (s *Server) AddPartner(c echo.Context) error {
	ctx := c.Request().Context()
	v, err := s.partnerForm(c)
	if err != nil {
		return err
	}
	v.ProgramID = strings.TrimSpace(c.FormValue("programId"))
	v.Name = strings.TrimSpace(c.FormValue("name"))
	v.Email = strings.TrimSpace(c.FormValue("email"))
	v.GroupID = strings.TrimSpace(c.FormValue("groupId"))
	v.Slug = strings.TrimSpace(c.FormValue("slug"))
	fail := func(status int) error {
		return s.page(c, status, s.meta(c, "Add partner", "partners"), dashboard.PartnerNew(v))
	}

	var program *store.Program
	if v.ProgramID == "" {
		v.Errors["programId"] = "Choose the program this partner promotes."
	} else if p, err := s.store.Program(ctx, workspaceOf(c), v.ProgramID); errors.Is(err, store.ErrNotFound) {
		v.Errors["programId"] = "No such program in this workspace."
	} else if err != nil {
		return err
	} else {
		program = p
	}
	for _, e := range validator.Partner(v.Name, v.Email, v.Slug) {
		v.Errors[e.Field] = formPartnerRule[e.Field+" "+e.Code]
	}
	pa := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: workspaceOf(c), Name: v.Name, Email: v.Email,
		Slug: v.Slug, Status: "approved"}
	if v.GroupID != "" {
		pa.GroupID = &v.GroupID
	}
	if program != nil {
		pa.ProgramID = program.ID
		if err := s.checkGroup(ctx, pa.WorkspaceID, program.ID, pa.GroupID); errors.Is(err, errNoSuchGroup) {
			v.Errors["groupId"] = "No such group in this program."
		} else if err != nil {
			return err
		}
	}
	if len(v.Errors) > 0 {
		return fail(http.StatusUnprocessableEntity)
	}
	if err := s.insertPartner(ctx, pa); err != nil {
		if formConflict(err, v.Errors) {
			return fail(http.StatusConflict)
		}
		return err
	}
	return redirect(c, "/partners/"+pa.ID+"?done=added")
}

// formPartnerRule words a new partner's rules (validator.Partner) for the
// dashboard's form, by field and code.
var formPartnerRule = map[string]string{
	"name " + validator.CodeMissing:  "Enter the partner's name.",
	"name " + validator.CodeTooLong:  "Must be at most " + strconv.Itoa(validator.NameMax) + " characters.",
	"email " + validator.CodeMissing: "Enter the partner's email address.",
	"email " + validator.CodeInvalid: "Must be an email address such as jane@example.com.",
	"slug " + validator.CodeInvalid:  "Must be 1–63 lower-case letters, digits, dashes or underscores.",
}

// formConflicts words the unique keys a dashboard form can clash on: the
// field the clash is about ("" for the form as a whole) and the sentence
// shown next to it. The API words them in apiConflicts.
var formConflicts = map[string]struct{ field, msg string }{
	store.ProgramSlugKey:  {"slug", "Another program of this workspace already uses this slug."},
	store.GroupNameKey:    {"name", "This program already has a group with this name."},
	store.PartnerSlugKey:  {"slug", "This slug is taken; choose another."},
	store.PartnerEmailKey: {"email", "This email address is already a partner in this program."},
	store.UserEmailKey: {"", "A Partli user with this email address exists already: sign in with it instead, " +
		"or ask the owner to invite another address."},
	store.UsersEmailKey: {"", "A Partli user with this email address exists already: sign in with it instead, " +
		"or ask the owner to invite another address."},
}

// formConflict puts a unique clash (a *store.ConflictError) next to the
// form field it is about, reporting whether err was one the forms word.
func formConflict(err error, into map[string]string) bool {
	c, ok := formConflicts[store.ConflictKey(err)]
	if ok {
		into[c.field] = c.msg
	}
	return ok
}

// PartnerPage handles GET /partners/:id (?clicks= pages through older clicks).
func (s *Server) PartnerPage(c echo.Context) error {
	pa, err := s.partner(c)
	if err != nil {
		return err
	}
	return s.partnerPage(c, pa, http.StatusOK, nil)
}

// partnerPage renders a partner's page; edit, when set, changes it (a form
// refused, with why).
func (s *Server) partnerPage(c echo.Context, pa *store.Partner, status int, edit func(*dashboard.PartnerDetailView)) error {
	ctx := c.Request().Context()
	ws := pa.WorkspaceID
	clicksPage, err := queryPage(c, "clicks", partnerClicksPerPage)
	if err != nil {
		return err
	}
	program, err := s.store.Program(ctx, ws, pa.ProgramID)
	if err != nil {
		return err
	}
	groups, err := s.store.ListGroups(ctx, ws, pa.ProgramID)
	if err != nil {
		return err
	}
	activity, err := s.store.PartnerActivity(ctx, ws, pa.ID)
	if err != nil {
		return err
	}
	clicks, nextClicks, err := s.store.ListClicks(ctx, ws, pa.ID, clicksPage)
	if err != nil {
		return err
	}
	commissions, _, err := s.store.ListCommissions(ctx, ws, store.CommissionFilter{PartnerID: pa.ID}, store.Page{Limit: 10})
	if err != nil {
		return err
	}
	v := dashboard.PartnerDetailView{
		CSRF: csrfToken(c), CanEdit: currentUser(c).Role == "owner", Partner: *pa,
		Link: s.cfg.BaseURL + "/r/" + pa.Slug, Program: *program, Groups: groups, Activity: *activity,
		Totals: dashboard.PartnerTotals(activity.Commissions), Clicks: clicks, Commissions: commissions,
		Older: clicksPage.Cursor != nil,
	}
	for _, g := range groups {
		if pa.GroupID != nil && *pa.GroupID == g.ID {
			v.GroupName = g.Name
		}
	}
	if nextClicks != nil {
		v.ClicksNext = "/partners/" + pa.ID + "?" + url.Values{"clicks": {*nextClicks}}.Encode() + "#clicks"
	}
	switch c.QueryParam("done") {
	case "group":
		if v.GroupName != "" {
			v.Flash = "Moved to the group " + v.GroupName + "."
		} else {
			v.Flash = "Removed from their group: the program's default reward applies."
		}
	case "status":
		v.Flash = "Status changed to " + pa.Status + "."
	default:
		v.Flash = doneText(c, donePartner)
	}
	if v.Codes, err = s.partnerCodesView(c, pa, program); err != nil {
		return err
	}
	if edit != nil {
		edit(&v)
	}
	return s.page(c, status, s.meta(c, pa.Name, "partners"), dashboard.PartnerDetail(v))
}

// MovePartner handles POST /partners/:id/group: groupId, empty for no group.
func (s *Server) MovePartner(c echo.Context) error {
	ctx := c.Request().Context()
	pa, err := s.partner(c)
	if err != nil {
		return err
	}
	pa.GroupID = nil
	if g := strings.TrimSpace(c.FormValue("groupId")); g != "" {
		pa.GroupID = &g
	}
	if err := s.checkGroup(ctx, pa.WorkspaceID, pa.ProgramID, pa.GroupID); err != nil {
		if errors.Is(err, errNoSuchGroup) {
			return echo.NewHTTPError(http.StatusUnprocessableEntity, "That group is not a group of this partner's program. Go back and choose another.")
		}
		return err
	}
	if err := s.store.UpdatePartner(ctx, pa); err != nil {
		return err
	}
	return redirect(c, "/partners/"+pa.ID+"?done=group")
}

// partnerSettableStatuses are the statuses an owner can set from the dashboard.
var partnerSettableStatuses = []string{"approved", "suspended", "rejected"}

// SetPartnerStatus handles POST /partners/:id/status: approve, suspend or reject.
func (s *Server) SetPartnerStatus(c echo.Context) error {
	pa, err := s.partner(c)
	if err != nil {
		return err
	}
	status := c.FormValue("status")
	if !oneOf(status, partnerSettableStatuses) {
		return echo.NewHTTPError(http.StatusBadRequest, "A partner can be set to approved, suspended or rejected.")
	}
	pa.Status = status
	// An application approved or rejected is mailed to the partner (SavePartner).
	if err := s.store.SavePartner(c.Request().Context(), pa); err != nil {
		return err
	}
	return redirect(c, "/partners/"+pa.ID+"?done=status")
}

func (s *Server) invitedPartner(c echo.Context) (*store.Partner, error) {
	p, err := s.store.Partner(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, echo.NewHTTPError(http.StatusNotFound, "No such partner in this workspace.")
	}
	return p, err
}

// InvitePartner handles POST /partners/{id}/invite (owners): a one-time
// invite link to the partner portal, mailed to the partner and carried in
// the session to the page the browser is sent to, which shows it once.
func (s *Server) InvitePartner(c echo.Context) error {
	p, err := s.invitedPartner(c)
	if err != nil {
		return err
	}
	link, err := s.NewInvite(c, p)
	if err != nil {
		return err
	}
	if err := s.setFlash(c, flashInviteLink, link); err != nil {
		return err
	}
	return redirect(c, "/partners/"+p.ID+"/invite")
}

// InvitedPage handles GET /partners/{id}/invite: the invite just made, its
// link shown this once; a refresh shows it no more and makes no other.
func (s *Server) InvitedPage(c echo.Context) error {
	p, err := s.invitedPartner(c)
	if err != nil {
		return err
	}
	v := dashboard.InviteView{CSRF: csrfToken(c), PartnerID: p.ID, PartnerName: p.Name, Email: p.Email, MailHeld: s.cfg.SMTPURL == ""}
	if _, err := s.takeFlash(c, flashInviteLink, &v.Link); err != nil {
		return err
	}
	return s.page(c, http.StatusOK, s.meta(c, "Invite "+p.Name, "partners"), dashboard.Invite(v))
}
