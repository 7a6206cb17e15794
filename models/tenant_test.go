package models_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"canopy/internal/testdb"
	"canopy/models"
)

// world is a small tree: the platform, one company and its owner.
type world struct {
	store    *models.Store
	platform *models.Tenant
	acme     *models.Tenant
	alice    *models.User
}

func newWorld(t *testing.T) world {
	t.Helper()
	ctx := context.Background()
	store := models.NewStore(testdb.Open(t)).WithScopeKey(testdb.ScopeKey)
	staff := mustUser(t, store, "staff@canopy.test")
	platform, err := store.CreateTenant(ctx, models.NewTenant{Name: "Platform", Subdomain: "admin", Timezone: "UTC", OwnerUserID: staff.ID})
	if err != nil {
		t.Fatal(err)
	}
	alice := mustUser(t, store, "alice@acme.test")
	acme, err := store.CreateTenant(ctx, models.NewTenant{ParentID: platform.ID, Name: "Acme Corp", Subdomain: "acme", Timezone: "America/New_York", OwnerUserID: alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	return world{store: store, platform: platform, acme: acme, alice: alice}
}

func mustUser(t *testing.T, store *models.Store, email string) *models.User {
	t.Helper()
	u, err := store.CreateUser(context.Background(), models.NewUser{Email: email, FirstName: "Test", Password: "a-long-password"})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func fieldError(err error, field string) string {
	var fe models.FieldErrors
	if errors.As(err, &fe) {
		return fe[field]
	}
	return ""
}

func TestCreateTenantValidation(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bob := mustUser(t, w.store, "bob@globex.test")
	cases := []struct {
		name  string
		in    models.NewTenant
		field string
	}{
		{"taken subdomain", models.NewTenant{Name: "Other", Subdomain: "acme"}, "subdomain"},
		{"taken subdomain in another case", models.NewTenant{Name: "Other", Subdomain: "ACME"}, "subdomain"},
		{"reserved subdomain", models.NewTenant{Name: "Other", Subdomain: "www"}, "subdomain"},
		{"platform's subdomain", models.NewTenant{Name: "Other", Subdomain: "admin"}, "subdomain"},
		{"bad subdomain", models.NewTenant{Name: "Other", Subdomain: "no_way"}, "subdomain"},
		{"missing name", models.NewTenant{Subdomain: "fresh"}, "name"},
		{"unknown timezone", models.NewTenant{Name: "Other", Subdomain: "fresh", Timezone: "Mars/Olympus"}, "timezone"},
		{"bad contact email", models.NewTenant{Name: "Other", Subdomain: "fresh", ContactEmail: "nope"}, "contact_email"},
		{"owner already owns one", models.NewTenant{Name: "Other", Subdomain: "fresh", OwnerUserID: w.alice.ID}, "owner_email"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.in.ParentID = w.platform.ID
			if c.in.Timezone == "" {
				c.in.Timezone = "UTC"
			}
			_, err := w.store.CreateTenant(ctx, c.in)
			if msg := fieldError(err, c.field); msg == "" {
				t.Fatalf("err = %v, want a message for %s", err, c.field)
			}
		})
	}
	// Nothing was half-written: the failed owner case left no tenant behind.
	if _, err := w.store.TenantBySubdomain(ctx, "fresh"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a refused tenant was stored: %v", err)
	}
	if _, err := w.store.CreateTenant(ctx, models.NewTenant{Name: "Globex", Subdomain: "Globex", Timezone: "UTC", ParentID: w.platform.ID, OwnerUserID: bob.ID}); err != nil {
		t.Fatalf("valid tenant refused: %v", err)
	}
	g, err := w.store.TenantBySubdomain(ctx, "GLOBEX")
	if err != nil || g.Subdomain != "globex" {
		t.Fatalf("subdomain not stored lowercase or not found case-insensitively: %+v %v", g, err)
	}
	m, err := w.store.MembershipOf(ctx, g.ID, bob.ID)
	if err != nil || m.Role != models.RoleSuperAdmin {
		t.Fatalf("owner is not Super Admin: %+v %v", m, err)
	}
}

func TestOnlyOnePlatformTenant(t *testing.T) {
	w := newWorld(t)
	_, err := w.store.CreateTenant(context.Background(), models.NewTenant{Name: "Second root", Subdomain: "second", Timezone: "UTC"})
	if err == nil {
		t.Fatal("a second root tenant was created")
	}
	if _, err := w.store.CreateTenant(context.Background(), models.NewTenant{Name: "Orphan", Subdomain: "orphan", Timezone: "UTC", ParentID: 99999}); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("unknown parent: err = %v", err)
	}
}

// TestSubdomainUniqueUnderRace creates the same subdomain from many
// goroutines at once: the unique index, not a lookup, must let exactly one win.
func TestSubdomainUniqueUnderRace(t *testing.T) {
	w := newWorld(t)
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = w.store.CreateTenant(context.Background(), models.NewTenant{
				ParentID: w.platform.ID, Name: "Racer " + strconv.Itoa(i), Subdomain: "racer", Timezone: "UTC"})
		}()
	}
	wg.Wait()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case fieldError(err, "subdomain") == "":
			t.Errorf("loser got an unfriendly error: %v", err)
		}
	}
	if won != 1 {
		t.Fatalf("%d creations succeeded, want exactly 1", won)
	}
}

