package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"canopy/models"
)

// claimSSODomains gives a company a connection claiming domains, none
// proven, as its Settings → Single sign-on would.
func claimSSODomains(t *testing.T, a *app, sub string, domains ...string) map[string]models.SSODomain {
	t.Helper()
	c, err := a.store.SaveSSOConnection(context.Background(), tenantNamed(t, a, sub).ID, models.SSOConnectionInput{
		Issuer: "https://login." + sub + ".example", ClientID: "canopy", SealedSecret: "v1.test",
		Domains: strings.Join(domains, " "), JoinRole: models.RoleViewer,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]models.SSODomain{}
	for _, d := range c.Domains {
		out[d.Domain] = d
	}
	return out
}

// proofOf is how a company's claimed domain stands.
func proofOf(t *testing.T, a *app, sub, domain string) models.SSODomain {
	t.Helper()
	c, err := a.store.SSOConnectionOf(context.Background(), tenantNamed(t, a, sub).ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Domains {
		if d.Domain == domain {
			return d
		}
	}
	t.Fatalf("%s claims no %s", sub, domain)
	return models.SSODomain{}
}

// TestStaffDecideSSODomains: platform staff open ⚙ → SSO domains, approve
// a company's domain (after a confirmation, which Cancel leaves unanswered)
// and refuse another with a note, which the form asks for first, at
// desktop width; at phone width they approve the last one, and the list
// says nothing is waiting.
func TestStaffDecideSSODomains(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	claimSSODomains(t, a, "acme", "acme.test")
	globex := claimSSODomains(t, a, "globex", "globex.test")["globex.test"]
	claimSSODomains(t, a, "initech", "initech.test")

	t.Run("desktop", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), desktop)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		click(t, tab, ".manage-menu > summary")
		clickAndWait(t, tab, `.manage-menu a[href="/sso-domains"]`)
		wantLocation(t, tab, a.tenantHost("admin"), "/sso-domains")
		wantText(t, tab, "SSO domains", "acme.test", "Acme Corp", "https://login.globex.example", "initech.test")
		screenshot(t, tab, "sso-domains-desktop.png")

		cancelThenConfirm(t, tab, rowButton("acme.test", "Approve"), rowButton("acme.test", "Approve"),
			"Approve acme.test for Acme Corp? Its identity provider will sign in everyone with an acme.test email.")
		wantText(t, tab, "acme.test is approved")
		if d := proofOf(t, a, "acme", "acme.test"); d.Proof != models.ProofStaff {
			t.Fatalf("acme.test is %s after Approve", d.Proof)
		}

		// Refuse opens a form asking why; the browser keeps it until it
		// has a note, before anything is confirmed.
		click(t, tab, `tr[data-domain="globex.test"] .sso-refuse > summary`)
		click(t, tab, `tr[data-domain="globex.test"] .sso-refuse-form button`)
		if dialogOpen(t, tab) {
			t.Fatal("Refuse without a note asks to confirm instead of asking for the note")
		}
		note := fmt.Sprintf("#f-note-%d", globex.ID)
		screenshot(t, tab, "sso-domains-refuse-desktop.png")
		typeInto(t, tab, [][2]string{{note, "globex.test is registered to another company."}})
		if status := confirm(t, tab, `tr[data-domain="globex.test"] .sso-refuse-form button`, "Refuse globex.test for Globex?"); status != 200 {
			t.Fatalf("Refuse ended with status %d", status)
		}
		wantText(t, tab, "globex.test is refused. The company sees your note")
		if d := proofOf(t, a, "globex", "globex.test"); d.Proof != models.ProofRefused || d.ProofNote != "globex.test is registered to another company." {
			t.Fatalf("globex.test after Refuse: %s, %q", d.Proof, d.ProofNote)
		}
		screenshot(t, tab, "sso-domains-decided-desktop.png")
	})

	t.Run("phone", func(t *testing.T) {
		tab := newTab(t, newBrowser(t), phone)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		open(t, tab, a.tenantURL("admin", "/sso-domains"))
		wantNoSideways(t, tab)
		screenshot(t, tab, "sso-domains-phone.png")
		cancelThenConfirm(t, tab, rowButton("initech.test", "Approve"), rowButton("initech.test", "Approve"), "Approve initech.test for Initech?")
		wantText(t, tab, "initech.test is approved", "No domains are waiting")
		wantNoSideways(t, tab)
		screenshot(t, tab, "sso-domains-empty-phone.png")
	})
}
