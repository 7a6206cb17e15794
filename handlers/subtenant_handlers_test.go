package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"canopy/models"
	"canopy/views"
)

func subTenantForm(name, sub, email string) url.Values {
	return url.Values{"name": {name}, "subdomain": {sub}, "description": {"For the " + name + " team"}, "email": {email}, "timezone": {"Europe/Berlin"}}
}

// checkSubTenant sends the Create Sub-Tenant form as the browser does: to
// the form's own address, with GET, to be checked.
func checkSubTenant(b *browser, sub string, form url.Values) response {
	b.app.t.Helper()
	q := url.Values{"check": {"1"}}
	for k, v := range form {
		q[k] = v
	}
	return b.get(tenantURL(sub, "/sub-tenants/new?"+q.Encode()))
}

func TestSubTenantListShowsChildrenOnly(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	list := alice.get(tenantURL("acme", "/sub-tenants"))
	wantStatus(t, list, http.StatusOK)
	rows := tableOf(list)
	for _, want := range []string{"Acme Europe", "acme-eu", "Acme Lab", "acme-lab", "status-active", "status-inactive"} {
		if !strings.Contains(rows, want) {
			t.Errorf("list lacks %q", want)
		}
	}
	for _, other := range []string{"Globex", "Initech", "Canopy Platform"} {
		if strings.Contains(rows, other) {
			t.Errorf("list shows %q, which is not a child of Acme", other)
		}
	}
	found := tableOf(alice.get(tenantURL("acme", "/sub-tenants?q=LAB")))
	if !strings.Contains(found, "Acme Lab") || strings.Contains(found, "Acme Europe") {
		t.Errorf("search for LAB: %s", found)
	}
	// Acme Europe has no sub-tenants: an empty state invites the first one.
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	wantBody(t, eve.get(tenantURL("acme-eu", "/sub-tenants")), "No Sub-Tenants yet", "Create Sub-Tenant")
}

func TestManageMenuOnlyForSuperAdmins(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	for _, c := range []struct {
		email string
		shown bool
	}{{"alice@acme.test", true}, {"bob@globex.test", false}, {"dave@acme.test", false}} {
		b := a.browser()
		home := b.signIn(c.email, "acme")
		if got := strings.Contains(home.body, `class="menu manage-menu"`); got != c.shown {
			t.Errorf("%s sees the Manage menu: %v, want %v", c.email, got, c.shown)
		}
	}
}

func TestCreateSubTenantAsksToConfirmThenCreates(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	form := subTenantForm("Acme Asia", "Acme-Asia", "owner@asia.example")
	review := checkSubTenant(alice, "acme", form)
	wantStatus(t, review, http.StatusOK)
	wantBody(t, review, "Please verify the details carefully, as they cannot be edited later.",
		`name="confirmed" value="yes"`, `value="acme-asia"`, "http://acme-asia.localhost:8080")
	if _, err := a.store.TenantBySubdomain(context.Background(), "acme-asia"); !errors.Is(err, models.ErrNotFound) {
		t.Fatal("the review step created the tenant")
	}
	form.Set("confirmed", "yes")
	created := alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form)
	wantStatus(t, created, http.StatusSeeOther)
	list := alice.follow(created)
	wantBody(t, list, "Acme Asia is active at http://acme-asia.localhost:8080/", "An invitation to own it was emailed to owner@asia.example")
	if !strings.Contains(tableOf(list), "Acme Asia") {
		t.Fatal("not listed")
	}
	asia := a.tenant("acme-asia")
	if asia.ParentID == nil || *asia.ParentID != a.tenant("acme").ID || !asia.Active() || asia.Timezone != "Europe/Berlin" || asia.ContactEmail != "owner@asia.example" {
		t.Fatalf("created %+v", asia)
	}
	// The owner accepts the emailed invitation and lands in the new sub-tenant as its owner.
	links := a.inbox("owner@asia.example")
	if len(links) != 1 {
		t.Fatalf("links %v", links)
	}
	// The email names the new sub-tenant, not the parent it was created from.
	msgs, _ := a.store.OutboxFor(context.Background(), "owner@asia.example")
	if !strings.Contains(msgs[0].Subject, "Acme Asia") || !strings.Contains(msgs[0].BodyText, "owner of the company “Acme Asia”") || strings.Contains(msgs[0].BodyText, "Acme Corp") {
		t.Fatalf("owner invitation names the wrong company:\n%s\n%s", msgs[0].Subject, msgs[0].BodyText)
	}
	owner := a.browser()
	wantBody(t, owner.get(links[0]), "Join Acme Asia", "own this company")
	home := owner.follow(owner.submit(links[0], links[0]+"/accept", url.Values{"first_name": {"Olga"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}}))
	wantStatus(t, home, http.StatusOK)
	if host := mustParse(t, home.url).Host; host != "acme-asia.localhost:8080" {
		t.Fatalf("owner landed on %s", home.url)
	}
	wantBody(t, home, "Welcome to Acme Asia, Olga", "Super Admin")
	asia = a.tenant("acme-asia")
	if asia.OwnerUserID == nil || *asia.OwnerUserID != a.user("owner@asia.example").ID {
		t.Fatal("the invitee did not become the owner")
	}
}

