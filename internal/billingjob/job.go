// Package billingjob is the billing closing job that `canopy serve` runs in
// the background: when it starts and then every few minutes, it closes the
// month that has ended in every timezone (models.BillingMonthDue) into
// fixed statements, with any month a pause left unclosed before it, and
// prices the current month of every paying company for platform staff's
// list (models.Store.RefreshBillingProjections) once they are an hour old.
// Closing is idempotent and decided by the database, so every instance of
// the server runs the job.
package billingjob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"canopy/models"
)

// DefaultInterval is how often the job runs: statements close within a few
// minutes of the month ending everywhere, and staff's projected totals are
// as old as this at most.
const DefaultInterval = 5 * time.Minute

// DefaultProjectionsAge is how old staff's projections may grow before a
// pass prices every paying company again: pricing them all is the job's
// costly part (minutes at 10,000 companies), closing a month already
// closed costs one query.
const DefaultProjectionsAge = time.Hour

// MaxCatchUp bounds how many months before the due one a pass closes when
// the job was stopped across month ends: a year.
const MaxCatchUp = 12

// Job closes billing months and refreshes projections until its context
// ends.
type Job struct {
	store          *models.Store
	log            *slog.Logger
	interval       time.Duration
	projectionsAge time.Duration
	now            func() time.Time
}

// Option adjusts a Job; tests use them to run on a clock of their own.
type Option func(*Job)

// WithInterval sets the time between passes.
func WithInterval(d time.Duration) Option { return func(j *Job) { j.interval = d } }

// WithProjectionsAge sets how old staff's projections may grow before a
// pass refreshes them.
func WithProjectionsAge(d time.Duration) Option { return func(j *Job) { j.projectionsAge = d } }

// WithClock replaces time.Now: the moment each pass closes and prices at.
func WithClock(now func() time.Time) Option { return func(j *Job) { j.now = now } }

// New makes a job working on store.
func New(store *models.Store, log *slog.Logger, opts ...Option) *Job {
	j := &Job{store: store, log: log, interval: DefaultInterval, projectionsAge: DefaultProjectionsAge, now: time.Now}
	for _, opt := range opts {
		opt(j)
	}
	return j
}

// Pass is what one pass did.
type Pass struct {
	At          time.Time
	Months      []models.BillingMonth // the months it closed (or found closed), oldest first
	Statements  int                   // statements it wrote
	Projections int                   // paying companies it priced; 0 when the projections were recent
	Took        time.Duration
}

// Run makes a pass at once and then every interval until ctx ends. A pass
// that fails is logged and the next one tries again; a pass under way when
// ctx ends is cut short, and the next start does what it left.
func (j *Job) Run(ctx context.Context) {
	ticker := time.NewTicker(j.interval)
	defer ticker.Stop()
	for first := true; ; first = false {
		j.runLogged(ctx, first)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// runLogged makes one pass and says what it did: at Info when it wrote
// statements or is the first since the start, at Debug otherwise.
func (j *Job) runLogged(ctx context.Context, first bool) {
	defer func() {
		if r := recover(); r != nil {
			j.log.Error("billing job: pass panicked; trying again at the next", "panic", fmt.Sprint(r))
		}
	}()
	pass, err := j.RunOnce(ctx)
	if err != nil {
		if ctx.Err() == nil {
			j.log.Error("billing job: pass failed; trying again at the next", "err", err,
				"statements", pass.Statements, "projections", pass.Projections)
		}
		return
	}
	level := slog.LevelDebug
	if first || pass.Statements > 0 {
		level = slog.LevelInfo
	}
	months := make([]string, len(pass.Months))
	for i, m := range pass.Months {
		months[i] = string(m)
	}
	j.log.Log(ctx, level, "billing job: pass done", "months_closed", months, "statements_written", pass.Statements,
		"projections", pass.Projections, "took", pass.Took.Round(time.Millisecond))
}

// RunOnce makes one pass at the job's clock: it closes the due month and
// those a pause left unclosed, oldest first, then refreshes the
// projections when they are old or of another month. It goes on past a month that fails and reports every error.
func (j *Job) RunOnce(ctx context.Context) (Pass, error) {
	start := time.Now()
	pass := Pass{At: j.now()}
	months, err := j.MonthsToClose(ctx, pass.At)
	if err != nil {
		return pass, err
	}
	var errs []error
	for _, m := range months {
		n, err := j.store.CloseBillingMonth(ctx, m, pass.At)
		pass.Statements += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		pass.Months = append(pass.Months, m)
	}
	if stale, err := j.projectionsStale(ctx, pass.At); err != nil {
		errs = append(errs, err)
	} else if stale {
		if pass.Projections, err = j.store.RefreshBillingProjections(ctx, pass.At); err != nil {
			errs = append(errs, err)
		}
	}
	pass.Took = time.Since(start)
	return pass, errors.Join(errs...)
}

// MonthsToClose are the months a pass at now closes, oldest first: the due
// month, and when the newest closed month is older, every month from it on
// (itself again, so a company a failed pass left out is closed too), at
// most MaxCatchUp before the due one. A database that never closed a month
// closes the due month alone: months before billing began stay open.
func (j *Job) MonthsToClose(ctx context.Context, now time.Time) ([]models.BillingMonth, error) {
	due := models.BillingMonthDue(now)
	newest, err := j.store.NewestClosedBillingMonth(ctx)
	if err != nil {
		return nil, err
	}
	from := due
	if newest != "" && newest < due {
		from = newest
		oldest := due
		for range MaxCatchUp {
			oldest = oldest.Prev()
		}
		from = max(from, oldest)
	}
	var months []models.BillingMonth
	for m := from; m <= due; m = m.Next() {
		months = append(months, m)
	}
	return months, nil
}

// projectionsStale tells whether staff's projections need computing again
// at now: none yet, older than the job's age for them, or of a month
// before now's.
func (j *Job) projectionsStale(ctx context.Context, now time.Time) (bool, error) {
	asOf, err := j.store.BillingProjectionsAsOf(ctx)
	if err != nil {
		return false, err
	}
	return asOf.IsZero() || now.Sub(asOf) >= j.projectionsAge || models.MonthOf(asOf, time.UTC) != models.MonthOf(now, time.UTC), nil
}
