package e2e

import (
	"net/http"
	"strconv"
	"testing"

	"canopy/models"
)

// TestManageTheWholeSubtree walks alice, Super Admin of Acme, down her tree:
// Sub-Tenants → Acme Europe → its Sub-Tenants tab, where she creates Berlin
// Depot and opens it, with the way down as a breadcrumb that leads back.
// She deactivates Acme Europe: Berlin Depot, still active itself, shows as
// unavailable, and its own address says which company is inactive. At
// phone width the breadcrumb and the lists fit the screen.
func TestManageTheWholeSubtree(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	eu := "/sub-tenants/" + strconv.FormatInt(tenantNamed(t, a, "acme-eu").ID, 10)

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/sub-tenants")), http.StatusOK)
	if status := clickAndWait(t, tab, `a.cell-link[href="`+eu+`"]`); status != http.StatusOK {
		t.Fatalf("Acme Europe: %d", status)
	}
	if status := clickAndWait(t, tab, `.tabs a[href="`+eu+`/sub-tenants"]`); status != http.StatusOK {
		t.Fatalf("Sub-Tenants tab: %d", status)
	}
	wantText(t, tab, "No Sub-Tenants yet")
	if status := clickAndWait(t, tab, `.toolbar a[href="`+eu+`/sub-tenants/new"]`); status != http.StatusOK {
		t.Fatalf("create form: %d", status)
	}
	wantText(t, tab, "Billing rolls up to Acme Europe")
	typeInto(t, tab, [][2]string{
		{"#f-name", "Berlin Depot"},
		{"#f-subdomain", "acme-berlin"},
		{"#f-description", "Acme Europe's depot in Berlin"},
		{"#f-email", "depot@berlin.example"},
	})
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("review: %d", status)
	}
	waitVisible(t, tab, "dialog[open]")
	if status := clickAndWait(t, tab, `dialog[open] button.button-primary`); status != http.StatusOK {
		t.Fatalf("create: %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), eu+"/sub-tenants")
	wantText(t, tab, "Berlin Depot is active", "acme-berlin")
	screenshot(t, tab, "subtree-list.png")

	berlin := "/sub-tenants/" + strconv.FormatInt(tenantNamed(t, a, "acme-berlin").ID, 10)
	if status := clickAndWait(t, tab, `a.cell-link[href="`+berlin+`"]`); status != http.StatusOK {
		t.Fatalf("Berlin Depot: %d", status)
	}
	wantText(t, tab, "Sub-Tenants", "Acme Europe", "Berlin Depot", "http://acme-berlin.")
	screenshot(t, tab, "subtree-details.png")
	// The breadcrumb leads back up, to Acme Europe's Sub-Tenants tab.
	if status := clickAndWait(t, tab, `.breadcrumb a[href="`+eu+`/sub-tenants"]`); status != http.StatusOK {
		t.Fatalf("breadcrumb: %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), eu+"/sub-tenants")

	// Deactivating Acme Europe makes Berlin Depot unavailable, not inactive.
	if status := confirm(t, tab, `.page-actions form[action="`+eu+`/status"] button`, "nor any tenant below it"); status != http.StatusOK {
		t.Fatalf("deactivate: %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), eu+"/sub-tenants")
	wantText(t, tab, "Acme Europe is now inactive", "Unavailable", "Acme Europe is inactive")
	screenshot(t, tab, "subtree-unavailable.png")
	if berlinDepot := tenantNamed(t, a, "acme-berlin"); berlinDepot.Status != models.TenantActive {
		t.Fatalf("Berlin Depot's own status became %s", berlinDepot.Status)
	}
	visitor := newTab(t, browser, desktop)
	wantStatus(t, open(t, visitor, a.tenantURL("acme-berlin", "/")), http.StatusForbidden)
	wantText(t, visitor, "Berlin Depot is unavailable", "A company above Berlin Depot is inactive")
	screenshot(t, visitor, "subtree-unavailable-address.png")

	// At phone width: the details with their breadcrumb, and the tab's list.
	small := newTab(t, browser, phone)
	signIn(t, small, a, "acme", "alice@acme.test")
	for name, path := range map[string]string{"details": berlin + "/devices", "list": eu + "/sub-tenants"} {
		wantStatus(t, open(t, small, a.tenantURL("acme", path)), http.StatusOK)
		wantNoSideways(t, small)
		screenshot(t, small, "subtree-"+name+"-phone.png")
	}
	wantText(t, small, "Berlin Depot", "Unavailable")
}
