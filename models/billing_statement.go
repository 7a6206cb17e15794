package models

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// BillingSection is one company's part of a statement.
type BillingSection struct {
	TenantID    int64
	CompanyName string
	Subdomain   string
	Depth       int    // 0 for the company that pays, 1 for one billed to it, …
	BillToName  string // the company it is billed to directly; "" for the payer
	PlanName    string
	Currency    string
	Usage       MonthUsage
	Lines       []BillingLine
	Subtotal    int64
	// Projected is the subtotal the month heads for, while it is open.
	Projected int64
}

// StoredJSON is the section's usage and lines as a closed statement keeps
// them.
func (sec *BillingSection) StoredJSON() (usage, lines string, err error) {
	u, err := json.Marshal(sec.Usage)
	if err != nil {
		return "", "", fmt.Errorf("section usage: %w", err)
	}
	l, err := json.Marshal(sec.Lines)
	if err != nil {
		return "", "", fmt.Errorf("section lines: %w", err)
	}
	return string(u), string(l), nil
}

// MoneyTotal is an amount in one currency: a statement of companies on
// plans in several currencies has one total per currency.
type MoneyTotal struct {
	Currency string
	Amount   int64
}

// BillingStatement is a paying company's month: its own section first,
// then each company billed to it. Open while the month runs (figures to
// date and a projection), then closed and fixed.
type BillingStatement struct {
	PayerID         int64
	PayerName       string
	Month           BillingMonth
	ClosedAt        *time.Time
	Sections        []BillingSection
	Totals          []MoneyTotal
	ProjectedTotals []MoneyTotal
}

// Closed tells whether the month is closed into a fixed statement.
func (st *BillingStatement) Closed() bool { return st.ClosedAt != nil }

// statementCompany is a row of statementCompanies.
type statementCompany struct {
	TenantID       int64
	BillToTenantID *int64
	PlanID         int64
	Depth          int
	PayerID        *int64
	PayerName      string
	Name           string
	Subdomain      string
	Timezone       string
	CreatedAt      time.Time
	ParentID       *int64
	// The plan's prices, read in the same statement: a statement's page
	// has a budget of statements, and the plans are few and small.
	PlanName             string
	PlanCurrency         string
	BaseFee              int64
	OrderPrice           int64
	PremiumOrderPrice    *int64
	IncludedOrders       int64
	DeviceMonthPrice     int64
	IncludedDeviceMonths int64
	SeatPrice            int64
	IncludedSeats        int64
}

// plan is the company's plan as the statement prices it.
func (c *statementCompany) plan() *BillingPlan {
	return &BillingPlan{ID: c.PlanID, Name: c.PlanName, Currency: c.PlanCurrency, BaseFee: c.BaseFee, OrderPrice: c.OrderPrice,
		PremiumOrderPrice: c.PremiumOrderPrice, IncludedOrders: c.IncludedOrders, DeviceMonthPrice: c.DeviceMonthPrice,
		IncludedDeviceMonths: c.IncludedDeviceMonths, SeatPrice: c.SeatPrice, IncludedSeats: c.IncludedSeats}
}

