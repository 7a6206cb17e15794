package models_test

import (
	"context"
	"errors"
	"reflect"
	"testing"

	"canopy/models"
)

// TestImportBillingHistory: a company's past written in platform staff's
// scope reads like metered usage; writing it again changes nothing; a
// seat's interval replaces the one its membership opened; this month's
// orders and a closed company are refused.
func TestImportBillingHistory(t *testing.T) {
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "UTC", "2026-12-05 12:00"))
	g := bw.globex
	bob := mustUser(t, bw.store, "bob@globex.test")
	if _, err := bw.store.AddMember(bw.ctx, g.ID, bob.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	d, err := bw.store.AddDevice(bw.ctx, g.ID, models.NewDevice{Identifier: "old", Model: "Gateway", Status: models.DeviceInactive,
		CreatedAt: at(t, "UTC", "2026-11-01 00:00")})
	if err != nil {
		t.Fatal(err)
	}
	tpl := bw.completeOrder(t, g, models.CategoryPremium).TemplateID // this month's, counted as it completed
	plan, err := bw.store.DefaultBillingPlan(bw.ctx)
	if err != nil {
		t.Fatal(err)
	}
	retired := at(t, "UTC", "2026-11-16 09:00")
	history := models.BillingHistory{
		Since: at(t, "UTC", "2026-11-01 00:00"),
		Terms: []models.HistoricTerms{{Month: "2026-11", PlanID: plan.ID}},
		Presence: []models.PresencePeriod{
			{Meter: models.MeterDevices, SubjectID: d.ID, StartedAt: at(t, "UTC", "2026-11-01 08:00"), EndedAt: &retired},
			{Meter: models.MeterSeats, SubjectID: bob.ID, StartedAt: at(t, "UTC", "2026-11-11 08:00")},
		},
		Orders: []models.OrderDayCount{{Day: "2026-11-03", TemplateID: tpl, Completed: 7}},
	}
	var first *models.MonthUsage
	for range 2 {
		bw.asStaff(t, func(ctx context.Context, s *models.Store) error { return s.ImportBillingHistory(ctx, g.ID, history) })
		g, _ = bw.store.TenantByID(bw.ctx, g.ID)
		u := bw.usage(t, g, "2026-11")
		if u.DeviceDays != 16 || u.SeatDays != 20 || u.ActiveDays != 30 || u.OrdersTotal() != 7 || u.Orders[0].Category != models.CategoryPremium {
			t.Fatalf("November from history: %+v", u)
		}
		if first != nil && !reflect.DeepEqual(first, u) {
			t.Fatalf("a second import changed November: %+v → %+v", first, u)
		}
		first = u
	}
	// Bob's seat began in November: December counts it every day, once.
	// Alice joined on the 5th to place the order.
	if dec := bw.usage(t, g, "2026-12"); dec.SeatsPeak != 2 || dec.SeatDays != 5+1 || dec.DeviceDays != 0 {
		t.Errorf("December: %+v", dec)
	}
	report, err := bw.store.RebuildBillingMonth(bw.ctx, "2026-12", false)
	if err != nil || len(report.Differences) != 0 {
		t.Errorf("rebuild of December after the import: %+v %v", report, err)
	}
	thisMonth := history
	thisMonth.Orders = []models.OrderDayCount{{Day: "2026-12-01", TemplateID: tpl, Completed: 1}}
	err = bw.store.Within(bw.ctx, models.Scope{TenantID: bw.platform.ID, Subtree: true}, func(ctx context.Context, s *models.Store) error {
		return s.ImportBillingHistory(ctx, g.ID, thisMonth)
	})
	if err == nil {
		t.Error("orders of the current month were imported")
	}
	bw.clock.Set(at(t, "UTC", "2026-12-02 15:00"))
	if _, err := bw.store.CloseBillingMonth(bw.ctx, "2026-11", bw.clock.Now()); err != nil {
		t.Fatal(err)
	}
	err = bw.store.Within(bw.ctx, models.Scope{TenantID: bw.platform.ID, Subtree: true}, func(ctx context.Context, s *models.Store) error {
		return s.ImportBillingHistory(ctx, g.ID, history)
	})
	if !errors.Is(err, models.ErrBillingHistoryClosed) {
		t.Errorf("history into a closed company: %v", err)
	}
	if newest, err := bw.store.NewestClosedBillingMonth(bw.ctx); err != nil || newest != "2026-11" {
		t.Errorf("newest closed month %q, %v", newest, err)
	}
	var st *models.BillingStatement
	bw.asStaff(t, func(ctx context.Context, s *models.Store) (err error) {
		st, err = s.BillingStatementOf(ctx, g, "2026-11", bw.clock.Now())
		return err
	})
	if !st.ClosedAt.Equal(bw.clock.Now()) {
		t.Errorf("closed at %v, want the moment it was closed at, %v", st.ClosedAt, bw.clock.Now())
	}
}
