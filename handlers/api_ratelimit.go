package handlers

import (
	"math"
	"sync"
	"time"
)

// apiRateLimit is how many calls an API key may make: Burst at once, then
// Burst per Period as the bucket refills.
type apiRateLimit struct {
	Burst  int
	Period time.Duration
}

// defaultAPIRateLimit is 100 calls per 10 seconds per key.
var defaultAPIRateLimit = apiRateLimit{Burst: 100, Period: 10 * time.Second}

// maxRateBuckets bounds the limiter's memory: past it, the buckets that
// have refilled (whose keys are idle) are dropped, and if none has, the
// stalest goes.
const maxRateBuckets = 10000

// rateLimiter is a token bucket per API key, in this process's memory:
// each process of a deployment counts on its own, so N processes allow up
// to N times the limit.
type rateLimiter struct {
	mu      sync.Mutex
	limit   apiRateLimit
	buckets map[int64]*rateBucket
}

type rateBucket struct {
	tokens float64
	at     time.Time // when tokens was computed
}

// rateDecision is what one call learns: whether it may go on, and what
// the RateLimit-* and Retry-After headers say.
type rateDecision struct {
	allowed    bool
	limit      int
	period     time.Duration
	remaining  int
	reset      time.Duration // until the bucket is full again
	retryAfter time.Duration // until the next call is allowed (when refused)
}

func newRateLimiter(limit apiRateLimit) *rateLimiter {
	return &rateLimiter{limit: limit, buckets: map[int64]*rateBucket{}}
}

// setLimit changes the limit and forgets every bucket.
func (l *rateLimiter) setLimit(limit apiRateLimit) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.limit, l.buckets = limit, map[int64]*rateBucket{}
}

// take spends one token of key's bucket at now, when there is one.
func (l *rateLimiter) take(key int64, now time.Time) rateDecision {
	l.mu.Lock()
	defer l.mu.Unlock()
	burst := float64(l.limit.Burst)
	perToken := l.limit.Period / time.Duration(l.limit.Burst)
	b, ok := l.buckets[key]
	if !ok {
		l.makeRoom(now)
		b = &rateBucket{tokens: burst, at: now}
		l.buckets[key] = b
	}
	b.refill(now, burst, perToken)
	d := rateDecision{limit: l.limit.Burst, period: l.limit.Period}
	if b.tokens >= 1 {
		b.tokens--
		d.allowed = true
	} else {
		d.retryAfter = time.Duration((1 - b.tokens) * float64(perToken))
	}
	d.remaining = int(math.Floor(b.tokens))
	d.reset = time.Duration((burst - b.tokens) * float64(perToken))
	return d
}

func (b *rateBucket) refill(now time.Time, burst float64, perToken time.Duration) {
	if elapsed := now.Sub(b.at); elapsed > 0 {
		b.tokens = math.Min(burst, b.tokens+float64(elapsed)/float64(perToken))
		b.at = now
	}
}

// makeRoom keeps the number of buckets below maxRateBuckets: a full bucket
// is the same as none, so those go first; failing that, the stalest.
func (l *rateLimiter) makeRoom(now time.Time) {
	if len(l.buckets) < maxRateBuckets {
		return
	}
	burst := float64(l.limit.Burst)
	perToken := l.limit.Period / time.Duration(l.limit.Burst)
	var stalest int64
	var stalestAt time.Time
	for key, b := range l.buckets {
		if b.tokens+float64(now.Sub(b.at))/float64(perToken) >= burst {
			delete(l.buckets, key)
			continue
		}
		if stalestAt.IsZero() || b.at.Before(stalestAt) {
			stalest, stalestAt = key, b.at
		}
	}
	if len(l.buckets) >= maxRateBuckets {
		delete(l.buckets, stalest)
	}
}

// seconds rounds d up to whole seconds, as the headers give it.
func seconds(d time.Duration) int {
	return int(math.Ceil(d.Seconds()))
}
