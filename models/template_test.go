package models_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"canopy/models"
)

// templateWorld adds a second company (globex, owned by bob) and a member
// of acme (dave) to the small world, for tests that need two tenants.
type templateWorld struct {
	world
	globex      *models.Tenant
	bob, dave   *models.User
	aliceAtAcme *models.Membership
	daveAtAcme  *models.Membership
}

func newTemplateWorld(t *testing.T) templateWorld {
	t.Helper()
	ctx := context.Background()
	w := templateWorld{world: newWorld(t)}
	w.bob = mustUser(t, w.store, "bob@globex.test")
	w.dave = mustUser(t, w.store, "dave@acme.test")
	var err error
	w.globex, err = w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: w.bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	if w.aliceAtAcme, err = w.store.MembershipOf(ctx, w.acme.ID, w.alice.ID); err != nil {
		t.Fatal(err)
	}
	if w.daveAtAcme, err = w.store.AddMember(ctx, w.acme.ID, w.dave.ID, models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	return w
}

func mustTemplate(t *testing.T, store *models.Store, tenantID int64, name string) *models.Template {
	t.Helper()
	tpl, err := store.CreateTemplate(context.Background(), tenantID, 0, models.NewTemplate{
		Name: name, BrandingCompanyName: "Brand", Collects: []string{"income"},
	})
	if err != nil {
		t.Fatal(err)
	}
	return tpl
}

func templateNames(ts []models.Template) []string {
	out := make([]string, len(ts))
	for i, tpl := range ts {
		out[i] = tpl.Name
	}
	return out
}

func TestCreateTemplateValidation(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	valid := models.NewTemplate{Name: "Employment verification", BrandingCompanyName: "Acme Corp", BrandColor: "#112233", Collects: []string{"employment"}}
	cases := []struct {
		name  string
		edit  func(n *models.NewTemplate)
		field string
	}{
		{"missing name", func(n *models.NewTemplate) { n.Name = "  " }, "name"},
		{"one-letter name", func(n *models.NewTemplate) { n.Name = "x" }, "name"},
		{"long name", func(n *models.NewTemplate) { n.Name = strings.Repeat("n", 101) }, "name"},
		{"missing branding name", func(n *models.NewTemplate) { n.BrandingCompanyName = " " }, "branding_company_name"},
		{"long branding name", func(n *models.NewTemplate) { n.BrandingCompanyName = strings.Repeat("b", 101) }, "branding_company_name"},
		{"colour without hash", func(n *models.NewTemplate) { n.BrandColor = "112233" }, "brand_color"},
		{"short colour", func(n *models.NewTemplate) { n.BrandColor = "#123" }, "brand_color"},
		{"colour not hex", func(n *models.NewTemplate) { n.BrandColor = "#12345g" }, "brand_color"},
		{"collects nothing", func(n *models.NewTemplate) { n.Collects = nil }, "collects"},
		{"collects unknown data", func(n *models.NewTemplate) { n.Collects = []string{"income", "dna"} }, "collects"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n := valid
			n.Collects = slices.Clone(valid.Collects)
			c.edit(&n)
			_, err := w.store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, n)
			if fieldError(err, c.field) == "" {
				t.Fatalf("got %v, want a message beside %s", err, c.field)
			}
		})
	}
	if ts, _ := w.store.TemplatesOf(ctx, w.acme.ID); len(ts) != 0 {
		t.Fatalf("invalid input wrote %d templates", len(ts))
	}

	// Valid input is normalised: colour lowercased, data in the fixed order.
	n := valid
	n.Name, n.BrandColor, n.Collects = "  Income check ", "#AABBCC", []string{"income", "employment", "income"}
	tpl, err := w.store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, n)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.Name != "Income check" || tpl.BrandColor != "#aabbcc" || tpl.Collects != "employment,income" {
		t.Fatalf("stored %+v", tpl)
	}
	if got := tpl.CollectLabels(); !slices.Equal(got, []string{"Employment", "Income"}) {
		t.Fatalf("labels %v", got)
	}
	if tpl.CreatedByUserID == nil || *tpl.CreatedByUserID != w.alice.ID {
		t.Fatalf("creator %v", tpl.CreatedByUserID)
	}
	// An empty colour means the default.
	n.Name, n.BrandColor = "Defaults", ""
	if tpl, err = w.store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, n); err != nil || tpl.BrandColor != models.DefaultBrandColor {
		t.Fatalf("default colour: %v %+v", err, tpl)
	}
}