// statementCompanies answers, in one statement, which companies share
// tenantID's statement of month: when it pays for itself, it and every
// company billed to it (with their plans' ids); when it is billed to
// another, only itself, with the company that pays. None when it has no
// terms that month.
func (s *Store) statementCompanies(ctx context.Context, tenantID int64, month BillingMonth) ([]statementCompany, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	payer, payees := `canopy_billing_payer(@tenant, @month)`, `canopy_billing_payees(payer.id, @month)`
	prelude := ""
	if s.Dialect() != Postgres {
		prelude = `terms AS (` + termsInForceSQL + `),
		chain (tenant_id, bill_to_tenant_id, depth) AS (
			SELECT tenant_id, bill_to_tenant_id, 0 FROM terms WHERE tenant_id = @tenant
			UNION ALL
			SELECT t.tenant_id, t.bill_to_tenant_id, c.depth + 1 FROM terms AS t JOIN chain AS c ON t.tenant_id = c.bill_to_tenant_id
			WHERE c.depth < 32),
		payees (tenant_id, bill_to_tenant_id, plan_id, depth) AS (
			SELECT tenant_id, bill_to_tenant_id, plan_id, 0 FROM terms WHERE tenant_id = @tenant AND bill_to_tenant_id IS NULL
			UNION ALL
			SELECT t.tenant_id, t.bill_to_tenant_id, t.plan_id, p.depth + 1
			FROM terms AS t JOIN payees AS p ON t.bill_to_tenant_id = p.tenant_id WHERE p.depth < 32),`
		payer, payees = `(SELECT tenant_id FROM chain WHERE bill_to_tenant_id IS NULL LIMIT 1)`, `payees`
	}
	var out []statementCompany
	err := s.conn(ctx).Raw(`WITH RECURSIVE `+prelude+`
		payer AS (SELECT `+payer+` AS id),
		companies AS (
			SELECT pe.tenant_id, pe.bill_to_tenant_id, pe.plan_id, pe.depth FROM payer, `+payees+` AS pe WHERE payer.id = @tenant
			UNION ALL
			SELECT bt.tenant_id, bt.bill_to_tenant_id, bt.plan_id, 0 FROM payer, billing_terms AS bt
			WHERE payer.id <> @tenant AND bt.tenant_id = @tenant
				AND bt.effective_month = (SELECT max(x.effective_month) FROM billing_terms AS x WHERE x.tenant_id = @tenant AND x.effective_month <= @month))
		SELECT c.tenant_id, c.bill_to_tenant_id, c.plan_id, c.depth, payer.id AS payer_id, coalesce(pt.name, '') AS payer_name,
			t.name, t.subdomain, t.timezone, t.created_at, t.parent_id,
			coalesce(bp.name, '') AS plan_name, coalesce(bp.currency, '') AS plan_currency, coalesce(bp.base_fee, 0) AS base_fee,
			coalesce(bp.order_price, 0) AS order_price, bp.premium_order_price, coalesce(bp.included_orders, 0) AS included_orders,
			coalesce(bp.device_month_price, 0) AS device_month_price, coalesce(bp.included_device_months, 0) AS included_device_months,
			coalesce(bp.seat_price, 0) AS seat_price, coalesce(bp.included_seats, 0) AS included_seats
		FROM companies AS c CROSS JOIN payer LEFT JOIN tenants AS pt ON pt.id = payer.id JOIN tenants AS t ON t.id = c.tenant_id
			LEFT JOIN billing_plans AS bp ON bp.id = c.plan_id
		ORDER BY c.depth, lower(t.name)`,
		map[string]any{"tenant": tenantID, "month": string(month)}).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("statement companies: %w", err)
	}
	return out, nil
}

// ErrNoBillingTerms is the refusal for a company without terms in a month
// (made later, or the platform): it has no bill for it.
var ErrNoBillingTerms = errors.New("this company has no billing terms for that month")

// openStatement prices month for the companies of tenantID's statement as
// they stand at now. For a company billed to another, the statement holds
// its own section only; PayerID says who pays.
func (s *Store) openStatement(ctx context.Context, tenantID int64, month BillingMonth, now time.Time) (*BillingStatement, error) {
	companies, err := s.statementCompanies(ctx, tenantID, month)
	if err != nil {
		return nil, err
	}
	if len(companies) == 0 {
		return nil, ErrNoBillingTerms
	}
	tenants := make([]*Tenant, len(companies))
	names := map[int64]string{}
	for i, c := range companies {
		tenants[i] = &Tenant{ID: c.TenantID, Name: c.Name, Subdomain: c.Subdomain, Timezone: c.Timezone, CreatedAt: c.CreatedAt, ParentID: c.ParentID}
		names[c.TenantID] = c.Name
	}
	usages, err := s.monthUsages(ctx, tenants, month, now)
	if err != nil {
		return nil, err
	}
	st := &BillingStatement{Month: month, PayerName: companies[0].PayerName}
	if companies[0].PayerID != nil {
		st.PayerID = *companies[0].PayerID
	}
	for _, c := range companies {
		if c.PlanName == "" {
			return nil, fmt.Errorf("statement: plan %d of %s: %w", c.PlanID, c.Name, ErrNotFound)
		}
		plan := c.plan()
		sec := BillingSection{TenantID: c.TenantID, CompanyName: c.Name, Subdomain: c.Subdomain, Depth: c.Depth,
			PlanName: plan.Name, Currency: plan.Currency, Usage: *usages[c.TenantID]}
		if c.BillToTenantID != nil {
			sec.BillToName = names[*c.BillToTenantID]
			if sec.BillToName == "" {
				sec.BillToName = st.PayerName
			}
		}
		sec.Lines, sec.Subtotal = PriceMonth(&sec.Usage, plan)
		projected := sec.Usage.Projected()
		_, sec.Projected = PriceMonth(&projected, plan)
		st.Sections = append(st.Sections, sec)
	}
	st.Totals, st.ProjectedTotals = sumSections(st.Sections)
	return st, nil
}

