package scale

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/models"
)

// The platform's billing over its year: every company's terms from the
// month it was made (sub-tenants below a customer billed to it one time
// in two, FleetPayees customers billed to fleet, one customer in ten moved
// to a EUR plan priced by template category five months ago), its usage
// from its devices' and members' lives and its completed orders, and a
// closed statement for every month that has ended everywhere, priced by
// the models package itself.

// EnterprisePlan is the scale's second plan, in another currency.
var EnterprisePlan = models.NewBillingPlan{
	Name: "Enterprise (EUR)", Description: "Large fleets, billed in euros; verification orders priced by template.",
	Currency: "EUR", BaseFee: 49000, OrderPrice: 180, PremiumOrderPrice: ptr(int64(420)), IncludedOrders: 200,
	DeviceMonthPrice: 45, IncludedDeviceMonths: 500, SeatPrice: 700, IncludedSeats: 25,
}

func ptr[T any](v T) *T { return &v }

type termsRow struct {
	tenant     int
	month      models.BillingMonth
	enterprise bool
	billTo     int // tenant index; -1: pays for itself
}

// addTerms decides every company's terms (the root, the platform, has none).
func (p *plan) addTerms(c Counts) error {
	payees := 0
	billTo := make([]int, len(p.tenants))
	for i, t := range p.tenants {
		billTo[i] = -1
		if t.rollsUp && t.parent != tenantRoot && t.parent >= 0 {
			billTo[i] = t.parent
		}
	}
	for _, i := range p.others {
		if payees == c.FleetPayees {
			break
		}
		if p.tenants[i].parent == tenantRoot {
			billTo[i] = p.fleet
			payees++
		}
	}
	switchAt := p.now.AddDate(0, -5, 0)
	for i, t := range p.tenants {
		if i == tenantRoot {
			continue
		}
		loc, err := time.LoadLocation(t.timezone)
		if err != nil {
			return fmt.Errorf("tenant %d: %w", i, err)
		}
		from := models.MonthOf(t.created, loc)
		enterprise := t.parent == tenantRoot && i != p.fleet && i%10 == 3
		if enterprise {
			if moved := models.MonthOf(switchAt, loc); moved > from {
				p.terms = append(p.terms, termsRow{tenant: i, month: from, billTo: billTo[i]})
				from = moved
			}
		}
		p.terms = append(p.terms, termsRow{tenant: i, month: from, enterprise: enterprise, billTo: billTo[i]})
	}
	return nil
}

var termsCols = []string{"tenant_id", "effective_month", "plan_id", "bill_to_tenant_id", "created_at"}

func (p *plan) termsRows(standardPlan, enterprisePlan int64) pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(p.terms), func(i int) ([]any, error) {
		t := p.terms[i]
		plan := standardPlan
		if t.enterprise {
			plan = enterprisePlan
		}
		return []any{p.tenantID(t.tenant), string(t.month), plan, p.tenantID(t.billTo), p.tenants[t.tenant].created}, nil
	})
}

// billingPlans are the default plan's id and the scale's EUR plan's,
// written when missing.
func billingPlans(ctx context.Context, tx pgx.Tx) (standard, enterprise int64, err error) {
	if err := tx.QueryRow(ctx, `SELECT id FROM billing_plans WHERE is_default`).Scan(&standard); err != nil {
		return 0, 0, fmt.Errorf("default billing plan: %w", err)
	}
	e := EnterprisePlan
	_, err = tx.Exec(ctx, `INSERT INTO billing_plans (name, description, currency, base_fee, order_price, premium_order_price,
			included_orders, device_month_price, included_device_months, seat_price, included_seats)
		SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11 WHERE NOT EXISTS (SELECT 1 FROM billing_plans WHERE lower(name) = lower($1))`,
		e.Name, e.Description, e.Currency, e.BaseFee, e.OrderPrice, *e.PremiumOrderPrice, e.IncludedOrders,
		e.DeviceMonthPrice, e.IncludedDeviceMonths, e.SeatPrice, e.IncludedSeats)
	if err != nil {
		return 0, 0, fmt.Errorf("enterprise plan: %w", err)
	}
	if err := tx.QueryRow(ctx, `SELECT id FROM billing_plans WHERE lower(name) = lower($1)`, e.Name).Scan(&enterprise); err != nil {
		return 0, 0, err
	}
	return standard, enterprise, nil
}

