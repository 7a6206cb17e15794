package e2e

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"canopy/models"
)

// rect is an element's box as the browser lays it out, in CSS pixels
// relative to the viewport.
type rect struct {
	Left, Top, Right, Bottom float64
}

// viewportSize is the visible page area, without scroll bars.
func viewportSize(t *testing.T, tab context.Context) (width, height float64) {
	t.Helper()
	size, err := chromedp.Run(tab, chromedp.Evaluate[[2]float64](
		`[document.documentElement.clientWidth, document.documentElement.clientHeight]`))
	if err != nil {
		t.Fatalf("measure the viewport: %v", err)
	}
	return size[0], size[1]
}

// boxOf is the bounding rectangle of the first element matching selector.
func boxOf(t *testing.T, tab context.Context, selector string) rect {
	t.Helper()
	r, err := chromedp.Run(tab, chromedp.Evaluate[rect](`(() => {
		const r = document.querySelector(`+strconv.Quote(selector)+`).getBoundingClientRect();
		return {Left: r.left, Top: r.top, Right: r.right, Bottom: r.bottom};
	})()`))
	if err != nil {
		t.Fatalf("measure %s: %v", selector, err)
	}
	return r
}

// wantInViewport checks that an element is wholly on screen.
func wantInViewport(t *testing.T, tab context.Context, selector string) {
	t.Helper()
	w, h := viewportSize(t, tab)
	r := boxOf(t, tab, selector)
	if r.Left < 0 || r.Top < 0 || r.Right > w || r.Bottom > h {
		t.Errorf("%s at %s is at (%.0f,%.0f)–(%.0f,%.0f), outside the %.0f×%.0f viewport",
			selector, location(t, tab), r.Left, r.Top, r.Right, r.Bottom, w, h)
	}
}

// addLongNamedSubTenant gives Acme a sub-tenant whose name and description
// have no place to break a line, the worst case for a layout.
func addLongNamedSubTenant(t *testing.T, a *app) *models.Tenant {
	t.Helper()
	ctx := context.Background()
	acme, err := a.store.TenantBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	alice, err := a.store.UserByEmail(ctx, "alice@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	noMail := func(*models.Invitation, *models.Tenant, string) models.NewEmail {
		return models.NewEmail{TenantID: acme.ID, To: "long@example.com", Subject: "Invitation", Body: "-"}
	}
	long, err := a.store.CreateSubTenant(ctx, models.NewSubTenant{
		ParentID: acme.ID, ActorUserID: alice.ID,
		Name:        strings.Repeat("W", 100),
		Subdomain:   "long-name",
		Description: strings.Repeat("Longword", 60),
		Email:       "long@example.com",
		Timezone:    "Europe/Berlin",
	}, noMail)
	if err != nil {
		t.Fatalf("create the long-named sub-tenant: %v", err)
	}
	return long
}

