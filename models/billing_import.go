package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Billing history: usage that happened before Canopy metered it as it
// happened — the demo data's past months, or a company's usage brought
// over from elsewhere. It is written into the same rows metering keeps
// (intervals, and their starts and ends per local day), so the pages, the
// closing job and the rebuild read it like any other usage.

// PresencePeriod is an interval a device was active (MeterDevices, the
// device's id) or a person a member (MeterSeats, the user's id).
type PresencePeriod struct {
	Meter     string
	SubjectID int64
	StartedAt time.Time
	EndedAt   *time.Time // nil: present still
}

// OrderDayCount is how many live orders of a template completed on one of
// the company's local days.
type OrderDayCount struct {
	Day        string // "2026-11-03"
	TemplateID int64
	Completed  int64
}

// HistoricTerms are a company's terms from a month on: its plan, and the
// company it is billed to (0: it pays for itself).
type HistoricTerms struct {
	Month          BillingMonth
	PlanID         int64
	BillToTenantID int64
}

// BillingHistory is a company's past: when it began, its terms month by
// month, what was present when, and its completed orders per day.
type BillingHistory struct {
	// Since moves the company's creation back to then (never forward): the
	// base fee of a month is prorated over the days it existed.
	Since time.Time
	// Terms, when given, are its whole terms history up to its current
	// month, replacing the rows kept for those months; a change scheduled
	// for a later month stays.
	Terms []HistoricTerms
	// Presence: each subject named has exactly these intervals afterwards,
	// and its starts and ends per day follow. The caller keeps them true
	// to the subjects (an active device has an open interval).
	Presence []PresencePeriod
	// Orders replace the counts kept for their day and template. Only days
	// before the company's current month: this month's are counted as its
	// orders complete, so the rebuild finds them in the orders' history.
	Orders []OrderDayCount
}

// ErrBillingHistoryClosed refuses history for a company some of whose
// months have closed: a statement is fixed once written.
var ErrBillingHistoryClosed = errors.New("billing history: this company has closed months already")

// ImportBillingHistory writes a company's billing history in one
// transaction, in the caller's scope (one that may write the company's
// rows, such as platform staff's). Writing the same history again changes
// nothing. Not audited: it records what happened, it changes nothing a
// person decided.
func (s *Store) ImportBillingHistory(ctx context.Context, tenantID int64, h BillingHistory) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	return s.Tx(ctx, func(tx *Store) error {
		clock, err := tx.billingClockOf(ctx, tenantID)
		if err != nil {
			return err
		}
		if clock.closedThrough != "" {
			return ErrBillingHistoryClosed
		}
		current := MonthOf(tx.db.NowFunc(), clock.loc)
		if !h.Since.IsZero() {
			err := tx.conn(ctx).Exec("UPDATE tenants SET created_at = ? WHERE id = ? AND created_at > ?", h.Since, tenantID, h.Since).Error
			if err != nil {
				return fmt.Errorf("billing history: company's start: %w", err)
			}
		}
		if h.Terms != nil {
			if err := tx.replaceTermsHistory(ctx, tenantID, current, h.Terms); err != nil {
				return err
			}
		}
		if err := tx.replacePresence(ctx, tenantID, clock.loc, h.Presence); err != nil {
			return err
		}
		return tx.replaceOrderDays(ctx, tenantID, current, h.Orders)
	})
}

func (s *Store) replaceTermsHistory(ctx context.Context, tenantID int64, current BillingMonth, terms []HistoricTerms) error {
	if err := s.scoped(ctx, tenantID).Where("effective_month <= ?", string(current)).Delete(&BillingTerms{}).Error; err != nil {
		return fmt.Errorf("billing history: clear terms: %w", err)
	}
	for _, t := range terms {
		if !t.Month.Valid() || t.Month > current {
			return fmt.Errorf("billing history: terms from %q: give months up to %s", t.Month, current)
		}
		row := BillingTerms{TenantID: tenantID, EffectiveMonth: t.Month, PlanID: t.PlanID}
		if t.BillToTenantID != 0 {
			row.BillToTenantID = &t.BillToTenantID
		}
		if err := s.conn(ctx).Create(&row).Error; err != nil {
			return billingTermsError(err)
		}
	}
	return nil
}

// presenceKey is one day of one meter.
type presenceKey struct{ meter, day string }

