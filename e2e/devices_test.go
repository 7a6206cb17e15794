package e2e

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// rowText is what a person reads in one device's row of the table.
func rowText(t *testing.T, tab context.Context, identifier string) string {
	t.Helper()
	text, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
		const row = document.querySelector('tr[data-device="`+identifier+`"]');
		return row ? row.innerText : "";
	})()`))
	if err != nil {
		t.Fatalf("read the row of %s: %v", identifier, err)
	}
	return text
}

// cellText is the text of one column (1-based) of a device's row.
func cellText(t *testing.T, tab context.Context, identifier string, column int) string {
	t.Helper()
	text, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => {
		const cell = document.querySelector('tr[data-device="`+identifier+`"] td:nth-child(`+strconv.Itoa(column)+`)');
		return cell ? cell.innerText.trim() : "";
	})()`))
	if err != nil {
		t.Fatalf("read column %d of %s: %v", column, identifier, err)
	}
	return text
}

// berlinTime is a moment as Acme Europe's pages write it, in its time zone:
// "24 Nov 2026, 06:42 CET".
var berlinTime = regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d CES?T$`)

// newYorkTime is a moment as Acme's pages write it: "24 Nov 2026, 00:42 EST".
var newYorkTime = regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d E[SD]T$`)

func waitVisible(t *testing.T, tab context.Context, selector string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(selector))); err != nil {
		t.Fatalf("wait for %s: %v", selector, err)
	}
}

// TestDevicesInsideACompany: eve, owner of Acme Europe, opens its devices,
// searches, adds one, deprovisions it through the confirmation dialog and
// sees Deprovisioned At filled in; then imports a CSV file and reads the
// per-line report.
func TestDevicesInsideACompany(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme-eu", "eve@acme.test")

	click(t, tab, `.sidebar-nav a[href="/devices"]`)
	waitVisible(t, tab, ".device-table")
	wantLocation(t, tab, a.tenantHost("acme-eu"), "/devices")
	wantText(t, tab, "Devices", "DEVICE IDENTIFIER", "DEPROVISIONED AT",
		"EU-TL200-0005", "Thermo Logger T-200", "GPS Tracker G2", "Deprovisioned", "Inactive", "1–25 of 25")
	wantNoSideways(t, tab)
	screenshot(t, tab, "devices.png")

	// Search by model.
	typeInto(t, tab, [][2]string{{`.search input[name="q"]`, "door sensor"}})
	if status := clickAndWait(t, tab, `.search button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("search answered %d", status)
	}
	wantText(t, tab, "EU-DS1-0001", "EU-DS1-0004", "1–4 of 4")
	if strings.Contains(pageText(t, tab), "EU-GPS-0001") {
		t.Error("the search for door sensors shows a GPS tracker")
	}
	screenshot(t, tab, "devices-search.png")

	// Add a device: a mistake first, then the correction.
	open(t, tab, a.tenantURL("acme-eu", "/devices"))
	click(t, tab, "#add-device > summary")
	waitVisible(t, tab, "#f-identifier")
	typeInto(t, tab, [][2]string{{"#f-identifier", "EU NEW 1"}, {"#f-model", "Cold Box CB-3"}})
	screenshot(t, tab, "devices-add.png")
	if status := clickAndWait(t, tab, `#add-device button[type="submit"]`); status != http.StatusUnprocessableEntity {
		t.Fatalf("bad identifier answered %d, want 422", status)
	}
	wantText(t, tab, "Use only letters, digits and - _ : . in the identifier.")
	screenshot(t, tab, "devices-add-error.png")
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#f-identifier").value = ""`)); err != nil {
		t.Fatal(err)
	}
	typeInto(t, tab, [][2]string{{"#f-identifier", "EU-CB3-0001"}})
	if status := clickAndWait(t, tab, `#add-device button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("add answered %d after the redirect", status)
	}
	wantText(t, tab, "Device EU-CB3-0001 added.", "1–25 of 26")
	if row := rowText(t, tab, "EU-CB3-0001"); !strings.Contains(row, "Active") || !strings.Contains(row, "Cold Box CB-3") {
		t.Fatalf("new row: %q", row)
	}
	if got := cellText(t, tab, "EU-CB3-0001", 4); got != "—" {
		t.Fatalf("Deprovisioned At of a new device: %q", got)
	}

	// Deprovision it through the shared confirmation dialog.
	click(t, tab, `tr[data-device="EU-CB3-0001"] .button-danger-ghost`)
	waitVisible(t, tab, "#confirm-dialog")
	dialog, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#confirm-dialog")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(dialog, "Deprovision EU-CB3-0001? This is final.") {
		t.Fatalf("the dialog says %q", dialog)
	}
	screenshot(t, tab, "devices-confirm.png")
	if status := clickAndWait(t, tab, "#confirm-dialog #confirm-ok"); status != http.StatusOK {
		t.Fatalf("deprovision answered %d after the redirect", status)
	}
	wantText(t, tab, "EU-CB3-0001 is deprovisioned.")
	if row := rowText(t, tab, "EU-CB3-0001"); !strings.Contains(row, "Deprovisioned") || strings.Contains(row, "Deactivate") {
		t.Fatalf("row after deprovisioning: %q", row)
	}
	if got := cellText(t, tab, "EU-CB3-0001", 4); !berlinTime.MatchString(got) {
		t.Fatalf("Deprovisioned At is %q, want a date and time in Berlin", got)
	}
	wantNoElement(t, tab, `tr[data-device="EU-CB3-0001"] .button-danger-ghost`)
	screenshot(t, tab, "devices-deprovisioned.png")

	// Import a CSV file with good and bad lines.
	file := filepath.Join(t.TempDir(), "devices.csv")
	csv := "identifier,model,status\r\nEU-CB3-0002,Cold Box CB-3,active\r\nEU-CB3-0003,Cold Box CB-3,inactive\r\nEU-TL100-0001,Thermo Logger T-100,\r\nbad id,Cold Box CB-3,\r\nEU-CB3-0004,,\r\n"
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	click(t, tab, "#import-devices > summary")
	waitVisible(t, tab, "#f-file")
	if err := chromedp.Do(tab, chromedp.SetUploadFiles(chromedp.CSS("#f-file"), []string{file})); err != nil {
		t.Fatalf("choose the file: %v", err)
	}
	screenshot(t, tab, "devices-import-form.png")
	if status := clickAndWait(t, tab, `#import-devices button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("import answered %d", status)
	}
	wantText(t, tab, "Import finished: 2 devices imported, 3 refused",
		"A device with this identifier already exists here.", "Bad identifier", "Missing model.", "EU-CB3-0003")
	wantNoSideways(t, tab)
	screenshot(t, tab, "devices-import.png")
}

