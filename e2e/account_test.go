package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/chromedp"

	"canopy/internal/demo"
)

// cspReports collects what the browser says about Content-Security-Policy
// violations in a tab: an inline style or script on a page shows up here.
type cspReports struct {
	mu   sync.Mutex
	seen []string
}

func watchCSP(t *testing.T, tab context.Context) *cspReports {
	t.Helper()
	r := &cspReports{}
	err := chromedp.Listen(tab, func(ev any) {
		if e, ok := ev.(*log.EventEntryAdded); ok && e.Entry != nil && strings.Contains(e.Entry.Text, "Content Security Policy") {
			r.mu.Lock()
			r.seen = append(r.seen, e.Entry.Text)
			r.mu.Unlock()
		}
	})
	if err == nil {
		_, err = chromedp.Call(tab, log.Enable, cdp.Empty{})
	}
	if err != nil {
		t.Fatalf("watch the console: %v", err)
	}
	return r
}

func (r *cspReports) none(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.seen {
		t.Errorf("the browser refused something under the CSP: %s", s)
	}
}

// fillPassword types into the Change password form and submits it.
func fillPassword(t *testing.T, tab context.Context, current, next, confirm string) int64 {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.CSS("#f-current_password")),
		chromedp.SendKeys(chromedp.CSS("#f-current_password"), current),
		chromedp.SendKeys(chromedp.CSS("#f-new_password"), next),
		chromedp.SendKeys(chromedp.CSS("#f-confirm_password"), confirm),
	); err != nil {
		t.Fatalf("fill in the Change password form: %v", err)
	}
	return clickAndWait(t, tab, `.form-actions button[type="submit"]`)
}

// TestChangePassword: alice, signed in on two devices, changes her password
// from the account menu. A wrong current password is shown beside its
// field; the change keeps her signed in where she made it and signs the
// other device out; the old password stops working and the new one works.
func TestChangePassword(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	const newPassword = "a-brand-new-secret"

	tab := newTab(t, browser, desktop)
	csp := watchCSP(t, tab)
	signIn(t, tab, a, "acme", "alice@acme.test")
	other := newTab(t, browser, desktop) // alice on another device
	signIn(t, other, a, "acme", "alice@acme.test")

	click(t, tab, ".user-menu > summary")
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(`.user-menu a[href="/account/password"]`))); err != nil {
		t.Fatal(err)
	}
	screenshot(t, tab, "password-menu.png")
	if status := clickAndWait(t, tab, `.user-menu a[href="/account/password"]`); status != http.StatusOK {
		t.Fatalf("Change password answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/account/password")
	wantText(t, tab, "Change password", "alice@acme.test", "Current password", "New password", "Confirm new password", "At least 10 characters", "Acme Corp")
	wantNoSideways(t, tab)
	screenshot(t, tab, "password.png")

	if status := fillPassword(t, tab, "not-the-password", newPassword, newPassword); status != http.StatusUnprocessableEntity {
		t.Fatalf("a wrong current password answered %d, want 422", status)
	}
	wantText(t, tab, "The current password is not correct.")
	// The message is the current password field's, and nothing typed came back.
	values, err := chromedp.Run(tab, chromedp.Evaluate[[3]string](`[
		document.querySelector("#f-current_password").getAttribute("aria-describedby") || "",
		document.querySelector("#f-current_password").value,
		document.querySelector("#f-new_password").value]`))
	if err != nil {
		t.Fatal(err)
	}
	if values[0] != "f-current_password-error" || values[1] != "" || values[2] != "" {
		t.Errorf("after the error: described by %q, fields hold %q and %q", values[0], values[1], values[2])
	}
	screenshot(t, tab, "password-error.png")

	if status := fillPassword(t, tab, demo.Password, newPassword, newPassword); status != http.StatusOK {
		t.Fatalf("the change answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/account/password")
	wantText(t, tab, "Your password has been changed.")
	screenshot(t, tab, "password-changed.png")
	// Still signed in here.
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders")), http.StatusOK)
	wantLocation(t, tab, a.tenantHost("acme"), "/orders")
	csp.none(t)

	// The other device is signed out on its next request...
	wantStatus(t, open(t, other, a.tenantURL("acme", "/orders")), http.StatusOK)
	wantLocation(t, other, a.baseHost(), "/login")
	// ...where the old password no longer works and the new one does.
	wantStatus(t, submitSignIn(t, other, "alice@acme.test", demo.Password), http.StatusUnauthorized)
	wantText(t, other, "The email or password is not correct.")
	// The page kept the email; only the password is typed again.
	if err := chromedp.Do(other, chromedp.SendKeys(chromedp.CSS("#f-password"), newPassword)); err != nil {
		t.Fatal(err)
	}
	if status := clickAndWait(t, other, `.auth-card button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("signing in with the new password answered %d", status)
	}
	wantLocation(t, other, a.tenantHost("acme"), "/orders")
}

// TestChangePasswordAtPhoneWidth: the page and its errors fit a phone.
func TestChangePasswordAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), phone)
	csp := watchCSP(t, tab)
	signIn(t, tab, a, "acme", "dave@acme.test")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/account/password")), http.StatusOK)
	wantNoSideways(t, tab)
	screenshot(t, tab, "password-phone.png")
	if status := fillPassword(t, tab, demo.Password, "short", "shorter"); status != http.StatusUnprocessableEntity {
		t.Fatalf("a short password answered %d, want 422", status)
	}
	wantText(t, tab, "Use at least 10 characters.")
	wantNoSideways(t, tab)
	screenshot(t, tab, "password-phone-error.png")
	csp.none(t)
}
