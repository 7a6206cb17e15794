package models

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Billing: what a company uses is metered as it happens
// (billing_meter.go), read back per month (billing_usage.go), priced by its
// plan (billing_price.go, billing_plan.go) and stated to the company that
// pays for it, which is the end of its bill-to chain (this file). Months
// close into fixed statements (billing_statement.go). Money is integer
// minor units with a currency, never a float.

// BillingMonth is a calendar month, "2026-11", in the timezone of the
// company it is about.
type BillingMonth string

// ParseBillingMonth reads "2026-11".
func ParseBillingMonth(s string) (BillingMonth, error) {
	t, err := time.Parse("2006-01", strings.TrimSpace(s))
	if err != nil {
		return "", fmt.Errorf("a month is written like 2026-11: %w", err)
	}
	return BillingMonth(t.Format("2006-01")), nil
}

// MonthOf is the month t falls in at loc.
func MonthOf(t time.Time, loc *time.Location) BillingMonth {
	return BillingMonth(t.In(loc).Format("2006-01"))
}

// first is the month's first day, at midnight UTC, for date arithmetic.
func (m BillingMonth) first() time.Time {
	t, err := time.Parse("2006-01", string(m))
	if err != nil {
		return time.Time{}
	}
	return t
}

// Valid tells whether m is a month.
func (m BillingMonth) Valid() bool { return !m.first().IsZero() }

// Next is the month after m.
func (m BillingMonth) Next() BillingMonth {
	return BillingMonth(m.first().AddDate(0, 1, 0).Format("2006-01"))
}

// Prev is the month before m.
func (m BillingMonth) Prev() BillingMonth {
	return BillingMonth(m.first().AddDate(0, -1, 0).Format("2006-01"))
}

// Days is how many days m has.
func (m BillingMonth) Days() int { return m.first().AddDate(0, 1, -1).Day() }

// FirstDay is m's first day, "2026-11-01".
func (m BillingMonth) FirstDay() string { return string(m) + "-01" }

// EndDay is the day after m's last, "2026-12-01": days of m are below it.
func (m BillingMonth) EndDay() string { return m.Next().FirstDay() }

// Start is the moment m begins at loc.
func (m BillingMonth) Start(loc *time.Location) time.Time {
	f := m.first()
	return time.Date(f.Year(), f.Month(), 1, 0, 0, 0, 0, loc)
}

// Label is the month as people read it, "November 2026".
func (m BillingMonth) Label() string { return m.first().Format("January 2006") }

// ShortLabel is "Nov", for a chart's axis.
func (m BillingMonth) ShortLabel() string { return m.first().Format("Jan") }

// DayOf is t's day at loc, "2026-11-30".
func DayOf(t time.Time, loc *time.Location) string { return t.In(loc).Format("2006-01-02") }

// dayNumber is the day of the month of "2026-11-30" (30), or 0.
func dayNumber(day string) int {
	if len(day) != 10 {
		return 0
	}
	n, _ := strconv.Atoi(day[8:])
	return n
}

// TemplateCategory decides which order price of a plan applies to a
// template's orders.
type TemplateCategory string

// The template categories.
const (
	CategoryStandard TemplateCategory = "standard"
	CategoryPremium  TemplateCategory = "premium"
)

// TemplateCategories are the categories in the order forms offer them.
var TemplateCategories = []TemplateCategory{CategoryStandard, CategoryPremium}

// Label is the category as people read it.
func (c TemplateCategory) Label() string {
	if c == CategoryPremium {
		return "Premium"
	}
	return "Standard"
}

// ParseTemplateCategory accepts a known category; "" is standard.
func ParseTemplateCategory(s string) (TemplateCategory, error) {
	switch TemplateCategory(s) {
	case "", CategoryStandard:
		return CategoryStandard, nil
	case CategoryPremium:
		return CategoryPremium, nil
	}
	return "", FieldErrors{"category": "Choose a category from the list."}
}

// BillingTerms are a company's terms from a month on: its plan, and the
// company it is billed to (nil: it pays for itself).
type BillingTerms struct {
	TenantID        int64
	EffectiveMonth  BillingMonth
	PlanID          int64
	BillToTenantID  *int64
	ChangedByUserID *int64
	CreatedAt       time.Time
}

// TableName is GORM's name for the terms.
func (BillingTerms) TableName() string { return "billing_terms" }

// ErrBillingCycle is a bill-to change that would make a chain return to
// where it started.
var ErrBillingCycle = errors.New("billing cycle: the bill-to chain would return to this company")

// termsInForceSQL selects every company's terms in force in the month
// @month. PostgreSQL's owner functions have it as billing_terms_in_force.
const termsInForceSQL = `SELECT bt.tenant_id, bt.plan_id, bt.bill_to_tenant_id FROM billing_terms AS bt
	WHERE bt.effective_month = (SELECT max(x.effective_month) FROM billing_terms AS x
		WHERE x.tenant_id = bt.tenant_id AND x.effective_month <= @month)`

