package models

import (
	"context"
	"fmt"
	"sort"
	"time"
)

// Rebuilding: the daily figures are kept as changes happen, and can be
// derived again from what they count — completed live orders (their
// history) and the presence intervals — to check them, or to repair them.

// BillingRebuildReport is what a rebuild of one month found.
type BillingRebuildReport struct {
	Month     BillingMonth
	Companies int
	// Differences name each day whose kept figures differ from those
	// derived, as "acme 2026-11-03 devices: kept 4 starts 0 ends, derived 5 starts 0 ends".
	Differences []string
	Skipped     []string // companies whose month is closed: their statement is fixed
	Applied     bool
}

// RebuildBillingMonth derives every company's daily figures of month from
// the source rows and compares them with those kept; with apply, it
// replaces the kept ones by the derived. A company's month already closed
// is left alone (its statement is fixed). Orders counted late into the
// month are kept as they are: they belong to a closed month's sources.
// Each company is done in its own scope, as its own requests would.
func (s *Store) RebuildBillingMonth(ctx context.Context, month BillingMonth, apply bool) (BillingRebuildReport, error) {
	report := BillingRebuildReport{Month: month, Applied: apply}
	var companies []Tenant
	if err := s.conn(ctx).Where("parent_id IS NOT NULL").Order("id").Find(&companies).Error; err != nil {
		return report, fmt.Errorf("rebuild: list companies: %w", err)
	}
	for i := range companies {
		t := &companies[i]
		var derived map[string]dayFigures
		var names map[int64]string
		var diffs []string
		skipped := false
		// The sources are read as the company's own requests would; the
		// kept figures are replaced in the closing job's scope, the only
		// one (with staff's) that may lower a count.
		err := s.Within(ctx, Scope{TenantID: t.ID}, func(ctx context.Context, tx *Store) error {
			clock, err := tx.billingClockOf(ctx, t.ID)
			if err != nil {
				return err
			}
			if clock.closedThrough != "" && month <= clock.closedThrough {
				skipped = true
				return nil
			}
			derived, names, diffs, err = tx.rebuildCompanyMonth(ctx, t, month)
			return err
		})
		if err == nil && apply && len(diffs) > 0 {
			err = s.Within(ctx, billingWorkerScope, func(ctx context.Context, tx *Store) error {
				return tx.replaceDays(ctx, t.ID, month, derived, names)
			})
		}
		if err != nil {
			return report, fmt.Errorf("rebuild %s: %w", t.Subdomain, err)
		}
		if skipped {
			report.Skipped = append(report.Skipped, t.Subdomain)
		}
		report.Differences = append(report.Differences, diffs...)
		report.Companies++
	}
	return report, nil
}

// dayFigures are one day's figures of one company: completed orders by
// template and category, and presence starts and ends by meter.
type dayFigures map[string]int64

// rebuildCompanyMonth derives a company's days of month from the sources
// and compares them with those kept.
func (s *Store) rebuildCompanyMonth(ctx context.Context, t *Tenant, month BillingMonth) (derived map[string]dayFigures, names map[int64]string, diffs []string, err error) {
	loc := t.Location()
	// A day of the month at loc lies within a day of its UTC bounds.
	// In UTC, as the times are stored: SQLite compares them as text, where
	// "2026-10-31 23:30:00+00:00" sorts before "2026-11-01 00:00:00+01:00".
	from, to := month.Start(loc).UTC(), month.Next().Start(loc).UTC()
	derived = map[string]dayFigures{} // by day
	add := func(day, key string, n int64) {
		if derived[day] == nil {
			derived[day] = dayFigures{}
		}
		derived[day][key] += n
	}
	var completed []struct {
		CreatedAt  time.Time
		TemplateID int64
		Category   TemplateCategory
		Name       string
	}
	err = s.conn(ctx).Raw(`SELECT e.created_at, o.template_id, tp.category, tp.name FROM order_events AS e
		JOIN orders AS o ON o.tenant_id = e.tenant_id AND o.id = e.order_id
		JOIN templates AS tp ON tp.tenant_id = o.tenant_id AND tp.id = o.template_id
		WHERE e.tenant_id = ? AND e.to_status = ? AND o.environment = ? AND e.created_at >= ? AND e.created_at < ?`,
		t.ID, OrderCompleted, OrderLive, from, to).Scan(&completed).Error
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read completed orders: %w", err)
	}
	names = map[int64]string{}
	for _, c := range completed {
		add(DayOf(c.CreatedAt, loc), orderKey(c.TemplateID, c.Category), 1)
		names[c.TemplateID] = c.Name
	}
	var periods []struct {
		Meter     string
		StartedAt time.Time
		EndedAt   *time.Time
	}
	err = s.scoped(ctx, t.ID).Table("billing_presence_periods").Select("meter, started_at, ended_at").
		Where("(started_at >= ? AND started_at < ?) OR (ended_at >= ? AND ended_at < ?)", from, to, from, to).Scan(&periods).Error
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read presence: %w", err)
	}
	for _, p := range periods {
		if !p.StartedAt.Before(from) && p.StartedAt.Before(to) {
			add(DayOf(p.StartedAt, loc), p.Meter+" starts", 1)
		}
		if p.EndedAt != nil && !p.EndedAt.Before(from) && p.EndedAt.Before(to) {
			add(DayOf(*p.EndedAt, loc), p.Meter+" ends", 1)
		}
	}
	kept, err := s.keptDays(ctx, t.ID, month)
	if err != nil {
		return nil, nil, nil, err
	}
	return derived, names, compareDays(t.Subdomain, kept, derived), nil
}