func TestTemplateNameIsUniquePerTenantInAnyCase(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	mustTemplate(t, w.store, w.acme.ID, "Employment verification")
	_, err := w.store.CreateTemplate(ctx, w.acme.ID, 0, models.NewTemplate{
		Name: "EMPLOYMENT Verification", BrandingCompanyName: "Acme", Collects: []string{"employment"},
	})
	if msg := fieldError(err, "name"); !strings.Contains(msg, "already exists") {
		t.Fatalf("duplicate name: %v", err)
	}
	// Another company may use the same name.
	mustTemplate(t, w.store, w.globex.ID, "Employment verification")
	if ts, _ := w.store.TemplatesOf(ctx, w.acme.ID); len(ts) != 1 {
		t.Fatalf("acme has %d templates, want 1", len(ts))
	}
	if got, err := w.store.TemplateByName(ctx, w.acme.ID, "employment VERIFICATION"); err != nil || got.TenantID != w.acme.ID {
		t.Fatalf("by name: %v %+v", err, got)
	}
	if _, err := w.store.TemplateByName(ctx, w.acme.ID, "nope"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown name: %v", err)
	}
}

func TestAvailableTemplatesFollowTheMembersList(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	emp := mustTemplate(t, w.store, w.acme.ID, "Employment")
	inc := mustTemplate(t, w.store, w.acme.ID, "Income")
	foreign := mustTemplate(t, w.store, w.globex.ID, "Globex only")

	available := func() []string {
		t.Helper()
		ts, err := w.store.AvailableTemplates(ctx, w.acme.ID, w.daveAtAcme.ID)
		if err != nil {
			t.Fatal(err)
		}
		return templateNames(ts)
	}
	if got := available(); !slices.Equal(got, []string{"Employment", "Income"}) {
		t.Fatalf("no list: %v, want every template", got)
	}
	if err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, []int64{inc.ID, inc.ID}); err != nil {
		t.Fatal(err)
	}
	if got := available(); !slices.Equal(got, []string{"Income"}) {
		t.Fatalf("restricted: %v, want Income only", got)
	}
	if ids, _ := w.store.MemberTemplateIDs(ctx, w.acme.ID, w.daveAtAcme.ID); !slices.Equal(ids, []int64{inc.ID}) {
		t.Fatalf("member template ids %v", ids)
	}
	// Another member is not affected.
	if ts, _ := w.store.AvailableTemplates(ctx, w.acme.ID, w.aliceAtAcme.ID); len(ts) != 2 {
		t.Fatalf("alice sees %d templates, want 2", len(ts))
	}

	// Another company's template is refused and the list stays as it was.
	err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, []int64{emp.ID, foreign.ID})
	if fieldError(err, "templates") == "" {
		t.Fatalf("foreign template: %v", err)
	}
	if got := available(); !slices.Equal(got, []string{"Income"}) {
		t.Fatalf("after refusal: %v, want Income only", got)
	}
	// A membership of another company is not found.
	bobAtGlobex, _ := w.store.MembershipOf(ctx, w.globex.ID, w.bob.ID)
	if err := w.store.SetMemberTemplates(ctx, w.acme.ID, bobAtGlobex.ID, []int64{emp.ID}); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("foreign membership: %v", err)
	}
	if _, err := w.store.AvailableTemplates(ctx, w.acme.ID, bobAtGlobex.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("foreign membership: %v", err)
	}

	// An empty list lifts the restriction.
	if err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := available(); len(got) != 2 {
		t.Fatalf("unrestricted again: %v", got)
	}
}

