package models_test

// Billing's database wall: each test names a way around it that once
// worked, and fails if it works again.

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

// A tenant's own scope (any member of it: the policies know no roles)
// cannot rewrite the billing rows that decide what it, or another company,
// pays: its terms, its counts (which only grow), its statements, staff's
// list.
func TestBillingWallTenantScopeRewritesItsBilling(t *testing.T) {
	w := newRLSWorld(t)
	eu, globex, acme := w.tenant["acme-eu"], w.tenant["globex"], w.tenant["acme"]
	month := models.MonthOf(time.Now(), time.UTC)
	// affected runs one statement as the application role in scope and
	// says how many rows it changed; refused (an error) is none.
	affected := func(scope models.Scope, sql string, args ...any) int64 {
		t.Helper()
		var n int64
		_ = w.app.Request(context.Background(), func(ctx context.Context) error {
			ctx, err := w.app.SetScope(ctx, scope)
			if err != nil {
				return err
			}
			res := w.app.DBForTest(ctx).Exec(sql, args...)
			n = res.RowsAffected
			return res.Error
		})
		return n
	}
	// Acme Europe points its own bill at Globex, a company that never agreed.
	if n := affected(models.Scope{TenantID: eu}, "UPDATE billing_terms SET bill_to_tenant_id = ? WHERE tenant_id = ?", globex, eu); n > 0 {
		var payer int64
		var payees []int64
		w.as(t, models.Scope{TenantID: eu}, func(db *gorm.DB) error {
			return db.Raw("SELECT canopy_billing_payer(?, ?)", eu, string(month)).Scan(&payer).Error
		})
		w.as(t, models.Scope{TenantID: globex}, func(db *gorm.DB) error {
			return db.Raw("SELECT tenant_id FROM canopy_billing_payees(?, ?)", globex, string(month)).Scan(&payees).Error
		})
		t.Errorf("Acme Europe's scope re-pointed its bill-to (%d rows): payer now %d (Globex is %d); Globex's statement holds %v (Acme Europe is %d)", n, payer, globex, payees, eu)
	}
	// Acme Europe erases its own usage.
	if n := affected(models.Scope{TenantID: eu}, "DELETE FROM billing_presence_days WHERE tenant_id = ?", eu); n > 0 {
		t.Errorf("Acme Europe's scope deleted %d rows of its own usage", n)
	}
	if n := affected(models.Scope{TenantID: acme}, "UPDATE billing_order_days SET completed = 0 WHERE tenant_id = ?", acme); n > 0 {
		t.Errorf("Acme's scope zeroed %d rows of its completed orders", n)
	}
	// Globex writes its own statement of the current month, so the closing
	// job (NOT EXISTS statement) skips it: the month is never billed.
	if n := affected(models.Scope{TenantID: globex}, "INSERT INTO billing_statements (tenant_id, month) VALUES (?, ?)", globex, string(month)); n > 0 {
		if _, err := w.app.CloseBillingMonth(context.Background(), month, time.Now().AddDate(0, 2, 0)); err != nil {
			t.Fatal(err)
		}
		var sections int64
		w.owner.Raw("SELECT count(*) FROM billing_statement_sections WHERE payer_tenant_id = ? AND month = ?", globex, string(month)).Scan(&sections)
		t.Errorf("Globex's scope inserted its own empty statement; after closing it has %d sections (never billed)", sections)
	}
	// Globex fills staff's list with the figures it likes.
	if n := affected(models.Scope{TenantID: globex}, `INSERT INTO billing_projections (tenant_id, month, currency, to_date, projected, companies)
		VALUES (?, '2099-01', 'USD', 0, 0, 1)`, globex); n > 0 {
		t.Errorf("Globex's scope wrote a projection for staff's list")
	}
}

