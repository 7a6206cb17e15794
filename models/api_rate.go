package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// APIRateLimit is how many calls an API key may make: Burst at once, then
// Burst per Period as its bucket refills, one call's worth every
// Period/Burst.
type APIRateLimit struct {
	Burst  int
	Period time.Duration
}

// DefaultAPIRateLimit is 100 calls per 10 seconds per key.
var DefaultAPIRateLimit = APIRateLimit{Burst: 100, Period: 10 * time.Second}

// perCall is the refill time of one call, in microseconds, and the period
// as a whole number of them (so Burst calls refill in exactly periodUS).
func (l APIRateLimit) perCall() (perCallUS, periodUS int64) {
	perCallUS = max(1, l.Period.Microseconds()/int64(l.Burst))
	return perCallUS, perCallUS * int64(l.Burst)
}

// APICallDecision is what one call learns: whether it may go on, and what
// the RateLimit-* and Retry-After headers say.
type APICallDecision struct {
	Allowed    bool
	Limit      int
	Period     time.Duration
	Remaining  int
	Reset      time.Duration // until the bucket is full again
	RetryAfter time.Duration // until the next call is allowed (when refused)
}

// errBadRateLimit is a limit that allows nothing, a programming error.
var errBadRateLimit = errors.New("API rate limit: burst and period must be positive")

// takeAPICallSQL spends one call of a key's bucket at @now, when the bucket
// holds one, in one statement on either dialect. The bucket is the moment
// it will be full again (full_at_us); from it, max(full_at_us, now) - now is
// the refill still owed, and a call is allowed while that plus its own
// @per_call fits in @period. A refused call changes nothing but the flag
// RETURNING reads. Every SET expression reads the row as it was.
const takeAPICallSQL = `INSERT INTO api_rate_buckets (tenant_id, api_key_id, full_at_us, last_refused)
VALUES (@tenant, @key, @now + @per_call, FALSE)
ON CONFLICT (tenant_id, api_key_id) DO UPDATE SET
	full_at_us = CASE
		WHEN (CASE WHEN api_rate_buckets.full_at_us > @now THEN api_rate_buckets.full_at_us ELSE @now END) + @per_call - @now <= @period
		THEN (CASE WHEN api_rate_buckets.full_at_us > @now THEN api_rate_buckets.full_at_us ELSE @now END) + @per_call
		ELSE api_rate_buckets.full_at_us END,
	last_refused = ((CASE WHEN api_rate_buckets.full_at_us > @now THEN api_rate_buckets.full_at_us ELSE @now END) + @per_call - @now > @period)
RETURNING full_at_us, last_refused`

// takeAPICallPostgres is the statement for pgx: numbered parameters, each
// cast, as PostgreSQL cannot type $3 + $4 alone.
var takeAPICallPostgres = strings.NewReplacer("@tenant", "$1::bigint", "@key", "$2::bigint", "@now", "$3::bigint",
	"@per_call", "$4::bigint", "@period", "$5::bigint").Replace(takeAPICallSQL)

// setScopePostgres is applyScope's statement for pgx.
const setScopePostgres = `SELECT set_config('app.tenant_id', $1, true), set_config('app.subtree', $2, true),
	set_config('app.user_id', $3, true), set_config('app.invitation_token', $4, true), set_config('app.mailer', $5, true),
	set_config('app.scope_sig', $6, true)`

// apiBucket is the bucket as a call left it.
type apiBucket struct {
	FullAtUS    int64 `gorm:"column:full_at_us"`
	LastRefused bool
}

// TakeAPICall spends one call of an API key's allowance at now, in the
// database so that every server instance counts against the same bucket.
//
// It runs apart from the request's transaction, committed before it
// returns: the call is counted whatever happens to the request. Inside the
// request's transaction, a request rolled back by a server error would give
// its call back, so a client could spend failing calls without limit; and
// the bucket's row lock would be held until the request commits, queueing
// every other call of the same key behind the slowest one. Apart, the row
// is locked for one statement. On PostgreSQL that is a transaction of its
// own on the detached pool's connection, scoped to the key's tenant for
// row-level security, sent as one pipeline (BEGIN, the scope, the upsert,
// COMMIT: one round trip); on SQLite the statement alone.
func (s *Store) TakeAPICall(ctx context.Context, limit APIRateLimit, tenantID, apiKeyID int64, now time.Time) (APICallDecision, error) {
	if limit.Burst <= 0 || limit.Period <= 0 {
		return APICallDecision{}, errBadRateLimit
	}
	perCallUS, periodUS := limit.perCall()
	nowUS := now.UnixMicro()
	var bucket apiBucket
	var err error
	if s.Dialect() == Postgres {
		bucket, err = s.takeAPICallPipelined(ctx, tenantID, []any{tenantID, apiKeyID, nowUS, perCallUS, periodUS})
	} else {
		err = s.db.WithContext(ctx).Raw(takeAPICallSQL, map[string]any{
			"tenant": tenantID, "key": apiKeyID, "now": nowUS, "per_call": perCallUS, "period": periodUS,
		}).Scan(&bucket).Error
	}
	if err != nil {
		return APICallDecision{}, fmt.Errorf("take an API call: %w", err)
	}
	return decideAPICall(limit, bucket.FullAtUS, bucket.LastRefused, nowUS), nil
}

// takeAPICallPipelined runs the upsert in a transaction of its own, scoped
// to tenantID, on a connection of the detached pool (or the main one
// without it): one round trip, as beginWithFrame sends the frame.
func (s *Store) takeAPICallPipelined(ctx context.Context, tenantID int64, args []any) (apiBucket, error) {
	var bucket apiBucket
	pool := s.db
	if s.detached != nil {
		pool = s.detached
	}
	sqlDB, err := pool.DB()
	if err != nil {
		return bucket, err
	}
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return bucket, err
	}
	defer conn.Close()
	values := Scope{TenantID: tenantID}.settings()
	scopeArgs := []any{values[0], values[1], values[2], values[3], values[4], scopeSignature(s.scopeKey, values)}
	observeStatement(pool, takeAPICallPostgres, args)
	err = conn.Raw(func(driverConn any) error {
		pc, ok := driverConn.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("take an API call: a %T is not pgx's", driverConn)
		}
		batch := &pgx.Batch{}
		batch.Queue("BEGIN")
		batch.Queue(setScopePostgres, scopeArgs...)
		batch.Queue(takeAPICallPostgres, args...).QueryRow(func(row pgx.Row) error {
			return row.Scan(&bucket.FullAtUS, &bucket.LastRefused)
		})
		batch.Queue("COMMIT")
		err := pc.Conn().SendBatch(ctx, batch).Close()
		if err != nil && pc.Conn().PgConn().TxStatus() != 'I' {
			_, _ = pc.Conn().Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
		return err
	})
	return bucket, err
}

// decideAPICall reads the headers' figures from the bucket as the call
// left it: owed is the refill time until it is full.
func decideAPICall(limit APIRateLimit, fullAtUS int64, refused bool, nowUS int64) APICallDecision {
	perCallUS, periodUS := limit.perCall()
	owed := max(0, fullAtUS-nowUS)
	d := APICallDecision{
		Allowed:   !refused,
		Limit:     limit.Burst,
		Period:    limit.Period,
		Remaining: int(max(0, (periodUS-owed)/perCallUS)),
		Reset:     time.Duration(owed) * time.Microsecond,
	}
	if refused {
		d.RetryAfter = time.Duration(owed+perCallUS-periodUS) * time.Microsecond
	}
	return d
}
