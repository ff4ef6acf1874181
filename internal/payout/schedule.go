package payout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/partli/partli/internal/commission"
	"github.com/partli/partli/internal/store"
)

// Payout schedules (programs.payout_schedule, payout_day), in UTC.
const (
	ScheduleManual  = "manual"
	ScheduleWeekly  = "weekly"
	ScheduleMonthly = "monthly"
)

// Schedules lists every schedule.
var Schedules = []string{ScheduleManual, ScheduleWeekly, ScheduleMonthly}

// CheckSchedule says what is wrong with a schedule and its day ("" when
// nothing): weekly takes an ISO weekday, 1 (Monday) to 7 (Sunday);
// monthly a day of the month, 1 to 28 (every month has it); manual none.
func CheckSchedule(schedule string, day *int) (field, problem string) {
	switch schedule {
	case ScheduleManual:
		if day != nil {
			return "payoutDay", "must be null for a manual schedule"
		}
	case ScheduleWeekly:
		if day == nil || *day < 1 || *day > 7 {
			return "payoutDay", "must be a weekday from 1 (Monday) to 7 (Sunday) for a weekly schedule"
		}
	case ScheduleMonthly:
		if day == nil || *day < 1 || *day > 28 {
			return "payoutDay", "must be a day of the month from 1 to 28 for a monthly schedule"
		}
	default:
		return "payoutSchedule", "must be manual, weekly or monthly"
	}
	return "", ""
}

// Period is the payout period of a schedule that contains now: its name
// ("2026-W49" for an ISO week, "2026-12" for a month) and when its run is
// due (the schedule's day, at midnight UTC). ok is false for a manual
// schedule. A run is due from that moment to the end of the period, so a
// replica that was down on the day still runs it, once, later that period.
func Period(schedule string, day int, now time.Time) (name string, due time.Time, ok bool) {
	now = now.UTC()
	midnight := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	switch schedule {
	case ScheduleWeekly:
		weekday := int(now.Weekday()+6)%7 + 1 // ISO: Monday 1 … Sunday 7
		monday := midnight.AddDate(0, 0, 1-weekday)
		year, week := now.ISOWeek()
		return fmt.Sprintf("%d-W%02d", year, week), monday.AddDate(0, 0, day-1), true
	case ScheduleMonthly:
		return now.Format("2006-01"), time.Date(now.Year(), now.Month(), day, 0, 0, 0, 0, time.UTC), true
	}
	return "", time.Time{}, false
}

// RunReport is what a scheduled run did, as the payouts page reports it.
type RunReport struct {
	Created      int       `json:"created"`
	Sent         int       `json:"sent"`
	Failed       []Skipped `json:"failed"`
	BelowMinimum []Skipped `json:"belowMinimum"`
	NotReady     []Skipped `json:"notReady"`
}

// reportCap bounds the partners a run's report names per list.
const reportCap = 100

func capped(s []Skipped) []Skipped {
	if len(s) > reportCap {
		return s[:reportCap]
	}
	return s
}

// RunSchedules runs every scheduled program's payouts whose period is due
// and not run yet: on every replica at once, each period runs once (the
// run is claimed with a lease in the database, renewed while it works,
// and taken over only once a replica that stopped let it run out). It
// returns how many runs this call did.
func (s *Service) RunSchedules(ctx context.Context, lease time.Duration) (int, error) {
	ps, err := s.store.ScheduledPrograms(ctx)
	if err != nil {
		return 0, err
	}
	done := 0
	for _, p := range ps {
		name, due, ok := Period(p.Schedule, p.Day, s.now())
		if !ok || s.now().Before(due) {
			continue
		}
		held, claimed, err := s.store.ClaimPayoutRun(ctx, p.WorkspaceID, p.ProgramID, name, lease)
		if err != nil {
			return done, err
		}
		if !claimed {
			continue
		}
		if err := s.runPeriod(ctx, p, name, held, lease); err != nil {
			return done, err
		}
		done++
	}
	return done, nil
}

// errLostLease stops a run whose lease another replica took over.
var errLostLease = errors.New("payout: the run's lease was taken over")

