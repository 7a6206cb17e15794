package models_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/demo"
	"canopy/internal/testdb"
	"canopy/models"
)

// TestMigrationsBackfillAsAPlainOwner: in production the schema's owner is
// a plain role (NOSUPERUSER NOBYPASSRLS), which FORCEd row-level security
// holds to the policies like the application: a migration that fills a new
// column of existing rows must lift it for that UPDATE, or fill nothing.
// The demo data is written at the latest version, the migrations since the
// tree per row are undone and done again by such an owner, and every copy
// they fill must be there.
func TestMigrationsBackfillAsAPlainOwner(t *testing.T) {
	server := os.Getenv(testdb.EnvVar)
	if server == "" {
		t.Skip("postgres only")
	}
	admin, err := models.OpenPostgres(server)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(admin)
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "canopy_plain_owner_" + hex.EncodeToString(suffix)
	for _, sql := range []string{
		"CREATE ROLE " + name + " LOGIN NOSUPERUSER NOBYPASSRLS",
		"CREATE DATABASE " + name + " OWNER " + name,
	} {
		if err := admin.Exec(sql).Error; err != nil {
			t.Skipf("%s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		if admin, err := models.OpenPostgres(server); err == nil {
			admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			admin.Exec("DROP ROLE IF EXISTS " + name)
			_ = models.Close(admin)
		}
	})
	u, _ := url.Parse(server)
	u.Path, u.User = "/"+name, url.User(name)
	ownerDB, err := models.OpenPostgres(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = models.Close(ownerDB) })
	ctx := context.Background()
	if err := models.Migrate(ctx, ownerDB, nil); err != nil {
		t.Fatal(err)
	}
	if err := models.ProvisionScopeKey(ctx, ownerDB, testdb.ScopeKey); err != nil {
		t.Fatal(err)
	}
	owner := models.NewStore(ownerDB).WithScopeKey(testdb.ScopeKey)
	if err := demo.Seed(ctx, owner); err != nil {
		t.Fatal(err)
	}
	report := func(label string, db *gorm.DB) {
		t.Helper()
		var r struct {
			Empty, Deep, NoPerson, NoTenantCopy int64
		}
		err := db.Raw(`SELECT
			(SELECT count(*) FROM tenants WHERE parent_id IS NOT NULL AND ancestor_ids = '{}') AS empty,
			(SELECT count(*) FROM tenants WHERE cardinality(ancestor_ids) >= 2) AS deep,
			(SELECT count(*) FROM memberships WHERE person_email = '') AS no_person,
			(SELECT count(*) FROM memberships WHERE tenant_sort_name = '') AS no_tenant_copy`).Scan(&r).Error
		if err != nil {
			t.Fatal(err)
		}
		if r.Empty != 0 || r.Deep == 0 || r.NoPerson != 0 || r.NoTenantCopy != 0 {
			t.Errorf("%s: sub-tenants without ancestors %d (and %d two levels down), memberships without their person %d, without their company %d",
				label, r.Empty, r.Deep, r.NoPerson, r.NoTenantCopy)
		}
	}
	// Read as the superuser, whom nothing hides.
	u2, _ := url.Parse(server)
	u2.Path = "/" + name
	su, err := models.OpenPostgres(u2.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = models.Close(su) })
	report("seeded at head (triggers)", su)
	if err := owner.MigrateDownToForTest(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if err := owner.MigrateForTest(ctx); err != nil {
		t.Fatal(err)
	}
	report("data from before 00031, migrated by the plain owner", su)
	if t.Failed() {
		t.Log("a backfill under FORCE ROW LEVEL SECURITY needs ALTER TABLE … NO FORCE around it")
	}
}