// TestExistingUserOwnsOnlyAfterAccepting: making someone who already has
// an account the owner of a new company sends them an invitation, as for
// someone new. Until they accept, the company has no owner and they cannot
// enter it; accepting makes them its owner and Super Admin.
func TestExistingUserOwnsOnlyAfterAccepting(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	// Platform staff create companies: the same form, named for companies.
	wantBody(t, staff.get(tenantURL("admin", "/sub-tenants")), "Companies", "Acme Corp", "Globex")
	form := subTenantForm("Umbrella", "umbrella", "dave@acme.test") // dave owns nothing yet
	form.Set("confirmed", "yes")
	list := staff.follow(staff.submit(tenantURL("admin", "/sub-tenants/new"), tenantURL("admin", "/sub-tenants"), form))
	wantBody(t, list, "Umbrella is active", "An invitation to own it was emailed to dave@acme.test; they become its owner when they accept.")
	u := a.tenant("umbrella")
	if u.OwnerUserID != nil || *u.ParentID != a.tenant("admin").ID {
		t.Fatalf("umbrella before the answer %+v", u)
	}
	links := a.inbox("dave@acme.test")
	if len(links) != 1 {
		t.Fatalf("dave got %d invitations, want 1", len(links))
	}
	// Not yet a member: Umbrella's address refuses him, and his toggle lacks it.
	dave := a.browser()
	home := dave.signIn("dave@acme.test", "acme")
	wantNoBody(t, home, "Umbrella")
	wantStatus(t, dave.follow(dave.get(tenantURL("umbrella", "/"))), http.StatusForbidden)

	page := dave.get(links[0])
	wantBody(t, page, "Join Umbrella", "own this company", "You already have a Canopy account")
	landed := dave.follow(dave.submit(links[0], links[0]+"/accept", url.Values{}))
	wantStatus(t, landed, http.StatusOK)
	if host := mustParse(t, landed.url).Host; host != "umbrella.localhost:8080" {
		t.Fatalf("dave landed on %s", landed.url)
	}
	wantBody(t, landed, "Super Admin", `class="menu company-toggle"`)
	wantNoBody(t, landed, "added you to") // he said yes: nothing to tell him
	u = a.tenant("umbrella")
	if u.OwnerUserID == nil || *u.OwnerUserID != a.user("dave@acme.test").ID {
		t.Fatalf("dave did not become the owner on accepting: %+v", u)
	}
}

// TestPendingOwnershipIsNotUsed: an invitation to own a company does not
// count as owning one; an existing user asked to own two companies may
// accept either, and then the other tells them they own one already. A
// declined one leaves its company without an owner.
func TestPendingOwnershipIsNotUsed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	for _, co := range []struct{ name, sub string }{{"Umbrella", "umbrella"}, {"Soylent", "soylent"}, {"Tyrell", "tyrell"}} {
		form := subTenantForm(co.name, co.sub, "dave@acme.test")
		form.Set("confirmed", "yes")
		created := staff.submit(tenantURL("admin", "/sub-tenants/new"), tenantURL("admin", "/sub-tenants"), form)
		wantStatus(t, created, http.StatusSeeOther)
		if loc := created.location; !strings.HasSuffix(loc, "/sub-tenants") {
			t.Fatalf("creating %s with dave pending elsewhere went to %s, not the list", co.name, loc)
		}
	}
	links := a.inbox("dave@acme.test")
	if len(links) != 3 {
		t.Fatalf("dave got %d invitations, want 3", len(links))
	}
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	// He accepts the second one first.
	wantStatus(t, dave.follow(dave.submit(links[1], links[1]+"/accept", url.Values{})), http.StatusOK)
	if o := a.tenant("soylent").OwnerUserID; o == nil || *o != a.user("dave@acme.test").ID {
		t.Fatal("dave does not own Soylent after accepting")
	}
	refused := dave.submit(links[0], links[0]+"/accept", url.Values{})
	wantStatus(t, refused, http.StatusUnprocessableEntity)
	wantBody(t, refused, "You already own a company")
	dec := dave.submit(links[2], links[2]+"/decline", url.Values{})
	wantStatus(t, dec, http.StatusOK)
	for _, sub := range []string{"umbrella", "tyrell"} {
		if o := a.tenant(sub).OwnerUserID; o != nil {
			t.Errorf("%s has an owner (%d) nobody accepted", sub, *o)
		}
		if _, err := a.store.MembershipOf(context.Background(), a.tenant(sub).ID, a.user("dave@acme.test").ID); err == nil {
			t.Errorf("dave is a member of %s without accepting", sub)
		}
	}
}