// sumSections totals sections per currency, in the order currencies first
// appear.
func sumSections(sections []BillingSection) (totals, projected []MoneyTotal) {
	for _, sec := range sections {
		totals = addMoney(totals, sec.Currency, sec.Subtotal)
		projected = addMoney(projected, sec.Currency, sec.Projected)
	}
	return totals, projected
}

func addMoney(totals []MoneyTotal, currency string, amount int64) []MoneyTotal {
	for i := range totals {
		if totals[i].Currency == currency {
			totals[i].Amount += amount
			return totals
		}
	}
	return append(totals, MoneyTotal{Currency: currency, Amount: amount})
}

// billingSectionRow is a closed statement's section as stored.
type billingSectionRow struct {
	TenantID      int64
	Month         string
	StatementID   int64
	PayerTenantID int64
	ClosedAt      time.Time
	CompanyName   string
	Position      int
	PlanName      string
	Currency      string
	Subtotal      int64
	Usage         string
	Lines         string
}

func (billingSectionRow) TableName() string { return "billing_statement_sections" }

// section is the stored section as the pages read it.
func (r *billingSectionRow) section() (BillingSection, error) {
	sec := BillingSection{TenantID: r.TenantID, CompanyName: r.CompanyName, PlanName: r.PlanName, Currency: r.Currency,
		Subtotal: r.Subtotal, Projected: r.Subtotal}
	if err := json.Unmarshal([]byte(r.Usage), &sec.Usage); err != nil {
		return sec, fmt.Errorf("statement section usage: %w", err)
	}
	if err := json.Unmarshal([]byte(r.Lines), &sec.Lines); err != nil {
		return sec, fmt.Errorf("statement section lines: %w", err)
	}
	return sec, nil
}

// BillingSummary is one closed month in a list of statements.
type BillingSummary struct {
	Month    BillingMonth
	ClosedAt time.Time
	Totals   []MoneyTotal
	Usage    BillingChartMonth
}

// BillingChartMonth is one month of the usage chart: orders, device-months
// and average seats (both in hundredths), summed over the companies shown.
type BillingChartMonth struct {
	Month        BillingMonth
	Orders       int64
	DeviceMonths int64
	SeatsAverage int64
	Open         bool // the current month, to date
}

func (c *BillingChartMonth) add(u *MonthUsage) {
	c.Orders += u.OrdersTotal()
	c.DeviceMonths += u.DeviceMonths()
	c.SeatsAverage += u.SeatsAverage()
}

// closedSections reads the stored sections since `from`: of the statements
// payerID pays (asPayer), or of tenantID's own usage in whichever
// statement holds it. One statement.
func (s *Store) closedSections(ctx context.Context, tenantID int64, asPayer bool, from BillingMonth) ([]billingSectionRow, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	var rows []billingSectionRow
	q := s.conn(ctx).Where("month >= ?", string(from))
	if asPayer {
		q = q.Where("payer_tenant_id = ?", tenantID)
	} else {
		q = s.scoped(ctx, tenantID).Where("month >= ?", string(from))
	}
	if err := q.Order("month DESC, position").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("read statements: %w", err)
	}
	return rows, nil
}

// summarize groups stored sections into months, newest first.
func summarize(rows []billingSectionRow) ([]BillingSummary, error) {
	var out []BillingSummary
	for i := range rows {
		r := &rows[i]
		sec, err := r.section()
		if err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Month != BillingMonth(r.Month) {
			out = append(out, BillingSummary{Month: BillingMonth(r.Month), ClosedAt: r.ClosedAt,
				Usage: BillingChartMonth{Month: BillingMonth(r.Month)}})
		}
		last := &out[len(out)-1]
		last.Totals = addMoney(last.Totals, r.Currency, r.Subtotal)
		last.Usage.add(&sec.Usage)
	}
	return out, nil
}

// BillingOverview is what Settings → Billing shows a company.
type BillingOverview struct {
	Month BillingMonth
	// PaysItself: the company pays; otherwise Current holds its own
	// section only and Payer names who pays, and prices are not for it.
	PaysItself bool
	PayerID    int64
	PayerName  string
	Current    *BillingStatement
	Statements []BillingSummary    // closed months, newest first (its own sections' when billed to another)
	Chart      []BillingChartMonth // the last 12 months, oldest first, the current one last
}

