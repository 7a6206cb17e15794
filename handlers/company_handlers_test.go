package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"canopy/models"
)

// TestToggleListsSomeCompaniesOfMany: someone in 30 companies gets a toggle
// of 20, the current one first, with a search that asks the server and a
// link to all of them; the Companies page lists, searches and pages them.
func TestToggleListsSomeCompaniesOfMany(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	growCompanies(t, a, 30)
	b := a.browser()
	b.signIn("alice@acme.test", "guard-co-020")

	home := b.get(tenantURL("guard-co-020", "/orders"))
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "30 companies", `data-remote="/companies?next=%2Forders"`, "See all 30 companies")
	if got := strings.Count(home.body, `class="toggle-item`); got != 20 {
		t.Fatalf("the toggle lists %d companies, want 20", got)
	}
	first := strings.Index(home.body, `class="toggle-item`)
	if current := strings.Index(home.body, `aria-current="true"`); current < first || current > first+300 {
		t.Fatal("the current company is not the toggle's first entry")
	}
	// Guard Company 026 sorts past the first 20, so only the server finds it
	// (alice has acme, globex, initech and Guard Company 000 to 026).
	wantNoBody(t, home, "Guard Company 026")

	found := b.get(tenantURL("guard-co-020", "/companies?q=company+026&next=%2Forders"))
	wantStatus(t, found, http.StatusOK)
	wantBody(t, found, `id="company-results"`, "Guard Company 026", `href="/go/guard-co-026?next=%2Forders"`, "1–1 of 1")
	wantNoBody(t, found, "Guard Company 025")

	all := b.get(tenantURL("guard-co-020", "/companies"))
	wantBody(t, all, "1–25 of 30", "Acme Corp", `href="/companies?page=2"`)
	second := b.get(tenantURL("guard-co-020", "/companies?page=2"))
	wantBody(t, second, "26–30 of 30")

	// A section that not every company has lands on Home instead.
	other := b.get(tenantURL("guard-co-020", "/companies?q=026&next=%2Fsub-tenants"))
	wantBody(t, other, `href="/go/guard-co-026"`)

	none := b.get(tenantURL("guard-co-020", "/companies?q=nothing-like-this"))
	wantBody(t, none, "No company matches")
}

// TestToggleOfFewCompaniesFiltersInPlace: with every company in the toggle,
// its filter works in the page and there is no link to more.
func TestToggleOfFewCompaniesFiltersInPlace(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	growCompanies(t, a, 8)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	home := b.get(tenantURL("acme", "/"))
	wantBody(t, home, "8 companies", `data-filter="#company-list"`)
	wantNoBody(t, home, "data-remote", "See all")
	if got := strings.Count(home.body, `class="toggle-item`); got != 8 {
		t.Fatalf("the toggle lists %d companies, want all 8", got)
	}
}

// TestOneCompanyHasNoToggleOrTile: someone in one company has nothing at the
// bottom of the side menu, not even a tile naming the company; the pages
// without the side menu still show the tile in their header.
func TestOneCompanyHasNoToggleOrTile(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	home := dave.get(tenantURL("acme", "/"))
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, `class="sidebar"`)
	wantNoBody(t, home, "sidebar-footer", "company-current", "company-toggle", "alice@acme.test")

	carol := a.browser()
	carol.signIn("carol@initech.test", "initech")
	form := carol.get(tenantURL("initech", "/orders/new"))
	wantBody(t, form, `class="company-tile"`, "Initech", "carol@initech.test")

	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	wantBody(t, alice.get(tenantURL("acme", "/")), "sidebar-footer", `class="menu company-toggle"`, "3 companies")
}

// addedNotice is how a page tells carol that Bob Brown added her to Globex.
const addedNotice = "<strong>Bob Brown</strong> added you to <strong>Globex</strong> as Editor"

// addCarolToGlobex has Bob Brown, Globex's owner, add carol, who has an
// account, to Globex as Editor from Team → Add member: at once, unasked.
func addCarolToGlobex(t *testing.T, a *app) {
	t.Helper()
	bob := a.browser()
	bob.signIn("bob@globex.test", "globex")
	added := bob.follow(addMember(bob, "globex", person("carol@initech.test", "editor")))
	wantBody(t, added, "carol@initech.test already has a Canopy account and is now a member of Globex")
	wantNoBody(t, added, "added you to")
}

// TestAddedMemberIsToldOnEveryPage: someone added at once by someone else
// sees, on their next page at any address they are signed in on, who added
// them where and as what, with Got it and Leave this company; nobody else
// does, and a demo membership or one's own company makes no notice.
func TestAddedMemberIsToldOnEveryPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	carol := a.browser()
	wantNoBody(t, carol.signIn("carol@initech.test", "initech"), "added you to")
	addCarolToGlobex(t, a)
	globexID := strconv.FormatInt(a.tenant("globex").ID, 10)
	for _, page := range []string{tenantURL("initech", "/"), tenantURL("initech", "/orders/new"), tenantURL("globex", "/devices"), base + "/account/password"} {
		r := carol.follow(carol.get(page))
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, addedNotice, `action="/companies/`+globexID+`/acknowledge"`, `action="/companies/`+globexID+`/leave"`,
			"Leave this company", `data-confirm="Leave Globex?`)
	}
	// Bob, who added her, and Alice, in the demo's companies from the start, see nothing.
	for _, who := range []string{"bob@globex.test", "alice@acme.test"} {
		b := a.browser()
		wantNoBody(t, b.signIn(who, "globex"), "added you to")
	}
}

