package models

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// What the billing pages read beyond the overview: one month as the
// company whose pages they are sees it, and the same without money for a
// company billed to another. Who may see prices is decided here, once:
// the company that pays sees its statement; a company billed to another
// sees its own usage only (UsageOnly), never a price, an amount or a total.

// BillingMonthOf is month as t sees it at now: its statement when it pays
// for itself (every company billed to it, each a section), or its own
// section when it is billed to another (PayerID and PayerName say who
// pays; the caller strips the money with UsageOnly). The current month is
// priced as it stands, and so is the month before until the closing job
// closes it; an earlier one is read as it was closed. A month
// after the current one, or one without terms or a closed statement, is
// ErrNotFound. One statement for a closed month, two for the open one.
func (s *Store) BillingMonthOf(ctx context.Context, t *Tenant, month BillingMonth, now time.Time) (*BillingStatement, error) {
	current := MonthOf(now, t.Location())
	switch {
	case !month.Valid() || month > current:
		return nil, ErrNotFound
	case month == current:
		st, err := s.openStatement(ctx, t.ID, month, now)
		if errors.Is(err, ErrNoBillingTerms) {
			return nil, fmt.Errorf("billing month: %w", ErrNotFound)
		}
		return st, err
	}
	rows, err := s.monthSections(ctx, t.ID, month)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 && month == current.Prev() {
		// Ended here but not yet everywhere: the closing job has not
		// closed it, so it is shown as it stands, not final.
		st, err := s.openStatement(ctx, t.ID, month, now)
		if errors.Is(err, ErrNoBillingTerms) {
			return nil, fmt.Errorf("billing month: %w", ErrNotFound)
		}
		return st, err
	}
	return closedMonthAsSeenBy(t, month, rows)
}

// sectionWithPayer is a stored section with the name of the company whose
// statement holds it.
type sectionWithPayer struct {
	Row       billingSectionRow `gorm:"embedded"`
	PayerName string
}

// monthSections reads, in one statement, the closed sections of month that
// concern tenantID: those of the statement it pays, and its own section
// wherever it is held.
func (s *Store) monthSections(ctx context.Context, tenantID int64, month BillingMonth) ([]sectionWithPayer, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	var rows []sectionWithPayer
	err := s.conn(ctx).Table("billing_statement_sections AS b").
		Select("b.*, coalesce(p.name, '') AS payer_name").
		Joins("LEFT JOIN tenants AS p ON p.id = b.payer_tenant_id").
		Where("b.month = ? AND (b.payer_tenant_id = ? OR b.tenant_id = ?)", string(month), tenantID, tenantID).
		Order("b.position").Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read closed month: %w", err)
	}
	return rows, nil
}

// closedMonthAsSeenBy makes the sections read by monthSections into the
// statement t pays, or its own section when another company paid.
func closedMonthAsSeenBy(t *Tenant, month BillingMonth, rows []sectionWithPayer) (*BillingStatement, error) {
	var paid, own []sectionWithPayer
	for _, r := range rows {
		switch {
		case r.Row.PayerTenantID == t.ID:
			paid = append(paid, r)
		case r.Row.TenantID == t.ID:
			own = append(own, r)
		}
	}
	if len(paid) == 0 {
		paid = own
	}
	if len(paid) == 0 {
		return nil, fmt.Errorf("billing month %s: %w", month, ErrNotFound)
	}
	closedAt := paid[0].Row.ClosedAt
	st := &BillingStatement{PayerID: paid[0].Row.PayerTenantID, PayerName: paid[0].PayerName, Month: month, ClosedAt: &closedAt}
	for i := range paid {
		sec, err := paid[i].Row.section()
		if err != nil {
			return nil, err
		}
		if sec.TenantID != st.PayerID {
			sec.Depth = 1
		}
		st.Sections = append(st.Sections, sec)
	}
	st.Totals, st.ProjectedTotals = sumSections(st.Sections)
	return st, nil
}

// UsageOnly is the statement without money: each company's usage, with
// no plan, line, price, subtotal or total. It is all a company billed to
// another may see of its months.
func (st *BillingStatement) UsageOnly() *BillingStatement {
	out := &BillingStatement{PayerID: st.PayerID, PayerName: st.PayerName, Month: st.Month, ClosedAt: st.ClosedAt}
	for _, sec := range st.Sections {
		out.Sections = append(out.Sections, BillingSection{TenantID: sec.TenantID, CompanyName: sec.CompanyName,
			Subdomain: sec.Subdomain, Depth: sec.Depth, BillToName: sec.BillToName, Usage: sec.Usage})
	}
	return out
}

// UsageOnly is the overview without money, for a company billed to
// another: its usage this month, its closed months' usage and the chart.
func (o *BillingOverview) UsageOnly() *BillingOverview {
	out := *o
	out.Current = o.Current.UsageOnly()
	out.Statements = make([]BillingSummary, len(o.Statements))
	for i, sm := range o.Statements {
		out.Statements[i] = BillingSummary{Month: sm.Month, ClosedAt: sm.ClosedAt, Usage: sm.Usage}
	}
	return &out
}

// BilledToIt counts the companies billed to the payer: its sections but its own.
func (st *BillingStatement) BilledToIt() int {
	n := 0
	for _, sec := range st.Sections {
		if sec.TenantID != st.PayerID {
			n++
		}
	}
	return n
}

// Usage sums the usage of the statement's companies, for its headline.
func (st *BillingStatement) Usage() BillingChartMonth {
	c := BillingChartMonth{Month: st.Month, Open: !st.Closed()}
	for i := range st.Sections {
		c.add(&st.Sections[i].Usage)
	}
	return c
}

// HasUsage tells whether any month of the chart used anything.
func HasUsage(months []BillingChartMonth) bool {
	for _, m := range months {
		if m.Orders > 0 || m.DeviceMonths > 0 || m.SeatsAverage > 0 {
			return true
		}
	}
	return false
}

// UsageMeter is one figure of a company's month as its usage pages and CSV
// show it, without prices: a quantity, whole or in hundredths.
type UsageMeter struct {
	Label      string
	Quantity   int64
	Hundredths bool
}

// Text writes the quantity as people read it.
func (m UsageMeter) Text() string {
	if m.Hundredths {
		return FormatHundredths(m.Quantity)
	}
	return fmt.Sprint(m.Quantity)
}

// Meters are the month's figures: completed orders per template and in
// all, device-months, and seats on average and at their peak.
func (u *MonthUsage) Meters() []UsageMeter {
	var out []UsageMeter
	for _, o := range u.Orders {
		out = append(out, UsageMeter{Label: "Completed orders, " + o.TemplateName, Quantity: o.Completed})
	}
	return append(out,
		UsageMeter{Label: "Completed orders", Quantity: u.OrdersTotal()},
		UsageMeter{Label: "Device-months", Quantity: u.DeviceMonths(), Hundredths: true},
		UsageMeter{Label: "Seats (average)", Quantity: u.SeatsAverage(), Hundredths: true},
		UsageMeter{Label: "Seats (peak)", Quantity: u.SeatsPeak})
}

// BillingProjectionPageSize is how many rows a page of platform staff's
// billing list shows.
const BillingProjectionPageSize = 25
