package store

import (
	"context"
	"fmt"
)

const programCols = `id, workspace_id, name, slug, destination_url, currency, holding_period_days,
	cookie_days, min_payout_cents, auto_approve, payout_schedule, payout_day, verified_at, created_at, updated_at,
	discount_type, discount_percent_bp, discount_amount_cents, discount_duration, discount_duration_months,
	discount_version, stripe_coupon_id, partner_codes`

// CreateProgram inserts a program; a taken slug is ErrConflict.
func (q Queries) CreateProgram(ctx context.Context, p *Program) error {
	err := q.get(ctx, p, `
		INSERT INTO programs (id, workspace_id, name, slug, destination_url, currency,
			holding_period_days, cookie_days, min_payout_cents, auto_approve, payout_schedule, payout_day,
			discount_type, discount_percent_bp, discount_amount_cents, discount_duration, discount_duration_months, partner_codes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, coalesce(nullif($11, ''), 'manual'), $12, $13, $14, $15, $16, $17, $18)
		RETURNING `+programCols,
		p.ID, p.WorkspaceID, p.Name, p.Slug, p.DestinationURL, p.Currency,
		p.HoldingPeriodDays, p.CookieDays, p.MinPayoutCents, p.AutoApprove, p.PayoutSchedule, p.PayoutDay,
		p.DiscountType, p.DiscountPercentBP, p.DiscountAmountCents, p.DiscountDuration, p.DiscountDurationMonths,
		p.PartnersCreateCodes)
	if err != nil {
		return fmt.Errorf("store: create program: %w", err)
	}
	return nil
}

// UpdateProgram writes every editable field of p.
func (q Queries) UpdateProgram(ctx context.Context, p *Program) error {
	err := q.get(ctx, p, `
		WITH p AS (
			UPDATE programs SET name = $3, slug = $4, destination_url = $5, currency = $6,
				holding_period_days = $7, cookie_days = $8, min_payout_cents = $9, auto_approve = $10,
				payout_schedule = coalesce(nullif($11, ''), 'manual'), payout_day = $12, updated_at = now(),
				-- A flat discount in another currency is another coupon (codes.go).
				discount_version = discount_version + CASE WHEN discount_type = 'flat' AND currency <> $6 THEN 1 ELSE 0 END,
				stripe_coupon_id = CASE WHEN discount_type = 'flat' AND currency <> $6 THEN NULL ELSE stripe_coupon_id END
			WHERE workspace_id = $1 AND id = $2
			RETURNING `+programCols+`
		), `+linkChangedByProgram("p")+`
		SELECT * FROM p`,
		p.WorkspaceID, p.ID, p.Name, p.Slug, p.DestinationURL, p.Currency,
		p.HoldingPeriodDays, p.CookieDays, p.MinPayoutCents, p.AutoApprove, p.PayoutSchedule, p.PayoutDay)
	if err != nil {
		return fmt.Errorf("store: update program: %w", err)
	}
	q.links.forget("", p.ID)
	return nil
}

// Program returns one program of the workspace.
func (q Queries) Program(ctx context.Context, workspaceID, id string) (*Program, error) {
	var p Program
	if err := q.get(ctx, &p, `SELECT `+programCols+` FROM programs WHERE workspace_id = $1 AND id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: program: %w", err)
	}
	return &p, nil
}

// ProgramBySlug returns a program by workspace and program slug.
func (q Queries) ProgramBySlug(ctx context.Context, workspaceID, slug string) (*Program, error) {
	var p Program
	if err := q.get(ctx, &p, `SELECT `+programCols+` FROM programs WHERE workspace_id = $1 AND slug = $2`, workspaceID, slug); err != nil {
		return nil, fmt.Errorf("store: program: %w", err)
	}
	return &p, nil
}

// ListPrograms lists a workspace's programs, newest first.
func (q Queries) ListPrograms(ctx context.Context, workspaceID string, page Page) ([]Program, *string, error) {
	t, id := page.cursorArgs()
	var rows []Program
	err := q.sel(ctx, &rows, `SELECT `+programCols+` FROM programs
		WHERE workspace_id = $1 AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
		ORDER BY created_at DESC, id DESC LIMIT $4`, workspaceID, t, id, page.fetch())
	if err != nil {
		return nil, nil, fmt.Errorf("store: list programs: %w", err)
	}
	rows, next := trim(page, rows, func(p Program) Cursor { return Cursor{p.CreatedAt, p.ID} })
	return rows, next, nil
}

// CreateGroup inserts a partner group.
func (q Queries) CreateGroup(ctx context.Context, g *Group) error {
	err := q.get(ctx, g, `
		INSERT INTO partner_groups (id, workspace_id, program_id, name, holding_period_days)
		VALUES ($1, $2, $3, $4, $5)
		RETURNING id, workspace_id, program_id, name, holding_period_days, created_at`,
		g.ID, g.WorkspaceID, g.ProgramID, g.Name, g.HoldingPeriodDays)
	if err != nil {
		return fmt.Errorf("store: create group: %w", err)
	}
	return nil
}

// UpdateGroup writes a group's name and holding period.
func (q Queries) UpdateGroup(ctx context.Context, g *Group) error {
	err := q.get(ctx, g, `
		UPDATE partner_groups SET name = $3, holding_period_days = $4
		WHERE workspace_id = $1 AND id = $2
		RETURNING id, workspace_id, program_id, name, holding_period_days, created_at`,
		g.WorkspaceID, g.ID, g.Name, g.HoldingPeriodDays)
	if err != nil {
		return fmt.Errorf("store: update group: %w", err)
	}
	return nil
}

// Group returns one group of the workspace.
func (q Queries) Group(ctx context.Context, workspaceID, id string) (*Group, error) {
	var g Group
	if err := q.get(ctx, &g, `SELECT id, workspace_id, program_id, name, holding_period_days, created_at
		FROM partner_groups WHERE workspace_id = $1 AND id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: group: %w", err)
	}
	return &g, nil
}

