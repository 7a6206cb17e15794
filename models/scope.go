package models

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

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
	webhookWorker   bool   // the webhook worker: the webhook tables of every tenant
	billingWorker   bool   // the statement closing job: the billing tables of every tenant
}

// mailerScope is the mail worker's: the outbox and nothing else.
var mailerScope = Scope{mailer: true}

// webhookWorkerScope is the webhook delivery worker's: the four webhook
// tables of every tenant, queueing the email that an endpoint was
// disabled, and that one audit action (migrations/postgres/00024).
var webhookWorkerScope = Scope{webhookWorker: true}

// billingWorkerScope is the closing job's: the billing tables of every
// tenant and nothing else of theirs (migrations/postgres/00025).
var billingWorkerScope = Scope{billingWorker: true}

type scopeKey struct{}

type requestTxKey struct{}

// requestTxHolder is the transaction of one request (Request). It begins on
// first use: with the request's frame pipelined behind it (LoadFrame), or
// alone when something else comes first. Request unbinds it once ended, so
// a context that outlives it (an error page, a panic) falls back to the
// pool instead of a finished transaction.
type requestTxHolder struct {
	store   *Store
	ctx     context.Context // the request's, for beginning
	tx      *gorm.DB        // nil until begun
	ended   bool
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

// requestTx is the transaction Request bound to ctx, begun now if it has
// not been yet; nil outside a request's.
func requestTx(ctx context.Context) *gorm.DB {
	holder := holderOf(ctx)
	if holder == nil {
		return nil
	}
	if holder.tx == nil {
		holder.tx = holder.store.db.WithContext(holder.ctx).Begin()
	}
	return holder.tx
}

func holderOf(ctx context.Context) *requestTxHolder {
	holder, _ := ctx.Value(requestTxKey{}).(*requestTxHolder)
	if holder == nil || holder.ended {
		return nil
	}
	return holder
}

// Request runs fn — one HTTP request's database work — in one transaction on
// Postgres, bound to the context fn receives, so that SetScope holds for
// every query of the request and ends with it: set_config(..., true) is
// local to a transaction, and a pooled connection carries nothing to the
// next request. The transaction begins with the request's first statement
// (LoadFrame sends BEGIN in the same round trip as the frame); a request
// that sends none never takes a connection. fn returning an error rolls
// everything back. A deadlock or serialization failure comes back as
// ErrTryAgain, so the caller may run the request once more; the owner
// check failing at the commit as ErrOwnerNotSuperAdmin. On SQLite, whose
// transactions take its single write lock, fn runs as it is.
func (s *Store) Request(ctx context.Context, fn func(ctx context.Context) error) (err error) {
	if s.Dialect() != Postgres || s.inTx {
		return fn(ctx)
	}
	holder := &requestTxHolder{store: s, ctx: ctx}
	defer func() {
		if holder.tx != nil && !holder.ended {
			holder.ended = true
			holder.tx.Rollback() // a panic: nothing of it lands
		}
	}()
	err = fn(context.WithValue(ctx, requestTxKey{}, holder))
	holder.ended = true
	if holder.tx == nil {
		return err
	}
	if err == nil {
		err = holder.tx.Error
	}
	if err != nil {
		holder.tx.Rollback()
		return s.commitError(err, false)
	}
	return s.commitError(holder.tx.Commit().Error, true)
}

// SetScope makes scope what the rest of the request sees, from now on, and
// returns the context that carries it.
func (s *Store) SetScope(ctx context.Context, scope Scope) (context.Context, error) {
	ctx = WithScope(ctx, scope)
	holder := holderOf(ctx)
	if holder == nil && !s.inTx {
		return ctx, nil // applied by each transaction started from ctx
	}
	if holder != nil && holder.applied == scope {
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

// applyScope sets the settings the policies read, all six at once so that
// nothing of an earlier scope survives, as bound parameters: the five values
// and their signature (scopeSignature), without which the database's
// accessors see no scope at all (00018_signed_scope.sql).
func (s *Store) applyScope(ctx context.Context, scope Scope) error {
	if s.Dialect() != Postgres {
		return nil
	}
	values := scope.settings()
	err := s.conn(ctx).Exec(`SELECT set_config('app.tenant_id', ?, true), set_config('app.subtree', ?, true),
		set_config('app.user_id', ?, true), set_config('app.invitation_token', ?, true), set_config('app.mailer', ?, true),
		set_config('app.scope_sig', ?, true)`,
		values[0], values[1], values[2], values[3], values[4], scopeSignature(s.scopeKey, values)).Error
	if err != nil {
		return fmt.Errorf("set row-level security scope: %w", err)
	}
	if holder := holderOf(ctx); holder != nil {
		holder.applied = scope
	}
	return nil
}

// settings are the scope's values as the database reads them, in the order
// the signature covers them: tenant, subtree, user, invitation token, and
// the worker (app.mailer: "on" for the mail worker, "webhooks" for the
// webhook worker, "billing" for the closing job).
func (scope Scope) settings() [5]string {
	return [5]string{idSetting(scope.TenantID), onSetting(scope.Subtree), idSetting(scope.UserID),
		scope.invitationToken, scope.workerSetting()}
}

func (scope Scope) workerSetting() string {
	switch {
	case scope.mailer:
		return "on"
	case scope.webhookWorker:
		return "webhooks"
	case scope.billingWorker:
		return "billing"
	}
	return ""
}

// scopeSignature is the HMAC-SHA256, in hex, of the settings' canonical
// encoding, which app_verified_scope() rebuilds from the settings in force:
// a version line, then each value on its own line prefixed by its length in
// bytes, so that no value can pose as another. Without a key it is empty,
// which the database takes as no scope.
func scopeSignature(key []byte, values [5]string) string {
	if len(key) == 0 {
		return ""
	}
	lines := []string{scopeSignatureVersion}
	for _, v := range values {
		lines = append(lines, strconv.Itoa(len(v))+":"+v)
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(mac.Sum(nil))
}

const scopeSignatureVersion = "canopy-scope-v1"

// WithScopeKey returns a store that signs the scopes it applies with key, the
// key ProvisionScopeKey gave the database. A store without one applies scopes
// the database does not believe: on PostgreSQL under row-level security it
// sees nothing.
func (s *Store) WithScopeKey(key []byte) *Store {
	signed := *s
	signed.scopeKey = key
	return &signed
}

// ProvisionScopeKey gives the database the key the server signs scopes with.
// db must connect as the tables' owner: the application role can neither
// read nor write it, which is the point. Nothing on SQLite, which has no
// scope settings.
func ProvisionScopeKey(ctx context.Context, db *gorm.DB, key []byte) error {
	if DialectOf(db) != Postgres {
		return nil
	}
	if len(key) < 32 {
		return errors.New("scope key: at least 32 bytes")
	}
	inner, outer := scopeKeyPads(key)
	// In hex: GORM would spread a []byte over one placeholder per byte.
	err := db.WithContext(ctx).Exec(`INSERT INTO scope_key (inner_pad, outer_pad) VALUES (decode(?, 'hex'), decode(?, 'hex'))
		ON CONFLICT (id) DO UPDATE SET inner_pad = EXCLUDED.inner_pad, outer_pad = EXCLUDED.outer_pad
		WHERE scope_key.inner_pad IS DISTINCT FROM EXCLUDED.inner_pad`, hex.EncodeToString(inner), hex.EncodeToString(outer)).Error
	if err != nil {
		return fmt.Errorf("write the scope key (as the tables' owner): %w", err)
	}
	return nil
}

// scopeKeyPads are key as HMAC-SHA256 uses it (RFC 2104): shortened by
// hashing when longer than SHA-256's 64-byte block, zero-padded to it, and
// XORed with 0x36 and 0x5c. The database keeps these, so its built-in
// sha256() computes the same HMAC as crypto/hmac.
func scopeKeyPads(key []byte) (inner, outer []byte) {
	block := make([]byte, sha256.BlockSize)
	if len(key) > sha256.BlockSize {
		sum := sha256.Sum256(key)
		key = sum[:]
	}
	copy(block, key)
	inner, outer = make([]byte, len(block)), make([]byte, len(block))
	for i, b := range block {
		inner[i], outer[i] = b^0x36, b^0x5c
	}
	return inner, outer
}

// CheckScopeKey asks the database whether it verifies this store's
// signatures, so a server whose key it does not hold stops at start-up
// instead of serving empty pages.
func (s *Store) CheckScopeKey(ctx context.Context) error {
	if s.Dialect() != Postgres {
		return nil
	}
	var verified bool
	err := s.Within(ctx, mailerScope, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Raw("SELECT app_mailer()").Scan(&verified).Error
	})
	if err != nil {
		return fmt.Errorf("check the scope key: %w", err)
	}
	if !verified {
		return ErrScopeKeyMismatch
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
