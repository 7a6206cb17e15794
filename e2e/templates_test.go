package e2e

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// openFirstTemplate opens the Templates list and the first template in it,
// as a person would, and returns the template page's address.
func openFirstTemplate(t *testing.T, tab context.Context, a *app) *url.URL {
	t.Helper()
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/templates")), http.StatusOK)
	if status := clickAndWait(t, tab, `.cell-link[href^="/templates/"]`); status != http.StatusOK {
		t.Fatalf("opening a template answered %d", status)
	}
	page := location(t, tab)
	if !strings.HasPrefix(page.Path, "/templates/") {
		t.Fatalf("the list's link led to %s", page)
	}
	return page
}

// TestTemplatePage: alice opens a template from the list and sees what its
// orders will use — branding, the data collected, who made it, how many
// orders use it — then starts an order from it with the template chosen.
// Dave, a Viewer, sees the page without the Create order button; on a phone
// it fits the screen.
func TestTemplatePage(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	page := openFirstTemplate(t, tab, a)
	wantText(t, tab, "Employment verification", "Order template of Acme Corp", "Branding", "Acme Corp", "#0f766e",
		"Order data it collects", "Employment", "Identity", "Orders", "alice@acme.test", "Create order")
	wantNoSideways(t, tab)
	screenshot(t, tab, "template.png")

	if status := clickAndWait(t, tab, `.page-actions a[href^="/orders/new?template="]`); status != http.StatusOK {
		t.Fatalf("Create order answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/orders/new")
	chosen, err := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const s = document.querySelector("#f-template_id"); return s.options[s.selectedIndex].text })()`))
	if err != nil || !strings.HasPrefix(chosen, "Employment verification") {
		t.Fatalf("the order form has %q chosen (%v), want the template it came from", chosen, err)
	}

	viewer := newTab(t, browser, phone)
	signIn(t, viewer, a, "acme", "dave@acme.test")
	wantStatus(t, open(t, viewer, a.tenantURL("acme", page.Path)), http.StatusOK)
	wantText(t, viewer, "Employment verification", "Branding", "Order data it collects")
	wantNoElement(t, viewer, `a[href^="/orders/new"]`)
	wantNoSideways(t, viewer)
	screenshot(t, viewer, "template-phone.png")
}
