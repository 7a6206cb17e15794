package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"canopy/models"
)

// needsEdit is the access row of a page that creates something: members
// whose role holds PermEdit get it, a Viewer gets 403.
func needsEdit() map[string]int {
	m := members(303, 303, 200)
	m["viewer"] = http.StatusForbidden
	return m
}

func (a *app) templateNames(sub string) []string {
	a.t.Helper()
	ts, err := a.store.TemplatesOf(context.Background(), a.tenant(sub).ID)
	if err != nil {
		a.t.Fatal(err)
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = t.Name
	}
	return names
}

func (a *app) templateID(sub, name string) int64 {
	a.t.Helper()
	t, err := a.store.TemplateByName(context.Background(), a.tenant(sub).ID, name)
	if err != nil {
		a.t.Fatal(err)
	}
	return t.ID
}

func wantNoBody(t *testing.T, r response, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if strings.Contains(r.body, f) {
			t.Fatalf("%s: body has %q, want none\n%s", r.url, f, excerpt(r.body))
		}
	}
}

func TestTemplatesListShowsDemoTemplates(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme") // Viewer
	page := b.get(tenantURL("acme", "/templates"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Employment verification", "Income verification", "Acme Corp", `fill="#1d4ed8"`, "Employment", "Assets")
	wantNoBody(t, page, `href="/templates/new"`, `style=`)
}

func TestViewerCannotCreateTemplates(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	wantStatus(t, b.get(tenantURL("acme", "/templates/new")), http.StatusForbidden)
	form := url.Values{"name": {"Viewer made"}, "branding_company_name": {"Acme"}, "brand_color": {"#123456"}, "collects": {"income"}}
	wantStatus(t, b.submit(tenantURL("acme", "/templates"), tenantURL("acme", "/templates"), form), http.StatusForbidden)
	if names := a.templateNames("acme"); len(names) != 2 {
		t.Fatalf("a viewer's POST wrote a template: %v", names)
	}
}

func TestEditorCreatesTemplate(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "globex") // Editor in Globex, which has no templates
	list := b.get(tenantURL("globex", "/templates"))
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "No templates yet", `href="/templates/new"`)

	form := b.get(tenantURL("globex", "/templates/new"))
	wantStatus(t, form, http.StatusOK)
	// The focused page shows the company tile, and branding starts as the company's name.
	wantBody(t, form, `class="company-tile"`, "Globex", "bob@globex.test", `value="Globex"`, `value="`+models.DefaultBrandColor+`"`, `href="/templates"`)
	wantNoBody(t, form, `class="sidebar"`)

	// Bad input: 422, messages beside the fields, what was typed kept, nothing written.
	bad := url.Values{"name": {"Payroll check"}, "branding_company_name": {""}, "brand_color": {"red"}, "collects": {"income", "dna"}}
	r := b.submit(tenantURL("globex", "/templates/new"), tenantURL("globex", "/templates"), bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `value="Payroll check"`, "Enter the company name applicants will see.", "Enter a colour as #rrggbb", "Choose order data from the list.", `class="company-tile"`)
	if names := a.templateNames("globex"); len(names) != 0 {
		t.Fatalf("bad input wrote %v", names)
	}
	none := url.Values{"name": {"Payroll check"}, "branding_company_name": {"Globex"}, "brand_color": {"#123456"}}
	r = b.submit(tenantURL("globex", "/templates/new"), tenantURL("globex", "/templates"), none)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Choose at least one kind of order data.")

	good := url.Values{"name": {"Payroll check"}, "branding_company_name": {"Globex Freight"}, "brand_color": {"#AA3300"}, "collects": {"income", "employment"}}
	r = b.submit(tenantURL("globex", "/templates/new"), tenantURL("globex", "/templates"), good)
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/templates" {
		t.Fatalf("redirected to %q", r.location)
	}
	list = b.follow(r)
	wantBody(t, list, "Template “Payroll check” created.", "Globex Freight", `fill="#aa3300"`, "Employment", "Income")
	if names := a.templateNames("globex"); len(names) != 1 || names[0] != "Payroll check" {
		t.Fatalf("globex templates %v", names)
	}

	// The same name in another case is taken.
	good.Set("name", "PAYROLL CHECK")
	r = b.submit(tenantURL("globex", "/templates/new"), tenantURL("globex", "/templates"), good)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "A template with this name already exists.", `value="PAYROLL CHECK"`)
}

func TestCompanyTileOnFocusedPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	for _, path := range []string{"/templates/new", "/orders/new"} {
		page := b.get(tenantURL("acme", path))
		wantStatus(t, page, http.StatusOK)
		tile := page.body[strings.Index(page.body, `class="company-tile"`)+1:]
		if i := strings.Index(tile, "</div>"); i > 0 {
			tile = tile[:i]
		}
		if !strings.Contains(tile, "Acme Corp") || !strings.Contains(tile, "alice@acme.test") {
			t.Fatalf("%s: company tile %q lacks the company or its owner", path, tile)
		}
	}
}

func TestCreateTemplateNeedsCSRF(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	form := url.Values{"name": {"No token"}, "branding_company_name": {"Acme"}, "brand_color": {"#123456"}, "collects": {"income"}}
	wantStatus(t, b.post(tenantURL("acme", "/templates"), form), http.StatusForbidden)
	if names := a.templateNames("acme"); len(names) != 2 {
		t.Fatalf("a POST without a token wrote a template: %v", names)
	}
}

// TestTemplateDetails: every member reaches a template's page from the
// list; it shows the branding, the data collected, the creator and how many
// orders use it, and offers Create order only to those who may order from
// it. Another company's template is not found.
func TestTemplateDetails(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme")
	employment, income := a.templateID("acme", "Employment verification"), a.templateID("acme", "Income verification")
	path := func(id int64) string { return tenantURL("acme", "/templates/"+strconv.FormatInt(id, 10)) }
	var orders int64
	if err := a.db.Raw("SELECT COUNT(*) FROM orders WHERE template_id = ?", employment).Scan(&orders).Error; err != nil || orders == 0 {
		t.Fatalf("the demo has %d Employment orders (%v): the count proves nothing", orders, err)
	}

	dave := a.browser()
	dave.signIn("dave@acme.test", "acme") // Viewer
	list := dave.get(tenantURL("acme", "/templates"))
	wantBody(t, list, `href="/templates/`+strconv.FormatInt(employment, 10)+`"`)
	page := dave.get(path(employment))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Employment verification", "Order template of Acme Corp", "Acme Corp", `fill="#0f766e"`, "#0f766e",
		"Employment", "Identity", fmt.Sprintf(`data-testid="template-orders">%d orders<`, orders), "alice@acme.test")
	wantNoBody(t, page, "Create order", "/orders/new")

	alice := a.browser()
	alice.signIn("alice@acme.test", "acme") // Super Admin, may order from every template
	page = alice.get(path(employment))
	wantBody(t, page, "Create order", `href="/orders/new?template=`+strconv.FormatInt(employment, 10)+`"`)
	form := alice.get(tenantURL("acme", "/orders/new?template="+strconv.FormatInt(employment, 10)))
	wantBody(t, form, `value="`+strconv.FormatInt(employment, 10)+`" selected`)

	// bob (Admin) may order from Income verification only.
	bobAtAcme := a.membershipID("bob@globex.test", "acme")
	if err := a.store.SetMemberTemplates(ctx, acme.ID, bobAtAcme, []int64{income}); err != nil {
		t.Fatal(err)
	}
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	wantNoBody(t, bob.get(path(employment)), "Create order")
	wantBody(t, bob.get(path(income)), "Create order")

	// Acme's template on globex's host, and ids that are no template, are 404.
	wantStatus(t, bob.follow(bob.get(tenantURL("globex", "/"))), http.StatusOK) // bob owns globex
	wantStatus(t, bob.get(tenantURL("globex", "/templates/"+strconv.FormatInt(employment, 10))), http.StatusNotFound)
	for _, id := range []string{"0", "-1", "abc", strconv.FormatInt(employment+income+1000, 10)} {
		wantStatus(t, dave.get(tenantURL("acme", "/templates/"+id)), http.StatusNotFound)
	}
}
