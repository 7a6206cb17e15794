package demo_test

import (
	"context"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/internal/demo"
	"canopy/internal/testdb"
	"canopy/models"
)

// billingSnapshot is what the demo's billing is made of, counted.
type billingSnapshot struct {
	Statements, Sections, Periods, PresenceDays, Starts, Ends, OrderDays, Completed, Devices, Orders, Terms, Plans int64
}

func snapshotBilling(t *testing.T, db *gorm.DB) billingSnapshot {
	t.Helper()
	var s billingSnapshot
	err := db.Raw(`SELECT
		(SELECT count(*) FROM billing_statements) AS statements,
		(SELECT count(*) FROM billing_statement_sections) AS sections,
		(SELECT count(*) FROM billing_presence_periods) AS periods,
		(SELECT count(*) FROM billing_presence_days) AS presence_days,
		(SELECT coalesce(sum(starts), 0) FROM billing_presence_days) AS starts,
		(SELECT coalesce(sum(ends), 0) FROM billing_presence_days) AS ends,
		(SELECT count(*) FROM billing_order_days) AS order_days,
		(SELECT coalesce(sum(completed), 0) FROM billing_order_days) AS completed,
		(SELECT count(*) FROM devices) AS devices,
		(SELECT count(*) FROM orders) AS orders,
		(SELECT count(*) FROM billing_terms) AS terms,
		(SELECT count(*) FROM billing_plans) AS plans`).Scan(&s).Error
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSeedBilling: five closed months per paying company (Acme Europe's
// usage in Acme's statements, Acme on Growth from the third month, with
// premium orders), the same data however often it is loaded, and figures
// that agree with what they count: the rebuild of every open month finds
// no difference.
func TestSeedBilling(t *testing.T) {
	ctx := context.Background()
	ownerDB, appDB := testdb.OpenDemoAsApp(t)
	store := models.NewStore(appDB).WithScopeKey(testdb.ScopeKey)
	started := time.Now()
	if err := demo.SeedBilling(ctx, store); err != nil {
		t.Fatal(err)
	}
	t.Logf("first load took %s", time.Since(started).Round(time.Millisecond))
	first := snapshotBilling(t, ownerDB)
	if err := demo.SeedBilling(ctx, store); err != nil {
		t.Fatal(err)
	}
	if again := snapshotBilling(t, ownerDB); again != first {
		t.Fatalf("a second load changed the data:\n%+v\n%+v", first, again)
	}

	months := demo.BillingMonths(time.Now())
	var statements []struct {
		Subdomain string
		Month     string
		Sections  int
		Plans     string
		TopPlan   string
	}
	err := ownerDB.Raw(`SELECT t.subdomain, s.month, count(*) AS sections, min(x.plan_name) AS plans, max(x.plan_name) AS top_plan
		FROM billing_statements AS s JOIN tenants AS t ON t.id = s.tenant_id
		JOIN billing_statement_sections AS x ON x.statement_id = s.id
		GROUP BY t.subdomain, s.month ORDER BY t.subdomain, s.month`).Scan(&statements).Error
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, st := range statements {
		got[st.Subdomain]++
		if st.Subdomain == "acme" {
			wantSections, wantPlan := 2, "Growth"
			if st.Month == string(months[0]) {
				wantSections = 1 // Acme Europe began the month after
			}
			if st.Month < string(months[2]) {
				wantPlan = "Standard"
			}
			if st.Sections != wantSections || st.Plans != wantPlan || st.TopPlan != wantPlan {
				t.Errorf("Acme's %s: %d sections on %s, want %d on %s", st.Month, st.Sections, st.Plans, wantSections, wantPlan)
			}
		}
	}
	for sub, n := range map[string]int{"acme": 5, "acme-lab": 5, "globex": 5} {
		if got[sub] != n {
			t.Errorf("%s has %d statements, want %d (all: %v)", sub, got[sub], n, got)
		}
	}
	if len(got) != 3 {
		t.Errorf("statements of %v; Acme Europe is billed to Acme and Initech is new this month", got)
	}

	acme, err := store.TenantBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	var last *models.BillingStatement
	err = store.Within(ctx, models.Scope{TenantID: acme.ID, Subtree: true}, func(ctx context.Context, s *models.Store) (err error) {
		last, err = s.BillingStatementOf(ctx, acme, months[4], time.Now())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	lines := map[string]models.BillingLine{}
	for _, l := range last.Sections[0].Lines {
		lines[l.Kind] = l
	}
	if lines["orders_premium"].Quantity != 22 || lines["orders_standard"].Quantity != 56 || last.Sections[0].Usage.SeatsPeak != 3 {
		t.Errorf("Acme's last closed month: lines %+v, seats peak %d", last.Sections[0].Lines, last.Sections[0].Usage.SeatsPeak)
	}
	if eu := last.Sections[1]; eu.CompanyName != "Acme Europe" || eu.Usage.DeviceDays == 0 {
		t.Errorf("Acme Europe's section: %+v", eu.Usage)
	}

	// The open months: after the last closed one, up to the latest
	// current month of any timezone.
	for m := months[4].Next(); m <= models.MonthOf(time.Now(), time.UTC); m = m.Next() {
		report, err := store.RebuildBillingMonth(ctx, m, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(report.Differences) != 0 || len(report.Skipped) != 0 {
			t.Errorf("rebuild of %s: differences %v, skipped %v", m, report.Differences, report.Skipped)
		}
	}
	var projections int64
	if err := ownerDB.Raw("SELECT count(*) FROM billing_projections").Scan(&projections).Error; err != nil || projections < 3 {
		t.Errorf("%d projections for staff (%v)", projections, err)
	}
}