// A change scheduled for next month does not give the future payer the
// company's usage or terms now: the payer reads a company's orders of the
// months it pays for them, and no one's terms but its own. "Next month" is
// the one after the month it is anywhere on earth: in the last hours of a
// month, where the next has begun, the payer rightly reads already.
func TestBillingWallPayerReadsPayeeHistory(t *testing.T) {
	w := newRLSWorld(t)
	acme, globex := w.tenant["acme"], w.tenant["globex"]
	next := models.MonthOf(time.Now().Add(14*time.Hour), time.UTC).Next()
	count := func() (days, terms int64) {
		w.as(t, models.Scope{TenantID: acme}, func(db *gorm.DB) error {
			db.Raw("SELECT count(*) FROM billing_presence_days WHERE tenant_id = ?", globex).Scan(&days)
			db.Raw("SELECT count(*) FROM billing_terms WHERE tenant_id = ?", globex).Scan(&terms)
			return nil
		})
		return
	}
	if d, _ := count(); d != 0 {
		t.Fatalf("before: Acme already sees %d of Globex's days", d)
	}
	// Staff schedule Globex to be billed to Acme from next month.
	if err := w.owner.Exec(`INSERT INTO billing_terms (tenant_id, effective_month, plan_id, bill_to_tenant_id)
		VALUES (?, ?, (SELECT id FROM billing_plans WHERE is_default), ?)`, globex, string(next), acme).Error; err != nil {
		t.Fatal(err)
	}
	var past int64
	w.owner.Raw("SELECT count(*) FROM billing_presence_days WHERE tenant_id = ? AND day < ?", globex, next.FirstDay()).Scan(&past)
	if d, tm := count(); d > 0 {
		t.Errorf("Acme, not yet paying for Globex, reads %d rows of Globex's usage (%d from months Globex paid itself) and %d of its terms", d, past, tm)
	}
}

// Two staff changes at once, A→B and B→A: the second waits for the first
// (the trigger's advisory lock), sees its row, and is refused.
func TestBillingWallConcurrentBillToCycle(t *testing.T) {
	if os.Getenv(testdb.EnvVar) == "" {
		t.Skip("concurrent transactions: Postgres")
	}
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "UTC", "2026-11-10 12:00"))
	s, ctx := bw.store, bw.ctx
	plan, err := s.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, b := bw.globex, bw.globexEU
	firstDone, secondDone := make(chan struct{}), make(chan struct{})
	var wg sync.WaitGroup
	var err1, err2 error
	wg.Add(2)
	go func() {
		defer wg.Done()
		err1 = s.Tx(ctx, func(tx *models.Store) error {
			if _, err := tx.ChangeBillingTerms(ctx, a.ID, plan.ID, b.ID); err != nil {
				close(firstDone)
				return err
			}
			close(firstDone)
			// Hold the transaction open while the other change starts: it
			// waits for this one, and then sees its row.
			select {
			case <-secondDone:
			case <-time.After(300 * time.Millisecond):
			}
			return nil
		})
	}()
	go func() {
		defer wg.Done()
		<-firstDone
		_, err2 = s.ChangeBillingTerms(ctx, b.ID, plan.ID, a.ID)
		close(secondDone)
	}()
	wg.Wait()
	if err1 != nil {
		t.Fatalf("the first change: %v", err1)
	}
	if fieldErrorOf(err2, "bill_to") == "" {
		t.Errorf("the second change, closing a loop with the first: %v", err2)
	}
	var pa, pb int64
	var ea, eb error
	bw.asStaff(t, func(ctx context.Context, s *models.Store) error {
		pa, ea = s.BillingPayer(ctx, a.ID, "2026-12")
		pb, eb = s.BillingPayer(ctx, b.ID, "2026-12")
		return nil
	})
	if errors.Is(ea, models.ErrNotFound) || errors.Is(eb, models.ErrNotFound) {
		t.Errorf("concurrent A→B and B→A both committed: December payers %d (%v), %d (%v): nobody is billed", pa, ea, pb, eb)
	}
}

