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

// plainOwnerWorld is a database of its own whose schema belongs to a plain
// role (NOSUPERUSER NOBYPASSRLS), as in production (README, canopy_owner):
// FORCEd row-level security holds it to the policies too, where the other
// tests migrate as a superuser, whom nothing holds. Migrated and seeded with
// the demo data by that owner.
type plainOwnerWorld struct {
	owner *models.Store // the plain owner
	// connect opens the database as role ("" for the server's superuser).
	connect func(role string) *gorm.DB
	appRole string // a login role in canopy_app
}

func newPlainOwnerWorld(t *testing.T) plainOwnerWorld {
	t.Helper()
	server := os.Getenv(testdb.EnvVar)
	if server == "" {
		t.Skip("row-level security is Postgres's; set " + testdb.EnvVar)
	}
	admin, err := models.OpenPostgres(server)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(admin)
	suffix := make([]byte, 6)
	_, _ = rand.Read(suffix)
	name := "canopy_plain_owner_" + hex.EncodeToString(suffix)
	appRole := name + "_app"
	for _, sql := range []string{
		"CREATE ROLE " + name + " LOGIN NOSUPERUSER NOBYPASSRLS",
		"CREATE ROLE " + appRole + " LOGIN IN ROLE canopy_app",
		"CREATE DATABASE " + name + " OWNER " + name,
	} {
		if err := admin.Exec(sql).Error; err != nil {
			t.Skipf("cannot set up a plain owner here: %s: %v", sql, err)
		}
	}
	t.Cleanup(func() {
		if admin, err := models.OpenPostgres(server); err == nil {
			admin.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			admin.Exec("DROP ROLE IF EXISTS " + appRole)
			admin.Exec("DROP ROLE IF EXISTS " + name)
			_ = models.Close(admin)
		}
	})
	connect := func(role string) *gorm.DB {
		u, err := url.Parse(server)
		if err != nil {
			t.Fatal(err)
		}
		u.Path = "/" + name
		if role != "" {
			u.User = url.User(role)
		}
		db, err := models.OpenPostgres(u.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = models.Close(db) })
		return db
	}
	ctx := context.Background()
	ownerDB := connect(name)
	if err := models.Migrate(ctx, ownerDB, nil); err != nil {
		t.Fatalf("migrate as a plain owner: %v", err)
	}
	if err := models.ProvisionScopeKey(ctx, ownerDB, testdb.ScopeKey); err != nil {
		t.Fatal(err)
	}
	owner := models.NewStore(ownerDB).WithScopeKey(testdb.ScopeKey)
	if err := demo.Seed(ctx, owner); err != nil {
		t.Fatalf("demo data as a plain owner: %v", err)
	}
	return plainOwnerWorld{owner: owner, connect: connect, appRole: appRole}
}
