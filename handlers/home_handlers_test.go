package handlers_test

import (
	"context"
	"net/http"
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
	wantBody(t, home, "Welcome back, Casey", `data-testid="companies">3<`, "3 active", "0 inactive", `data-testid="members">7<`,
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
