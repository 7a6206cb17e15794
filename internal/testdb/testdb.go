// Package testdb gives each test a fresh, migrated database: an SQLite file by
// default, or a Postgres database when CANOPY_TEST_DATABASE_URL is set, so the
// same tests run on both.
//
// Migrating (and loading the demo data) takes far longer than copying the
// result, so each test binary builds every starting state once, as a
// template, and each test gets a copy of it: a copied file on SQLite, a
// database created from the template on Postgres.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/demo"
	"canopy/models"
)

// EnvVar names the Postgres server URL the tests use when set.
const EnvVar = "CANOPY_TEST_DATABASE_URL"

// AppRole is the login role tests connect as when row-level security must
// apply, as it does to the server: a member of canopy_app that owns nothing.
const AppRole = "canopy_test_app"

// ScopeKey is the key every test database holds for signed scopes, written
// by the owner as `canopy migrate` writes the server's (models.ProvisionScopeKey).
// A store of the application role signs with it: models.NewStore(app).WithScopeKey(testdb.ScopeKey).
var ScopeKey = []byte("canopy test scope key, 32+ bytes, not a secret")

// Open returns a new empty, migrated database that is removed after the
// test, connected as its owner (on Postgres, the superuser of
// CANOPY_TEST_DATABASE_URL, which row-level security does not stop).
func Open(t testing.TB) *gorm.DB {
	owner, _ := open(t, migrated, false)
	return owner
}

// OpenAsApp returns a new database twice: as its owner, to set up and
// inspect data, and as the server connects, through AppRole, to which
// row-level security applies. On SQLite both are the same connection.
func OpenAsApp(t testing.TB) (owner, app *gorm.DB) {
	return open(t, migrated, true)
}

// OpenDemo is Open with the demo data loaded.
func OpenDemo(t testing.TB) *gorm.DB {
	owner, _ := open(t, withDemo, false)
	return owner
}

// OpenDemoAsApp is OpenAsApp with the demo data loaded.
func OpenDemoAsApp(t testing.TB) (owner, app *gorm.DB) {
	return open(t, withDemo, true)
}

// template is a starting state, built at most once per test binary.
type template struct {
	label string
	load  func(ctx context.Context, db *gorm.DB) error // after migrating; nil for nothing
	once  sync.Once
	ref   string // the SQLite file, or the Postgres database name
	err   error
}

var (
	migrated = &template{label: "migrated"}
	withDemo = &template{label: "demo", load: func(ctx context.Context, db *gorm.DB) error {
		return demo.Seed(ctx, models.NewStore(db))
	}}
	templates = []*template{migrated, withDemo}
)

// prepare brings a new database to the template's state.
func (tp *template) prepare(db *gorm.DB) error {
	ctx := context.Background()
	if err := models.Migrate(ctx, db, nil); err != nil {
		return err
	}
	if err := models.ProvisionScopeKey(ctx, db, ScopeKey); err != nil {
		return err
	}
	if tp.load == nil {
		return nil
	}
	return tp.load(ctx, db)
}

func open(t testing.TB, tp *template, asApp bool) (owner, app *gorm.DB) {
	t.Helper()
	if url := os.Getenv(EnvVar); url != "" {
		return openPostgres(t, url, tp, asApp)
	}
	return openSQLite(t, tp)
}

// sqliteDir holds the SQLite templates of this test binary.
var sqliteDir struct {
	once sync.Once
	path string
	err  error
}

func openSQLite(t testing.TB, tp *template) (owner, app *gorm.DB) {
	t.Helper()
	tp.once.Do(func() { tp.ref, tp.err = makeSQLiteTemplate(tp) })
	if tp.err != nil {
		t.Fatalf("prepare the %s template database: %v", tp.label, tp.err)
	}
	path := filepath.Join(t.TempDir(), "test.db")
	if err := copyFile(tp.ref, path); err != nil {
		t.Fatal(err)
	}
	db, err := models.OpenSQLite(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = models.Close(db) })
	return db, db
}

func makeSQLiteTemplate(tp *template) (string, error) {
	sqliteDir.once.Do(func() { sqliteDir.path, sqliteDir.err = os.MkdirTemp("", "canopy-testdb-") })
	if sqliteDir.err != nil {
		return "", sqliteDir.err
	}
	path := filepath.Join(sqliteDir.path, tp.label+".db")
	db, err := models.OpenSQLite(path)
	if err != nil {
		return "", err
	}
	if err := tp.prepare(db); err != nil {
		_ = models.Close(db)
		return "", err
	}
	// Everything into the main file, so that copying it copies it all.
	if err := db.Exec("PRAGMA wal_checkpoint(TRUNCATE)").Error; err != nil {
		_ = models.Close(db)
		return "", err
	}
	return path, models.Close(db)
}

func copyFile(from, to string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		_ = dst.Close()
		return err
	}
	return dst.Close()
}

// createMu serialises CREATE DATABASE … TEMPLATE, which fails while another
// session is copying the same template.
var createMu sync.Mutex

// openPostgres creates a database from the template's, connected as its
// owner and, when asApp, also as AppRole.
func openPostgres(t testing.TB, serverURL string, tp *template, asApp bool) (owner, app *gorm.DB) {
	t.Helper()
	admin, err := models.OpenPostgres(serverURL)
	if err != nil {
		t.Fatal(err)
	}
	defer models.Close(admin)

	tp.once.Do(func() { tp.ref, tp.err = makePostgresTemplate(admin, serverURL, tp) })
	if tp.err != nil {
		t.Fatalf("prepare the %s template database: %v", tp.label, tp.err)
	}
	name := "canopy_test_" + randomSuffix()
	createMu.Lock()
	err = admin.Exec(fmt.Sprintf(`CREATE DATABASE %s TEMPLATE %s`, name, tp.ref)).Error
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
		dropDatabase(serverURL, name)
	})
	return db, app
}

func makePostgresTemplate(admin *gorm.DB, serverURL string, tp *template) (string, error) {
	name := "canopy_tmpl_" + tp.label + "_" + randomSuffix()
	if err := admin.Exec(fmt.Sprintf(`CREATE DATABASE %s`, name)).Error; err != nil {
		return "", err
	}
	db, err := models.OpenPostgres(withDatabase(serverURL, name))
	if err != nil {
		return "", err
	}
	defer models.Close(db)
	if err := tp.prepare(db); err != nil {
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

func dropDatabase(serverURL, name string) {
	if admin, err := models.OpenPostgres(serverURL); err == nil {
		admin.Exec(fmt.Sprintf(`DROP DATABASE IF EXISTS %s WITH (FORCE)`, name))
		_ = models.Close(admin)
	}
}

// Cleanup removes the templates; Main calls it after the tests.
func Cleanup() {
	if url := os.Getenv(EnvVar); url != "" {
		for _, tp := range templates {
			if tp.ref != "" {
				dropDatabase(url, tp.ref)
			}
		}
	}
	if sqliteDir.path != "" {
		_ = os.RemoveAll(sqliteDir.path)
	}
}

// Main runs a package's tests and then removes its template databases.
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
