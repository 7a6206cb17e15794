package models_test

import (
	"context"
	"errors"
	"testing"

	"canopy/models"
)

// TestBillingMonthOf: a closed month is the payer's statement with every
// company billed to it, or a rolled-up company's own section naming who
// paid; another payer's month holds nothing of Acme's; a month to come or
// without a statement is not found; UsageOnly leaves no money.
func TestBillingMonthOf(t *testing.T) {
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "UTC", "2026-11-03 12:00"))
	bw.device(t, bw.eu, "eu-1")
	bw.completeOrder(t, bw.acme, models.CategoryStandard)
	bw.clock.Set(at(t, "UTC", "2026-12-02 06:00"))
	if _, err := bw.store.CloseBillingMonth(bw.ctx, "2026-11", bw.clock.Now()); err != nil {
		t.Fatal(err)
	}
	month := func(tn *models.Tenant, m models.BillingMonth) (st *models.BillingStatement, err error) {
		bw.asStaff(t, func(ctx context.Context, s *models.Store) error {
			st, err = s.BillingMonthOf(ctx, tn, m, bw.clock.Now())
			return nil
		})
		return st, err
	}
	acme, err := month(bw.acme, "2026-11")
	if err != nil || acme.PayerID != bw.acme.ID || len(acme.Sections) != 3 || !acme.Closed() || acme.Totals[0].Amount == 0 {
		t.Fatalf("Acme's November: %+v %v", acme, err)
	}
	eu, err := month(bw.eu, "2026-11")
	if err != nil || eu.PayerID != bw.acme.ID || eu.PayerName != "Acme Corp" || len(eu.Sections) != 1 || eu.Sections[0].TenantID != bw.eu.ID {
		t.Fatalf("Acme Europe's November: %+v %v", eu, err)
	}
	if eu.Sections[0].Usage.DeviceDays == 0 {
		t.Errorf("Acme Europe's November lost its usage: %+v", eu.Sections[0].Usage)
	}
	globex, err := month(bw.globex, "2026-11")
	if err != nil || len(globex.Sections) != 1 || globex.Sections[0].TenantID != bw.globex.ID {
		t.Fatalf("Globex's November: %+v %v", globex, err)
	}
	open, err := month(bw.eu, "2026-12")
	if err != nil || open.Closed() || open.PayerID != bw.acme.ID || len(open.Sections) != 1 {
		t.Fatalf("Acme Europe's December so far: %+v %v", open, err)
	}
	for _, m := range []models.BillingMonth{"2027-01", "2026-10", "bogus"} {
		if _, err := month(bw.acme, m); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("Acme's %s: %v, want not found", m, err)
		}
	}
	bare := eu.UsageOnly()
	sec := bare.Sections[0]
	if len(bare.Totals) != 0 || len(bare.ProjectedTotals) != 0 || sec.Lines != nil || sec.Subtotal != 0 || sec.Projected != 0 || sec.PlanName != "" || sec.Currency != "" {
		t.Errorf("UsageOnly kept money: %+v", bare)
	}
	if sec.Usage.DeviceDays != eu.Sections[0].Usage.DeviceDays {
		t.Errorf("UsageOnly lost the usage")
	}
}