// TestLayout: at phone width no page alice reaches scrolls sideways (a wide
// table scrolls inside its own box), the company toggle opens on screen, and
// at desktop width a sub-tenant with a 100-character unbroken name and
// description still fits. One browser, one sign-in.
func TestLayout(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	eu, err := a.store.TenantBySubdomain(context.Background(), "acme-eu")
	if err != nil {
		t.Fatal(err)
	}
	long := addLongNamedSubTenant(t, a)
	euPath := "/sub-tenants/" + strconv.FormatInt(eu.ID, 10)
	longPath := "/sub-tenants/" + strconv.FormatInt(long.ID, 10)

	tab := newTab(t, newBrowser(t), phone)
	signIn(t, tab, a, "acme", "alice@acme.test")

	for _, page := range []struct{ name, path string }{
		{"home", "/"},
		{"orders", "/orders"},
		{"orders-new", "/orders/new"},
		{"templates", "/templates"},
		{"devices", "/devices"},
		{"team", "/settings/team"},
		{"team-new", "/settings/team/new"},
		{"company-settings", "/settings/company"},
		{"subtenants", "/sub-tenants"},
		{"subtenants-past-end", "/sub-tenants?page=50"},
		{"subtenant-new", "/sub-tenants/new"},
		{"subtenant-devices", euPath + "/devices"},
		{"subtenant-users", euPath + "/users"},
		{"subtenant-settings", euPath + "/settings"},
		{"long-subtenant-users", longPath + "/users"},
	} {
		t.Run(page.name, func(t *testing.T) {
			wantStatus(t, open(t, tab, a.tenantURL("acme", page.path)), http.StatusOK)
			wantFits(t, tab)
			screenshot(t, tab, "layout-phone-"+page.name+".png")
		})
	}

	t.Run("company-tile-is-a-group", func(t *testing.T) {
		open(t, tab, a.tenantURL("acme", "/orders/new"))
		role, err := chromedp.Run(tab, chromedp.Evaluate[string](
			`(t => t.getAttribute("role") + " " + t.getAttribute("aria-label"))(document.querySelector(".company-tile"))`))
		if err != nil || role != "group Current company" {
			t.Errorf("company tile has role and label %q, want a group labelled Current company (%v)", role, err)
		}
	})

	// The availability line under Sub Domain takes no room until it has
	// something to say; the confirmation lists everything that was chosen,
	// and long, unbroken words wrap inside it.
	t.Run("create-form", func(t *testing.T) {
		open(t, tab, a.tenantURL("acme", "/sub-tenants/new"))
		if shown := displayOf(t, tab, "#subdomain-status"); shown != "none" {
			t.Errorf("the empty availability line is displayed (%s)", shown)
		}
		typeInto(t, tab, [][2]string{{"#f-subdomain", "long-two"}})
		waitVisible(t, tab, ".subdomain-status.is-ok")
		screenshot(t, tab, "layout-phone-subdomain-status.png")
		if _, err := chromedp.Run(tab, chromedp.Evaluate[any](`(() => {
			document.querySelector("#f-name").value = "M".repeat(100);
			document.querySelector("#f-description").value = "Longword".repeat(60);
			document.querySelector("#f-email").value = "long-two@example.com";
			document.querySelector("input[name=billing_rolls_up]").checked = true;
		})()`)); err != nil {
			t.Fatal(err)
		}
		chooseIn(t, tab, "#f-timezone", "Asia/Tokyo")
		if status := clickSubmit(t, tab); status != http.StatusOK {
			t.Fatalf("review: %d", status)
		}
		waitVisible(t, tab, "dialog[open]")
		wantText(t, tab, "Timezone", "Asia/Tokyo", "Billing rolls up to Acme Corp", "Yes")
		wantInViewport(t, tab, "dialog[open]")
		wantNoSpill(t, tab, "dialog[open]")
		wantNoSpill(t, tab, "dialog[open] .confirm-facts")
		screenshot(t, tab, "layout-phone-confirm.png")
	})

	t.Run("past-the-last-page", func(t *testing.T) {
		open(t, tab, a.tenantURL("acme", "/sub-tenants?page=50"))
		wantText(t, tab, "This page is empty")
		if text := pageText(t, tab); strings.Contains(text, "No Sub-Tenants yet") {
			t.Errorf("past the last page, the list says there are none:\n%s", text)
		}
		back, err := chromedp.Run(tab, chromedp.Evaluate[string](
			`[...document.querySelectorAll('main .empty-state a')].map(a => a.getAttribute("href") + " " + a.textContent.trim()).join("\n")`))
		if err != nil || !strings.Contains(back, "/sub-tenants first page") && !strings.Contains(back, "/sub-tenants Go to the first page") {
			t.Errorf("no link back to the first page; the links are %q (%v)", back, err)
		}
	})

	t.Run("past-the-last-page-of-users", func(t *testing.T) {
		open(t, tab, a.tenantURL("acme", euPath+"/users?page=50"))
		wantText(t, tab, "This page is empty", "Go to the first page")
		if text := pageText(t, tab); strings.Contains(text, "No users yet") {
			t.Errorf("past the last page, the Users tab says there are none:\n%s", text)
		}
	})

	// At phone width the side menu is folded behind the Menu button at the
	// top: the toggle in it opens downwards, on screen, and every company
	// can be reached.
	t.Run("company-toggle", func(t *testing.T) {
		open(t, tab, a.tenantURL("acme", "/"))
		click(t, tab, phoneMenuButton)
		click(t, tab, ".company-toggle > summary")
		waitVisible(t, tab, ".toggle-panel")
		wantInViewport(t, tab, ".toggle-panel")
		items, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll(".toggle-item").length`))
		if err != nil || items != 3 {
			t.Fatalf("alice's toggle lists %d companies, want 3 (%v)", items, err)
		}
		for i := 1; i <= items; i++ {
			item := ".toggle-list li:nth-child(" + strconv.Itoa(i) + ") .toggle-item"
			if _, err := chromedp.Run(tab, chromedp.Evaluate[any](
				`document.querySelector(`+strconv.Quote(item)+`).scrollIntoView({block: "nearest"})`)); err != nil {
				t.Fatal(err)
			}
			wantInViewport(t, tab, item)
		}
		screenshot(t, tab, "layout-phone-toggle.png")
	})

	// A company name with nowhere to break is cut short with an ellipsis, in
	// the toggle and in the tile of pages without the side menu.
	t.Run("long-company-name", func(t *testing.T) {
		alice, err := a.store.UserByEmail(context.Background(), "alice@acme.test")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.AddMember(context.Background(), long.ID, alice.ID, models.RoleEditor); err != nil {
			t.Fatal(err)
		}
		open(t, tab, a.tenantURL("acme", "/"))
		click(t, tab, phoneMenuButton)
		click(t, tab, ".company-toggle > summary")
		waitVisible(t, tab, ".toggle-panel")
		wantInViewport(t, tab, ".toggle-panel")
		wantNoSpill(t, tab, ".toggle-panel")
		wantFits(t, tab)
		screenshot(t, tab, "layout-phone-toggle-long.png")

		wantStatus(t, open(t, tab, a.tenantURL("acme", "/go/long-name")), http.StatusOK)
		wantLocation(t, tab, a.tenantHost("long-name"), "/")
		wantFits(t, tab)
		screenshot(t, tab, "layout-phone-home-long.png")
		wantStatus(t, open(t, tab, a.tenantURL("long-name", "/orders/new")), http.StatusOK)
		wantInViewport(t, tab, ".company-tile")
		wantNoSpill(t, tab, ".focus-header")
		wantFits(t, tab)
		screenshot(t, tab, "layout-phone-tile-long.png")
	})

	// A name with nowhere to break wraps or is cut short with an ellipsis;
	// it never widens the page.
	t.Run("long-name-desktop", func(t *testing.T) {
		if err := chromedp.Do(tab, chromedp.EmulateViewport(desktop.width, desktop.height)); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{longPath + "/settings", "/sub-tenants"} {
			wantStatus(t, open(t, tab, a.tenantURL("acme", path)), http.StatusOK)
			wantFits(t, tab)
		}
		open(t, tab, a.tenantURL("acme", longPath+"/settings"))
		w, _ := viewportSize(t, tab)
		for _, sel := range []string{".topbar-title", ".details-title", ".details-title .page-title", ".details-description", ".details-header .page-actions"} {
			if r := boxOf(t, tab, sel); r.Right > w {
				t.Errorf("%s reaches %.0fpx in a %.0fpx viewport", sel, r.Right, w)
			}
			wantNoSpill(t, tab, sel)
		}
		created, updated := headerTimes(t, tab)
		if !oneWayTime.MatchString(created) || !recentTime.MatchString(updated) {
			t.Errorf("header times Created %q, Updated %q; want Created like 24 Nov 2026, 09:05 EST and Updated like 3 minutes ago", created, updated)
		}
		screenshot(t, tab, "layout-long-name.png")
	})
}

// wantFits is wantNoSideways that also names what sticks out: the innermost
// elements reaching past the right edge of the viewport.
func wantFits(t *testing.T, tab context.Context) {
	t.Helper()
	culprits, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`(() => {
		const edge = document.documentElement.clientWidth + 1;
		const out = e => e.getBoundingClientRect().right > edge;
		return [...document.body.querySelectorAll("*")]
			.filter(e => out(e) && ![...e.children].some(out))
			.slice(0, 5)
			.map(e => e.tagName.toLowerCase() + (e.className ? "." + String(e.className).trim().split(/\s+/).join(".") : "") +
				" " + JSON.stringify((e.textContent || "").trim().slice(0, 40)));
	})()`))
	if err != nil {
		t.Fatalf("look for what sticks out: %v", err)
	}
	wantNoSideways(t, tab)
	if t.Failed() && len(culprits) > 0 {
		t.Logf("sticking out: %s", strings.Join(culprits, "; "))
	}
}

// oneWayTime is the one way Canopy writes a moment, its time zone named.
var oneWayTime = regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d [A-Z]{3,4}$`)

// recentTime is a moment of recent activity: "3 minutes ago" (or, past a
// week, the moment itself).
var recentTime = regexp.MustCompile(`^(just now|\d+ (minute|hour|day)s? ago|yesterday|\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d [A-Z]{3,4})$`)

// wantNoSpill checks that nothing inside an element reaches past its box,
// as an unbroken word does when it cannot wrap.
func wantNoSpill(t *testing.T, tab context.Context, selector string) {
	t.Helper()
	widths, err := chromedp.Run(tab, chromedp.Evaluate[[2]int](`(e => [e.scrollWidth, e.clientWidth])(document.querySelector(`+strconv.Quote(selector)+`))`))
	if err != nil {
		t.Fatalf("measure %s: %v", selector, err)
	}
	if widths[0] > widths[1] {
		t.Errorf("%s at %s holds %dpx of content in %dpx", selector, location(t, tab), widths[0], widths[1])
	}
}

// displayOf is an element's computed display, "none" when it takes no room.
func displayOf(t *testing.T, tab context.Context, selector string) string {
	t.Helper()
	d, err := chromedp.Run(tab, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(`+strconv.Quote(selector)+`)).display`))
	if err != nil {
		t.Fatalf("style of %s: %v", selector, err)
	}
	return d
}

// headerTimes reads the Created and Updated times from a sub-tenant's header.
func headerTimes(t *testing.T, tab context.Context) (created, updated string) {
	t.Helper()
	line, err := chromedp.Run(tab, chromedp.Evaluate[string](
		`document.querySelector('[data-testid="updated-at"]').parentElement.innerText`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(line, "  ") {
		t.Errorf("header line %q has a double space", line)
	}
	// The space after "Updated" is a word space, not a layout gap.
	gap, err := chromedp.Run(tab, chromedp.Evaluate[float64](`(() => {
		const time = document.querySelector('[data-testid="updated-at"]');
		const words = document.createRange();
		words.selectNodeContents(time.previousSibling);
		const before = [...words.getClientRects()].pop(), after = time.getClientRects()[0];
		return Math.abs(before.top - after.top) > 2 ? 0 : after.left - before.right;
	})()`))
	if err != nil {
		t.Fatal(err)
	}
	if gap > 3 {
		t.Errorf("%.0fpx between Updated and its time, want a word space", gap)
	}
	times, err := chromedp.Run(tab, chromedp.Evaluate[[2]string](
		`["created-at", "updated-at"].map(id => document.querySelector('[data-testid="' + id + '"]').textContent)`))
	if err != nil {
		t.Fatal(err)
	}
	return times[0], times[1]
}
