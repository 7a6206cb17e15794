package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestSubTenants walks alice, Super Admin of Acme, through the Sub-Tenants
// menu: create one through the form and its confirmation, find it Active in
// the list, open it, invite a user, save its settings and see Updated At move.
func TestSubTenants(t *testing.T) {
	requireBrowser(t)
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	// Manage (⚙) → Sub-Tenants.
	click(t, tab, ".manage-menu > summary")
	if status := clickAndWait(t, tab, `.manage-menu a[href="/sub-tenants"]`); status != http.StatusOK {
		t.Fatalf("sub-tenants list: %d", status)
	}
	wantText(t, tab, "Sub-Tenants", "Acme Europe", "Acme Lab", "Active", "Inactive")
	screenshot(t, tab, "subtenants.png")

	if status := clickAndWait(t, tab, `.page-actions a[href="/sub-tenants/new"]`); status != http.StatusOK {
		t.Fatalf("create form: %d", status)
	}
	typeInto(t, tab, [][2]string{
		{"#f-name", "Acme Asia"},
		{"#f-subdomain", "acme-asia"},
		{"#f-description", "Acme's operations in Asia"},
		{"#f-email", "owner@asia.example"},
	})
	// The Application URL follows the subdomain as it is typed, and the
	// server says the subdomain is free.
	appURL, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS("#f-application_url")))
	if err != nil || appURL != "http://acme-asia."+a.baseHost() {
		t.Fatalf("Application URL %q (%v)", appURL, err)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(".subdomain-status.is-ok"))); err != nil {
		t.Fatalf("no availability shown: %v", err)
	}
	chooseIn(t, tab, "#f-timezone", "Asia/Tokyo")
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("review: %d", status)
	}
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS("dialog[open]"))); err != nil {
		t.Fatal(err)
	}
	wantText(t, tab, "Please verify the details carefully, as they cannot be edited later.")
	screenshot(t, tab, "subtenant-confirm.png")
	if status := clickAndWait(t, tab, `dialog[open] button.button-primary`); status != http.StatusOK {
		t.Fatalf("create: %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/sub-tenants")
	wantText(t, tab, "Acme Asia is active", "Acme Asia", "acme-asia")

	// Details → Users: invite someone.
	if status := clickAndWait(t, tab, `a.cell-link[href^="/sub-tenants/"]:not([href$="/new"])`); status != http.StatusOK {
		t.Fatalf("details: %d", status)
	}
	if status := clickAndWait(t, tab, `.tabs a[href$="/users"]`); status != http.StatusOK {
		t.Fatalf("users tab: %d", status)
	}
	wantText(t, tab, "Acme Asia", "owner@asia.example", "Invited")
	if status := clickAndWait(t, tab, `.toolbar a[href$="/users/new"]`); status != http.StatusOK {
		t.Fatalf("invite form: %d", status)
	}
	typeInto(t, tab, [][2]string{{"#f-first_name", "Ken"}, {"#f-last_name", "Sato"}, {"#f-email", "ken@asia.example"}})
	chooseIn(t, tab, "#f-role", "Admin")
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("invite: %d", status)
	}
	wantText(t, tab, "Invitation sent to ken@asia.example", "Ken", "Sato", "Admin")
	screenshot(t, tab, "subtenant-users.png")

	// Settings: save and see Updated At move.
	if status := clickAndWait(t, tab, `.tabs a[href$="/settings"]`); status != http.StatusOK {
		t.Fatalf("settings tab: %d", status)
	}
	before, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="updated-at"]`)))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // Updated At is shown to the second
	click(t, tab, `input[name="solutions"][value="cold_chain"]`)
	click(t, tab, `input[name="sso_inherit"]`)
	if status := clickAndWait(t, tab, `.settings-form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("save: %d", status)
	}
	wantText(t, tab, "Settings saved for Acme Asia")
	after, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(`[data-testid="updated-at"]`)))
	if err != nil || after == before {
		t.Fatalf("Updated At did not move: %q → %q (%v)", before, after, err)
	}
	checked, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector('input[value="cold_chain"]').checked && !document.querySelector('input[name="sso_inherit"]').checked`))
	if err != nil || !checked {
		t.Fatalf("saved settings not shown: %v", err)
	}
	screenshot(t, tab, "subtenant-settings.png")

	// Dave, a Viewer, has no Manage menu and is refused the page.
	dave := newTab(t, browser, desktop)
	signIn(t, dave, a, "acme", "dave@acme.test")
	wantNoElement(t, dave, ".manage-menu")
	wantStatus(t, open(t, dave, a.tenantURL("acme", "/sub-tenants")), http.StatusForbidden)
	if text := pageText(t, dave); !strings.Contains(text, "permission") {
		t.Fatalf("403 page says: %s", text)
	}
}
