package commission

import (
	"errors"
	"fmt"
	"testing"
)

// TestTransitionEveryPair checks the whole state machine: every (from, to)
// pair of known states, plus unknown states on either side, with a reason.
func TestTransitionEveryPair(t *testing.T) {
	allowedPairs := map[[2]string]bool{
		{Pending, Approved}:    true,
		{Approved, Paid}:       true,
		{Pending, ClawedBack}:  true,
		{Approved, ClawedBack}: true,
	}
	states := []string{Pending, Approved, Paid, ClawedBack, "", "bogus", "PENDING"}
	n := 0
	for _, from := range states {
		for _, to := range states {
			n++
			want := allowedPairs[[2]string{from, to}]
			t.Run(fmt.Sprintf("%s->%s", from, to), func(t *testing.T) {
				err := Transition(from, to, "refund")
				if want {
					if err != nil {
						t.Fatalf("Transition(%q, %q, reason) = %v, want nil", from, to, err)
					}
					return
				}
				if !errors.Is(err, ErrInvalidTransition) {
					t.Fatalf("Transition(%q, %q, reason) = %v, want ErrInvalidTransition", from, to, err)
				}
				if errors.Is(err, ErrReasonRequired) {
					t.Fatalf("Transition(%q, %q, reason) = %v, must not be ErrReasonRequired", from, to, err)
				}
				if !IsRefusal(err) {
					t.Fatalf("IsRefusal(%v) = false", err)
				}
			})
		}
	}
	if n != 49 {
		t.Fatalf("checked %d pairs, want 49", n)
	}
}

func TestTransitionReason(t *testing.T) {
	tests := []struct {
		from, to, reason string
		want             error
	}{
		{Pending, ClawedBack, "", ErrReasonRequired},
		{Pending, ClawedBack, "   \t\n", ErrReasonRequired},
		{Approved, ClawedBack, "", ErrReasonRequired},
		{Approved, ClawedBack, " ", ErrReasonRequired},
		{Pending, ClawedBack, "refund", nil},
		{Approved, ClawedBack, "chargeback", nil},
		// The reason is optional for the other allowed moves.
		{Pending, Approved, "", nil},
		{Approved, Paid, "", nil},
		// A forbidden move stays forbidden whatever the reason, and is
		// reported as such (not as a missing reason).
		{Paid, ClawedBack, "", ErrInvalidTransition},
		{Paid, ClawedBack, "refund", ErrInvalidTransition},
		{ClawedBack, ClawedBack, "", ErrInvalidTransition},
		{ClawedBack, Pending, "", ErrInvalidTransition},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s->%s/%q", tt.from, tt.to, tt.reason), func(t *testing.T) {
			err := Transition(tt.from, tt.to, tt.reason)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Transition = %v, want nil", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Transition = %v, want %v", err, tt.want)
			}
			other := ErrInvalidTransition
			if tt.want == ErrInvalidTransition {
				other = ErrReasonRequired
			}
			if errors.Is(err, other) {
				t.Fatalf("Transition = %v, must not also be %v", err, other)
			}
			if !IsRefusal(err) {
				t.Fatalf("IsRefusal(%v) = false", err)
			}
		})
	}
}

func TestValidStatus(t *testing.T) {
	for _, s := range []string{Pending, Approved, Paid, ClawedBack} {
		if !ValidStatus(s) {
			t.Errorf("ValidStatus(%q) = false", s)
		}
	}
	for _, s := range []string{"", "Pending", "clawed-back", "refunded"} {
		if ValidStatus(s) {
			t.Errorf("ValidStatus(%q) = true", s)
		}
	}
	if IsRefusal(nil) || IsRefusal(errors.New("db down")) {
		t.Error("IsRefusal is true for an error that is not a refusal")
	}
}