// ListGroups lists a program's groups by name.
func (q Queries) ListGroups(ctx context.Context, workspaceID, programID string) ([]Group, error) {
	var gs []Group
	err := q.sel(ctx, &gs, `SELECT id, workspace_id, program_id, name, holding_period_days, created_at
		FROM partner_groups WHERE workspace_id = $1 AND program_id = $2 ORDER BY name, id`, workspaceID, programID)
	if err != nil {
		return nil, fmt.Errorf("store: list groups: %w", err)
	}
	return gs, nil
}

const rewardSelect = `SELECT r.id, r.workspace_id, r.program_id, r.group_id, r.event, r.type, r.percent_bp,
	r.amount_cents, CASE WHEN r.type = 'flat' THEN p.currency END AS currency, r.interval,
	r.duration_months, r.created_at, r.updated_at
	FROM rewards r JOIN programs p ON p.workspace_id = r.workspace_id AND p.id = r.program_id`

// CreateReward inserts a reward; a second reward for the same slot is ErrConflict.
func (q Queries) CreateReward(ctx context.Context, r *Reward) error {
	_, err := q.exec(ctx, `
		INSERT INTO rewards (id, workspace_id, program_id, group_id, event, type, percent_bp,
			amount_cents, interval, duration_months)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		r.ID, r.WorkspaceID, r.ProgramID, r.GroupID, r.Event, r.Type, r.PercentBP,
		r.AmountCents, r.Interval, r.DurationMonths)
	if err != nil {
		return fmt.Errorf("store: create reward: %w", err)
	}
	return q.reload(ctx, r)
}

func (q Queries) reload(ctx context.Context, r *Reward) error {
	got, err := q.Reward(ctx, r.WorkspaceID, r.ID)
	if err != nil {
		return err
	}
	*r = *got
	return nil
}

// UpdateReward writes a reward's terms.
func (q Queries) UpdateReward(ctx context.Context, r *Reward) error {
	n, err := q.exec(ctx, `
		UPDATE rewards SET type = $3, percent_bp = $4, amount_cents = $5, interval = $6,
			duration_months = $7, updated_at = now()
		WHERE workspace_id = $1 AND id = $2`,
		r.WorkspaceID, r.ID, r.Type, r.PercentBP, r.AmountCents, r.Interval, r.DurationMonths)
	if err != nil {
		return fmt.Errorf("store: update reward: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return q.reload(ctx, r)
}

// DeleteReward removes a reward. Commissions keep their snapshot of it.
func (q Queries) DeleteReward(ctx context.Context, workspaceID, id string) error {
	n, err := q.exec(ctx, `DELETE FROM rewards WHERE workspace_id = $1 AND id = $2`, workspaceID, id)
	if err != nil {
		return fmt.Errorf("store: delete reward: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// Reward returns one reward of the workspace.
func (q Queries) Reward(ctx context.Context, workspaceID, id string) (*Reward, error) {
	var r Reward
	if err := q.get(ctx, &r, rewardSelect+` WHERE r.workspace_id = $1 AND r.id = $2`, workspaceID, id); err != nil {
		return nil, fmt.Errorf("store: reward: %w", err)
	}
	return &r, nil
}

// ListRewards lists a program's rewards: the defaults first, then by group.
func (q Queries) ListRewards(ctx context.Context, workspaceID, programID string) ([]Reward, error) {
	var rs []Reward
	err := q.sel(ctx, &rs, rewardSelect+` WHERE r.workspace_id = $1 AND r.program_id = $2
		ORDER BY r.group_id NULLS FIRST, r.event DESC, r.id`, workspaceID, programID)
	if err != nil {
		return nil, fmt.Errorf("store: list rewards: %w", err)
	}
	return rs, nil
}
