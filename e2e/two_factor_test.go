package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"canopy/internal/demo"
)

// setUpAuthenticator turns on an authenticator app from Account →
// Two-factor, reading the setup key off the page as a person typing it
// into their app would, and returns that key. The pages on the way are
// looked over at both widths in both schemes, named after prefix.
func setUpAuthenticator(t *testing.T, tab context.Context, a *app, sub, prefix string) string {
	t.Helper()
	if status := clickAndWait(t, tab, `a[href="/account/two-factor/setup"]`); status != http.StatusOK {
		t.Fatalf("Set up answered %d", status)
	}
	wantText(t, tab, "Set up an authenticator app", "Scan this QR code", "Enter the six-digit code")
	shown, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#totp-secret")))
	if err != nil {
		t.Fatalf("read the setup key: %v", err)
	}
	loaded, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("img.totp-qr").naturalWidth > 0`))
	if err != nil || !loaded {
		t.Errorf("the QR code is not drawn (%v)", err)
	}
	if prefix != "" {
		for _, scheme := range tourSchemes {
			for _, sz := range tourSizes {
				setView(t, tab, sz.size, scheme)
				wantStatus(t, open(t, tab, a.tenantURL(sub, "/account/two-factor/setup")), http.StatusOK)
				lookOver(t, tab, prefix+"-setup-"+sz.name+"-"+scheme, scheme, sz.name == "phone")
			}
		}
		setView(t, tab, desktop, "light")
	}
	secret := strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(shown), " ", ""))
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatalf("compute a code from %q: %v", shown, err)
	}
	typeInto(t, tab, [][2]string{{"#f-code", code}})
	if status := clickAndWait(t, tab, `.totp-setup button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("Turn on answered %d", status)
	}
	wantText(t, tab, "Two-factor sign-in is on", "Save these recovery codes now", "Download as .txt", "I have saved them")
	if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll(".recovery-codes code").length`)); err != nil || n != 10 {
		t.Errorf("%d recovery codes shown (%v), want 10", n, err)
	}
	if prefix != "" {
		// The codes are shown once, in the answer to the form: looked at
		// as they stand, without loading the page again.
		for _, scheme := range tourSchemes {
			for _, sz := range tourSizes {
				setView(t, tab, sz.size, scheme)
				lookOver(t, tab, prefix+"-recovery-codes-"+sz.name+"-"+scheme, scheme, sz.name == "phone")
			}
		}
		setView(t, tab, desktop, "light")
	}
	if status := clickAndWait(t, tab, `.key-shown .form-actions a.button-primary`); status != http.StatusOK {
		t.Fatalf("I have saved them answered %d", status)
	}
	// Back to Account → Two-factor, or on into the company that asked
	// for it.
	if location(t, tab).Path == "/account/two-factor" {
		wantText(t, tab, "On", "10 of 10")
	}
	return secret
}

// TestTwoFactorSignIn: dave turns on an authenticator app, signs out, and
// signs in again: after his password he is asked for the code, which he
// reads from his app, and lands on Acme's Home.
func TestTwoFactorSignIn(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	csp := watchCSP(t, tab)
	signIn(t, tab, a, "acme", "dave@acme.test")
	open(t, tab, a.tenantURL("acme", "/account/two-factor"))
	wantText(t, tab, "Two-factor sign-in", "Authenticator app", "Off", "Passkeys")
	secret := setUpAuthenticator(t, tab, a, "acme", "two-factor-flow")

	open(t, tab, a.tenantURL("acme", "/"))
	signOut(t, tab, a)
	open(t, tab, a.tenantURL("acme", "/"))
	wantStatus(t, submitSignIn(t, tab, "dave@acme.test", demo.Password), http.StatusOK)
	wantLocation(t, tab, a.baseHost(), "/login/two-factor")
	wantText(t, tab, "Two-factor sign-in", "Enter the six-digit code", "Use a recovery code instead")
	for _, scheme := range tourSchemes {
		for _, sz := range tourSizes {
			setView(t, tab, sz.size, scheme)
			lookOver(t, tab, "two-factor-sign-in-"+sz.name+"-"+scheme, scheme, sz.name == "phone")
		}
	}
	setView(t, tab, desktop, "light")

	// A wrong code is refused beside the field.
	typeInto(t, tab, [][2]string{{"#f-code", "000000"}})
	if status := clickAndWait(t, tab, `.auth-card button[type="submit"]`); status != http.StatusUnauthorized {
		t.Fatalf("a wrong code answered %d", status)
	}
	wantText(t, tab, "The code is not correct")

	// The setup used the present step; the phone a step ahead shows the next.
	code, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	typeInto(t, tab, [][2]string{{"#f-code", code}})
	if status := clickAndWait(t, tab, `.auth-card button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("the right code answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/")
	wantText(t, tab, "Dave")
	csp.none(t)
}

