package web

import (
	"github.com/labstack/echo/v4"

	"github.com/partli/partli/views/pages/dashboard"
)

// A handler that changed something redirects with ?done=<key> (post/
// redirect/get), and the page it lands on shows the confirmation of that key.
// doneMessages is every such confirmation, by the page that shows it (the
// same key says different things on different pages: "saved"). Only these
// fixed texts are shown, never text from the URL; a key a page does not
// know shows nothing. Confirmations that name what changed (a partner's new
// group or status) are worded by their handler.

// The pages that show a ?done= confirmation.
type donePage string

const (
	donePrograms      donePage = "programs"       // /programs and /programs/:id
	donePartner       donePage = "partner"        // /partners/:id
	doneCommission    donePage = "commission"     // /commissions/:id
	donePayouts       donePage = "payouts"        // /payouts and /payouts/:id
	doneStripe        donePage = "stripe"         // /integrations/stripe
	doneWebhooks      donePage = "webhooks"       // /webhooks, an endpoint and a delivery
	doneEmail         donePage = "email"          // /settings/email
	donePortalSetting donePage = "portal-setting" // /partner/settings
	donePortalMethod  donePage = "portal-method"  // an enrollment's payout method section
	donePortalCodes   donePage = "portal-codes"   // an enrollment's codes section
)

var doneMessages = map[donePage]map[string]string{
	donePrograms: {
		"created":          "Program created. Next, give it a default sale reward so partners earn something.",
		"saved":            "Settings saved.",
		"group-added":      "Group added.",
		"group-saved":      "Group saved.",
		"reward-added":     "Reward added. It applies to sales and leads from now on.",
		"reward-saved":     "Reward saved. Commissions already recorded keep the terms they were made with.",
		"reward-deleted":   "Reward deleted. Commissions already recorded keep the terms they were made with.",
		"discount-saved":   "Discount saved. With Stripe set up, codes without a promotion code get one with this discount.",
		"discount-removed": "Discount removed. Codes keep attributing sales; promotion codes already in Stripe keep the discount they were made with.",
		"discount-new-coupon": "Discount saved. Stripe coupons cannot be changed, so this discount is a new coupon: codes made from now on " +
			"get it, and the codes that already have a Stripe promotion code keep the earlier discount (retire one and add a new code to change it).",
	},
	donePartner: {
		"added":        "Partner added. Their referral link below works now: copy it and send it to them.",
		"code-added":   "Code added. It attributes sales and leads reported with it from now on.",
		"code-retired": "Code retired. It no longer attributes; the sales it brought keep it.",
		"code-retry":   "Stripe was asked again; the code shows how it went.",
	},
	doneCommission: {
		"approved":    "Commission approved.",
		"paid":        "Commission marked paid.",
		"clawed_back": "Commission clawed back.",
		"adjusted":    "Clawed back after payout: a negative adjustment nets against the partner's next payout.",
	},
	donePayouts: {
		"payout_created":    "Payout created. Pay it with its method (Pay for Stripe; the PayPal or Wise file; by hand), then it is marked paid.",
		"payouts_created":   "Payouts created for the program's balances that reach its minimum.",
		"payouts_none":      "No payout was created: no balance of this program reaches its minimum (they carry forward).",
		"payout_paid":       "Payout marked paid; its commissions are paid.",
		"payout_sent":       "Paid with Stripe: the transfer is made and the payout's commissions are paid.",
		"payout_failed":     "Stripe refused the transfer: the payout failed and its commissions are back in the partner's balance. Send it again or cancel it.",
		"payout_processing": "Stripe has not answered yet: the payout stays processing and Partli asks Stripe again with the same idempotency key (it is never paid twice).",
		"payout_cancel":     "Payout canceled; its commissions are back in the partner's balance.",
		"batch_paid":        "Payouts marked paid with the batch's reference.",
		"schedule_saved":    "Payout schedule saved.",
	},
	doneStripe: {
		"connected":      "Stripe connected. Payments of your Stripe account now reach Partli by themselves.",
		"disconnected":   "Stripe disconnected: Partli no longer has access to your Stripe account. Sales and commissions already recorded stay.",
		"forgotten":      "Stripe disconnected in Partli. Stripe had already removed Partli's access to the account (or cannot be asked on this installation): check Settings → Connected apps in your Stripe dashboard.",
		"webhook-secret": "Signing secret saved. Stripe's deliveries to your endpoint are now accepted.",
		"secret-key":     "Secret key saved, encrypted. Payouts with Stripe now use your Stripe account.",
	},
	doneWebhooks: {
		"added":     "Endpoint added. Events of the types you chose are sent to it from now on.",
		"rotated":   "Secret rotated.",
		"saved":     "Endpoint saved.",
		"enabled":   "Endpoint enabled: new events are sent to it again. Deliveries that failed or were cancelled meanwhile are not resent on their own; resend the ones you need from the delivery log.",
		"disabled":  "Endpoint disabled: nothing is sent to it until you enable it again. Its pending deliveries were cancelled.",
		"deleted":   "Endpoint deleted, with its delivery log.",
		"test-sent": "Test event queued. It is usually delivered within seconds; the attempt appears in the log below.",
		"resent":    "Delivery queued again, due now, with the same webhook-id.",
	},
	doneEmail: {
		"saved":   "Your notifications are saved.",
		"retried": "The message is due again, with a fresh retry schedule.",
	},
	donePortalSetting: {
		"saved":    "Your email notifications are saved.",
		"password": "Password changed. Your other sessions were signed out.",
	},
	donePortalMethod: {
		"method_saved":   "Saved: you are paid there from your next payout.",
		"stripe_ready":   "Your Stripe account is ready: your payouts are sent to it.",
		"stripe_pending": "Stripe has not finished with your account yet; this page says what it still needs. You can continue onboarding at any time.",
	},
	donePortalCodes: {
		"code-added": "Your code is ready: share it, and sales made with it are credited to you.",
	},
}

// doneFailures are the ?done= keys that report something that did not
// happen: they are shown as an error, not a confirmation.
var doneFailures = map[donePage]map[string]bool{
	donePayouts: {"payout_failed": true},
}

// doneText is the confirmation page shows for the request's ?done=, "" when
// there is none.
func doneText(c echo.Context, page donePage) string {
	return doneMessages[page][c.QueryParam("done")]
}

// doneFlash is doneText as the dashboard's flash message (an error for a
// failure), the zero Flash when there is none.
func doneFlash(c echo.Context, page donePage) dashboard.Flash {
	m := doneText(c, page)
	if m == "" {
		return dashboard.Flash{}
	}
	if doneFailures[page][c.QueryParam("done")] {
		return dashboard.Flash{Kind: "error", Message: m}
	}
	return dashboard.Flash{Kind: "success", Message: m}
}
