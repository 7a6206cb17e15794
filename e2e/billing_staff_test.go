package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"canopy/models"
)

// planNamed is the plan called name.
func planNamed(t *testing.T, a *app, name string) *models.BillingPlan {
	t.Helper()
	plans, err := a.store.BillingPlans(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range plans {
		if plans[i].Name == name {
			return &plans[i]
		}
	}
	t.Fatalf("no plan %q", name)
	return nil
}

// termsOf are a company's terms in force in month.
func termsOf(t *testing.T, a *app, sub string, month models.BillingMonth) *models.BillingTerms {
	t.Helper()
	terms, err := a.store.BillingTermsAt(context.Background(), tenantNamed(t, a, sub).ID, month)
	if err != nil {
		t.Fatal(err)
	}
	return terms
}

// TestStaffBilling: platform staff open ⚙ → Plans and create a plan that
// prices orders by template category (its premium price shown only then);
// create a company on it, billed to Acme Corp, which they find by
// searching; and move Globex to it from its next month on its Billing tab.
// At phone width they look over the same pages.
func TestStaffBilling(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)

	t.Run("desktop", func(t *testing.T) {
		tab := newTab(t, browser, desktop)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		click(t, tab, ".manage-menu > summary")
		clickAndWait(t, tab, `.manage-menu a[href="/plans"]`)
		wantLocation(t, tab, a.tenantHost("admin"), "/plans")
		wantText(t, tab, "Plans", "Standard", "Default", "Flat $2.50", "$49.00")
		screenshot(t, tab, "billing-plans-desktop.png")

		if status := clickAndWait(t, tab, `.page-actions a[href="/plans/new"]`); status != http.StatusOK {
			t.Fatalf("New plan: %d", status)
		}
		if display := displayOf(t, tab, ".premium-price"); display != "none" {
			t.Fatalf("the premium price shows for flat pricing (display %s)", display)
		}
		typeInto(t, tab, [][2]string{{"#f-name", "Growth"}, {"#f-description", "For companies ordering in bulk."}})
		clearAndType(t, tab, "#f-base_fee", "99")
		click(t, tab, `input[name="order_pricing"][value="category"]`)
		if display := displayOf(t, tab, ".premium-price"); display == "none" {
			t.Fatal("the premium price stays hidden when orders are priced by category")
		}
		clearAndType(t, tab, "#f-order_price", "2")
		clearAndType(t, tab, "#f-premium_order_price", "4.50")
		clearAndType(t, tab, "#f-included_orders", "100")
		clearAndType(t, tab, "#f-seat_price", "5")
		screenshot(t, tab, "billing-plan-new-desktop.png")
		if status := clickSubmit(t, tab); status != http.StatusOK {
			t.Fatalf("create plan: %d", status)
		}
		wantText(t, tab, "Plan “Growth” created. Its prices are now fixed.", "Standard $2.00 · Premium $4.50", "$99.00 a month",
			"100 orders included", "Prices are fixed once a plan exists")
		screenshot(t, tab, "billing-plan-desktop.png")
		growth := planNamed(t, a, "Growth")
		if growth.BaseFee != 9900 || growth.PremiumOrderPrice == nil || *growth.PremiumOrderPrice != 450 {
			t.Fatalf("Growth %+v", growth)
		}

		// A company for Acme's Chicago office, on Growth, billed to Acme.
		open(t, tab, a.tenantURL("admin", "/sub-tenants/new"))
		typeInto(t, tab, [][2]string{
			{"#f-name", "Acme Chicago"}, {"#f-subdomain", "acme-chicago"},
			{"#f-description", "Acme's Chicago office, which Acme pays for."}, {"#f-email", "owner@chicago.example"},
		})
		chooseIn(t, tab, "#f-plan_id", "Growth")
		typeInto(t, tab, [][2]string{{`input[name="bill_to_q"]`, "acme corp"}})
		if status := clickAndWait(t, tab, `button[name="find_bill_to"]`); status != http.StatusOK {
			t.Fatalf("search a company to bill: %d", status)
		}
		if got := fieldValue(t, tab, "#f-name"); got != "Acme Chicago" {
			t.Fatalf("the search lost the name typed: %q", got)
		}
		acme := tenantNamed(t, a, "acme")
		click(t, tab, fmt.Sprintf(`input[name="bill_to"][value="%d"]`, acme.ID))
		screenshot(t, tab, "billing-company-new-desktop.png")
		// Enter in a field creates, as in any form, though the search's
		// button comes first in it.
		resp, err := chromedp.RunResponse(tab, chromedp.SendKeys(chromedp.CSS("#f-email"), kb.Enter))
		if err != nil || resp.Status != http.StatusOK {
			t.Fatalf("review with Enter: %v", err)
		}
		waitVisible(t, tab, "dialog[open]")
		wantText(t, tab, "Please verify the details carefully", "Growth (USD)", "Acme Corp (acme)")
		screenshot(t, tab, "billing-company-confirm-desktop.png")
		if status := clickAndWait(t, tab, `dialog[open] button.button-primary`); status != http.StatusOK {
			t.Fatalf("create: %d", status)
		}
		wantText(t, tab, "Acme Chicago is active")
		chicago := tenantNamed(t, a, "acme-chicago")
		terms := termsOf(t, a, "acme-chicago", models.MonthOf(time.Now(), chicago.Location()))
		if terms.PlanID != growth.ID || terms.BillToTenantID == nil || *terms.BillToTenantID != acme.ID {
			t.Fatalf("Acme Chicago's terms %+v", terms)
		}

		// Globex moves to Growth from its next month.
		globex := tenantNamed(t, a, "globex")
		month := models.MonthOf(time.Now(), globex.Location())
		open(t, tab, a.tenantURL("admin", fmt.Sprintf("/sub-tenants/%d/settings", globex.ID)))
		clickAndWait(t, tab, fmt.Sprintf(`.tabs a[href="/sub-tenants/%d/billing"]`, globex.ID))
		wantText(t, tab, "In force in "+month.Label(), "Pays for itself", "Change from "+month.Next().Label())
		chooseIn(t, tab, "#f-plan_id", "Growth")
		if status := clickSubmit(t, tab); status != http.StatusOK {
			t.Fatalf("change Globex's terms: %d", status)
		}
		wantText(t, tab, "From "+month.Next().Label()+", Globex is on the plan Growth and pays for itself.", "Scheduled")
		screenshot(t, tab, "billing-company-terms-desktop.png")
		if next := termsOf(t, a, "globex", month.Next()); next.PlanID != growth.ID {
			t.Fatalf("Globex next month %+v", next)
		}
		if now := termsOf(t, a, "globex", month); now.PlanID == growth.ID {
			t.Fatal("Globex's terms changed this month")
		}
	})

	t.Run("phone", func(t *testing.T) {
		tab := newTab(t, browser, phone)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		globex := tenantNamed(t, a, "globex")
		for _, p := range []struct{ path, shot string }{
			{"/plans", "billing-plans-phone.png"},
			{"/plans/" + strconv.FormatInt(planNamed(t, a, "Standard").ID, 10), "billing-plan-phone.png"},
			{"/plans/new", "billing-plan-new-phone.png"},
			{fmt.Sprintf("/sub-tenants/%d/billing?q=acme", globex.ID), "billing-company-terms-phone.png"},
			{"/sub-tenants/new?find_bill_to=1&bill_to_q=acme", "billing-company-new-phone.png"},
		} {
			wantStatus(t, open(t, tab, a.tenantURL("admin", p.path)), http.StatusOK)
			wantNoSideways(t, tab)
			screenshot(t, tab, p.shot)
		}
	})
}
