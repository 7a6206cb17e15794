package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"canopy/internal/testdb"
	"canopy/models"

	"gorm.io/gorm"
)

var testThrottle = models.Throttle{Free: 3, FirstDelay: 30 * time.Second, MaxDelay: 4 * time.Minute, ResetOnSuccess: true}

// counterStore is a store as the server connects (canopy_app on
// PostgreSQL), so the counters' grants are tested too.
func counterStore(t *testing.T) *models.Store {
	t.Helper()
	_, app := testdb.OpenAsApp(t)
	return models.NewStore(app).WithScopeKey(testdb.ScopeKey)
}

func begin(t *testing.T, s *models.Store, at time.Time, counters ...models.AttemptCounter) *models.Attempt {
	t.Helper()
	a, err := s.BeginAttempt(context.Background(), counters, at)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func failuresOf(t *testing.T, s *models.Store, subject string) int {
	t.Helper()
	c, err := s.SignInCounterOf(context.Background(), subject)
	if errors.Is(err, models.ErrNotFound) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.Failures
}

// TestThrottleDelaysGrow: Free attempts go ahead; then each failure locks
// the subject for twice as long as the one before, up to MaxDelay; an
// attempt while locked is refused with the time to retry and not counted.
func TestThrottleDelaysGrow(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	account := models.AttemptCounter{Subject: "account:alice@acme.test", Throttle: testThrottle}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := range testThrottle.Free {
		if a := begin(t, s, now, account); a.Refused() {
			t.Fatalf("attempt %d of %d free ones was refused", i+1, testThrottle.Free)
		}
	}
	steps := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 4 * time.Minute}
	for i, delay := range steps {
		a := begin(t, s, now.Add(time.Second), account)
		if !a.Refused() || !a.RetryAt.Equal(now.Add(delay)) {
			t.Fatalf("step %d: refused %v, retry at %v; want refused until %v", i, a.Refused(), a.RetryAt, now.Add(delay))
		}
		now = now.Add(delay)
		if a := begin(t, s, now, account); a.Refused() {
			t.Fatalf("step %d: refused at the time it was told to retry", i)
		}
	}
	if got, want := failuresOf(t, s, account.Subject), testThrottle.Free+len(steps); got != want {
		t.Fatalf("%d failures counted, want %d: refused attempts must not count", got, want)
	}
}

// TestLockedCounterChargesNone: an attempt refused by one of its counters
// is charged to none of them.
func TestLockedCounterChargesNone(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	account := models.AttemptCounter{Subject: "account:alice@acme.test", Throttle: testThrottle}
	address := models.AttemptCounter{Subject: "address:192.0.2.1", Throttle: models.Throttle{Free: 100, FirstDelay: time.Second, MaxDelay: time.Minute}}
	for range testThrottle.Free {
		begin(t, s, now, account)
	}
	if a := begin(t, s, now, account, address); !a.Refused() {
		t.Fatal("a locked account let an attempt through")
	}
	if got := failuresOf(t, s, address.Subject); got != 0 {
		t.Fatalf("the refused attempt was charged to the address: %d failures", got)
	}
}

// TestSuccessResetsOrTakesBack: a success clears a counter that resets on
// success, and only takes back its own charge from one that does not, so
// signing in never uses up the address's allowance nor clears it.
func TestSuccessResetsOrTakesBack(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	account := models.AttemptCounter{Subject: "account:alice@acme.test", Throttle: testThrottle}
	address := models.AttemptCounter{Subject: "address:192.0.2.1", Throttle: models.Throttle{Free: 3, FirstDelay: time.Minute, MaxDelay: time.Hour}}
	begin(t, s, now, account, address)
	begin(t, s, now, account, address)
	ok := begin(t, s, now, account, address) // the third: it would lock both if it failed
	if ok.Refused() {
		t.Fatal("the third attempt was refused")
	}
	if err := s.AttemptSucceeded(ctx, ok); err != nil {
		t.Fatal(err)
	}
	if got := failuresOf(t, s, account.Subject); got != 0 {
		t.Fatalf("the account still counts %d failures after a success", got)
	}
	if got := failuresOf(t, s, address.Subject); got != 2 {
		t.Fatalf("the address counts %d failures after two failures and a success, want 2", got)
	}
	if a := begin(t, s, now, address); a.Refused() {
		t.Fatal("the success left the address locked")
	}
	// A success on a fresh address leaves nothing behind.
	other := models.AttemptCounter{Subject: "address:192.0.2.2", Throttle: address.Throttle}
	if err := s.AttemptSucceeded(ctx, begin(t, s, now, other)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SignInCounterOf(ctx, other.Subject); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a success alone left a counter: %v", err)
	}
}

