package e2e

import (
	"context"
	"net/http"
	"strconv"
	"testing"

	"canopy/internal/demo"
)

// TestKnownBrowserSignsInWhileLocked: alice signs in once and signs out.
// Someone else then sends wrong passwords for her email until sign-in is
// refused for browsers she has not used (a browser of her own she never
// signed in with is refused too, and told when to try again), yet in the
// browser she signed in with before she signs straight in.
func TestKnownBrowserSignsInWhileLocked(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)

	known := newTab(t, browser, desktop)
	signIn(t, known, a, "acme", "alice@acme.test")
	signOut(t, known, a)

	attacker := newTab(t, browser, desktop)
	open(t, attacker, a.baseURL("/login"))
	for i := 0; ; i++ {
		if i == 20 {
			t.Fatal("20 wrong passwords were never refused")
		}
		resp := submitSignIn(t, attacker, "alice@acme.test", "guess-"+strconv.Itoa(i))
		if resp.Status == http.StatusTooManyRequests {
			break
		}
		wantStatus(t, resp, http.StatusUnauthorized)
		clearField(t, attacker, "#f-email")
	}
	wantText(t, attacker, "Too many sign-in attempts. Try again in ",
		"A browser you have signed in with before can still sign in.")
	wantNoSideways(t, attacker)
	screenshot(t, attacker, "signin-too-many.png")

	for _, size := range []viewport{desktop, phone} {
		stranger := newTab(t, browser, size)
		open(t, stranger, a.baseURL("/login"))
		wantStatus(t, submitSignIn(t, stranger, "alice@acme.test", demo.Password), http.StatusTooManyRequests)
		wantText(t, stranger, "Too many sign-in attempts")
		wantNoSideways(t, stranger)
		if size == phone {
			screenshot(t, stranger, "signin-too-many-phone.png")
		}
	}

	open(t, known, a.tenantURL("acme", "/"))
	wantStatus(t, submitSignIn(t, known, "alice@acme.test", demo.Password), http.StatusOK)
	wantLocation(t, known, a.tenantHost("acme"), "/")
	wantText(t, known, "Alice")
}

// signOut signs out with the account menu's Sign out button, wherever the
// page is, and lands on the base domain's sign-in page saying so. (The page's
// Content-Security-Policy must let a form on a company's address go on to
// the base domain, or the browser stops the redirect and the person, signed
// out on the server, stays on the page.)
func signOut(t *testing.T, tab context.Context, a *app) {
	t.Helper()
	click(t, tab, ".user-menu > summary")
	if status := clickAndWait(t, tab, `.user-menu form[action="/logout"] button`); status != http.StatusOK {
		t.Fatalf("Sign out landed on a page answering %d", status)
	}
	wantLocation(t, tab, a.baseHost(), "/login")
	wantText(t, tab, "You have been signed out.")
}

// clearField empties a text field, as a person selecting its text and
// deleting it would.
func clearField(t *testing.T, tab context.Context, selector string) {
	t.Helper()
	clearAndType(t, tab, selector, "")
}
