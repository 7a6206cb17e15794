package models_test

import (
	"context"
	"errors"
	"testing"

	"canopy/models"
)

func TestSubTenantSettings(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.store.EnableSolutions(ctx, w.acme.ID, []models.Solution{models.SolutionColdChain, models.SolutionShipmentTracking}); err != nil {
		t.Fatal(err)
	}
	eu, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.acme.ID, Name: "Acme Europe", Subdomain: "acme-eu", Timezone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	if !eu.SSOInherit {
		t.Fatal("a new sub-tenant should inherit SSO until told otherwise")
	}
	cases := []struct {
		name  string
		set   models.SubTenantSettings
		field string
	}{
		{"solution the parent lacks", models.SubTenantSettings{Solutions: []models.Solution{models.SolutionAirCargo}, Timezone: "UTC"}, "solutions"},
		{"unknown solution", models.SubTenantSettings{Solutions: []models.Solution{"teleport"}, Timezone: "UTC"}, "solutions"},
		{"unknown timezone", models.SubTenantSettings{Timezone: "Nowhere"}, "timezone"},
	}
	for _, c := range cases {
		if err := w.store.SaveSubTenantSettings(ctx, w.acme.ID, eu.ID, c.set); fieldError(err, c.field) == "" {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
	if sols, _ := w.store.SolutionsOf(ctx, eu.ID); len(sols) != 0 {
		t.Fatalf("refused settings were written: %v", sols)
	}
	before, _ := w.store.TenantByID(ctx, eu.ID)
	good := models.SubTenantSettings{Solutions: []models.Solution{models.SolutionShipmentTracking, models.SolutionColdChain}, SSOInherit: false, Timezone: "Europe/Paris"}
	if err := w.store.SaveSubTenantSettings(ctx, w.acme.ID, eu.ID, good); err != nil {
		t.Fatal(err)
	}
	after, _ := w.store.TenantByID(ctx, eu.ID)
	sols, _ := w.store.SolutionsOf(ctx, eu.ID)
	if len(sols) != 2 || sols[0] != models.SolutionColdChain || after.SSOInherit || after.Timezone != "Europe/Paris" || !after.UpdatedAt.After(before.UpdatedAt) {
		t.Fatalf("saved %+v %v", after, sols)
	}
	// The tenants above it reach its settings, at any height; nothing else does.
	if err := w.store.SaveSubTenantSettings(ctx, w.platform.ID, eu.ID, good); err != nil {
		t.Fatalf("the tenant two levels up could not save: %v", err)
	}
	globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	for name, ancestor := range map[string]int64{"another tree": globex.ID, "itself": eu.ID} {
		if err := w.store.SaveSubTenantSettings(ctx, ancestor, eu.ID, good); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("%s saved: %v", name, err)
		}
	}
	if _, err := w.store.SetSubTenantStatus(ctx, w.acme.ID, eu.ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.store.TenantByID(ctx, eu.ID); got.Active() {
		t.Fatal("not deactivated")
	}
	if _, err := w.store.SetSubTenantStatus(ctx, w.acme.ID, eu.ID, "paused"); !errors.Is(err, models.ErrInvalidStatus) {
		t.Fatalf("bad status: %v", err)
	}
	if _, err := w.store.SetSubTenantStatus(ctx, w.acme.ID, w.platform.ID, models.TenantInactive); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("deactivated a non-child: %v", err)
	}
}

// TestRemovingASolutionCascades: a solution taken from a parent leaves every
// tenant below it, at any depth; the others stay.
func TestRemovingASolutionCascades(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	both := []models.Solution{models.SolutionColdChain, models.SolutionShipmentTracking}
	if err := w.store.EnableSolutions(ctx, w.platform.ID, models.Solutions); err != nil {
		t.Fatal(err)
	}
	if err := w.store.EnableSolutions(ctx, w.acme.ID, both); err != nil {
		t.Fatal(err)
	}
	eu, _ := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.acme.ID, Name: "Acme Europe", Subdomain: "acme-eu", Timezone: "UTC"})
	paris, _ := w.store.CreateTenant(ctx, models.NewTenant{ParentID: eu.ID, Name: "Acme Paris", Subdomain: "acme-paris", Timezone: "UTC"})
	for _, tn := range []*models.Tenant{eu, paris} {
		if err := w.store.EnableSolutions(ctx, tn.ID, both); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.SaveSubTenantSettings(ctx, w.platform.ID, w.acme.ID, models.SubTenantSettings{Solutions: []models.Solution{models.SolutionColdChain}, Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	for _, tn := range []*models.Tenant{w.acme, eu, paris} {
		sols, _ := w.store.SolutionsOf(ctx, tn.ID)
		if len(sols) != 1 || sols[0] != models.SolutionColdChain {
			t.Errorf("%s keeps %v after the parent lost Shipment Tracking", tn.Subdomain, sols)
		}
	}
	if err := w.store.SaveSubTenantSettings(ctx, w.platform.ID, w.acme.ID, models.SubTenantSettings{Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	if sols, _ := w.store.SolutionsOf(ctx, paris.ID); len(sols) != 0 {
		t.Errorf("grandchild keeps %v after the parent lost everything", sols)
	}
}
