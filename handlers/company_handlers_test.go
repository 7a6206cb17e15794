package handlers_test

import (
	"net/http"
	"strings"
	"testing"
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