// TestSimultaneousSuccessesFromOneAddress: people signing in at once from
// one address (an office behind one gateway, or several instances behind
// a balancer) each take back only their own charge: none fails, and the
// address's count ends where it began.
func TestSimultaneousSuccessesFromOneAddress(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	address := models.AttemptCounter{Subject: "address:192.0.2.9", Throttle: models.Throttle{Free: 100, FirstDelay: time.Second, MaxDelay: time.Minute}}
	const people = 8
	errs := make(chan error, people)
	var wg sync.WaitGroup
	for i := range people {
		wg.Add(1)
		go func() {
			defer wg.Done()
			account := models.AttemptCounter{Subject: fmt.Sprintf("account:person%d@acme.test", i), Throttle: testThrottle}
			for range 5 {
				a, err := s.BeginAttempt(ctx, []models.AttemptCounter{account, address}, now)
				if err == nil {
					err = s.AttemptSucceeded(ctx, a)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("a sign-in failed while others from the same address succeeded: %v", err)
	}
	if got := failuresOf(t, s, address.Subject); got != 0 {
		t.Fatalf("the address counts %d failures after successes alone", got)
	}
}

// TestCountersForgetAndAreSwept: a subject quiet for SignInCounterMemory
// starts from nothing, and the sweep removes such rows only.
func TestCountersForgetAndAreSwept(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	ctx := context.Background()
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	old := models.AttemptCounter{Subject: "account:old@acme.test", Throttle: testThrottle}
	recent := models.AttemptCounter{Subject: "account:recent@acme.test", Throttle: testThrottle}
	begin(t, s, now, old)
	begin(t, s, now, old)
	later := now.Add(models.SignInCounterMemory)
	begin(t, s, later.Add(-time.Minute), recent)
	if got, err := s.SweepSignInCounters(ctx, later.Add(time.Second)); err != nil || got != 1 {
		t.Fatalf("swept %d (err %v), want only the quiet counter", got, err)
	}
	if got := failuresOf(t, s, recent.Subject); got != 1 {
		t.Fatalf("the recent counter was swept or changed: %d failures", got)
	}
	// Unswept, a quiet counter starts again from one.
	begin(t, s, now, recent)
	if a := begin(t, s, now.Add(2*models.SignInCounterMemory), recent); a.Refused() || failuresOf(t, s, recent.Subject) != 1 {
		t.Fatalf("a counter quiet for %v did not start again", 2*models.SignInCounterMemory)
	}
}

// TestAttemptsAtOnceAreCountedOneByOne: many attempts sent at the same
// moment cannot all pass before the first is counted; exactly Free go ahead.
func TestAttemptsAtOnceAreCountedOneByOne(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	account := models.AttemptCounter{Subject: "account:alice@acme.test", Throttle: testThrottle}
	address := models.AttemptCounter{Subject: "address:192.0.2.1", Throttle: models.Throttle{Free: 1000, FirstDelay: time.Second, MaxDelay: time.Minute}}
	var wg sync.WaitGroup
	var mu sync.Mutex
	through := 0
	for range 16 {
		wg.Go(func() {
			a, err := s.BeginAttempt(context.Background(), []models.AttemptCounter{address, account}, now)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if !a.Refused() {
				through++
			}
		})
	}
	wg.Wait()
	if through != testThrottle.Free {
		t.Fatalf("%d of 16 simultaneous attempts went ahead, want %d", through, testThrottle.Free)
	}
}

// TestSweepSkipsLockedCounters: on PostgreSQL the sweep skips a counter
// whose row a sign-in is charging instead of waiting for it, so the two can
// never deadlock. (SQLite runs one writing transaction at a time.)
func TestSweepSkipsLockedCounters(t *testing.T) {
	t.Parallel()
	_, app := testdb.OpenAsApp(t)
	s := models.NewStore(app).WithScopeKey(testdb.ScopeKey)
	if s.Dialect() != models.Postgres {
		t.Skip("SQLite runs one writing transaction at a time")
	}
	ctx := context.Background()
	long := time.Now().Add(-2 * models.SignInCounterMemory)
	inUse := models.AttemptCounter{Subject: "account:in-use", Throttle: testThrottle}
	idle := models.AttemptCounter{Subject: "account:idle", Throttle: testThrottle}
	begin(t, s, long, inUse)
	begin(t, s, long, idle)

	locked, release, done := make(chan struct{}), make(chan struct{}), make(chan error)
	go func() {
		done <- app.Transaction(func(tx *gorm.DB) error {
			if err := tx.Exec("SELECT 1 FROM signin_counters WHERE subject = ? FOR UPDATE", inUse.Subject).Error; err != nil {
				return err
			}
			close(locked)
			<-release
			return nil
		})
	}()
	<-locked
	sweepCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	swept, err := s.SweepSignInCounters(sweepCtx, time.Now())
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err != nil || swept != 1 {
		t.Fatalf("swept %d (err %v); want the idle counter only, without waiting", swept, err)
	}
	if got := failuresOf(t, s, inUse.Subject); got != 1 {
		t.Fatalf("the counter in use has %d failures after the sweep, want 1", got)
	}
}

// TestChargeDoesNotWaitForTheRequest: an attempt is charged in a
// transaction of its own, committed at once: while the request that charged
// it is still open, another request's attempt at the same counter goes
// through without waiting for it, and the charges stay though the request
// then fails and is rolled back.
func TestChargeDoesNotWaitForTheRequest(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	account := models.AttemptCounter{Subject: "account:charged", Throttle: testThrottle}
	errLater := errors.New("the request failed after the charge")
	err := s.Request(context.Background(), func(ctx context.Context) error {
		if a, err := s.BeginAttempt(ctx, []models.AttemptCounter{account}, now); err != nil || a.Refused() {
			return fmt.Errorf("first attempt: refused %v, %w", a != nil && a.Refused(), err)
		}
		other, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if _, err := s.BeginAttempt(other, []models.AttemptCounter{account}, now); err != nil {
			return fmt.Errorf("a second request's attempt waited for the first request: %w", err)
		}
		return errLater
	})
	if !errors.Is(err, errLater) {
		t.Fatal(err)
	}
	if got := failuresOf(t, s, account.Subject); got != 2 {
		t.Fatalf("%d failures after two attempts in a request that failed, want 2", got)
	}
}

// TestDetachedRefusesATransactionsStore: detached work needs the server's
// store; a transaction's has no pool to detach to.
func TestDetachedRefusesATransactionsStore(t *testing.T) {
	t.Parallel()
	s := counterStore(t)
	ctx := context.Background()
	err := s.Tx(ctx, func(tx *models.Store) error {
		return tx.Detached(ctx, func(*models.Store) error { return nil })
	})
	if err == nil {
		t.Fatal("detached work ran from inside a transaction")
	}
}