// BillingChartMonths is how many months the usage chart shows.
const BillingChartMonths = 12

// BillingOverviewOf reads a company's billing as it stands at now: the
// current month (its statement when it pays, its own usage otherwise),
// the closed months of the last year, and the chart's months. Two
// statements for the current month, one for the rest, however many
// companies roll up and however many devices they have.
func (s *Store) BillingOverviewOf(ctx context.Context, t *Tenant, now time.Time) (*BillingOverview, error) {
	month := MonthOf(now, t.Location())
	current, err := s.openStatement(ctx, t.ID, month, now)
	if err != nil {
		return nil, err
	}
	o := &BillingOverview{Month: month, Current: current, PayerID: current.PayerID, PayerName: current.PayerName,
		PaysItself: current.PayerID == t.ID}
	from := month
	for range BillingChartMonths - 1 {
		from = from.Prev()
	}
	rows, err := s.closedSections(ctx, t.ID, o.PaysItself, from)
	if err != nil {
		return nil, err
	}
	if o.Statements, err = summarize(rows); err != nil {
		return nil, err
	}
	o.Chart = chartMonths(from, month, o.Statements, current)
	return o, nil
}

// chartMonths lays the closed months and the open one on the calendar from
// `from` to `month`, zero where nothing was billed.
func chartMonths(from, month BillingMonth, closed []BillingSummary, current *BillingStatement) []BillingChartMonth {
	byMonth := map[BillingMonth]BillingChartMonth{}
	for _, c := range closed {
		byMonth[c.Month] = c.Usage
	}
	var out []BillingChartMonth
	for m := from; m <= month; m = m.Next() {
		c, ok := byMonth[m]
		if !ok {
			c = BillingChartMonth{Month: m}
		}
		if m == month {
			c = BillingChartMonth{Month: m, Open: true}
			for i := range current.Sections {
				c.add(&current.Sections[i].Usage)
			}
		}
		out = append(out, c)
	}
	return out
}

// BillingStatementOf is one month of payerID's bill: the open month as it
// stands at now, or a closed one as it was fixed. ErrNotFound for a month
// without a statement, or when payerID does not pay for itself.
func (s *Store) BillingStatementOf(ctx context.Context, payer *Tenant, month BillingMonth, now time.Time) (*BillingStatement, error) {
	if month >= MonthOf(now, payer.Location()) {
		st, err := s.openStatement(ctx, payer.ID, month, now)
		if errors.Is(err, ErrNoBillingTerms) {
			return nil, ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		if st.PayerID != payer.ID || month > MonthOf(now, payer.Location()) {
			return nil, ErrNotFound
		}
		return st, nil
	}
	rows, err := s.closedSectionsOf(ctx, payer.ID, month)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	st := &BillingStatement{PayerID: payer.ID, PayerName: payer.Name, Month: month, ClosedAt: &rows[0].ClosedAt}
	for i := range rows {
		sec, err := rows[i].section()
		if err != nil {
			return nil, err
		}
		st.Sections = append(st.Sections, sec)
	}
	st.Totals, st.ProjectedTotals = sumSections(st.Sections)
	return st, nil
}

// closedSectionsOf are the sections of payerID's statement of month.
func (s *Store) closedSectionsOf(ctx context.Context, payerID int64, month BillingMonth) ([]billingSectionRow, error) {
	var rows []billingSectionRow
	err := s.conn(ctx).Where("payer_tenant_id = ? AND month = ?", payerID, string(month)).Order("position").Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("read statement: %w", err)
	}
	return rows, nil
}

// BillingCloseDelay is how long after UTC's midnight ending a month the
// month is closed: it has ended in every timezone by then (the last one,
// UTC−12, 12 hours after, and the margin covers UTC+14's day ahead too).
const BillingCloseDelay = 14*time.Hour + 10*time.Minute

// ClosesAt is when the closing job closes m: once it has ended everywhere.
func (m BillingMonth) ClosesAt() time.Time { return m.Next().Start(time.UTC).Add(BillingCloseDelay) }

// BillingMonthDue is the newest month that has ended in every timezone at
// now, with a margin: the month the closing job closes.
func BillingMonthDue(now time.Time) BillingMonth {
	return MonthOf(now.Add(-BillingCloseDelay), time.UTC).Prev()
}