func TestCreateSubTenantRefusesBadInput(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	cases := []struct {
		name  string
		edit  func(url.Values)
		field string
		text  string
	}{
		{"reserved subdomain", func(f url.Values) { f.Set("subdomain", "www") }, "subdomain", "reserved"},
		{"taken subdomain", func(f url.Values) { f.Set("subdomain", "globex") }, "subdomain", "already taken"},
		{"malformed subdomain", func(f url.Values) { f.Set("subdomain", "-bad_") }, "subdomain", "lowercase letters"},
		{"duplicate name", func(f url.Values) { f.Set("name", "acme europe") }, "name", "unique name"},
		{"bad email", func(f url.Values) { f.Set("email", "nope") }, "email", "valid email"},
		{"owner already owns a company", func(f url.Values) { f.Set("email", "bob@globex.test") }, "email", "already owns a company"},
		{"unknown timezone", func(f url.Values) { f.Set("timezone", "Mars/Olympus") }, "timezone", "Choose a timezone"},
		{"no description", func(f url.Values) { f.Set("description", " ") }, "description", "Describe what it is for"},
		{"crafted confirmation skips nothing", func(f url.Values) { f.Set("subdomain", "www"); f.Set("confirmed", "yes") }, "subdomain", "reserved"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			form := subTenantForm("Fresh Co", "fresh-co", "fresh@example.com")
			c.edit(form)
			r := checkSubTenant(alice, "acme", form)
			if form.Get("confirmed") == "yes" {
				// A confirmation is only a POST; refused, it goes back to the form.
				r = alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form)
				wantStatus(t, r, http.StatusSeeOther)
				r = alice.follow(r)
			}
			wantStatus(t, r, http.StatusUnprocessableEntity)
			wantBody(t, r, c.text, `id="f-`+c.field+`-error"`, `value="`+form.Get("email")+`"`)
			if strings.Contains(r.body, "cannot be edited later") {
				t.Error("asked to confirm invalid details")
			}
		})
	}
	page, _ := a.store.SubTenants(context.Background(), a.tenant("acme").ID, "", models.ParsePage("", 50))
	if page.Total != 2 {
		t.Fatalf("%d sub-tenants after refused creations, want the 2 demo ones", page.Total)
	}
	if n := len(a.inbox("fresh@example.com")); n != 0 {
		t.Fatal("a refused creation sent an invitation")
	}
}

func TestOnlySuperAdminsCreateSubTenants(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bob := a.browser() // Admin of Acme
	bob.signIn("bob@globex.test", "acme")
	form := subTenantForm("Sneaky", "sneaky", "s@example.com")
	form.Set("confirmed", "yes")
	wantStatus(t, bob.submit(tenantURL("acme", "/"), tenantURL("acme", "/sub-tenants"), form), http.StatusForbidden)
	if _, err := a.store.TenantBySubdomain(context.Background(), "sneaky"); !errors.Is(err, models.ErrNotFound) {
		t.Fatal("an Admin created a sub-tenant")
	}
	// A sub-tenant's own Super Admin cannot see its parent's sub-tenants.
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	if strings.Contains(tableOf(eve.get(tenantURL("acme-eu", "/sub-tenants"))), "Acme Lab") {
		t.Fatal("a sibling is listed")
	}
	wantStatus(t, eve.follow(eve.get(tenantURL("acme", "/sub-tenants"))), http.StatusForbidden)
}

func idOf(t *models.Tenant) string { return strconv.FormatInt(t.ID, 10) }