func orderKey(templateID int64, c TemplateCategory) string {
	return fmt.Sprintf("orders %d %s", templateID, c)
}

// keptDays reads the figures kept for the month, late orders aside.
func (s *Store) keptDays(ctx context.Context, tenantID int64, month BillingMonth) (map[string]dayFigures, error) {
	kept := map[string]dayFigures{}
	put := func(day, key string, n int64) {
		if n == 0 {
			return
		}
		if kept[day] == nil {
			kept[day] = dayFigures{}
		}
		kept[day][key] += n
	}
	var orders []struct {
		Day        string
		TemplateID int64
		Category   TemplateCategory
		Completed  int64
	}
	if err := s.scoped(ctx, tenantID).Table("billing_order_days").Select("day, template_id, category, completed").
		Where("day >= ? AND day < ? AND NOT late", month.FirstDay(), month.EndDay()).Scan(&orders).Error; err != nil {
		return nil, fmt.Errorf("read kept orders: %w", err)
	}
	for _, o := range orders {
		put(o.Day, orderKey(o.TemplateID, o.Category), o.Completed)
	}
	var days []presenceDay
	if err := s.scoped(ctx, tenantID).Table("billing_presence_days").Select("meter, day, starts, ends").
		Where("day >= ? AND day < ?", month.FirstDay(), month.EndDay()).Scan(&days).Error; err != nil {
		return nil, fmt.Errorf("read kept presence: %w", err)
	}
	for _, d := range days {
		put(d.Day, d.Meter+" starts", d.Starts)
		put(d.Day, d.Meter+" ends", d.Ends)
	}
	return kept, nil
}

// compareDays lists, day by day and figure by figure, where kept and
// derived disagree.
func compareDays(company string, kept, derived map[string]dayFigures) []string {
	seen := map[string]bool{}
	var keys []string
	for _, m := range []map[string]dayFigures{kept, derived} {
		for day, figures := range m {
			for key := range figures {
				if k := day + "\x00" + key; !seen[k] {
					seen[k] = true
					keys = append(keys, k)
				}
			}
		}
	}
	sort.Strings(keys)
	var out []string
	for _, k := range keys {
		var day, key string
		for i := range k {
			if k[i] == 0 {
				day, key = k[:i], k[i+1:]
				break
			}
		}
		if a, b := kept[day][key], derived[day][key]; a != b {
			out = append(out, fmt.Sprintf("%s %s %s: kept %d, derived %d", company, day, key, a, b))
		}
	}
	return out
}

// replaceDays writes the derived figures in place of the kept ones.
func (s *Store) replaceDays(ctx context.Context, tenantID int64, month BillingMonth, derived map[string]dayFigures, names map[int64]string) error {
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.scoped(ctx, tenantID).Where("day >= ? AND day < ? AND NOT late", month.FirstDay(), month.EndDay()).
			Delete(&billingOrderDay{}).Error; err != nil {
			return fmt.Errorf("clear orders: %w", err)
		}
		if err := tx.scoped(ctx, tenantID).Where("day >= ? AND day < ?", month.FirstDay(), month.EndDay()).
			Delete(&billingPresenceDay{}).Error; err != nil {
			return fmt.Errorf("clear presence: %w", err)
		}
		var orders []billingOrderDay
		presence := map[string]*billingPresenceDay{}
		for day, figures := range derived {
			for key, n := range figures {
				var templateID int64
				var category, meter, edge string
				if _, err := fmt.Sscanf(key, "orders %d %s", &templateID, &category); err == nil {
					orders = append(orders, billingOrderDay{TenantID: tenantID, Day: day, TemplateID: templateID,
						Category: TemplateCategory(category), TemplateName: names[templateID], Completed: n})
					continue
				}
				if _, err := fmt.Sscanf(key, "%s %s", &meter, &edge); err != nil {
					return fmt.Errorf("derived figure %q: %w", key, err)
				}
				k := meter + " " + day
				if presence[k] == nil {
					presence[k] = &billingPresenceDay{TenantID: tenantID, Meter: meter, Day: day}
				}
				if edge == "starts" {
					presence[k].Starts += n
				} else {
					presence[k].Ends += n
				}
			}
		}
		if len(orders) > 0 {
			if err := tx.conn(ctx).Create(&orders).Error; err != nil {
				return fmt.Errorf("write orders: %w", err)
			}
		}
		for _, p := range presence {
			if err := tx.conn(ctx).Create(p).Error; err != nil {
				return fmt.Errorf("write presence: %w", err)
			}
		}
		return nil
	})
}

// billingOrderDay and billingPresenceDay are the kept rows, for writing.
type billingOrderDay struct {
	TenantID     int64
	Day          string
	TemplateID   int64
	Category     TemplateCategory
	Late         bool
	TemplateName string
	Completed    int64
}

func (billingOrderDay) TableName() string { return "billing_order_days" }

type billingPresenceDay struct {
	TenantID int64
	Meter    string
	Day      string
	Starts   int64
	Ends     int64
}

func (billingPresenceDay) TableName() string { return "billing_presence_days" }
