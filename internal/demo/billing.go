package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"canopy/models"
)

// The demo's billing: five closed months and the current one, so the
// billing pages and their charts have something to show. Acme Corp joined
// on the 10th of the first month on the Standard plan and moved to Growth
// (priced by template category: "Income verification" is premium) two
// months later; Acme Europe, billed to Acme, began a month after it with
// older loggers it replaced by the devices it has now; Acme Lab paid for
// itself while it tried three prototypes; Globex's fleet of reefer
// loggers grows by five every month. Everyone's seats grow as people join.

// GrowthPlan is the demo's second plan.
var GrowthPlan = models.NewBillingPlan{
	Name:        "Growth",
	Description: "For growing teams: more included every month, and verification orders priced by template.",
	Currency:    "USD", BaseFee: 19900, OrderPrice: 150, PremiumOrderPrice: ptr(int64(400)), IncludedOrders: 50,
	DeviceMonthPrice: 80, IncludedDeviceMonths: 25, SeatPrice: 600, IncludedSeats: 10,
}

func ptr[T any](v T) *T { return &v }

// BillingMonths are the months the demo closes at now: the four before the
// due one, and the due one (models.BillingMonthDue).
func BillingMonths(now time.Time) []models.BillingMonth {
	m := models.BillingMonthDue(now)
	months := []models.BillingMonth{m}
	for range 4 {
		m = m.Prev()
		months = append([]models.BillingMonth{m}, months...)
	}
	return months
}

// SeedBilling loads the demo's billing history and closes its past months
// as the closing job would have, each just after it ended everywhere, then
// prices the current month for platform staff. demo.Seed must have run. A
// company whose months are closed already keeps what it has, so running it
// again changes nothing.
func SeedBilling(ctx context.Context, store *models.Store) error {
	now := time.Now()
	months := BillingMonths(now)
	return store.Tx(ctx, func(tx *models.Store) error {
		b, err := newBillingDemo(ctx, tx, months)
		if err != nil {
			return err
		}
		if err := b.seedHistory(ctx, now); err != nil {
			return err
		}
		for _, m := range months {
			// Closed as the job would have, once it had ended everywhere.
			if _, err := tx.CloseBillingMonth(ctx, m, m.ClosesAt().Add(5*time.Minute)); err != nil {
				return err
			}
		}
		_, err = tx.RefreshBillingProjections(ctx, now)
		return err
	})
}

// billingDemo is what the history is written with.
type billingDemo struct {
	tx        *models.Store
	months    []models.BillingMonth
	tenants   map[string]*models.Tenant
	users     map[string]*models.User
	platform  *models.Tenant
	standard  *models.BillingPlan
	growth    *models.BillingPlan
	templates map[string]int64 // Acme's, by name
}

