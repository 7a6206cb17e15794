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

// TestEditTemplate: an Editor opens a template's Edit form, filled in with
// the template as it is, fixes a mistake shown beside its field, and saves.
func TestEditTemplate(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	id := num(a.templateID("acme", "Employment verification"))
	page := alice.get(tenantURL("acme", "/templates/"+id))
	wantBody(t, page, `href="/templates/`+id+`/edit"`)
	form := alice.get(tenantURL("acme", "/templates/"+id+"/edit"))
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "Edit template", `action="/templates/`+id+`/edit"`, `value="Employment verification"`, `value="Acme Corp"`,
		`value="employment" checked`, "Save changes", "Current company")

	// A name another template has, in any case: beside the field, typed kept.
	edit := url.Values{"name": {"INCOME verification"}, "branding_company_name": {"Acme Lending"}, "brand_color": {"#112233"}, "collects": {"employment", "assets"}}
	r := alice.submit(tenantURL("acme", "/templates/"+id+"/edit"), tenantURL("acme", "/templates/"+id+"/edit"), edit)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-name-error"`, "A template with this name already exists", `value="Acme Lending"`, `value="assets" checked`,
		`action="/templates/`+id+`/edit"`)

	edit.Set("name", "Employment check")
	r = alice.submit(tenantURL("acme", "/templates/"+id+"/edit"), tenantURL("acme", "/templates/"+id+"/edit"), edit)
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/templates/"+id {
		t.Fatalf("saved, then sent to %q", r.location)
	}
	page = alice.follow(r)
	wantBody(t, page, "Template “Employment check” saved.", "Acme Lending", "#112233", "Assets")
	tpl, err := a.store.TemplateByID(context.Background(), a.tenant("acme").ID, a.templateID("acme", "Employment check"))
	if err != nil || tpl.BrandingCompanyName != "Acme Lending" || tpl.Collects != "employment,assets" || tpl.Orders != 3 {
		t.Fatalf("saved template: %+v, %v", tpl, err)
	}

	// Alice is an Editor of Globex too: acme's template is not found there.
	alice.signIn("alice@acme.test", "globex")
	wantStatus(t, alice.get(tenantURL("globex", "/templates/"+id+"/edit")), http.StatusNotFound)
	edit.Set("name", "Taken over")
	wantStatus(t, alice.submit(tenantURL("globex", "/templates"), tenantURL("globex", "/templates/"+id+"/edit"), edit), http.StatusNotFound)
	if a.templateID("acme", "Employment check") != tpl.ID {
		t.Fatal("acme's template changed from globex")
	}
	// A Viewer sees the page without Edit or Delete.
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	page = dave.get(tenantURL("acme", "/templates/"+id))
	wantStatus(t, page, http.StatusOK)
	wantNoBody(t, page, "/edit\"", "/delete\"", "cannot be deleted")
}

