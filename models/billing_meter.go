package models

import (
	"context"
	"fmt"
	"time"

	"gorm.io/gorm/clause"
)

// Metering: every change that bills is recorded in the transaction of the
// change itself, so a rolled-back change leaves no usage and a committed
// one is never missed. Completed live orders add one to their template's
// count of the day (billing_order_days); a device becoming active, or a
// person becoming a member, opens an interval (billing_presence_periods)
// and counts a start on its day, and its end closes it and counts an end
// (billing_presence_days). Days are the company's local days.

// The presence meters.
const (
	MeterDevices = "devices"
	MeterSeats   = "seats"
)

// billingClock is what metering needs of a company: its timezone, and the
// newest month of it already closed into a statement ("" for none).
type billingClock struct {
	loc           *time.Location
	closedThrough BillingMonth
}

// billingClockOf reads a company's billing clock in one statement.
func (s *Store) billingClockOf(ctx context.Context, tenantID int64) (billingClock, error) {
	var row struct {
		Timezone string
		Closed   *string
	}
	err := s.conn(ctx).Raw(`SELECT t.timezone, (SELECT max(month) FROM billing_statement_sections AS b WHERE b.tenant_id = t.id) AS closed
		FROM tenants AS t WHERE t.id = ?`, tenantID).Scan(&row).Error
	if err != nil {
		return billingClock{}, fmt.Errorf("billing clock: %w", err)
	}
	t := Tenant{Timezone: row.Timezone}
	c := billingClock{loc: t.Location()}
	if row.Closed != nil {
		c.closedThrough = BillingMonth(*row.Closed)
	}
	return c, nil
}

// bookingDay is the day usage at `at` is counted on: its own, or, when its
// month is already closed, the first day of the month after the last
// closed one, marked late.
func (c billingClock) bookingDay(at time.Time) (day string, late bool) {
	if c.closedThrough != "" && MonthOf(at, c.loc) <= c.closedThrough {
		return c.closedThrough.Next().FirstDay(), true
	}
	return DayOf(at, c.loc), false
}

// meterOrderCompleted counts a live order completed at `at`; test orders
// are never billed.
func (s *Store) meterOrderCompleted(ctx context.Context, o *Order, at time.Time) error {
	if o.Environment != OrderLive {
		return nil
	}
	clock, err := s.billingClockOf(ctx, o.TenantID)
	if err != nil {
		return err
	}
	day, late := clock.bookingDay(at)
	err = s.conn(ctx).Exec(`INSERT INTO billing_order_days (tenant_id, day, template_id, category, late, template_name, completed)
		SELECT tenant_id, ?, id, category, ?, name, 1 FROM templates WHERE tenant_id = ? AND id = ?
		ON CONFLICT (tenant_id, day, template_id, category, late)
		DO UPDATE SET completed = billing_order_days.completed + 1, template_name = excluded.template_name`,
		day, late, o.TenantID, o.TemplateID).Error
	if err != nil {
		return fmt.Errorf("meter completed order: %w", err)
	}
	return nil
}

// startPresence opens an interval for each subject (a device, a user) at
// `at`, and counts the starts on its day. A subject already present is
// left as it is.
func (s *Store) startPresence(ctx context.Context, tenantID int64, meter string, subjects []int64, at time.Time) error {
	if len(subjects) == 0 {
		return nil
	}
	rows := make([]map[string]any, len(subjects))
	for i, id := range subjects {
		rows[i] = map[string]any{"tenant_id": tenantID, "meter": meter, "subject_id": id, "started_at": at}
	}
	res := s.conn(ctx).Table("billing_presence_periods").Clauses(clause.OnConflict{
		Columns:     []clause.Column{{Name: "tenant_id"}, {Name: "meter"}, {Name: "subject_id"}},
		TargetWhere: clause.Where{Exprs: []clause.Expression{clause.Expr{SQL: "ended_at IS NULL"}}},
		DoNothing:   true,
	}).CreateInBatches(rows, 500)
	if res.Error != nil {
		return fmt.Errorf("start %s: %w", meter, res.Error)
	}
	return s.countPresence(ctx, tenantID, meter, at, res.RowsAffected, 0)
}

// endPresence closes the open interval of each subject at `at` and counts
// the ends on its day; a subject without one is left alone.
func (s *Store) endPresence(ctx context.Context, tenantID int64, meter string, subjects []int64, at time.Time) error {
	if len(subjects) == 0 {
		return nil
	}
	res := s.scoped(ctx, tenantID).Table("billing_presence_periods").
		Where("meter = ? AND subject_id IN ? AND ended_at IS NULL", meter, subjects).Update("ended_at", at)
	if res.Error != nil {
		return fmt.Errorf("end %s: %w", meter, res.Error)
	}
	return s.countPresence(ctx, tenantID, meter, at, 0, res.RowsAffected)
}

// countPresence adds starts and ends to the company's day of `at`.
func (s *Store) countPresence(ctx context.Context, tenantID int64, meter string, at time.Time, starts, ends int64) error {
	if starts == 0 && ends == 0 {
		return nil
	}
	clock, err := s.billingClockOf(ctx, tenantID)
	if err != nil {
		return err
	}
	err = s.conn(ctx).Exec(`INSERT INTO billing_presence_days (tenant_id, meter, day, starts, ends) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (tenant_id, meter, day)
		DO UPDATE SET starts = billing_presence_days.starts + excluded.starts, ends = billing_presence_days.ends + excluded.ends`,
		tenantID, meter, DayOf(at, clock.loc), starts, ends).Error
	if err != nil {
		return fmt.Errorf("count %s: %w", meter, err)
	}
	return nil
}

// meterDeviceStatus records what a device's change of status means for
// billing: becoming active starts its presence, leaving active ends it.
func (s *Store) meterDeviceStatus(ctx context.Context, tenantID, deviceID int64, was, now DeviceStatus, at time.Time) error {
	switch {
	case was != DeviceActive && now == DeviceActive:
		return s.startPresence(ctx, tenantID, MeterDevices, []int64{deviceID}, at)
	case was == DeviceActive && now != DeviceActive:
		return s.endPresence(ctx, tenantID, MeterDevices, []int64{deviceID}, at)
	}
	return nil
}

// meterNewDevices starts the presence of the active ones among devices
// just added.
func (s *Store) meterNewDevices(ctx context.Context, tenantID int64, devices []Device, at time.Time) error {
	var active []int64
	for _, d := range devices {
		if d.Status == DeviceActive {
			active = append(active, d.ID)
		}
	}
	return s.startPresence(ctx, tenantID, MeterDevices, active, at)
}
