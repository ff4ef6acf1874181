// Package commission holds the commission state machine and the services that
// move commissions through it (status changes, auto-approval).
package commission

import (
	"errors"
	"fmt"
	"strings"

	"github.com/partli/partli/internal/store"
)

// Status is a commission's state. A paid commission is never edited;
// undoing it is a new negative adjustment.
type Status string

// Commission states. The constants are untyped, so that they compare with
// the status of a stored row (a string, as the database has it) and are a
// Status where one is asked for.
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

// Label is a status in words: "clawed_back" → "clawed back".
func (s Status) Label() string { return strings.ReplaceAll(string(s), "_", " ") }

var (
	// ErrInvalidTransition is a status change the state machine forbids.
	ErrInvalidTransition = errors.New("invalid transition")
	// ErrReasonRequired is a clawback without a reason.
	ErrReasonRequired = errors.New("a reason is required to claw back a commission")
)

// Edge is how a commission moves from one state to another.
type Edge int

const (
	// NoEdge: the move is forbidden.
	NoEdge Edge = iota
	// Direct: the commission's status changes.
	Direct
	// ByAdjustment: the commission keeps its status and a negative
	// adjustment of what is left of it nets against the partner's next
	// payout (clawing back a paid commission).
	ByAdjustment
)

// transitions is the state machine, the one table every surface asks:
// from → to → how. The API changes statuses directly only (Transition);
// the dashboard also claws back paid commissions by adjustment (Check).
var transitions = map[Status]map[Status]Edge{
	Pending:  {Approved: Direct, ClawedBack: Direct},
	Approved: {Paid: Direct, ClawedBack: Direct},
	Paid:     {ClawedBack: ByAdjustment},
}

// EdgeOf is how from may become to, NoEdge when it may not.
func EdgeOf(from, to Status) Edge { return transitions[from][to] }

// NeedsReason reports whether moving to to needs a reason (a clawback).
func NeedsReason(to Status) bool { return to == ClawedBack }

// Transition checks a direct status change (the API's: a Direct edge of
// the table). It returns an error wrapping ErrInvalidTransition or
// ErrReasonRequired when the change is refused.
func Transition(from, to, reason string) error {
	if EdgeOf(Status(from), Status(to)) != Direct {
		return fmt.Errorf("%w: %s %s commission cannot become %s", ErrInvalidTransition, article(from), label(from), label(to))
	}
	if NeedsReason(Status(to)) && strings.TrimSpace(reason) == "" {
		return ErrReasonRequired
	}
	return nil
}

// State is what decides which changes a commission allows: its status, and
// what payouts and adjustments add to the table.
type State struct {
	Status Status
	// Adjustment: the commission is a negative adjustment of another; it
	// nets against a payout and is settled with it, never changed alone.
	Adjustment bool
	// InPayout: the commission is in a payout (pending, or paid with it).
	InPayout bool
	// TakenBack: a paid commission whose adjustments already take back all
	// of it. Only a row that counts its adjustments knows it (store's
	// CommissionRow.Adjusted); the clawback checks it again under the lock.
	TakenBack bool
}

// StateOf is the state of a stored commission.
func StateOf(c *store.Commission) State {
	return State{Status: Status(c.Status), Adjustment: c.AdjustsID != nil, InPayout: c.PayoutID != nil}
}

// RowState is the state of a commission as the dashboard lists it.
func RowState(r store.CommissionRow) State {
	s := StateOf(&r.Commission)
	s.TakenBack = r.Adjusted
	return s
}

// Can reports whether the dashboard offers the change to to: Check would
// take it, given a reason.
func (s State) Can(to Status) bool {
	if to == ClawedBack && s.Status == Paid && s.TakenBack {
		return false
	}
	return s.Check("", "", "", to, "a reason") == nil
}

// Check is the state machine plus what payouts and adjustments add to it,
// for a change of the commission id to to: nil, or a refusal wrapping
// ErrInvalidTransition or ErrReasonRequired (Explain words it for people,
// naming the commission it adjusts, adjusts, and its payout, payout).
func (s State) Check(id, adjusts, payout string, to Status, reason string) error {
	invalid := []error{ErrInvalidTransition}
	switch {
	case s.Adjustment:
		return refuse(invalid, "%s is a negative adjustment of %s: it nets against the partner's next payout and is settled with it",
			id, adjusts)
	case s.InPayout && s.Status == Approved && to == Paid:
		return refuse(invalid, "%s is in payout %s: mark that payout paid instead, so the commission is not paid twice", id, payout)
	case s.InPayout && s.Status == Approved && to == ClawedBack:
		return refuse(invalid, "%s is in pending payout %s: cancel that payout first, or claw the commission back once the payout is paid",
			id, payout)
	case EdgeOf(s.Status, to) == ByAdjustment:
		if NeedsReason(to) && strings.TrimSpace(reason) == "" {
			return ErrReasonRequired
		}
		return nil
	}
	return Transition(string(s.Status), string(to), reason)
}

// label is a status in words: "clawed_back" → "clawed back".
func label(status string) string { return Status(status).Label() }

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiou", rune(word[0])) {
		return "an"
	}
	return "a"
}