// billingStatementRow is a closed statement as stored.
type billingStatementRow struct {
	ID       int64
	TenantID int64
	Month    string
	ClosedAt time.Time
}

func (billingStatementRow) TableName() string { return "billing_statements" }

// CloseBillingMonth closes month for every company that pays and has not
// been closed yet: its statement, with each company's section, is written
// once and fixed. Safe to run again, and on several instances at once: a
// company's statement is written in one transaction, the unique month
// decides between two writers, and on PostgreSQL an advisory lock lets
// only one of them do the work. It runs in the closing job's own scope.
// It returns how many statements it wrote.
func (s *Store) CloseBillingMonth(ctx context.Context, month BillingMonth, now time.Time) (int, error) {
	var payers []int64
	err := s.Within(ctx, billingWorkerScope, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Raw(`WITH terms AS (`+termsInForceSQL+`)
			SELECT terms.tenant_id FROM terms WHERE terms.bill_to_tenant_id IS NULL
			AND NOT EXISTS (SELECT 1 FROM billing_statements AS st WHERE st.tenant_id = terms.tenant_id AND st.month = @month)
			ORDER BY terms.tenant_id`, sql.Named("month", string(month))).Scan(&payers).Error
	})
	if err != nil {
		return 0, fmt.Errorf("close %s: list payers: %w", month, err)
	}
	closed := 0
	for _, payerID := range payers {
		wrote, err := s.closeStatement(ctx, payerID, month, now)
		if err != nil {
			return closed, fmt.Errorf("close %s for company %d: %w", month, payerID, err)
		}
		if wrote {
			closed++
		}
	}
	return closed, nil
}

// closeStatement writes one payer's statement of month, unless another
// writer has or is doing it.
func (s *Store) closeStatement(ctx context.Context, payerID int64, month BillingMonth, now time.Time) (wrote bool, err error) {
	err = s.Within(ctx, billingWorkerScope, func(ctx context.Context, tx *Store) error {
		if tx.Dialect() == Postgres {
			var got bool
			if err := tx.conn(ctx).Raw("SELECT pg_try_advisory_xact_lock(?, ?)", billingCloseLock, payerID).Scan(&got).Error; err != nil {
				return fmt.Errorf("lock: %w", err)
			}
			if !got {
				return nil // another instance is writing it
			}
		}
		st, err := tx.openStatement(ctx, payerID, month, now)
		if errors.Is(err, ErrNoBillingTerms) {
			return nil
		}
		if err != nil {
			return err
		}
		if st.PayerID != payerID {
			return nil // billed to another since the list was read
		}
		// Closed as of the moment the caller closes at: the job's clock, or
		// the end of a month whose history is loaded afterwards.
		closedAt := now.UTC().Truncate(time.Microsecond)
		row := billingStatementRow{TenantID: payerID, Month: string(month), ClosedAt: closedAt}
		res := tx.conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "tenant_id"}, {Name: "month"}}, DoNothing: true}).Create(&row)
		if res.Error != nil {
			return fmt.Errorf("write statement: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return nil // closed meanwhile
		}
		// No foreign key ties a section to its statement (they are different
		// tenants' rows, docs/scaling.md): sections of this payer and month
		// left by a statement deleted by hand are the store's to replace.
		if err := tx.conn(ctx).Where("payer_tenant_id = ? AND month = ?", payerID, string(month)).Delete(&billingSectionRow{}).Error; err != nil {
			return fmt.Errorf("remove sections of a deleted statement: %w", err)
		}
		sections := make([]billingSectionRow, len(st.Sections))
		for i, sec := range st.Sections {
			usage, lines, err := sec.StoredJSON()
			if err != nil {
				return err
			}
			sections[i] = billingSectionRow{TenantID: sec.TenantID, Month: string(month), StatementID: row.ID, PayerTenantID: payerID,
				ClosedAt: closedAt, CompanyName: sec.CompanyName, Position: i, PlanName: sec.PlanName, Currency: sec.Currency,
				Subtotal: sec.Subtotal, Usage: usage, Lines: lines}
		}
		if err := tx.conn(ctx).Create(&sections).Error; err != nil {
			return fmt.Errorf("write statement sections: %w", err)
		}
		wrote = true
		return nil
	})
	return wrote, err
}

// billingCloseLock is the first key of the closing job's advisory locks.
const billingCloseLock = 0x62696c6c // "bill"

