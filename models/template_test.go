package models_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

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

func TestUpdateTemplate(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email})
	tpl := mustTemplate(t, w.store, w.acme.ID, "Loans")
	mustTemplate(t, w.store, w.acme.ID, "Leases")
	globexTemplate := mustTemplate(t, w.store, w.globex.ID, "Globex's")

	got, err := w.store.UpdateTemplate(ctx, w.acme.ID, tpl.ID, models.NewTemplate{
		Name: "  Home loans ", BrandingCompanyName: "Acme Lending", BrandColor: "#AA0000", Collects: []string{"identity", "income"},
	})
	if err != nil {
		t.Fatal(err)
	}
	saved, err := w.store.TemplateByID(ctx, w.acme.ID, tpl.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []*models.Template{got, &saved.Template} {
		if tp.Name != "Home loans" || tp.BrandingCompanyName != "Acme Lending" || tp.BrandColor != "#aa0000" || tp.Collects != "income,identity" {
			t.Fatalf("updated template: %+v", tp)
		}
	}
	if !saved.UpdatedAt.After(tpl.UpdatedAt) {
		t.Fatalf("updated at %v, not after %v", saved.UpdatedAt, tpl.UpdatedAt)
	}
	events := auditEvents(t, w.store, w.acme.ID, models.AuditTemplateUpdated)
	if len(events) != 1 || events[0].TargetLabel != "Home loans" ||
		!strings.Contains(str(events[0].Before), `"branding_company_name":"Brand"`) || !strings.Contains(str(events[0].After), `"name":"Home loans"`) {
		t.Fatalf("audit events: %+v", events)
	}

	// The same values again change nothing and record nothing.
	if _, err := w.store.UpdateTemplate(ctx, w.acme.ID, tpl.ID, models.NewTemplate{
		Name: "Home loans", BrandingCompanyName: "Acme Lending", BrandColor: "#aa0000", Collects: []string{"income", "identity"},
	}); err != nil {
		t.Fatal(err)
	}
	if n := len(auditEvents(t, w.store, w.acme.ID, models.AuditTemplateUpdated)); n != 1 {
		t.Fatalf("%d update events after saving the same values, want 1", n)
	}

	// Problems are reported beside their fields and change nothing.
	refused := []struct {
		field string
		in    models.NewTemplate
	}{
		{"name", models.NewTemplate{Name: "LEASES", BrandingCompanyName: "Acme", Collects: []string{"income"}}},
		{"name", models.NewTemplate{Name: "", BrandingCompanyName: "Acme", Collects: []string{"income"}}},
		{"branding_company_name", models.NewTemplate{Name: "Loans", Collects: []string{"income"}}},
		{"brand_color", models.NewTemplate{Name: "Loans", BrandingCompanyName: "Acme", BrandColor: "red", Collects: []string{"income"}}},
		{"collects", models.NewTemplate{Name: "Loans", BrandingCompanyName: "Acme"}},
	}
	for _, c := range refused {
		if _, err := w.store.UpdateTemplate(ctx, w.acme.ID, tpl.ID, c.in); fieldError(err, c.field) == "" {
			t.Errorf("%+v: err = %v, want a message beside %s", c.in, err, c.field)
		}
	}
	if after, _ := w.store.TemplateByID(ctx, w.acme.ID, tpl.ID); after.Name != "Home loans" {
		t.Fatalf("a refused update changed the template: %+v", after.Template)
	}

	// Another tenant's template, or none at all, is not found and stays as it is.
	for _, c := range []struct{ tenant, id int64 }{{w.acme.ID, globexTemplate.ID}, {w.globex.ID, tpl.ID}, {w.acme.ID, tpl.ID + 1000}} {
		if _, err := w.store.UpdateTemplate(ctx, c.tenant, c.id, models.NewTemplate{Name: "Taken over", BrandingCompanyName: "Evil", Collects: []string{"income"}}); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("template %d of tenant %d: err = %v, want ErrNotFound", c.id, c.tenant, err)
		}
	}
	if g, _ := w.store.TemplateByID(ctx, w.globex.ID, globexTemplate.ID); g.Name != "Globex's" {
		t.Fatalf("globex's template became %q", g.Name)
	}
	if _, err := w.store.UpdateTemplate(ctx, 0, tpl.ID, models.NewTemplate{}); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("no tenant: err = %v", err)
	}
}