func TestSubTenantUsersTab(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu := a.tenant("acme-eu")
	users := alice.get(tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users"))
	wantStatus(t, users, http.StatusOK)
	wantBody(t, users, "Acme Europe", "Devices", "Users", "Settings", "eve@acme.test", "Owner", "Invite User")
	if strings.Contains(tableOf(users), "dave@acme.test") {
		t.Fatal("a member of the parent is listed in the child")
	}
	// The parent's Super Admin may invite with any role, Super Admin included.
	form := url.Values{"first_name": {"Sam"}, "last_name": {"Sun"}, "email": {"sam@example.com"}, "role": {"super_admin"}}
	r := alice.submit(tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users/new"), tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users"), form)
	wantStatus(t, r, http.StatusSeeOther)
	list := alice.follow(r)
	wantBody(t, list, "Invitation sent to sam@example.com")
	if !strings.Contains(tableOf(list), "sam@example.com") || !strings.Contains(tableOf(list), "Invited") {
		t.Fatal("the invitation is not listed")
	}
	// The link lands the invitee in Acme Europe, not in Acme.
	links := a.inbox("sam@example.com")
	sam := a.browser()
	home := sam.follow(sam.submit(links[0], links[0]+"/accept", url.Values{"first_name": {"Sam"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}}))
	if host := mustParse(t, home.url).Host; host != "acme-eu.localhost:8080" {
		t.Fatalf("landed on %s", home.url)
	}
	wantBody(t, home, "Super Admin", "Acme Europe")
	found := tableOf(alice.get(tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users?q=SAM")))
	if !strings.Contains(found, "sam@example.com") || strings.Contains(found, "eve@acme.test") {
		t.Fatalf("search: %s", found)
	}
	bad := alice.submit(tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users/new"), tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users"), url.Values{"first_name": {"X"}, "email": {"bad"}, "role": {"viewer"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantBody(t, bad, "valid email", `value="X"`)
}

func TestSubTenantSettingsTab(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu := a.tenant("acme-eu")
	page := alice.get(tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/settings"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Cold Chain Monitoring", "Shipment Tracking", "Inherit SSO login settings from parent tenant", "Save Changes")
	if strings.Contains(page.body, "Air Cargo") {
		t.Fatal("a solution Acme lacks is offered")
	}
	settings := tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/settings")
	// A crafted POST cannot change the immutable details, nor give Air Cargo.
	craft := url.Values{"solutions": {"cold_chain", "shipment_tracking"}, "timezone": {"Asia/Tokyo"},
		"name": {"Renamed"}, "subdomain": {"renamed"}, "description": {"changed"}, "email": {"x@evil.test"}, "contact_email": {"x@evil.test"}}
	saved := alice.submit(settings, settings, craft)
	wantStatus(t, saved, http.StatusSeeOther)
	wantBody(t, alice.follow(saved), "Settings saved for Acme Europe")
	after := a.tenant("acme-eu")
	if after.Name != "Acme Europe" || after.Description != eu.Description || after.ContactEmail != eu.ContactEmail || after.Subdomain != "acme-eu" {
		t.Fatalf("immutable details changed: %+v", after)
	}
	if after.Timezone != "Asia/Tokyo" || after.SSOInherit || !after.UpdatedAt.After(eu.UpdatedAt) {
		t.Fatalf("settings not saved or Updated At did not move: %+v", after)
	}
	if sols, _ := a.store.SolutionsOf(context.Background(), eu.ID); len(sols) != 2 {
		t.Fatalf("solutions %v", sols)
	}
	refused := alice.submit(settings, settings, url.Values{"solutions": {"air_cargo"}, "timezone": {"UTC"}})
	wantStatus(t, refused, http.StatusUnprocessableEntity)
	wantBody(t, refused, "Air Cargo is not enabled for the parent")
	if got := a.tenant("acme-eu"); got.Timezone != "Asia/Tokyo" {
		t.Fatal("a refused save changed the timezone")
	}
}

func TestSubTenantStatus(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	lab := a.tenant("acme-lab")
	frank := a.browser()
	wantStatus(t, frank.signIn("frank@acme.test", "acme-lab"), http.StatusForbidden)
	status := tenantURL("acme", "/sub-tenants/"+idOf(lab)+"/status")
	r := alice.submit(tenantURL("acme", "/sub-tenants/"+idOf(lab)+"/settings"), status, url.Values{"status": {"active"}})
	wantBody(t, alice.follow(r), "Acme Lab is active again")
	frank = a.browser()
	wantStatus(t, frank.signIn("frank@acme.test", "acme-lab"), http.StatusOK)
	r = alice.submit(tenantURL("acme", "/sub-tenants/"+idOf(lab)+"/settings"), status, url.Values{"status": {"inactive"}})
	wantBody(t, alice.follow(r), "Acme Lab is now inactive")
	wantStatus(t, frank.get(tenantURL("acme-lab", "/")), http.StatusForbidden)
	// The parent's Super Admins still see and manage it.
	wantStatus(t, alice.get(tenantURL("acme", "/sub-tenants/"+idOf(lab)+"/settings")), http.StatusOK)
	wantStatus(t, alice.submit(tenantURL("acme", "/sub-tenants"), status, url.Values{"status": {"paused"}}), http.StatusUnprocessableEntity)
}

func TestSubTenantPagesReachOnlyOwnChildren(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	for _, other := range []string{"globex", "acme", "admin"} {
		id := idOf(a.tenant(other))
		for _, path := range []string{"/sub-tenants/" + id, "/sub-tenants/" + id + "/users", "/sub-tenants/" + id + "/settings"} {
			if r := alice.get(tenantURL("acme", path)); r.status != http.StatusNotFound {
				t.Errorf("%s: status %d, want 404", path, r.status)
			}
		}
		r := alice.submit(tenantURL("acme", "/sub-tenants"), tenantURL("acme", "/sub-tenants/"+id+"/status"), url.Values{"status": {"inactive"}})
		wantStatus(t, r, http.StatusNotFound)
		if !a.tenant(other).Active() {
			t.Fatalf("%s was deactivated through acme's pages", other)
		}
	}
	wantStatus(t, alice.get(tenantURL("acme", "/sub-tenants/"+idOf(a.tenant("acme-eu")))), http.StatusSeeOther)
}

func TestControlCharactersInNamesAreRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	form := subTenantForm("a\x00b", "nul-name", "n@example.com")
	form.Set("confirmed", "yes")
	r := alice.follow(alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "control characters")
	// Tabs and line breaks in a name are folded into single spaces.
	form = subTenantForm("Tab\tName\r\nNewline", "tab-name", "tab@example.com")
	form.Set("confirmed", "yes")
	alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form)
	if got := a.tenant("tab-name").Name; got != "Tab Name Newline" {
		t.Fatalf("stored name %q", got)
	}
}

func TestSubTenantOwnerInvitationCanBeResentAndRevoked(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	form := subTenantForm("Acme Asia", "acme-asia", "owner@asia.example")
	form.Set("confirmed", "yes")
	alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form)
	asia := a.tenant("acme-asia")
	var invitationID int64
	a.db.Raw("SELECT id FROM invitations WHERE email = ?", "owner@asia.example").Scan(&invitationID)
	base := tenantURL("acme", "/sub-tenants/"+idOf(asia))
	inv := strconv.FormatInt(invitationID, 10)
	r := alice.submit(base+"/users", base+"/invitations/"+inv+"/resend", nil)
	wantBody(t, alice.follow(r), "Invitation sent again")
	links := a.inbox("owner@asia.example")
	if len(links) != 2 {
		t.Fatalf("links %v", links)
	}
	wantStatus(t, a.browser().get(links[0]), http.StatusNotFound)
	// Another parent's pages cannot touch it: Globex's id is not acme's child.
	other := tenantURL("acme", "/sub-tenants/"+idOf(a.tenant("globex"))+"/invitations/"+inv+"/revoke")
	wantStatus(t, alice.submit(base+"/users", other, nil), http.StatusNotFound)
	r = alice.submit(base+"/users", base+"/invitations/"+inv+"/revoke", nil)
	wantBody(t, alice.follow(r), "Invitation revoked")
	wantBody(t, a.browser().get(links[1]), "withdrawn")
}

func TestSubTenantUsersTabOffersInvitationActions(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	eu := a.tenant("acme-eu")
	form := url.Values{"first_name": {"Ivy"}, "last_name": {"Ito"}, "email": {"ivy@example.com"}, "role": {"viewer"}}
	alice.submit(tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users/new"), tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users"), form)
	rows := tableOf(alice.get(tenantURL("acme", "/sub-tenants/"+idOf(eu)+"/users")))
	if !strings.Contains(rows, "/invitations/") || !strings.Contains(rows, "Resend") || !strings.Contains(rows, "Revoke") {
		t.Fatalf("no invitation actions on the Users tab:\n%s", rows)
	}
}

