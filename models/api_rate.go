package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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
// RETURNING reads. Every SET expression reads the row as it was. Each
// parameter is cast, as PostgreSQL cannot type @now + @per_call alone.
var takeAPICallSQL = strings.NewReplacer("@now", "CAST(@now AS BIGINT)", "@per_call", "CAST(@per_call AS BIGINT)",
	"@period", "CAST(@period AS BIGINT)").Replace(`INSERT INTO api_rate_buckets (tenant_id, api_key_id, full_at_us, last_refused)
VALUES (@tenant, @key, @now + @per_call, FALSE)
ON CONFLICT (tenant_id, api_key_id) DO UPDATE SET
	full_at_us = CASE
		WHEN (CASE WHEN api_rate_buckets.full_at_us > @now THEN api_rate_buckets.full_at_us ELSE @now END) + @per_call - @now <= @period
		THEN (CASE WHEN api_rate_buckets.full_at_us > @now THEN api_rate_buckets.full_at_us ELSE @now END) + @per_call
		ELSE api_rate_buckets.full_at_us END,
	last_refused = ((CASE WHEN api_rate_buckets.full_at_us > @now THEN api_rate_buckets.full_at_us ELSE @now END) + @per_call - @now > @period)
RETURNING full_at_us, last_refused`)

// TakeAPICall spends one call of an API key's allowance at now, in the
// database so that every server instance counts against the same bucket.
//
// It runs detached from the request's transaction (a short transaction of
// its own on the detached pool, scoped to the key's tenant): the call is
// counted once the statement returns, whatever happens to the request.
// Inside the request's transaction, a request rolled back by a server error
// would give its call back, so a client could spend failing calls without
// limit; and the bucket's row lock would be held until the request
// commits, queueing every other call of the same key behind the slowest
// one. Detached, the row is locked for one statement.
func (s *Store) TakeAPICall(ctx context.Context, limit APIRateLimit, tenantID, apiKeyID int64, now time.Time) (APICallDecision, error) {
	if limit.Burst <= 0 || limit.Period <= 0 {
		return APICallDecision{}, errBadRateLimit
	}
	perCallUS, periodUS := limit.perCall()
	nowUS := now.UnixMicro()
	var bucket struct {
		FullAtUS    int64 `gorm:"column:full_at_us"`
		LastRefused bool
	}
	err := s.detachedWithin(ctx, Scope{TenantID: tenantID}, func(tx *Store) error {
		return tx.conn(ctx).Raw(takeAPICallSQL, map[string]any{
			"tenant": tenantID, "key": apiKeyID, "now": nowUS, "per_call": perCallUS, "period": periodUS,
		}).Scan(&bucket).Error
	})
	if err != nil {
		return APICallDecision{}, fmt.Errorf("take an API call: %w", err)
	}
	return decideAPICall(limit, bucket.FullAtUS, bucket.LastRefused, nowUS), nil
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
