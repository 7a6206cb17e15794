package billingjob_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/internal/billingjob"
	"canopy/internal/testdb"
	"canopy/internal/testkit"
	"canopy/models"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// clock is a settable clock for the job.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Set(t time.Time) { c.mu.Lock(); c.now = t; c.mu.Unlock() }

// world is the demo data, inspected by its owner, and the store the job
// uses: on PostgreSQL the application role, under row-level security.
type world struct {
	owner *gorm.DB
	app   *models.Store
	month models.BillingMonth // the month the demo companies were made in (UTC)
}

func newWorld(t *testing.T) world {
	t.Helper()
	ownerDB, appDB := testdb.OpenDemoAsApp(t)
	return world{owner: ownerDB, app: models.NewStore(appDB).WithScopeKey(testdb.ScopeKey), month: models.MonthOf(time.Now(), time.UTC)}
}

// statements counts the statements of each paying company's subdomain.
func (w world) statements(t *testing.T) map[string]int {
	t.Helper()
	var rows []struct {
		Subdomain string
		N         int
	}
	err := w.owner.Raw(`SELECT t.subdomain, count(*) AS n FROM billing_statements AS s JOIN tenants AS t ON t.id = s.tenant_id
		GROUP BY t.subdomain`).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Subdomain] = r.N
	}
	return out
}

// dueAt is a moment at which month is the month due: the day after it
// ends, in the afternoon UTC, when it has ended everywhere.
func dueAt(month models.BillingMonth) time.Time {
	return month.Next().Start(time.UTC).Add(15 * time.Hour)
}

// payers are the demo's companies that pay for themselves: Acme Europe
// is billed to Acme Corp.
var payers = []string{"acme", "acme-lab", "globex", "initech"}

func wantOnePerPayer(t *testing.T, got map[string]int, n int) {
	t.Helper()
	if len(got) != len(payers) {
		t.Errorf("statements %v, want %d for each of %v", got, n, payers)
	}
	for _, p := range payers {
		if got[p] != n {
			t.Errorf("statements %v, want %d for each of %v", got, n, payers)
			return
		}
	}
}

// TestJobClosesTheDueMonthOnce: before the demo's first month has ended
// everywhere, a pass closes nothing; once it is due, one statement per
// paying company, and passes after that add none.
func TestJobClosesTheDueMonthOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := &clock{now: w.month.Next().Start(time.UTC).Add(13 * time.Hour)} // still the month's last day at UTC-14
	job := billingjob.New(w.app, slog.New(slog.NewTextHandler(io.Discard, nil)), billingjob.WithClock(c.Now))
	pass, err := job.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if pass.Statements != 0 || len(w.statements(t)) != 0 {
		t.Fatalf("closed %d statements before the month ended everywhere: %v", pass.Statements, w.statements(t))
	}
	if pass.Projections != len(payers) {
		t.Errorf("priced %d companies for staff, want %d", pass.Projections, len(payers))
	}
	c.Set(dueAt(w.month))
	if pass, err = job.RunOnce(ctx); err != nil || pass.Statements != len(payers) {
		t.Fatalf("due pass: %+v, %v", pass, err)
	}
	wantOnePerPayer(t, w.statements(t), 1)
	for range 2 {
		if pass, err = job.RunOnce(ctx); err != nil || pass.Statements != 0 {
			t.Fatalf("pass after closing: %+v, %v", pass, err)
		}
	}
	var projections int64
	if err := w.owner.Raw("SELECT count(*) FROM billing_projections").Scan(&projections).Error; err != nil || projections != int64(len(payers)) {
		t.Errorf("%d projections (%v), want one per paying company in USD", projections, err)
	}
}

// TestProjectionsRefreshWhenOld: a pass prices every paying company for
// staff when their projections are missing or old, and leaves recent ones.
func TestProjectionsRefreshWhenOld(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := &clock{now: time.Now()}
	job := billingjob.New(w.app, slog.New(slog.NewTextHandler(io.Discard, nil)), billingjob.WithClock(c.Now),
		billingjob.WithProjectionsAge(time.Hour))
	for _, step := range []struct {
		after time.Duration
		want  int
	}{{0, len(payers)}, {time.Minute, 0}, {59 * time.Minute, 0}, {61 * time.Minute, len(payers)}} {
		c.Set(time.Now().Add(step.after))
		pass, err := job.RunOnce(ctx)
		if err != nil || pass.Projections != step.want {
			t.Fatalf("%s later: priced %d (%v), want %d", step.after, pass.Projections, err, step.want)
		}
	}
}