// TestCompaniesListForPlatformStaff: under the platform tenant the
// Sub-Tenants list is Companies, with each company's owner and member count,
// and a company's name opens its details.
func TestCompaniesListForPlatformStaff(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	form := subTenantForm("Hooli", "hooli", "gavin@hooli.example")
	form.Set("confirmed", "yes")
	wantStatus(t, staff.submit(tenantURL("admin", "/sub-tenants/new"), tenantURL("admin", "/sub-tenants"), form), http.StatusSeeOther)

	list := staff.get(tenantURL("admin", "/sub-tenants"))
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "<th scope=\"col\">Owner</th>", "<th scope=\"col\">Members</th>")
	for sub, want := range map[string][]string{
		"acme":    {"Acme Corp", "alice@acme.test", `data-label="Members">3</td>`},
		"globex":  {"Globex", "bob@globex.test", `data-label="Members">2</td>`},
		"initech": {"Initech", "carol@initech.test", `data-label="Members">2</td>`},
		"hooli":   {"Hooli", "gavin@hooli.example", "Invited, not yet accepted", `data-label="Members">0</td>`},
	} {
		row := rowWith(t, list, "data-tenant", sub)
		for _, w := range want {
			if !strings.Contains(row, w) {
				t.Errorf("the row of %s lacks %q: %s", sub, w, row)
			}
		}
	}
	// The name opens the company's details, on its first tab.
	acme := num(a.tenant("acme").ID)
	if !strings.Contains(rowWith(t, list, "data-tenant", "acme"), `href="/sub-tenants/`+acme+`"`) {
		t.Fatal("the company's name does not open its details")
	}
	details := staff.follow(staff.get(tenantURL("admin", "/sub-tenants/"+acme)))
	wantStatus(t, details, http.StatusOK)
	wantBody(t, details, "Acme Corp", "Devices", "Users", "Settings")
	wantBody(t, staff.get(tenantURL("admin", "/sub-tenants/"+acme+"/users")), "alice@acme.test", "bob@globex.test", "dave@acme.test")

	// A customer's Sub-Tenants list keeps its own columns.
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	wantNoBody(t, alice.get(tenantURL("acme", "/sub-tenants")), "<th scope=\"col\">Owner</th>", "<th scope=\"col\">Members</th>")
}

