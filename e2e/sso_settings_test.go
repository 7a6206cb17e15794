package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"canopy/models"
)

// identityProvider serves a discovery document on this machine, as a
// company's identity provider would: Test connection fetches it.
func identityProvider(t *testing.T) string {
	t.Helper()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": issuer, "authorization_endpoint": issuer + "/authorize",
			"token_endpoint": issuer + "/token", "jwks_uri": issuer + "/keys"})
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	return issuer
}

// ssoSettingsForTour gives Acme Corp a connection whose domains stand
// differently, so the tour shows the domains table and what Acme Europe
// inherits.
func ssoSettingsForTour(t *testing.T, a *app, acme *models.Tenant) {
	t.Helper()
	ctx := context.Background()
	saved, err := a.store.SaveSSOConnection(ctx, acme.ID, models.SSOConnectionInput{Issuer: "https://login.acme.example",
		ClientID: "canopy-acme-0a1b2c3d", SealedSecret: "v1.sealed-for-the-tour", Domains: "acme.example\nacme-corp.example\nacme-logistics.example",
		JoinRole: models.RoleEditor, Required: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range saved.Domains {
		switch d.Domain {
		case "acme.example":
			err = a.store.MarkDomainProvenByDNS(ctx, acme.ID, d.ID)
		case "acme-logistics.example":
			err = a.store.DecideSSODomain(ctx, acme.ID, d.ID, false, "The domain's registrant is another company.")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// TestSSOSettings: an Admin reaches Settings → Single sign-on from the
// Settings tabs, tests the connection as typed, saves it, and sees the
// secret only as set, with the DNS records to add and a working Copy
// button; the saved page is looked at at both widths, in both schemes.
func TestSSOSettings(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	issuer := identityProvider(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "bob@globex.test") // an Admin of Acme Corp

	open(t, tab, a.tenantURL("acme", "/settings/team"))
	if status := clickAndWait(t, tab, `.tabs a[href="/settings/sso"]`); status != http.StatusOK {
		t.Fatalf("the Single sign-on tab answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/settings/sso")
	wantText(t, tab, "Single sign-on", "Redirect URI", "openid email profile", "Alice Anderson, the owner of Acme Corp, can always sign in with a password")
	redirect, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#sso-redirect-uri").textContent`))
	if err != nil || redirect != a.tenantURL("acme", "/auth/sso/callback") {
		t.Fatalf("redirect URI %q (%v)", redirect, err)
	}

	const secret = "browser-typed-secret-5e1f"
	typeInto(t, tab, [][2]string{{"#f-issuer", issuer}, {"#f-client_id", "canopy-acme"}, {"#f-client_secret", secret},
		{"#f-domains", "acme.example\nacme-corp.example"}})
	chooseIn(t, tab, "#f-join_role", "Editor")
	click(t, tab, `input[name="required"]`)
	if status := clickAndWait(t, tab, `button[formaction="/settings/sso/test"]`); status != http.StatusOK {
		t.Fatalf("Test connection answered %d", status)
	}
	wantText(t, tab, "The identity provider answers: "+issuer+", sign-in at "+issuer+"/authorize.", "Type the client secret again")
	kept, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`["#f-issuer", "#f-client_id", "#f-client_secret", "#f-join_role"].map(s => document.querySelector(s).value)`))
	if err != nil || strings.Join(kept, "|") != issuer+"|canopy-acme||editor" {
		t.Fatalf("the form after the test: %q (%v)", kept, err)
	}
	screenshot(t, tab, "sso-settings-tested.png")

	typeInto(t, tab, [][2]string{{"#f-client_secret", secret}})
	if status := clickAndWait(t, tab, `.sso-page .form-actions button.button-primary`); status != http.StatusOK {
		t.Fatalf("Save answered %d", status)
	}
	wantText(t, tab, "Single sign-on saved", "•••• set on", "Leave blank to keep it", "Waiting for verification", "Remove single sign-on")
	records, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".txt-record code")].map(c => c.textContent)`))
	if err != nil || len(records) != 4 || records[0] != "_canopy-verification.acme-corp.example" || records[2] != "_canopy-verification.acme.example" ||
		!strings.HasPrefix(records[1], "canopy-verification=") {
		t.Fatalf("the TXT records to add: %q (%v)", records, err)
	}
	if strings.Contains(pageText(t, tab), secret) {
		t.Fatal("the page shows the client secret")
	}
	html, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil || strings.Contains(html, secret) {
		t.Fatalf("the page's HTML holds the client secret (%v)", err)
	}

	// Copy puts the TXT record's value within reach of a paste.
	click(t, tab, `button[data-copy="#sso-txt-value-0"]`)
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.querySelector('button[data-copy="#sso-txt-value-0"]').textContent !== "Copy"`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the Copy button did nothing: %v", err)
	}
	said, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('button[data-copy="#sso-txt-value-0"]').textContent`))
	if err != nil || said != "Copied" {
		t.Errorf("the Copy button says %q (%v)", said, err)
	}

	for _, scheme := range tourSchemes {
		for _, sz := range tourSizes {
			setView(t, tab, sz.size, scheme)
			wantStatus(t, open(t, tab, a.tenantURL("acme", "/settings/sso")), http.StatusOK)
			lookOver(t, tab, "sso-settings-saved-"+sz.name+"-"+scheme, scheme, sz.name == "phone")
		}
	}
}