func TestTenantDetailsAreImmutable(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	// Through the model: a GORM update naming a fixed column is refused.
	changed := *w.acme
	changed.Name = "Renamed"
	if err := w.store.SaveTenantForTest(ctx, &changed); !errors.Is(err, models.ErrImmutableField) {
		t.Fatalf("model-level rename: err = %v", err)
	}
	// Below the model: raw SQL is refused by the database trigger.
	for _, stmt := range []string{
		"UPDATE tenants SET name = 'Renamed' WHERE id = ?",
		"UPDATE tenants SET subdomain = 'renamed' WHERE id = ?",
		"UPDATE tenants SET description = 'changed' WHERE id = ?",
		"UPDATE tenants SET contact_email = 'x@y.test' WHERE id = ?",
	} {
		if err := w.store.ExecForTest(ctx, stmt, w.acme.ID); err == nil {
			t.Errorf("database accepted %q", stmt)
		}
	}
	// Mutable settings still change.
	if err := w.store.SetTenantTimezone(ctx, w.acme.ID, "Europe/Paris"); err != nil {
		t.Fatal(err)
	}
	if err := w.store.SetTenantStatus(ctx, w.acme.ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	got, _ := w.store.TenantByID(ctx, w.acme.ID)
	if got.Name != "Acme Corp" || got.Timezone != "Europe/Paris" || got.Status != models.TenantInactive || !got.UpdatedAt.After(w.acme.UpdatedAt) {
		t.Fatalf("after update: %+v", got)
	}
	if err := w.store.SetTenantTimezone(ctx, w.acme.ID, "Nowhere/Land"); fieldError(err, "timezone") == "" {
		t.Fatalf("bad timezone accepted: %v", err)
	}
}

// TestDatabaseConstraints proves the rules hold even for SQL that skips Go.
func TestDatabaseConstraints(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	bad := []struct{ name, stmt string }{
		{"unknown role", "INSERT INTO memberships (tenant_id, user_id, role) VALUES (?, ?, 'owner')"},
		{"duplicate membership", "INSERT INTO memberships (tenant_id, user_id, role) VALUES (?, ?, 'viewer')"},
		{"unknown status", "UPDATE tenants SET status = 'paused' WHERE id = ? AND ? > 0"},
		{"uppercase subdomain", "INSERT INTO tenants (parent_id, name, subdomain, timezone, owner_user_id) VALUES (?, 'X', 'UPPER', 'UTC', NULL) -- ?"},
		{"second tenant for one owner", "INSERT INTO tenants (parent_id, name, subdomain, timezone, owner_user_id) VALUES (?, 'X', 'second', 'UTC', ?)"},
		{"uppercase email", "INSERT INTO users (email) VALUES ('ALICE@X.TEST') -- ? ?"},
		{"duplicate email", "INSERT INTO users (email) VALUES ('alice@acme.test') -- ? ?"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			first := w.acme.ID
			if c.name == "uppercase subdomain" || c.name == "second tenant for one owner" {
				first = w.platform.ID
			}
			if err := w.store.ExecForTest(ctx, c.stmt, first, w.alice.ID); err == nil {
				t.Fatalf("database accepted: %s", c.stmt)
			}
		})
	}
}

func TestScopedQueryRefusesZeroTenant(t *testing.T) {
	w := newWorld(t)
	if _, err := w.store.CountMembers(context.Background(), 0); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("CountMembers(0) err = %v, want ErrNoTenant", err)
	}
	if _, err := w.store.MembershipOf(context.Background(), 0, w.alice.ID); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("MembershipOf(0) err = %v, want ErrNoTenant", err)
	}
}

func TestRemoveMemberKeepsOwner(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	if err := w.store.RemoveMember(ctx, w.acme.ID, w.alice.ID); !errors.Is(err, models.ErrOwnerIsFixed) {
		t.Fatalf("owner removed: err = %v", err)
	}
	bob := mustUser(t, w.store, "bob@globex.test")
	if _, err := w.store.AddMember(ctx, w.acme.ID, bob.ID, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if err := w.store.RemoveMember(ctx, w.acme.ID, bob.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.MembershipOf(ctx, w.acme.ID, bob.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("membership still there: %v", err)
	}
	if err := w.store.RemoveMember(ctx, w.acme.ID, bob.ID); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("removing twice: err = %v", err)
	}
}