// hiddenField is the value of the hidden input name in the form posting to action.
func hiddenField(t *testing.T, r response, action, name string) string {
	t.Helper()
	start := strings.Index(r.body, `action="`+action+`"`)
	if start < 0 {
		t.Fatalf("%s: no form posting to %s", r.url, action)
	}
	form := r.body[start : start+strings.Index(r.body[start:], "</form>")]
	m := regexp.MustCompile(`name="` + name + `" value="([^"]*)"`).FindStringSubmatch(form)
	if m == nil {
		t.Fatalf("%s: the form posting to %s has no %s", r.url, action, name)
	}
	return m[1]
}

func TestSubTenantStatusReturnsToTheTabItWasChangedFrom(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	lab := "/sub-tenants/" + idOf(a.tenant("acme-lab"))
	for i, tab := range []string{"devices", "users", "settings"} {
		page := alice.get(tenantURL("acme", lab+"/"+tab))
		wantStatus(t, page, http.StatusOK)
		status := hiddenField(t, page, lab+"/status", "status")
		form := url.Values{"status": {status}, "tab": {hiddenField(t, page, lab+"/status", "tab")}}
		r := alice.submit(tenantURL("acme", lab+"/"+tab), tenantURL("acme", lab+"/status"), form)
		wantStatus(t, r, http.StatusSeeOther)
		if r.location != lab+"/"+tab {
			t.Errorf("changing the status from the %s tab went to %s", tab, r.location)
		}
		if want := []string{"active", "inactive"}[i%2]; status != want {
			t.Errorf("the %s tab offers to make it %s, want %s", tab, status, want)
		}
	}
}

// dialogFormURL is the filled form's address the confirmation names, for
// the browser's Back button.
var dialogFormURL = regexp.MustCompile(`data-form-url="([^"]+)"`)

func TestCreateSubTenantIsSafeToGoBackThrough(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	newForm := tenantURL("acme", "/sub-tenants/new")
	form := subTenantForm("Acme Asia", "acme-asia", "owner@asia.example")

	// The form is checked with GET: its page has no CSRF token to send, and
	// a wrong detail comes back beside its field with everything kept.
	if strings.Contains(formOpening(t, alice.get(newForm), "/sub-tenants/new"), `method="post"`) {
		t.Fatal("the Create form posts: Back to its answer would send it again")
	}
	bad := subTenantForm("Acme Asia", "globex", "owner@asia.example")
	wrong := checkSubTenant(alice, "acme", bad)
	wantStatus(t, wrong, http.StatusUnprocessableEntity)
	wantBody(t, wrong, "already taken", `value="Acme Asia"`, "For the Acme Asia team", `value="owner@asia.example"`)
	// A POST that is not a confirmation is answered by a redirect to the checked form.
	r := alice.submit(newForm, tenantURL("acme", "/sub-tenants"), bad)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, alice.follow(r), "already taken", `value="Acme Asia"`)

	// Valid details: the confirmation, over the filled form, which it names
	// for Back; that address is the form as filled in, not confirming.
	review := checkSubTenant(alice, "acme", form)
	wantStatus(t, review, http.StatusOK)
	wantBody(t, review, "cannot be edited later")
	m := dialogFormURL.FindStringSubmatch(review.body)
	if m == nil {
		t.Fatal("the confirmation names no form to go back to")
	}
	back := alice.get(tenantURL("acme", strings.ReplaceAll(m[1], "&amp;", "&")))
	wantStatus(t, back, http.StatusOK)
	wantBody(t, back, `value="Acme Asia"`, `value="acme-asia"`, "For the Acme Asia team", `value="owner@asia.example"`)
	if strings.Contains(back.body, "cannot be edited later") {
		t.Fatal("Back from the confirmation asks to confirm again")
	}

	// Confirmed: created once. Sending the confirmation again (Back, then
	// Create again) creates nothing more; the checked form says it exists.
	form.Set("confirmed", "yes")
	for range 2 {
		r = alice.submit(newForm, tenantURL("acme", "/sub-tenants"), form)
		wantStatus(t, r, http.StatusSeeOther)
	}
	if r.location == "/sub-tenants" {
		t.Fatal("the second confirmation was taken as a new creation")
	}
	again := alice.follow(r)
	wantBody(t, again, "Acme Asia</strong> was created already", `href="/sub-tenants/`+idOf(a.tenant("acme-asia"))+`"`)
	if strings.Contains(again.body, "cannot be edited later") {
		t.Fatal("offered to create it twice")
	}
	page, _ := a.store.SubTenants(context.Background(), a.tenant("acme").ID, "asia", models.ParsePage("", 10))
	if page.Total != 1 || len(a.inbox("owner@asia.example")) != 1 {
		t.Fatalf("%d sub-tenants and %d invitations after confirming twice", page.Total, len(a.inbox("owner@asia.example")))
	}
}

