package models

import (
	"context"
	"database/sql"

	"gorm.io/gorm"
)

// WithDetachedPool gives Detached a pool of its own. A request on PostgreSQL
// holds one connection for its whole transaction (Request); work it
// detaches needs a second one, and if both came from one pool, as many
// requests at once as the pool has connections would each hold one and
// wait for another forever. Without it Detached uses the store's pool.
func (s *Store) WithDetachedPool(db *gorm.DB) *Store {
	withPool := *s
	withPool.detached = db
	return &withPool
}

// Detached runs fn in a short transaction of its own, apart from any
// request transaction ctx carries: what fn writes is committed when
// Detached returns, whatever the request does next, and the rows fn locks
// are released then, not held until the request ends. It applies no
// row-level security scope, so it is only for tables that have none (the
// sign-in counters, which belong to no tenant).
func (s *Store) Detached(ctx context.Context, fn func(tx *Store) error) error {
	if s.inTx {
		return errDetachedInTx
	}
	pool := s.db
	if s.detached != nil {
		pool = s.detached
	}
	// A nil holder hides the request's transaction; the zero scope applies none.
	ctx = context.WithValue(WithScope(ctx, Scope{}), requestTxKey{}, (*requestTxHolder)(nil))
	own := &Store{db: pool, scopeKey: s.scopeKey, webhooks: s.webhooks}
	return own.Tx(ctx, fn)
}

// SQLPools are the store's connection pools, for their metrics: the main
// one, and Detached's own (nil when it shares the main one).
func (s *Store) SQLPools() (main, detached *sql.DB, err error) {
	if main, err = s.db.DB(); err != nil {
		return nil, nil, err
	}
	if s.detached != nil {
		if detached, err = s.detached.DB(); err != nil {
			return nil, nil, err
		}
	}
	return main, detached, nil
}
