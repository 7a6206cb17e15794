package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

func billingURL(id int64, query ...string) string {
	u := adminHost + fmt.Sprintf("/sub-tenants/%d/billing", id)
	if len(query) > 0 {
		u += "?" + strings.Join(query, "&")
	}
	return u
}

// termsAt are a company's terms in force in month.
func (a *app) termsAt(sub string, month models.BillingMonth) *models.BillingTerms {
	a.t.Helper()
	terms, err := a.store.BillingTermsAt(context.Background(), a.tenant(sub).ID, month)
	if err != nil {
		a.t.Fatal(err)
	}
	return terms
}

func (a *app) monthOf(sub string) models.BillingMonth {
	return models.MonthOf(time.Now(), a.tenant(sub).Location())
}

func (a *app) createPlan(name string) *models.BillingPlan {
	a.t.Helper()
	p, err := a.store.CreateBillingPlan(context.Background(), a.tenant("admin").ID, models.NewBillingPlan{Name: name, Currency: "USD", BaseFee: 19900})
	if err != nil {
		a.t.Fatal(err)
	}
	return p
}

func id(n int64) string { return strconv.FormatInt(n, 10) }

// TestStaffChangeCompanyTerms: staff's Billing tab of Globex shows the
// terms in force this month and changes them from the next, where the
// change shows as scheduled; this month keeps its terms. Audited in the
// company's log.
func TestStaffChangeCompanyTerms(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	globex, acme := a.tenant("globex"), a.tenant("acme")
	growth := a.createPlan("Growth")
	month := a.monthOf("globex")
	tab := staff.get(billingURL(globex.ID))
	wantStatus(t, tab, http.StatusOK)
	wantBody(t, tab, "In force in "+month.Label(), "Standard", "Pays for itself", "No change scheduled",
		"Change from "+month.Next().Label(), `name="plan_id"`, `name="bill_to" value="0" checked`, fmt.Sprintf(`href="/sub-tenants/%d/billing"`, globex.ID))
	// Customers' Super Admins have no Billing tab.
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	if strings.Contains(alice.get(tenantURL("acme", fmt.Sprintf("/sub-tenants/%d/settings", a.tenant("acme-eu").ID))).body, "/billing") {
		t.Fatal("a customer's Super Admin is offered the Billing tab")
	}

	// Searching keeps the plan chosen; Globex itself is not offered.
	found := staff.get(billingURL(globex.ID, "q=acme", "plan_id="+id(growth.ID)))
	wantBody(t, found, "Billed to Acme Corp", "Billed to Acme Europe", "acme-eu · under Acme Corp",
		fmt.Sprintf(`<option value="%d" selected>`, growth.ID))
	if strings.Contains(found.body, "Billed to Globex") {
		t.Fatal("Globex is offered as its own payer")
	}
	wantBody(t, staff.get(billingURL(globex.ID, "q=nothing-like-it")), "No company matches “nothing-like-it”")

	changed := staff.submit(billingURL(globex.ID), billingURL(globex.ID), url.Values{"plan_id": {id(growth.ID)}, "bill_to": {id(acme.ID)}})
	wantStatus(t, changed, http.StatusSeeOther)
	page := staff.follow(changed)
	wantBody(t, page, "From "+month.Next().Label()+", Globex is on the plan Growth and is billed to Acme Corp.",
		"From "+month.Next().Label(), "Billed to Acme Corp", "Scheduled")
	next := a.termsAt("globex", month.Next())
	if next.PlanID != growth.ID || next.BillToTenantID == nil || *next.BillToTenantID != acme.ID || next.EffectiveMonth != month.Next() {
		t.Fatalf("next month's terms %+v", next)
	}
	if now := a.termsAt("globex", month); now.PlanID == growth.ID || now.BillToTenantID != nil {
		t.Fatalf("this month's terms changed: %+v", now)
	}
	if got := a.auditTargets("admin", models.AuditBillingTermsChanged); len(got) != 1 || got[0] != "Globex by staff@canopy.test" {
		t.Fatalf("audit %v", got)
	}
	// The same terms again change nothing.
	again := staff.submit(billingURL(globex.ID), billingURL(globex.ID), url.Values{"plan_id": {id(growth.ID)}, "bill_to": {id(acme.ID)}})
	wantBody(t, staff.follow(again), "Nothing changed")
	if got := a.auditTargets("admin", models.AuditBillingTermsChanged); len(got) != 1 {
		t.Fatalf("audit after the same terms %v", got)
	}
}

