package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// SignInCounter counts recent attempts to sign in (or to prove a password)
// for one subject: an account, a client address or a device cookie. It is
// kept in the database so that every server instance shares it.
type SignInCounter struct {
	Subject       string `gorm:"primaryKey"`
	Failures      int
	LockedUntil   *time.Time
	LastAttemptAt time.Time
}

// TableName is the counters' table.
func (SignInCounter) TableName() string { return "signin_counters" }

// CanonicalEmail is the form of an email that UserByEmail looks an account
// up by: every spelling that signs in to an account (other case, spaces
// around it, invalid bytes inside) gives the same, so none of them gets a
// counter of its own. It is also safe to store (no NUL).
func CanonicalEmail(s string) string { return NormalizeEmail(searchable(s)) }

// SignInCounterMemory is how long a counter remembers: a subject with no
// attempt for this long starts again from nothing, and its row is swept.
// It is longer than any delay, so a counter is never forgotten while locked.
const SignInCounterMemory = time.Hour

// Throttle is how one kind of counter slows attempts down: Free attempts in
// a row go ahead; from then on each one that fails locks the subject for a
// delay that starts at FirstDelay and doubles with every further failure,
// up to MaxDelay. Attempts while locked are refused without being counted.
type Throttle struct {
	Free       int
	FirstDelay time.Duration
	MaxDelay   time.Duration
	// ResetOnSuccess clears the counter when the attempt succeeds (an
	// account's, a device's: the right password was given). Otherwise a
	// success only takes back its own charge (an address's: one valid
	// account must not buy guesses at every other).
	ResetOnSuccess bool
}

// lockAfter is when a subject with this many failures is locked until.
func (t Throttle) lockAfter(failures int, now time.Time) *time.Time {
	if failures < t.Free {
		return nil
	}
	delay := t.MaxDelay
	if doublings := failures - t.Free; doublings < 30 && t.FirstDelay<<doublings < t.MaxDelay {
		delay = t.FirstDelay << doublings
	}
	until := now.Add(delay)
	return &until
}

// AttemptCounter is one counter an attempt is charged to.
type AttemptCounter struct {
	Subject  string
	Throttle Throttle
}

// Attempt is a charged attempt: refused (RetryAt is when to try again), or
// going ahead, to be reported with AttemptSucceeded if the password was
// right. A failed attempt needs nothing more: its charge stays.
type Attempt struct {
	RetryAt time.Time
	charged []charge
}

type charge struct {
	counter       AttemptCounter
	at            time.Time  // when this attempt was counted
	prevAttemptAt time.Time  // the counter's last attempt before it
	prevLock      *time.Time // the lock the counter had before (expired, or none)
	lock          *time.Time // the lock this attempt set, if it set one
}

// Refused tells whether the attempt may not go ahead.
func (a *Attempt) Refused() bool { return !a.RetryAt.IsZero() }

