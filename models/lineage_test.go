package models_test

import (
	"context"
	"errors"
	"testing"

	"canopy/models"
)

// tree is the world with a deeper tree: Platform → Acme Corp → Acme Europe
// → Acme Europe Lab, and Platform → Globex → Globex EU beside it.
type tree struct {
	world
	eu, euLab, globex, globexEU *models.Tenant
}

func newTree(t *testing.T) tree {
	t.Helper()
	w := newWorld(t)
	child := func(parent *models.Tenant, name, sub string) *models.Tenant {
		t.Helper()
		tn, err := w.store.CreateTenant(context.Background(), models.NewTenant{ParentID: parent.ID, Name: name, Subdomain: sub, Timezone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	tr := tree{world: w}
	tr.eu = child(w.acme, "Acme Europe", "acme-eu")
	tr.euLab = child(tr.eu, "Acme Europe Lab", "acme-eu-lab")
	tr.globex = child(w.platform, "Globex", "globex")
	tr.globexEU = child(tr.globex, "Globex EU", "globex-eu")
	return tr
}

func names(ts []models.Tenant) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

// TestSubTenantPathReachesTheWholeSubtreeOnly: a tenant's Super Admins reach
// every tenant below it, at any depth, with the way down to it; a tenant of
// another tree, the tenant itself, one above it or an unknown id is not found.
func TestSubTenantPathReachesTheWholeSubtreeOnly(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	reached := []struct {
		from, to *models.Tenant
		path     []string
	}{
		{tr.acme, tr.eu, []string{"Acme Corp", "Acme Europe"}},
		{tr.acme, tr.euLab, []string{"Acme Corp", "Acme Europe", "Acme Europe Lab"}},
		{tr.platform, tr.euLab, []string{"Platform", "Acme Corp", "Acme Europe", "Acme Europe Lab"}},
		{tr.globex, tr.globexEU, []string{"Globex", "Globex EU"}},
	}
	for _, c := range reached {
		path, err := tr.store.SubTenantPath(ctx, c.from.ID, c.to.ID)
		if err != nil || !equal(names(path), c.path) {
			t.Errorf("%s → %s: %v %v, want %v", c.from.Name, c.to.Name, names(path), err, c.path)
		}
	}
	refused := []struct {
		from *models.Tenant
		to   int64
	}{
		{tr.acme, tr.globexEU.ID}, {tr.acme, tr.globex.ID}, {tr.eu, tr.globexEU.ID}, {tr.globex, tr.euLab.ID},
		{tr.acme, tr.acme.ID}, {tr.euLab, tr.eu.ID}, {tr.eu, tr.acme.ID}, {tr.acme, tr.platform.ID}, {tr.acme, 999999},
	}
	for _, c := range refused {
		if _, err := tr.store.SubTenantOf(ctx, c.from.ID, c.to); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("%s reached tenant %d: %v", c.from.Name, c.to, err)
		}
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDeactivationReachesTheSubtree: deactivating a tenant makes every
// tenant below it unreachable — the host's lineage, the landing company, the
// company toggle and the list of companies one cannot enter all say so —
// without touching their own status, so reactivating it brings back exactly
// those that were not deactivated themselves.
func TestDeactivationReachesTheSubtree(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	lab := mustUser(t, tr.store, "lab@acme.test")
	for _, tn := range []*models.Tenant{tr.eu, tr.euLab} {
		if _, err := tr.store.AddMember(ctx, tn.ID, lab.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	reachable := func(sub string) (bool, string) {
		t.Helper()
		l, err := tr.store.LineageBySubdomain(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		above := ""
		if a := l.InactiveAbove(); a != nil {
			above = a.Name
		}
		return l.Reachable(), above
	}
	companies := func() []string {
		t.Helper()
		toggle, err := tr.store.CompanyToggle(ctx, lab.ID, 0)
		if err != nil {
			t.Fatal(err)
		}
		list := toggle.Companies
		out := []string{}
		for _, c := range list {
			out = append(out, c.Name)
		}
		return out
	}
	if ok, _ := reachable("acme-eu-lab"); !ok || len(companies()) != 2 {
		t.Fatalf("before: reachable %v, companies %v", ok, companies())
	}

	if _, err := tr.store.SetSubTenantStatus(ctx, tr.platform.ID, tr.acme.ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	for _, sub := range []string{"acme-eu", "acme-eu-lab"} {
		if ok, above := reachable(sub); ok || above != "Acme Corp" {
			t.Errorf("%s with Acme Corp inactive: reachable %v, inactive above %q", sub, ok, above)
		}
	}
	if ok, _ := reachable("globex-eu"); !ok {
		t.Error("another tree became unreachable")
	}
	if got := companies(); len(got) != 0 {
		t.Errorf("the toggle offers %v", got)
	}
	if page, err := tr.store.SearchCompanies(ctx, lab.ID, "", models.ParsePage("", 10)); err != nil || page.Total != 0 {
		t.Errorf("the companies page offers %+v (%v)", page.Items, err)
	}
	if _, err := tr.store.LandingTenant(ctx, lab); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("landing company: %v", err)
	}
	inactive, err := tr.store.InactiveCompaniesOf(ctx, lab.ID)
	want := []models.InactiveCompany{
		{Name: "Acme Europe", BecauseAbove: true, InactiveAbove: "Acme Corp", ParentName: "Platform"},
		{Name: "Acme Europe Lab", BecauseAbove: true, InactiveAbove: "Acme Corp", ParentName: "Platform"},
	}
	if err != nil || len(inactive) != 2 || inactive[0] != want[0] || inactive[1] != want[1] {
		t.Errorf("inactive companies: %+v (%v), want %+v", inactive, err, want)
	}

	// A tenant created below an inactive one is shut with it.
	annex, err := tr.store.CreateTenant(ctx, models.NewTenant{ParentID: tr.euLab.ID, Name: "Lab Annex", Subdomain: "lab-annex", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.store.AddMember(ctx, annex.ID, lab.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if got := companies(); len(got) != 0 {
		t.Errorf("the toggle offers %v", got)
	}

	// The lab is switched off itself too; bringing Acme back leaves it off.
	if _, err := tr.store.SetSubTenantStatus(ctx, tr.acme.ID, tr.euLab.ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := tr.store.SetSubTenantStatus(ctx, tr.platform.ID, tr.acme.ID, models.TenantActive); err != nil {
		t.Fatal(err)
	}
	if ok, _ := reachable("acme-eu"); !ok {
		t.Error("Acme Europe did not come back with Acme Corp")
	}
	if ok, above := reachable("acme-eu-lab"); ok || above != "" {
		t.Errorf("the lab, deactivated itself: reachable %v, inactive above %q", ok, above)
	}
	if got := companies(); !equal(got, []string{"Acme Europe"}) {
		t.Errorf("the toggle offers %v", got)
	}
	inactive, err = tr.store.InactiveCompaniesOf(ctx, lab.ID)
	wantNow := []models.InactiveCompany{
		{Name: "Acme Europe Lab", ParentName: "Acme Europe"},
		{Name: "Lab Annex", BecauseAbove: true, InactiveAbove: "Acme Europe Lab", ParentName: "Acme Europe"},
	}
	if err != nil || len(inactive) != 2 || inactive[0] != wantNow[0] || inactive[1] != wantNow[1] {
		t.Errorf("inactive companies: %+v (%v), want %+v", inactive, err, wantNow)
	}
	// The lab back on: the annex, never deactivated itself, is back too.
	if _, err := tr.store.SetSubTenantStatus(ctx, tr.acme.ID, tr.euLab.ID, models.TenantActive); err != nil {
		t.Fatal(err)
	}
	if got := companies(); !equal(got, []string{"Acme Europe", "Acme Europe Lab", "Lab Annex"}) {
		t.Errorf("the toggle offers %v", got)
	}
	if eu, _ := tr.store.TenantByID(ctx, tr.eu.ID); !eu.Active() {
		t.Error("deactivating Acme Corp changed Acme Europe's own status")
	}
}