// TestDevicesOnTheSubTenantTab: alice, Acme's Super Admin, manages Acme
// Europe's devices from Acme's Sub-Tenants pages.
func TestDevicesOnTheSubTenantTab(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	eu, err := a.store.TenantBySubdomain(context.Background(), "acme-eu")
	if err != nil {
		t.Fatal(err)
	}
	// The details page opens on its Devices tab.
	details := "/sub-tenants/" + strconv.FormatInt(eu.ID, 10)
	wantStatus(t, open(t, tab, a.tenantURL("acme", details)), http.StatusOK)
	wantLocation(t, tab, a.tenantHost("acme"), details+"/devices")
	wantText(t, tab, "Devices", "Users", "Settings", "EU-TL100-0001", "1–25 of 25")
	wantNoSideways(t, tab)
	screenshot(t, tab, "devices-subtenant.png")

	click(t, tab, "#add-device > summary")
	typeInto(t, tab, [][2]string{{"#f-identifier", "EU-HQ-0001"}, {"#f-model", "Gateway GW-5"}})
	if status := clickAndWait(t, tab, `#add-device button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("add answered %d", status)
	}
	wantText(t, tab, "Device EU-HQ-0001 added.", "Acme Europe")
	click(t, tab, `tr[data-device="EU-HQ-0001"] .button-danger-ghost`)
	waitVisible(t, tab, "#confirm-dialog")
	if status := clickAndWait(t, tab, "#confirm-dialog #confirm-ok"); status != http.StatusOK {
		t.Fatalf("deprovision answered %d", status)
	}
	wantText(t, tab, "EU-HQ-0001 is deprovisioned.")
	// Acme's page shows its times in Acme's time zone, the sub-tenant's too.
	if got := cellText(t, tab, "EU-HQ-0001", 4); !newYorkTime.MatchString(got) {
		t.Fatalf("Deprovisioned At is %q, want a date and time in New York", got)
	}

	// Acme's own devices are Acme's alone: none of its children's.
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/devices")), http.StatusOK)
	wantText(t, tab, "No devices yet", "Add device", "Import CSV")
	if strings.Contains(pageText(t, tab), "EU-") {
		t.Error("Acme's own devices list shows Acme Europe's devices")
	}
	screenshot(t, tab, "devices-empty.png")
}

// TestDevicesAtPhoneWidth: the list and its Add form fit a phone.
func TestDevicesAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), phone)
	signIn(t, tab, a, "acme-eu", "eve@acme.test")
	wantStatus(t, open(t, tab, a.tenantURL("acme-eu", "/devices")), http.StatusOK)
	wantText(t, tab, "EU-TL200-0005")
	wantNoSideways(t, tab)
	screenshot(t, tab, "devices-phone.png")
	click(t, tab, "#add-device > summary")
	waitVisible(t, tab, "#f-identifier")
	wantNoSideways(t, tab)
	screenshot(t, tab, "devices-add-phone.png")
}
