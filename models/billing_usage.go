package models

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"
)

// TemplateUsage is one template's completed live orders in a month.
type TemplateUsage struct {
	TemplateID   int64            `json:"template_id"`
	TemplateName string           `json:"template_name"`
	Category     TemplateCategory `json:"category"`
	Completed    int64            `json:"completed"`
	Late         int64            `json:"late,omitempty"` // of Completed, those from a month already closed
}

// MonthUsage is what one company used in one of its months, so far.
type MonthUsage struct {
	TenantID int64        `json:"tenant_id"`
	Month    BillingMonth `json:"month"`
	Days     int          `json:"days"`    // days in the month
	Counted  int          `json:"counted"` // days counted: all of a past month, up to today in the current one
	// ActiveDays are the month's days from the company's creation on, which
	// prorate the base fee.
	ActiveDays int             `json:"active_days"`
	Orders     []TemplateUsage `json:"orders"`
	DeviceDays int64           `json:"device_days"`
	DevicesNow int64           `json:"devices_now"` // present at the end of the last day counted
	SeatDays   int64           `json:"seat_days"`
	SeatsPeak  int64           `json:"seats_peak"`
	SeatsNow   int64           `json:"seats_now"`
}

// OrdersTotal is every completed order of the month.
func (u *MonthUsage) OrdersTotal() int64 {
	var n int64
	for _, o := range u.Orders {
		n += o.Completed
	}
	return n
}

// OrdersOf counts the orders of templates in category c.
func (u *MonthUsage) OrdersOf(c TemplateCategory) (n, late int64) {
	for _, o := range u.Orders {
		if o.Category == c {
			n += o.Completed
			late += o.Late
		}
	}
	return n, late
}

// DeviceMonths is device-days over the month's days, in hundredths: a
// device active half the month is 0.50.
func (u *MonthUsage) DeviceMonths() int64 { return perMonthHundredths(u.DeviceDays, u.Days) }

// SeatsAverage is seat-days over the days counted (the month's days once
// it is over), in hundredths: the average number of members so far.
// Pricing counts seat-days against the whole month instead.
func (u *MonthUsage) SeatsAverage() int64 {
	if u.Counted > 0 && u.Counted < u.Days {
		return perMonthHundredths(u.SeatDays, u.Counted)
	}
	return perMonthHundredths(u.SeatDays, u.Days)
}

func perMonthHundredths(dayUnits int64, days int) int64 {
	if days == 0 {
		return 0
	}
	return roundDiv(dayUnits*100, int64(days))
}

// roundDiv is a/b rounded half up, for non-negative a and positive b.
func roundDiv(a, b int64) int64 { return (a + b/2) / b }

// FormatHundredths writes hundredths as a decimal, 1250 as "12.50".
func FormatHundredths(n int64) string { return fmt.Sprintf("%d.%02d", n/100, n%100) }

// Projected is the month as it would end if it went on as it is: orders
// at the rate so far, devices and seats as they are now.
func (u MonthUsage) Projected() MonthUsage {
	if u.Counted >= u.Days || u.Counted == 0 {
		return u
	}
	p := u
	rest := int64(u.Days - u.Counted)
	p.Orders = make([]TemplateUsage, len(u.Orders))
	for i, o := range u.Orders {
		o.Completed = roundDiv(o.Completed*int64(u.Days), int64(u.Counted))
		p.Orders[i] = o
	}
	p.DeviceDays += u.DevicesNow * rest
	p.SeatDays += u.SeatsNow * rest
	p.Counted = u.Days
	return p
}