// runPeriod creates the program's payouts of a period (partners whose
// method is ready, balances that reach the minimum) and sends the Stripe
// ones, then records what it did.
func (s *Service) runPeriod(ctx context.Context, p store.ScheduledProgram, period string, held time.Time, lease time.Duration) error {
	renewed := time.Now()
	renew := func() error {
		if time.Since(renewed) < lease/3 {
			return nil
		}
		next, ok, err := s.store.RenewPayoutRun(ctx, p.WorkspaceID, p.ProgramID, period, held, lease)
		if err != nil {
			return err
		}
		if !ok {
			return errLostLease
		}
		held, renewed = next, time.Now()
		return nil
	}
	actor := "schedule:" + period
	created, err := s.CreateForProgram(ctx, p.WorkspaceID, p.ProgramID, nil, true, actor)
	if err != nil {
		return err
	}
	run := RunReport{Created: len(created.Payouts), BelowMinimum: created.BelowMinimum, NotReady: created.NotReady}
	// The period's Stripe payouts not sent yet: those just created, and
	// those of a replica that stopped halfway through this period's run.
	var unsent []store.Payout
	for page := (store.Page{Limit: 200}); ; {
		rows, next, err := s.store.ListPayoutRows(ctx, p.WorkspaceID, store.PayoutFilter{ProgramID: p.ProgramID,
			Status: commission.PayoutPending, Method: Stripe, CreatedBy: actor}, page)
		if err != nil {
			return err
		}
		for _, r := range rows {
			unsent = append(unsent, r.Payout)
		}
		if next == nil {
			break
		}
		if page.Cursor, err = store.DecodeCursor(*next); err != nil {
			return err
		}
	}
	for _, po := range unsent {
		if err := renew(); err != nil {
			return err
		}
		out, err := s.Send(ctx, p.WorkspaceID, po.ID)
		skip := Skipped{PartnerID: po.PartnerID, Currency: po.Currency, BalanceCents: po.AmountCents}
		switch {
		case err != nil && IsRefusal(err):
			skip.Why = Explain(err)
			run.Failed = append(run.Failed, skip)
		case err != nil:
			return err
		case out.Status == commission.PayoutPaid:
			run.Sent++
		case out.Status == commission.PayoutFailed:
			skip.Why = "Stripe refused the transfer: " + string(out.FailureReason)
			run.Failed = append(run.Failed, skip)
		default: // processing: Stripe did not answer; the worker asks again
			run.Sent++
		}
	}
	report, err := json.Marshal(RunReport{Created: run.Created, Sent: run.Sent, Failed: capped(run.Failed),
		BelowMinimum: capped(run.BelowMinimum), NotReady: capped(run.NotReady)})
	if err != nil {
		return err
	}
	r := &store.PayoutRun{WorkspaceID: p.WorkspaceID, ProgramID: p.ProgramID, Period: period, Created: run.Created,
		Sent: run.Sent, Failed: len(run.Failed), BelowMinimum: len(run.BelowMinimum), NotReady: len(run.NotReady), Report: report}
	ok, err := s.store.FinishPayoutRun(ctx, r, held)
	if err != nil {
		return err
	}
	if !ok {
		return errLostLease
	}
	s.log.Info("payout: scheduled run", "workspace", p.WorkspaceID, "program", p.ProgramID, "period", period,
		"created", r.Created, "sent", r.Sent, "failed", r.Failed, "below_minimum", r.BelowMinimum, "not_ready", r.NotReady)
	return nil
}

// Run is the payout worker of a replica: every interval it asks Stripe
// again about payouts whose sender stopped, and runs the schedules that
// are due, until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.ResolveStale(ctx, 100); err != nil && !errors.Is(err, context.Canceled) {
			s.log.Warn("payout: resolving processing payouts failed", "err", err)
		}
		if _, err := s.RunSchedules(ctx, 5*time.Minute); err != nil && !errors.Is(err, context.Canceled) {
			if errors.Is(err, errLostLease) {
				s.log.Warn("payout: a scheduled run was taken over by another replica")
			} else {
				s.log.Warn("payout: scheduled runs failed", "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
