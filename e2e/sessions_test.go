package e2e

import (
	"net/http"
	"testing"
)

// TestSessions: alice, signed in on two devices, opens Account → Sessions
// from the account menu, sees both with this browser marked, and signs the
// other out after confirming; the other device is sent to sign in.
func TestSessions(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	csp := watchCSP(t, tab)
	signIn(t, tab, a, "acme", "alice@acme.test")
	other := newTab(t, newBrowser(t), desktop) // alice on another device
	signIn(t, other, a, "acme", "alice@acme.test")

	click(t, tab, ".user-menu > summary")
	if status := clickAndWait(t, tab, `.user-menu a[href="/account/sessions"]`); status != http.StatusOK {
		t.Fatalf("Sessions answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/account/sessions")
	wantText(t, tab, "Sessions", "This browser", "Chrome on Linux", "Sign out everywhere else")
	wantNoSideways(t, tab)
	screenshot(t, tab, "sessions.png")

	// Sign the other one out: the row without "This browser".
	click(t, tab, `.sessions-table tr:not(.session-current) form button`)
	waitVisible(t, tab, "#confirm-dialog")
	wantText(t, tab, "It will need to sign in again.")
	screenshot(t, tab, "sessions-confirm.png")
	if status := clickAndWait(t, tab, "#confirm-ok"); status != http.StatusOK {
		t.Fatalf("signing the other browser out answered %d", status)
	}
	wantText(t, tab, "That browser has been signed out.", "This is the only browser signed in to your account.")
	screenshot(t, tab, "sessions-alone.png")
	csp.none(t)

	wantStatus(t, open(t, other, a.tenantURL("acme", "/orders")), http.StatusOK)
	wantLocation(t, other, a.baseHost(), "/login")
}

// TestSessionsAtPhoneWidth: the list stacks on a phone.
func TestSessionsAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), phone)
	signIn(t, tab, a, "acme", "dave@acme.test")
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/account/sessions")), http.StatusOK)
	wantText(t, tab, "This browser", "This is the only browser signed in to your account.")
	wantNoSideways(t, tab)
	screenshot(t, tab, "sessions-phone.png")
}
