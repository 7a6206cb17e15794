package models_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"canopy/internal/testdb"
	"canopy/models"
)

// rateWorld is a company with two API keys, and a store as the server
// connects (canopy_app on PostgreSQL), so the buckets' policy and grants
// are tested too.
type rateWorld struct {
	app        *models.Store
	tenantID   int64
	key, other int64
}

func newRateWorld(t *testing.T) rateWorld {
	t.Helper()
	ownerDB, appDB := testdb.OpenAsApp(t)
	owner := models.NewStore(ownerDB).WithScopeKey(testdb.ScopeKey)
	ctx := context.Background()
	alice := mustUser(t, owner, "alice@acme.test")
	acme, err := owner.CreateTenant(ctx, models.NewTenant{Name: "Acme Corp", Subdomain: "acme", Timezone: "UTC", OwnerUserID: alice.ID})
	if err != nil {
		t.Fatal(err)
	}
	_, key := mustCreateKey(t, owner, acme.ID, "CI", models.APISandbox)
	_, other := mustCreateKey(t, owner, acme.ID, "Backup", models.APISandbox)
	return rateWorld{app: models.NewStore(appDB).WithScopeKey(testdb.ScopeKey), tenantID: acme.ID, key: key.ID, other: other.ID}
}

func (w rateWorld) take(t *testing.T, limit models.APIRateLimit, key int64, at time.Time) models.APICallDecision {
	t.Helper()
	d, err := w.app.TakeAPICall(context.Background(), limit, w.tenantID, key, at)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestTakeAPICallRefills: the bucket's arithmetic, call by call, as the
// RateLimit-* headers report it: 3 calls per 30 s is one call's refill
// every 10 s; a refused call spends nothing; the bucket never holds more
// than its burst however long the key was idle; a clock that steps back
// is no gift.
func TestTakeAPICallRefills(t *testing.T) {
	w := newRateWorld(t)
	limit := models.APIRateLimit{Burst: 3, Period: 30 * time.Second}
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	steps := []struct {
		name      string
		after     time.Duration // since start
		allowed   bool
		remaining int
		reset     time.Duration
		retry     time.Duration
	}{
		{"the first call finds a full bucket", 0, true, 2, 10 * time.Second, 0},
		{"second", 0, true, 1, 20 * time.Second, 0},
		{"third empties it", 0, true, 0, 30 * time.Second, 0},
		{"the fourth is refused", 0, false, 0, 30 * time.Second, 10 * time.Second},
		{"still refused 4 s later, sooner to retry", 4 * time.Second, false, 0, 26 * time.Second, 6 * time.Second},
		{"one call refilled after 10 s", 10 * time.Second, true, 0, 30 * time.Second, 0},
		{"a clock stepping back refills nothing", 5 * time.Second, false, 0, 35 * time.Second, 15 * time.Second},
		{"15 s later one and a half calls refilled", 25 * time.Second, true, 0, 25 * time.Second, 0},
		{"an idle hour refills the burst, no more", time.Hour, true, 2, 10 * time.Second, 0},
	}
	for _, s := range steps {
		d := w.take(t, limit, w.key, start.Add(s.after))
		if d.Allowed != s.allowed || d.Remaining != s.remaining || d.Reset != s.reset || d.RetryAfter != s.retry ||
			d.Limit != 3 || d.Period != limit.Period {
			t.Fatalf("%s: got %+v, want allowed %v remaining %d reset %s retry %s", s.name, d, s.allowed, s.remaining, s.reset, s.retry)
		}
	}
	// Another key of the same company has a bucket of its own.
	if d := w.take(t, limit, w.other, start); !d.Allowed || d.Remaining != 2 {
		t.Fatalf("the other key: %+v", d)
	}
}

// TestTakeAPICallAtOnce: calls made at the same moment, as from several
// server instances, are each counted: exactly the burst goes through.
func TestTakeAPICallAtOnce(t *testing.T) {
	w := newRateWorld(t)
	limit := models.APIRateLimit{Burst: 5, Period: time.Minute}
	now := time.Now()
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for range 12 {
		wg.Go(func() {
			d, err := w.app.TakeAPICall(context.Background(), limit, w.tenantID, w.key, now)
			if err != nil {
				t.Error(err)
				return
			}
			if d.Allowed {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if allowed != limit.Burst {
		t.Fatalf("%d calls allowed at once, want %d", allowed, limit.Burst)
	}
}

// TestTakeAPICallRefusesAnotherTenantsKey: the bucket is written under the
// key's tenant's scope, so a key id paired with another tenant has no
// bucket to take from (its foreign key fails).
func TestTakeAPICallRefusesAnotherTenantsKey(t *testing.T) {
	w := newRateWorld(t)
	if _, err := w.app.TakeAPICall(context.Background(), models.DefaultAPIRateLimit, w.tenantID+1000, w.key, time.Now()); err == nil {
		t.Fatal("a key's bucket was taken from under another tenant")
	}
}
