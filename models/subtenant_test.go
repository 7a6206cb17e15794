package models_test

import (
	"context"
	"testing"

	"canopy/models"
)

func TestCreateSubTenantRequiresEveryListedField(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	full := func() models.NewSubTenant {
		return models.NewSubTenant{ParentID: w.acme.ID, ActorUserID: w.alice.ID, Name: "Acme Asia", Subdomain: "acme-asia",
			Description: "Acme's operations in Asia", Email: "owner@asia.example", Timezone: "Asia/Tokyo"}
	}
	cases := []struct {
		field string
		blank func(*models.NewSubTenant)
	}{
		{"name", func(n *models.NewSubTenant) { n.Name = "" }},
		{"subdomain", func(n *models.NewSubTenant) { n.Subdomain = "" }},
		{"description", func(n *models.NewSubTenant) { n.Description = "  \n " }},
		{"email", func(n *models.NewSubTenant) { n.Email = "" }},
		{"timezone", func(n *models.NewSubTenant) { n.Timezone = "" }},
	}
	mail := &sentMail{}
	for _, c := range cases {
		t.Run(c.field, func(t *testing.T) {
			n := full()
			c.blank(&n)
			if err := w.store.ValidateSubTenant(ctx, &n); fieldError(err, c.field) == "" {
				t.Fatalf("checking without %s: %v", c.field, err)
			}
			if _, err := w.store.CreateSubTenant(ctx, n, mail.build); fieldError(err, c.field) == "" {
				t.Fatalf("creating without %s: %v", c.field, err)
			}
		})
	}
	if len(mail.tokens) != 0 {
		t.Fatal("a refused creation sent mail")
	}
	n := full()
	if err := w.store.ValidateSubTenant(ctx, &n); err != nil {
		t.Fatalf("every field given: %v", err)
	}
}

// Sub-tenants without a description and members without a last name, from
// before both were required, keep working.
func TestEmptyDescriptionsAndLastNamesStillWork(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	old, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.acme.ID, Name: "Old Branch", Subdomain: "old-branch", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.store.SaveSubTenantSettings(ctx, w.acme.ID, old.ID, models.SubTenantSettings{Timezone: "Europe/Paris"}); err != nil {
		t.Fatalf("saving the settings of a sub-tenant without a description: %v", err)
	}
	if err := w.store.SetTenantStatus(ctx, old.ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	page, err := w.store.SubTenants(ctx, w.acme.ID, "", models.ParsePage("", 10))
	if err != nil || page.Total != 1 || page.Items[0].Description != "" {
		t.Fatalf("list: %+v %v", page.Items, err)
	}
	noLast, err := w.store.CreateUser(ctx, models.NewUser{Email: "mono@acme.test", FirstName: "Mono", Password: "a-long-password"})
	if err != nil {
		t.Fatalf("an account without a last name: %v", err)
	}
	m, err := w.store.AddMember(ctx, w.acme.ID, noLast.ID, models.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	err = w.store.ChangeRole(ctx, models.MemberChange{TenantID: w.acme.ID, ActorUserID: w.alice.ID, ActorRole: models.RoleSuperAdmin, MembershipID: m.ID}, models.RoleEditor)
	if err != nil {
		t.Fatalf("re-roling a member without a last name: %v", err)
	}
}
