package web_test

import (
	"strings"
	"testing"

	"github.com/partli/partli/internal/browsertest"
	"github.com/partli/partli/internal/store"
)

// A partner forgets their password, opens the link mailed to them (over
// SMTP, read back from mailpit), sets a new one and signs in with it.
func TestMailBrowserPartnerForgotPassword(t *testing.T) {
	e := newEnv(t)
	mp := testMailpit(t)
	e.runMailWorker(t, mp.SMTPURL(), fastMail())
	prog := e.program(t, map[string]any{"name": "Acme Pro", "slug": uniq("pro"), "autoApprove": true})
	lea := uniq("lea") + "@example.com"
	e.apply(t, e.WS.Workspace.Slug, str(prog, "slug"), "Lea Writer", lea, "lea old password")
	tab := browsertest.New(t, browsertest.Session)

	navigate(t, tab, e.URL+"/partner/login")
	submitAndWait(t, tab, `[data-testid="forgot-link"]`)
	fill(t, tab, map[string]string{"email": lea})
	submitAndWait(t, tab, `[data-testid="forgot-submit"]`)
	if got := text(t, tab, `[data-testid="forgot-sent"]`); !strings.Contains(got, "Check your email") {
		t.Fatalf("after asking for a link: %q", got)
	}
	browsertest.Screenshot(t, tab, "mail-forgot-sent")

	m := e.mailOf(t, mp, lea, store.MailPasswordReset)
	link := e.checkMail(t, m, lea, "Reset your Partli password", "/partner/password/reset/", false)
	// The message as a mail client shows it.
	navigate(t, tab, mp.UIURL()+"/view/"+m.ID+".html")
	browsertest.Screenshot(t, tab, "mail-reset-message")

	navigate(t, tab, e.URL+link)
	if got := text(t, tab, `[data-testid="password-heading"]`); got != "Choose a new password" {
		t.Fatalf("the mailed link opens %q", got)
	}
	browsertest.Screenshot(t, tab, "mail-reset-form")
	fill(t, tab, map[string]string{"password": "lea new password"})
	submitAndWait(t, tab, `[data-testid="password-submit"]`)
	if got := text(t, tab, `[data-testid="notice"]`); !strings.Contains(got, "new password is set") {
		t.Fatalf("after setting the password: %q", got)
	}
	fill(t, tab, map[string]string{"email": lea, "password": "lea new password"})
	submitAndWait(t, tab, `[data-testid="partner-sign-in"]`)
	if got := text(t, tab, `[data-testid="enrollment-link"]`); got != "Acme Pro" {
		t.Fatalf("signed in, the portal shows %q", got)
	}
	browsertest.Screenshot(t, tab, "mail-reset-signed-in")
}