// BillingProjection is a paying company's current month in platform
// staff's list, as the closing job last computed it.
type BillingProjection struct {
	TenantID  int64
	Name      string
	Subdomain string
	Month     BillingMonth
	Currency  string
	ToDate    int64
	Projected int64
	Companies int
	Status    TenantStatus // an inactive company still pays its base fee
	// RolledUp names the companies billed to it, one per line (see
	// RolledUpNames).
	RolledUp   string
	ComputedAt time.Time
}

// RolledUpNames are the companies billed to it, by name.
func (p BillingProjection) RolledUpNames() []string {
	if p.RolledUp == "" {
		return nil
	}
	return strings.Split(p.RolledUp, "\n")
}

// RefreshBillingProjections prices the current month of every company
// that pays, for platform staff's list, in the closing job's scope.
// It returns how many it priced.
func (s *Store) RefreshBillingProjections(ctx context.Context, now time.Time) (int, error) {
	month := MonthOf(now, time.UTC)
	var payers []int64
	err := s.Within(ctx, billingWorkerScope, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Raw(`WITH terms AS (`+termsInForceSQL+`) SELECT tenant_id FROM terms WHERE bill_to_tenant_id IS NULL ORDER BY tenant_id`,
			sql.Named("month", string(month))).Scan(&payers).Error
	})
	if err != nil {
		return 0, fmt.Errorf("refresh projections: %w", err)
	}
	for _, payerID := range payers {
		err := s.Within(ctx, billingWorkerScope, func(ctx context.Context, tx *Store) error {
			var tz string
			if err := tx.conn(ctx).Raw("SELECT timezone FROM tenants WHERE id = ?", payerID).Scan(&tz).Error; err != nil {
				return err
			}
			local := MonthOf(now, (&Tenant{Timezone: tz}).Location())
			st, err := tx.openStatement(ctx, payerID, local, now)
			if errors.Is(err, ErrNoBillingTerms) {
				return nil
			}
			if err != nil {
				return err
			}
			if err := tx.conn(ctx).Exec("DELETE FROM billing_projections WHERE tenant_id = ?", payerID).Error; err != nil {
				return err
			}
			if st.PayerID != payerID {
				return nil
			}
			var rolledUp []string
			for _, sec := range st.Sections[1:] {
				rolledUp = append(rolledUp, sec.CompanyName)
			}
			for _, total := range st.Totals {
				proj := int64(0)
				for _, p := range st.ProjectedTotals {
					if p.Currency == total.Currency {
						proj = p.Amount
					}
				}
				err := tx.conn(ctx).Exec(`INSERT INTO billing_projections (tenant_id, month, currency, to_date, projected, companies, rolled_up, computed_at)
					VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, payerID, string(local), total.Currency, total.Amount, proj, len(st.Sections),
					strings.Join(rolledUp, "\n"), tx.db.NowFunc()).Error
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("refresh projection of company %d: %w", payerID, err)
		}
	}
	return len(payers), nil
}

// BillingProjectionSorts are the orders platform staff's list offers.
var BillingProjectionSorts = []string{"projected", "name", "to_date"}

// BillingProjections is one page of the paying companies with their
// projected totals, searchable by name or subdomain (or the name of a
// company billed to it), sorted by sort (one
// of BillingProjectionSorts, largest total first). Platform staff's
// scope reads every company's. Two statements.
func (s *Store) BillingProjections(ctx context.Context, query, sort string, page PageRequest) (Page[BillingProjection], error) {
	result := Page[BillingProjection]{PageRequest: page}
	order := "p.projected DESC, lower(t.name)"
	switch sort {
	case "name":
		order = "lower(t.name), p.currency"
	case "to_date":
		order = "p.to_date DESC, lower(t.name)"
	}
	rows := func() *gorm.DB {
		q := s.conn(ctx).Table("billing_projections AS p").Joins("JOIN tenants AS t ON t.id = p.tenant_id")
		if query != "" {
			q = s.containsAny(q, query, "t.name", "t.subdomain", "p.rolled_up")
		}
		return q
	}
	if err := countCapped(s.conn(ctx), rows(), &result); err != nil {
		return result, fmt.Errorf("count projections: %w", err)
	}
	err := rows().Select("p.tenant_id, t.name, t.subdomain, t.status, p.month, p.currency, p.to_date, p.projected, p.companies, p.rolled_up, p.computed_at").
		Order(order).Offset(page.Offset()).Limit(page.Size).Scan(&result.Items).Error
	if err != nil {
		return result, fmt.Errorf("list projections: %w", err)
	}
	return result, nil
}
