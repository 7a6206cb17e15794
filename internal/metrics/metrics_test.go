package metrics_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"canopy/internal/metrics"
	"canopy/internal/testdb"
	"canopy/models"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// gauge is the value of the series of name whose labels include want.
func gauge(t *testing.T, reg prometheus.Gatherer, name string, want map[string]string) (float64, bool) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if hasLabels(m, want) {
				if m.GetGauge() != nil {
					return m.GetGauge().GetValue(), true
				}
				return m.GetCounter().GetValue(), true
			}
		}
	}
	return 0, false
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	found := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok && v == l.GetValue() {
			found++
		}
	}
	return found == len(want)
}

// TestRegistryReportsPoolsAndQueues: the registry reports the main pool and
// the queues as the database holds them at the scrape, read as the server
// connects (under the workers' scopes on PostgreSQL).
func TestRegistryReportsPoolsAndQueues(t *testing.T) {
	ownerDB, appDB := testdb.OpenAsApp(t)
	owner := models.NewStore(ownerDB).WithScopeKey(testdb.ScopeKey)
	ctx := context.Background()
	// Mail about no tenant is filed under the platform's own.
	if _, err := owner.CreateTenant(ctx, models.NewTenant{Name: "Platform", Subdomain: "platform", Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	for _, to := range []string{"a@example.test", "b@example.test"} {
		if err := owner.EnqueueEmail(ctx, models.NewEmail{To: to, Subject: "Hello", Body: "Hi"}); err != nil {
			t.Fatal(err)
		}
	}
	app := models.NewStore(appDB).WithScopeKey(testdb.ScopeKey)
	reg, err := metrics.NewRegistry(app)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := gauge(t, reg, "go_sql_max_open_connections", map[string]string{"db_name": "main"}); !ok {
		t.Fatal("no statistics of the main pool")
	}
	if failed, _ := gauge(t, reg, "canopy_queue_scrape_failed", nil); failed != 0 {
		t.Fatal("the queues could not be read")
	}
	if due, _ := gauge(t, reg, "canopy_queue_due_jobs", map[string]string{"queue": "outbox"}); due != 2 {
		t.Fatalf("outbox due %v, want 2", due)
	}
	if due, ok := gauge(t, reg, "canopy_queue_due_jobs", map[string]string{"queue": "webhooks"}); !ok || due != 0 {
		t.Fatalf("webhooks due %v (reported %v), want 0", due, ok)
	}

	// An hour on, the outbox's oldest message has waited that long.
	later := prometheus.NewRegistry()
	later.MustRegister(metrics.NewQueueCollector(app, func() time.Time { return time.Now().Add(time.Hour) }))
	if age, _ := gauge(t, later, "canopy_queue_oldest_due_job_age_seconds", map[string]string{"queue": "outbox"}); age < 3590 || age > 3700 {
		t.Fatalf("oldest due age %v s, want about an hour", age)
	}
	if age, _ := gauge(t, later, "canopy_queue_oldest_due_job_age_seconds", map[string]string{"queue": "webhooks"}); age != 0 {
		t.Fatalf("webhooks' oldest due age %v with nothing due", age)
	}
}

type failingQueues struct{}

func (failingQueues) QueueStatsAt(context.Context, time.Time) (models.Queues, error) {
	return models.Queues{}, errors.New("connection refused")
}

// TestQueueScrapeFailure: queues that cannot be read are reported as such,
// and the rest of the scrape goes on.
func TestQueueScrapeFailure(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(metrics.NewQueueCollector(failingQueues{}, time.Now))
	if failed, ok := gauge(t, reg, "canopy_queue_scrape_failed", nil); !ok || failed != 1 {
		t.Fatalf("scrape_failed %v (reported %v), want 1", failed, ok)
	}
	if _, ok := gauge(t, reg, "canopy_queue_due_jobs", map[string]string{"queue": "outbox"}); ok {
		t.Fatal("a due count was reported for queues that could not be read")
	}
}
