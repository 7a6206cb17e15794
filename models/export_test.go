package models

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"gorm.io/gorm"

	"canopy/migrations"
)

// SaveTenantForTest saves a whole tenant struct, as careless code might.
func (s *Store) SaveTenantForTest(ctx context.Context, t *Tenant) error {
	return s.conn(ctx).Model(&Tenant{ID: t.ID}).Where("id = ?", t.ID).Updates(t).Error
}

// ExecForTest runs raw SQL, to prove constraints hold below the Go layer.
func (s *Store) ExecForTest(ctx context.Context, sql string, args ...any) error {
	return s.conn(ctx).Exec(sql, args...).Error
}

// CountQueries runs fn and counts the SQL statements it sends.
func (s *Store) CountQueries(fn func()) int {
	n := 0
	count := func(*gorm.DB) { n++ }
	cb := s.db.Callback()
	_ = cb.Query().After("gorm:query").Register("test:count_query", count)
	_ = cb.Row().After("gorm:row").Register("test:count_row", count)
	_ = cb.Raw().After("gorm:raw").Register("test:count_raw", count)
	defer func() {
		_ = cb.Query().Remove("test:count_query")
		_ = cb.Row().Remove("test:count_row")
		_ = cb.Raw().Remove("test:count_raw")
	}()
	fn()
	return n
}

// CreateUserForTest adds a user without hashing a password, for bulk setup.
func (s *Store) CreateUserForTest(ctx context.Context, email string) (*User, error) {
	return s.createUserWithHash(ctx, NewUser{Email: email, FirstName: "Test"}, "")
}

// DBForTest is the connection s would run a query for ctx on — inside
// Within, the transaction with its row-level security scope — for raw SQL.
func (s *Store) DBForTest(ctx context.Context) *gorm.DB { return s.conn(ctx) }

// UseProductionPasswordCost makes new hashes cost what they cost in the
// server until the test ends (test binaries otherwise hash cheaply).
func UseProductionPasswordCost(t testing.TB) {
	previous := passwordParams.Load()
	passwordParams.Store(passwordParamsFor(false))
	t.Cleanup(func() { passwordParams.Store(previous) })
}

// MigrateDownToForTest undoes the migrations after version, to test a
// migration against data written before it.
func (s *Store) MigrateDownToForTest(ctx context.Context, version int64) error {
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	fsys, err := migrations.For(string(s.Dialect()))
	if err != nil {
		return err
	}
	dialect := goose.DialectSQLite3
	if s.Dialect() == Postgres {
		dialect = goose.DialectPostgres
	}
	provider, err := goose.NewProvider(dialect, sqlDB, fsys)
	if err != nil {
		return err
	}
	if _, err = provider.DownTo(ctx, version); err != nil {
		return err
	}
	s.forgetPreparedStatements(sqlDB)
	return nil
}

// MigrateForTest brings the schema up to date again.
func (s *Store) MigrateForTest(ctx context.Context) error {
	if err := Migrate(ctx, s.db, nil); err != nil {
		return err
	}
	sqlDB, err := s.db.DB()
	if err != nil {
		return err
	}
	s.forgetPreparedStatements(sqlDB)
	return nil
}

// forgetPreparedStatements closes the pooled connections once a migration
// changed the shape of a table: on Postgres each connection keeps the
// statements it prepared, and one prepared before fails after ("cached plan
// must not change result type").
func (s *Store) forgetPreparedStatements(sqlDB *sql.DB) {
	if s.Dialect() != Postgres {
		return
	}
	open := sqlDB.Stats().MaxOpenConnections
	sqlDB.SetMaxIdleConns(0)
	sqlDB.SetMaxIdleConns(open)
}

// ScopeKeyPadsForTest is key as the scope_key table holds it.
func ScopeKeyPadsForTest(key []byte) (inner, outer []byte) { return scopeKeyPads(key) }

// ScopeSignatureForTest is the signature a store with key gives scope.
func ScopeSignatureForTest(key []byte, scope Scope) string {
	return scopeSignature(key, scope.settings())
}

// PasswordHashForTest reads a user's password hash straight from its table
// ("" for none), as only the owner may.
func (s *Store) PasswordHashForTest(ctx context.Context, userID int64) string {
	var hashes []string
	s.conn(ctx).Model(&userPassword{}).Where("user_id = ?", userID).Pluck("hash", &hashes)
	if len(hashes) == 0 {
		return ""
	}
	return hashes[0]
}

// SetNowForTest sets the store's clock (GORM's NowFunc), which every
// timestamp the store writes and billing's days come from.
func (s *Store) SetNowForTest(now func() time.Time) { s.db.NowFunc = now }

// BillingWorkerScopeForTest is the closing job's scope.
func BillingWorkerScopeForTest() Scope { return billingWorkerScope }

// OpenConnectionsInUseForTest is how many of the pool's connections are
// taken: none once every request has ended.
func (s *Store) OpenConnectionsInUseForTest() int {
	pool, err := s.db.DB()
	if err != nil {
		return -1
	}
	return pool.Stats().InUse
}

// ToggleBySQLForTest reads the toggle with toggleSQL itself, which SQLite
// runs and PostgreSQL's canopy_company_toggle must agree with.
func (s *Store) ToggleBySQLForTest(ctx context.Context, userID, currentID int64) (Toggle, error) {
	var rows []struct {
		Company
		Total     int64
		Additions int64
	}
	err := s.conn(ctx).Raw(toggleSQL, sql.Named("user", userID), sql.Named("current", currentID), sql.Named("size", ToggleSize)).Scan(&rows).Error
	out := Toggle{}
	for _, r := range rows {
		out.Companies = append(out.Companies, r.Company)
		out.Total, out.Additions = r.Total, r.Additions
	}
	return out, err
}
