package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// sizes are the widths a person uses Canopy at, desktop first.
var sizes = []struct {
	name string
	vp   viewport
}{{"desktop", desktop}, {"phone", phone}}

// clearAndType replaces what a field holds with text, as a person selecting
// it all and typing would.
func clearAndType(t *testing.T, tab context.Context, selector, text string) {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector(`+"`"+selector+"`"+`).value = ""`)); err != nil {
		t.Fatalf("clear %s: %v", selector, err)
	}
	if text != "" {
		typeInto(t, tab, [][2]string{{selector, text}})
	}
}

// confirm clicks a button that asks first, checks the question in the
// shared dialog, confirms and returns the status of the page it leads to.
func confirm(t *testing.T, tab context.Context, button, question string) int64 {
	t.Helper()
	click(t, tab, button)
	waitVisible(t, tab, "#confirm-dialog")
	asked, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#confirm-dialog")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(asked, question) {
		t.Fatalf("the dialog asks %q, want %q", asked, question)
	}
	return clickAndWait(t, tab, "#confirm-dialog #confirm-ok")
}

// TestEditAndDeleteTemplate: alice sets the branding company name of a
// template, as a new company's setup asks, correcting a mistake on the way;
// a template orders use says why it cannot be deleted, and an unused one is
// deleted after a confirmation. On a phone the pages fit the screen.
func TestEditAndDeleteTemplate(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	page := openFirstTemplate(t, tab, a).Path
	wantText(t, tab, "Employment verification", "It cannot be deleted: 3 orders were made from it, and each order keeps its template.")
	wantNoElement(t, tab, `form[action$="/delete"]`)
	screenshot(t, tab, "template-kept.png")

	if status := clickAndWait(t, tab, `.page-actions a[href$="/edit"]`); status != http.StatusOK {
		t.Fatalf("Edit answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), page+"/edit")
	wantText(t, tab, "Edit template", "Acme Corp", "Save changes")
	clearAndType(t, tab, "#f-branding_company_name", "")
	if status := clickSubmit(t, tab); status != http.StatusUnprocessableEntity {
		t.Fatalf("an empty branding name answered %d, want 422", status)
	}
	wantText(t, tab, "Enter the company name applicants will see.")
	screenshot(t, tab, "template-edit-error.png")
	clearAndType(t, tab, "#f-branding_company_name", "Acme Corporation")
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("saving answered %d after the redirect", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), page)
	wantText(t, tab, "Template “Employment verification” saved.", "Acme Corporation")

	// A template nothing uses: deleted after the confirmation.
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/templates/new")), http.StatusOK)
	typeInto(t, tab, [][2]string{{"#f-name", "Seasonal check"}})
	click(t, tab, `input[name="collects"][value="identity"]`)
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("creating answered %d", status)
	}
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.Search(`//a[contains(@class, "cell-link")][contains(., "Seasonal check")]`)))
	if err != nil || resp.Status != http.StatusOK {
		t.Fatalf("opening the new template: %v", err)
	}
	wantText(t, tab, "Seasonal check", "No orders yet")
	screenshot(t, tab, "template-deletable.png")
	if status := confirm(t, tab, `form[action$="/delete"] button`, "Delete the template “"); status != http.StatusOK {
		t.Fatalf("deleting answered %d after the redirect", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/templates")
	wantText(t, tab, "Template “Seasonal check” deleted.")
	if strings.Contains(pageText(t, tab), "Seasonal check\n") {
		t.Fatal("the deleted template is still listed")
	}

	phone := newTab(t, browser, phone)
	signIn(t, phone, a, "acme", "alice@acme.test")
	wantStatus(t, open(t, phone, a.tenantURL("acme", page)), http.StatusOK)
	wantText(t, phone, "Edit", "It cannot be deleted")
	wantNoSideways(t, phone)
	screenshot(t, phone, "template-kept-phone.png")
	wantStatus(t, open(t, phone, a.tenantURL("acme", page+"/edit")), http.StatusOK)
	wantNoSideways(t, phone)
	screenshot(t, phone, "template-edit-phone.png")
}

// TestEditMember: bob, an Admin of Acme, on his phone, opens Dave's row of
// the Team list, makes him an Editor who may order from one template, and
// is back on the list; nobody's row offers him a way to edit himself.
func TestEditMember(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	for _, size := range sizes {
		tab := newTab(t, browser, size.vp)
		signIn(t, tab, a, "acme", "bob@globex.test")
		wantStatus(t, open(t, tab, a.tenantURL("acme", "/settings/team")), http.StatusOK)
		wantNoSideways(t, tab)
		screenshot(t, tab, "team-actions-"+size.name+".png")
		wantNoElement(t, tab, `a[aria-label="Edit Bob Brown"]`)
		wantNoElement(t, tab, `a[aria-label="Edit Alice Anderson"]`)
		if status := clickAndWait(t, tab, `a[aria-label="Edit Dave Davis"]`); status != http.StatusOK {
			t.Fatalf("Edit answered %d", status)
		}
		wantText(t, tab, "Edit member", "Dave Davis", "dave@acme.test", "Available orders (templates)", "Acme Corp")
		wantNoSideways(t, tab)
		screenshot(t, tab, "member-edit-"+size.name+".png")
		if size.name == "desktop" {
			continue // saved on the phone
		}
		chooseIn(t, tab, "#f-role", "Editor")
		if err := chromedp.Do(tab, chromedp.Click(chromedp.Search(`//label[contains(., "Income verification")]/input`))); err != nil {
			t.Fatalf("tick Income verification: %v", err)
		}
		if status := clickSubmit(t, tab); status != http.StatusOK {
			t.Fatalf("saving answered %d after the redirect", status)
		}
		wantLocation(t, tab, a.tenantHost("acme"), "/settings/team")
		wantText(t, tab, "Saved. Dave Davis is an Editor and may order from 1 template.")
	}
}

// TestEditDeviceModel: eve searches her devices, opens one's Edit form,
// corrects its model and is back at her search; alice does the same for
// Acme Europe from Acme's Sub-Tenants pages, on her phone.
func TestEditDeviceModel(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme-eu", "eve@acme.test")
	wantStatus(t, open(t, tab, a.tenantURL("acme-eu", "/devices?q=door")), http.StatusOK)
	screenshot(t, tab, "devices-edit-links.png")
	if status := clickAndWait(t, tab, `a[aria-label="Edit EU-DS1-0001"]`); status != http.StatusOK {
		t.Fatalf("Edit answered %d", status)
	}
	wantText(t, tab, "Edit device", "A device of Acme Europe.", "EU-DS1-0001", "Device Model")
	clearAndType(t, tab, "#f-model", "")
	if status := clickSubmit(t, tab); status != http.StatusUnprocessableEntity {
		t.Fatalf("an empty model answered %d, want 422", status)
	}
	wantText(t, tab, "Enter the device model.")
	screenshot(t, tab, "device-edit-error.png")
	clearAndType(t, tab, "#f-model", "Door Sensor DS-2")
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("saving answered %d after the redirect", status)
	}
	u := wantLocation(t, tab, a.tenantHost("acme-eu"), "/devices")
	if u.Query().Get("q") != "door" {
		t.Fatalf("back at %s, not at the search for door", u)
	}
	wantText(t, tab, "EU-DS1-0001 saved: its model is Door Sensor DS-2.")
	if row := rowText(t, tab, "EU-DS1-0001"); !strings.Contains(row, "Door Sensor DS-2") {
		t.Fatalf("the row says %q", row)
	}

	alice := newTab(t, browser, phone)
	signIn(t, alice, a, "acme", "alice@acme.test")
	eu := a.tenantURL("acme", "/sub-tenants")
	wantStatus(t, open(t, alice, eu), http.StatusOK)
	if status := clickAndWait(t, alice, `a.cell-link[href^="/sub-tenants/"]`); status != http.StatusOK {
		t.Fatalf("opening Acme Europe answered %d", status)
	}
	tab2 := location(t, alice).Path
	if status := clickAndWait(t, alice, `a[aria-label="Edit EU-GPS-0001"]`); status != http.StatusOK {
		t.Fatalf("Edit on the tab answered %d", status)
	}
	wantText(t, alice, "Edit device", "A device of Acme Europe.", "Acme Europe devices")
	wantNoSideways(t, alice)
	screenshot(t, alice, "device-edit-tab-phone.png")
	clearAndType(t, alice, "#f-model", "GPS Tracker G3")
	if status := clickSubmit(t, alice); status != http.StatusOK {
		t.Fatalf("saving on the tab answered %d after the redirect", status)
	}
	wantLocation(t, alice, a.tenantHost("acme"), tab2)
	wantText(t, alice, "EU-GPS-0001 saved: its model is GPS Tracker G3.")
	wantNoSideways(t, alice)
	screenshot(t, alice, "devices-tab-phone.png")
}

// TestPlatformStaffHomeAndCompanies: staff sign in to the platform and see
// its figures on Home, open Companies from there, read each company's owner
// and member count, and open a company's details; on a phone as well.
func TestPlatformStaffHomeAndCompanies(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	greeting := "Welcome to Canopy Platform, Casey" // the first visit, then back
	for _, size := range sizes {
		tab := newTab(t, browser, size.vp)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		wantText(t, tab, greeting, "Companies", "3 active", "0 inactive", "Members", "Pending invitations", "Create Company")
		if strings.Contains(pageText(t, tab), "Finish setting up") {
			t.Error("platform staff see a customer's setup checklist")
		}
		greeting = "Welcome back, Casey"
		wantNoSideways(t, tab)
		screenshot(t, tab, "platform-home-"+size.name+".png")

		if status := clickAndWait(t, tab, `.card a[href="/sub-tenants"]`); status != http.StatusOK {
			t.Fatalf("Open Companies answered %d", status)
		}
		wantLocation(t, tab, a.tenantHost("admin"), "/sub-tenants")
		wantText(t, tab, "OWNER", "MEMBERS", "alice@acme.test", "bob@globex.test", "carol@initech.test")
		wantNoSideways(t, tab)
		screenshot(t, tab, "platform-companies-"+size.name+".png")

		if status := clickAndWait(t, tab, `tr[data-tenant="globex"] a.cell-link`); status != http.StatusOK {
			t.Fatalf("opening Globex answered %d", status)
		}
		wantText(t, tab, "Globex", "Devices", "Users", "Settings")
		click(t, tab, `.tabs a[href$="/users"]`)
		waitVisible(t, tab, ".table")
		wantText(t, tab, "bob@globex.test", "alice@acme.test")
		wantNoSideways(t, tab)
		screenshot(t, tab, "platform-company-users-"+size.name+".png")
	}
}