// TestCompanyRequiresTwoFactor: Acme's owner requires two-factor sign-in
// on Settings → Company; dave, without it, is sent from Home to set it up,
// told why, and once he has, goes on to Home.
func TestCompanyRequiresTwoFactor(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)

	owner := newTab(t, browser, desktop)
	signIn(t, owner, a, "acme", "alice@acme.test")
	open(t, owner, a.tenantURL("acme", "/settings/company"))
	wantText(t, owner, "Require two-factor sign-in for members", "3 members have not set up two-factor sign-in")
	click(t, owner, `input[name="require_two_factor"]`)
	if status := clickAndWait(t, owner, `form[action="/settings/company/two-factor"] button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("saving the rule answered %d", status)
	}
	// Alice has no second factor either: she is asked too.
	wantLocation(t, owner, a.tenantHost("acme"), "/account/two-factor")
	wantText(t, owner, "Acme Corp requires two-factor sign-in.")

	dave := newTab(t, browser, desktop)
	open(t, dave, a.tenantURL("acme", "/"))
	wantStatus(t, submitSignIn(t, dave, "dave@acme.test", demo.Password), http.StatusOK)
	wantLocation(t, dave, a.tenantHost("acme"), "/account/two-factor")
	wantText(t, dave, "Acme Corp requires two-factor sign-in.", "Set it up to continue.")
	for _, scheme := range tourSchemes {
		for _, sz := range tourSizes {
			setView(t, dave, sz.size, scheme)
			lookOver(t, dave, "two-factor-required-"+sz.name+"-"+scheme, scheme, sz.name == "phone")
		}
	}
	setView(t, dave, desktop, "light")
	open(t, dave, a.tenantURL("acme", "/orders"))
	wantLocation(t, dave, a.tenantHost("acme"), "/account/two-factor")

	setUpAuthenticator(t, dave, a, "acme", "")
	wantStatus(t, open(t, dave, a.tenantURL("acme", "/orders")), http.StatusOK)
	wantLocation(t, dave, a.tenantHost("acme"), "/orders")

	// The owner, once she has set it up too, sees who has not on the Team page.
	open(t, owner, a.tenantURL("acme", "/account/two-factor"))
	setUpAuthenticator(t, owner, a, "acme", "")
	open(t, owner, a.tenantURL("acme", "/settings/team?twofactor=off"))
	wantText(t, owner, "Members who have not set up two-factor sign-in", "bob@globex.test")
	if strings.Contains(pageText(t, owner), "dave@acme.test") {
		t.Error("dave, who has two-factor, is listed without it")
	}
	for _, scheme := range tourSchemes {
		for _, sz := range tourSizes {
			setView(t, owner, sz.size, scheme)
			wantStatus(t, open(t, owner, a.tenantURL("acme", "/settings/team")), http.StatusOK)
			lookOver(t, owner, "two-factor-team-"+sz.name+"-"+scheme, scheme, sz.name == "phone")
		}
	}
}
