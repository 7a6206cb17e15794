package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"canopy/models"
)

// listLayout is how a page's lists sit in the viewport.
type listLayout struct {
	Rows     int
	Problems []string
}

// measureLists finds what a person on a phone could not reach or read in
// the page's tables: a table that scrolls sideways, a row whose first action
// (the first button or link of its actions cell, else of the row) or any
// cell lies beyond the screen's edges, and, as the header row is not shown,
// a cell that does not say which column it is.
func measureLists(t *testing.T, tab context.Context) listLayout {
	t.Helper()
	got, err := chromedp.Run(tab, chromedp.Evaluate[listLayout](`(() => {
		const width = document.documentElement.clientWidth;
		const problems = [];
		const off = r => r.left < -1 || r.right > width + 1;
		document.querySelectorAll(".table-wrap").forEach(wrap => {
			if (wrap.scrollWidth > wrap.clientWidth + 1) {
				problems.push("a table scrolls sideways: " + wrap.scrollWidth + "px in " + wrap.clientWidth + "px");
			}
		});
		const rows = [...document.querySelectorAll(".table tbody tr")];
		rows.forEach(row => {
			const name = row.querySelector("td").innerText.trim().replace(/\s+/g, " ");
			const actions = row.querySelector("td.cell-actions");
			const primary = (actions && actions.querySelector("button, a")) || row.querySelector("a, button");
			if (primary && off(primary.getBoundingClientRect())) {
				const r = primary.getBoundingClientRect();
				problems.push("the first action of " + JSON.stringify(name) + " (" + primary.textContent.trim() + ") is at " +
					Math.round(r.left) + "–" + Math.round(r.right) + "px of " + width + "px");
			}
			row.querySelectorAll("td").forEach(td => {
				if (off(td.getBoundingClientRect())) problems.push("a cell of " + JSON.stringify(name) + " is off screen");
			});
		});
		document.querySelectorAll(".table thead").forEach(head => {
			if (head.getBoundingClientRect().height > 1) problems.push("the header row is shown above stacked rows");
		});
		document.querySelectorAll(".table tbody td:not(.cell-actions)").forEach(td => {
			const label = getComputedStyle(td, "::before").content;
			if (!/^".+"$/.test(label)) problems.push("a cell saying " + JSON.stringify(td.innerText.trim()) + " has no label (" + label + ")");
		});
		return {Rows: rows.length, Problems: problems.slice(0, 8)};
	})()`))
	if err != nil {
		t.Fatalf("measure the lists: %v", err)
	}
	return got
}