// TestGotItEndsTheNotice: Got it returns to the page it was on, and the
// notice is gone at every address; carol stays a member of Globex.
func TestGotItEndsTheNotice(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	addCarolToGlobex(t, a)
	carol := a.browser()
	carol.signIn("carol@initech.test", "initech")
	globex := a.tenant("globex")
	page := tenantURL("initech", "/orders")
	ok := carol.submit(page, tenantURL("initech", "/companies/"+strconv.FormatInt(globex.ID, 10)+"/acknowledge"), url.Values{"next": {"/orders"}})
	wantStatus(t, ok, http.StatusSeeOther)
	if ok.location != "/orders" {
		t.Fatalf("Got it went to %q, want back to /orders", ok.location)
	}
	wantNoBody(t, carol.follow(ok), "added you to")
	wantNoBody(t, carol.follow(carol.get(tenantURL("globex", "/"))), "added you to")
	m, err := a.store.MembershipOf(context.Background(), globex.ID, a.user("carol@initech.test").ID)
	if err != nil || m.AcknowledgedAt == nil {
		t.Fatalf("carol's Globex membership after Got it: %+v, %v", m, err)
	}
}

// TestLeaveFromTheNotice: Leave this company takes carol out of Globex at
// once, audited as member.left by her; she lands on her companies with a
// flash, and Globex's address no longer lets her in.
func TestLeaveFromTheNotice(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	addCarolToGlobex(t, a)
	carol := a.browser()
	carol.signIn("carol@initech.test", "initech")
	wantStatus(t, carol.follow(carol.get(tenantURL("globex", "/"))), http.StatusOK) // she is in, for now
	globex := a.tenant("globex")
	left := carol.submit(tenantURL("initech", "/"), tenantURL("initech", "/companies/"+strconv.FormatInt(globex.ID, 10)+"/leave"), url.Values{"next": {"/"}})
	wantStatus(t, left, http.StatusSeeOther)
	if left.location != "/companies" {
		t.Fatalf("leaving went to %q, want /companies", left.location)
	}
	list := carol.follow(left)
	wantBody(t, list, "You left Globex and no longer have access to it.")
	wantNoBody(t, list, "added you to", ">Globex<")
	wantStatus(t, carol.follow(carol.get(tenantURL("globex", "/"))), http.StatusForbidden)
	var left1 int64
	if err := a.db.Raw("SELECT count(*) FROM audit_events WHERE tenant_id = ? AND action = ? AND actor_user_id = ? AND target_label = ?",
		globex.ID, models.AuditMemberLeft, a.user("carol@initech.test").ID, "carol@initech.test").Scan(&left1).Error; err != nil {
		t.Fatal(err)
	}
	if left1 != 1 {
		t.Fatalf("%d member.left events by carol in Globex, want 1", left1)
	}
}

// TestLeaveFromYourCompanies: the Account menu leads to Your companies,
// which offers Leave for every company but the one the person owns; the
// owner is refused even when they force it; leaving the company whose
// address this is lands on its Home, which now says there is no access.
func TestLeaveFromYourCompanies(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	home := alice.signIn("alice@acme.test", "acme")
	wantBody(t, home, `<a class="menu-item" href="/companies">`, "Your companies")
	ids := map[string]string{}
	for _, sub := range []string{"acme", "globex", "initech"} {
		ids[sub] = strconv.FormatInt(a.tenant(sub).ID, 10)
	}
	list := alice.get(tenantURL("acme", "/companies"))
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, `action="/companies/`+ids["globex"]+`/leave"`, `action="/companies/`+ids["initech"]+`/leave"`,
		`data-confirm="Leave Initech? You lose access to it at once.`, "You own it")
	wantNoBody(t, list, `action="/companies/`+ids["acme"]+`/leave"`)

	owner := alice.submit(tenantURL("acme", "/companies"), tenantURL("acme", "/companies/"+ids["acme"]+"/leave"), nil)
	wantStatus(t, owner, http.StatusForbidden)
	wantBody(t, owner, "The owner cannot leave", "Transfer ownership to another member first")
	if _, err := a.store.MembershipOf(context.Background(), a.tenant("acme").ID, a.user("alice@acme.test").ID); err != nil {
		t.Fatalf("the owner's refused leave removed her: %v", err)
	}

	left := alice.follow(alice.submit(tenantURL("acme", "/companies"), tenantURL("acme", "/companies/"+ids["initech"]+"/leave"), nil))
	wantStatus(t, left, http.StatusOK)
	wantBody(t, left, "You left Initech", `action="/companies/`+ids["globex"]+`/leave"`)
	wantNoBody(t, left, `action="/companies/`+ids["initech"]+`/leave"`)

	// Leaving Globex from Globex's own address.
	alice.follow(alice.get(tenantURL("globex", "/")))
	here := alice.submit(tenantURL("globex", "/companies"), tenantURL("globex", "/companies/"+ids["globex"]+"/leave"), nil)
	if here.location != "/" {
		t.Fatalf("leaving the company of this address went to %q, want its Home", here.location)
	}
	gone := alice.follow(here)
	wantStatus(t, gone, http.StatusForbidden)
	wantBody(t, gone, "You left Globex", "You don&#39;t have access to Globex", "Go to my companies")
	wantNoBody(t, alice.get(tenantURL("acme", "/companies")), `action="/companies/`+ids["globex"]+`/leave"`)
}
