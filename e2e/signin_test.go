package e2e

import (
	"context"
	"net/http"
	"testing"

	"canopy/internal/demo"
)

// TestSignInReachesHome is the path every person takes first: open the
// company's address, get sent to the one sign-in page on the base domain,
// sign in, and land back on the company's own subdomain.
func TestSignInReachesHome(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/")), http.StatusOK)
	// Sign-in lives on the bare domain, and remembers which company to go back to.
	u := wantLocation(t, tab, a.baseHost(), "/login")
	if got := u.Query().Get("tenant"); got != "acme" {
		t.Errorf("sign-in page has tenant=%q, want acme", got)
	}
	wantText(t, tab, "Sign in", "to continue to Acme Corp")

	resp := submitSignIn(t, tab, "alice@acme.test", demo.Password)
	wantStatus(t, resp, http.StatusOK)
	wantLocation(t, tab, a.tenantHost("acme"), "/")
	wantText(t, tab, "Welcome to Acme Corp, Alice")
	wantNoSideways(t, tab)
	screenshot(t, tab, "home.png")
}

// TestSignedInUserMovesBetweenCompanies proves the cross-subdomain hand-off:
// session cookies are host-only, so Globex cannot read the cookie set on
// Acme; Alice still gets there without typing her password again, because
// the base domain remembers her and hands her over with a one-time token.
func TestSignedInUserMovesBetweenCompanies(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	wantStatus(t, open(t, tab, a.tenantURL("globex", "/")), http.StatusOK)
	wantLocation(t, tab, a.tenantHost("globex"), "/")
	wantNoElement(t, tab, "#f-password")
	// Her role here is Globex's (Editor), not Acme's (Super Admin): the
	// page is built from her Globex membership.
	wantText(t, tab, "Welcome to Globex, Alice", "Editor")
}

// TestHomeAtPhoneWidth checks that Home stays readable on a phone: the side
// menu folds into a bar and nothing makes the page scroll sideways.
func TestHomeAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), phone)
	signIn(t, tab, a, "acme", "alice@acme.test")

	wantText(t, tab, "Welcome to Acme Corp, Alice")
	wantNoSideways(t, tab)
	screenshot(t, tab, "home-phone.png")
}

// TestPagesBeforeSignIn covers what a visitor who is not signed in can meet.
// Each case runs in its own private browser context, so none is signed in.
func TestPagesBeforeSignIn(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)

	cases := []struct {
		name      string
		subdomain string // the company address the visitor opens
		// act does what the visitor does on the page that opened, if anything.
		act        func(t *testing.T, tab context.Context) (status int64)
		wantStatus int64
		wantHost   string
		wantPath   string
		wantText   []string
		screenshot string
	}{
		{
			name:       "sign-in page",
			subdomain:  "acme",
			wantStatus: http.StatusOK,
			wantHost:   a.baseHost(),
			wantPath:   "/login",
			wantText:   []string{"Sign in", "to continue to Acme Corp", "Email", "Password"},
			screenshot: "login.png",
		},
		{
			// One message for any failure, so the page does not tell which
			// part was wrong; the visitor stays on the sign-in page to retry.
			name:      "wrong password",
			subdomain: "acme",
			act: func(t *testing.T, tab context.Context) int64 {
				return submitSignIn(t, tab, "alice@acme.test", "not-the-password").Status
			},
			wantStatus: http.StatusUnauthorized,
			wantHost:   a.baseHost(),
			wantPath:   "/login",
			wantText:   []string{"The email or password is not correct.", "to continue to Acme Corp"},
			screenshot: "login-error.png",
		},
		{
			// An unknown subdomain is a plain 404, never a redirect to sign
			// in, which would confirm to a guesser that the name means something.
			name:       "unknown company",
			subdomain:  "nope",
			wantStatus: http.StatusNotFound,
			wantHost:   a.tenantHost("nope"),
			wantPath:   "/",
			wantText:   []string{"404", "There is no company at this address"},
			screenshot: "not-found.png",
		},
		{
			name:       "inactive company",
			subdomain:  "acme-lab",
			wantStatus: http.StatusForbidden,
			wantHost:   a.tenantHost("acme-lab"),
			wantPath:   "/",
			// Nobody is signed in at this address: no other companies are promised.
			wantText:   []string{"Acme Lab is inactive", "ask its parent company's administrators", "Go to Canopy"},
			screenshot: "inactive.png",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab := newTab(t, browser, desktop)
			status := open(t, tab, a.tenantURL(c.subdomain, "/")).Status
			if c.act != nil {
				status = c.act(t, tab)
			}
			if status != c.wantStatus {
				t.Errorf("status %d, want %d", status, c.wantStatus)
			}
			wantLocation(t, tab, c.wantHost, c.wantPath)
			wantText(t, tab, c.wantText...)
			wantNoSideways(t, tab)
			screenshot(t, tab, c.screenshot)
		})
	}
}

// TestSignOutFromACompany: Sign out in the account menu, on a company's
// address, at desktop and phone width, ends the session and lands on the
// base domain's sign-in page saying so; afterwards the company's pages ask
// for a sign-in again.
func TestSignOutFromACompany(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	for _, size := range []viewport{desktop, phone} {
		tab := newTab(t, browser, size)
		signIn(t, tab, a, "acme", "alice@acme.test")
		signOut(t, tab, a)
		open(t, tab, a.tenantURL("acme", "/settings/team"))
		wantLocation(t, tab, a.baseHost(), "/login")
	}
}