// BillingTermsAt are the tenant's terms in force in month; ErrNotFound for
// a tenant without any then (the platform, or a company made later).
func (s *Store) BillingTermsAt(ctx context.Context, tenantID int64, month BillingMonth) (*BillingTerms, error) {
	var t BillingTerms
	err := s.scoped(ctx, tenantID).Where("effective_month <= ?", string(month)).
		Order("effective_month DESC").Limit(1).Take(&t).Error
	return &t, notFound(err, "load billing terms")
}

// LatestBillingTerms are the tenant's newest terms: those in force, or a
// change staff scheduled for the next month.
func (s *Store) LatestBillingTerms(ctx context.Context, tenantID int64) (*BillingTerms, error) {
	var t BillingTerms
	err := s.scoped(ctx, tenantID).Order("effective_month DESC").Limit(1).Take(&t).Error
	return &t, notFound(err, "load billing terms")
}

// BillingPayee is a company whose usage a payer's statement holds.
type BillingPayee struct {
	TenantID       int64
	BillToTenantID *int64
	PlanID         int64
	Depth          int // 0 for the payer itself
}

// BillingPayees are the companies payerID pays for in month: itself, when
// it pays for itself, then every company whose bill-to chain ends at it.
// None when payerID is billed to another company. The payer's own scope
// (or platform staff's) may ask.
func (s *Store) BillingPayees(ctx context.Context, payerID int64, month BillingMonth) ([]BillingPayee, error) {
	companies, err := s.statementCompanies(ctx, payerID, month)
	if err != nil {
		return nil, err
	}
	var out []BillingPayee
	for _, c := range companies {
		if c.PayerID == nil || *c.PayerID != payerID {
			return nil, nil // billed to another: it pays for nobody
		}
		out = append(out, BillingPayee{TenantID: c.TenantID, BillToTenantID: c.BillToTenantID, PlanID: c.PlanID, Depth: c.Depth})
	}
	return out, nil
}

// BillingPayer is the company that pays for tenantID's usage in month: the
// end of its bill-to chain, itself when it pays for itself. ErrNotFound
// when it has no terms then.
func (s *Store) BillingPayer(ctx context.Context, tenantID int64, month BillingMonth) (int64, error) {
	companies, err := s.statementCompanies(ctx, tenantID, month)
	if err != nil {
		return 0, err
	}
	if len(companies) == 0 || companies[0].PayerID == nil {
		return 0, ErrNotFound
	}
	return *companies[0].PayerID, nil
}

// startBillingTerms gives a new company its terms from the month it is
// made in: planID (0: the parent's plan, or the default plan), billed to
// billTo (0: it pays for itself).
func (s *Store) startBillingTerms(ctx context.Context, t *Tenant, planID, billTo int64) error {
	if t.ParentID == nil {
		return nil // the platform is billed to nobody
	}
	month := MonthOf(s.db.NowFunc(), t.Location())
	var by *int64
	if actor := ActorFrom(ctx); actor.UserID > 0 {
		by = &actor.UserID
	}
	if s.Dialect() == Postgres {
		// The owner's function decides what the writer's scope may start
		// a company on: nothing that bills another company for a customer.
		err := s.conn(ctx).Exec("SELECT canopy_start_billing_terms(?, ?, ?, ?, ?)",
			t.ID, string(month), nullID(planID), nullID(billTo), by).Error
		if err != nil {
			return billingTermsError(err)
		}
		return nil
	}
	if planID == 0 {
		var err error
		if planID, err = s.inheritedPlanID(ctx, *t.ParentID); err != nil {
			return err
		}
	}
	terms := BillingTerms{TenantID: t.ID, EffectiveMonth: month, PlanID: planID, ChangedByUserID: by}
	if billTo != 0 {
		terms.BillToTenantID = &billTo
	}
	if err := s.conn(ctx).Create(&terms).Error; err != nil {
		return billingTermsError(err)
	}
	return nil
}

// nullID is id, or NULL for 0.
func nullID(id int64) *int64 {
	if id == 0 {
		return nil
	}
	return &id
}

// inheritedPlanID is the plan a new company below parentID starts on: the
// parent's latest, or the default plan under the platform.
func (s *Store) inheritedPlanID(ctx context.Context, parentID int64) (int64, error) {
	var ids []int64
	err := s.conn(ctx).Raw(`SELECT plan_id FROM billing_terms WHERE tenant_id = ? ORDER BY effective_month DESC LIMIT 1`, parentID).
		Scan(&ids).Error
	if err != nil {
		return 0, fmt.Errorf("parent's billing plan: %w", err)
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	plan, err := s.DefaultBillingPlan(ctx)
	if err != nil {
		return 0, err
	}
	return plan.ID, nil
}

// billingTermsError turns the database's refusals of a bill-to into
// messages beside the field.
func billingTermsError(err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "billing cycle"), errors.Is(err, ErrBillingCycle):
		return FieldErrors{"bill_to": "This company's bill would come back to itself through that company. Choose another."}
	case strings.Contains(msg, "billed to nobody"):
		return FieldErrors{"bill_to": "The platform itself is billed to nobody. Choose a company."}
	}
	return fmt.Errorf("billing terms: %w", err)
}