// BeginAttempt charges an attempt to every counter, or to none when any of
// them is locked (then RetryAt says until when). The attempt is counted
// before the password is checked, so attempts sent at once cannot all slip
// through before the first failure is written: each counter's row is locked
// while it is read and charged (rows in a fixed order, so two attempts
// cannot deadlock), and SQLite runs one writing transaction at a time.
//
// The charge is a short transaction of its own (Detached), committed before
// BeginAttempt returns: the rows are not held through the slow password
// check nor the rest of the request, so many attempts at one account queue
// only for a moment, and a request that fails later keeps its charge.
func (s *Store) BeginAttempt(ctx context.Context, counters []AttemptCounter, now time.Time) (*Attempt, error) {
	now = now.UTC().Truncate(time.Microsecond)
	counters = slices.Clone(counters)
	slices.SortFunc(counters, func(a, b AttemptCounter) int { return strings.Compare(a.Subject, b.Subject) })
	attempt := &Attempt{}
	err := s.Detached(ctx, func(tx *Store) error {
		rows := make([]SignInCounter, len(counters))
		for i, c := range counters {
			row, err := tx.lockCounter(ctx, c.Subject, now)
			if err != nil {
				return err
			}
			rows[i] = row
			if row.LockedUntil != nil && row.LockedUntil.After(now) && row.LockedUntil.After(attempt.RetryAt) {
				attempt.RetryAt = row.LockedUntil.UTC()
			}
		}
		if attempt.Refused() {
			return nil
		}
		for i, c := range counters {
			failures := rows[i].Failures + 1
			if now.Sub(rows[i].LastAttemptAt) >= SignInCounterMemory {
				failures = 1
			}
			lock := c.Throttle.lockAfter(failures, now)
			if err := tx.conn(ctx).Model(&SignInCounter{}).Where("subject = ?", c.Subject).
				Updates(map[string]any{"failures": failures, "locked_until": lock, "last_attempt_at": now}).Error; err != nil {
				return fmt.Errorf("count a sign-in attempt: %w", err)
			}
			attempt.charged = append(attempt.charged, charge{counter: c, at: now, prevAttemptAt: rows[i].LastAttemptAt, prevLock: rows[i].LockedUntil, lock: lock})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return attempt, nil
}

// lockCounter returns a subject's counter, creating it empty if it has
// none, and locks its row for the rest of the (short) transaction (the no-op
// update of an upsert takes the row lock, as SELECT … FOR UPDATE would,
// but also for a row that did not exist yet).
func (s *Store) lockCounter(ctx context.Context, subject string, now time.Time) (SignInCounter, error) {
	var row SignInCounter
	err := s.conn(ctx).Raw(`INSERT INTO signin_counters (subject, failures, last_attempt_at) VALUES (?, 0, ?)
		ON CONFLICT (subject) DO UPDATE SET subject = excluded.subject
		RETURNING subject, failures, locked_until, last_attempt_at`, subject, now).Scan(&row).Error
	if err != nil {
		return row, fmt.Errorf("read sign-in counter: %w", err)
	}
	return row, nil
}

// AttemptSucceeded settles an attempt whose password was right: counters
// that reset on success are cleared; the others take back this attempt's
// charge, so a success never uses up an allowance. Like the charge, it is a
// short transaction of its own (Detached).
func (s *Store) AttemptSucceeded(ctx context.Context, a *Attempt) error {
	return s.Detached(ctx, func(tx *Store) error {
		for _, c := range a.charged {
			if err := tx.settle(ctx, c); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) settle(ctx context.Context, c charge) error {
	subject := c.counter.Subject
	if c.counter.Throttle.ResetOnSuccess {
		return s.deleteCounter(ctx, subject)
	}
	// Locked until this transaction ends, as BeginAttempt locks it: two
	// successes from one address at once must not both take back from the
	// same count, nor one delete the row the other's charge went to.
	read := s.conn(ctx).Where("subject = ?", subject)
	if s.Dialect() == Postgres {
		read = read.Clauses(clause.Locking{Strength: "UPDATE"})
	}
	var rows []SignInCounter
	if err := read.Limit(1).Find(&rows).Error; err != nil {
		return fmt.Errorf("read sign-in counter: %w", err)
	}
	if len(rows) == 0 {
		return nil // forgotten meanwhile (swept): nothing left to take back
	}
	row := rows[0]
	failures := max(row.Failures-1, 0)
	if failures == 0 {
		return s.deleteCounter(ctx, subject)
	}
	// What this attempt set goes back to what was there before; what other
	// attempts set since stays.
	lock, last := row.LockedUntil, row.LastAttemptAt
	if sameTime(lock, c.lock) {
		lock = c.prevLock
	}
	if last.Equal(c.at) {
		last = c.prevAttemptAt
	}
	if err := s.conn(ctx).Model(&SignInCounter{}).Where("subject = ?", subject).
		Updates(map[string]any{"failures": failures, "locked_until": lock, "last_attempt_at": last}).Error; err != nil {
		return fmt.Errorf("take back a sign-in attempt: %w", err)
	}
	return nil
}

func (s *Store) deleteCounter(ctx context.Context, subject string) error {
	if err := s.conn(ctx).Where("subject = ?", subject).Delete(&SignInCounter{}).Error; err != nil {
		return fmt.Errorf("reset sign-in counter: %w", err)
	}
	return nil
}

func sameTime(a, b *time.Time) bool {
	return a != nil && b != nil && a.Equal(*b)
}

// SweepSignInCounters forgets counters with no attempt for
// SignInCounterMemory, which would start from nothing anyway, so the table
// holds no more than the last hour's subjects. On PostgreSQL it skips rows
// a sign-in is charging, so it never waits for one: a sign-in waiting for
// the sweep while the sweep waited for it would be a deadlock.
func (s *Store) SweepSignInCounters(ctx context.Context, now time.Time) (int64, error) {
	now = now.UTC()
	quiet := s.conn(ctx).Model(&SignInCounter{}).Select("subject").
		Where("last_attempt_at < ? AND (locked_until IS NULL OR locked_until < ?)", now.Add(-SignInCounterMemory), now)
	if s.Dialect() == Postgres {
		quiet = quiet.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
	}
	res := s.conn(ctx).Where("subject IN (?)", quiet).Delete(&SignInCounter{})
	if res.Error != nil {
		return 0, fmt.Errorf("sweep sign-in counters: %w", res.Error)
	}
	return res.RowsAffected, nil
}

// SignInCounterOf reads a subject's counter, for tests and inspection.
func (s *Store) SignInCounterOf(ctx context.Context, subject string) (*SignInCounter, error) {
	var row SignInCounter
	if err := s.conn(ctx).Where("subject = ?", subject).Take(&row).Error; err != nil {
		return nil, notFound(err, "read sign-in counter")
	}
	return &row, nil
}
