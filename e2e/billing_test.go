package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"canopy/models"
)

// billingHistory gives Acme, Acme Europe and Globex a year of billing: terms
// from thirteen months ago, completed orders every month, devices and a
// seat added along the way, every month before the current one closed as
// the closing job would, and staff's figures refreshed. It returns the
// last closed month (Acme's).
func billingHistory(t *testing.T, a *app) models.BillingMonth {
	t.Helper()
	ctx := context.Background()
	acme, europe, globex := tenantNamed(t, a, "acme"), tenantNamed(t, a, "acme-eu"), tenantNamed(t, a, "globex")
	current := models.MonthOf(time.Now(), acme.Location())
	var months []models.BillingMonth
	for m := current.Prev(); len(months) < models.BillingChartMonths-1; m = m.Prev() {
		months = append([]models.BillingMonth{m}, months...)
	}
	start := months[0].Prev()
	if err := a.db.Exec("UPDATE billing_terms SET effective_month = ?", string(start)).Error; err != nil {
		t.Fatal(err)
	}
	for _, tn := range []*models.Tenant{acme, europe, globex} {
		if err := a.db.Exec("UPDATE tenants SET created_at = ? WHERE id = ?", start.Start(time.UTC), tn.ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if err := a.db.Exec(sql, args...).Error; err != nil {
			t.Fatal(err)
		}
	}
	for i, m := range months {
		day := func(d int) string { return fmt.Sprintf("%s-%02d", m, d) }
		orders := func(tn *models.Tenant, template string, n int) {
			exec(`INSERT INTO billing_order_days (tenant_id, day, template_id, category, late, template_name, completed)
				VALUES (?, ?, ?, 'standard', false, ?, ?)`, tn.ID, day(12), len(template), template, n)
		}
		orders(acme, "Employment verification", 18+(i*7)%19)
		orders(acme, "Income verification", 4+(i*3)%7)
		orders(europe, "Cold-chain audit", 6+(i*5)%11)
		orders(globex, "Freight check", 9+(i*4)%9)
		devices := func(tn *models.Tenant, n int) {
			exec(`INSERT INTO billing_presence_days (tenant_id, meter, day, starts, ends) VALUES (?, 'devices', ?, ?, 0)`, tn.ID, day(8), n)
		}
		if i%2 == 0 {
			devices(europe, 2)
		}
		if i%3 == 0 {
			devices(acme, 3)
			exec(`INSERT INTO billing_presence_days (tenant_id, meter, day, starts, ends) VALUES (?, 'seats', ?, 1, 0)`, acme.ID, day(3))
		}
	}
	for _, m := range months {
		if _, err := a.store.CloseBillingMonth(ctx, m, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.store.RefreshBillingProjections(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	return months[len(months)-1]
}

// TestBillingPages: alice opens Settings → Billing and sees this month's
// figures, the usage chart (and its table) and Acme Europe's section,
// opens last month's statement and prints it; eve reads that Acme Corp
// pays and sees no price; staff list the companies that pay.
func TestBillingPages(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	last := billingHistory(t, a)
	browser := newBrowser(t)
	for name, size := range map[string]viewport{"desktop": desktop, "phone": phone} {
		t.Run(name, func(t *testing.T) {
			tab := newTab(t, browser, size)
			signIn(t, tab, a, "acme", "alice@acme.test")
			if name == "phone" {
				click(t, tab, ".menu-toggle")
			}
			clickAndWait(t, tab, `.sidebar-nav a[href="/settings/team"]`)
			clickAndWait(t, tab, `.tabs a[href="/settings/billing"]`)
			wantLocation(t, tab, a.tenantHost("acme"), "/settings/billing")
			wantText(t, tab, "to date", "Projected for", "Usage, last 12 months", "Completed orders", "Device-months",
				"Acme Europe", "billed to Acme Corp", "Previous statements", last.Label())
			charts, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('.usage-chart svg[role="img"] > title').length`))
			if err != nil || charts != 3 {
				t.Errorf("the usage chart has %d titled images (%v), want 3", charts, err)
			}
			wantNoSideways(t, tab)
			screenshot(t, tab, "billing-"+name+".png")

			click(t, tab, ".chart-table > summary")
			wantText(t, tab, last.Label(), "(to date)")

			clickAndWait(t, tab, `.statements-table a[href="/settings/billing/statements/`+string(last)+`"]`)
			wantText(t, tab, "Statement · "+last.Label(), "Closed", "Acme Europe", "Print or save as PDF", "Download CSV")
			wantNoSideways(t, tab)
			screenshot(t, tab, "billing-statement-"+name+".png")

			// The print view: the statement alone, no menus or buttons.
			if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: "print"}); err != nil {
				t.Fatal(err)
			}
			shown, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`['.sidebar', '.topbar', '.print-button', '.breadcrumb', '.tabs']
				.filter(s => document.querySelector(s) && document.querySelector(s).checkVisibility())`))
			if err != nil || len(shown) > 0 {
				t.Errorf("printing shows %v (%v)", shown, err)
			}
			dbg, _ := chromedp.Run(tab, chromedp.Evaluate[string](`(() => { const e = document.elementFromPoint(100, 850); return e.tagName + "." + e.className + " " + getComputedStyle(e).backgroundColor + " " + getComputedStyle(document.body).backgroundColor + " " + getComputedStyle(document.documentElement).backgroundColor })()`))
			t.Log("DEBUG", dbg)
			screenshot(t, tab, "billing-statement-print-"+name+".png")
			if _, err := chromedp.Call(tab, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Media: ""}); err != nil {
				t.Fatal(err)
			}
			if name == "desktop" {
				printA4(t, tab, "billing-statement.pdf")
			}
		})
	}

	t.Run("billed to another", func(t *testing.T) {
		tab := newTab(t, browser, desktop)
		signIn(t, tab, a, "acme-eu", "eve@acme.test")
		wantStatus(t, open(t, tab, a.tenantURL("acme-eu", "/settings/billing")), http.StatusOK)
		wantText(t, tab, "Billed to Acme Corp", "Acme Corp pays for Acme Europe's usage", "Device-months", "Previous months")
		if text := pageText(t, tab); strings.Contains(text, "$") || strings.Contains(text, "USD") {
			t.Errorf("Acme Europe's billing shows a price:\n%s", text)
		}
		screenshot(t, tab, "billing-billed-to-desktop.png")
	})

	t.Run("staff", func(t *testing.T) {
		tab := newTab(t, browser, desktop)
		signIn(t, tab, a, "admin", "staff@canopy.test")
		click(t, tab, ".manage-menu > summary")
		clickAndWait(t, tab, `.manage-menu a[href="/billing"]`)
		wantText(t, tab, "Billing", "Acme Corp", "Globex", "Initech", "Figures as of", "Refresh now")
		clickAndWait(t, tab, `th a[href*="sort=name"]`)
		wantText(t, tab, "Acme Corp")
		sorted, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('th[aria-sort]').textContent.trim()`))
		if err != nil || !strings.HasPrefix(sorted, "Company") {
			t.Errorf("sorted by name, the sorted heading is %q (%v)", sorted, err)
		}
		screenshot(t, tab, "staff-billing-desktop.png")
		clickAndWait(t, tab, fmt.Sprintf(`a[href="/billing/companies/%d"]`, tenantNamed(t, a, "acme").ID))
		wantText(t, tab, "Acme Corp · Billing", "Acme Europe", "Previous statements")
	})
}

// printA4 prints the page to an A4 PDF in e2e/screenshots, as "Save as
// PDF" would, for people to look at.
func printA4(t *testing.T, tab context.Context, name string) {
	t.Helper()
	pdf, err := chromedp.Call(tab, page.PrintToPDF, page.PrintToPDFParams{PaperWidth: 8.27, PaperHeight: 11.69})
	if err != nil {
		t.Fatalf("print to PDF: %v", err)
	}
	if len(pdf.Data) < 1000 {
		t.Fatalf("the PDF has %d bytes", len(pdf.Data))
	}
	path := filepath.Join(screenshotDir, name)
	if err := os.WriteFile(path, pdf.Data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("printed: e2e/%s", path)
}
