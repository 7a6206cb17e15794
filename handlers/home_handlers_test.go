package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"canopy/models"
)

// TestPlatformHome: platform staff's Home shows the platform's figures —
// companies active and inactive, their members, pending invitations — with
// links to the Companies list, instead of a company's setup checklist.
func TestPlatformHome(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	home := staff.signIn("staff@canopy.test", "admin")
	wantStatus(t, home, http.StatusOK)
	// Acme (3 members), Globex (2) and Initech (2), all active; Acme's own
	// sub-tenants are not companies of the platform.
	wantBody(t, home, "Welcome to Canopy Platform, Casey", `data-testid="companies">3<`, "3 active", "0 inactive", `data-testid="members">7<`,
		`data-testid="pending-invitations">0<`, `href="/sub-tenants"`, `href="/sub-tenants/new"`)
	wantNoBody(t, home, "Finish setting up", "What you can do here")

	// A new company whose owner is invited, and one made inactive.
	form := subTenantForm("Hooli", "hooli", "gavin@hooli.example")
	form.Set("confirmed", "yes")
	wantStatus(t, staff.submit(tenantURL("admin", "/sub-tenants/new"), tenantURL("admin", "/sub-tenants"), form), http.StatusSeeOther)
	initech := num(a.tenant("initech").ID)
	wantStatus(t, staff.submit(tenantURL("admin", "/sub-tenants/"+initech+"/settings"), tenantURL("admin", "/sub-tenants/"+initech+"/status"),
		map[string][]string{"status": {"inactive"}}), http.StatusSeeOther)
	home = staff.get(tenantURL("admin", "/"))
	wantBody(t, home, `data-testid="companies">4<`, "3 active", "1 inactive", `data-testid="members">7<`, `data-testid="pending-invitations">1<`)

	// Another member of the platform, who cannot open the Companies list,
	// gets the ordinary Home.
	if _, err := a.store.AddMember(context.Background(), a.tenant("admin").ID, a.user("dave@acme.test").ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	dave := a.browser()
	page := dave.signIn("dave@acme.test", "admin")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "What you can do here", "Canopy Platform")
	wantNoBody(t, page, `data-testid="companies"`, "Pending invitations")
}

// setupHeader is the setup checklist's heading, icon included.
func setupHeader(t *testing.T, r response) string {
	t.Helper()
	start := strings.Index(r.body, `id="setup-title">`)
	if start < 0 {
		t.Fatalf("%s: no setup checklist\n%s", r.url, excerpt(r.body))
	}
	end := strings.Index(r.body[start:], "</h3>")
	return r.body[start : start+end]
}

// checkIcon is the path of the ✓ icon (components.Icon("check")).
const checkIcon = `d="m5 12.5 4.5 4.5L19 7.5"`

func TestHomeGreetsAFirstVisitThenWelcomesBack(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	first := alice.signIn("alice@acme.test", "acme")
	wantBody(t, first, "Welcome to Acme Corp, Alice")
	if strings.Contains(first.body, "Welcome back") {
		t.Fatal("welcomed back on a first visit")
	}
	// The whole first session is the first visit.
	wantBody(t, alice.get(tenantURL("acme", "/")), "Welcome to Acme Corp, Alice")
	// Signing in again, elsewhere, she has been here before.
	again := a.browser().signIn("alice@acme.test", "acme")
	wantBody(t, again, "Welcome back, Alice")
	if strings.Contains(again.body, "Welcome to Acme Corp") {
		t.Fatal("a returning member is greeted as new")
	}
	// Her first visit to Globex is a first visit there, however often she was in Acme.
	wantBody(t, alice.follow(alice.get(tenantURL("acme", "/go/globex"))), "Welcome to Globex, Alice")
}

func TestHomePromisesOnlyWhatExists(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser() // Acme Europe: only its owner, no templates
	home := eve.signIn("eve@acme.test", "acme-eu")
	wantBody(t, home, "Finish setting up your company", "Change company settings; manage API keys; read the audit log",
		"Request production keys", "Create webhooks", "Not available yet")
	for _, promise := range []string{"API keys, webhooks", "approved by Canopy staff", "add and edit devices"} {
		if strings.Contains(home.body, promise) {
			t.Errorf("Home promises %q", promise)
		}
	}
	if strings.Contains(setupHeader(t, home), checkIcon) {
		t.Error("an unfinished checklist has a ✓ in its header")
	}
	// Webhooks wait for a missing feature and link nowhere; production keys
	// lead to the API keys page, where production access is requested.
	if item := setupItemOf(t, home, "Create webhooks"); strings.Contains(item, "href=") {
		t.Errorf("webhooks link somewhere: %s", item)
	}
	if item := setupItemOf(t, home, "Request production keys"); !strings.Contains(item, `href="/developers/api-keys"`) || strings.Contains(item, "is-done") {
		t.Errorf("the production keys step: %s", item)
	}
	// Acme has its team and branded templates, but no production key yet.
	acme := a.browser().signIn("alice@acme.test", "acme")
	wantBody(t, acme, "Finish setting up your company")
	// Once its first production key exists, all that can be done is done.
	if _, err := a.store.RequestProductionAccess(context.Background(), a.tenant("acme").ID,
		models.NewProductionAccessRequest{IntendedUse: "Orders from our HR system", MonthlyVolume: "100"}); err != nil {
		t.Fatal(err)
	}
	var id int64
	a.db.Raw("SELECT id FROM production_access_requests WHERE tenant_id = ?", a.tenant("acme").ID).Scan(&id)
	if _, err := a.store.DecideAccessRequestInTree(context.Background(), a.tenant("admin").ID, id, true, "", nil); err != nil {
		t.Fatal(err)
	}
	if item := setupItemOf(t, a.browser().signIn("alice@acme.test", "acme"), "Request production keys"); !strings.Contains(item, "Create production key") {
		t.Errorf("approved, the step does not offer a production key: %s", item)
	}
	a.namedAPIKey("acme", "Live", models.APIProduction)
	acme = a.browser().signIn("alice@acme.test", "acme")
	wantBody(t, acme, "Your company is set up for now")
	if !strings.Contains(setupHeader(t, acme), checkIcon) {
		t.Error("a checklist done as far as it can be shows no ✓")
	}
}