// replacePresence gives each subject named its new intervals: the old
// ones' starts and ends come off their days, the new ones' go on.
func (s *Store) replacePresence(ctx context.Context, tenantID int64, loc *time.Location, periods []PresencePeriod) error {
	if len(periods) == 0 {
		return nil
	}
	subjects := map[string][]int64{}
	type subject struct {
		meter string
		id    int64
	}
	open := map[subject]bool{}
	for _, p := range periods {
		if p.Meter != MeterDevices && p.Meter != MeterSeats {
			return fmt.Errorf("billing history: unknown meter %q", p.Meter)
		}
		if p.EndedAt != nil && p.EndedAt.Before(p.StartedAt) {
			return fmt.Errorf("billing history: %s %d ends before it starts", p.Meter, p.SubjectID)
		}
		if p.EndedAt == nil {
			k := subject{p.Meter, p.SubjectID}
			if open[k] {
				return fmt.Errorf("billing history: %s %d is present twice at once", p.Meter, p.SubjectID)
			}
			open[k] = true
		}
		subjects[p.Meter] = append(subjects[p.Meter], p.SubjectID)
	}
	delta := map[presenceKey][2]int64{} // starts, ends
	count := func(meter string, start time.Time, end *time.Time, n int64) {
		k := presenceKey{meter, DayOf(start, loc)}
		d := delta[k]
		d[0] += n
		delta[k] = d
		if end != nil {
			k = presenceKey{meter, DayOf(*end, loc)}
			d = delta[k]
			d[1] += n
			delta[k] = d
		}
	}
	for meter, ids := range subjects {
		var old []PresencePeriod
		err := s.scoped(ctx, tenantID).Table("billing_presence_periods").Select("meter, subject_id, started_at, ended_at").
			Where("meter = ? AND subject_id IN ?", meter, ids).Scan(&old).Error
		if err != nil {
			return fmt.Errorf("billing history: read %s: %w", meter, err)
		}
		for _, p := range old {
			count(p.Meter, p.StartedAt, p.EndedAt, -1)
		}
		if err := s.scoped(ctx, tenantID).Where("meter = ? AND subject_id IN ?", meter, ids).
			Delete(&billingPresencePeriod{}).Error; err != nil {
			return fmt.Errorf("billing history: clear %s: %w", meter, err)
		}
	}
	rows := make([]billingPresencePeriod, len(periods))
	for i, p := range periods {
		rows[i] = billingPresencePeriod{TenantID: tenantID, Meter: p.Meter, SubjectID: p.SubjectID, StartedAt: p.StartedAt, EndedAt: p.EndedAt}
		count(p.Meter, p.StartedAt, p.EndedAt, 1)
	}
	if err := s.conn(ctx).CreateInBatches(rows, 500).Error; err != nil {
		return fmt.Errorf("billing history: write presence: %w", err)
	}
	for k, d := range delta {
		if err := s.adjustPresenceDay(ctx, tenantID, k, d[0], d[1]); err != nil {
			return err
		}
	}
	return nil
}

// adjustPresenceDay adds starts and ends (either may be negative) to a
// day, and forgets a day left with neither.
func (s *Store) adjustPresenceDay(ctx context.Context, tenantID int64, k presenceKey, starts, ends int64) error {
	if starts == 0 && ends == 0 {
		return nil
	}
	res := s.scoped(ctx, tenantID).Model(&billingPresenceDay{}).Where("meter = ? AND day = ?", k.meter, k.day).
		Updates(map[string]any{"starts": gorm.Expr("starts + ?", starts), "ends": gorm.Expr("ends + ?", ends)})
	if res.Error != nil {
		return fmt.Errorf("billing history: count %s on %s: %w", k.meter, k.day, res.Error)
	}
	if res.RowsAffected == 0 {
		if starts < 0 || ends < 0 {
			return fmt.Errorf("billing history: %s on %s would go below zero", k.meter, k.day)
		}
		row := billingPresenceDay{TenantID: tenantID, Meter: k.meter, Day: k.day, Starts: starts, Ends: ends}
		if err := s.conn(ctx).Create(&row).Error; err != nil {
			return fmt.Errorf("billing history: count %s on %s: %w", k.meter, k.day, err)
		}
		return nil
	}
	err := s.scoped(ctx, tenantID).Where("meter = ? AND day = ? AND starts = 0 AND ends = 0", k.meter, k.day).
		Delete(&billingPresenceDay{}).Error
	if err != nil {
		return fmt.Errorf("billing history: forget %s on %s: %w", k.meter, k.day, err)
	}
	return nil
}

