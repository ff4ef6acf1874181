package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Scheduled payouts (migration 00011): programs with a weekly or monthly
// schedule, and one run per program and period, claimed with a lease.

// ScheduledProgram is a program paid on a schedule.
type ScheduledProgram struct {
	WorkspaceID string `db:"workspace_id"`
	ProgramID   string `db:"id"`
	Schedule    string `db:"payout_schedule"`
	Day         int    `db:"payout_day"`
}

// ScheduledPrograms lists every program, of any workspace, with a weekly or
// monthly payout schedule.
func (q Queries) ScheduledPrograms(ctx context.Context) ([]ScheduledProgram, error) {
	var ps []ScheduledProgram
	err := q.sel(ctx, &ps, `SELECT workspace_id, id, payout_schedule, payout_day FROM programs
		WHERE payout_schedule <> 'manual' ORDER BY workspace_id, id`)
	if err != nil {
		return nil, fmt.Errorf("store: scheduled programs: %w", err)
	}
	return ps, nil
}

// SetPayoutSchedule sets a program's payout schedule and day (nil for
// manual).
func (q Queries) SetPayoutSchedule(ctx context.Context, p *Program, schedule string, day *int) error {
	err := q.get(ctx, p, `UPDATE programs SET payout_schedule = $3, payout_day = $4, updated_at = now()
		WHERE workspace_id = $1 AND id = $2 RETURNING `+programCols, p.WorkspaceID, p.ID, schedule, day)
	if err != nil {
		return fmt.Errorf("store: set payout schedule: %w", err)
	}
	return nil
}

// PayoutRun is one scheduled run of a program's payouts for a period.
type PayoutRun struct {
	WorkspaceID  string          `db:"workspace_id"`
	ProgramID    string          `db:"program_id"`
	Period       string          `db:"period"`
	Status       string          `db:"status"`
	LeasedUntil  time.Time       `db:"leased_until"`
	StartedAt    time.Time       `db:"started_at"`
	FinishedAt   *time.Time      `db:"finished_at"`
	Created      int             `db:"created"`
	Sent         int             `db:"sent"`
	Failed       int             `db:"failed"`
	BelowMinimum int             `db:"below_minimum"`
	NotReady     int             `db:"not_ready"`
	Report       json.RawMessage `db:"report"`
}

// ClaimPayoutRun claims the run of a program for a period for lease: it
// reports true when this caller may run it — nobody had, or the replica
// that started it let its lease run out — and false when the run is done
// or another replica holds it. The database decides, in one statement and
// by its own clock, so two replicas never both hold a period. held is the
// lease's end, the token of RenewPayoutRun and FinishPayoutRun.
func (q Queries) ClaimPayoutRun(ctx context.Context, workspaceID, programID, period string, lease time.Duration) (held time.Time, ok bool, err error) {
	err = q.get(ctx, &held, `
		INSERT INTO payout_runs AS r (workspace_id, program_id, period, leased_until)
		VALUES ($1, $2, $3, now() + $4 * interval '1 microsecond')
		ON CONFLICT (workspace_id, program_id, period) DO UPDATE SET leased_until = EXCLUDED.leased_until
		WHERE r.status = 'running' AND r.leased_until < EXCLUDED.started_at
		RETURNING leased_until`, workspaceID, programID, period, lease.Microseconds())
	if errors.Is(err, ErrNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("store: claim payout run: %w", err)
	}
	return held, true, nil
}

// RenewPayoutRun extends the lease of a run this caller holds (held, the
// lease it was given, is the token) by lease from now; false when it lost
// the lease.
func (q Queries) RenewPayoutRun(ctx context.Context, workspaceID, programID, period string, held time.Time, lease time.Duration) (time.Time, bool, error) {
	var next time.Time
	err := q.get(ctx, &next, `UPDATE payout_runs SET leased_until = now() + $5 * interval '1 microsecond'
		WHERE workspace_id = $1 AND program_id = $2 AND period = $3 AND status = 'running' AND leased_until = $4
		RETURNING leased_until`, workspaceID, programID, period, held, lease.Microseconds())
	if errors.Is(err, ErrNotFound) {
		return held, false, nil
	}
	if err != nil {
		return held, false, fmt.Errorf("store: renew payout run: %w", err)
	}
	return next, true, nil
}

// FinishPayoutRun records a run's outcome and marks it done, if the caller
// still holds its lease (held).
func (q Queries) FinishPayoutRun(ctx context.Context, r *PayoutRun, held time.Time) (bool, error) {
	report := r.Report
	if len(report) == 0 {
		report = json.RawMessage(`{}`)
	}
	n, err := q.exec(ctx, `UPDATE payout_runs SET status = 'done', finished_at = now(), created = $5, sent = $6,
			failed = $7, below_minimum = $8, not_ready = $9, report = $10
		WHERE workspace_id = $1 AND program_id = $2 AND period = $3 AND status = 'running' AND leased_until = $4`,
		r.WorkspaceID, r.ProgramID, r.Period, held, r.Created, r.Sent, r.Failed, r.BelowMinimum, r.NotReady, string(report))
	if err != nil {
		return false, fmt.Errorf("store: finish payout run: %w", err)
	}
	return n == 1, nil
}

// RecentPayoutRuns lists the workspace's latest runs, newest first.
func (q Queries) RecentPayoutRuns(ctx context.Context, workspaceID string, limit int) ([]PayoutRun, error) {
	var rs []PayoutRun
	err := q.sel(ctx, &rs, `SELECT * FROM payout_runs WHERE workspace_id = $1 ORDER BY started_at DESC LIMIT $2`,
		workspaceID, limit)
	if err != nil {
		return nil, fmt.Errorf("store: recent payout runs: %w", err)
	}
	return rs, nil
}
