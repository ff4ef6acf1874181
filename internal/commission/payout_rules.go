package commission

import (
	"errors"
	"fmt"

	"github.com/partli/partli/internal/money"
)

// Payout states. A payout is created pending; a Stripe payout is processing
// while its transfer is under way (recorded, with its idempotency key,
// before Stripe is called), then paid, or failed with Stripe's message —
// its commissions back in the partner's balance — and a failed payout is
// sent again or canceled. Payouts paid outside Partli (a PayPal or Wise
// file, by hand) go from pending to paid with a reference.
const (
	PayoutPending    = "pending"
	PayoutProcessing = "processing"
	PayoutPaid       = "paid"
	PayoutFailed     = "failed"
	PayoutCanceled   = "canceled"
)

// PayoutStatuses lists every payout state.
var PayoutStatuses = []string{PayoutPending, PayoutProcessing, PayoutPaid, PayoutFailed, PayoutCanceled}

// ValidPayoutStatus reports whether s names a payout state.
func ValidPayoutStatus(s string) bool {
	for _, v := range PayoutStatuses {
		if s == v {
			return true
		}
	}
	return false
}

// What can happen to a payout.
const (
	PayoutSend     = "send"      // start a Stripe transfer (again, for a failed payout)
	PayoutSucceed  = "succeed"   // Stripe made the transfer
	PayoutFail     = "fail"      // Stripe refused it
	PayoutMarkPaid = "mark_paid" // paid outside Partli, with a reference
	PayoutCancel   = "cancel"
)

// payoutMoves is the payout state machine: from → action → to.
var payoutMoves = map[string]map[string]string{
	PayoutPending:    {PayoutSend: PayoutProcessing, PayoutMarkPaid: PayoutPaid, PayoutCancel: PayoutCanceled},
	PayoutProcessing: {PayoutSucceed: PayoutPaid, PayoutFail: PayoutFailed},
	PayoutFailed:     {PayoutSend: PayoutProcessing, PayoutCancel: PayoutCanceled},
}

var (
	// ErrPayoutTransition is a payout action its state forbids (409
	// invalid_transition); Explain says why.
	ErrPayoutTransition = errors.New("payout transition refused")
	// ErrPayoutInFlight: the payout is processing, its transfer under way.
	ErrPayoutInFlight = errors.New("payout is being sent")
)

// PayoutTransition returns the state a payout in state from moves to by
// action, or a refusal wrapping ErrPayoutRefused and ErrPayoutTransition
// (and ErrPayoutInFlight for a processing payout) that says why.
func PayoutTransition(id, from, action string) (string, error) {
	if to, ok := payoutMoves[from][action]; ok {
		return to, nil
	}
	kinds := []error{ErrPayoutRefused, ErrPayoutTransition}
	if from == PayoutProcessing {
		kinds = append(kinds, ErrPayoutInFlight)
	}
	var why string
	switch {
	case from == PayoutPaid:
		why = "it was paid already"
	case from == PayoutCanceled:
		why = "it was canceled; its commissions went back to the partner's balance"
	case from == PayoutProcessing:
		why = "its Stripe transfer is under way; its outcome shows here once Stripe answers"
	case from == PayoutFailed && action == PayoutMarkPaid:
		why = "its commissions went back to the balance when Stripe refused the transfer: send it again, or cancel it and create a payout"
	case from == PayoutPending && (action == PayoutSucceed || action == PayoutFail):
		why = "it has not been sent"
	default:
		why = "that is not possible from " + from
	}
	return "", refuse(kinds, "payout %s is %s and cannot be %s: %s", id, from, payoutActionWords[action], why)
}

var payoutActionWords = map[string]string{
	PayoutSend: "sent", PayoutSucceed: "paid", PayoutFail: "failed", PayoutMarkPaid: "marked paid", PayoutCancel: "canceled",
}

// IdempotencyKey is the Idempotency-Key of the Stripe transfer of a
// payout's attempt: made from our own payout id, so a retry of the same
// attempt (after a timeout, a crash, on another replica) is the same
// request to Stripe, which makes the transfer once. A new attempt (after
// Stripe refused one) is a new key.
func IdempotencyKey(payoutID string, attempt int) string {
	return fmt.Sprintf("partli-payout-%s-%d", payoutID, attempt)
}

// PayoutThreshold is the smallest balance in currency that may be paid
// out: the program's minimum when the balance is in the program's currency
// (a minimum is an amount of that currency, and Partli converts nothing),
// and never less than one minor unit.
func PayoutThreshold(currency string, minimumCents int64, minimumCurrency string) int64 {
	if currency != minimumCurrency {
		return 1
	}
	return max(minimumCents, 1)
}

// MinimumApplies reports whether a program's minimum payout (in
// minimumCurrency) applies to a balance in currency.
func MinimumApplies(currency, minimumCurrency string) bool { return currency == minimumCurrency }

// CheckPayable decides whether a balance in currency may be paid out, for a
// program whose minimum payout is minimumCents of minimumCurrency. A
// negative balance (more clawed back after payout than earned since) and
// one below the minimum carry forward: they stay as they are until new
// commissions lift them over the threshold.
func CheckPayable(balanceCents int64, currency string, minimumCents int64, minimumCurrency string) error {
	refused := []error{ErrPayoutRefused, ErrBelowMinimum}
	switch {
	case balanceCents < 0:
		return refuse(refused, "the balance is %s: a negative balance carries forward and nets against the partner's next commissions",
			money.Format(balanceCents, currency))
	case balanceCents == 0:
		return refuse([]error{ErrPayoutRefused, ErrNothingToPay}, "the balance is %s: there is nothing to pay",
			money.Format(0, currency))
	case balanceCents < PayoutThreshold(currency, minimumCents, minimumCurrency):
		return refuse(refused, "the balance of %s is below the program's minimum payout of %s; it carries forward",
			money.Format(balanceCents, currency), money.Format(minimumCents, minimumCurrency))
	}
	return nil
}

// stripeMinimums are Stripe's smallest amounts per currency, in minor
// units ("Minimum and maximum charge amounts", stripe.com/docs/currencies);
// Stripe refuses smaller ones. Other currencies: one minor unit.
var stripeMinimums = map[string]int64{
	"USD": 50, "AED": 200, "AUD": 50, "BGN": 100, "BRL": 50, "CAD": 50, "CHF": 50, "CZK": 1500, "DKK": 250,
	"EUR": 50, "GBP": 30, "HKD": 400, "HUF": 17500, "INR": 50, "JPY": 50, "MXN": 1000, "MYR": 200, "NOK": 300,
	"NZD": 50, "PLN": 200, "RON": 200, "SEK": 300, "SGD": 50, "THB": 1000,
}

// ErrBelowStripeMinimum: an amount Stripe does not transfer in its currency.
var ErrBelowStripeMinimum = errors.New("below Stripe's minimum amount")

// StripeMinimum is the smallest amount Stripe moves in currency.
func StripeMinimum(currency string) int64 {
	if m, ok := stripeMinimums[currency]; ok {
		return m
	}
	return 1
}

// CheckStripeAmount refuses an amount below Stripe's minimum for its currency.
func CheckStripeAmount(amountCents int64, currency string) error {
	if m := StripeMinimum(currency); amountCents < m {
		return refuse([]error{ErrPayoutRefused, ErrBelowStripeMinimum},
			"%s is below Stripe's minimum of %s for a transfer in %s: pay it another way (mark it paid with your reference), or cancel it and let the balance grow",
			money.Format(amountCents, currency), money.Format(m, currency), currency)
	}
	return nil
}