// meterHistory derives the usage rows from what was loaded, as metering
// would have kept them: an interval per device from its registration (to
// its last change when it is no longer active) and per membership, their
// starts and ends per local day, and live orders completed per day and
// template (the last change of a completed order is its completion).
func meterHistory(ctx context.Context, tx pgx.Tx, firstTenant, lastTenant int64, log *slog.Logger) error {
	for _, s := range []struct{ what, sql string }{
		{"device intervals", `INSERT INTO billing_presence_periods (tenant_id, meter, subject_id, started_at, ended_at)
			SELECT tenant_id, 'devices', id, created_at, CASE WHEN status <> 'active' THEN updated_at END
			FROM devices WHERE tenant_id BETWEEN $1 AND $2`},
		{"seat intervals", `INSERT INTO billing_presence_periods (tenant_id, meter, subject_id, started_at)
			SELECT tenant_id, 'seats', user_id, created_at FROM memberships WHERE tenant_id BETWEEN $1 AND $2`},
		{"presence days", `INSERT INTO billing_presence_days (tenant_id, meter, day, starts, ends)
			SELECT e.tenant_id, e.meter, e.day, sum(e.starts), sum(e.ends) FROM (
				SELECT p.tenant_id, p.meter, to_char(p.started_at AT TIME ZONE t.timezone, 'YYYY-MM-DD') AS day, 1 AS starts, 0 AS ends
				FROM billing_presence_periods AS p JOIN tenants AS t ON t.id = p.tenant_id WHERE p.tenant_id BETWEEN $1 AND $2
				UNION ALL
				SELECT p.tenant_id, p.meter, to_char(p.ended_at AT TIME ZONE t.timezone, 'YYYY-MM-DD'), 0, 1
				FROM billing_presence_periods AS p JOIN tenants AS t ON t.id = p.tenant_id
				WHERE p.tenant_id BETWEEN $1 AND $2 AND p.ended_at IS NOT NULL) AS e
			GROUP BY e.tenant_id, e.meter, e.day`},
		{"order days", `INSERT INTO billing_order_days (tenant_id, day, template_id, category, template_name, completed)
			SELECT o.tenant_id, to_char(o.updated_at AT TIME ZONE t.timezone, 'YYYY-MM-DD'), o.template_id, tp.category, tp.name, count(*)
			FROM orders AS o JOIN tenants AS t ON t.id = o.tenant_id JOIN templates AS tp ON tp.id = o.template_id
			WHERE o.status = 'completed' AND o.environment = 'live' AND o.tenant_id BETWEEN $1 AND $2
			GROUP BY 1, 2, 3, 4, 5`},
	} {
		t := time.Now()
		tag, err := tx.Exec(ctx, s.sql, firstTenant, lastTenant)
		if err != nil {
			return fmt.Errorf("billing %s: %w", s.what, err)
		}
		log.Info("scale: billing", "derived", s.what, "rows", tag.RowsAffected(), "took", since(t))
	}
	return nil
}