func TestDeleteTemplate(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: w.alice.Email})
	mail := &sentMail{}
	used, spare, other := mustTemplate(t, w.store, w.acme.ID, "Used"), mustTemplate(t, w.store, w.acme.ID, "Spare"), mustTemplate(t, w.store, w.acme.ID, "Other")
	globexTemplate := mustTemplate(t, w.store, w.globex.ID, "Globex's")
	for range 2 {
		if _, err := w.store.CreateOrder(ctx, w.acme.ID, w.aliceAtAcme.ID, models.NewOrder{TemplateID: used.ID, ApplicantName: "Jane Roe"}, nil); err != nil {
			t.Fatal(err)
		}
	}
	// Dave may order from Spare and Other; an invitation offers the same.
	if err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, []int64{spare.ID, other.ID}); err != nil {
		t.Fatal(err)
	}
	req := invite(w.world, "erin@acme.test", models.RoleViewer)
	req.TemplateIDs = []int64{other.ID, spare.ID}
	if _, err := w.store.Invite(ctx, req, mail.build); err != nil {
		t.Fatal(err)
	}

	// Orders keep their template.
	_, err := w.store.DeleteTemplate(ctx, w.acme.ID, used.ID)
	var kept *models.TemplateInUseError
	if !errors.As(err, &kept) || !errors.Is(err, models.ErrTemplateInUse) || kept.Name != "Used" || kept.Use.Orders != 2 || kept.Use.OnlyChoice != 0 {
		t.Fatalf("deleting a template with orders: err = %v (%+v)", err, kept)
	}
	if d, err := w.store.TemplateByID(ctx, w.acme.ID, used.ID); err != nil || d.Deletable() {
		t.Fatalf("the used template: %+v, %v", d, err)
	}

	// Spare goes: off Dave's list and the invitation's, Other stays on both.
	gone, err := w.store.DeleteTemplate(ctx, w.acme.ID, spare.ID)
	if err != nil || gone.Name != "Spare" {
		t.Fatalf("delete Spare: %+v, %v", gone, err)
	}
	if _, err := w.store.TemplateByID(ctx, w.acme.ID, spare.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the deleted template is still there: %v", err)
	}
	if ids, err := w.store.MemberTemplateIDs(ctx, w.acme.ID, w.daveAtAcme.ID); err != nil || !slices.Equal(ids, []int64{other.ID}) {
		t.Fatalf("dave's templates: %v, %v", ids, err)
	}
	events := auditEvents(t, w.store, w.acme.ID, models.AuditTemplateDeleted)
	if len(events) != 1 || events[0].TargetLabel != "Spare" || events[0].After != nil ||
		!strings.Contains(str(events[0].Before), `"on_members_lists":1`) || !strings.Contains(str(events[0].Before), `"on_invitations":1`) {
		t.Fatalf("audit events: %+v", events)
	}
	// The invitation still works, and gives what is left.
	erin, err := w.store.AcceptInvitation(ctx, mail.last(), models.NewUser{FirstName: "Erin", Password: "a-long-password"})
	if err != nil {
		t.Fatalf("accept an invitation after one of its templates was deleted: %v", err)
	}
	erinAtAcme, err := w.store.MembershipOf(ctx, w.acme.ID, erin.User.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ids, err := w.store.MemberTemplateIDs(ctx, w.acme.ID, erinAtAcme.ID); err != nil || !slices.Equal(ids, []int64{other.ID}) {
		t.Fatalf("erin's templates: %v, %v", ids, err)
	}

	// Other is now the only template of Dave and Erin, and of an invitee:
	// deleting it would let them order from every template.
	req = invite(w.world, "finn@acme.test", models.RoleViewer)
	req.TemplateIDs = []int64{other.ID}
	if _, err := w.store.Invite(ctx, req, mail.build); err != nil {
		t.Fatal(err)
	}
	_, err = w.store.DeleteTemplate(ctx, w.acme.ID, other.ID)
	if !errors.As(err, &kept) || kept.Use.OnlyChoice != 3 || kept.Use.Orders != 0 {
		t.Fatalf("deleting the only choice of three people: err = %v (%+v)", err, kept)
	}
	if d, err := w.store.TemplateByID(ctx, w.acme.ID, other.ID); err != nil || d.OnlyChoice != 3 || d.Deletable() {
		t.Fatalf("the only choice of three: %+v, %v", d, err)
	}
	if ids, _ := w.store.MemberTemplateIDs(ctx, w.acme.ID, w.daveAtAcme.ID); !slices.Equal(ids, []int64{other.ID}) {
		t.Fatalf("a refused delete changed dave's templates: %v", ids)
	}

	// Another tenant's template, or none at all, is not found and stays.
	for _, c := range []struct{ tenant, id int64 }{{w.acme.ID, globexTemplate.ID}, {w.globex.ID, other.ID}, {w.acme.ID, other.ID + 1000}} {
		if _, err := w.store.DeleteTemplate(ctx, c.tenant, c.id); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("template %d of tenant %d: err = %v, want ErrNotFound", c.id, c.tenant, err)
		}
	}
	if _, err := w.store.TemplateByID(ctx, w.globex.ID, globexTemplate.ID); err != nil {
		t.Fatalf("globex's template: %v", err)
	}
	if _, err := w.store.DeleteTemplate(ctx, 0, other.ID); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("no tenant: err = %v", err)
	}
}

