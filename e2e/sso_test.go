package e2e

import (
	"context"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"

	"canopy/internal/demo"
	"canopy/internal/devidp"
	"canopy/internal/sealbox"
	"canopy/models"
)

// withDevIDP starts the development identity provider for one test and
// configures Acme Corp to sign in through it, as the demo data does for
// `make run` with `make devidp`; Acme Europe inherits it.
func withDevIDP(t *testing.T, a *app) *devidp.Server {
	t.Helper()
	idp, err := devidp.Start(devidp.Config{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	box, err := sealbox.New(a.secrets.SSOClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	seal := func(tenantID int64) string { return box.Seal(idp.ClientSecret(), models.SSOSecretBinding(tenantID)) }
	if err := demo.SeedSSO(context.Background(), a.store, idp.Issuer(), idp.ClientID(), seal); err != nil {
		t.Fatal(err)
	}
	return idp
}

// signInThroughIDP clicks "Sign in with SSO" on the sign-in page the tab
// shows, and on the identity provider's own page signs in as email.
func signInThroughIDP(t *testing.T, tab context.Context, email, name, shot string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`.auth-sso a`)), chromedp.WaitVisible(chromedp.CSS("#devidp_email"))); err != nil {
		t.Fatalf("reach the identity provider: %v", err)
	}
	wantText(t, tab, "Canopy development identity provider")
	if shot != "" {
		screenshot(t, tab, shot)
	}
	err := chromedp.Do(tab,
		chromedp.SetValue(chromedp.CSS("#devidp_email"), email),
		chromedp.SetValue(chromedp.CSS("#devidp_name"), name),
	)
	if err != nil {
		t.Fatalf("fill in the identity provider's form: %v", err)
	}
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`button[value="sign_in"]`)))
	if err != nil {
		t.Fatalf("sign in at the identity provider: %v", err)
	}
	wantStatus(t, resp, http.StatusOK)
}

// TestSignInWithSSO: a new person signs in to Acme Corp through its
// identity provider and lands on its Home as a Viewer; the same provider
// signs them in to Acme Europe, which inherits Acme's single sign-on.
func TestSignInWithSSO(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	withDevIDP(t, a)
	tab := newTab(t, newBrowser(t), desktop)

	open(t, tab, a.tenantURL("acme", "/"))
	wantLocation(t, tab, a.baseHost(), "/login")
	wantText(t, tab, "to continue to Acme Corp", "Sign in with SSO")
	screenshot(t, tab, "sso-login.png")
	signInThroughIDP(t, tab, "nora@acme.test", "Nora Novak", "sso-idp.png")
	wantLocation(t, tab, a.tenantHost("acme"), "/")
	wantText(t, tab, "Acme Corp", "Nora", "Viewer")
	screenshot(t, tab, "sso-home.png")

	// Acme Europe inherits: its sign-in page offers the same provider.
	open(t, tab, a.tenantURL("acme-eu", "/"))
	wantLocation(t, tab, a.baseHost(), "/login")
	wantText(t, tab, "to continue to Acme Europe", "Sign in with SSO")
	signInThroughIDP(t, tab, "nora@acme.test", "Nora Novak", "")
	wantLocation(t, tab, a.tenantHost("acme-eu"), "/")
	wantText(t, tab, "Acme Europe", "Nora")
	wantNoSideways(t, tab)
}

// TestSignInWithSSOFromTheBaseDomain: someone who does not know their
// company's sign-in page names their company's address first.
func TestSignInWithSSOFromTheBaseDomain(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	withDevIDP(t, a)
	tab := newTab(t, newBrowser(t), phone)

	open(t, tab, a.baseURL("/login"))
	if err := chromedp.Do(tab, chromedp.Click(chromedp.CSS(`.auth-sso a`)), chromedp.WaitVisible(chromedp.CSS("#f-company"))); err != nil {
		t.Fatalf("open Sign in with SSO: %v", err)
	}
	screenshot(t, tab, "sso-company-phone.png")
	err := chromedp.Do(tab,
		chromedp.SendKeys(chromedp.CSS("#f-company"), "acme"),
		chromedp.Click(chromedp.CSS(`.auth-card button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS("#devidp_email")),
	)
	if err != nil {
		t.Fatalf("name the company: %v", err)
	}
	wantText(t, tab, "Canopy development identity provider", "acme.localhost")
	wantNoSideways(t, tab)
}
