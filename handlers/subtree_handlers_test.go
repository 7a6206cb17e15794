package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"canopy/internal/demo"
	"canopy/models"
)

// createBelow creates a sub-tenant from a Sub-Tenants list (the host's own
// or a sub-tenant's tab), as a person does: the form, its check, the
// confirmation. It returns the list the creation went back to.
func createBelow(b *browser, list string, form url.Values) response {
	b.app.t.Helper()
	q := url.Values{"check": {"1"}}
	for k, v := range form {
		q[k] = v
	}
	wantBody(b.app.t, b.get(list+"/new?"+q.Encode()), "Please verify the details carefully")
	form.Set("confirmed", "yes")
	r := b.submit(list+"/new", list, form)
	wantStatus(b.app.t, r, http.StatusSeeOther)
	if r.location != mustParse(b.app.t, list).Path {
		b.app.t.Fatalf("created from %s, went on to %s", list, r.location)
	}
	return b.follow(r)
}

// subtreePath is a sub-tenant page's address at acme's host.
func subtreePath(tn *models.Tenant, below string) string {
	return tenantURL("acme", fmt.Sprintf("/sub-tenants/%d/%s", tn.ID, below))
}

// deepTree makes Acme Corp → Acme Europe → Berlin Depot → Berlin Cold Room
// from acme's own pages; bert, an existing account, owns Berlin Depot
// (having accepted the invitation to own it).
func deepTree(t *testing.T, a *app, alice *browser) (eu, berlin, coldRoom *models.Tenant) {
	t.Helper()
	if _, err := a.store.CreateUser(context.Background(), models.NewUser{Email: "bert@berlin.example", FirstName: "Bert", LastName: "Berg", Password: demo.Password}); err != nil {
		t.Fatal(err)
	}
	eu = a.tenant("acme-eu")
	list := createBelow(alice, subtreePath(eu, "sub-tenants"), subTenantForm("Berlin Depot", "acme-berlin", "bert@berlin.example"))
	wantBody(t, list, "Berlin Depot is active at", "An invitation to own it was emailed to bert@berlin.example")
	// Bert says yes, as an owner must: he becomes its owner and Super Admin.
	links := a.inbox("bert@berlin.example")
	if len(links) != 1 {
		t.Fatalf("bert got %d invitations, want 1", len(links))
	}
	bert := a.browser()
	bert.signIn("bert@berlin.example", "")
	wantStatus(t, bert.follow(bert.submit(links[0], links[0]+"/accept", url.Values{})), http.StatusOK)
	berlin = a.tenant("acme-berlin")
	if berlin.OwnerUserID == nil || *berlin.OwnerUserID != a.user("bert@berlin.example").ID {
		t.Fatalf("bert does not own Berlin Depot: %+v", berlin)
	}
	createBelow(alice, subtreePath(berlin, "sub-tenants"), subTenantForm("Berlin Cold Room", "acme-berlin-cold", "cold@berlin.example"))
	coldRoom = a.tenant("acme-berlin-cold")
	if berlin.ParentID == nil || *berlin.ParentID != eu.ID || coldRoom.ParentID == nil || *coldRoom.ParentID != berlin.ID {
		t.Fatalf("created in the wrong place: %+v %+v", berlin, coldRoom)
	}
	return eu, berlin, coldRoom
}

