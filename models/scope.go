package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// Scope is what Postgres row-level security lets a transaction see
// (migrations/postgres/00007_row_level_security.sql). It is the database's
// own wall behind Store.scoped: a query that forgets its tenant filter still
// sees only the rows its scope allows, and an empty scope sees none.
type Scope struct {
	// TenantID is the tenant of the request's host, set once the user is
	// known to be a member of it. Its rows are visible, and nothing beside
	// or above it is.
	TenantID int64
	// Subtree adds the tenants below TenantID, for those who manage them
	// (a parent's Super Admins); without it a scope sees its tenant alone.
	Subtree bool
	// UserID is the signed-in user: their own memberships, in any tenant,
	// are visible for the company toggle and the landing company.
	UserID int64

	invitationToken string // hash of an invitation link's token: that invitation
	mailer          bool   // the mail worker: the whole outbox
}

// mailerScope is the mail worker's: the outbox and nothing else.
var mailerScope = Scope{mailer: true}

type scopeKey struct{}

type requestTxKey struct{}

// requestTxHolder lets Request unbind its transaction once it has ended, so
// a context that outlives it (an error page, a panic) falls back to the pool
// instead of a finished transaction.
type requestTxHolder struct {
	tx      *gorm.DB
	applied Scope // the scope in force in tx, which Within puts back
}

// scopeFrom is the scope ctx carries; the zero Scope sees nothing.
func scopeFrom(ctx context.Context) Scope {
	scope, _ := ctx.Value(scopeKey{}).(Scope)
	return scope
}

// WithScope makes scope the one transactions started from ctx apply.
func WithScope(ctx context.Context, scope Scope) context.Context {
	return context.WithValue(ctx, scopeKey{}, scope)
}

// requestTx is the transaction Request bound to ctx, if any.
func requestTx(ctx context.Context) *gorm.DB {
	if holder := holderOf(ctx); holder != nil {
		return holder.tx
	}
	return nil
}

func holderOf(ctx context.Context) *requestTxHolder {
	holder, _ := ctx.Value(requestTxKey{}).(*requestTxHolder)
	if holder == nil || holder.tx == nil {
		return nil
	}
	return holder
}

// Request runs fn — one HTTP request's database work — in one transaction on
// Postgres, bound to the context fn receives, so that SetScope holds for
// every query of the request and ends with it: set_config(..., true) is
// local to a transaction, and a pooled connection carries nothing to the
// next request. fn returning an error rolls everything back. A deadlock or
// serialization failure comes back as ErrTryAgain, so the caller may run the
// request once more; the owner check failing at the commit as
// ErrOwnerNotSuperAdmin. On SQLite,
// whose transactions take its single write lock, fn runs as it is.
func (s *Store) Request(ctx context.Context, fn func(ctx context.Context) error) error {
	if s.Dialect() != Postgres || s.inTx {
		return fn(ctx)
	}
	holder := &requestTxHolder{}
	defer func() { holder.tx = nil }()
	ctx = context.WithValue(ctx, requestTxKey{}, holder)
	ranWhole := false
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		holder.tx = tx
		err := fn(ctx)
		ranWhole = err == nil
		return err
	})
	return s.commitError(err, ranWhole)
}

// SetScope makes scope what the rest of the request sees, from now on, and
// returns the context that carries it.
func (s *Store) SetScope(ctx context.Context, scope Scope) (context.Context, error) {
	ctx = WithScope(ctx, scope)
	if requestTx(ctx) == nil && !s.inTx {
		return ctx, nil // applied by each transaction started from ctx
	}
	if holder := holderOf(ctx); holder != nil && holder.applied == scope {
		return ctx, nil // in force already (a new transaction: nothing)
	}
	return ctx, s.applyScope(ctx, scope)
}

// Within runs fn in a transaction that sees scope instead of ctx's, then
// puts ctx's scope back. It is for the few moments a request acts beyond its
// host's tenant with a reason the database cannot know: the invitation a
// link's token names, the company a sign-in lands in, demo data.
func (s *Store) Within(ctx context.Context, scope Scope, fn func(ctx context.Context, tx *Store) error) error {
	inner := WithScope(ctx, scope)
	nested := s.inTx || requestTx(ctx) != nil
	// What to put back: the scope in force in the request's transaction,
	// else the one ctx carries (a transaction started from ctx applied it).
	restore := scopeFrom(ctx)
	holder := holderOf(ctx)
	if holder != nil {
		restore = holder.applied
	}
	err := s.Tx(inner, func(tx *Store) error {
		if nested {
			// A fresh transaction applied scope as it began.
			if err := tx.applyScope(inner, scope); err != nil {
				return err
			}
		}
		if err := fn(inner, tx); err != nil {
			return err
		}
		if !nested {
			return nil // the setting ends with the transaction
		}
		return tx.applyScope(ctx, restore)
	})
	if err != nil && holder != nil {
		holder.applied = restore // the savepoint's rollback put it back
	}
	return err
}

// applyScope sets the settings the policies read, all five at once so that
// nothing of an earlier scope survives, as bound parameters.
func (s *Store) applyScope(ctx context.Context, scope Scope) error {
	if s.Dialect() != Postgres {
		return nil
	}
	err := s.conn(ctx).Exec(`SELECT set_config('app.tenant_id', ?, true), set_config('app.subtree', ?, true),
		set_config('app.user_id', ?, true), set_config('app.invitation_token', ?, true), set_config('app.mailer', ?, true)`,
		idSetting(scope.TenantID), onSetting(scope.Subtree), idSetting(scope.UserID), scope.invitationToken, onSetting(scope.mailer)).Error
	if err != nil {
		return fmt.Errorf("set row-level security scope: %w", err)
	}
	if holder := holderOf(ctx); holder != nil {
		holder.applied = scope
	}
	return nil
}

func onSetting(on bool) string {
	if on {
		return "on"
	}
	return ""
}

func idSetting(id int64) string {
	if id <= 0 {
		return ""
	}
	return fmt.Sprint(id)
}
