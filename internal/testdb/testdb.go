// Package testdb gives each test a fresh, migrated database: an SQLite file by
// default, or a Postgres database when CANOPY_TEST_DATABASE_URL is set, so the
// same tests run on both.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gorm.io/gorm"

	"canopy/models"
)

// EnvVar names the Postgres server URL the tests use when set.
const EnvVar = "CANOPY_TEST_DATABASE_URL"

// AppRole is the login role tests connect as when row-level security must
// apply, as it does to the server: a member of canopy_app that owns nothing.
const AppRole = "canopy_test_app"

// Open returns a new empty, migrated database that is removed after the
// test, connected as its owner (on Postgres, the superuser of
// CANOPY_TEST_DATABASE_URL, which row-level security does not stop).
func Open(t testing.TB) *gorm.DB {
	owner, _ := open(t, false)
	return owner
}

// OpenAsApp returns a new database twice: as its owner, to set up and
// inspect data, and as the server connects, through AppRole, to which
// row-level security applies. On SQLite both are the same connection.
func OpenAsApp(t testing.TB) (owner, app *gorm.DB) {
	return open(t, true)
}

func open(t testing.TB, asApp bool) (owner, app *gorm.DB) {
	t.Helper()
	if url := os.Getenv(EnvVar); url != "" {
		return openPostgres(t, url, asApp)
	}
	db, err := models.OpenSQLite(filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = models.Close(db) })
	if err := models.Migrate(context.Background(), db, nil); err != nil {
		t.Fatal(err)
	}
	return db, db
}

var (
	templateOnce sync.Once
	templateName string
	templateErr  error
	createMu     sync.Mutex
)

// openPostgres clones a migrated template database, which is much faster than
// migrating a new database for every test.
func openPostgres(t testing.TB, serverURL string, asApp bool) (owner, app *gorm.DB) {
	t.Helper()
	admin, err := models.OpenPostgres(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(admin)

	templateOnce.Do(func() { templateName, templateErr = makeTemplate(admin, serverURL) })
	if templateErr != nil {
		t.Fatalf("prepare template database: %v", templateErr)
	}
	name := "canopy_test_" + randomSuffix()
	createMu.Lock()
	err = admin.Exec(fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, templateName)).Error
	createMu.Unlock()
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	db, err := models.OpenPostgres(withDatabase(serverURL, name))
	if err != nil {
		t.Fatal(err)
	}
	app = db
	if asApp {
		if app, err = models.OpenPostgres(asRole(withDatabase(serverURL, name), AppRole)); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		_ = models.Close(app)
		_ = models.Close(db)
		if cleaner, err := models.OpenPostgres(serverURL); err == nil {
			cleaner.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
			_ = models.Close(cleaner)
		}
	})
	return db, app
}

func makeTemplate(admin *gorm.DB, serverURL string) (string, error) {
	name := "canopy_tmpl_" + randomSuffix()
	if err := admin.Exec(fmt.Sprintf(`CREATE DATABASE %s`, name)).Error; err != nil {
		return "", err
	}
	db, err := models.OpenPostgres(withDatabase(serverURL, name))
	if err != nil {
		return "", err
	}
	defer models.Close(db)
	if err := models.Migrate(context.Background(), db, nil); err != nil {
		return "", err
	}
	// Roles belong to the whole server, and test packages run at once.
	err = db.Exec(fmt.Sprintf(`DO $$ BEGIN
		CREATE ROLE %s LOGIN IN ROLE canopy_app;
	EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
	END $$`, AppRole)).Error
	if err != nil {
		return "", fmt.Errorf("create role %s: %w", AppRole, err)
	}
	return name, nil
}

// Cleanup drops the template database; call it from TestMain after m.Run.
func Cleanup() {
	url := os.Getenv(EnvVar)
	if url == "" || templateName == "" {
		return
	}
	if admin, err := models.OpenPostgres(url); err == nil {
		admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, templateName))
		_ = models.Close(admin)
	}
}

// Main runs a package's tests and then removes its template database.
func Main(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

func withDatabase(serverURL, name string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + name
	return u.String()
}

func asRole(serverURL, role string) string {
	u, err := url.Parse(serverURL)
	if err != nil {
		panic(err)
	}
	u.User = url.User(role)
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
