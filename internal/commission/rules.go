// Package commission holds the commission state machine and the services that
// move commissions through it (status changes, auto-approval).
package commission

import (
	"errors"
	"fmt"
	"strings"
)

// Commission states. A paid commission is never edited; undoing it is a new
// negative adjustment.
const (
	Pending    = "pending"
	Approved   = "approved"
	Paid       = "paid"
	ClawedBack = "clawed_back"
)

// Statuses lists every state, in lifecycle order.
var Statuses = []string{Pending, Approved, Paid, ClawedBack}

// ValidStatus reports whether s names a commission state.
func ValidStatus(s string) bool {
	for _, v := range Statuses {
		if s == v {
			return true
		}
	}
	return false
}

var (
	// ErrInvalidTransition is a status change the state machine forbids.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrReasonRequired is a clawback without a reason.
	ErrReasonRequired = errors.New("a reason is required to claw back a commission")
)

// allowed is the state machine: from → the states it may move to.
var allowed = map[string][]string{
	Pending:  {Approved, ClawedBack},
	Approved: {Paid, ClawedBack},
}

// Transition checks a status change. It returns an error wrapping
// ErrInvalidTransition or ErrReasonRequired when the change is refused.
func Transition(from, to, reason string) error {
	for _, next := range allowed[from] {
		if next != to {
			continue
		}
		if to == ClawedBack && strings.TrimSpace(reason) == "" {
			return ErrReasonRequired
		}
		return nil
	}
	return fmt.Errorf("%w: %s %s commission cannot become %s", ErrInvalidTransition, article(from), label(from), label(to))
}

// label is a status in words: "clawed_back" → "clawed back".
func label(status string) string { return strings.ReplaceAll(status, "_", " ") }

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