// formOpening is the opening tag of the form sent to action.
func formOpening(t *testing.T, r response, action string) string {
	t.Helper()
	i := strings.Index(r.body, `action="`+action+`"`)
	if i < 0 {
		t.Fatalf("%s: no form sent to %s", r.url, action)
	}
	start := strings.LastIndex(r.body[:i], "<form")
	return r.body[start : i+strings.Index(r.body[i:], ">")+1]
}

// requiredFields are the labels marked required on a form page, and the
// names of the inputs with the required attribute.
func requiredFields(r response) (labels, inputs []string) {
	for _, m := range regexp.MustCompile(`<label for="f-([a-z_]+)">[^<]*<span class="required-mark"`).FindAllStringSubmatch(r.body, -1) {
		labels = append(labels, m[1])
	}
	for _, m := range regexp.MustCompile(`<(?:input|select|textarea)[^>]*\bname="([a-z_]+)"[^>]*\brequired\b`).FindAllStringSubmatch(r.body, -1) {
		inputs = append(inputs, m[1])
	}
	for _, m := range regexp.MustCompile(`<(?:input|select|textarea)[^>]*\brequired\b[^>]*\bname="([a-z_]+)"`).FindAllStringSubmatch(r.body, -1) {
		inputs = append(inputs, m[1])
	}
	slices.Sort(labels)
	slices.Sort(inputs)
	return labels, slices.Compact(inputs)
}

func TestRequiredFieldsAreMarkedAndChecked(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	users := tenantURL("acme", "/sub-tenants/"+idOf(a.tenant("acme-eu"))+"/users")
	for _, c := range []struct {
		page string
		want []string
	}{
		{tenantURL("acme", "/sub-tenants/new"), []string{"description", "email", "name", "subdomain", "timezone"}},
		{tenantURL("acme", "/settings/team/new"), []string{"email", "first_name", "last_name", "role"}},
		{users + "/new", []string{"email", "first_name", "last_name", "role"}},
	} {
		labels, inputs := requiredFields(alice.get(c.page))
		if !slices.Equal(labels, c.want) || !slices.Equal(inputs, c.want) {
			t.Errorf("%s: marked %v, required %v; want %v", c.page, labels, inputs, c.want)
		}
	}
	// The server refuses a missing last name beside the field, on both invite forms.
	noLast := url.Values{"first_name": {"Nia"}, "last_name": {" "}, "email": {"nia@example.com"}, "role": {"viewer"}}
	for page, action := range map[string]string{tenantURL("acme", "/settings/team/new"): tenantURL("acme", "/settings/team"), users + "/new": users} {
		r := alice.submit(page, action, noLast)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, `id="f-last_name-error"`, "Enter a last name.", `value="Nia"`)
	}
	if n := len(a.inbox("nia@example.com")); n != 0 {
		t.Fatalf("%d invitations sent without a last name", n)
	}
}

