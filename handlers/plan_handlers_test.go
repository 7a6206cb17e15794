package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"canopy/models"
)

// planForm is the New plan form filled in: flat pricing unless changed.
func planForm(name string, kv ...string) url.Values {
	v := url.Values{"name": {name}, "description": {"For " + name}, "currency": {"USD"}, "order_pricing": {"flat"},
		"base_fee": {"99.00"}, "order_price": {"2.00"}, "premium_order_price": {""}, "included_orders": {"50"},
		"device_month_price": {"1.50"}, "included_device_months": {"20"}, "seat_price": {"8"}, "included_seats": {"10"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func (a *app) plan(name string) *models.BillingPlan {
	a.t.Helper()
	plans, err := a.store.BillingPlans(context.Background(), true)
	if err != nil {
		a.t.Fatal(err)
	}
	for i := range plans {
		if plans[i].Name == name {
			return &plans[i]
		}
	}
	a.t.Fatalf("no plan %q", name)
	return nil
}

func planURL(id int64, action ...string) string {
	return adminHost + strings.Join(append([]string{fmt.Sprintf("/plans/%d", id)}, action...), "/")
}

// TestStaffCreatePlan: ⚙ → Plans lists the default plan with its prices
// and its companies; New plan creates one priced by template category,
// whose page shows every price and says why they are fixed. Audited.
func TestStaffCreatePlan(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	list := staff.get(adminHost + "/plans")
	wantStatus(t, list, http.StatusOK)
	// The demo's five companies are on Standard; the platform has no terms.
	wantBody(t, list, `href="/plans"`, "Standard", "Default", "$49.00", "Flat $2.50", "20 orders included", "$1.00 per device-month",
		"$8.00 per seat", `data-testid="plan-companies">5</td>`, `href="/plans/new"`)

	wantBody(t, staff.get(adminHost+"/plans/new"), "Prices cannot be changed once the plan is created", `value="0.00"`)
	form := planForm("Growth", "order_pricing", "category", "order_price", "2", "premium_order_price", "4.00", "is_default", "")
	created := staff.submit(adminHost+"/plans/new", adminHost+"/plans", form)
	wantStatus(t, created, http.StatusSeeOther)
	growth := a.plan("Growth")
	if growth.OrderPrice != 200 || growth.PremiumOrderPrice == nil || *growth.PremiumOrderPrice != 400 || growth.BaseFee != 9900 ||
		growth.DeviceMonthPrice != 150 || growth.SeatPrice != 800 || growth.IncludedOrders != 50 || growth.IncludedDeviceMonths != 20 ||
		growth.IncludedSeats != 10 || growth.IsDefault {
		t.Fatalf("created %+v", growth)
	}
	page := staff.follow(created)
	wantBody(t, page, "Plan “Growth” created. Its prices are now fixed.", "Standard $2.00 · Premium $4.00", "$99.00 a month",
		"50 orders included", "Prices are fixed once a plan exists", fmt.Sprintf(`href="/plans/new?from=%d"`, growth.ID),
		fmt.Sprintf(`action="/plans/%d/archive"`, growth.ID), "0 companies in")
	if got := a.auditTargets("admin", models.AuditBillingPlanCreated); len(got) != 1 || got[0] != "Growth by staff@canopy.test" {
		t.Fatalf("audit %v", got)
	}
	// Flat pricing reads no premium price, whatever the form carries.
	flat := staff.submit(adminHost+"/plans/new", adminHost+"/plans", planForm("Flat one", "premium_order_price", "rubbish"))
	wantStatus(t, flat, http.StatusSeeOther)
	if p := a.plan("Flat one"); p.ByCategory() {
		t.Fatalf("flat plan priced by category: %+v", p)
	}
}

// TestStaffPlanFormProblems: every amount that cannot be read is refused
// beside its field together with the rest; a name taken (in any case) is
// refused beside the name; nothing is created.
func TestStaffPlanFormProblems(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	form := planForm("", "base_fee", "12.345", "order_price", "abc", "order_pricing", "category", "premium_order_price", "",
		"included_orders", "-1", "seat_price", "-3")
	r := staff.submit(adminHost+"/plans/new", adminHost+"/plans", form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Give the plan a name of 2 to 60 characters.", "Use at most 2 decimals.", "Write an amount like 12.50, without a currency sign.",
		"Enter an amount; 0 for none.", "Enter a whole number, 0 or more.", `value="12.345"`, `value="abc"`,
		`name="order_pricing" value="category" checked`)
	for _, field := range []string{"name", "base_fee", "order_price", "premium_order_price", "included_orders", "seat_price"} {
		if !strings.Contains(r.body, `id="f-`+field+`-error"`) {
			t.Errorf("no message beside %s", field)
		}
	}
	yen := staff.submit(adminHost+"/plans/new", adminHost+"/plans", planForm("Tokyo", "currency", "JPY", "base_fee", "5000.5"))
	wantStatus(t, yen, http.StatusUnprocessableEntity)
	wantBody(t, yen, "JPY has no cents.")
	taken := staff.submit(adminHost+"/plans/new", adminHost+"/plans", planForm("STANDARD"))
	wantStatus(t, taken, http.StatusUnprocessableEntity)
	wantBody(t, taken, `id="f-name-error">A plan with this name exists. Choose another name.`)
	plans, err := a.store.BillingPlans(context.Background(), true)
	if err != nil || len(plans) != 1 {
		t.Fatalf("plans after refusals: %d, %v", len(plans), err)
	}
	// Yen amounts have no cents to read.
	wantStatus(t, staff.submit(adminHost+"/plans/new", adminHost+"/plans", planForm("Tokyo", "currency", "JPY", "base_fee", "5,000",
		"order_price", "300", "device_month_price", "150", "seat_price", "1,200")), http.StatusSeeOther)
	if p := a.plan("Tokyo"); p.BaseFee != 5000 || p.OrderPrice != 300 || p.SeatPrice != 1200 {
		t.Fatalf("yen plan %+v", p)
	}
}

// TestStaffEditPlan: a plan's name, description and being the default
// change; its prices do not, whatever the form carries. Duplicate opens
// the New plan form filled in with them.
func TestStaffEditPlan(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	wantStatus(t, staff.submit(adminHost+"/plans/new", adminHost+"/plans", planForm("Growth")), http.StatusSeeOther)
	growth, standard := a.plan("Growth"), a.plan("Standard")
	edit := url.Values{"name": {"Growth 2027"}, "description": {"For growing companies"}, "is_default": {"on"}, "base_fee": {"1.00"}}
	saved := staff.submit(planURL(growth.ID), planURL(growth.ID), edit)
	wantStatus(t, saved, http.StatusSeeOther)
	wantBody(t, staff.follow(saved), "Plan “Growth 2027” saved. Companies staff create now start on it.", "The default plan")
	after := a.plan("Growth 2027")
	if !after.IsDefault || after.BaseFee != 9900 || after.Description != "For growing companies" || a.plan("Standard").IsDefault {
		t.Fatalf("after the edit %+v", after)
	}
	// Standard's name is taken by another in any case: beside the field.
	clash := staff.submit(planURL(standard.ID), planURL(standard.ID), url.Values{"name": {"growth 2027"}})
	wantStatus(t, clash, http.StatusUnprocessableEntity)
	wantBody(t, clash, "A plan with this name exists. Choose another name.", `value="growth 2027"`)

	dup := staff.get(adminHost + fmt.Sprintf("/plans/new?from=%d", standard.ID))
	wantStatus(t, dup, http.StatusOK)
	wantBody(t, dup, "New plan from Standard", `value="Standard (copy)"`, `value="49.00"`, `value="2.50"`, `value="20"`, `value="8.00"`)
	wantStatus(t, staff.get(adminHost+"/plans/new?from=999999"), http.StatusNotFound)
	if got := a.auditTargets("admin", models.AuditBillingPlanUpdated); len(got) != 1 {
		t.Fatalf("audit %v", got)
	}
}

// TestStaffArchivePlan: a plan that is not the default is archived and
// listed apart; the default plan is refused with a page leading back to
// the plans, and is not offered Archive.
func TestStaffArchivePlan(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	wantStatus(t, staff.submit(adminHost+"/plans/new", adminHost+"/plans", planForm("Legacy")), http.StatusSeeOther)
	legacy, standard := a.plan("Legacy"), a.plan("Standard")
	if strings.Contains(staff.get(planURL(standard.ID)).body, "/archive") {
		t.Fatal("the default plan offers Archive")
	}
	archived := staff.submit(planURL(legacy.ID), planURL(legacy.ID, "archive"), nil)
	wantStatus(t, archived, http.StatusSeeOther)
	wantBody(t, staff.follow(archived), "Plan “Legacy” archived.", "Archived: no longer offered.")
	if !a.plan("Legacy").Archived() {
		t.Fatal("not archived")
	}
	list := staff.get(adminHost + "/plans")
	archivedAt := strings.Index(list.body, `id="archived-title"`)
	if archivedAt < 0 || strings.Index(list.body, `data-plan="Legacy"`) < archivedAt || strings.Index(list.body, `data-plan="Standard"`) > archivedAt {
		t.Fatal("Legacy is not listed apart, under Archived")
	}
	refused := staff.submit(planURL(standard.ID), planURL(standard.ID, "archive"), nil)
	wantStatus(t, refused, http.StatusConflict)
	wantBody(t, refused, "The default plan stays offered", `href="/plans"`)
	if a.plan("Standard").Archived() {
		t.Fatal("the default plan was archived")
	}
}

// TestPlansAreStaffOnly: on a company's host the plans do not exist, for
// its Super Admin too; on the platform's, a member who is not its Super
// Admin is refused.
func TestPlansAreStaffOnly(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	standard := a.plan("Standard")
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	for _, path := range []string{"/plans", "/plans/new", fmt.Sprintf("/plans/%d", standard.ID), fmt.Sprintf("/sub-tenants/%d/billing", a.tenant("acme-eu").ID)} {
		wantStatus(t, alice.get(tenantURL("acme", path)), http.StatusNotFound)
	}
	if _, err := a.store.AddMember(context.Background(), a.tenant("admin").ID, a.user("dave@acme.test").ID, models.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	dave := a.browser()
	dave.signIn("dave@acme.test", "admin")
	for _, path := range []string{"/plans", "/plans/new", fmt.Sprintf("/plans/%d", standard.ID), fmt.Sprintf("/sub-tenants/%d/billing", a.tenant("globex").ID)} {
		wantStatus(t, dave.get(adminHost+path), http.StatusForbidden)
	}
	// An admin of the platform cannot post either: nothing changes.
	r := dave.submit(adminHost+"/", planURL(standard.ID), url.Values{"name": {"Mallory"}})
	wantStatus(t, r, http.StatusForbidden)
	if a.plan("Standard").Name != "Standard" {
		t.Fatal("renamed by a non-staff member")
	}
}
