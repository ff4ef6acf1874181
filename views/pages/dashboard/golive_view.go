package dashboard

import (
	"strconv"
	"strings"

	"github.com/partli/partli/internal/store"
	"github.com/partli/partli/views/components"
)

// GoLiveView is the program's go-live checklist: a program is a draft until
// a sale or lead has gone through tracking end to end for it.
type GoLiveView struct {
	Program *store.Program
	Facts   *store.ProgramGoLive
	BaseURL string
	// Fragment: rendered for HTMX (the program page loads and refreshes
	// it), so it also updates the status badge in the page header.
	Fragment bool
}

// GoLiveStep is one item of the checklist.
type GoLiveStep struct {
	Key    string // reward, partner, tracking, test
	Title  string
	Done   bool
	Detail string
	Links  []GoLiveLink
}

// GoLiveLink is where to go to do a step.
type GoLiveLink struct{ Href, Text string }

// Verified reports whether the program is active.
func (v GoLiveView) Verified() bool { return v.Facts.VerifiedAt != nil }

// TestLink is the approved partner's referral link, for the test sale.
func (v GoLiveView) TestLink() string {
	if v.Facts.PartnerSlug == nil {
		return v.BaseURL + "/r/<partner-slug>"
	}
	return v.BaseURL + "/r/" + *v.Facts.PartnerSlug
}

// Steps are the checklist's items, in the order a merchant does them.
func (v GoLiveView) Steps() []GoLiveStep {
	f, p := v.Facts, v.Program
	reward := GoLiveStep{Key: "reward", Title: "Set a reward", Done: f.HasReward,
		Detail: "Partners earn a commission on the sales they refer."}
	if !reward.Done {
		reward.Detail = "Give the program a default sale reward (or a group a reward of its own), so partners earn something."
		reward.Links = []GoLiveLink{{"/programs/" + p.ID + "#rewards", "Add a reward"}}
	}
	partner := GoLiveStep{Key: "partner", Title: "Approve a partner", Done: f.PartnerSlug != nil}
	if partner.Done {
		partner.Detail = "Test with " + v.TestLink() + "."
	} else {
		partner.Detail = "Add a partner or approve an applicant. Add yourself as a test partner to try the program out."
		partner.Links = []GoLiveLink{{"/partners?programId=" + p.ID, "Partners"}}
	}
	var via []string
	if f.APIKeyUsedAt != nil {
		via = append(via, "API key last used "+components.DateTime(*f.APIKeyUsedAt))
	}
	if f.StripeAccountID != nil {
		via = append(via, "Stripe account "+*f.StripeAccountID+" connected")
	}
	if f.StripeWebhook {
		via = append(via, "Stripe webhook endpoint set up")
	}
	tracking := GoLiveStep{Key: "tracking", Title: "Connect tracking", Done: len(via) > 0, Detail: strings.Join(via, "; ") + "."}
	if !tracking.Done {
		tracking.Detail = "Report sales from your backend with an API key, or connect Stripe."
		tracking.Links = []GoLiveLink{{"/settings#api-keys", "API keys"}, {"/integrations/stripe", "Stripe"}}
	}
	test := GoLiveStep{Key: "test", Title: "Track a test sale", Done: v.Verified()}
	if test.Done {
		test.Detail = "First sale tracked end to end on " + components.DateTime(*f.VerifiedAt) + "."
	} else {
		test.Detail = "Send a sale through a partner link, as below. The program is a draft until one arrives."
	}
	return []GoLiveStep{reward, partner, tracking, test}
}

// SaleCurl is the test sale as a curl command.
func (v GoLiveView) SaleCurl() string {
	return "curl " + v.BaseURL + "/api/track/sale \\\n" +
		"  -H \"Authorization: Bearer $PARTLI_API_KEY\" \\\n" +
		"  -H \"Content-Type: application/json\" \\\n" +
		"  -d '{\"externalId\": \"test-order-1\", \"customerExternalId\": \"test-customer-1\",\n" +
		"       \"amountCents\": 1000, \"currency\": \"" + v.Program.Currency + "\", \"clickId\": \"c_…\"}'"
}

// programStatusClass colours the draft/active badge.
func programStatusClass(p *store.Program) string {
	if p.Status() == store.ProgramActive {
		return "badge badge-green"
	}
	return "badge badge-amber"
}

func programStatusTitle(p *store.Program) string {
	if p.VerifiedAt != nil {
		return "Active: first sale tracked end to end on " + components.DateTime(*p.VerifiedAt)
	}
	return "Draft: no sale has been tracked end to end yet"
}

// goLiveProgress is "2 of 4 done".
func goLiveProgress(v GoLiveView) string {
	steps := v.Steps()
	done := 0
	for _, s := range steps {
		if s.Done {
			done++
		}
	}
	return strconv.Itoa(done) + " of " + strconv.Itoa(len(steps)) + " done"
}

func goLiveBool(b bool) string { return strconv.FormatBool(b) }

func goLiveNumber(i int) string { return strconv.Itoa(i + 1) }
