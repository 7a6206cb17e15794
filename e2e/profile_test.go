package e2e

import (
	"context"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"canopy/internal/demo"
	"canopy/models"
)

var (
	resetLinkInMail = regexp.MustCompile(`https?://\S+/login/reset/[A-Za-z0-9_-]+`)
	emailLinkInMail = regexp.MustCompile(`https?://\S+/account/email/confirm/[A-Za-z0-9_-]+`)
)

// mailLink is the first link matching re in the mail sent to an address.
func mailLink(t *testing.T, a *app, to string, re *regexp.Regexp) string {
	t.Helper()
	msgs, err := a.store.OutboxFor(context.Background(), to)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if l := re.FindString(m.BodyText); l != "" {
			return l
		}
	}
	t.Fatalf("no link in the %d mails to %s", len(msgs), to)
	return ""
}

// TestForgotPasswordFlow: dave forgets his password. From the sign-in page
// he asks for a link, follows it from his mail, chooses a new password
// twice, lands on the sign-in page (not signed in) and signs in with it.
func TestForgotPasswordFlow(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	const newPassword = "a-brand-new-secret"
	tab := newTab(t, browser, phone)
	csp := watchCSP(t, tab)

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/")), http.StatusOK)
	if status := clickAndWait(t, tab, `a[href^="/login/forgot"]`); status != http.StatusOK {
		t.Fatalf("forgot: %d", status)
	}
	wantText(t, tab, "Forgot your password?")
	typeInto(t, tab, [][2]string{{"#f-email", "dave@acme.test"}})
	screenshot(t, tab, "forgot-password.png")
	if status := clickAndWait(t, tab, `.auth-card button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("ask: %d", status)
	}
	wantText(t, tab, "Check your email", "If an account exists for dave@acme.test")
	wantNoSideways(t, tab)
	screenshot(t, tab, "forgot-password-sent.png")

	link := mailLink(t, a, "dave@acme.test", resetLinkInMail)
	wantStatus(t, open(t, tab, link), http.StatusOK)
	typeInto(t, tab, [][2]string{{"#f-new_password", newPassword}, {"#f-confirm_password", newPassword}})
	screenshot(t, tab, "reset-password.png")
	if status := clickAndWait(t, tab, `.auth-card button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("reset: %d", status)
	}
	wantLocation(t, tab, a.baseHost(), "/login")
	wantText(t, tab, "Your password has been changed", "Sign in")
	screenshot(t, tab, "reset-password-done.png")

	// The link is spent.
	wantStatus(t, open(t, tab, link), http.StatusGone)
	wantText(t, tab, "This link no longer works", "Send a new link")
	screenshot(t, tab, "reset-link-invalid.png")

	open(t, tab, a.baseURL("/login"))
	wantStatus(t, submitSignIn(t, tab, "dave@acme.test", newPassword), http.StatusOK)
	wantLocation(t, tab, a.tenantHost("acme"), "/")
	csp.none(t)
}

// TestProfile: alice opens Profile from the account menu, renames herself,
// chooses a time zone, changes her email through the link sent to the new
// address, and sees her companies with her role in each.
func TestProfile(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	csp := watchCSP(t, tab)
	signIn(t, tab, a, "acme", "alice@acme.test")

	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(".user-menu summary"))); err != nil {
		t.Fatal(err)
	}
	if status := clickAndWait(t, tab, `.user-menu a[href="/account/profile"]`); status != http.StatusOK {
		t.Fatalf("profile: %d", status)
	}
	wantText(t, tab, "Profile", "alice@acme.test", "Globex", "Editor", "Initech", "Viewer", "You own it")
	screenshot(t, tab, "profile.png")

	if err := chromedp.Do(tab, chromedp.SetValue(chromedp.CSS("#f-first_name"), "Alicia")); err != nil {
		t.Fatal(err)
	}
	if status := clickAndWait(t, tab, `form[action="/account/profile/name"] button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("save name: %d", status)
	}
	wantText(t, tab, "Your name has been saved.", "Alicia")

	if err := chromedp.Do(tab, chromedp.SetValue(chromedp.CSS("#f-time_zone"), "Asia/Tokyo")); err != nil {
		t.Fatal(err)
	}
	if status := clickAndWait(t, tab, `form[action="/account/profile/time-zone"] button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("save time zone: %d", status)
	}
	wantText(t, tab, "Times are shown in Asia/Tokyo.")

	typeInto(t, tab, [][2]string{{"#f-email", "alice@new.example"}})
	if status := clickAndWait(t, tab, `form[action="/account/profile/email"] button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("change email: %d", status)
	}
	wantText(t, tab, "We sent a link to alice@new.example", "Waiting for confirmation")
	screenshot(t, tab, "profile-email-pending.png")

	// The link is opened on the base domain, where alice is signed in too
	// once she has been there.
	open(t, tab, a.baseURL("/account/profile"))
	wantStatus(t, open(t, tab, mailLink(t, a, "alice@new.example", emailLinkInMail)), http.StatusOK)
	wantText(t, tab, "Confirm your new email", "alice@new.example")
	screenshot(t, tab, "profile-email-confirm.png")
	if status := clickAndWait(t, tab, `.auth-card button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("confirm: %d", status)
	}
	wantText(t, tab, "Your email is now alice@new.example")
	csp.none(t)

	// The new address signs in.
	other := newTab(t, browser, desktop)
	open(t, other, a.baseURL("/login"))
	wantStatus(t, submitSignIn(t, other, "alice@new.example", demo.Password), http.StatusOK)
}

// profileForTour gives alice a change of email waiting for confirmation,
// for her Profile page, and eve a password reset link; it returns the
// link's path.
func profileForTour(t *testing.T, a *app) string {
	t.Helper()
	ctx := context.Background()
	alice, err := a.store.UserByEmail(ctx, "alice@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	_, hash := models.NewResetToken()
	err = a.store.RequestEmailChange(ctx, models.EmailChangeRequest{User: alice, NewEmail: "alice@acme-new.example", TokenHash: hash, Now: time.Now()},
		func(string) []models.NewEmail { return nil })
	if err != nil {
		t.Fatal(err)
	}
	token, hash := models.NewResetToken()
	_, err = a.store.RequestPasswordReset(ctx, models.PasswordResetRequest{Email: "eve@acme.test", EmailKey: "tour", Address: "tour", TokenHash: hash, Now: time.Now()},
		models.NewEmail{Subject: "Choose a new Canopy password", Body: "tour"})
	if err != nil {
		t.Fatal(err)
	}
	return "/login/reset/" + token
}