// TestDeleteTemplateWaitsForWhatNamesIt: on Postgres, a list naming the
// template that is being saved while it is deleted is waited for and then
// seen, so the template is not deleted out from under it — neither a
// member's list nor an invitation's. (SQLite runs one writing transaction at
// a time, so the two cannot overlap there.)
func TestDeleteTemplateWaitsForWhatNamesIt(t *testing.T) {
	w := newTemplateWorld(t)
	if w.store.Dialect() != models.Postgres {
		t.Skip("transactions overlap only on Postgres; set CANOPY_TEST_DATABASE_URL")
	}
	ctx := context.Background()
	mail := &sentMail{}
	names := map[string]func(tx *models.Store, templateID int64) error{
		"a member's list": func(tx *models.Store, templateID int64) error {
			return tx.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, []int64{templateID})
		},
		"an invitation's list": func(tx *models.Store, templateID int64) error {
			req := invite(w.world, "pat"+strconv.FormatInt(templateID, 10)+"@acme.test", models.RoleViewer)
			req.TemplateIDs = []int64{templateID}
			_, err := tx.Invite(ctx, req, mail.build)
			return err
		},
	}
	for what, name := range names {
		t.Run(what, func(t *testing.T) {
			tpl := mustTemplate(t, w.store, w.acme.ID, "Only "+what)
			named, release, saved := make(chan struct{}), make(chan struct{}), make(chan error, 1)
			go func() {
				saved <- w.store.Tx(ctx, func(tx *models.Store) error {
					if err := name(tx, tpl.ID); err != nil {
						return err
					}
					close(named)
					<-release // hold the transaction open while the delete starts
					return nil
				})
			}()
			<-named
			deleted := make(chan error, 1)
			go func() {
				_, err := w.store.DeleteTemplate(ctx, w.acme.ID, tpl.ID)
				deleted <- err
			}()
			select {
			case err := <-deleted:
				t.Fatalf("the delete did not wait for the list naming the template: %v", err)
			case <-time.After(300 * time.Millisecond):
			}
			close(release)
			if err := <-saved; err != nil {
				t.Fatal(err)
			}
			var kept *models.TemplateInUseError
			if err := <-deleted; !errors.As(err, &kept) || kept.Use.OnlyChoice != 1 {
				t.Fatalf("deleting the template the list just named: err = %v, want it kept as the only choice", err)
			}
		})
	}
}

// TestTwoDeletesKeepAMembersLast: a member may order from X and Y; deleting
// both at the same moment deletes one and keeps the other, which is now the
// member's only template — never an empty list, which would mean every
// template.
func TestTwoDeletesKeepAMembersLast(t *testing.T) {
	w := newTemplateWorld(t)
	if w.store.Dialect() != models.Postgres {
		t.Skip("transactions overlap only on Postgres; set CANOPY_TEST_DATABASE_URL")
	}
	ctx := context.Background()
	for round := range 5 {
		x := mustTemplate(t, w.store, w.acme.ID, fmt.Sprintf("X %d", round))
		y := mustTemplate(t, w.store, w.acme.ID, fmt.Sprintf("Y %d", round))
		if err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, []int64{x.ID, y.ID}); err != nil {
			t.Fatal(err)
		}
		start, results := make(chan struct{}), make(chan error, 2)
		for _, id := range []int64{x.ID, y.ID} {
			go func() {
				<-start
				_, err := w.store.DeleteTemplate(ctx, w.acme.ID, id)
				results <- err
			}()
		}
		close(start)
		deleted, kept := 0, 0
		for range 2 {
			var inUse *models.TemplateInUseError
			switch err := <-results; {
			case err == nil:
				deleted++
			case errors.As(err, &inUse) && inUse.Use.OnlyChoice == 1:
				kept++
			default:
				t.Fatalf("round %d: %v", round, err)
			}
		}
		ids, err := w.store.MemberTemplateIDs(ctx, w.acme.ID, w.daveAtAcme.ID)
		if err != nil || deleted != 1 || kept != 1 || len(ids) != 1 {
			t.Fatalf("round %d: %d deleted, %d kept, dave's list %v (%v); want one of each and one template left", round, deleted, kept, ids, err)
		}
		if _, err := w.store.DeleteTemplate(ctx, w.acme.ID, ids[0]); err == nil {
			t.Fatalf("round %d: dave's last template was deleted", round)
		}
		if err := w.store.SetMemberTemplates(ctx, w.acme.ID, w.daveAtAcme.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
}
