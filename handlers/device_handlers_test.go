package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"canopy/models"
)

// device loads a tenant's device by identifier, or fails the test.
func (a *app) device(sub, identifier string) *models.Device {
	a.t.Helper()
	d, err := a.store.DeviceByIdentifier(context.Background(), a.tenant(sub).ID, identifier)
	if err != nil {
		a.t.Fatalf("device %s of %s: %v", identifier, sub, err)
	}
	return d
}

func (a *app) hasDevice(sub, identifier string) bool {
	a.t.Helper()
	_, err := a.store.DeviceByIdentifier(context.Background(), a.tenant(sub).ID, identifier)
	return err == nil
}

func (a *app) deviceCount(sub string) int64 {
	a.t.Helper()
	p, err := a.store.ListDevices(context.Background(), a.tenant(sub).ID, "", models.PageRequest{Number: 1, Size: 1})
	if err != nil {
		a.t.Fatal(err)
	}
	return p.Total
}

func (a *app) addDevice(sub, identifier, model string) *models.Device {
	a.t.Helper()
	d, err := a.store.AddDevice(context.Background(), a.tenant(sub).ID, models.NewDevice{Identifier: identifier, Model: model})
	if err != nil {
		a.t.Fatal(err)
	}
	return d
}

func num(n int64) string { return strconv.FormatInt(n, 10) }