// TestStaffTermsCycleRefused: Acme Europe is billed to Acme; billing Acme
// to Acme Europe would send the bill round, and is refused beside the
// bill-to field with nothing changed. Unknown companies and plans, and an
// archived plan the company is not on, are refused beside theirs.
func TestStaffTermsCycleRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	acme, eu := a.tenant("acme"), a.tenant("acme-eu")
	standard := a.plan("Standard")
	// Acme Europe's tab says who it is billed to.
	wantBody(t, staff.get(billingURL(eu.ID)), "Billed to Acme Corp", fmt.Sprintf(`name="bill_to" value="%d" checked`, acme.ID))
	refused := staff.submit(billingURL(acme.ID), billingURL(acme.ID), url.Values{"plan_id": {id(standard.ID)}, "bill_to": {id(eu.ID)}})
	wantStatus(t, refused, http.StatusUnprocessableEntity)
	wantBody(t, refused, `id="f-bill_to-error">This company&#39;s bill would come back to itself through that company. Choose another.`,
		fmt.Sprintf(`name="bill_to" value="%d" checked`, eu.ID))
	if latest, err := a.store.LatestBillingTerms(context.Background(), acme.ID); err != nil || latest.BillToTenantID != nil {
		t.Fatalf("acme's terms after the refusal: %+v, %v", latest, err)
	}
	for _, c := range []struct {
		form url.Values
		want string
	}{
		{url.Values{"plan_id": {id(standard.ID)}, "bill_to": {id(a.tenant("admin").ID)}}, "Choose a company from the list."},
		{url.Values{"plan_id": {id(standard.ID)}, "bill_to": {"999999"}}, "Choose a company from the list."},
		{url.Values{"plan_id": {"999999"}, "bill_to": {"0"}}, "Choose a plan from the list."},
	} {
		r := staff.submit(billingURL(acme.ID), billingURL(acme.ID), c.form)
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, c.want)
	}
	legacy := a.createPlan("Legacy")
	if err := a.store.ArchiveBillingPlan(context.Background(), a.tenant("admin").ID, legacy.ID); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(staff.get(billingURL(acme.ID)).body, "Legacy") {
		t.Fatal("an archived plan is offered to a company not on it")
	}
	r := staff.submit(billingURL(acme.ID), billingURL(acme.ID), url.Values{"plan_id": {id(legacy.ID)}, "bill_to": {"0"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "This plan is archived. Choose another.")
}

// TestCustomerCreationKeepsCheckbox: a customer's Super Admin creating a
// sub-tenant chooses whether billing rolls up to their company; their
// sub-tenant is on their plan, and a crafted plan or bill-to is not read.
func TestCustomerCreationKeepsCheckbox(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	growth := a.createPlan("Growth")
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	page := alice.get(tenantURL("acme", "/sub-tenants/new"))
	wantBody(t, page, `name="billing_rolls_up"`, "Billing rolls up to Acme Corp")
	if strings.Contains(page.body, `name="plan_id"`) || strings.Contains(page.body, `name="bill_to"`) {
		t.Fatal("a customer is offered staff's billing choices")
	}
	review := checkSubTenant(alice, "acme", subTenantForm("Acme Asia", "acme-asia", "owner@asia.example"))
	wantBody(t, review, "Billing rolls up to Acme Corp")

	rolled := subTenantForm("Acme Asia", "acme-asia", "owner@asia.example")
	rolled.Set("billing_rolls_up", "on")
	rolled.Set("confirmed", "yes")
	rolled.Set("plan_id", id(growth.ID))
	rolled.Set("bill_to", id(a.tenant("globex").ID))
	wantStatus(t, alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), rolled), http.StatusSeeOther)
	terms := a.termsAt("acme-asia", a.monthOf("acme-asia"))
	if terms.PlanID != a.plan("Standard").ID || terms.BillToTenantID == nil || *terms.BillToTenantID != a.tenant("acme").ID {
		t.Fatalf("rolled up: %+v", terms)
	}
	own := subTenantForm("Acme Africa", "acme-africa", "owner@africa.example")
	own.Set("confirmed", "yes")
	own.Set("bill_to", id(a.tenant("globex").ID))
	wantStatus(t, alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), own), http.StatusSeeOther)
	if terms := a.termsAt("acme-africa", a.monthOf("acme-africa")); terms.BillToTenantID != nil {
		t.Fatalf("without the checkbox: %+v", terms)
	}
}

// TestStaffCreateCompanyBilledToAnother: staff create a company on a plan
// of their choice, billed to another company they found by searching;
// the confirmation shows both and carries them.
func TestStaffCreateCompanyBilledToAnother(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	growth, standard, acme := a.createPlan("Growth"), a.plan("Standard"), a.tenant("acme")
	empty := staff.get(adminHost + "/sub-tenants/new")
	wantBody(t, empty, fmt.Sprintf(`<option value="%d" selected>Standard (USD) — default</option>`, standard.ID),
		`name="bill_to" value="0" checked`, "Pays for itself", `name="bill_to_q"`)
	if strings.Contains(empty.body, "billing_rolls_up") {
		t.Fatal("staff are offered the customer's checkbox")
	}
	form := subTenantForm("Umbrella", "umbrella", "owner@umbrella.example")
	form.Set("plan_id", id(growth.ID))
	form.Set("bill_to_q", "ACME")
	form.Set("find_bill_to", "1")
	found := checkSubTenant(staff, "admin", form)
	wantStatus(t, found, http.StatusOK)
	wantBody(t, found, "Billed to Acme Corp", "Billed to Acme Europe", `value="Umbrella"`, fmt.Sprintf(`<option value="%d" selected>`, growth.ID))
	if strings.Contains(found.body, "Please verify the details") {
		t.Fatal("the search asked to confirm")
	}
	form.Del("find_bill_to")
	form.Set("bill_to", id(acme.ID))
	review := checkSubTenant(staff, "admin", form)
	wantStatus(t, review, http.StatusOK)
	wantBody(t, review, "Please verify the details", "<dt>Plan</dt><dd>Growth (USD)</dd>", "<dt>Billed to</dt><dd>Acme Corp (acme)</dd>",
		fmt.Sprintf(`name="plan_id" value="%d"`, growth.ID), fmt.Sprintf(`name="bill_to" value="%d"`, acme.ID))

	form.Set("confirmed", "yes")
	wantStatus(t, staff.submit(adminHost+"/sub-tenants/new", adminHost+"/sub-tenants", form), http.StatusSeeOther)
	terms := a.termsAt("umbrella", a.monthOf("umbrella"))
	if terms.PlanID != growth.ID || terms.BillToTenantID == nil || *terms.BillToTenantID != acme.ID {
		t.Fatalf("umbrella's terms %+v", terms)
	}
	// A bill-to that is no company is refused beside the field, before
	// anything is created.
	bad := subTenantForm("Hooli", "hooli", "owner@hooli.example")
	bad.Set("bill_to", id(a.tenant("admin").ID))
	r := checkSubTenant(staff, "admin", bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-bill_to-error"`)
}