// TestSuperAdminsManageTheWholeSubtree: acme's Super Admin reaches every
// tenant below acme, at any depth, from acme's own pages — listed on each
// one's Sub-Tenants tab, with a breadcrumb of the way down, and every tab's
// actions — while a Super Admin of another tree, or of a tenant beside it,
// gets a 404.
func TestSuperAdminsManageTheWholeSubtree(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu, berlin, coldRoom := deepTree(t, a, alice)

	tab := alice.get(subtreePath(eu, "sub-tenants"))
	wantStatus(t, tab, http.StatusOK)
	wantBody(t, tab, `aria-current="page">Acme Europe<`, fmt.Sprintf(`href="/sub-tenants/%d"`, berlin.ID), "Create Sub-Tenant")
	if rows := tableOf(tab); !strings.Contains(rows, "Berlin Depot") || strings.Contains(rows, "Berlin Cold Room") || strings.Contains(rows, "Acme Lab") {
		t.Fatalf("Acme Europe's Sub-Tenants tab lists:\n%s", rows)
	}
	if found := tableOf(alice.get(subtreePath(eu, "sub-tenants?q=cold"))); strings.Contains(found, "Berlin Depot") {
		t.Fatalf("a search for cold found:\n%s", found)
	}

	// Three levels down: every tab, with the way down as its breadcrumb.
	for _, below := range []string{"devices", "users", "sub-tenants", "settings"} {
		page := alice.get(subtreePath(coldRoom, below))
		wantStatus(t, page, http.StatusOK)
		wantBody(t, page, `<nav class="breadcrumb" aria-label="Breadcrumb">`)
	}
	for _, below := range []string{"users/new", "sub-tenants/new"} {
		wantBody(t, alice.get(subtreePath(coldRoom, below)), fmt.Sprintf(`class="back-link" href="/sub-tenants/%d/`, coldRoom.ID))
	}
	crumbs := alice.get(subtreePath(coldRoom, "devices")).body
	crumbs = crumbs[strings.Index(crumbs, `class="breadcrumb"`):]
	crumbs = crumbs[:strings.Index(crumbs, "</nav>")]
	want := []string{`href="/sub-tenants"`, fmt.Sprintf(`href="/sub-tenants/%d/sub-tenants">Acme Europe<`, eu.ID),
		fmt.Sprintf(`href="/sub-tenants/%d/sub-tenants">Berlin Depot<`, berlin.ID), `aria-current="page">Berlin Cold Room<`}
	at := 0
	for _, w := range want {
		i := strings.Index(crumbs[at:], w)
		if i < 0 {
			t.Fatalf("the breadcrumb lacks %q after position %d:\n%s", w, at, crumbs)
		}
		at += i
	}

	// The actions of every tab work there.
	wantStatus(t, alice.submit(subtreePath(coldRoom, "devices"), subtreePath(coldRoom, "devices"),
		url.Values{"identifier": {"COLD-1"}, "model": {"Thermo Logger T-100"}, "status": {"active"}}), http.StatusSeeOther)
	if a.device("acme-berlin-cold", "COLD-1") == nil {
		t.Fatal("no device added")
	}
	wantStatus(t, alice.submit(subtreePath(coldRoom, "users/new"), subtreePath(coldRoom, "users"),
		url.Values{"first_name": {"Cora"}, "last_name": {"Cold"}, "email": {"cora@berlin.example"}, "role": {"editor"}}), http.StatusSeeOther)
	if len(a.inbox("cora@berlin.example")) != 1 {
		t.Fatal("no invitation to the cold room")
	}
	// Solutions come from the tenant's own parent: acme has Shipment
	// Tracking, Berlin Depot has none.
	wantNoBody(t, alice.get(subtreePath(coldRoom, "settings")), `value="shipment_tracking"`)
	wantBody(t, alice.get(subtreePath(coldRoom, "settings")), "Berlin Depot has no solutions enabled")
	refused := alice.submit(subtreePath(coldRoom, "settings"), subtreePath(coldRoom, "settings"), url.Values{"solutions": {"shipment_tracking"}, "timezone": {"UTC"}})
	wantStatus(t, refused, http.StatusUnprocessableEntity)
	wantStatus(t, alice.submit(subtreePath(coldRoom, "settings"), subtreePath(coldRoom, "settings"), url.Values{"timezone": {"Asia/Tokyo"}}), http.StatusSeeOther)
	if tz := a.tenant("acme-berlin-cold").Timezone; tz != "Asia/Tokyo" {
		t.Fatalf("timezone %s", tz)
	}
	wantStatus(t, alice.submit(subtreePath(coldRoom, "settings"), subtreePath(coldRoom, "status"), url.Values{"status": {"inactive"}, "tab": {"sub-tenants"}}), http.StatusSeeOther)
	if a.tenant("acme-berlin-cold").Active() {
		t.Fatal("not deactivated")
	}

	// Eve owns Acme Europe: she reaches its subtree, not her sibling Acme Lab.
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	wantStatus(t, eve.get(tenantURL("acme-eu", fmt.Sprintf("/sub-tenants/%d/users", coldRoom.ID))), http.StatusOK)
	wantStatus(t, eve.get(tenantURL("acme-eu", fmt.Sprintf("/sub-tenants/%d/users", a.tenant("acme-lab").ID))), http.StatusNotFound)
	wantStatus(t, eve.get(tenantURL("acme-eu", fmt.Sprintf("/sub-tenants/%d/users", eu.ID))), http.StatusNotFound)
	// Bob is globex's Super Admin: acme's grandchildren are another tree's.
	bob := a.browser()
	bob.signIn("bob@globex.test", "globex")
	for _, tn := range []*models.Tenant{berlin, coldRoom} {
		for _, below := range []string{"devices", "users", "sub-tenants", "sub-tenants/new", "settings"} {
			r := bob.get(tenantURL("globex", fmt.Sprintf("/sub-tenants/%d/%s", tn.ID, below)))
			wantStatus(t, r, http.StatusNotFound)
			wantNoBody(t, r, tn.Name)
		}
		form := subTenantForm("Smuggled", "smuggled-"+tn.Subdomain, "smuggled@attack.test")
		form.Set("confirmed", "yes")
		wantStatus(t, bob.submit(tenantURL("globex", "/sub-tenants"), tenantURL("globex", fmt.Sprintf("/sub-tenants/%d/sub-tenants", tn.ID)), form), http.StatusNotFound)
		wantStatus(t, bob.submit(tenantURL("globex", "/sub-tenants"), tenantURL("globex", fmt.Sprintf("/sub-tenants/%d/status", tn.ID)), url.Values{"status": {"inactive"}}), http.StatusNotFound)
	}
	if !a.tenant("acme-berlin").Active() {
		t.Fatal("bob deactivated Berlin Depot")
	}
}

