package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Store is Canopy's data layer. Handlers reach the database only through it,
// so transactions and tenant scoping each live in exactly one place here.
type Store struct {
	db       *gorm.DB
	inTx     bool             // db is a transaction opened by Tx
	scopeKey []byte           // signs the scopes it applies (WithScopeKey)
	detached *gorm.DB         // the pool Detached runs on, if not db (WithDetachedPool)
	webhooks *webhookSettings // seals endpoint secrets, checks URLs (WithWebhooks)
}

// NewStore wraps an open database.
func NewStore(db *gorm.DB) *Store { return &Store{db: db} }

// Dialect tells which database the store talks to.
func (s *Store) Dialect() Dialect { return DialectOf(s.db) }

// Ping checks the database answers, for health checks.
func (s *Store) Ping(ctx context.Context) error { return Ping(ctx, s.db) }

// Tx runs fn in one transaction: every write fn makes lands, or none does.
// It is the only way Canopy opens a transaction (Request opens the one a
// whole request runs in, inside which Tx makes a savepoint). A transaction
// of its own starts by applying ctx's row-level security scope.
//
// A transaction of its own is checked by the database as it commits (the
// owner of every company it touched is its Super Admin); a failed check
// arrives as ErrOwnerNotSuperAdmin, a deadlock as ErrTryAgain.
func (s *Store) Tx(ctx context.Context, fn func(tx *Store) error) error {
	nested := s.inTx || requestTx(ctx) != nil
	ranWhole := false
	err := s.conn(ctx).Transaction(func(tx *gorm.DB) error {
		inner := &Store{db: tx, inTx: true, scopeKey: s.scopeKey, webhooks: s.webhooks}
		if scope := scopeFrom(ctx); !nested && scope != (Scope{}) {
			if err := inner.applyScope(ctx, scope); err != nil {
				return err
			}
		}
		err := fn(inner)
		if err == nil && !nested {
			err = inner.checkOwnersBeforeCommit(ctx)
		}
		ranWhole = err == nil
		return err
	})
	if nested {
		return err
	}
	return s.commitError(err, ranWhole)
}

// checkOwnersBeforeCommit runs, on SQLite, the check its deferred foreign
// key would make at the commit (migrations/sqlite/00013), so that a refused
// transaction is rolled back: a COMMIT that fails leaves SQLite's
// transaction open, and database/sql would hand that connection, mid
// transaction, to the next caller. Postgres ends a transaction whose commit
// fails, and checks on its own.
func (s *Store) checkOwnersBeforeCommit(ctx context.Context) error {
	if s.Dialect() != SQLite {
		return nil
	}
	var broken []int64
	err := s.conn(ctx).Raw(`SELECT tenant_id FROM tenant_owners WHERE NOT EXISTS (SELECT 1 FROM memberships AS m
		WHERE m.tenant_id = tenant_owners.tenant_id AND m.user_id = tenant_owners.user_id AND m.role = tenant_owners.role) LIMIT 1`).
		Scan(&broken).Error
	if err != nil && strings.Contains(err.Error(), "no such table: tenant_owners") {
		return nil // a schema from before migration 00013 (a test of an older migration): nothing to check
	}
	if err != nil {
		return fmt.Errorf("check owners: %w", err)
	}
	if len(broken) > 0 {
		return fmt.Errorf("tenant %d: %w", broken[0], ErrOwnerNotSuperAdmin)
	}
	return nil
}

// commitError names what a transaction's end refused: a commit the deferred
// owner check failed (on SQLite, any deferred foreign key is that check's),
// or a deadlock or serialization failure at any point.
func (s *Store) commitError(err error, atCommit bool) error {
	switch {
	case err == nil:
		return nil
	case violatesOwnerInvariant(err, atCommit):
		return fmt.Errorf("%w: %w", ErrOwnerNotSuperAdmin, err)
	case mustRetry(err):
		return fmt.Errorf("%w: %w", ErrTryAgain, err)
	}
	return err
}

// violatesOwnerInvariant tells whether err is the database refusing a tenant
// whose owner is not its Super Admin (migrations 00013): on Postgres the
// constraint trigger's error, wherever it arrives; on SQLite a foreign key
// failing at the commit, which only tenant_owners' deferred one can.
func violatesOwnerInvariant(err error, atCommit bool) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23514" && pgErr.ConstraintName == "tenants_owner_is_super_admin"
	}
	return atCommit && strings.Contains(err.Error(), "FOREIGN KEY constraint failed")
}