// upload posts a file in a multipart form with the CSRF token of the page
// at pageURL, as the Import CSV form does.
func (b *browser) upload(pageURL, action, filename string, content []byte) response {
	b.app.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if pageURL != "" {
		_ = w.WriteField("_csrf", b.csrf(pageURL))
	}
	if filename != "" {
		part, _ := w.CreateFormFile("file", filename)
		_, _ = part.Write(content)
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, action, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

// deviceRows are the identifiers in the devices table, top to bottom.
var deviceRow = regexp.MustCompile(`<tr data-device="([^"]+)"`)

func deviceRows(r response) []string {
	var out []string
	for _, m := range deviceRow.FindAllStringSubmatch(r.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// rowOf is the table row of one device.
func rowOf(t *testing.T, r response, identifier string) string {
	t.Helper()
	return rowWith(t, r, "data-device", identifier)
}

// rowWith is the table row whose attribute attr is value.
func rowWith(t *testing.T, r response, attr, value string) string {
	t.Helper()
	start := strings.Index(r.body, `<tr `+attr+`="`+value+`"`)
	if start < 0 {
		t.Fatalf("%s: no row with %s=%q\n%s", r.url, attr, value, excerpt(r.body))
	}
	end := strings.Index(r.body[start:], "</tr>")
	return r.body[start : start+end]
}

func TestEveSeesAcmeEuropesDevices(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	page := eve.get(tenantURL("acme-eu", "/devices"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Device Identifier", "Status", "Device Model", "Deprovisioned At", "Created At", "Updated At",
		"EU-TL100-0001", "Thermo Logger T-100", "Thermo Logger T-200", "GPS Tracker G2", "Door Sensor DS-1",
		"1–25 of 25", `name="q"`, `aria-current="page"`)
	// Times are written one way, in Acme Europe's time zone, named.
	if !regexp.MustCompile(`>\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d CES?T</time>`).MatchString(page.body) {
		t.Errorf("device times are not written as 29 Nov 2026, 05:05 CET:\n%s", excerpt(page.body))
	}
	wantNoBody(t, page, `style=`, "onclick", "<script>")
	// The demo's ~25 devices: some inactive, two deprovisioned.
	if n := strings.Count(page.body, `status-pill status-pill-deprovisioned`); n != 2 {
		t.Errorf("%d deprovisioned devices shown, want 2", n)
	}
	if n := strings.Count(page.body, `status-pill status-pill-inactive`); n < 2 {
		t.Errorf("%d inactive devices shown, want some", n)
	}
	// Newest first; times in Acme Europe's timezone; the deprovisioned date shown.
	rows := deviceRows(page)
	if len(rows) != 25 || rows[0] != "EU-TL200-0005" || rows[24] != "EU-TL100-0001" {
		t.Fatalf("rows %v", rows)
	}
	dep := rowOf(t, page, "EU-GPS-0004")
	if !strings.Contains(dep, "Deprovisioned") || !regexp.MustCompile(`"Deprovisioned At" class="cell-nowrap"><time datetime="[^"]+">\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d CES?T<`).MatchString(dep) || strings.Contains(dep, "Not deprovisioned") {
		t.Errorf("deprovisioned row lacks its date in Berlin time: %s", dep)
	}
	if strings.Contains(dep, "/deprovision") || strings.Contains(dep, "/status") {
		t.Errorf("a deprovisioned device still offers actions: %s", dep)
	}
	active := rowOf(t, page, "EU-TL100-0001")
	for _, want := range []string{"Active", "Not deprovisioned", `action="/devices/` + num(a.device("acme-eu", "EU-TL100-0001").ID) + `/deprovision"`,
		`data-confirm="Deprovision EU-TL100-0001? This is final."`, "Deactivate"} {
		if !strings.Contains(active, want) {
			t.Errorf("active row lacks %q: %s", want, active)
		}
	}
	// Eve, a Super Admin, may add and import.
	wantBody(t, page, `id="add-device"`, `id="import-devices"`, `enctype="multipart/form-data"`, `action="/devices/import"`)
	if strings.Contains(page.body, `id="add-device" open`) {
		t.Error("the Add device form is open without being asked for")
	}
	// /devices/new is the same list with the form open and focused.
	open := eve.get(tenantURL("acme-eu", "/devices/new"))
	wantStatus(t, open, http.StatusOK)
	wantBody(t, open, `id="add-device" open`, `id="f-identifier"`, "autofocus")
}

func TestDeviceSearchAndPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	cases := []struct {
		q    string
		want int
		has  string
	}{
		{"gps", 7, "EU-GPS-0007"},                   // identifier
		{"THERMO LOGGER T-200", 5, "EU-TL200-0001"}, // model, any case
		{"door sensor", 4, "EU-DS1-0004"},
		{"EU-DS1-0003", 1, "EU-DS1-0003"},
		{"%", 0, ""}, // taken literally
	}
	for _, c := range cases {
		r := eve.get(tenantURL("acme-eu", "/devices?q="+url.QueryEscape(c.q)))
		wantStatus(t, r, http.StatusOK)
		rows := deviceRows(r)
		if len(rows) != c.want || (c.has != "" && !strings.Contains(strings.Join(rows, " "), c.has)) {
			t.Errorf("q=%q: %v, want %d rows with %s", c.q, rows, c.want, c.has)
		}
		wantBody(t, r, `value="`+c.q+`"`)
	}
	wantBody(t, eve.get(tenantURL("acme-eu", "/devices?q=nothing-here")), "No devices match", "Show all devices")

	// 30 more devices: pages of 25, the search kept across pages.
	for i := range 30 {
		a.addDevice("acme-eu", fmt.Sprintf("BULK-%02d", i), "Bulk Sensor")
	}
	first := eve.get(tenantURL("acme-eu", "/devices"))
	wantBody(t, first, "1–25 of 55", `href="/devices?page=2"`)
	third := eve.get(tenantURL("acme-eu", "/devices?page=3"))
	wantBody(t, third, "51–55 of 55", `href="/devices?page=2"`)
	if rows := deviceRows(third); len(rows) != 5 || rows[4] != "EU-TL100-0001" {
		t.Fatalf("last page: %v", rows)
	}
	wantBody(t, eve.get(tenantURL("acme-eu", "/devices?q=bulk")), "1–25 of 30", `href="/devices?page=2&amp;q=bulk"`)
	past := eve.get(tenantURL("acme-eu", "/devices?q=bulk&page=9"))
	wantStatus(t, past, http.StatusSeeOther)
	if past.location != "/devices?page=2&q=bulk" {
		t.Fatalf("past the end goes to %q", past.location)
	}
}

func TestEveAddsDeprovisionsAndTogglesDevices(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	list := tenantURL("acme-eu", "/devices")

	// Problems come back beside the fields, with the form open and the input kept.
	bad := eve.submit(list, list, url.Values{"identifier": {"bad id!"}, "model": {"Thermo Logger"}, "status": {"active"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantBody(t, bad, `id="add-device" open`, "Use only letters, digits and - _ : . in the identifier.", `value="bad id!"`, `value="Thermo Logger"`)
	dup := eve.submit(list, list, url.Values{"identifier": {"eu-tl100-0001"}, "model": {"X"}})
	wantStatus(t, dup, http.StatusUnprocessableEntity)
	wantBody(t, dup, "A device with this identifier already exists here.")
	forged := eve.submit(list, list, url.Values{"identifier": {"NEW-1"}, "model": {"X"}, "status": {"deprovisioned"}})
	wantStatus(t, forged, http.StatusUnprocessableEntity)
	if n := a.deviceCount("acme-eu"); n != 25 {
		t.Fatalf("refused forms added devices: %d", n)
	}

	added := eve.submit(list, list, url.Values{"identifier": {"  EU-NEW-0001 "}, "model": {" Cold Box CB-3 "}, "status": {"inactive"}})
	wantStatus(t, added, http.StatusSeeOther)
	page := eve.follow(added)
	wantBody(t, page, "Device EU-NEW-0001 added.", "Cold Box CB-3")
	if rows := deviceRows(page); rows[0] != "EU-NEW-0001" {
		t.Fatalf("the new device is not first: %v", rows)
	}
	d := a.device("acme-eu", "EU-NEW-0001")
	if d.Status != models.DeviceInactive || d.Model != "Cold Box CB-3" {
		t.Fatalf("stored %+v", d)
	}

	// Activate it; the list comes back where it was.
	r := eve.submit(list, tenantURL("acme-eu", "/devices/"+num(d.ID)+"/status"), url.Values{"status": {"active"}, "q": {"new"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/devices?q=new" {
		t.Fatalf("status change returns to %q", r.location)
	}
	if a.device("acme-eu", "EU-NEW-0001").Status != models.DeviceActive {
		t.Fatal("not activated")
	}
	wantStatus(t, eve.submit(list, tenantURL("acme-eu", "/devices/"+num(d.ID)+"/status"), url.Values{"status": {"deprovisioned"}}), http.StatusUnprocessableEntity)

	// Deprovision: final and dated.
	r = eve.submit(list, tenantURL("acme-eu", "/devices/"+num(d.ID)+"/deprovision"), url.Values{"page": {"1"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, eve.follow(r), "EU-NEW-0001 is deprovisioned.")
	gone := a.device("acme-eu", "EU-NEW-0001")
	if gone.Status != models.DeviceDeprovisioned || gone.DeprovisionedAt == nil {
		t.Fatalf("after deprovisioning: %+v", gone)
	}
	// Again (another tab): a message, and the date stays.
	r = eve.submit(list, tenantURL("acme-eu", "/devices/"+num(d.ID)+"/deprovision"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, eve.follow(r), "already deprovisioned; nothing changed")
	if again := a.device("acme-eu", "EU-NEW-0001"); !again.DeprovisionedAt.Equal(*gone.DeprovisionedAt) || !again.UpdatedAt.Equal(gone.UpdatedAt) {
		t.Fatalf("deprovisioning again moved the dates: %+v", again)
	}
	r = eve.submit(list, tenantURL("acme-eu", "/devices/"+num(d.ID)+"/status"), url.Values{"status": {"active"}})
	wantStatus(t, r, http.StatusSeeOther)
	if a.device("acme-eu", "EU-NEW-0001").Status != models.DeviceDeprovisioned {
		t.Fatal("a deprovisioned device was reactivated")
	}
	// Without the CSRF token nothing happens.
	other := a.device("acme-eu", "EU-TL100-0001")
	wantStatus(t, eve.post(tenantURL("acme-eu", "/devices/"+num(other.ID)+"/deprovision"), url.Values{}), http.StatusForbidden)
	if a.device("acme-eu", "EU-TL100-0001").Deprovisioned() {
		t.Fatal("deprovisioned without a CSRF token")
	}
}

func TestImportDevicesFromCSV(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	list := tenantURL("acme-eu", "/devices")
	action := tenantURL("acme-eu", "/devices/import")

	csv := "\ufeffIdentifier,Model,Status\r\nEU-IMP-0001,Cold Box CB-3,\r\n\r\nEU-TL100-0001,Thermo Logger T-100,active\r\nbad id,X,\r\nEU-IMP-0002,,\r\nEU-IMP-0003,Cold Box CB-3,broken\r\neu-imp-0001,Dup,\r\nEU-IMP-0004,GPS Tracker G2,Inactive\r\n"
	r := eve.upload(list, action, "devices.csv", []byte(csv))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Import finished: 2 devices imported, 5 refused",
		"A device with this identifier already exists here.", "Bad identifier", "Missing model.", "Unknown status",
		"Duplicate identifier: line 2 of this file has it already.", "Show the 2 devices imported", "EU-IMP-0004")
	for _, line := range []string{"4", "5", "6", "7", "8"} {
		wantBody(t, r, `<tr data-line="`+line+`"`)
	}
	if !a.hasDevice("acme-eu", "EU-IMP-0001") || a.device("acme-eu", "EU-IMP-0004").Status != models.DeviceInactive {
		t.Fatal("valid rows were not imported")
	}
	if n := a.deviceCount("acme-eu"); n != 27 {
		t.Fatalf("%d devices, want 27", n)
	}
	if a.device("acme-eu", "EU-TL100-0001").Model != "Thermo Logger T-100" {
		t.Fatal("an existing device was overwritten")
	}

	// Whole-file problems: a clear message beside the file, nothing imported.
	for _, c := range []struct {
		name, file string
		content    []byte
		want       string
	}{
		{"no file", "", nil, "Choose a CSV file to import."},
		{"bad header", "x.csv", []byte("serial,model\nA-1,B\n"), `The header has an unknown column &#34;serial&#34; (column 1).`},
		{"empty", "x.csv", []byte(""), "The file is empty."},
		{"too large", "x.csv", append([]byte("identifier,model\n"), bytes.Repeat([]byte("A-1,B\n"), 200000)...), "larger than 1 MiB"},
	} {
		r := eve.upload(list, action, c.file, c.content)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `id="import-devices" open`, c.want)
	}
	all := "identifier,model\nNOPE-1,\n,x\n"
	r = eve.upload(list, action, "bad.csv", []byte(all))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Import finished: 0 devices imported, 2 refused", "Nothing was imported.")
	if n := a.deviceCount("acme-eu"); n != 27 {
		t.Fatalf("refused files imported devices: %d", n)
	}
	// The multipart form needs its CSRF token like any other.
	wantStatus(t, eve.upload("", action, "x.csv", []byte("identifier,model\nCSRF-1,X\n")), http.StatusForbidden)
	if a.hasDevice("acme-eu", "CSRF-1") {
		t.Fatal("imported without a CSRF token")
	}
}

func TestParentSuperAdminManagesChildDevices(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu := a.tenant("acme-eu")
	base := tenantURL("acme", "/sub-tenants/"+num(eu.ID)+"/devices")

	// The details page opens on its Devices tab.
	opened := alice.follow(alice.get(tenantURL("acme", "/sub-tenants/"+num(eu.ID))))
	wantStatus(t, opened, http.StatusOK)
	page := alice.get(base)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Acme Europe", `class="tab is-active" href="/sub-tenants/`+num(eu.ID)+`/devices"`, "EU-TL100-0001", "1–25 of 25",
		`action="/sub-tenants/`+num(eu.ID)+`/devices/import"`, `action="/sub-tenants/`+num(eu.ID)+`/devices"`)
	wantNoBody(t, page, `style=`, `action="/devices`)
	if rows := deviceRows(page); len(rows) != 25 {
		t.Fatalf("rows %v", rows)
	}
	found := alice.get(base + "?q=door")
	if rows := deviceRows(found); len(rows) != 4 {
		t.Fatalf("search on the tab: %v", rows)
	}
	wantBody(t, found, `action="/sub-tenants/`+num(eu.ID)+`/devices"`, `value="door"`)

	// Add: it lands in Acme Europe, not in Acme.
	r := alice.submit(base, base, url.Values{"identifier": {"EU-HQ-0001"}, "model": {"Gateway GW-5"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/sub-tenants/"+num(eu.ID)+"/devices" {
		t.Fatalf("add returns to %q", r.location)
	}
	wantBody(t, alice.follow(r), "Device EU-HQ-0001 added.")
	if !a.hasDevice("acme-eu", "EU-HQ-0001") || a.hasDevice("acme", "EU-HQ-0001") {
		t.Fatal("the device did not land in Acme Europe alone")
	}
	bad := alice.submit(base, base, url.Values{"identifier": {"EU-HQ-0001"}, "model": {"Gateway GW-5"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantBody(t, bad, "A device with this identifier already exists here.", "Acme Europe", `class="tab is-active"`)

	// Deprovision there.
	d := a.device("acme-eu", "EU-TL100-0002")
	r = alice.submit(base, base+"/"+num(d.ID)+"/deprovision", nil)
	wantStatus(t, r, http.StatusSeeOther)
	after := alice.follow(r)
	wantBody(t, after, "EU-TL100-0002 is deprovisioned.")
	if !a.device("acme-eu", "EU-TL100-0002").Deprovisioned() {
		t.Fatal("not deprovisioned")
	}
	if row := rowOf(t, after, "EU-TL100-0002"); !strings.Contains(row, "status-pill-deprovisioned") || strings.Contains(row, "Not deprovisioned") {
		t.Fatalf("row after deprovisioning: %s", row)
	}
	// Status and import there too.
	d = a.device("acme-eu", "EU-TL100-0004")
	wantStatus(t, alice.submit(base, base+"/"+num(d.ID)+"/status", url.Values{"status": {"inactive"}}), http.StatusSeeOther)
	if a.device("acme-eu", "EU-TL100-0004").Status != models.DeviceInactive {
		t.Fatal("not deactivated")
	}
	imp := alice.upload(base, base+"/import", "eu.csv", []byte("identifier,model\nEU-HQ-0002,Gateway GW-5\nEU-HQ-0001,Gateway GW-5\n"))
	wantStatus(t, imp, http.StatusOK)
	wantBody(t, imp, "Import finished: 1 device imported, 1 refused", "Acme Europe")
	if !a.hasDevice("acme-eu", "EU-HQ-0002") || a.hasDevice("acme", "EU-HQ-0002") {
		t.Fatal("the import did not land in Acme Europe alone")
	}
}

// TestParentSeesChildDevicesOnlyOnSubTenantPages: alice is Acme's Super
// Admin but not a member of Acme Europe: its own /devices refuses her, since
// a tenant's own host admits its members only.
func TestParentSeesChildDevicesOnlyOnSubTenantPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	r := alice.follow(alice.get(tenantURL("acme-eu", "/devices")))
	wantStatus(t, r, http.StatusForbidden)
	wantNoBody(t, r, "EU-TL100-0001")
	// acme's own /devices lists acme's devices, not its children's.
	own := alice.get(tenantURL("acme", "/devices"))
	wantStatus(t, own, http.StatusOK)
	wantBody(t, own, "No devices yet")
	wantNoBody(t, own, "EU-TL100-0001")
	// And eve, Acme Europe's owner, sees nothing of Acme.
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	wantStatus(t, eve.follow(eve.get(tenantURL("acme", "/devices"))), http.StatusForbidden)
}

func TestDevicesOfOtherTenantsAreNotFound(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	theirs := a.addDevice("globex", "GLOBEX-1", "Globex Box")
	sibling := a.addDevice("acme-lab", "LAB-1", "Lab Box")
	eu := a.device("acme-eu", "EU-TL100-0001")

	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	list := tenantURL("acme-eu", "/devices")
	for _, path := range []string{"/devices/" + num(theirs.ID) + "/deprovision", "/devices/" + num(sibling.ID) + "/deprovision",
		"/devices/" + num(theirs.ID) + "/status", "/devices/99999999/deprovision", "/devices/abc/deprovision", "/devices/-1/deprovision"} {
		r := eve.submit(list, tenantURL("acme-eu", path), url.Values{"status": {"inactive"}})
		wantStatus(t, r, http.StatusNotFound)
	}

	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	euBase := tenantURL("acme", "/sub-tenants/"+num(a.tenant("acme-eu").ID)+"/devices")
	// A sibling's or a stranger's device under Acme Europe's tab.
	for _, dev := range []*models.Device{theirs, sibling} {
		wantStatus(t, alice.submit(euBase, euBase+"/"+num(dev.ID)+"/deprovision", nil), http.StatusNotFound)
	}
	// Acme Europe's device through Acme's own /devices.
	wantStatus(t, alice.submit(tenantURL("acme", "/devices"), tenantURL("acme", "/devices/"+num(eu.ID)+"/deprovision"), nil), http.StatusNotFound)

	for _, d := range []struct{ sub, identifier string }{{"globex", "GLOBEX-1"}, {"acme-lab", "LAB-1"}, {"acme-eu", "EU-TL100-0001"}} {
		if got := a.device(d.sub, d.identifier); got.Status != models.DeviceActive || got.DeprovisionedAt != nil {
			t.Errorf("%s changed: %+v", d.identifier, got)
		}
	}
}

func TestSubTenantDevicesOnlyForDirectChildren(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	acmeBase := tenantURL("acme", "/sub-tenants")
	for _, sub := range []string{"globex", "acme", "admin"} { // a stranger, itself, its parent
		base := acmeBase + "/" + num(a.tenant(sub).ID) + "/devices"
		wantStatus(t, alice.get(base), http.StatusNotFound)
		wantStatus(t, alice.submit(tenantURL("acme", "/devices"), base, url.Values{"identifier": {"X-1"}, "model": {"X"}}), http.StatusNotFound)
		wantStatus(t, alice.upload(tenantURL("acme", "/devices"), base+"/import", "x.csv", []byte("identifier,model\nX-2,X\n")), http.StatusNotFound)
		if a.hasDevice(sub, "X-1") || a.hasDevice(sub, "X-2") {
			t.Fatalf("a device was added to %s", sub)
		}
	}
	wantStatus(t, alice.get(acmeBase+"/abc/devices"), http.StatusNotFound)
	// Acme Lab is inactive but still Acme's child: its tab works.
	wantStatus(t, alice.get(acmeBase+"/"+num(a.tenant("acme-lab").ID)+"/devices"), http.StatusOK)

	// Bob is an Admin of Acme, not a Super Admin: no Sub-Tenants pages.
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	euBase := acmeBase + "/" + num(a.tenant("acme-eu").ID) + "/devices"
	wantStatus(t, bob.get(euBase), http.StatusForbidden)
	d := a.device("acme-eu", "EU-TL100-0001")
	wantStatus(t, bob.submit(tenantURL("acme", "/devices"), euBase+"/"+num(d.ID)+"/deprovision", nil), http.StatusForbidden)
	if a.device("acme-eu", "EU-TL100-0001").Deprovisioned() {
		t.Fatal("an Admin deprovisioned a child's device")
	}
}

func TestDeviceActionsFollowTheRole(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dev := a.addDevice("acme", "ACME-1", "Thermo Logger T-100")
	list := tenantURL("acme", "/devices")

	// Dave, a Viewer: sees the devices, no buttons, and 403 when forcing.
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	page := dave.get(list)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "ACME-1", "Thermo Logger T-100")
	wantNoBody(t, page, `id="add-device"`, `id="import-devices"`, "/deprovision", "/status", "/edit", "Deactivate", "Add device")
	wantStatus(t, dave.get(tenantURL("acme", "/devices/new")), http.StatusForbidden)
	wantStatus(t, dave.submit(list, list, url.Values{"identifier": {"DAVE-1"}, "model": {"X"}}), http.StatusForbidden)
	wantStatus(t, dave.upload(list, tenantURL("acme", "/devices/import"), "x.csv", []byte("identifier,model\nDAVE-2,X\n")), http.StatusForbidden)
	wantStatus(t, dave.submit(list, tenantURL("acme", "/devices/"+num(dev.ID)+"/status"), url.Values{"status": {"inactive"}}), http.StatusForbidden)
	wantStatus(t, dave.submit(list, tenantURL("acme", "/devices/"+num(dev.ID)+"/deprovision"), nil), http.StatusForbidden)
	wantStatus(t, dave.get(tenantURL("acme", "/devices/"+num(dev.ID)+"/edit")), http.StatusForbidden)
	wantStatus(t, dave.submit(list, tenantURL("acme", "/devices/"+num(dev.ID)+"/edit"), url.Values{"model": {"Dave's"}}), http.StatusForbidden)
	if got := a.device("acme", "ACME-1"); got.Status != models.DeviceActive || got.Model != "Thermo Logger T-100" || a.deviceCount("acme") != 1 {
		t.Fatalf("a viewer changed devices: %+v", got)
	}

	// Alice is an Editor in Globex: add and (de)activate, but not deprovision.
	g := a.addDevice("globex", "GLOBEX-1", "Globex Box")
	alice := a.browser()
	alice.signIn("alice@acme.test", "globex")
	glist := tenantURL("globex", "/devices")
	gpage := alice.get(glist)
	wantBody(t, gpage, `id="add-device"`, `id="import-devices"`, "Deactivate", `href="/devices/`+num(g.ID)+`/edit"`)
	wantNoBody(t, gpage, "/deprovision")
	wantStatus(t, alice.submit(glist, tenantURL("globex", "/devices/"+num(g.ID)+"/edit"), url.Values{"model": {"Globex Box 2"}}), http.StatusSeeOther)
	wantStatus(t, alice.submit(glist, glist, url.Values{"identifier": {"GLOBEX-2"}, "model": {"X"}}), http.StatusSeeOther)
	wantStatus(t, alice.submit(glist, tenantURL("globex", "/devices/"+num(g.ID)+"/status"), url.Values{"status": {"inactive"}}), http.StatusSeeOther)
	wantStatus(t, alice.submit(glist, tenantURL("globex", "/devices/"+num(g.ID)+"/deprovision"), nil), http.StatusForbidden)
	if got := a.device("globex", "GLOBEX-1"); got.Status != models.DeviceInactive || got.Model != "Globex Box 2" || !a.hasDevice("globex", "GLOBEX-2") {
		t.Fatalf("editor's changes: %+v", got)
	}

	// Bob is an Admin of Acme: he may deprovision.
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	wantBody(t, bob.get(list), "/devices/"+num(dev.ID)+"/deprovision")
	wantStatus(t, bob.submit(list, tenantURL("acme", "/devices/"+num(dev.ID)+"/deprovision"), nil), http.StatusSeeOther)
	if !a.device("acme", "ACME-1").Deprovisioned() {
		t.Fatal("an Admin could not deprovision")
	}
}

// TestEditDeviceModel: eve opens a device's Edit form from her searched
// list, fixes a mistake shown beside the field, saves and is back at the
// same search; a deprovisioned device offers no Edit and refuses a change.
func TestEditDeviceModel(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	dev, gone := a.device("acme-eu", "EU-TL100-0002"), a.device("acme-eu", "EU-TL100-0003")
	list := eve.get(tenantURL("acme-eu", "/devices?q=T-100"))
	editHref := "/devices/" + num(dev.ID) + "/edit?q=T-100"
	wantBody(t, list, `href="`+editHref+`"`, `aria-label="Edit EU-TL100-0002"`)
	wantNoBody(t, list, `href="/devices/`+num(gone.ID)+`/edit`)

	formURL := tenantURL("acme-eu", editHref)
	form := eve.get(formURL)
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "Edit device", "A device of Acme Europe.", "EU-TL100-0002", `value="Thermo Logger T-100"`, `name="q" value="T-100"`,
		`href="/devices?q=T-100"`, "Save changes")
	action := tenantURL("acme-eu", "/devices/"+num(dev.ID)+"/edit")
	r := eve.submit(formURL, action, url.Values{"model": {"   "}, "q": {"T-100"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-model-error"`, "Enter the device model.", `name="q" value="T-100"`)
	if got := a.device("acme-eu", "EU-TL100-0002"); got.Model != "Thermo Logger T-100" {
		t.Fatalf("a refused form changed the model to %q", got.Model)
	}
	r = eve.submit(formURL, action, url.Values{"model": {"Thermo Logger T-200"}, "q": {"T-100"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/devices?q=T-100" {
		t.Fatalf("saved, then sent to %q", r.location)
	}
	wantBody(t, eve.follow(r), "EU-TL100-0002 saved: its model is Thermo Logger T-200.")
	if got := a.device("acme-eu", "EU-TL100-0002"); got.Model != "Thermo Logger T-200" || got.Identifier != "EU-TL100-0002" {
		t.Fatalf("saved device: %+v", got)
	}

	// A deprovisioned device: back to the list, with the reason.
	r = eve.get(tenantURL("acme-eu", "/devices/"+num(gone.ID)+"/edit"))
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, eve.follow(r), "already deprovisioned")
	r = eve.submit(tenantURL("acme-eu", "/devices"), tenantURL("acme-eu", "/devices/"+num(gone.ID)+"/edit"), url.Values{"model": {"Revived"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, eve.follow(r), "already deprovisioned")
	if got := a.device("acme-eu", "EU-TL100-0003"); got.Model != "Thermo Logger T-100" {
		t.Fatalf("a deprovisioned device's model became %q", got.Model)
	}
	// Another company's device is not found from here.
	theirs := a.addDevice("acme", "ACME-EDIT-1", "Acme Box")
	wantStatus(t, eve.get(tenantURL("acme-eu", "/devices/"+num(theirs.ID)+"/edit")), http.StatusNotFound)
	wantStatus(t, eve.submit(tenantURL("acme-eu", "/devices"), tenantURL("acme-eu", "/devices/"+num(theirs.ID)+"/edit"), url.Values{"model": {"Eve's"}}), http.StatusNotFound)
	if got := a.device("acme", "ACME-EDIT-1"); got.Model != "Acme Box" {
		t.Fatalf("another company's device became %q", got.Model)
	}
}

// TestParentSuperAdminEditsChildDeviceModel: on a sub-tenant's Devices tab
// the parent's Super Admins edit a device's model, and come back to the tab.
func TestParentSuperAdminEditsChildDeviceModel(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu := num(a.tenant("acme-eu").ID)
	dev := a.device("acme-eu", "EU-GPS-0001")
	tab := tenantURL("acme", "/sub-tenants/"+eu+"/devices")
	editPath := "/sub-tenants/" + eu + "/devices/" + num(dev.ID) + "/edit"
	wantBody(t, alice.get(tab), `href="`+editPath+`"`)
	form := alice.get(tenantURL("acme", editPath))
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "A device of Acme Europe.", "EU-GPS-0001", `value="GPS Tracker G2"`, `href="/sub-tenants/`+eu+`/devices"`, "Acme Europe devices")
	r := alice.submit(tenantURL("acme", editPath), tenantURL("acme", editPath), url.Values{"model": {"GPS Tracker G3"}})
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/sub-tenants/"+eu+"/devices" {
		t.Fatalf("saved, then sent to %q", r.location)
	}
	wantBody(t, alice.follow(r), "EU-GPS-0001 saved: its model is GPS Tracker G3.")
	if got := a.device("acme-eu", "EU-GPS-0001"); got.Model != "GPS Tracker G3" {
		t.Fatalf("the child's device: %+v", got)
	}
	// An Admin of acme has no Sub-Tenants pages.
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	wantStatus(t, bob.get(tenantURL("acme", editPath)), http.StatusForbidden)
}

// TestTimesAreTheViewersCompanys: a parent's Super Admin sees a sub-tenant's
// header and Devices tab in the parent's time zone (Acme: New York), not the
// sub-tenant's (Berlin); every time on those pages is written one way.
func TestTimesAreTheViewersCompanys(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu := idOf(a.tenant("acme-eu"))
	page := alice.get(tenantURL("acme", "/sub-tenants/"+eu+"/devices"))
	wantStatus(t, page, http.StatusOK)
	oneWay := regexp.MustCompile(`\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d ([A-Z]{3,4})\b`)
	zones := map[string]int{}
	for _, m := range oneWay.FindAllStringSubmatch(page.body, -1) {
		zones[m[1]]++
	}
	if zones["EST"]+zones["EDT"] < 25 || zones["CET"]+zones["CEST"] != 0 {
		t.Fatalf("times on acme's page about Acme Europe, by zone: %v; want New York's only", zones)
	}
	wantBody(t, page, `data-testid="created-at">`, `data-testid="updated-at">`)
	if header := page.body[strings.Index(page.body, `data-testid="created-at"`):strings.Index(page.body, `data-testid="updated-at"`)]; !oneWay.MatchString(header) {
		t.Fatalf("the header's Created is not written one way: %s", header)
	}
}
