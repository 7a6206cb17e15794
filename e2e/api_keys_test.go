package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"canopy/internal/apikey"
	"canopy/models"
)

// shownKey is the key the page created shows, once.
func shownKey(t *testing.T, tab context.Context, prefix string) string {
	t.Helper()
	key, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("new-api-key").textContent.trim()`))
	if err != nil || !strings.HasPrefix(key, prefix) || len(key) != apikey.Length {
		t.Fatalf("the page shows the key %q (%v), want one starting %s", key, err, prefix)
	}
	return key
}

// TestAPIKeysCreateCopyRevoke: alice opens Developers → API keys, creates
// a sandbox key (production is not offered before access), copies it from
// the one page that shows it, finds it in the list by its last 4 only,
// and revokes it after a confirmation; at phone width the list fits.
func TestAPIKeysCreateCopyRevoke(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	clickAndWait(t, tab, `.sidebar-nav a[href="/developers/api-keys"]`)
	wantText(t, tab, "API keys", "Sandbox", "No sandbox keys yet", "Production", "No production access yet")
	screenshot(t, tab, "api-keys-empty-desktop.png")

	clickAndWait(t, tab, `.page-actions a[href="/developers/api-keys/new"]`)
	locked, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('input[name="environment"][value="production"]').disabled`))
	if err != nil || !locked {
		t.Fatalf("production is offered before access (%v)", err)
	}
	wantText(t, tab, "Needs production access", "orders:read", "List and read orders")
	typeInto(t, tab, [][2]string{{"#f-name", "Billing system"}})
	click(t, tab, `input[name="scopes"][value="devices:read"]`)
	screenshot(t, tab, "api-key-new-desktop.png")
	if status := clickAndWait(t, tab, `form[action="/developers/api-keys"] button[type="submit"]`); status != 200 {
		t.Fatalf("Create key answered %d", status)
	}
	wantText(t, tab, "Copy this key now", "It will not be shown again")
	key := shownKey(t, tab, apikey.SandboxPrefix)
	click(t, tab, `button[data-copy="#new-api-key"]`)
	if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](`document.querySelector('button[data-copy="#new-api-key"]').textContent !== "Copy"`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
		t.Fatalf("the Copy button did nothing: %v", err)
	}
	screenshot(t, tab, "api-key-shown-desktop.png")

	clickAndWait(t, tab, `.key-shown a[href="/developers/api-keys"]`)
	wantText(t, tab, "Billing system", "cnp_test_…"+key[len(key)-4:], "orders:read", "devices:read", "Never", "Active")
	html, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.documentElement.outerHTML`))
	if err != nil || strings.Contains(html, key) {
		t.Fatalf("the list holds the key whole (%v)", err)
	}
	screenshot(t, tab, "api-keys-desktop.png")
	cancelThenConfirm(t, tab, rowButton("Billing system", "Revoke"), rowButton("Billing system", "Revoke"), "Revoke Billing system")
	wantText(t, tab, "Revoked Billing system", "Calls with it are refused from now on.")
	if pill, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('.key-table .status-pill').textContent`)); err != nil || pill != "Revoked" {
		t.Errorf("the key's status reads %q (%v)", pill, err)
	}

	phoneTab := newTab(t, newBrowser(t), phone)
	signIn(t, phoneTab, a, "acme", "alice@acme.test")
	open(t, phoneTab, a.tenantURL("acme", "/developers/api-keys"))
	wantText(t, phoneTab, "Billing system", "Revoked")
	wantNoSideways(t, phoneTab)
	screenshot(t, phoneTab, "api-keys-phone.png")
}

// TestProductionAccessAcrossHosts: alice asks for production access on
// Acme's address; platform staff approve it under ⚙ → Access requests on
// the platform's address; alice then creates a live key.
func TestProductionAccessAcrossHosts(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	alice := newTab(t, browser, desktop)
	signIn(t, alice, a, "acme", "alice@acme.test")
	open(t, alice, a.tenantURL("acme", "/developers/api-keys"))
	clickAndWait(t, alice, `.api-env a[href="/developers/production-access"]`)
	typeInto(t, alice, [][2]string{{"#f-intended_use", "Employment checks from our HR system."}, {"#f-monthly_volume", "1200"}})
	screenshot(t, alice, "production-access-desktop.png")
	clickAndWait(t, alice, `form[action="/developers/production-access"] button[type="submit"]`)
	wantText(t, alice, "Production access requested", "Pending")

	staff := newTab(t, newBrowser(t), desktop)
	signIn(t, staff, a, "admin", "staff@canopy.test")
	click(t, staff, ".manage-menu > summary")
	clickAndWait(t, staff, `.manage-menu a[href="/access-requests"]`)
	wantLocation(t, staff, a.tenantHost("admin"), "/access-requests")
	wantText(t, staff, "Access requests", "Acme Corp", "Employment checks from our HR system.", "1,200", "alice@acme.test")
	screenshot(t, staff, "access-requests-desktop.png")
	cancelThenConfirm(t, staff, rowButton("Acme Corp", "Approve"), rowButton("Acme Corp", "Approve"), "Approve production access for Acme Corp?")
	wantText(t, staff, "Approved: the company can create production keys now", "No requests are waiting", "Recently decided")
	screenshot(t, staff, "access-requests-decided-desktop.png")
	msgs, err := a.store.OutboxFor(context.Background(), "alice@acme.test")
	if err != nil || len(msgs) != 1 || !strings.Contains(msgs[0].Subject, "approved") {
		t.Errorf("alice's email: %+v (%v)", msgs, err)
	}

	open(t, alice, a.tenantURL("acme", "/developers/api-keys"))
	wantText(t, alice, "Approved", "No production keys yet")
	clickAndWait(t, alice, `.api-env a[href="/developers/api-keys/new?environment=production"]`)
	typeInto(t, alice, [][2]string{{"#f-name", "Payroll live"}})
	clickAndWait(t, alice, `form[action="/developers/api-keys"] button[type="submit"]`)
	key := shownKey(t, alice, apikey.ProductionPrefix)
	clickAndWait(t, alice, `.key-shown a[href="/developers/api-keys"]`)
	wantText(t, alice, "Payroll live", "cnp_live_…"+key[len(key)-4:])
	var live int64
	a.db.Model(&models.APIKey{}).Where("environment = ?", models.APIProduction).Count(&live)
	if live != 1 {
		t.Errorf("%d production keys stored", live)
	}
	screenshot(t, alice, "api-keys-production-desktop.png")
}
