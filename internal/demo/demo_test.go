package demo_test

import (
	"context"
	"testing"

	"canopy/internal/demo"
	"canopy/internal/testdb"
	"canopy/internal/webhook"
	"canopy/models"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestSeedMatchesSpecAndIsIdempotent(t *testing.T) {
	ctx := context.Background()
	store := models.NewStore(testdb.Open(t))
	for range 2 {
		if err := demo.Seed(ctx, store); err != nil {
			t.Fatal(err)
		}
	}
	tenants := []struct {
		sub, parent, owner string
		status             models.TenantStatus
		members            int64
	}{
		{"admin", "", "staff@canopy.test", models.TenantActive, 1},
		{"acme", "admin", "alice@acme.test", models.TenantActive, 3},
		{"globex", "admin", "bob@globex.test", models.TenantActive, 2},
		{"initech", "admin", "carol@initech.test", models.TenantActive, 2},
		{"acme-eu", "acme", "eve@acme.test", models.TenantActive, 1},
		{"acme-lab", "acme", "frank@acme.test", models.TenantInactive, 1},
	}
	for _, want := range tenants {
		tn, err := store.TenantBySubdomain(ctx, want.sub)
		if err != nil {
			t.Fatalf("%s: %v", want.sub, err)
		}
		owner, _ := store.UserByEmail(ctx, want.owner)
		if tn.OwnerUserID == nil || *tn.OwnerUserID != owner.ID || tn.Status != want.status {
			t.Errorf("%s: owner %v status %s", want.sub, tn.OwnerUserID, tn.Status)
		}
		if m, err := store.MembershipOf(ctx, tn.ID, owner.ID); err != nil || m.Role != models.RoleSuperAdmin {
			t.Errorf("%s: owner is not Super Admin (%v)", want.sub, err)
		}
		if n, _ := store.CountMembers(ctx, tn.ID); n != want.members {
			t.Errorf("%s: %d members, want %d", want.sub, n, want.members)
		}
		if want.parent != "" {
			parent, _ := store.TenantBySubdomain(ctx, want.parent)
			if tn.ParentID == nil || *tn.ParentID != parent.ID {
				t.Errorf("%s: parent %v, want %s", want.sub, tn.ParentID, want.parent)
			}
		}
	}
	roles := []struct {
		email, sub string
		role       models.Role
	}{
		{"bob@globex.test", "acme", models.RoleAdmin},
		{"dave@acme.test", "acme", models.RoleViewer},
		{"alice@acme.test", "globex", models.RoleEditor},
		{"alice@acme.test", "initech", models.RoleViewer},
	}
	for _, r := range roles {
		u, _ := store.UserByEmail(ctx, r.email)
		tn, _ := store.TenantBySubdomain(ctx, r.sub)
		if m, err := store.MembershipOf(ctx, tn.ID, u.ID); err != nil || m.Role != r.role {
			t.Errorf("%s in %s: %v, want %s", r.email, r.sub, err, r.role)
		}
	}
	if _, err := store.Authenticate(ctx, "dave@acme.test", demo.Password); err != nil {
		t.Errorf("demo password does not work: %v", err)
	}
}

// TestSeedKeepsChanges: a second run must not undo what people changed.
func TestSeedKeepsChanges(t *testing.T) {
	ctx := context.Background()
	store := models.NewStore(testdb.Open(t))
	if err := demo.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	lab, _ := store.TenantBySubdomain(ctx, "acme-lab")
	if err := store.SetTenantStatus(ctx, lab.ID, models.TenantActive); err != nil {
		t.Fatal(err)
	}
	if err := demo.Seed(ctx, store); err != nil {
		t.Fatal(err)
	}
	if lab, _ = store.TenantBySubdomain(ctx, "acme-lab"); lab.Status != models.TenantActive {
		t.Fatal("seeding again switched Acme Lab back off")
	}
}

// Acme's sandbox endpoint points at the development receiver with the
// published secret, once however often the demo is loaded.
func TestSeedWebhooks(t *testing.T) {
	ctx := context.Background()
	store, err := models.NewStore(testdb.OpenDemo(t)).WithWebhooks(models.WebhookSettings{SecretKey: []byte("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := demo.SeedWebhooks(ctx, store); err != nil {
			t.Fatal(err)
		}
	}
	acme, _ := store.TenantBySubdomain(ctx, "acme")
	endpoints, err := store.ListWebhookEndpoints(ctx, acme.ID, "")
	if err != nil || len(endpoints) != 1 {
		t.Fatalf("endpoints %v, %v", endpoints, err)
	}
	e := endpoints[0]
	if e.URL != "http://"+webhook.DevReceiverAddr+webhook.DevReceiverPath || e.Environment != models.WebhookSandbox ||
		len(e.EventTypes()) != len(models.WebhookEventTypes) {
		t.Errorf("endpoint %+v", e)
	}
	secrets, err := store.RevealWebhookSecret(ctx, acme.ID, e.ID)
	if err != nil || secrets.Current != webhook.DevSecret {
		t.Errorf("secret %+v, %v", secrets, err)
	}
}
