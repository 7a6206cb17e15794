package models_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/models"
)

// Billing behind the database wall, as the application role, on the demo
// data: Acme Europe is billed to Acme Corp, Acme Lab pays for itself.

var billingUsageTables = []string{"billing_terms", "billing_presence_days", "billing_presence_periods"}

// TestRLSBillingPayerSeesWhatItPaysFor: a paying company's scope (an Admin
// of it, without the subtree) reads the usage and terms of the companies
// billed to it, and nothing of a child that pays for itself; a company
// billed to another reads its own alone; the closing job reads every
// company's billing and no order, device or membership.
func TestRLSBillingPayerSeesWhatItPaysFor(t *testing.T) {
	w := newRLSWorld(t)
	acme, eu, lab, globex := w.tenant["acme"], w.tenant["acme-eu"], w.tenant["acme-lab"], w.tenant["globex"]
	sees := func(scope models.Scope, table string) []int64 {
		t.Helper()
		var ids []int64
		w.as(t, scope, func(db *gorm.DB) error {
			ids = tenantIDsOf(t, db, table)
			return nil
		})
		return ids
	}
	// Its terms are its own: what it pays for comes through the owner's
	// functions, not by reading others' terms.
	want := map[string][]int64{"billing_terms": {acme}, "billing_presence_days": {acme, eu}, "billing_order_days": {acme}}
	for table, ids := range want {
		if got := sees(models.Scope{TenantID: acme}, table); !slices.Equal(got, sorted(ids)) {
			t.Errorf("Acme's Admin sees %s of %v, want %v", table, got, sorted(ids))
		}
	}
	for _, table := range billingUsageTables {
		if got := sees(models.Scope{TenantID: eu}, table); !slices.Equal(got, []int64{eu}) {
			t.Errorf("Acme Europe sees %s of %v, want its own", table, got)
		}
		if got := sees(models.Scope{TenantID: globex}, table); !slices.Equal(got, []int64{globex}) {
			t.Errorf("Globex sees %s of %v, want its own", table, got)
		}
		if got := sees(models.Scope{TenantID: acme}, table); slices.Contains(got, lab) {
			t.Errorf("Acme's Admin sees %s of Acme Lab, which pays for itself", table)
		}
	}
	month := models.MonthOf(time.Now(), time.UTC)
	w.as(t, models.Scope{TenantID: globex}, func(db *gorm.DB) error {
		var n int64
		if err := db.Raw("SELECT count(*) FROM canopy_billing_payees(?, ?)", acme, string(month)).Scan(&n).Error; err != nil || n != 0 {
			t.Errorf("Globex listed what Acme pays for: %d rows, %v", n, err)
		}
		var payer *int64
		if err := db.Raw("SELECT canopy_billing_payer(?, ?)", eu, string(month)).Scan(&payer).Error; err != nil || payer != nil {
			t.Errorf("Globex learned who pays for Acme Europe: %v, %v", payer, err)
		}
		return nil
	})

	// The closing job, on the application role, closes the month ahead.
	ctx := context.Background()
	later := time.Now().AddDate(0, 2, 0)
	for _, m := range []models.BillingMonth{month.Prev(), month, month.Next()} {
		if _, err := w.app.CloseBillingMonth(ctx, m, later); err != nil {
			t.Fatalf("close %s: %v", m, err)
		}
	}
	if got := sees(models.Scope{TenantID: eu}, "billing_statement_sections"); !slices.Equal(got, []int64{eu}) {
		t.Errorf("Acme Europe sees sections of %v, want its own", got)
	}
	if got := sees(models.Scope{TenantID: acme}, "billing_statement_sections"); !slices.Equal(got, sorted([]int64{acme, eu})) {
		t.Errorf("Acme sees sections of %v, want its own and Acme Europe's", got)
	}
	if got := sees(models.Scope{TenantID: eu}, "billing_statements"); len(got) != 0 {
		t.Errorf("Acme Europe sees statements of %v; it pays none", got)
	}
	worker := models.BillingWorkerScopeForTest()
	if got := sees(worker, "billing_statements"); !slices.Contains(got, acme) || !slices.Contains(got, globex) || !slices.Contains(got, lab) {
		t.Errorf("the closing job sees statements of %v", got)
	}
	for _, table := range []string{"orders", "devices", "memberships", "templates", "audit_events"} {
		if got := sees(worker, table); len(got) != 0 {
			t.Errorf("the closing job sees %s of %v", table, got)
		}
	}
}

func sorted(ids []int64) []int64 {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}
