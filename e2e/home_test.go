package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"canopy/internal/demo"
)

// widthSuffix tells a phone's screenshot from a desktop's by its name.
func widthSuffix(v viewport) string {
	if v == phone {
		return "-phone"
	}
	return ""
}

// TestHomeIsHonest: eve opens Acme Europe for the first time and is
// welcomed to it, not back; its setup checklist has no tick in its header
// and says plainly that webhooks are not available, with nothing to
// click (production keys lead to the API keys page). Signing in again, she is welcomed back.
func TestHomeIsHonest(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	for _, size := range []viewport{desktop, phone} {
		tab := newTab(t, browser, size)
		signIn(t, tab, a, "acme-eu", "eve@acme.test")
		if size == desktop {
			wantText(t, tab, "Welcome to Acme Europe, Eve")
		} else {
			wantText(t, tab, "Welcome back, Eve") // the desktop tab came first
		}
		wantText(t, tab, "Finish setting up your company", "Request production keys", "Create webhooks", "Not available yet",
			"Change company settings; manage API keys; read the audit log")
		text := pageText(t, tab)
		for _, promise := range []string{"API keys, webhooks", "Welcome to Acme Europe, Eve\nWelcome back"} {
			if strings.Contains(text, promise) {
				t.Errorf("Home says %q", promise)
			}
		}
		links, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll(".setup-item.is-unavailable a").length`))
		if err != nil || links != 0 {
			t.Errorf("%d links on steps that are not available (%v)", links, err)
		}
		ticked, err := chromedp.Run(tab, chromedp.Evaluate[bool](`!!document.querySelector("#setup-title path[d^='m5 12.5']")`))
		if err != nil || ticked {
			t.Errorf("the unfinished checklist's header has a tick (%v)", err)
		}
		wantNoSideways(t, tab)
		screenshot(t, tab, "home-setup"+widthSuffix(size)+".png")
	}
	// Signed out and in again in the same window: welcomed back.
	tab := newTab(t, browser, desktop)
	open(t, tab, a.tenantURL("acme-eu", "/"))
	wantStatus(t, submitSignIn(t, tab, "eve@acme.test", demo.Password), http.StatusOK)
	wantText(t, tab, "Welcome back, Eve")
}

// TestOnlyCompanyInactive: frank, whose only company Acme Lab is inactive,
// signs in and is told so, and who can reactivate it, not "No companies
// yet"; nothing offers him other companies he does not have.
func TestOnlyCompanyInactive(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	for _, size := range []viewport{desktop, phone} {
		tab := newTab(t, browser, size)
		open(t, tab, "http://"+a.baseHost()+"/login")
		wantStatus(t, submitSignIn(t, tab, "frank@acme.test", demo.Password), http.StatusOK)
		wantLocation(t, tab, a.baseHost(), "/login")
		wantText(t, tab, "Acme Lab is inactive", "ask the administrators of Acme Corp, its parent company, to reactivate it", "Sign out")
		text := pageText(t, tab)
		for _, wrong := range []string{"No companies yet", "Go to my other companies"} {
			if strings.Contains(text, wrong) {
				t.Errorf("frank's page says %q", wrong)
			}
		}
		wantNoSideways(t, tab)
		screenshot(t, tab, "only-company-inactive"+widthSuffix(size)+".png")
	}
}