// replaceOrderDays sets the completed orders of past days, each priced by
// its template's category.
func (s *Store) replaceOrderDays(ctx context.Context, tenantID int64, current BillingMonth, days []OrderDayCount) error {
	for _, d := range days {
		if len(d.Day) != 10 || d.Day >= current.FirstDay() {
			return fmt.Errorf("billing history: orders of %q: only days before %s", d.Day, current.FirstDay())
		}
		err := s.scoped(ctx, tenantID).Where("day = ? AND template_id = ? AND NOT late", d.Day, d.TemplateID).
			Delete(&billingOrderDay{}).Error
		if err != nil {
			return fmt.Errorf("billing history: clear orders of %s: %w", d.Day, err)
		}
		if d.Completed <= 0 {
			continue
		}
		res := s.conn(ctx).Exec(`INSERT INTO billing_order_days (tenant_id, day, template_id, category, late, template_name, completed)
			SELECT tenant_id, ?, id, category, ?, name, ? FROM templates WHERE tenant_id = ? AND id = ?`,
			d.Day, false, d.Completed, tenantID, d.TemplateID)
		if res.Error != nil {
			return fmt.Errorf("billing history: orders of %s: %w", d.Day, res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("billing history: template %d: %w", d.TemplateID, ErrNotFound)
		}
	}
	return nil
}

// billingPresencePeriod is an interval as stored.
type billingPresencePeriod struct {
	ID        int64 `gorm:"primaryKey"`
	TenantID  int64
	Meter     string
	SubjectID int64
	StartedAt time.Time
	EndedAt   *time.Time
}

func (billingPresencePeriod) TableName() string { return "billing_presence_periods" }

// SetTemplateCategory decides which order price of a plan applies to a
// template's orders from now on; orders counted already keep theirs.
// Audited as an edit of the template.
func (s *Store) SetTemplateCategory(ctx context.Context, tenantID, templateID int64, c TemplateCategory) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	c, err := ParseTemplateCategory(string(c))
	if err != nil {
		return err
	}
	return s.Tx(ctx, func(tx *Store) error {
		var t struct {
			Name     string
			Category TemplateCategory
		}
		if err := tx.scoped(ctx, tenantID).Table("templates").Select("name, category").Where("id = ?", templateID).Take(&t).Error; err != nil {
			return notFound(err, "load template")
		}
		if t.Category == c {
			return nil
		}
		err := tx.scoped(ctx, tenantID).Table("templates").Where("id = ?", templateID).
			Updates(map[string]any{"category": string(c), "updated_at": tx.db.NowFunc()}).Error
		if err != nil {
			return fmt.Errorf("set template category: %w", err)
		}
		return tx.audit(ctx, tenantID, AuditTemplateUpdated, AuditTarget{Type: "template", ID: templateID, Label: t.Name},
			map[string]any{"category": t.Category}, map[string]any{"category": c})
	})
}

// NewestClosedBillingMonth is the latest month any company's statement
// closed, "" before the first: where the closing job takes up again after
// a pause. It reads in the closing job's scope.
func (s *Store) NewestClosedBillingMonth(ctx context.Context) (BillingMonth, error) {
	var newest *string
	err := s.Within(ctx, billingWorkerScope, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Raw("SELECT max(month) FROM billing_statements").Scan(&newest).Error
	})
	if err != nil {
		return "", fmt.Errorf("newest closed billing month: %w", err)
	}
	if newest == nil {
		return "", nil
	}
	return BillingMonth(*newest), nil
}

// MonthUsagesOf reads the month of each company, each in its own
// timezone, as it stands at now: for bulk work over many companies (the
// benchmark data's statements), the same reading the pages and the
// closing job price. One statement per call.
func (s *Store) MonthUsagesOf(ctx context.Context, tenants []*Tenant, month BillingMonth, now time.Time) (map[int64]*MonthUsage, error) {
	return s.monthUsages(ctx, tenants, month, now)
}

// BillingProjectionsAsOf is when staff's projections were last computed
// (the newest of them), zero before the first: the closing job prices
// every paying company again only once they are old. It reads in the
// closing job's scope.
func (s *Store) BillingProjectionsAsOf(ctx context.Context) (time.Time, error) {
	var newest []time.Time
	err := s.Within(ctx, billingWorkerScope, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Table("billing_projections").Order("computed_at DESC").Limit(1).Pluck("computed_at", &newest).Error
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("billing projections' age: %w", err)
	}
	if len(newest) == 0 {
		return time.Time{}, nil
	}
	return newest[0], nil
}
