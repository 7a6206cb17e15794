package models_test

import (
	"context"
	"testing"
	"time"

	"canopy/models"
)

// platformWorld is the platform with three companies: acme (owned by alice,
// with dave too), globex (owned by bob, inactive) and initech, whose owner
// is invited and has not answered; acme has a sub-tenant with a member of
// its own and an invitation, which are not the platform's figures.
type platformWorld struct {
	world
	globex, initech, acmeEU *models.Tenant
}

func newPlatformWorld(t *testing.T) platformWorld {
	t.Helper()
	ctx := context.Background()
	w := platformWorld{world: newWorld(t)}
	mail := &sentMail{}
	bob, dave, eve := mustUser(t, w.store, "bob@globex.test"), mustUser(t, w.store, "dave@acme.test"), mustUser(t, w.store, "eve@acme.test")
	var err error
	if _, err = w.store.AddMember(ctx, w.acme.ID, dave.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if w.globex, err = w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID}); err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetTenantStatus(ctx, w.globex.ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	if w.initech, err = w.store.CreateSubTenant(ctx, models.NewSubTenant{ParentID: w.platform.ID, ActorUserID: w.alice.ID,
		Name: "Initech", Subdomain: "initech", Description: "Enterprise software.", Email: "Carol@Initech.test", Timezone: "UTC"}, mail.build); err != nil {
		t.Fatal(err)
	}
	if w.acmeEU, err = w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.acme.ID, Name: "Acme Europe", Subdomain: "acme-eu", Timezone: "UTC", OwnerUserID: eve.ID}); err != nil {
		t.Fatal(err)
	}
	req := invite(w.world, "someone@acme.test", models.RoleViewer)
	req.TenantID = w.acmeEU.ID
	if _, err := w.store.Invite(ctx, req, mail.build); err != nil {
		t.Fatal(err)
	}
	return w
}

func TestCompaniesListShowsOwnersAndMembers(t *testing.T) {
	w := newPlatformWorld(t)
	page, err := w.store.SubTenants(context.Background(), w.platform.ID, "", models.ParsePage("", 25))
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		name, owner, invited string
		members              int64
		status               models.TenantStatus
	}
	want := []row{
		{"Acme Corp", "alice@acme.test", "", 2, models.TenantActive},
		{"Globex", "bob@globex.test", "", 1, models.TenantInactive},
		{"Initech", "", "carol@initech.test", 0, models.TenantActive},
	}
	if page.Total != 3 || len(page.Items) != 3 {
		t.Fatalf("%d companies listed of %d, want 3", len(page.Items), page.Total)
	}
	for i, c := range page.Items {
		if got := (row{c.Name, c.OwnerEmail, c.InvitedOwnerEmail, c.MemberCount, c.Status}); got != want[i] {
			t.Errorf("row %d: %+v, want %+v", i, got, want[i])
		}
	}
	// Searching keeps the owners and counts.
	found, err := w.store.SubTenants(context.Background(), w.platform.ID, "glob", models.ParsePage("", 25))
	if err != nil || len(found.Items) != 1 || found.Items[0].OwnerEmail != "bob@globex.test" || found.Items[0].MemberCount != 1 {
		t.Fatalf("search: %+v, %v", found.Items, err)
	}
}

func TestPlatformFigures(t *testing.T) {
	w := newPlatformWorld(t)
	ctx := context.Background()
	got, err := w.store.PlatformFigures(ctx, w.platform.ID)
	if err != nil {
		t.Fatal(err)
	}
	// Acme's two members and Globex's one; Initech's owner is invited, and
	// Acme Europe is a sub-tenant, not a company of the platform.
	want := models.PlatformFigures{ActiveCompanies: 2, InactiveCompanies: 1, Members: 3, PendingInvitations: 1}
	if got != want || got.Companies() != 3 {
		t.Fatalf("figures %+v, want %+v", got, want)
	}
	// An expired invitation no longer waits for an answer.
	if err := w.store.ExecForTest(ctx, "UPDATE invitations SET expires_at = ? WHERE tenant_id = ?", time.Now().Add(-time.Hour).UTC(), w.initech.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := w.store.PlatformFigures(ctx, w.platform.ID); err != nil || got.PendingInvitations != 0 {
		t.Fatalf("after the invitation expired: %+v, %v", got, err)
	}
	// A customer's own figures are its sub-tenants'.
	if got, err := w.store.PlatformFigures(ctx, w.acme.ID); err != nil || got != (models.PlatformFigures{ActiveCompanies: 1, Members: 1, PendingInvitations: 1}) {
		t.Fatalf("acme's figures: %+v, %v", got, err)
	}
	if _, err := w.store.PlatformFigures(ctx, 0); err == nil {
		t.Fatal("figures of no tenant")
	}
}
