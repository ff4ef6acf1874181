package store

import (
	"context"
	"fmt"
)

const partnerCols = `id, workspace_id, program_id, account_id, group_id, email, name, slug, status,
	website, country, pitch, created_at, updated_at`

// CreatePartner inserts a partner and its slug's global look-up; a taken
// slug or email is ErrConflict (PartnerSlugKey, PartnerEmailKey).
func (q Queries) CreatePartner(ctx context.Context, p *Partner) error {
	err := q.atomically(ctx, func(q Queries) error {
		// The slug is global: its look-up row first, so a taken one is
		// ErrConflict on PartnerSlugKey before anything else is written.
		if _, err := q.exec(ctx, `
			WITH s AS (INSERT INTO partner_slugs (slug, workspace, partner_id) VALUES ($1, $2, $3) RETURNING slug)
			INSERT INTO link_changes (slug) SELECT slug FROM s`, p.Slug, p.WorkspaceID, p.ID); err != nil {
			return err
		}
		return q.get(ctx, p, `
			INSERT INTO partners (id, workspace_id, program_id, account_id, group_id, email, name, slug,
				status, website, country, pitch)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
			RETURNING `+partnerCols,
			p.ID, p.WorkspaceID, p.ProgramID, p.AccountID, p.GroupID, p.Email, p.Name, p.Slug,
			p.Status, p.Website, p.Country, p.Pitch)
	})
	if err != nil {
		return fmt.Errorf("store: create partner: %w", err)
	}
	q.links.forget(p.Slug, "")
	return nil
}

// UpdatePartner writes a partner's name, group and status.
func (q Queries) UpdatePartner(ctx context.Context, p *Partner) error {
	err := q.get(ctx, p, `
		WITH p AS (
			UPDATE partners SET name = $3, group_id = $4, status = $5, updated_at = now()
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+partnerCols+`
		), `+linkChangedBySlug("p")+`
		SELECT * FROM p`,
		p.WorkspaceID, p.ID, p.Name, p.GroupID, p.Status)
	if err != nil {
		return fmt.Errorf("store: update partner: %w", err)
	}
	q.links.forget(p.Slug, "")
	return nil
}

// SavePartner writes a partner's name, group and status, as UpdatePartner,
// and tells a pending partner whose application this approves or rejects
// by mail (MailApplicationApproved, MailApplicationRejected), in the same
// transaction. The partner's row is locked to read the status it had.
func (s *Store) SavePartner(ctx context.Context, p *Partner) error {
	return s.InTx(ctx, func(tx *Tx) error {
		var was string
		if err := tx.get(ctx, &was, `SELECT status FROM partners WHERE workspace_id = $1 AND id = $2 FOR UPDATE`,
			p.WorkspaceID, p.ID); err != nil {
			return fmt.Errorf("store: save partner: %w", err)
		}
		if err := tx.UpdatePartner(ctx, p); err != nil {
			return err
		}
		kind := ""
		switch {
		case was != "pending":
		case p.Status == "approved":
			kind = MailApplicationApproved
		case p.Status == "rejected":
			kind = MailApplicationRejected
		}
		if kind == "" {
			return nil
		}
		return tx.QueuePartnerMail(ctx, p.WorkspaceID, p.ID, kind, PartnerMail{})
	})
}

// Partner returns one partner of the workspace.
func (q Queries) Partner(ctx context.Context, workspaceID, id string) (*Partner, error) {
	var p Partner
	if err := q.get(ctx, &p, `SELECT `+partnerCols+` FROM partners WHERE workspace_id = $1 AND id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: partner: %w", err)
	}
	return &p, nil
}

// SlugTaken reports whether a partner anywhere already uses slug.
func (q Queries) SlugTaken(ctx context.Context, slug string) (bool, error) {
	var taken bool
	err := q.get(ctx, &taken, `SELECT EXISTS (SELECT 1 FROM partners WHERE slug = $1)`, slug)
	return taken, err
}

// PartnerFilter narrows a partner list.
type PartnerFilter struct {
	ProgramID string
	Query     string // matches name, email or slug, any case
	Status    string
}

// ListPartners lists a workspace's partners, newest first.
func (q Queries) ListPartners(ctx context.Context, workspaceID string, f PartnerFilter, page Page) ([]Partner, *string, error) {
	t, id := page.cursorArgs()
	var rows []Partner
	err := q.sel(ctx, &rows, `SELECT `+partnerCols+` FROM partners
		WHERE workspace_id = $1
		  AND ($2 = '' OR program_id = $2)
		  AND ($3 = '' OR name ILIKE '%' || $3 || '%' OR email ILIKE '%' || $3 || '%' OR slug ILIKE '%' || $3 || '%')
		  AND ($4 = '' OR status = $4)
		  AND ($5::timestamptz IS NULL OR (created_at, id) < ($5, $6))
		ORDER BY created_at DESC, id DESC LIMIT $7`,
		workspaceID, f.ProgramID, escapeLike(f.Query), f.Status, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list partners: %w", err)
	}
	rows, next := trim(page, rows, func(p Partner) Cursor { return Cursor{p.CreatedAt, p.ID} })
	return rows, next, nil
}

// Link is what /r/{slug} needs: the partner and its program's redirect terms.
type Link struct {
	PartnerID      string `db:"partner_id"`
	WorkspaceID    string `db:"workspace_id"`
	ProgramID      string `db:"program_id"`
	Status         string `db:"status"`
	DestinationURL string `db:"destination_url"`
	CookieDays     int    `db:"cookie_days"`
	// Code is the partner's code the link carries to the merchant's site
	// (partli.js puts it on Stripe Payment Links); nil when none.
	Code *string `db:"code"`
}

// ListClicks lists a partner's recent clicks, newest first.
func (q Queries) ListClicks(ctx context.Context, workspaceID, partnerID string, page Page) ([]Click, *string, error) {
	t, id := page.cursorArgs()
	var rows []Click
	err := q.sel(ctx, &rows, `SELECT * FROM clicks
		WHERE workspace_id = $1 AND partner_id = $2 AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4))
		ORDER BY created_at DESC, id DESC LIMIT $5`, workspaceID, partnerID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list clicks: %w", err)
	}
	rows, next := trim(page, rows, func(c Click) Cursor { return Cursor{c.CreatedAt, c.ID} })
	return rows, next, nil
}

func escapeLike(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r == '%' || r == '_' || r == '\\' {
			out = append(out, '\\')
		}
		out = append(out, r)
	}
	return string(out)
}