// A change applies from each company's own next month, so around a
// month's end companies in far timezones are in different months: a loop
// in force in any month from the change on is refused, not only one in
// every company's latest terms.
func TestBillingWallTimezoneBillToCycle(t *testing.T) {
	bw := newBillingWorld(t)
	s, ctx := bw.store, bw.ctx
	plan, err := s.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mk := func(name, sub, tz string) *models.Tenant {
		tn, err := s.CreateTenant(ctx, models.NewTenant{ParentID: bw.platform.ID, Name: name, Subdomain: sub, Timezone: tz})
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	a := mk("Ahead", "ahead", "Pacific/Kiritimati")  // UTC+14
	b := mk("Behind", "behind", "Pacific/Pago_Pago") // UTC-11
	bw.clock.Set(at(t, "UTC", "2026-11-10 12:00"))
	if _, err := s.ChangeBillingTerms(ctx, a.ID, plan.ID, b.ID); err != nil { // A→B from December
		t.Fatal(err)
	}
	bw.clock.Set(at(t, "UTC", "2026-11-30 12:00"))                         // A: Dec 1st; B: Nov 30th
	if _, err := s.ChangeBillingTerms(ctx, a.ID, plan.ID, 0); err != nil { // A pays itself from January
		t.Fatal(err)
	}
	if _, err := s.ChangeBillingTerms(ctx, b.ID, plan.ID, a.ID); err != nil { // B→A from December
		t.Logf("refused (sound): %v", err)
		return
	}
	bw.asStaff(t, func(ctx context.Context, s *models.Store) error {
		_, ea := s.BillingPayer(ctx, a.ID, "2026-12")
		_, eb := s.BillingPayer(ctx, b.ID, "2026-12")
		if ea != nil || eb != nil {
			t.Errorf("December has the loop A→B→A: payer of A: %v, of B: %v — neither is billed", ea, eb)
		}
		return nil
	})
}

// A plan including more than was used (say 10^18 seats, staff's
// "unlimited") includes everything used: no overflow into a negative bill.
func TestBillingWallIncludedQuantityOverflow(t *testing.T) {
	u := &models.MonthUsage{Days: 30, Counted: 30, ActiveDays: 30, SeatDays: 150}
	p := &models.BillingPlan{Currency: "USD", SeatPrice: 800, IncludedSeats: 1_000_000_000_000_000_000}
	lines, total := models.PriceMonth(u, p)
	if total != 0 {
		for _, l := range lines {
			t.Logf("%s: included %d billable %d amount %d", l.Kind, l.Included, l.Billable, l.Amount)
		}
		t.Errorf("5 seats with 1e18 included cost %d minor units, want 0", total)
	}
	if errs := models.ValidateBillingPlan(models.NewBillingPlan{Name: "Unlimited", Currency: "USD", IncludedSeats: 1_000_000_000_000_000_000}); len(errs) == 0 {
		t.Logf("and the plan validates")
	}
}

// A parent's Super Admins (subtree scope) do not read a self-paying
// child's statements, prices or plan.
func TestBillingWallSubtreeReadsSelfPayingChildStatements(t *testing.T) {
	w := newRLSWorld(t)
	acme, lab := w.tenant["acme"], w.tenant["acme-lab"]
	month := models.MonthOf(time.Now(), time.UTC)
	if _, err := w.app.CloseBillingMonth(context.Background(), month, time.Now().AddDate(0, 2, 0)); err != nil {
		t.Fatal(err)
	}
	var n int64
	var total int64
	w.as(t, models.Scope{TenantID: acme, Subtree: true}, func(db *gorm.DB) error {
		return db.Raw("SELECT count(*), coalesce(sum(subtotal), 0) FROM billing_statement_sections WHERE tenant_id = ? AND payer_tenant_id = ?", lab, lab).Row().Scan(&n, &total)
	})
	if n > 0 {
		t.Errorf("Acme's subtree scope reads %d sections of Acme Lab's own statements (subtotals %d)", n, total)
	}
}
