package handlers

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// signinLimiter bounds sign-in attempts per client address and per email, so
// neither one machine nor a spread-out attack can guess passwords quickly.
type signinLimiter struct {
	mu        sync.Mutex
	byIP      map[string]*limiterEntry
	byAccount map[string]*limiterEntry
	lastSweep time.Time
}

type limiterEntry struct {
	limiter  *rate.Limiter
	lastSeen time.Time
}

const (
	ipBurst      = 20               // attempts a client address may make at once
	ipEvery      = 3 * time.Second  // then one more per interval
	accountBurst = 8                // attempts on one email at once
	accountEvery = 15 * time.Second // then one more per interval
	limiterIdle  = 30 * time.Minute // entries unused this long are forgotten
)

func newSigninLimiter() *signinLimiter {
	return &signinLimiter{byIP: map[string]*limiterEntry{}, byAccount: map[string]*limiterEntry{}}
}

// allow records an attempt and tells whether it may go ahead. Both budgets
// are charged only when both allow it.
func (l *signinLimiter) allow(ip, email string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(now)
	ipLimiter := l.entry(l.byIP, ip, rate.Every(ipEvery), ipBurst, now)
	accountLimiter := l.entry(l.byAccount, email, rate.Every(accountEvery), accountBurst, now)
	ipRes := ipLimiter.ReserveN(now, 1)
	accountRes := accountLimiter.ReserveN(now, 1)
	if ipRes.DelayFrom(now) > 0 || accountRes.DelayFrom(now) > 0 {
		ipRes.CancelAt(now)
		accountRes.CancelAt(now)
		return false
	}
	return true
}

func (l *signinLimiter) entry(m map[string]*limiterEntry, key string, every rate.Limit, burst int, now time.Time) *rate.Limiter {
	e, ok := m[key]
	if !ok {
		e = &limiterEntry{limiter: rate.NewLimiter(every, burst)}
		m[key] = e
	}
	e.lastSeen = now
	return e.limiter
}

func (l *signinLimiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < time.Minute {
		return
	}
	l.lastSweep = now
	for _, m := range []map[string]*limiterEntry{l.byIP, l.byAccount} {
		for k, e := range m {
			if now.Sub(e.lastSeen) > limiterIdle {
				delete(m, k)
			}
		}
	}
}