// TestDeleteTemplate: a template orders were made from, or the only one
// someone may order from, is kept and its page says why; another is
// deleted after a confirmation, and leaves the members' lists with it.
func TestDeleteTemplate(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	acme := a.tenant("acme").ID
	used := num(a.templateID("acme", "Employment verification"))
	page := alice.get(tenantURL("acme", "/templates/"+used))
	wantBody(t, page, "It cannot be deleted: 3 orders were made from it, and each order keeps its template.")
	wantNoBody(t, page, `action="/templates/`+used+`/delete"`)
	// Forced, it is refused with the same reason and stays.
	r := alice.submit(tenantURL("acme", "/templates/"+used), tenantURL("acme", "/templates/"+used+"/delete"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/templates/"+used {
		t.Fatalf("refused, then sent to %q", r.location)
	}
	wantBody(t, alice.follow(r), "“Employment verification” was not deleted. It cannot be deleted: 3 orders were made from it")
	if a.templateID("acme", "Employment verification") == 0 {
		t.Fatal("the template orders use was deleted")
	}

	// Dave may order from Spare and Income verification.
	spare, err := a.store.CreateTemplate(ctx, acme, a.user("alice@acme.test").ID, models.NewTemplate{Name: "Spare", BrandingCompanyName: "Acme Corp", Collects: []string{"income"}})
	if err != nil {
		t.Fatal(err)
	}
	dave := a.membershipID("dave@acme.test", "acme")
	income := a.templateID("acme", "Income verification")
	if err := a.store.SetMemberTemplates(ctx, acme, dave, []int64{spare.ID, income}); err != nil {
		t.Fatal(err)
	}
	page = alice.get(tenantURL("acme", "/templates/"+num(spare.ID)))
	wantBody(t, page, `action="/templates/`+num(spare.ID)+`/delete"`, `data-confirm="Delete the template “Spare”?`)
	wantNoBody(t, page, "cannot be deleted")
	r = alice.submit(tenantURL("acme", "/templates/"+num(spare.ID)), tenantURL("acme", "/templates/"+num(spare.ID)+"/delete"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/templates" {
		t.Fatalf("deleted, then sent to %q", r.location)
	}
	wantBody(t, alice.follow(r), "Template “Spare” deleted.")
	if names := a.templateNames("acme"); len(names) != 2 {
		t.Fatalf("templates after the delete: %v", names)
	}
	if ids, _ := a.store.MemberTemplateIDs(ctx, acme, dave); len(ids) != 1 || ids[0] != income {
		t.Fatalf("dave's templates after the delete: %v", ids)
	}
	wantStatus(t, alice.get(tenantURL("acme", "/templates/"+num(spare.ID))), http.StatusNotFound)

	// The only template dave may order from stays.
	solo, err := a.store.CreateTemplate(ctx, acme, 0, models.NewTemplate{Name: "Solo", BrandingCompanyName: "Acme Corp", Collects: []string{"income"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.SetMemberTemplates(ctx, acme, dave, []int64{solo.ID}); err != nil {
		t.Fatal(err)
	}
	page = alice.get(tenantURL("acme", "/templates/"+num(solo.ID)))
	wantBody(t, page, "It cannot be deleted yet. It is the only template 1 person may order from")
	wantNoBody(t, page, `action="/templates/`+num(solo.ID)+`/delete"`)
	r = alice.submit(tenantURL("acme", "/templates/"+num(solo.ID)), tenantURL("acme", "/templates/"+num(solo.ID)+"/delete"), nil)
	wantBody(t, alice.follow(r), "“Solo” was not deleted.", "Change their available templates on the Team page first.")
	if ids, _ := a.store.MemberTemplateIDs(ctx, acme, dave); len(ids) != 1 || ids[0] != solo.ID {
		t.Fatalf("dave's templates after a refused delete: %v", ids)
	}
	// A Viewer cannot delete; another company's host does not find it.
	daveBrowser := a.browser()
	daveBrowser.signIn("dave@acme.test", "acme")
	wantStatus(t, daveBrowser.submit(tenantURL("acme", "/templates"), tenantURL("acme", "/templates/"+num(income)+"/delete"), nil), http.StatusForbidden)
	alice.signIn("alice@acme.test", "globex")
	wantStatus(t, alice.submit(tenantURL("globex", "/templates"), tenantURL("globex", "/templates/"+num(solo.ID)+"/delete"), nil), http.StatusNotFound)
	if names := a.templateNames("acme"); len(names) != 3 {
		t.Fatalf("templates after refused deletes: %v", names)
	}
}

// TestTemplateCategory: a template's category, which decides the order
// price of the company's plan that applies, is chosen on its form (a
// select with its hint), shown on its page and in the list, edited, and
// refused beside the field when it is no category.
func TestTemplateCategory(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	wantBody(t, alice.get(tenantURL("acme", "/templates/new")), `name="category"`, `<option value="standard" selected>Standard</option>`,
		`<option value="premium">Premium</option>`, "Decides which order price of the company's billing plan applies")
	form := url.Values{"name": {"Background check"}, "branding_company_name": {"Acme"}, "brand_color": {"#123456"}, "collects": {"identity"},
		"category": {"premium"}}
	wantStatus(t, alice.submit(tenantURL("acme", "/templates/new"), tenantURL("acme", "/templates"), form), http.StatusSeeOther)
	id := a.templateID("acme", "Background check")
	wantBody(t, alice.get(tenantURL("acme", fmt.Sprintf("/templates/%d", id))), `data-testid="template-category"`, `<span class="badge badge-premium">Premium</span>`)
	wantBody(t, alice.get(tenantURL("acme", "/templates")), `<span class="badge badge-premium">Premium</span>`, `<span class="badge">Standard</span>`)
	wantBody(t, alice.get(tenantURL("acme", fmt.Sprintf("/templates/%d/edit", id))), `<option value="premium" selected>Premium</option>`)

	form.Set("category", "gold")
	edit := tenantURL("acme", fmt.Sprintf("/templates/%d/edit", id))
	refused := alice.submit(edit, edit, form)
	wantStatus(t, refused, http.StatusUnprocessableEntity)
	wantBody(t, refused, `id="f-category-error">Choose a category from the list.`)
	form.Set("category", "standard")
	wantStatus(t, alice.submit(edit, edit, form), http.StatusSeeOther)
	tpl, err := a.store.TemplateByID(context.Background(), a.tenant("acme").ID, id)
	if err != nil || tpl.Category != models.CategoryStandard {
		t.Fatalf("after the edit: %v, %q", err, tpl.Category)
	}
}
