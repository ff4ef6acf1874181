package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/lib/pq"
)

func TestConflictError(t *testing.T) {
	unique := &pq.Error{Code: "23505", Constraint: ProgramSlugKey}
	tests := []struct {
		name     string
		err      error
		key      string
		conflict bool
	}{
		{"a unique violation", mapErr(unique), ProgramSlugKey, true},
		{"wrapped", fmt.Errorf("store: create program: %w", mapErr(unique)), ProgramSlugKey, true},
		{"made by the store", &ConflictError{Key: StripeAccountKey}, StripeAccountKey, true},
		{"another violation", mapErr(&pq.Error{Code: "23503", Constraint: "fk"}), "", false},
		{"not found", ErrNotFound, "", false},
		{"the bare sentinel", ErrConflict, "", true},
		{"nil", nil, "", false},
		// A key whose name is a suffix of another's is not that key.
		{"suffix", &ConflictError{Key: "x" + UsersEmailKey}, "x" + UsersEmailKey, true},
	}
	for _, tc := range tests {
		if got := ConflictKey(tc.err); got != tc.key {
			t.Errorf("%s: ConflictKey = %q, want %q", tc.name, got, tc.key)
		}
		if got := errors.Is(tc.err, ErrConflict); got != tc.conflict {
			t.Errorf("%s: errors.Is(ErrConflict) = %v, want %v", tc.name, got, tc.conflict)
		}
	}
	if got := mapErr(unique).Error(); got != "store: conflict: "+ProgramSlugKey {
		t.Errorf("message %q", got)
	}
}

// Citus reports a worker's unique violation without the constraint field,
// naming its shard's constraint in the message; a shard's violation run on
// the coordinator names it in the field. Either is the schema's key.
func TestConflictKeyOfAShard(t *testing.T) {
	for _, e := range []*pq.Error{
		{Code: "23505", Message: `duplicate key value violates unique constraint "` + ProgramSlugKey + `_102040"`},
		{Code: "23505", Constraint: ProgramSlugKey + "_102040", Message: "duplicate key value"},
		{Code: "23505", Constraint: ProgramSlugKey},
	} {
		if got := ConflictKey(mapErr(e)); got != ProgramSlugKey {
			t.Errorf("%+v: key %q, want %q", e, got, ProgramSlugKey)
		}
	}
}
