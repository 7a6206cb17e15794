package models_test

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"canopy/models"
)

// billingClock moves a store's clock by hand.
type billingClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *billingClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *billingClock) Set(t time.Time) { c.mu.Lock(); c.now = t.UTC(); c.mu.Unlock() }

func at(t *testing.T, loc, when string) time.Time {
	t.Helper()
	l, err := time.LoadLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := time.ParseInLocation("2006-01-02 15:04", when, l)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// billingWorld is a tree for billing, made on 2026-10-01 (UTC): Acme Corp
// (New York) pays; Acme Europe (Berlin) and its lab are billed up to it;
// Globex pays for itself.
type billingWorld struct {
	tree
	clock *billingClock
	ctx   context.Context
}

func newBillingWorld(t *testing.T) billingWorld {
	t.Helper()
	clock := &billingClock{now: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)}
	w := newWorld(t)
	w.store.SetNowForTest(clock.Now)
	ctx := context.Background()
	child := func(parent *models.Tenant, name, sub, tz string, billTo int64) *models.Tenant {
		t.Helper()
		tn, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: parent.ID, Name: name, Subdomain: sub, Timezone: tz, BillToTenantID: billTo})
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	// Acme was made before the clock was set: give it terms from October.
	if err := w.store.ExecForTest(ctx, "UPDATE billing_terms SET effective_month = '2026-10' WHERE tenant_id = ?", w.acme.ID); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExecForTest(ctx, "UPDATE tenants SET created_at = ? WHERE id = ?", clock.Now(), w.acme.ID); err != nil {
		t.Fatal(err)
	}
	w.acme, _ = w.store.TenantByID(ctx, w.acme.ID)
	tr := tree{world: w}
	tr.eu = child(w.acme, "Acme Europe", "acme-eu", "Europe/Berlin", w.acme.ID)
	tr.euLab = child(tr.eu, "Acme Europe Lab", "acme-eu-lab", "Europe/Berlin", tr.eu.ID)
	tr.globex = child(w.platform, "Globex", "globex", "UTC", 0)
	tr.globexEU = child(tr.globex, "Globex EU", "globex-eu", "UTC", 0)
	return billingWorld{tree: tr, clock: clock, ctx: ctx}
}

// asStaff runs fn in platform staff's scope, as their pages do: on
// PostgreSQL the payer functions answer a scope that may see the company.
func (bw billingWorld) asStaff(t *testing.T, fn func(ctx context.Context, s *models.Store) error) {
	t.Helper()
	if err := bw.store.Within(bw.ctx, models.Scope{TenantID: bw.platform.ID, Subtree: true}, fn); err != nil {
		t.Fatal(err)
	}
}

