package web

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/partli/partli/internal/ids"
	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/internal/validator"
)

// PartnerStatuses are the states a partner can be in.
var PartnerStatuses = []string{"pending", "approved", "rejected", "suspended"}

// validEmail reports whether s is an email address as people type it (validator.Email).
func validEmail(s string) bool { return validator.Email(s) == validator.CodeOK }

// CreatePartner handles POST /api/programs/{id}/partners.
func (s *Server) CreatePartner(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	pa := &store.Partner{ID: ids.New(ids.Partner), WorkspaceID: p.WorkspaceID, ProgramID: p.ID, Status: "approved"}
	if v, ok := b.text("email", true, validator.EmailMax); ok {
		if !validEmail(v) {
			b.errs.Add("email", "must be an email address such as jane@example.com")
		}
		pa.Email = v
	}
	pa.Name, _ = b.text("name", true, validator.NameMax)
	if v, ok := b.str("groupId"); ok {
		pa.GroupID = &v
	}
	if v, ok := b.str("slug"); ok {
		if validator.PartnerSlug(v) != validator.CodeOK {
			b.errs.Add("slug", "must be 1–63 lower-case letters, digits, dashes or underscores")
		}
		pa.Slug = v
	}
	if v, ok := b.str("status"); ok {
		if !oneOf(v, PartnerStatuses) {
			b.errs.Add("status", "must be one of "+strings.Join(PartnerStatuses, ", "))
		}
		pa.Status = v
	}
	if err := b.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.checkGroup(ctx, p.WorkspaceID, p.ID, pa.GroupID); err != nil {
		return err
	}
	if err := s.insertPartner(ctx, pa); err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, s.withLink(pa))
}

// insertPartner stores pa, generating a free slug from the name when none
// was given. A given slug that is taken, or an email address that is a
// partner of the program already, is a *store.ConflictError (on
// store.PartnerSlugKey or store.PartnerEmailKey), which each surface words
// its own way. The hooks, when given,
// run in the partner's transaction, before and after its insert (an
// application's new account, its mail).
func (s *Server) insertPartner(ctx context.Context, pa *store.Partner, hooks ...partnerHook) error {
	explicit := pa.Slug != ""
	if !explicit {
		pa.Slug = slugify(pa.Name, 40)
		if taken, err := s.store.SlugTaken(ctx, pa.Slug); err != nil {
			return err
		} else if taken {
			pa.Slug = withSuffix(pa.Slug, 63)
		}
	}
	for attempt := 0; ; attempt++ {
		err := s.store.InTx(ctx, func(tx *store.Tx) error {
			for _, h := range hooks {
				if h.before != nil {
					if err := h.before(tx); err != nil {
						return err
					}
				}
			}
			if err := tx.CreatePartner(ctx, pa); err != nil {
				return err
			}
			for _, h := range hooks {
				if h.after != nil {
					if err := h.after(tx); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if store.ConflictKey(err) == store.PartnerSlugKey && !explicit && attempt < 5 {
			pa.Slug = withSuffix(slugify(pa.Name, 40), 63)
			continue
		}
		return err
	}
}

// partnerHook is work done in a new partner's transaction.
type partnerHook struct{ before, after func(*store.Tx) error }

// checkGroup verifies that groupID, when set, is a group of the program:
// errNoSuchGroup when it is not.
func (s *Server) checkGroup(ctx context.Context, workspaceID, programID string, groupID *string) error {
	if groupID == nil {
		return nil
	}
	g, err := s.store.Group(ctx, workspaceID, *groupID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && g.ProgramID != programID) {
		return errNoSuchGroup
	}
	return err
}

func (s *Server) withLink(p *store.Partner) *store.Partner {
	p.Link = s.cfg.BaseURL + "/r/" + p.Slug
	return p
}

// ListPartners handles GET /api/programs/{id}/partners (?q= searches name, email, slug).
func (s *Server) ListPartners(c echo.Context) error {
	p, err := s.program(c)
	if err != nil {
		return err
	}
	page, err := pageOf(c)
	if err != nil {
		return err
	}
	f := store.PartnerFilter{ProgramID: p.ID, Query: c.QueryParam("q"), Status: c.QueryParam("status")}
	if f.Status != "" && !oneOf(f.Status, PartnerStatuses) {
		return invalidField("status", "must be one of "+strings.Join(PartnerStatuses, ", "))
	}
	rows, next, err := s.store.ListPartners(c.Request().Context(), p.WorkspaceID, f, page)
	if err != nil {
		return err
	}
	ps := make([]*store.Partner, len(rows))
	for i := range rows {
		ps[i] = s.withLink(&rows[i])
	}
	if err := s.withPayoutMethods(c, ps...); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, newList(rows, next))
}

func (s *Server) partner(c echo.Context) (*store.Partner, error) {
	p, err := s.store.Partner(c.Request().Context(), workspaceOf(c), c.Param("id"))
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound("partner")
	}
	return p, err
}

// GetPartner handles GET /api/partners/{id}.
func (s *Server) GetPartner(c echo.Context) error {
	p, err := s.partner(c)
	if err != nil {
		return err
	}
	if err := s.withPayoutMethods(c, p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.withLink(p))
}

// UpdatePartner handles PATCH /api/partners/{id}: name, groupId (null for
// none) and status.
func (s *Server) UpdatePartner(c echo.Context) error {
	p, err := s.partner(c)
	if err != nil {
		return err
	}
	b, err := readBody(c)
	if err != nil {
		return err
	}
	if b.present("name") {
		if v, ok := b.text("name", true, validator.NameMax); ok {
			p.Name = v
		}
	}
	if v, ok := b.str("groupId"); ok {
		p.GroupID = &v
	} else if b.present("groupId") && !b.has("groupId") {
		p.GroupID = nil
	}
	if v, ok := b.str("status"); ok {
		if !oneOf(v, PartnerStatuses) {
			b.errs.Add("status", "must be one of "+strings.Join(PartnerStatuses, ", "))
		}
		p.Status = v
	} else if b.present("status") {
		b.errs.Add("status", "must be one of "+strings.Join(PartnerStatuses, ", "))
	}
	if err := b.err(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.checkGroup(ctx, p.WorkspaceID, p.ProgramID, p.GroupID); err != nil {
		return err
	}
	// An application approved or rejected is mailed to the partner (SavePartner).
	if err := s.store.SavePartner(ctx, p); err != nil {
		return err
	}
	if err := s.withPayoutMethods(c, p); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.withLink(p))
}

func oneOf(v string, options []string) bool {
	for _, o := range options {
		if v == o {
			return true
		}
	}
	return false
}