func TestTemplatesRefuseZeroTenant(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	mustTemplate(t, w.store, w.acme.ID, "Employment")
	checks := map[string]func() error{
		"CreateTemplate": func() error {
			_, err := w.store.CreateTemplate(ctx, 0, 0, models.NewTemplate{Name: "x y", BrandingCompanyName: "b", Collects: []string{"income"}})
			return err
		},
		"TemplatesOf": func() error { _, err := w.store.TemplatesOf(ctx, 0); return err },
		"ListTemplates": func() error {
			_, err := w.store.ListTemplates(ctx, 0, models.PageRequest{Number: 1, Size: 10})
			return err
		},
		"TemplateByName":     func() error { _, err := w.store.TemplateByName(ctx, 0, "Employment"); return err },
		"AvailableTemplates": func() error { _, err := w.store.AvailableTemplates(ctx, 0, w.daveAtAcme.ID); return err },
		"MemberTemplateIDs":  func() error { _, err := w.store.MemberTemplateIDs(ctx, 0, w.daveAtAcme.ID); return err },
		"SetMemberTemplates": func() error { return w.store.SetMemberTemplates(ctx, 0, w.daveAtAcme.ID, nil) },
	}
	for name, fn := range checks {
		if err := fn(); !errors.Is(err, models.ErrNoTenant) {
			t.Errorf("%s with tenant 0: %v, want ErrNoTenant", name, err)
		}
	}
}

func TestListTemplatesPages(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	for _, name := range []string{"Delta", "alpha", "Charlie", "bravo", "Echo"} {
		mustTemplate(t, w.store, w.acme.ID, name)
	}
	mustTemplate(t, w.store, w.globex.ID, "Foreign")
	p, err := w.store.ListTemplates(ctx, w.acme.ID, models.PageRequest{Number: 2, Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Total != 5 || !slices.Equal(templateNames(p.Items), []string{"Charlie", "Delta"}) || !p.HasPrev() || !p.HasNext() {
		t.Fatalf("page 2: total %d items %v", p.Total, templateNames(p.Items))
	}
}

func TestTemplateByID(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	tpl, err := w.store.CreateTemplate(ctx, w.acme.ID, w.alice.ID, models.NewTemplate{
		Name: "Employment", BrandingCompanyName: "Acme Corp", BrandColor: "#123abc", Collects: []string{"employment", "identity"},
	})
	if err != nil {
		t.Fatal(err)
	}
	unused := mustTemplate(t, w.store, w.acme.ID, "Unused")
	for i := range 3 {
		if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.aliceAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Applicant " + string(rune('A'+i))}, nil); err != nil {
			t.Fatal(err)
		}
	}
	got, err := w.store.TemplateByID(ctx, w.acme.ID, tpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "Employment" || got.BrandColor != "#123abc" || got.CreatorName() != w.alice.Name() || got.CreatorEmail != "alice@acme.test" ||
		got.Orders != 3 || got.OrdersCapped || !slices.Equal(got.CollectLabels(), []string{"Employment", "Identity"}) {
		t.Fatalf("template details: %+v", got)
	}
	if got, err := w.store.TemplateByID(ctx, w.acme.ID, unused.ID); err != nil || got.Orders != 0 || got.CreatorEmail != "" {
		t.Fatalf("a template without orders or creator: %+v, %v", got, err)
	}
	// Another tenant's template, or none at all, is not found.
	for _, c := range []struct{ tenant, id int64 }{{w.globex.ID, tpl.ID}, {w.acme.ID, tpl.ID + 1000}} {
		if _, err := w.store.TemplateByID(ctx, c.tenant, c.id); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("template %d of tenant %d: err = %v, want ErrNotFound", c.id, c.tenant, err)
		}
	}
	if _, err := w.store.TemplateByID(ctx, 0, tpl.ID); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("no tenant: err = %v", err)
	}
}

func TestMayOrderFrom(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	first, second := mustTemplate(t, w.store, w.acme.ID, "First"), mustTemplate(t, w.store, w.acme.ID, "Second")
	globexTemplate := mustTemplate(t, w.store, w.globex.ID, "Globex's")
	bobAtGlobex, err := w.store.MembershipOf(ctx, w.globex.ID, w.bob.ID)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, []int64{second.ID}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name                 string
		tenant, member, tmpl int64
		want                 bool
	}{
		{"no list: every template", w.acme.ID, w.aliceAtAcme.ID, first.ID, true},
		{"listed", w.acme.ID, w.daveAtAcme.ID, second.ID, true},
		{"not listed", w.acme.ID, w.daveAtAcme.ID, first.ID, false},
		{"another tenant's template", w.acme.ID, w.aliceAtAcme.ID, globexTemplate.ID, false},
		{"another tenant's membership", w.acme.ID, bobAtGlobex.ID, first.ID, false},
	}
	for _, c := range cases {
		if got, err := w.store.MayOrderFrom(ctx, c.tenant, c.member, c.tmpl); err != nil || got != c.want {
			t.Errorf("%s: %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