// addPhoneRows gives the lists more rows, with the longest names and emails
// a row has to hold, and invitations whose rows have buttons.
func addPhoneRows(t *testing.T, a *app) {
	t.Helper()
	ctx := context.Background()
	acme, eu := tenantNamed(t, a, "acme"), tenantNamed(t, a, "acme-eu")
	long, err := a.store.CreateUser(ctx, models.NewUser{Email: "maximiliana.featherstonehaugh-wolfe@example-logistics.test",
		FirstName: "Maximiliana", LastName: "Featherstonehaugh-Wolfeschlegel", Password: "long-enough-password"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.AddMember(ctx, acme.ID, long.ID, models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	inviteFor(t, a, acme, "nina.novak-longname@example-logistics.test")
	inviteFor(t, a, acme, "ken@example.com")
	inviteFor(t, a, eu, "lee.with.a.long.address@example-logistics.test")
	// Domains waiting for staff, with a long name and a long issuer.
	_, err = a.store.SaveSSOConnection(ctx, eu.ID, models.SSOConnectionInput{
		Issuer: "https://login.microsoftonline.com/5f2b1c3d-8e4a-4b6f-9a0c-1d2e3f4a5b6c/v2.0", ClientID: "canopy", SealedSecret: "v1.test",
		Domains: "cold-storage-and-distribution.example-logistics.test acme-europe.example", JoinRole: models.RoleViewer})
	if err != nil {
		t.Fatal(err)
	}
	for _, sub := range []struct{ name, subdomain string }{{"Berlin Depot", "acme-berlin"}, {"Munich Cold Storage and Distribution Centre", "acme-munich"}} {
		if _, err := a.store.CreateTenant(ctx, models.NewTenant{ParentID: eu.ID, Name: sub.name, Subdomain: sub.subdomain, Timezone: "Europe/Berlin"}); err != nil {
			t.Fatal(err)
		}
	}
}

// TestListsAtPhoneWidth: at 390×844 every list (Team, Devices, Sub-Tenants,
// Orders, Audit log, Templates, the platform's Companies, SSO domains and Plans, a sub-tenant's
// Devices, Users and Sub-Tenants tabs) is a stack of rows that fits the screen, each cell
// labelled with its column, and every row's first action is on screen.
func TestListsAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	addPhoneRows(t, a)
	billingHistory(t, a)
	eu := "/sub-tenants/" + strconv.FormatInt(tenantNamed(t, a, "acme-eu").ID, 10)
	browser := newBrowser(t)

	for _, visitor := range []struct {
		subdomain, email string
		pages            []struct {
			name, path string
			rows       int // at least
		}
	}{
		{"acme", "alice@acme.test", []struct {
			name, path string
			rows       int
		}{
			{"team", "/settings/team", 6},
			{"orders", "/orders", 3},
			{"templates", "/templates", 2},
			{"audit", "/settings/audit", 10},
			{"subtenants", "/sub-tenants", 2},
			{"subtenant-devices", eu + "/devices", 25},
			{"subtenant-users", eu + "/users", 2},
			{"subtenant-subtenants", eu + "/sub-tenants", 2},
			{"billing", "/settings/billing", 19}, // two companies' lines and eleven closed months
		}},
		{"acme-eu", "eve@acme.test", []struct {
			name, path string
			rows       int
		}{
			{"devices", "/devices", 25},
		}},
		{"admin", "staff@canopy.test", []struct {
			name, path string
			rows       int
		}{
			{"companies", "/sub-tenants", 3},
			{"sso-domains", "/sso-domains", 2},
			{"staff-billing", "/billing", 4},
			{"plans", "/plans", 1},
		}},
	} {
		tab := newTab(t, browser, phone)
		signIn(t, tab, a, visitor.subdomain, visitor.email)
		for _, page := range visitor.pages {
			t.Run(page.name, func(t *testing.T) {
				wantStatus(t, open(t, tab, a.tenantURL(visitor.subdomain, page.path)), http.StatusOK)
				wantFits(t, tab)
				lists := measureLists(t, tab)
				if lists.Rows < page.rows {
					t.Errorf("%d rows, want at least %d", lists.Rows, page.rows)
				}
				for _, p := range lists.Problems {
					t.Error(p)
				}
				screenshot(t, tab, "phone-list-"+page.name+".png")
			})
		}
	}
}

// phoneMenuButton is the button that unfolds the side menu at phone width.
const phoneMenuButton = ".sidebar button[aria-controls]"

// menuState is the phone's menu button and what it shows.
type menuState struct {
	Expanded  string  // the button's aria-expanded
	Controls  bool    // aria-controls names the element that holds the menu
	LinksShow bool    // the side menu's links are displayed
	MainTop   float64 // where the page's own content starts, in CSS pixels
}

func readMenu(t *testing.T, tab context.Context) menuState {
	t.Helper()
	m, err := chromedp.Run(tab, chromedp.Evaluate[menuState](`(() => {
		const button = document.querySelector(".sidebar button[aria-controls]");
		const link = document.querySelector(".sidebar-nav .nav-link");
		return {
			Expanded: button ? String(button.getAttribute("aria-expanded")) : "no button",
			Controls: !!button && !!document.getElementById(button.getAttribute("aria-controls")) &&
				document.getElementById(button.getAttribute("aria-controls")).contains(link),
			LinksShow: link.getClientRects().length > 0,
			MainTop: document.querySelector("main").getBoundingClientRect().top + window.scrollY,
		};
	})()`))
	if err != nil {
		t.Fatalf("read the menu: %v", err)
	}
	return m
}

// TestMenuAtPhoneWidth: on a phone the side menu folds behind a Menu button
// (a real button saying whether it is open and what it opens), so the page's
// own content starts near the top; the button opens the links and the
// company toggle, which opens on screen; Escape folds it again. Without
// JavaScript the menu is simply shown.
func TestMenuAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, phone)
	signIn(t, tab, a, "acme", "alice@acme.test")
	open(t, tab, a.tenantURL("acme", "/settings/team"))

	folded := readMenu(t, tab)
	if folded.Expanded != "false" || !folded.Controls || folded.LinksShow {
		t.Fatalf("folded menu: %+v, want a button with aria-expanded=false controlling the hidden links", folded)
	}
	if folded.MainTop > 140 {
		t.Errorf("the content starts %.0fpx down the page, want at most 140px", folded.MainTop)
	}
	wantFits(t, tab)
	screenshot(t, tab, "phone-menu-folded.png")

	// On a page shorter than the screen the menu bar stays as tall as
	// itself: the spare height is the page's.
	open(t, tab, a.tenantURL("acme", "/companies?q=no-such-company"))
	if short := readMenu(t, tab); short.MainTop > 140 {
		t.Errorf("on a short page the content starts %.0fpx down, want at most 140px", short.MainTop)
	}
	screenshot(t, tab, "phone-menu-short-page.png")
	open(t, tab, a.tenantURL("acme", "/settings/team"))

	click(t, tab, phoneMenuButton)
	unfolded := readMenu(t, tab)
	if unfolded.Expanded != "true" || !unfolded.LinksShow {
		t.Fatalf("after a tap: %+v, want aria-expanded=true and the links shown", unfolded)
	}
	for _, link := range []string{"/", "/devices", "/orders", "/templates", "/settings/team"} {
		wantInViewport(t, tab, `.sidebar-nav a[href="`+link+`"]`)
	}
	wantFits(t, tab)
	screenshot(t, tab, "phone-menu-open.png")

	// The company toggle is in the menu, and opens within the screen.
	click(t, tab, ".company-toggle > summary")
	waitVisible(t, tab, ".toggle-panel")
	wantInViewport(t, tab, ".toggle-panel")
	wantFits(t, tab)
	screenshot(t, tab, "phone-menu-toggle.png")

	// Escape closes the toggle first, then the menu, and leaves the focus
	// on the Menu button.
	for range 2 {
		if err := chromedp.Do(tab, chromedp.KeyEvent("\x1b")); err != nil {
			t.Fatal(err)
		}
	}
	if m := readMenu(t, tab); m.Expanded != "false" || m.LinksShow {
		t.Errorf("after Escape: %+v, want the menu folded", m)
	}
	focused, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.activeElement === document.querySelector(".sidebar button[aria-controls]")`))
	if err != nil || !focused {
		t.Errorf("after Escape the focus is not on the Menu button (%v)", err)
	}

	// The same tap leads to the page chosen.
	click(t, tab, phoneMenuButton)
	if status := clickAndWait(t, tab, `.sidebar-nav a[href="/devices"]`); status != http.StatusOK {
		t.Fatalf("Devices: %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/devices")
	if m := readMenu(t, tab); m.Expanded != "false" || m.LinksShow {
		t.Errorf("a new page starts with the menu open: %+v", m)
	}

	// Without JavaScript there is no button to press: the links are shown.
	noJS := newTab(t, browser, phone)
	signIn(t, noJS, a, "acme", "alice@acme.test")
	if _, err := chromedp.Call(noJS, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true}); err != nil {
		t.Fatal(err)
	}
	open(t, noJS, a.tenantURL("acme", "/settings/team"))
	shown, err := chromedp.Run(noJS, chromedp.Evaluate[[2]bool](`[
		document.querySelector(".sidebar-nav .nav-link").getClientRects().length > 0,
		document.querySelector(".sidebar button[aria-controls]").getClientRects().length > 0]`))
	if err != nil {
		t.Fatal(err)
	}
	if !shown[0] || shown[1] {
		t.Errorf("without JavaScript: links shown %v, Menu button shown %v; want the links and no button", shown[0], shown[1])
	}
	wantFits(t, noJS)
	if strings.Contains(pageText(t, noJS), "Menu") {
		t.Error("without JavaScript the page shows a Menu button that does nothing")
	}
	screenshot(t, noJS, "phone-menu-no-script.png")
}