// ChangeBillingTerms sets a company's plan and the company it is billed to
// (0: it pays for itself) from its next month on, as platform staff do;
// this month's statement keeps the terms it began with. A change made
// again before that month replaces the scheduled one. Audited in the
// company's log. A chain back to the company is refused beside "bill_to".
func (s *Store) ChangeBillingTerms(ctx context.Context, tenantID, planID, billTo int64) (*BillingTerms, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if billTo == tenantID {
		return nil, FieldErrors{"bill_to": "A company cannot be billed to itself; choose \"Pays for itself\"."}
	}
	var out *BillingTerms
	err := s.Tx(ctx, func(tx *Store) error {
		t, err := tx.TenantByID(ctx, tenantID)
		if err != nil {
			return err
		}
		if t.IsPlatform() {
			return ErrNotAllowed
		}
		plan, err := tx.BillingPlanByID(ctx, planID)
		if errors.Is(err, ErrNotFound) {
			return FieldErrors{"plan_id": "Choose a plan from the list."}
		}
		if err != nil {
			return err
		}
		if billTo != 0 {
			payer, err := tx.TenantByID(ctx, billTo)
			if errors.Is(err, ErrNotFound) || (err == nil && payer.IsPlatform()) {
				return FieldErrors{"bill_to": "Choose a company from the list."}
			}
			if err != nil {
				return err
			}
		}
		now := tx.db.NowFunc()
		current, err := tx.BillingTermsAt(ctx, tenantID, MonthOf(now, t.Location()))
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if plan.Archived() && (current == nil || current.PlanID != plan.ID) {
			return FieldErrors{"plan_id": "This plan is archived. Choose another."}
		}
		next := &BillingTerms{TenantID: tenantID, EffectiveMonth: MonthOf(now, t.Location()).Next(), PlanID: planID}
		if billTo != 0 {
			next.BillToTenantID = &billTo
		}
		if actor := ActorFrom(ctx); actor.UserID > 0 {
			next.ChangedByUserID = &actor.UserID
		}
		if err := tx.scoped(ctx, tenantID).Where("effective_month = ?", string(next.EffectiveMonth)).Delete(&BillingTerms{}).Error; err != nil {
			return fmt.Errorf("replace scheduled billing terms: %w", err)
		}
		// Back to the terms in force: the change scheduled is withdrawn,
		// and nothing is scheduled in its place.
		unchanged := current != nil && current.PlanID == planID && idOrZero(current.BillToTenantID) == billTo
		if !unchanged {
			if err := tx.conn(ctx).Create(next).Error; err != nil {
				return billingTermsError(err)
			}
		}
		if tx.Dialect() != Postgres { // PostgreSQL's trigger checks it as the row lands
			if err := tx.refuseBillToLoop(ctx, tenantID, next.EffectiveMonth); err != nil {
				return err
			}
		}
		var before map[string]any
		if current != nil {
			before = current.audited()
		}
		out = next
		// In the platform's log: a company billed to another never sees
		// its plan, and its own log is read by its Admins.
		var platformID int64
		if err := tx.conn(ctx).Raw("SELECT id FROM tenants WHERE parent_id IS NULL").Scan(&platformID).Error; err != nil {
			return fmt.Errorf("find the platform: %w", err)
		}
		return tx.audit(ctx, platformID, AuditBillingTermsChanged, t.target(), before, next.audited())
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// audited is what the audit log shows of terms.
func (t *BillingTerms) audited() map[string]any {
	m := map[string]any{"plan_id": t.PlanID, "from": string(t.EffectiveMonth), "bill_to": "itself"}
	if t.BillToTenantID != nil {
		m["bill_to"] = *t.BillToTenantID
	}
	return m
}

// refuseBillToLoop walks the bill-to chain from tenantID in every month
// from `from` to the last month any company's terms change, as the terms
// in force then, and refuses one that comes back (PostgreSQL's trigger
// does the same; here the single writer SQLite allows needs no lock).
func (s *Store) refuseBillToLoop(ctx context.Context, tenantID int64, from BillingMonth) error {
	var rows []BillingTerms
	if err := s.conn(ctx).Order("effective_month").Find(&rows).Error; err != nil {
		return fmt.Errorf("read billing terms: %w", err)
	}
	months := map[BillingMonth]bool{from: true}
	for _, r := range rows {
		if r.EffectiveMonth > from {
			months[r.EffectiveMonth] = true
		}
	}
	for m := range months {
		billTo := map[int64]*int64{}
		for _, r := range rows { // in effective order: the latest at or before m wins
			if r.EffectiveMonth <= m {
				billTo[r.TenantID] = r.BillToTenantID
			}
		}
		at := tenantID
		for range 64 {
			next := billTo[at]
			if next == nil {
				break
			}
			if *next == tenantID {
				return billingTermsError(ErrBillingCycle)
			}
			at = *next
		}
	}
	return nil
}

// idOrZero is *id, or 0 for none.
func idOrZero(id *int64) int64 {
	if id == nil {
		return 0
	}
	return *id
}
