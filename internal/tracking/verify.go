package tracking

import (
	"context"

	"github.com/partli/partli/internal/store"
)

// markVerified turns the program of an event that went through the
// pipeline from draft to active, in the event's transaction, the first time
// only. Once the database answers that the program was verified already
// (committed: the UPDATE waits for a concurrent first sale's transaction),
// this process remembers it, so a busy program costs a map lookup, not a
// statement; a verification that rolls back is never remembered.
func (s *Service) markVerified(ctx context.Context, tx *store.Tx, workspaceID, programID string) error {
	if _, ok := s.verified.Load(programID); ok {
		return nil
	}
	already, err := tx.MarkProgramVerified(ctx, workspaceID, programID)
	if err != nil {
		return err
	}
	if already {
		s.verified.Store(programID, struct{}{})
	}
	return nil
}