// TestJobCatchesUpAfterAPause: a job stopped across three month ends
// closes each of those months when it runs again, and no month before
// the first it ever closed.
func TestJobCatchesUpAfterAPause(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := &clock{now: dueAt(w.month)}
	job := billingjob.New(w.app, slog.New(slog.NewTextHandler(io.Discard, nil)), billingjob.WithClock(c.Now))
	if months, err := job.MonthsToClose(ctx, c.Now()); err != nil || len(months) != 1 || months[0] != w.month {
		t.Fatalf("first pass would close %v (%v), want the due month alone", months, err)
	}
	if _, err := job.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	later := w.month.Next().Next().Next()
	c.Set(dueAt(later))
	months, err := job.MonthsToClose(ctx, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []models.BillingMonth{w.month, w.month.Next(), w.month.Next().Next(), later}
	if strings.Join(monthStrings(months), " ") != strings.Join(monthStrings(want), " ") {
		t.Fatalf("after the pause: %v, want %v", months, want)
	}
	pass, err := job.RunOnce(ctx)
	if err != nil || pass.Statements != 3*len(payers) {
		t.Fatalf("catch-up pass: %+v, %v", pass, err)
	}
	wantOnePerPayer(t, w.statements(t), 4)
}

func monthStrings(ms []models.BillingMonth) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m)
	}
	return out
}

// TestTwoJobsAtOnce: two instances running their passes at the same
// moment write one statement per company between them (on PostgreSQL,
// two connections of the application role; on SQLite, one at a time).
func TestTwoJobsAtOnce(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	c := &clock{now: dueAt(w.month.Next())} // two months to close: the made-in month and the next
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	// The newest closed month is what a pass catches up from: close the
	// first by hand, as a job that ran then would have.
	if _, err := w.app.CloseBillingMonth(ctx, w.month, dueAt(w.month)); err != nil {
		t.Fatal(err)
	}
	jobs := []*billingjob.Job{billingjob.New(w.app, quiet, billingjob.WithClock(c.Now)), billingjob.New(w.app, quiet, billingjob.WithClock(c.Now))}
	var wg sync.WaitGroup
	passes := make([]billingjob.Pass, len(jobs))
	errs := make([]error, len(jobs))
	for i, job := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			passes[i], errs[i] = job.RunOnce(ctx)
		}()
	}
	wg.Wait()
	written := 0
	for i := range jobs {
		if errs[i] != nil {
			t.Logf("job %d: %v (the other job's pass covers it)", i, errs[i])
		}
		written += passes[i].Statements
	}
	// A pass that lost a race (a retry, a projection written meanwhile) is
	// made again five minutes later: the next one finds what is left.
	again, err := jobs[0].RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if written+again.Statements != len(payers) {
		t.Errorf("the two jobs wrote %d statements, then %d; want %d in all", written, again.Statements, len(payers))
	}
	wantOnePerPayer(t, w.statements(t), 2)
}

// TestRunPassesAtStartAndStops: Run makes its first pass at once, keeps
// the server alive through a failing pass, and returns when its context
// ends.
func TestRunPassesAtStartAndStops(t *testing.T) {
	w := newWorld(t)
	log := &testkit.LockedBuffer{}
	c := &clock{now: dueAt(w.month)}
	job := billingjob.New(w.app, slog.New(slog.NewTextHandler(log, nil)), billingjob.WithClock(c.Now), billingjob.WithInterval(20*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); job.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), "pass done") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	wantOnePerPayer(t, w.statements(t), 1)
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if !strings.Contains(log.String(), "billing job: pass done") || !strings.Contains(log.String(), "statements_written=4") {
		t.Errorf("the first pass was not logged with its counts:\n%s", log)
	}

	// A database that is gone: each pass fails, is logged, and the loop
	// goes on until it is stopped.
	sqlDB, err := w.owner.DB()
	if err != nil {
		t.Fatal(err)
	}
	broken := &testkit.LockedBuffer{}
	ownerStore := models.NewStore(w.owner)
	_ = sqlDB.Close()
	failing := billingjob.New(ownerStore, slog.New(slog.NewTextHandler(broken, nil)), billingjob.WithClock(c.Now), billingjob.WithInterval(10*time.Millisecond))
	ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	failing.Run(ctx)
	if n := strings.Count(broken.String(), "billing job: pass failed"); n < 2 {
		t.Errorf("%d failed passes logged, want several:\n%s", n, broken)
	}
}