func (bw billingWorld) usage(t *testing.T, tn *models.Tenant, month string) *models.MonthUsage {
	t.Helper()
	u, err := bw.store.MonthUsageOf(bw.ctx, tn, models.BillingMonth(month), bw.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (bw billingWorld) device(t *testing.T, tn *models.Tenant, id string) *models.Device {
	t.Helper()
	d, err := bw.store.AddDevice(bw.ctx, tn.ID, models.NewDevice{Identifier: id, Model: "Gateway", Status: models.DeviceActive})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// completeOrder makes an order of a new template of the category and takes
// it to completed.
func (bw billingWorld) completeOrder(t *testing.T, tn *models.Tenant, category models.TemplateCategory) *models.Order {
	t.Helper()
	ctx := models.WithActor(bw.ctx, models.Actor{UserID: bw.alice.ID, Email: "alice@acme.test"})
	m, err := bw.store.MembershipOf(ctx, tn.ID, bw.alice.ID)
	if errors.Is(err, models.ErrNotFound) {
		m, err = bw.store.AddMember(ctx, tn.ID, bw.alice.ID, models.RoleAdmin)
	}
	if err != nil {
		t.Fatal(err)
	}
	name := "Check " + string(category)
	tpl, err := bw.store.TemplateByName(ctx, tn.ID, name)
	if errors.Is(err, models.ErrNotFound) {
		tpl, err = bw.store.CreateTemplate(ctx, tn.ID, bw.alice.ID, models.NewTemplate{Name: name, BrandingCompanyName: tn.Name, Collects: []string{"identity"}})
		if err == nil {
			err = bw.store.ExecForTest(ctx, "UPDATE templates SET category = ? WHERE id = ?", category, tpl.ID)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	o, err := bw.store.CreateOrder(ctx, tn.ID, m.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Applicant"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range models.OrderPending.PathTo(models.OrderCompleted) {
		if o, err = bw.store.ChangeOrderStatus(ctx, tn.ID, o.ID, step); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// TestBillingMonthsFollowTheCompanysTimezone: a device activated at 23:30
// on the last day of November in New York (04:30 UTC on December 1st) is a
// device-day of November there, and present through December.
func TestBillingMonthsFollowTheCompanysTimezone(t *testing.T) {
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "America/New_York", "2026-11-30 23:30"))
	bw.device(t, bw.acme, "late-night")
	if u := bw.usage(t, bw.acme, "2026-11"); u.DeviceDays != 1 || u.DevicesNow != 1 || u.Counted != 30 {
		t.Fatalf("November at its last minute: %+v", u)
	}
	bw.clock.Set(at(t, "America/New_York", "2026-12-10 09:00"))
	nov, dec := bw.usage(t, bw.acme, "2026-11"), bw.usage(t, bw.acme, "2026-12")
	if nov.DeviceDays != 1 || dec.DeviceDays != 10 || dec.DevicesNow != 1 {
		t.Fatalf("November %d device-days, December to the 10th %d (now %d); want 1, 10, 1", nov.DeviceDays, dec.DeviceDays, dec.DevicesNow)
	}
	// The same instant in Berlin is already December 1st (05:30).
	bw.clock.Set(at(t, "America/New_York", "2026-11-30 23:30"))
	bw.device(t, bw.eu, "berlin-early")
	bw.clock.Set(at(t, "UTC", "2026-12-10 12:00"))
	if nov, dec := bw.usage(t, bw.eu, "2026-11"), bw.usage(t, bw.eu, "2026-12"); nov.DeviceDays != 0 || dec.DeviceDays != 10 {
		t.Fatalf("Berlin: November %d, December %d device-days; want 0 and 10", nov.DeviceDays, dec.DeviceDays)
	}
}

// TestBillingProration: a device active half a month is half a device-
// month; a device deactivated counts its last day; seats count peak and
// average; sandbox orders are never billed.
func TestBillingProration(t *testing.T) {
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "UTC", "2026-11-01 08:00"))
	g := bw.globex
	d := bw.device(t, g, "half-month")
	bw.device(t, g, "whole-month")
	bob := mustUser(t, bw.store, "bob@globex.test")
	bw.clock.Set(at(t, "UTC", "2026-11-15 18:00"))
	if _, err := bw.store.SetDeviceStatus(bw.ctx, g.ID, d.ID, models.DeviceInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := bw.store.AddMember(bw.ctx, g.ID, bob.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	bw.completeOrder(t, g, models.CategoryPremium) // alice joins Globex for it
	bw.completeOrderIn(t, g, models.OrderTest)
	bw.clock.Set(at(t, "UTC", "2026-12-02 10:00"))
	u := bw.usage(t, g, "2026-11")
	if u.DeviceDays != 30+15 || u.DeviceMonths() != 150 {
		t.Errorf("device-days %d (%s device-months), want 45 (1.50)", u.DeviceDays, models.FormatHundredths(u.DeviceMonths()))
	}
	if u.SeatsPeak != 2 || u.SeatDays != 16+16 {
		t.Errorf("seats peak %d, seat-days %d; want 2 and 32 (alice and bob from the 15th)", u.SeatsPeak, u.SeatDays)
	}
	if u.OrdersTotal() != 1 {
		t.Errorf("orders %+v, want the live premium one only", u.Orders)
	}
}

// completeOrderIn completes an order made in env.
func (bw billingWorld) completeOrderIn(t *testing.T, tn *models.Tenant, env models.OrderEnvironment) *models.Order {
	t.Helper()
	ctx := models.WithActor(bw.ctx, models.Actor{UserID: bw.alice.ID, Email: "alice@acme.test"})
	m, err := bw.store.MembershipOf(ctx, tn.ID, bw.alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := bw.store.TemplateByName(ctx, tn.ID, "Check premium")
	if err != nil {
		t.Fatal(err)
	}
	o, err := bw.store.CreateOrder(ctx, tn.ID, m.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Tester"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.store.ExecForTest(ctx, "UPDATE orders SET environment = ? WHERE id = ?", env, o.ID); err != nil {
		t.Fatal(err)
	}
	for _, step := range models.OrderPending.PathTo(models.OrderCompleted) {
		if o, err = bw.store.ChangeOrderStatus(ctx, tn.ID, o.ID, step); err != nil {
			t.Fatal(err)
		}
	}
	return o
}

// TestPriceMonth: the plan's prices applied in integers, each amount
// rounded once.
func TestPriceMonth(t *testing.T) {
	premium := int64(400)
	flat := &models.BillingPlan{BaseFee: 3000, OrderPrice: 250, IncludedOrders: 2, DeviceMonthPrice: 100, IncludedDeviceMonths: 1, SeatPrice: 900, IncludedSeats: 1}
	byCategory := *flat
	byCategory.PremiumOrderPrice = &premium
	orders := []models.TemplateUsage{{TemplateID: 1, Category: models.CategoryStandard, Completed: 3}, {TemplateID: 2, Category: models.CategoryPremium, Completed: 2}}
	cases := []struct {
		name     string
		usage    models.MonthUsage
		plan     *models.BillingPlan
		subtotal int64
		amounts  map[string]int64
	}{
		{"a quiet whole month is the base fee", models.MonthUsage{Days: 30, Counted: 30, ActiveDays: 30, Orders: []models.TemplateUsage{}},
			flat, 3000, map[string]int64{"base": 3000, "orders": 0, "devices": 0, "seats": 0}},
		{"made on the 21st of 30 days: a third of the base fee", models.MonthUsage{Days: 30, Counted: 30, ActiveDays: 10},
			flat, 1000, map[string]int64{"base": 1000}},
		{"flat orders beyond those included", models.MonthUsage{Days: 30, ActiveDays: 30, Orders: orders},
			flat, 3000 + 3*250, map[string]int64{"orders": 750}},
		{"by category, the included ones from the dearer", models.MonthUsage{Days: 30, ActiveDays: 30, Orders: orders},
			&byCategory, 3000 + 3*250, map[string]int64{"orders_premium": 0, "orders_standard": 750}},
		{"device-days beyond a device-month, prorated", models.MonthUsage{Days: 31, ActiveDays: 31, DeviceDays: 31 + 10},
			flat, 3000 + 32, map[string]int64{"devices": 32}}, // 10 × 100 / 31 = 32.26 → 32
		{"seats on average beyond one", models.MonthUsage{Days: 30, ActiveDays: 30, SeatDays: 45},
			flat, 3000 + 450, map[string]int64{"seats": 450}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines, subtotal := models.PriceMonth(&c.usage, c.plan)
			if subtotal != c.subtotal {
				t.Errorf("subtotal %d, want %d (%+v)", subtotal, c.subtotal, lines)
			}
			got := map[string]int64{}
			for _, l := range lines {
				got[l.Kind] = l.Amount
			}
			for kind, want := range c.amounts {
				if got[kind] != want {
					t.Errorf("%s: %d, want %d", kind, got[kind], want)
				}
			}
		})
	}
}

// TestBillToChains: roll-up through two levels; a company staff made
// billed to a sibling from the next month; a loop refused; a company that
// rolled up paying for itself from the next month.
func TestBillToChains(t *testing.T) {
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "UTC", "2026-11-10 12:00"))
	s, ctx := bw.store, bw.ctx
	payer := func(tn *models.Tenant, month string) (p int64) {
		t.Helper()
		bw.asStaff(t, func(ctx context.Context, s *models.Store) (err error) {
			p, err = s.BillingPayer(ctx, tn.ID, models.BillingMonth(month))
			return err
		})
		return p
	}
	payees := func(tn *models.Tenant, month string) (ids []int64) {
		t.Helper()
		bw.asStaff(t, func(ctx context.Context, s *models.Store) error {
			ps, err := s.BillingPayees(ctx, tn.ID, models.BillingMonth(month))
			for _, p := range ps {
				ids = append(ids, p.TenantID)
			}
			return err
		})
		return ids
	}
	if got := payer(bw.euLab, "2026-11"); got != bw.acme.ID {
		t.Errorf("the lab two levels down is billed to %d, want Acme %d", got, bw.acme.ID)
	}
	if got, want := payees(bw.acme, "2026-11"), []int64{bw.acme.ID, bw.eu.ID, bw.euLab.ID}; !reflect.DeepEqual(got, want) {
		t.Errorf("Acme pays for %v, want %v", got, want)
	}
	if got := payees(bw.eu, "2026-11"); len(got) != 0 {
		t.Errorf("Acme Europe, billed to Acme, pays for %v", got)
	}
	plan, err := s.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Staff bill Globex, a sibling, to Acme: from December.
	if _, err := s.ChangeBillingTerms(ctx, bw.globex.ID, plan.ID, bw.acme.ID); err != nil {
		t.Fatal(err)
	}
	if payer(bw.globex, "2026-11") != bw.globex.ID || payer(bw.globex, "2026-12") != bw.acme.ID {
		t.Errorf("Globex billed to Acme should start in December")
	}
	// Acme billed to Globex would loop.
	if _, err := s.ChangeBillingTerms(ctx, bw.acme.ID, plan.ID, bw.globex.ID); err == nil || fieldErrorOf(err, "bill_to") == "" {
		t.Errorf("a loop was accepted: %v", err)
	}
	if _, err := s.ChangeBillingTerms(ctx, bw.euLab.ID, plan.ID, bw.euLab.ID); fieldErrorOf(err, "bill_to") == "" {
		t.Errorf("a company billed to itself: %v", err)
	}
	if _, err := s.ChangeBillingTerms(ctx, bw.acme.ID, plan.ID, 987654); fieldErrorOf(err, "bill_to") == "" {
		t.Errorf("a company billed to one that does not exist: %v", err)
	}
	if _, err := s.ChangeBillingTerms(ctx, bw.acme.ID, plan.ID, bw.platform.ID); fieldErrorOf(err, "bill_to") == "" {
		t.Errorf("a company billed to the platform: %v", err)
	}
	// Acme Europe pays for itself from December, its lab with it.
	if _, err := s.ChangeBillingTerms(ctx, bw.eu.ID, plan.ID, 0); err != nil {
		t.Fatal(err)
	}
	if payer(bw.euLab, "2026-11") != bw.acme.ID || payer(bw.euLab, "2026-12") != bw.eu.ID {
		t.Errorf("the lab should follow Acme Europe to paying itself in December")
	}
	// A second change in the same month replaces the scheduled one.
	if _, err := s.ChangeBillingTerms(ctx, bw.eu.ID, plan.ID, bw.acme.ID); err != nil {
		t.Fatal(err)
	}
	if payer(bw.euLab, "2026-12") != bw.acme.ID {
		t.Errorf("the replaced change still applies")
	}
}

func fieldErrorOf(err error, field string) string {
	var fe models.FieldErrors
	if errors.As(err, &fe) {
		return fe[field]
	}
	return ""
}

// TestPlanChangeAppliesNextPeriod: a plan changed mid-month prices the
// next month, not the current one.
func TestPlanChangeAppliesNextPeriod(t *testing.T) {
	bw := newBillingWorld(t)
	s, ctx := bw.store, bw.ctx
	bw.clock.Set(at(t, "UTC", "2026-11-10 12:00"))
	dear, err := s.CreateBillingPlan(ctx, bw.platform.ID, models.NewBillingPlan{Name: "Dear", Currency: "EUR", BaseFee: 100000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeBillingTerms(ctx, bw.globex.ID, dear.ID, 0); err != nil {
		t.Fatal(err)
	}
	// Changed back before it applies: the scheduled change is withdrawn.
	standard, err := s.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ChangeBillingTerms(ctx, bw.globex.ID, standard.ID, 0); err != nil {
		t.Fatal(err)
	}
	if latest, err := s.LatestBillingTerms(ctx, bw.globex.ID); err != nil || latest.EffectiveMonth != "2026-10" {
		t.Fatalf("after changing back, the latest terms are %+v (%v), want October's", latest, err)
	}
	if _, err := s.ChangeBillingTerms(ctx, bw.globex.ID, dear.ID, 0); err != nil {
		t.Fatal(err)
	}
	var nov, dec *models.BillingStatement
	bw.asStaff(t, func(ctx context.Context, s *models.Store) (err error) {
		nov, err = s.BillingStatementOf(ctx, bw.globex, "2026-11", bw.clock.Now())
		return err
	})
	if nov.Sections[0].PlanName != "Standard" || nov.Totals[0].Currency != "USD" {
		t.Errorf("November priced by %s in %v", nov.Sections[0].PlanName, nov.Totals)
	}
	bw.clock.Set(at(t, "UTC", "2026-12-01 00:30"))
	bw.asStaff(t, func(ctx context.Context, s *models.Store) (err error) {
		dec, err = s.BillingStatementOf(ctx, bw.globex, "2026-12", bw.clock.Now())
		return err
	})
	if dec.Sections[0].PlanName != "Dear" || dec.ProjectedTotals[0] != (models.MoneyTotal{Currency: "EUR", Amount: 100000}) {
		t.Errorf("December priced by %s, projected %v", dec.Sections[0].PlanName, dec.ProjectedTotals)
	}
}

// TestCloseBillingMonth: closing writes one statement per paying company
// with a section per company billed to it, once however often and from
// however many instances it runs; a late order goes into the next month,
// marked late; the rebuild agrees with the figures kept as things
// happened.
func TestCloseBillingMonth(t *testing.T) {
	bw := newBillingWorld(t)
	s, ctx := bw.store, bw.ctx
	bw.clock.Set(at(t, "UTC", "2026-11-03 12:00"))
	bw.device(t, bw.eu, "eu-1")
	bw.device(t, bw.euLab, "lab-1")
	bw.completeOrder(t, bw.acme, models.CategoryStandard)
	bw.completeOrder(t, bw.globex, models.CategoryPremium)
	bw.clock.Set(at(t, "UTC", "2026-11-20 12:00"))
	report, err := s.RebuildBillingMonth(ctx, "2026-11", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Differences) != 0 || report.Companies != 5 {
		t.Fatalf("rebuild of the kept figures: %+v", report)
	}
	before := bw.usage(t, bw.eu, "2026-11")
	// Figures damaged by hand are found and repaired.
	if err := s.ExecForTest(ctx, "UPDATE billing_presence_days SET starts = starts + 3 WHERE tenant_id = ?", bw.eu.ID); err != nil {
		t.Fatal(err)
	}
	if report, err = s.RebuildBillingMonth(ctx, "2026-11", true); err != nil || len(report.Differences) != 1 {
		t.Fatalf("rebuild of damaged figures: %+v %v", report, err)
	}
	if after := bw.usage(t, bw.eu, "2026-11"); !reflect.DeepEqual(before, after) {
		t.Fatalf("repaired %+v, want %+v", after, before)
	}

	// Early on December 1st November has ended in New York but not
	// everywhere: it is not closed yet, and shows as it stands.
	bw.clock.Set(at(t, "UTC", "2026-12-01 10:00"))
	if due := models.BillingMonthDue(bw.clock.Now()); due != "2026-10" {
		t.Fatalf("due early on the 1st: %s", due)
	}
	bw.asStaff(t, func(ctx context.Context, s *models.Store) error {
		st, err := s.BillingMonthOf(ctx, bw.acme, "2026-11", bw.clock.Now())
		if err != nil || st.Closed() || len(st.Sections) != 3 {
			t.Errorf("November before closing: %+v %v", st, err)
		}
		return nil
	})
	bw.clock.Set(at(t, "UTC", "2026-12-02 06:00"))
	if due := models.BillingMonthDue(bw.clock.Now()); due != "2026-11" {
		t.Fatalf("due %s", due)
	}
	var wg sync.WaitGroup
	closed := make([]int, 3)
	errs := make([]error, 3)
	for i := range closed {
		wg.Add(1)
		go func() {
			defer wg.Done()
			closed[i], errs[i] = s.CloseBillingMonth(ctx, "2026-11", bw.clock.Now())
		}()
	}
	wg.Wait()
	total := 0
	for i := range closed {
		if errs[i] != nil && !errors.Is(errs[i], models.ErrTryAgain) {
			t.Fatal(errs[i])
		}
		total += closed[i]
	}
	again, err := s.CloseBillingMonth(ctx, "2026-11", bw.clock.Now())
	if err != nil || total+again != 3 {
		t.Fatalf("statements written %d then %d (%v); want 3 in all (Acme, Globex, Globex EU)", total, again, err)
	}
	st, err := s.BillingStatementOf(ctx, bw.acme, "2026-11", bw.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	var sections []string
	for _, sec := range st.Sections {
		sections = append(sections, sec.CompanyName)
	}
	if !st.Closed() || !reflect.DeepEqual(sections, []string{"Acme Corp", "Acme Europe", "Acme Europe Lab"}) {
		t.Fatalf("Acme's November: closed %v, sections %v", st.Closed(), sections)
	}
	if _, err := s.BillingStatementOf(ctx, bw.eu, "2026-11", bw.clock.Now()); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("Acme Europe has a statement of its own: %v", err)
	}
	// An order completed by a clock still in November, after the close.
	bw.clock.Set(at(t, "UTC", "2026-11-30 20:00"))
	bw.completeOrder(t, bw.acme, models.CategoryStandard)
	bw.clock.Set(at(t, "UTC", "2026-12-02 07:00"))
	dec := bw.usage(t, bw.acme, "2026-12")
	if dec.OrdersTotal() != 1 || dec.Orders[0].Late != 1 {
		t.Errorf("the late order in December: %+v", dec.Orders)
	}
	fixed, err := s.BillingStatementOf(ctx, bw.acme, "2026-11", bw.clock.Now())
	if err != nil || !reflect.DeepEqual(fixed.Totals, st.Totals) {
		t.Errorf("November changed after closing: %v → %v (%v)", st.Totals, fixed.Totals, err)
	}
	if report, err := s.RebuildBillingMonth(ctx, "2026-11", false); err != nil || len(report.Skipped) != 5 {
		t.Errorf("rebuilding a closed month: %+v %v", report, err)
	}

	// No foreign key ties a section to its statement on PostgreSQL (they
	// are different tenants' rows): a statement deleted by hand leaves its
	// sections, and closing the month again replaces them.
	if err := s.ExecForTest(ctx, "DELETE FROM billing_statements WHERE tenant_id = ? AND month = '2026-11'", bw.acme.ID); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CloseBillingMonth(ctx, "2026-11", bw.clock.Now()); err != nil || n != 1 {
		t.Fatalf("closing Acme's lost November: %d written (%v), want 1", n, err)
	}
	var strays int64
	err = s.DBForTest(ctx).Raw(`SELECT count(*) FROM billing_statement_sections AS b WHERE NOT EXISTS (SELECT 1 FROM billing_statements AS st
		WHERE st.id = b.statement_id AND st.tenant_id = b.payer_tenant_id AND st.month = b.month)`).Scan(&strays).Error
	if err != nil || strays != 0 {
		t.Errorf("%d sections outside their statement (%v)", strays, err)
	}
	if again, err := s.BillingStatementOf(ctx, bw.acme, "2026-11", bw.clock.Now()); err != nil || !reflect.DeepEqual(again.Totals, st.Totals) {
		t.Errorf("November closed again: %v → %v (%v)", st.Totals, again.Totals, err)
	}
}

// TestBillingProjections: staff's list holds every company that pays,
// with what it is heading for and the companies billed to it.
func TestBillingProjections(t *testing.T) {
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "UTC", "2026-11-15 12:00"))
	bw.device(t, bw.eu, "eu-1")
	if n, err := bw.store.RefreshBillingProjections(bw.ctx, bw.clock.Now()); err != nil || n != 3 {
		t.Fatalf("refreshed %d (%v), want Acme, Globex and Globex EU", n, err)
	}
	var page models.Page[models.BillingProjection]
	bw.asStaff(t, func(ctx context.Context, s *models.Store) (err error) {
		page, err = s.BillingProjections(ctx, "acme", "name", models.PageRequest{Number: 1, Size: 25})
		return err
	})
	if len(page.Items) != 1 {
		t.Fatalf("search for acme: %+v", page.Items)
	}
	p := page.Items[0]
	if p.Name != "Acme Corp" || p.Companies != 3 || !reflect.DeepEqual(p.RolledUpNames(), []string{"Acme Europe", "Acme Europe Lab"}) ||
		p.ToDate != 3*4900 || p.Projected < p.ToDate || p.Currency != "USD" {
		t.Errorf("Acme's projection %+v", p)
	}
}

// TestRebuildInTheMonthsFirstHours: a company east of UTC begins its month
// before UTC does; what happens in those first hours (here 00:30 in Berlin,
// 23:30 UTC the day before) is its month's, for the figures kept and for
// the rebuild alike.
func TestRebuildInTheMonthsFirstHours(t *testing.T) {
	bw := newBillingWorld(t)
	bw.clock.Set(at(t, "Europe/Berlin", "2026-11-01 00:30"))
	bw.device(t, bw.eu, "eu-early")
	bw.clock.Set(at(t, "UTC", "2026-11-20 12:00"))
	report, err := bw.store.RebuildBillingMonth(bw.ctx, "2026-11", false)
	if err != nil {
		t.Fatal(err)
	}
	if len(report.Differences) != 0 {
		t.Fatalf("the rebuild disagrees with the kept figures: %v", report.Differences)
	}
}