func newBillingDemo(ctx context.Context, tx *models.Store, months []models.BillingMonth) (*billingDemo, error) {
	b := &billingDemo{tx: tx, months: months, tenants: map[string]*models.Tenant{}, users: map[string]*models.User{}, templates: map[string]int64{}}
	for _, sub := range []string{"admin", "acme", "acme-eu", "acme-lab", "globex"} {
		t, err := tx.TenantBySubdomain(ctx, sub)
		if err != nil {
			return nil, fmt.Errorf("demo billing: %s (load demo.Seed first): %w", sub, err)
		}
		b.tenants[sub] = t
	}
	b.platform = b.tenants["admin"]
	for _, p := range people {
		u, err := tx.UserByEmail(ctx, p.email)
		if err != nil {
			return nil, fmt.Errorf("demo billing: %s: %w", p.email, err)
		}
		b.users[p.email] = u
	}
	err := actingIn(ctx, tx, b.platform.ID, func(ctx context.Context, tx *models.Store) error {
		var err error
		if b.standard, err = tx.DefaultBillingPlan(ctx); err != nil {
			return err
		}
		b.growth, err = ensurePlan(ctx, tx, b.platform.ID, GrowthPlan)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo billing plans: %w", err)
	}
	acme := b.tenants["acme"]
	err = actingIn(ctx, tx, acme.ID, func(ctx context.Context, tx *models.Store) error {
		for _, n := range templates {
			t, err := tx.TemplateByName(ctx, acme.ID, n.Name)
			if err != nil {
				return err
			}
			b.templates[n.Name] = t.ID
		}
		return tx.SetTemplateCategory(ctx, acme.ID, b.templates["Income verification"], models.CategoryPremium)
	})
	if err != nil {
		return nil, fmt.Errorf("demo billing templates: %w", err)
	}
	return b, nil
}

func ensurePlan(ctx context.Context, tx *models.Store, platformID int64, n models.NewBillingPlan) (*models.BillingPlan, error) {
	plans, err := tx.BillingPlans(ctx, true)
	if err != nil {
		return nil, err
	}
	for i := range plans {
		if plans[i].Name == n.Name {
			return &plans[i], nil
		}
	}
	return tx.CreateBillingPlan(ctx, platformID, n)
}

// at is a moment of month m in loc: its day-th day at hour.
func at(m models.BillingMonth, loc *time.Location, day, hour int) time.Time {
	s := m.Start(loc)
	return time.Date(s.Year(), s.Month(), day, hour, 0, 0, 0, loc)
}

// demoDevice is a device of the history: registered at from, and, when
// retired is set, active until then and inactive now.
type demoDevice struct {
	identifier, model string
	from              time.Time
	retired           *time.Time
}

// companyHistory is one company's part of the demo's history.
type companyHistory struct {
	subdomain string
	since     time.Time
	terms     []models.HistoricTerms
	seats     map[string]time.Time // member's email → from
	devices   []demoDevice
	orders    map[string][]int64 // template name → completed per closed month (from the first)
}

// seedHistory writes each company's history, in platform staff's scope
// (the terms and every company's usage are theirs to write), then the
// current month's orders of Acme.
func (b *billingDemo) seedHistory(ctx context.Context, now time.Time) error {
	for _, h := range b.histories() {
		t := b.tenants[h.subdomain]
		err := actingIn(ctx, b.tx, b.platform.ID, func(ctx context.Context, tx *models.Store) error {
			return b.writeHistory(ctx, tx, t, h, now)
		})
		if errors.Is(err, models.ErrBillingHistoryClosed) {
			continue // loaded before, and closed since
		}
		if err != nil {
			return fmt.Errorf("demo billing history of %s: %w", h.subdomain, err)
		}
		if h.subdomain == "acme" {
			if err := b.currentOrders(ctx, h, now); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *billingDemo) histories() []companyHistory {
	m := b.months
	ny, berlin, chicago := b.tenants["acme"].Location(), b.tenants["acme-eu"].Location(), b.tenants["globex"].Location()
	acme := b.tenants["acme"].ID
	var euLegacy []demoDevice
	for i := range 8 {
		from := at(m[1], berlin, 6, 9).AddDate(0, 0, 5*i)
		retired := at(m[3], berlin, 10, 16).AddDate(0, 0, 4*i)
		euLegacy = append(euLegacy, demoDevice{identifier: fmt.Sprintf("EU-TL050-%04d", i+1), model: "Thermo Logger T-50", from: from, retired: &retired})
	}
	var lab []demoDevice
	for i := range 3 {
		retired := at(m[2], ny, 15, 17)
		lab = append(lab, demoDevice{identifier: fmt.Sprintf("LAB-PROTO-%02d", i+1), model: "Prototype sensor P-0",
			from: at(m[0], ny, 23+i, 11), retired: &retired})
	}
	var globex []demoDevice
	retiredGlobex := map[int]time.Time{3: at(m[2], chicago, 7, 15), 8: at(m[3], chicago, 7, 15), 15: at(m[4], chicago, 18, 15)}
	for i := range 36 {
		from := at(m[0], chicago, 4, 8).Add(time.Duration(i) * time.Hour)
		if i >= 12 { // five more every month from the second on
			k := i - 12
			from = at(m[0], chicago, 2+(k%5)*5, 10).AddDate(0, k/5+1, 0)
		}
		d := demoDevice{identifier: fmt.Sprintf("GX-RL2-%04d", i+1), model: "ReeferLink R2", from: from}
		if r, ok := retiredGlobex[i]; ok {
			d.retired = &r
		}
		globex = append(globex, d)
	}
	return []companyHistory{
		{subdomain: "acme", since: at(m[0], ny, 10, 9),
			terms: []models.HistoricTerms{{Month: m[0], PlanID: b.standard.ID}, {Month: m[2], PlanID: b.growth.ID}},
			seats: map[string]time.Time{"alice@acme.test": at(m[0], ny, 10, 9), "bob@globex.test": at(m[1], ny, 6, 14),
				"dave@acme.test": at(m[3], ny, 12, 10)},
			orders: map[string][]int64{"Employment verification": {18, 34, 41, 49, 56}, "Income verification": {6, 11, 15, 18, 22}}},
		{subdomain: "acme-eu", since: at(m[1], berlin, 5, 10),
			terms: []models.HistoricTerms{{Month: m[1], PlanID: b.standard.ID, BillToTenantID: acme}, {Month: m[2], PlanID: b.growth.ID, BillToTenantID: acme}},
			seats: map[string]time.Time{"eve@acme.test": at(m[1], berlin, 5, 10)}, devices: euLegacy},
		{subdomain: "acme-lab", since: at(m[0], ny, 20, 9),
			terms:   []models.HistoricTerms{{Month: m[0], PlanID: b.standard.ID}},
			seats:   map[string]time.Time{"frank@acme.test": at(m[0], ny, 20, 9)},
			devices: lab},
		{subdomain: "globex", since: at(m[0], chicago, 3, 9),
			terms:   []models.HistoricTerms{{Month: m[0], PlanID: b.standard.ID}},
			seats:   map[string]time.Time{"bob@globex.test": at(m[0], chicago, 3, 9), "alice@acme.test": at(m[1], chicago, 20, 11)},
			devices: globex},
	}
}

// writeHistory registers the company's devices of the past and writes its
// history: terms, intervals, and completed orders per day of the closed
// months.
func (b *billingDemo) writeHistory(ctx context.Context, tx *models.Store, t *models.Tenant, h companyHistory, now time.Time) error {
	history := models.BillingHistory{Since: h.since, Terms: h.terms}
	for email, from := range h.seats {
		history.Presence = append(history.Presence, models.PresencePeriod{Meter: models.MeterSeats, SubjectID: b.users[email].ID, StartedAt: from})
	}
	for _, d := range h.devices {
		if !d.from.Before(now) {
			continue // not registered yet
		}
		id, err := ensureHistoricDevice(ctx, tx, t.ID, d)
		if err != nil {
			return err
		}
		history.Presence = append(history.Presence, models.PresencePeriod{Meter: models.MeterDevices, SubjectID: id, StartedAt: d.from, EndedAt: d.retired})
	}
	loc := t.Location()
	for name, perMonth := range h.orders {
		for i, n := range perMonth {
			for day, count := range spread(n, weekdays(b.months[i], loc, h.since)) {
				history.Orders = append(history.Orders, models.OrderDayCount{Day: day, TemplateID: b.templates[name], Completed: count})
			}
		}
	}
	return tx.ImportBillingHistory(ctx, t.ID, history)
}

// ensureHistoricDevice registers a device of the history when the company
// lacks it: active since it was registered, or inactive when it was
// retired (its interval is the history's).
func ensureHistoricDevice(ctx context.Context, tx *models.Store, tenantID int64, d demoDevice) (int64, error) {
	existing, err := tx.DeviceByIdentifier(ctx, tenantID, d.identifier)
	if err == nil {
		return existing.ID, nil
	}
	if !errors.Is(err, models.ErrNotFound) {
		return 0, err
	}
	n := models.NewDevice{Identifier: d.identifier, Model: d.model, Status: models.DeviceActive, CreatedAt: d.from}
	if d.retired != nil {
		n.Status = models.DeviceInactive
	}
	created, err := tx.AddDevice(ctx, tenantID, n)
	if err != nil {
		return 0, fmt.Errorf("demo device %s: %w", d.identifier, err)
	}
	return created.ID, nil
}

// weekdays are the working days of m at loc from since on, "2026-11-02".
func weekdays(m models.BillingMonth, loc *time.Location, since time.Time) []string {
	var days []string
	first := models.DayOf(since, loc)
	for d := m.Start(loc); models.MonthOf(d, loc) == m; d = d.AddDate(0, 0, 1) {
		if wd := d.Weekday(); wd == time.Saturday || wd == time.Sunday {
			continue
		}
		if day := models.DayOf(d, loc); day >= first {
			days = append(days, day)
		}
	}
	return days
}

// spread shares total among days, unevenly but always the same way: each
// day weighs 3 to 7.
func spread(total int64, days []string) map[string]int64 {
	out := map[string]int64{}
	var weights []int64
	var sum int64
	for i := range days {
		w := 3 + int64((i*7+len(days))%5)
		weights = append(weights, w)
		sum += w
	}
	var cum, given int64
	for i, day := range days {
		cum += weights[i]
		upTo := total * cum / sum
		if n := upTo - given; n > 0 {
			out[day] = n
		}
		given = upTo
	}
	return out
}

// applicants name the current month's orders.
var applicants = []string{"Hana Suzuki", "Lucas Martin", "Amara Okafor", "Mateo Rossi", "Sofia Lindqvist", "Ethan Clarke",
	"Leila Haddad", "Jonas Weber", "Ana Ribeiro", "Ravi Sharma", "Emma Dubois", "Kwame Mensah"}

// currentOrders completes Acme's orders of the current month so far, at
// the pace of the last closed month: real orders, so the month's figures
// are those its orders' history gives (canopy billing rebuild agrees).
func (b *billingDemo) currentOrders(ctx context.Context, h companyHistory, now time.Time) error {
	acme := b.tenants["acme"]
	loc := acme.Location()
	month := models.MonthOf(now, loc)
	last := b.months[len(b.months)-1]
	if month != last.Next() {
		return nil // the month between the last closed and this one is still open: no pace to keep
	}
	elapsed := int64(now.In(loc).Day())
	return actingIn(ctx, b.tx, acme.ID, func(ctx context.Context, tx *models.Store) error {
		k := 0
		for _, tpl := range templates {
			perMonth := h.orders[tpl.Name]
			want := perMonth[len(perMonth)-1] * elapsed / int64(last.Days())
			for i := range want {
				by := []string{"alice@acme.test", "bob@globex.test"}[k%2]
				ref := fmt.Sprintf("ACME-%s-%s%02d", month, tpl.Name[:3], i+1)
				if err := completeOrder(ctx, tx, acme.ID, b.users[by], b.templates[tpl.Name], applicants[k%len(applicants)], ref); err != nil {
					return err
				}
				k++
			}
		}
		return nil
	})
}

// completeOrder places a live order and takes it to completed, unless the
// reference exists already.
func completeOrder(ctx context.Context, tx *models.Store, tenantID int64, by *models.User, templateID int64, applicant, ref string) error {
	if _, err := tx.OrderByReference(ctx, tenantID, ref); !errors.Is(err, models.ErrNotFound) {
		return err
	}
	m, err := tx.MembershipOf(ctx, tenantID, by.ID)
	if err != nil {
		return err
	}
	byCreator := models.WithActor(ctx, models.Actor{UserID: by.ID, Email: by.Email})
	o, err := tx.CreateOrder(byCreator, tenantID, m.ID, models.NewOrder{TemplateID: templateID, ApplicantName: applicant, Reference: ref}, nil)
	if err != nil {
		return fmt.Errorf("demo order %s: %w", ref, err)
	}
	for _, step := range models.OrderPending.PathTo(models.OrderCompleted) {
		if _, err := tx.ChangeOrderStatus(byCreator, tenantID, o.ID, step); err != nil {
			return fmt.Errorf("demo order %s: %w", ref, err)
		}
	}
	return nil
}
