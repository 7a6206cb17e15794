package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// typeInto types into the fields of the form on the page, by CSS selector.
func typeInto(t *testing.T, tab context.Context, fields [][2]string) {
	t.Helper()
	for _, f := range fields {
		if err := chromedp.Do(tab, chromedp.SendKeys(chromedp.CSS(f[0]), f[1])); err != nil {
			t.Fatalf("type into %s: %v", f[0], err)
		}
	}
}

// chooseIn picks the entry of a dropdown whose label starts with label.
func chooseIn(t *testing.T, tab context.Context, selector, label string) {
	t.Helper()
	ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`(() => {
		const s = document.querySelector(`+"`"+selector+"`"+`);
		const o = [...s.options].find(o => o.text.startsWith(`+"`"+label+"`"+`));
		if (!o) return false;
		s.value = o.value;
		return true;
	})()`))
	if err != nil || !ok {
		t.Fatalf("choose %q in %s: %v", label, selector, err)
	}
}

// clickSubmit clicks the form's primary button and returns the final response.
func clickSubmit(t *testing.T, tab context.Context) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`.form-actions button[type="submit"]`)))
	if err != nil {
		t.Fatalf("submit the form: %v", err)
	}
	return resp.Status
}

// TestOrdersAndTemplates walks alice through Acme's orders and templates:
// the list, the Create order page with the company tile, a mistake and its
// correction, and the New template page.
func TestOrdersAndTemplates(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders")), http.StatusOK)
	wantText(t, tab, "Orders", "Create order", "Maria Garcia", "ACME-1001", "Employment verification", "Completed", "1–6 of 6")
	wantNoSideways(t, tab)
	screenshot(t, tab, "orders.png")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders/new")), http.StatusOK)
	wantText(t, tab, "Create order", "Acme Corp", "alice@acme.test", "Back to orders")
	wantNoElement(t, tab, ".sidebar")
	screenshot(t, tab, "order-new.png")

	// A mistake comes back beside its field, with what was typed kept.
	chooseIn(t, tab, "#f-template_id", "Income verification")
	typeInto(t, tab, [][2]string{{"#f-applicant_email", "not-an-email"}, {"#f-reference", "LOAN-42"}})
	if status := clickSubmit(t, tab); status != http.StatusUnprocessableEntity {
		t.Fatalf("bad order answered %d, want 422", status)
	}
	wantText(t, tab, "Enter the applicant's name.", "Enter a valid email address")
	screenshot(t, tab, "order-new-errors.png")

	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#f-applicant_email").value = ""`)); err != nil {
		t.Fatal(err)
	}
	typeInto(t, tab, [][2]string{{"#f-applicant_name", "Grace Hopper"}, {"#f-applicant_email", "grace@example.com"}})
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("order answered %d, want 200 after the redirect", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/orders")
	wantText(t, tab, "Order for Grace Hopper created and emailed to grace@example.com.", "Grace Hopper", "LOAN-42", "Income verification", "Pending", "1–7 of 7")
	screenshot(t, tab, "orders-created.png")
	// Grace's email speaks for the template's brand.
	msgs, err := a.store.OutboxFor(context.Background(), "grace@example.com")
	if err != nil || len(msgs) != 1 || !strings.HasPrefix(msgs[0].Subject, "The company “Acme Corp” needs to verify") {
		t.Fatalf("the applicant's email: %+v (%v)", msgs, err)
	}

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/templates")), http.StatusOK)
	wantText(t, tab, "Templates", "New template", "Employment verification", "Income verification", "Acme Corp")
	wantNoSideways(t, tab)
	screenshot(t, tab, "templates.png")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/templates/new")), http.StatusOK)
	wantText(t, tab, "New template", "Acme Corp", "alice@acme.test", "Back to templates", "Employment", "Assets")
	wantNoElement(t, tab, ".sidebar")
	screenshot(t, tab, "template-new.png")

	// Globex, where alice is an Editor, has no templates yet: the Create
	// order page says so and leads to New template.
	wantStatus(t, open(t, tab, a.tenantURL("globex", "/orders/new")), http.StatusOK)
	wantText(t, tab, "No templates to order from", "Globex", "bob@globex.test", "New template")
	screenshot(t, tab, "order-new-no-templates.png")
	wantStatus(t, open(t, tab, a.tenantURL("globex", "/templates")), http.StatusOK)
	wantText(t, tab, "No templates yet")
	screenshot(t, tab, "templates-empty.png")
}

// TestOrdersAtPhoneWidth checks the orders list and the Create order page
// stay readable on a phone.
func TestOrdersAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), phone)
	signIn(t, tab, a, "acme", "alice@acme.test")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders")), http.StatusOK)
	wantText(t, tab, "Maria Garcia")
	wantNoSideways(t, tab)
	screenshot(t, tab, "orders-phone.png")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders/new")), http.StatusOK)
	wantText(t, tab, "Create order", "Acme Corp")
	wantNoSideways(t, tab)
	screenshot(t, tab, "order-new-phone.png")
}

// TestOrderReferenceAndEmailSaidPlainly: a reference another order has is
// refused beside the field; an order without an applicant email says
// nothing was sent, in the flash and in its row.
func TestOrderReferenceAndEmailSaidPlainly(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders/new")), http.StatusOK)
	wantText(t, tab, "Without an email, nothing is sent.", "Unique within Acme Corp.")
	chooseIn(t, tab, "#f-template_id", "Income verification")
	typeInto(t, tab, [][2]string{{"#f-applicant_name", "Ada Lovelace"}, {"#f-reference", "acme-1002"}})
	if status := clickSubmit(t, tab); status != http.StatusUnprocessableEntity {
		t.Fatalf("a taken reference answered %d, want 422", status)
	}
	wantText(t, tab, "Another order already has this reference.")
	screenshot(t, tab, "order-reference-taken.png")
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("#f-reference").value = ""`)); err != nil {
		t.Fatal(err)
	}
	typeInto(t, tab, [][2]string{{"#f-reference", "LOAN-77"}})
	if status := clickSubmit(t, tab); status != http.StatusOK {
		t.Fatalf("order answered %d, want 200 after the redirect", status)
	}
	wantText(t, tab, "Order for Ada Lovelace created. It has no applicant email, so nothing was sent.")
	if row := rowWithText(t, tab, "Ada Lovelace"); !strings.Contains(row, "No email: nothing was sent") {
		t.Fatalf("Ada's row says %q", row)
	}
	wantNoSideways(t, tab)
	screenshot(t, tab, "orders-nothing-sent.png")
}
