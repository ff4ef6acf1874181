package commission

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/partli/partli/internal/store"
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

// TestStateMachine checks the whole table as every surface asks it: the
// API's direct changes (Transition), the dashboard's (State.Check, which
// adds payouts, adjustments and the clawback of a paid commission by
// adjustment) and the actions a dashboard row offers (State.Can), for
// every pair of states and every combination of what payouts and
// adjustments add.
func TestStateMachine(t *testing.T) {
	all := []Status{Pending, Approved, Paid, ClawedBack, "", "bogus"}
	edges := map[[2]Status]Edge{
		{Pending, Approved}: Direct, {Pending, ClawedBack}: Direct,
		{Approved, Paid}: Direct, {Approved, ClawedBack}: Direct,
		{Paid, ClawedBack}: ByAdjustment,
	}
	// What the dashboard takes, written out: status and payout → the states
	// a commission (not an adjustment) may become.
	type key struct {
		from     Status
		inPayout bool
	}
	dashboard := map[key][]Status{
		{Pending, false}:  {Approved, ClawedBack},
		{Pending, true}:   {Approved, ClawedBack},
		{Approved, false}: {Paid, ClawedBack},
		{Approved, true}:  nil, // pay or cancel the payout instead
		{Paid, false}:     {ClawedBack},
		{Paid, true}:      {ClawedBack},
	}
	n := 0
	for _, from := range all {
		for _, to := range all {
			if got := EdgeOf(from, to); got != edges[[2]Status{from, to}] {
				t.Errorf("EdgeOf(%q, %q) = %v, want %v", from, to, got, edges[[2]Status{from, to}])
			}
			direct := edges[[2]Status{from, to}] == Direct
			if err := Transition(string(from), string(to), "refund"); (err == nil) != direct {
				t.Errorf("Transition(%q, %q) = %v, want allowed %v", from, to, err, direct)
			}
			for _, adjustment := range []bool{false, true} {
				for _, inPayout := range []bool{false, true} {
					for _, takenBack := range []bool{false, true} {
						n++
						s := State{Status: from, Adjustment: adjustment, InPayout: inPayout, TakenBack: takenBack}
						want := !adjustment && slices.Contains(dashboard[key{from, inPayout}], to)
						err := s.Check("cm_1", "cm_0", "po_1", to, "refund")
						if (err == nil) != want {
							t.Errorf("%+v.Check(%q) = %v, want allowed %v", s, to, err, want)
						}
						if err != nil && !IsRefusal(err) {
							t.Errorf("%+v.Check(%q) = %v, not a refusal", s, to, err)
						}
						wantCan := want && !(from == Paid && to == ClawedBack && takenBack)
						if got := s.Can(to); got != wantCan {
							t.Errorf("%+v.Can(%q) = %v, want %v", s, to, got, wantCan)
						}
						if want && NeedsReason(to) {
							if err := s.Check("cm_1", "", "", to, " "); !errors.Is(err, ErrReasonRequired) {
								t.Errorf("%+v.Check(%q) without a reason = %v, want ErrReasonRequired", s, to, err)
							}
						}
					}
				}
			}
		}
	}
	if n != 6*6*8 {
		t.Fatalf("checked %d cases", n)
	}
}

func TestRowState(t *testing.T) {
	po, orig := "po_1", "cm_0"
	r := store.CommissionRow{Commission: store.Commission{Status: Paid, PayoutID: &po, AdjustsID: &orig}, Adjusted: true}
	if got := RowState(r); got != (State{Status: Paid, Adjustment: true, InPayout: true, TakenBack: true}) {
		t.Errorf("RowState = %+v", got)
	}
	if got := StateOf(&store.Commission{Status: Pending}); got != (State{Status: Pending}) {
		t.Errorf("StateOf = %+v", got)
	}
	if got := Status(ClawedBack).Label(); got != "clawed back" {
		t.Errorf("Label = %q", got)
	}
}
