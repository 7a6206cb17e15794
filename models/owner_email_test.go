package models_test

import (
	"context"
	"testing"

	"canopy/models"
)

// TestTenantsKeepTheirOwnersEmail: each company carries its owner's email
// for the lists that show it, kept by the database through a new company,
// an owner's new address, a change of owner, and a statement that writes
// the column itself.
func TestTenantsKeepTheirOwnersEmail(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@globex.test")
	globex, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.platform.ID, Name: "Globex", Subdomain: "globex", Timezone: "UTC", OwnerUserID: bob.ID})
	if err != nil {
		t.Fatal(err)
	}
	ownerShown := func(t *testing.T, tenantID int64) string {
		t.Helper()
		page, err := w.store.SubTenants(ctx, w.platform.ID, "", models.PageRequest{Number: 1, Size: 25})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range page.Items {
			if st.ID == tenantID {
				return st.OwnerEmail
			}
		}
		t.Fatalf("tenant %d not listed", tenantID)
		return ""
	}
	steps := []struct {
		name   string
		change string
		args   []any
		acme   string
		globex string
	}{
		{"created with their owners", "", nil, "alice@acme.test", "bob@globex.test"},
		{"an owner's new address", "UPDATE users SET email = ? WHERE id = ?", []any{"alice@new.test", w.alice.ID}, "alice@new.test", "bob@globex.test"},
		{"another person's new address", "UPDATE users SET email = ? WHERE id = ?", []any{"robert@globex.test", bob.ID}, "alice@new.test", "robert@globex.test"},
		{"the column written by hand", "UPDATE tenants SET owner_email = ? WHERE id = ?", []any{"mallory@evil.test", w.acme.ID}, "alice@new.test", "robert@globex.test"},
		{"no owner", "UPDATE tenants SET owner_user_id = NULL WHERE id = ?", []any{globex.ID}, "alice@new.test", ""},
		{"an owner again", "UPDATE tenants SET owner_user_id = ? WHERE id = ?", []any{bob.ID, globex.ID}, "alice@new.test", "robert@globex.test"},
	}
	for _, step := range steps {
		if step.change != "" {
			if err := w.store.ExecForTest(ctx, step.change, step.args...); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
		}
		if got := ownerShown(t, w.acme.ID); got != step.acme {
			t.Errorf("%s: Acme's owner shown as %q, want %q", step.name, got, step.acme)
		}
		if got := ownerShown(t, globex.ID); got != step.globex {
			t.Errorf("%s: Globex's owner shown as %q, want %q", step.name, got, step.globex)
		}
	}
}

// TestRLSOwnersNewAddressReachesTheirCompany: a person changes their address
// on the base domain, in a scope that sees none of their companies, and the
// company they own shows it; no scope can write the copy itself.
func TestRLSOwnersNewAddressReachesTheirCompany(t *testing.T) {
	w := newRLSWorld(t)
	alice := w.userID(t, "alice@acme.test")
	if _, err := w.try(models.Scope{UserID: alice}, "UPDATE users SET email = 'alice@elsewhere.test' WHERE id = ?", alice); err != nil {
		t.Fatal(err)
	}
	if _, err := w.try(models.Scope{TenantID: w.tenant["acme"], Subtree: true, UserID: alice},
		"UPDATE tenants SET owner_email = 'mallory@evil.test' WHERE id = ?", w.tenant["acme"]); err != nil {
		t.Fatal(err)
	}
	var shown string
	if err := w.owner.Raw("SELECT owner_email FROM tenants WHERE id = ?", w.tenant["acme"]).Scan(&shown).Error; err != nil {
		t.Fatal(err)
	}
	if shown != "alice@elsewhere.test" {
		t.Fatalf("Acme's owner_email = %q, want the owner's new address", shown)
	}
}
