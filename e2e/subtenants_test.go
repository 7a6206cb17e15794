package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"canopy/models"
)

// TestSubTenants walks alice, Super Admin of Acme, through the Sub-Tenants
// menu: create one through the form and its confirmation, find it Active in
// the list, open it, invite a user, save its settings and see Updated At move.
func TestSubTenants(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
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
	updatedAt := `document.querySelector('[data-testid="updated-at"] time').getAttribute("datetime")`
	before, err := chromedp.Run(tab, chromedp.Evaluate[string](updatedAt))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // Updated At's exact instant is to the second
	click(t, tab, `input[name="solutions"][value="cold_chain"]`)
	click(t, tab, `input[name="sso_inherit"]`)
	if status := clickAndWait(t, tab, `.settings-form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("save: %d", status)
	}
	wantText(t, tab, "Settings saved for Acme Asia")
	after, err := chromedp.Run(tab, chromedp.Evaluate[string](updatedAt))
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

// historyStep goes Back (-1) or Forward (+1) as the browser's buttons do,
// and waits for the page that comes: another document when newDocument,
// else the same one, once ready holds (a JavaScript condition).
func historyStep(t *testing.T, tab context.Context, delta int, newDocument bool, ready string) {
	t.Helper()
	if newDocument {
		ready = "!window.__before && document.readyState === 'complete' && (" + ready + ")"
	}
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`window.__before = true; history.go(`+strconv.Itoa(delta)+`); true`)); err != nil {
		t.Fatalf("history.go(%d): %v", delta, err)
	}
	waitFor(t, tab, ready)
}

// waitFor waits until a JavaScript condition holds on the page, across a
// page load (while the old page goes, asking fails; it is asked again).
func waitFor(t *testing.T, tab context.Context, condition string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool]("!!("+condition+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("wait for %s: %v (at %s)", condition, err, location(t, tab))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func fieldValue(t *testing.T, tab context.Context, selector string) string {
	t.Helper()
	v, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("read %s: %v", selector, err)
	}
	return v
}

// TestCreateSubTenantSurvivesMistakesAndBack: alice types a taken subdomain
// and is told so; typing a free one clears the red border and the message.
// From the confirmation, Back returns to the form as she filled it in, and
// Back again to the page with her mistake, never "Confirm form
// resubmission". Once created, Back to the confirmation offers no second
// creation.
func TestCreateSubTenantSurvivesMistakesAndBack(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/sub-tenants/new")), http.StatusOK)
	typeInto(t, tab, [][2]string{
		{"#f-name", "Acme Asia"},
		{"#f-subdomain", "acme-eu"},
		{"#f-description", "Acme's operations in Asia"},
		{"#f-email", "owner@asia.example"},
	})
	if status := clickSubmit(t, tab); status != http.StatusUnprocessableEntity {
		t.Fatalf("a taken subdomain: %d", status)
	}
	wantText(t, tab, "This subdomain is already taken.")
	border := func(selector string) string {
		c, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector("`+selector+`")).borderTopColor`))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	normal := border("#f-email")
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.activeElement.blur(); true`)); err != nil {
		t.Fatal(err)
	}
	if border("#f-subdomain") == normal {
		t.Fatal("the taken subdomain has no red border")
	}
	screenshot(t, tab, "subtenant-subdomain-taken.png")

	// A free subdomain: the live check says so, and the server's complaint goes.
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.querySelector("#f-subdomain").value = ""; true`)); err != nil {
		t.Fatal(err)
	}
	typeInto(t, tab, [][2]string{{"#f-subdomain", "acme-asia"}})
	waitVisible(t, tab, ".subdomain-status.is-ok")
	if _, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.activeElement.blur(); true`)); err != nil {
		t.Fatal(err)
	}
	if border("#f-subdomain") != normal {
		t.Error("the red border stays once the subdomain is available")
	}
	if text := pageText(t, tab); strings.Contains(text, "already taken") {
		t.Error("the old message stays once the subdomain is available")
	}
	screenshot(t, tab, "subtenant-subdomain-free.png")

	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("review: %d", status)
	}
	waitVisible(t, tab, "dialog[open]")
	wantText(t, tab, "Please verify the details carefully")

	// Back: the form as filled in, no dialog, nothing sent again.
	historyStep(t, tab, -1, false, `!document.querySelector("dialog[open]")`)
	if got := location(t, tab); got.Query().Get("check") != "" || got.Path != "/sub-tenants/new" {
		t.Errorf("Back from the confirmation is at %s", got)
	}
	if fieldValue(t, tab, "#f-name") != "Acme Asia" || fieldValue(t, tab, "#f-subdomain") != "acme-asia" || fieldValue(t, tab, "#f-description") != "Acme's operations in Asia" {
		t.Error("Back from the confirmation lost what was typed")
	}
	screenshot(t, tab, "subtenant-back-to-form.png")
	// Back again: the page with the mistake, loaded again without asking.
	historyStep(t, tab, -1, true, `document.body.innerText.includes("already taken")`)
	if fieldValue(t, tab, "#f-subdomain") != "acme-eu" {
		t.Error("Back to the mistake does not show it")
	}
	// Forward: the filled form; Create asks again; Cancel keeps the form.
	historyStep(t, tab, 1, true, `document.querySelector("#f-subdomain") && document.querySelector("#f-subdomain").value === "acme-asia"`)
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("review again: %d", status)
	}
	waitVisible(t, tab, "dialog[open]")
	click(t, tab, "dialog[open] [data-dialog-cancel]")
	waitFor(t, tab, `!document.querySelector("dialog[open]")`)
	if fieldValue(t, tab, "#f-name") != "Acme Asia" {
		t.Error("Cancel lost what was typed")
	}
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("review a third time: %d", status)
	}
	waitVisible(t, tab, "dialog[open]")
	if status := clickAndWait(t, tab, `dialog[open] button.button-primary`); status != http.StatusOK {
		t.Fatalf("create: %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/sub-tenants")
	wantText(t, tab, "Acme Asia is active")

	// Back to the confirmation: it says the sub-tenant exists, and offers no Create.
	historyStep(t, tab, -1, true, `document.body.innerText.includes("was created already")`)
	wantNoElement(t, tab, "dialog[open]")
	screenshot(t, tab, "subtenant-created-already.png")
	page, err := a.store.SubTenants(context.Background(), mustTenant(t, a, "acme").ID, "acme asia", models.ParsePage("", 10))
	if err != nil || page.Total != 1 {
		t.Fatalf("%d sub-tenants named Acme Asia (%v)", page.Total, err)
	}
}

func mustTenant(t *testing.T, a *app, subdomain string) *models.Tenant {
	t.Helper()
	tn, err := a.store.TenantBySubdomain(context.Background(), subdomain)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}