// TestDeactivationShutsTheSubtree: deactivating a tenant shuts every tenant
// below it, with a page naming the inactive one to their members; the
// company toggle, the Companies page and signing in leave them out; the
// lists say why they are unavailable; reactivating brings back those not
// deactivated themselves.
func TestDeactivationShutsTheSubtree(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu, berlin, coldRoom := deepTree(t, a, alice)
	if _, err := a.store.AddMember(context.Background(), berlin.ID, a.user("dave@acme.test").ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	bert, dave := a.browser(), a.browser()
	wantStatus(t, bert.signIn("bert@berlin.example", "acme-berlin"), http.StatusOK)
	wantBody(t, dave.signIn("dave@acme.test", "acme"), "Berlin Depot") // in his company toggle
	wantStatus(t, alice.submit(subtreePath(coldRoom, "settings"), subtreePath(coldRoom, "status"), url.Values{"status": {"inactive"}}), http.StatusSeeOther)

	wantStatus(t, alice.submit(subtreePath(eu, "settings"), subtreePath(eu, "status"), url.Values{"status": {"inactive"}}), http.StatusSeeOther)
	for _, tn := range []*models.Tenant{berlin, coldRoom} {
		if got := a.tenant(tn.Subdomain); got.Status != tn.Status && tn == berlin {
			t.Fatalf("deactivating Acme Europe changed %s's own status to %s", tn.Name, got.Status)
		}
	}
	// Bert's open session: the page names the inactive tenant and whom to ask.
	r := bert.get(tenantURL("acme-berlin", "/devices"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Berlin Depot is unavailable", "Acme Europe is inactive, so Berlin Depot, which is part of it, is unavailable too; ask the administrators of Acme Corp to reactivate Acme Europe.")
	// A visitor with no session there is told only that a company above is.
	r = a.browser().get(tenantURL("acme-berlin", "/"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Berlin Depot is unavailable", "A company above Berlin Depot is inactive")
	wantNoBody(t, r, "Acme Europe", "Acme Corp")
	// Nothing posted there changes anything.
	wantStatus(t, bert.submit(tenantURL("acme-berlin", "/devices"), tenantURL("acme-berlin", "/settings/company"), url.Values{"timezone": {"Asia/Tokyo"}}), http.StatusForbidden)
	// Signing in, bert — whose only company it is — is told why.
	bert = a.browser()
	home := bert.signIn("bert@berlin.example", "")
	wantBody(t, home, "Berlin Depot is unavailable", "Acme Europe is inactive")
	// Dave's company toggle and Companies page leave it out.
	wantNoBody(t, dave.get(tenantURL("acme", "/")), "Berlin Depot")
	wantNoBody(t, dave.get(tenantURL("acme", "/companies")), "Berlin Depot")
	wantStatus(t, dave.get(base+"/go/acme-berlin"), http.StatusSeeOther)
	// Acme's lists say plainly why each is unavailable.
	tab := tableOf(alice.get(subtreePath(berlin, "sub-tenants")))
	if !strings.Contains(tab, "Berlin Cold Room") || !strings.Contains(tab, "Acme Europe is inactive") {
		t.Fatalf("Berlin Depot's Sub-Tenants tab:\n%s", tab)
	}
	wantBody(t, alice.get(subtreePath(berlin, "devices")), `<span class="status status-inactive">Unavailable</span>`, "Acme Europe is inactive")

	// Reactivating Acme Europe brings back Berlin Depot, not the cold room.
	wantStatus(t, alice.submit(subtreePath(eu, "settings"), subtreePath(eu, "status"), url.Values{"status": {"active"}}), http.StatusSeeOther)
	wantStatus(t, bert.follow(bert.get(tenantURL("acme-berlin", "/devices"))), http.StatusOK)
	wantBody(t, dave.get(tenantURL("acme", "/")), "Berlin Depot")
	r = a.browser().get(tenantURL("acme-berlin-cold", "/"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Berlin Cold Room is inactive")
}
