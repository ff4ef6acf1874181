package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Clicks are partitioned by month (migration 00018). EnsureClickPartitions
// makes the partitions of this month and the next ones ahead of time, and
// DropClickPartitions drops the months wholly older than the retention:
// every replica's maintenance worker calls both, and an advisory lock lets
// one at a time do it.

const partitionLock = `SELECT pg_try_advisory_xact_lock(hashtext('partli click partitions'))`

// clickPartition is the name of the partition of the month starting at m.
func clickPartition(m time.Time) string { return "clicks_" + m.Format("200601") }

func monthOf(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
}

// EnsureClickPartitions makes the partitions of the month of now and of
// the ahead months after it, those that do not exist yet.
func (s *Store) EnsureClickPartitions(ctx context.Context, now time.Time, ahead int) error {
	return s.InTx(ctx, func(tx *Tx) error {
		var locked bool
		if err := tx.get(ctx, &locked, partitionLock); err != nil || !locked {
			return err
		}
		for i := 0; i <= ahead; i++ {
			m := monthOf(now).AddDate(0, i, 0)
			q := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s PARTITION OF clicks FOR VALUES FROM ('%s') TO ('%s')`,
				clickPartition(m), m.Format(time.DateOnly), m.AddDate(0, 1, 0).Format(time.DateOnly))
			if _, err := tx.exec(ctx, q); err != nil {
				return fmt.Errorf("store: click partition %s: %w", clickPartition(m), err)
			}
		}
		return nil
	})
}

// DropClickPartitions drops the month partitions that end before
// now - retention, and returns their names. Attribution needs a click for
// its program's cookie window: a retention shorter than a window forgets
// clicks that could still attribute.
func (s *Store) DropClickPartitions(ctx context.Context, now time.Time, retention time.Duration) ([]string, error) {
	var dropped []string
	err := s.InTx(ctx, func(tx *Tx) error {
		dropped = nil
		var locked bool
		if err := tx.get(ctx, &locked, partitionLock); err != nil || !locked {
			return err
		}
		var parts []string
		if err := tx.sel(ctx, &parts, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
			WHERE i.inhparent = 'clicks'::regclass AND c.relname ~ '^clicks_[0-9]{6}$' ORDER BY 1`); err != nil {
			return err
		}
		cutoff := now.Add(-retention)
		for _, p := range parts {
			m, err := time.Parse("200601", strings.TrimPrefix(p, "clicks_"))
			if err != nil || !m.AddDate(0, 1, 0).Before(cutoff) {
				continue
			}
			if _, err := tx.exec(ctx, `DROP TABLE `+p); err != nil {
				return fmt.Errorf("store: drop click partition %s: %w", p, err)
			}
			dropped = append(dropped, p)
		}
		return nil
	})
	return dropped, err
}
