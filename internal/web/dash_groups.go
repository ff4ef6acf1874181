package web

import (
	"errors"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
	"github.com/partli/partli/views/pages/dashboard"
)

// A program's partner groups on its dashboard page: creating and changing one
// (owners), and reading the group form.

// DashCreateGroup handles POST /programs/:id/groups.
func (s *Server) DashCreateGroup(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	f := progReadGroup(c)
	g := &store.Group{ID: ids.New(ids.Group), WorkspaceID: p.WorkspaceID, ProgramID: p.ID}
	progCheckGroup(&f, g, p)
	if len(f.Errors) == 0 {
		err := s.store.CreateGroup(c.Request().Context(), g)
		switch {
		case formConflict(err, f.Errors):
		case err != nil:
			return err
		default:
			return redirect(c, "/programs/"+p.ID+"?done=group-added#groups")
		}
	}
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		v.NewGroup = f
		return dashboard.GroupAddForm(v.CSRF, p, f)
	})
}

// DashUpdateGroup handles POST /programs/:id/groups/:groupId: a new name
// or holding period.
func (s *Server) DashUpdateGroup(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	g, err := s.store.Group(c.Request().Context(), p.WorkspaceID, c.Param("groupId"))
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.ProgramID != p.ID) {
		return notFound("group")
	}
	if err != nil {
		return err
	}
	f := progReadGroup(c)
	f.ID = g.ID
	changed := *g
	progCheckGroup(&f, &changed, p)
	if len(f.Errors) == 0 {
		err := s.store.UpdateGroup(c.Request().Context(), &changed)
		switch {
		case formConflict(err, f.Errors):
		case err != nil:
			return err
		default:
			return redirect(c, "/programs/"+p.ID+"?done=group-saved#groups")
		}
	}
	f.Open = true
	return s.progInvalid(c, p, func(v *dashboard.ProgramDetailView) templ.Component {
		for i := range v.Groups {
			if v.Groups[i].Group.ID == g.ID {
				v.Groups[i].Edit = f
			}
		}
		return dashboard.GroupEditForm(v.CSRF, p, f)
	})
}

// progReadGroup reads a group form as typed.
func progReadGroup(c echo.Context) dashboard.GroupForm {
	return dashboard.GroupForm{Name: strings.TrimSpace(c.FormValue("name")),
		HoldingPeriodDays: strings.TrimSpace(c.FormValue("holdingPeriodDays")), Errors: map[string]string{}}
}

// progCheckGroup validates a group form with the API's rules and copies it onto g.
func progCheckGroup(f *dashboard.GroupForm, g *store.Group, p *store.Program) {
	switch validator.Name(f.Name, validator.GroupNameMax) {
	case validator.CodeMissing:
		f.Errors["name"] = "Enter a name for the group."
	case validator.CodeTooLong:
		f.Errors["name"] = "Keep the name to " + strconv.Itoa(validator.GroupNameMax) + " characters or fewer."
	}
	g.Name = f.Name
	g.HoldingPeriodDays = nil
	if f.HoldingPeriodDays != "" {
		n, code := validator.HoldingPeriod(f.HoldingPeriodDays)
		if code != validator.CodeOK {
			f.Errors["holdingPeriodDays"] = "Enter a whole number of days from 0 to 3650, or leave it blank to use the program's " +
				strconv.Itoa(p.HoldingPeriodDays) + "."
		}
		g.HoldingPeriodDays = &n
	}
}