// monthUsages reads the month of each company, each in its own timezone,
// as it stands at now: one statement however many companies and days.
func (s *Store) monthUsages(ctx context.Context, tenants []*Tenant, month BillingMonth, now time.Time) (map[int64]*MonthUsage, error) {
	ids := make([]int64, len(tenants))
	out := make(map[int64]*MonthUsage, len(tenants))
	for i, t := range tenants {
		ids[i] = t.ID
		out[t.ID] = newMonthUsage(t, month, now)
	}
	if len(ids) == 0 {
		return out, nil
	}
	if slices.Contains(ids, 0) {
		return nil, ErrNoTenant
	}
	// One statement: the month's orders, its presence days, and the sums
	// of presence before it (day ''), in rows of one shape.
	var rows []usageRow
	err := s.conn(ctx).Raw(`SELECT 'o' AS kind, tenant_id, template_id, category, late, max(template_name) AS template_name,
			CAST(sum(completed) AS BIGINT) AS completed, '' AS meter, '' AS day, 0 AS starts, 0 AS ends
			FROM billing_order_days WHERE tenant_id IN ? AND day >= ? AND day < ?
			GROUP BY tenant_id, template_id, category, late
		UNION ALL
		SELECT 'p', tenant_id, 0, '', false, '', 0, meter, day, starts, ends FROM billing_presence_days
			WHERE tenant_id IN ? AND day >= ? AND day < ?
		UNION ALL
		SELECT 'p', tenant_id, 0, '', false, '', 0, meter, '', CAST(sum(starts) AS BIGINT), CAST(sum(ends) AS BIGINT) FROM billing_presence_days
			WHERE tenant_id IN ? AND day < ? GROUP BY tenant_id, meter`,
		ids, month.FirstDay(), month.EndDay(), ids, month.FirstDay(), month.EndDay(), ids, month.FirstDay()).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read usage: %w", err)
	}
	var days []presenceDay
	for _, r := range rows {
		if r.Kind == "o" {
			out[r.TenantID].addOrders(r.TemplateID, r.TemplateName, r.Category, r.Completed, r.Late)
			continue
		}
		days = append(days, presenceDay{TenantID: r.TenantID, Meter: r.Meter, Day: r.Day, Starts: r.Starts, Ends: r.Ends})
	}
	byTenant := map[int64][]presenceDay{}
	for _, d := range days {
		byTenant[d.TenantID] = append(byTenant[d.TenantID], d)
	}
	for id, u := range out {
		u.integrate(byTenant[id])
		sort.Slice(u.Orders, func(i, j int) bool { return u.Orders[i].TemplateName < u.Orders[j].TemplateName })
	}
	return out, nil
}

// usageRow is a row of monthUsages' one statement: an order count (kind
// "o") or a presence day (kind "p").
type usageRow struct {
	Kind         string
	TenantID     int64
	TemplateID   int64
	Category     TemplateCategory
	Late         bool
	TemplateName string
	Completed    int64
	Meter        string
	Day          string
	Starts       int64
	Ends         int64
}

// presenceDay is one company's starts and ends of one meter on one day;
// the day "" holds the sums of every day before the month.
type presenceDay struct {
	TenantID int64
	Meter    string
	Day      string
	Starts   int64
	Ends     int64
}

func newMonthUsage(t *Tenant, month BillingMonth, now time.Time) *MonthUsage {
	loc := t.Location()
	u := &MonthUsage{TenantID: t.ID, Month: month, Days: month.Days(), Orders: []TemplateUsage{}}
	switch current := MonthOf(now, loc); {
	case month < current:
		u.Counted = u.Days
	case month == current:
		u.Counted = now.In(loc).Day()
	}
	u.ActiveDays = u.Days
	if created := MonthOf(t.CreatedAt, loc); created == month {
		u.ActiveDays = u.Days - t.CreatedAt.In(loc).Day() + 1
	} else if created > month {
		u.ActiveDays = 0
	}
	return u
}

func (u *MonthUsage) addOrders(templateID int64, name string, c TemplateCategory, n int64, late bool) {
	for i := range u.Orders {
		o := &u.Orders[i]
		if o.TemplateID == templateID && o.Category == c {
			o.Completed += n
			if late {
				o.Late += n
			}
			return
		}
	}
	o := TemplateUsage{TemplateID: templateID, TemplateName: name, Category: c, Completed: n}
	if late {
		o.Late = n
	}
	u.Orders = append(u.Orders, o)
}

// integrate counts, day by day up to the last day counted, what was
// present: those present at the day's start plus those starting that day.
func (u *MonthUsage) integrate(days []presenceDay) {
	for _, meter := range []string{MeterDevices, MeterSeats} {
		var present int64
		starts := make([]int64, u.Days+1)
		ends := make([]int64, u.Days+1)
		for _, d := range days {
			if d.Meter != meter {
				continue
			}
			if d.Day == "" {
				present = d.Starts - d.Ends
				continue
			}
			if n := dayNumber(d.Day); n >= 1 && n <= u.Days {
				starts[n] += d.Starts
				ends[n] += d.Ends
			}
		}
		var total, peak int64
		for day := 1; day <= u.Counted; day++ {
			that := present + starts[day]
			total += that
			peak = max(peak, that)
			present = that - ends[day]
		}
		if meter == MeterDevices {
			u.DeviceDays, u.DevicesNow = total, present
		} else {
			u.SeatDays, u.SeatsPeak, u.SeatsNow = total, peak, present
		}
	}
}

// MonthUsageOf is one company's month, as it stands at now.
func (s *Store) MonthUsageOf(ctx context.Context, t *Tenant, month BillingMonth, now time.Time) (*MonthUsage, error) {
	usages, err := s.monthUsages(ctx, []*Tenant{t}, month, now)
	if err != nil {
		return nil, err
	}
	return usages[t.ID], nil
}