// mustRetry tells whether Postgres gave up on a transaction so that another
// could go on (a deadlock, or a serialization failure): the same work run
// again usually succeeds.
func mustRetry(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// conn is the connection for ctx: the transaction this store is, else the
// request's transaction, else the pool. Used as it is for what is not
// tenant-owned (users, the tenant tree itself).
func (s *Store) conn(ctx context.Context) *gorm.DB {
	if !s.inTx {
		if tx := requestTx(ctx); tx != nil {
			return tx.WithContext(ctx)
		}
	}
	return s.db.WithContext(ctx)
}

// scoped is the one place that restricts a query to one tenant's rows. A zero
// tenant id is an error, never an unscoped query: GORM would silently drop a
// zero value from a struct condition, so the column is named explicitly.
func (s *Store) scoped(ctx context.Context, tenantID int64) *gorm.DB {
	db := s.conn(ctx)
	if tenantID <= 0 {
		_ = db.AddError(ErrNoTenant)
		return db
	}
	return db.Where("tenant_id = ?", tenantID)
}

// inSubtree is the one place that decides whether a tenant is below
// another, for those who manage a subtree (a tenant's Super Admins): it
// walks up from tenantID (Store.lineage, one statement) and returns the way
// down from rootID to it. A tenant that is not strictly below rootID —
// rootID itself, one above it or in another tree, an unknown id — is
// ErrNotFound, never a refusal that would say it exists. Row-level security
// (app.subtree) draws the same line in the database.
func (s *Store) inSubtree(ctx context.Context, rootID, tenantID int64) (TreePath, error) {
	if rootID <= 0 {
		return nil, ErrNoTenant
	}
	l, err := s.LineageByID(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("load sub-tenant: %w", err)
	}
	for i := 1; i < len(l); i++ {
		if l[i].ID != rootID {
			continue
		}
		path := make(TreePath, 0, i+1)
		for j := i; j >= 0; j-- {
			path = append(path, l[j])
		}
		return path, nil
	}
	return nil, fmt.Errorf("load sub-tenant: %w", ErrNotFound)
}

// uniqueIndexes maps each unique constraint to how SQLite names it in its
// error message: by index name for expression indexes, by columns otherwise.
var uniqueIndexes = map[string]string{ //nolint:gosec // G101: constraint names ("credential_id"), not credentials
	"users_email_key":               "index 'users_email_key'",
	"templates_tenant_name_key":     "index 'templates_tenant_name_key'",
	"tenants_subdomain_key":         "index 'tenants_subdomain_key'",
	"billing_plans_name_key":        "index 'billing_plans_name_key'",
	"tenants_parent_name_key":       "index 'tenants_parent_name_key'",
	"tenants_owner_key":             "tenants.owner_user_id",
	"memberships_tenant_user_key":   "memberships.tenant_id, memberships.user_id",
	"invitations_pending_key":       "invitations.tenant_id, invitations.email",
	"devices_tenant_identifier_key": "index 'devices_tenant_identifier_key'",
	"orders_tenant_reference_key":   "index 'orders_tenant_reference_key'",
	// SQLite's key leaves tenant_id out, PostgreSQL's has it (00039): an API key is one tenant's.
	"api_idempotency_keys_tenant_key_idempotency_key": "api_idempotency_keys.api_key_id, api_idempotency_keys.idempotency_key",
	"user_passkeys_credential_id_key":                 "user_passkeys.credential_id",
	// A partial index on a column: SQLite names the column.
	"production_access_requests_one_pending": "production_access_requests.tenant_id",
}

// violatesUnique tells whether err is a duplicate-key error on constraint.
func violatesUnique(err error, constraint string) bool {
	if err == nil {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "23505" && pgErr.ConstraintName == constraint
	}
	hint, ok := uniqueIndexes[constraint]
	msg := err.Error()
	return ok && strings.Contains(msg, "UNIQUE constraint failed") && strings.Contains(msg, hint)
}

// refusedAsImmutable tells whether the database trigger refused a change to a
// tenant's fixed details.
func refusedAsImmutable(err error) bool {
	return err != nil && strings.Contains(err.Error(), "tenant details are immutable")
}

// notFound turns GORM's record-not-found into ErrNotFound, wrapping the rest.
func notFound(err error, what string) error {
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return fmt.Errorf("%s: %w", what, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// changed checks an UPDATE or DELETE of one record that the transaction has
// locked and read: no row affected means it changed under the transaction
// after all, which is refused as ErrChangedMeanwhile, never ignored.
func changed(res *gorm.DB, what string) error {
	if res.Error != nil {
		return fmt.Errorf("%s: %w", what, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("%s: %w", what, ErrChangedMeanwhile)
	}
	return nil
}

// forUpdate locks the rows q reads until the transaction ends, on Postgres,
// as an UPDATE of them would (FOR NO KEY UPDATE: rows referring to them, an
// audit event or a member's templates, can still be inserted meanwhile).
// SQLite runs one writing transaction at a time, so the same statement runs
// there without the clause.
func (s *Store) forUpdate(q *gorm.DB) *gorm.DB {
	if s.Dialect() != Postgres {
		return q
	}
	return q.Clauses(clause.Locking{Strength: "NO KEY UPDATE"})
}

// Kinds of work that take turns within one tenant (lockTenantFor).
const (
	lockTemplateDeletes int32 = iota + 1
	lockTreeMarks
)

// lockTenantFor makes the rest of the transaction wait for any other
// transaction doing the same kind of work in the same tenant, on Postgres,
// until it ends (an advisory lock, which blocks no reads or writes of the
// tenant's rows). SQLite runs one writing transaction at a time already.
func (s *Store) lockTenantFor(ctx context.Context, kind int32, tenantID int64) error {
	if s.Dialect() != Postgres {
		return nil
	}
	// The lock's second key is 32 bits: tenants whose ids share their low
	// 32 bits would only take turns with each other, which is harmless.
	if err := s.conn(ctx).Exec("SELECT pg_advisory_xact_lock(?, ?)", kind, int32(tenantID)).Error; err != nil { //nolint:gosec // G115: see above
		return fmt.Errorf("wait for the tenant's other work: %w", err)
	}
	return nil
}