// breakOwnerOf makes a company's owner its Editor, as data from before the
// database held owners to being Super Admins may have it: the check is
// lifted for the one statement (on SQLite, by forgetting the company's
// owner row the check reads).
func breakOwnerOf(t *testing.T, a *app, sub string) {
	t.Helper()
	tn := a.tenant(sub)
	demote := "UPDATE memberships SET role = 'editor' WHERE tenant_id = ? AND user_id = ?"
	var statements []string
	if models.DialectOf(a.db) == models.Postgres {
		statements = []string{"ALTER TABLE memberships DISABLE TRIGGER memberships_owner_is_super_admin", demote,
			"ALTER TABLE memberships ENABLE TRIGGER memberships_owner_is_super_admin"}
	} else {
		statements = []string{"DELETE FROM tenant_owners WHERE tenant_id = ?", demote}
	}
	for _, sql := range statements {
		var args []any
		switch sql {
		case demote:
			args = []any{tn.ID, *tn.OwnerUserID}
		case "DELETE FROM tenant_owners WHERE tenant_id = ?":
			args = []any{tn.ID}
		}
		if err := a.db.Exec(sql, args...).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStaffSetACompanysOwner: on a company's Users tab platform staff can
// make the owner whose role is wrong its Super Admin, or make another member
// the owner (but not one who owns another company); a customer's Super
// Admin cannot, for their own sub-tenants; the company's log records it. A
// company below another is repaired the same way.
func TestStaffSetACompanysOwner(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	breakOwnerOf(t, a, "acme")
	acme := a.tenant("acme")
	membership := func(sub, email string) int64 {
		m, err := a.store.MembershipOf(context.Background(), a.tenant(sub).ID, a.user(email).ID)
		if err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	users := tenantURL("admin", views.SubTenantPath(acme.ID, "users"))
	page := staff.get(users)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Make Super Admin", "Alice Anderson owns Acme Corp but is its Editor.", // alice, the owner
		views.SubTenantMemberPath(acme.ID, membership("acme", "dave@acme.test"), "owner")) // dave, a Viewer
	wantNoBody(t, page, views.SubTenantMemberPath(acme.ID, membership("acme", "bob@globex.test"), "owner")) // bob owns Globex

	r := staff.follow(staff.submit(users, tenantURL("admin", views.SubTenantMemberPath(acme.ID, membership("acme", "alice@acme.test"), "owner")), nil))
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "alice@acme.test now owns Acme Corp and is its Super Admin.")
	wantNoBody(t, r, "Make Super Admin")
	m, _ := a.store.MembershipOf(context.Background(), acme.ID, a.user("alice@acme.test").ID)
	if m.Role != models.RoleSuperAdmin {
		t.Fatalf("alice is Acme's %s after the repair", m.Role)
	}

	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	refused := []struct {
		name    string
		browser *browser
		host    string
		path    string
		status  int
	}{
		{"a customer's Super Admin, for their sub-tenant", alice, "acme",
			views.SubTenantMemberPath(a.tenant("acme-eu").ID, membership("acme-eu", "eve@acme.test"), "owner"), http.StatusNotFound},
		{"a member of another company", staff, "admin", views.SubTenantMemberPath(acme.ID, membership("globex", "bob@globex.test"), "owner"), http.StatusNotFound},
		{"someone who owns another company", staff, "admin", views.SubTenantMemberPath(acme.ID, membership("acme", "bob@globex.test"), "owner"), http.StatusConflict},
	}
	for _, c := range refused {
		r := c.browser.submit(tenantURL(c.host, "/"), tenantURL(c.host, c.path), nil)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d", c.name, r.status, c.status)
		}
	}
	if owner := a.tenant("acme-eu").OwnerUserID; owner == nil || *owner != a.user("eve@acme.test").ID {
		t.Fatalf("acme-eu's owner changed to %v", owner)
	}

	// Making dave the owner: alice stays, a Super Admin; dave owns Acme.
	r = staff.follow(staff.submit(users, tenantURL("admin", views.SubTenantMemberPath(acme.ID, membership("acme", "dave@acme.test"), "owner")), nil))
	wantBody(t, r, "dave@acme.test now owns Acme Corp and is its Super Admin.")
	if owner := a.tenant("acme").OwnerUserID; owner == nil || *owner != a.user("dave@acme.test").ID {
		t.Fatalf("Acme's owner is %v, want dave", owner)
	}
	wantBody(t, alice.get(tenantURL("acme", "/settings/audit")), "staff@canopy.test")

	// A company further down the tree is repaired the same way.
	breakOwnerOf(t, a, "acme-eu")
	eu := a.tenant("acme-eu")
	euUsers := tenantURL("admin", views.SubTenantPath(eu.ID, "users"))
	wantBody(t, staff.get(euUsers), "Make Super Admin")
	r = staff.follow(staff.submit(euUsers, tenantURL("admin", views.SubTenantMemberPath(eu.ID, membership("acme-eu", "eve@acme.test"), "owner")), nil))
	wantBody(t, r, "eve@acme.test now owns "+eu.Name+" and is its Super Admin.")
	if m, _ := a.store.MembershipOf(context.Background(), eu.ID, a.user("eve@acme.test").ID); m.Role != models.RoleSuperAdmin {
		t.Fatalf("eve is %s's %s after the repair", eu.Name, m.Role)
	}
}