// statementsPresent tells whether the year's statements are written (fleet
// has one).
func statementsPresent(ctx context.Context, conn *pgx.Conn) (bool, error) {
	var present bool
	err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM billing_statements AS s JOIN tenants AS t ON t.id = s.tenant_id
		WHERE t.subdomain = $1)`, FleetSubdomain).Scan(&present)
	return present, err
}

// billingCompany is a company as its statements need it.
type billingCompany struct {
	tenant models.Tenant
	terms  []models.BillingTerms // oldest first
}

// termsAt are the company's terms in force in month, or nil.
func (c *billingCompany) termsAt(month models.BillingMonth) *models.BillingTerms {
	var in *models.BillingTerms
	for i := range c.terms {
		if c.terms[i].EffectiveMonth <= month {
			in = &c.terms[i]
		}
	}
	return in
}

// closeYear writes the statement of every month that has ended everywhere
// at now for every company that pays, with a section per company billed
// to it, and the projections of the current month for platform staff: the
// models package reads each month's usage of every company in bulk and
// prices it (models.PriceMonth); this assembles the statements as
// closing them one by one would, in a fraction of the time, and copies
// them in one transaction.
func closeYear(ctx context.Context, conn *pgx.Conn, now time.Time, log *slog.Logger) error {
	started := time.Now()
	db, err := models.OpenPostgres(conn.Config().ConnString())
	if err != nil {
		return err
	}
	defer models.Close(db)
	store := models.NewStore(db)
	var tenants []models.Tenant
	if err := db.WithContext(ctx).Where("parent_id IS NOT NULL").Order("id").Find(&tenants).Error; err != nil {
		return fmt.Errorf("read companies: %w", err)
	}
	var terms []models.BillingTerms
	if err := db.WithContext(ctx).Order("tenant_id, effective_month").Find(&terms).Error; err != nil {
		return fmt.Errorf("read terms: %w", err)
	}
	companies := map[int64]*billingCompany{}
	for _, t := range tenants {
		companies[t.ID] = &billingCompany{tenant: t}
	}
	first := models.BillingMonth("")
	for _, t := range terms {
		if c := companies[t.TenantID]; c != nil {
			c.terms = append(c.terms, t)
			if first == "" || t.EffectiveMonth < first {
				first = t.EffectiveMonth
			}
		}
	}
	plans, err := store.BillingPlans(ctx, true)
	if err != nil {
		return err
	}
	byID := map[int64]*models.BillingPlan{}
	for i := range plans {
		byID[plans[i].ID] = &plans[i]
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(ctx) }()
	var statements, sections [][]any
	due := models.BillingMonthDue(now)
	for m := first; first != "" && m <= due; m = m.Next() {
		closedAt := m.ClosesAt().Add(5 * time.Minute)
		st, err := monthStatements(ctx, store, companies, byID, m, closedAt)
		if err != nil {
			return fmt.Errorf("statements of %s: %w", m, err)
		}
		firstID, err := reserveIDs(ctx, tx, "billing_statements", max(len(st), 1))
		if err != nil {
			return err
		}
		for i, s := range st {
			id := firstID + int64(i)
			statements = append(statements, []any{id, s.PayerID, string(m), closedAt})
			for pos, sec := range s.Sections {
				usage, lines, err := sec.StoredJSON()
				if err != nil {
					return err
				}
				sections = append(sections, []any{sec.TenantID, string(m), id, s.PayerID, closedAt, sec.CompanyName, pos,
					sec.PlanName, sec.Currency, sec.Subtotal, usage, lines})
			}
		}
		log.Info("scale: billing", "closed", m, "statements", len(st), "took", since(started))
	}
	projections, err := currentProjections(ctx, store, companies, byID, now)
	if err != nil {
		return err
	}
	for _, step := range []struct {
		table string
		cols  []string
		rows  [][]any
	}{
		{"billing_statements", []string{"id", "tenant_id", "month", "closed_at"}, statements},
		{"billing_statement_sections", []string{"tenant_id", "month", "statement_id", "payer_tenant_id", "closed_at", "company_name",
			"position", "plan_name", "currency", "subtotal", "usage", "lines"}, sections},
		{"billing_projections", []string{"tenant_id", "month", "currency", "to_date", "projected", "companies", "computed_at"}, projections},
	} {
		t := time.Now()
		n, err := tx.CopyFrom(ctx, pgx.Identifier{step.table}, step.cols, pgx.CopyFromRows(step.rows))
		if err != nil {
			return fmt.Errorf("copy %s: %w", step.table, err)
		}
		log.Info("scale: loaded", "table", step.table, "rows", n, "took", since(t))
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	log.Info("scale: billing closed", "took", since(started))
	return nil
}

// monthStatements prices month for every company with terms then, as it
// stood at `at`, and groups the sections by the company that pays: the
// payer first, then those billed to it by depth and name, as
// models.Store.CloseBillingMonth orders them.
func monthStatements(ctx context.Context, store *models.Store, companies map[int64]*billingCompany,
	plans map[int64]*models.BillingPlan, month models.BillingMonth, at time.Time) ([]models.BillingStatement, error) {
	inForce := map[int64]*models.BillingTerms{}
	var tenants []*models.Tenant
	for id, c := range companies {
		if t := c.termsAt(month); t != nil {
			inForce[id] = t
			tenants = append(tenants, &c.tenant)
		}
	}
	usages := map[int64]*models.MonthUsage{}
	for start := 0; start < len(tenants); start += 2000 {
		part, err := store.MonthUsagesOf(ctx, tenants[start:min(start+2000, len(tenants))], month, at)
		if err != nil {
			return nil, err
		}
		for id, u := range part {
			usages[id] = u
		}
	}
	type placed struct {
		payer, depth int64
		sec          models.BillingSection
	}
	byPayer := map[int64][]placed{}
	for id, t := range inForce {
		payer, depth := id, int64(0)
		for p := t; p.BillToTenantID != nil; depth++ {
			payer = *p.BillToTenantID
			if p = inForce[payer]; p == nil || depth > 32 {
				break
			}
		}
		if inForce[payer] == nil || inForce[payer].BillToTenantID != nil {
			continue // a chain that ends nowhere pays nobody
		}
		plan := plans[t.PlanID]
		sec := models.BillingSection{TenantID: id, CompanyName: companies[id].tenant.Name, PlanName: plan.Name, Currency: plan.Currency,
			Usage: *usages[id]}
		sec.Lines, sec.Subtotal = models.PriceMonth(&sec.Usage, plan)
		projected := sec.Usage.Projected()
		_, sec.Projected = models.PriceMonth(&projected, plan)
		byPayer[payer] = append(byPayer[payer], placed{payer: payer, depth: depth, sec: sec})
	}
	var out []models.BillingStatement
	for payer, list := range byPayer {
		sort.Slice(list, func(i, j int) bool {
			if list[i].depth != list[j].depth {
				return list[i].depth < list[j].depth
			}
			return strings.ToLower(list[i].sec.CompanyName) < strings.ToLower(list[j].sec.CompanyName)
		})
		st := models.BillingStatement{PayerID: payer, Month: month}
		for _, p := range list {
			st.Sections = append(st.Sections, p.sec)
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PayerID < out[j].PayerID })
	return out, nil
}

// currentProjections are staff's projected totals of each paying company's
// current month (in its own timezone), as the closing job computes them.
func currentProjections(ctx context.Context, store *models.Store, companies map[int64]*billingCompany,
	plans map[int64]*models.BillingPlan, now time.Time) ([][]any, error) {
	months := map[models.BillingMonth]bool{}
	for _, c := range companies {
		months[models.MonthOf(now, c.tenant.Location())] = true
	}
	var rows [][]any
	for month := range months {
		statements, err := monthStatements(ctx, store, companies, plans, month, now)
		if err != nil {
			return nil, err
		}
		for _, st := range statements {
			if models.MonthOf(now, companies[st.PayerID].tenant.Location()) != month {
				continue
			}
			toDate, projected := map[string]int64{}, map[string]int64{}
			var currencies []string
			for _, sec := range st.Sections {
				if _, seen := toDate[sec.Currency]; !seen {
					currencies = append(currencies, sec.Currency)
				}
				toDate[sec.Currency] += sec.Subtotal
				projected[sec.Currency] += sec.Projected
			}
			for _, cur := range currencies {
				rows = append(rows, []any{st.PayerID, string(month), cur, toDate[cur], projected[cur], len(st.Sections), now})
			}
		}
	}
	return rows, nil
}
