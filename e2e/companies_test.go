package e2e

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"canopy/models"
)

// click clicks the first element matching a CSS selector.
func click(t *testing.T, tab context.Context, selector string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(selector)), chromedp.Click(chromedp.CSS(selector))); err != nil {
		t.Fatalf("click %s: %v", selector, err)
	}
}

// clickAndWait clicks something that loads a new page and waits for it.
func clickAndWait(t *testing.T, tab context.Context, selector string) int64 {
	t.Helper()
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("click %s: %v", selector, err)
	}
	return resp.Status
}

// TestCompanyToggle: alice opens the toggle at the bottom-left of Home, sees
// her three companies with member counts and owners, and switches to Globex
// without being asked for her password. Dave, with one company, has no toggle.
func TestCompanyToggle(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	click(t, tab, ".company-toggle > summary")
	if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.CSS(".toggle-panel"))); err != nil {
		t.Fatal(err)
	}
	wantText(t, tab, "Switch company", "3 companies",
		"Acme Corp", "3 members · alice@acme.test",
		"Globex", "2 members · bob@globex.test",
		"Initech", "2 members · carol@initech.test")
	screenshot(t, tab, "toggle-open.png")

	if status := clickAndWait(t, tab, `.toggle-list a[href="/go/globex"]`); status != http.StatusOK {
		t.Fatalf("switching to Globex ended with status %d", status)
	}
	wantLocation(t, tab, a.tenantHost("globex"), "/")
	wantText(t, tab, "Welcome to Globex, Alice", "Editor")
	wantNoElement(t, tab, "#f-password")

	// Dave belongs to Acme alone: nothing at the bottom-left of the side
	// menu, neither a toggle nor a tile naming the company.
	dave := newTab(t, browser, desktop)
	signIn(t, dave, a, "acme", "dave@acme.test")
	wantNoElement(t, dave, ".company-toggle")
	wantNoElement(t, dave, ".sidebar .company-current")
	wantNoElement(t, dave, ".sidebar-footer")
	if text := pageText(t, dave); strings.Contains(text, "alice@acme.test") {
		t.Errorf("dave's Home names Acme's owner:\n%s", text)
	}
	wantText(t, dave, "Acme Corp")
	screenshot(t, dave, "toggle-one-company.png")
}

// TestCompanyTileOnFocusedPages: Create order, New template and Add member
// have no side menu; a static tile names the company and its owner, for
// someone in several companies (alice) and in one (carol, of Initech alone,
// who has no toggle on Home).
func TestCompanyTileOnFocusedPages(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	for _, who := range []struct{ subdomain, email, company, shot string }{
		{"acme", "alice@acme.test", "Acme Corp", "tile-"},
		{"initech", "carol@initech.test", "Initech", "tile-one-company-"},
	} {
		tab := newTab(t, browser, desktop)
		signIn(t, tab, a, who.subdomain, who.email)
		for _, page := range []struct{ path, shot, heading string }{
			{"/orders/new", "create-order.png", "Create order"},
			{"/templates/new", "new-template.png", "New template"},
			{"/settings/team/new", "add-member.png", "Add member"},
		} {
			wantStatus(t, open(t, tab, a.tenantURL(who.subdomain, page.path)), http.StatusOK)
			wantNoElement(t, tab, ".sidebar")
			wantNoElement(t, tab, ".company-tile a")
			tile, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(".company-tile")))
			if err != nil {
				t.Fatalf("%s: no company tile: %v", page.path, err)
			}
			if !strings.Contains(tile, who.company) || !strings.Contains(tile, who.email) {
				t.Fatalf("%s: tile says %q", page.path, tile)
			}
			wantText(t, tab, page.heading)
			screenshot(t, tab, who.shot+page.shot)
		}
	}
}

var linkInMail = regexp.MustCompile(`https?://\S+/invitations/[A-Za-z0-9_-]+`)

// TestInvitingMembers: an existing user joins at once with no email; a new
// person gets an email, follows its link, chooses a password and lands
// signed in at Acme.
func TestInvitingMembers(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	alice := newTab(t, browser, desktop)
	signIn(t, alice, a, "acme", "alice@acme.test")

	addMember := func(first, last, email, role string) {
		t.Helper()
		wantStatus(t, open(t, alice, a.tenantURL("acme", "/settings/team/new")), http.StatusOK)
		typeInto(t, alice, [][2]string{{"#f-first_name", first}, {"#f-last_name", last}, {"#f-email", email}})
		chooseIn(t, alice, "#f-role", role)
		if status := clickSubmit(t, alice); status != http.StatusOK {
			t.Fatalf("add member %s: status %d", email, status)
		}
	}

	addMember("Carol", "Chen", "carol@initech.test", "Viewer")
	wantLocation(t, alice, a.tenantHost("acme"), "/settings/team")
	wantText(t, alice, "carol@initech.test already has a Canopy account and is now a member of Acme Corp")
	if msgs, _ := a.store.OutboxFor(context.Background(), "carol@initech.test"); len(msgs) != 0 {
		t.Fatalf("an active user was emailed %d messages", len(msgs))
	}

	addMember("Nina", "Novak", "nina@example.com", "Editor")
	wantText(t, alice, "Invitation sent to nina@example.com", "Invited")
	screenshot(t, alice, "team.png")
	msgs, err := a.store.OutboxFor(context.Background(), "nina@example.com")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("invitation emails: %d, %v", len(msgs), err)
	}
	link := linkInMail.FindString(msgs[0].BodyText)
	if !strings.HasPrefix(link, "http://localhost:"+a.port+"/invitations/") {
		t.Fatalf("link %q is not on the configured base URL", link)
	}

	nina := newTab(t, browser, desktop)
	wantStatus(t, open(t, nina, link), http.StatusOK)
	wantText(t, nina, "Join Acme Corp", "Editor", "nina@example.com")
	typeInto(t, nina, [][2]string{{"#f-password", "nina-password-1"}, {"#f-password_confirm", "nina-password-1"}})
	screenshot(t, nina, "invitation.png")
	if status := clickAndWait(t, nina, `.auth-card form.form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("accept: status %d", status)
	}
	wantLocation(t, nina, a.tenantHost("acme"), "/")
	wantText(t, nina, "Welcome to Acme Corp, Nina", "Editor")
}

// TestToggleOfManyCompanies: someone in 40 companies sees 20 in the toggle;
// typing in its search finds one of the others on the server, and choosing
// it switches company. "See all" leads to the Companies page.
func TestToggleOfManyCompanies(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	ctx := context.Background()
	alice, err := a.store.UserByEmail(ctx, "alice@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := a.store.TenantBySubdomain(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 37 {
		owner, err := a.store.CreateUser(ctx, models.NewUser{Email: fmt.Sprintf("owner%02d@many.test", i), FirstName: "Owner", Password: "long-enough-password"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := a.store.CreateTenant(ctx, models.NewTenant{ParentID: admin.ID, Name: fmt.Sprintf("Northwind %02d", i),
			Subdomain: fmt.Sprintf("northwind-%02d", i), Timezone: "UTC", OwnerUserID: owner.ID})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.AddMember(ctx, c.ID, alice.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	click(t, tab, ".company-toggle > summary")
	wantText(t, tab, "40 companies", "See all 40 companies")
	shown := listed(t, tab)
	if shown != 20 {
		t.Fatalf("the toggle lists %d companies, want 20", shown)
	}
	screenshot(t, tab, "toggle-many.png")

	// Northwind 36 is past the first 20 by name: only the server can find it.
	if err := chromedp.Do(tab, chromedp.SendKeys(".toggle-filter", "wind 36")); err != nil {
		t.Fatal(err)
	}
	waitVisible(t, tab, `#company-list a[href="/go/northwind-36"]`)
	shown = listed(t, tab)
	if shown != 1 {
		t.Fatalf("the search left %d companies, want Northwind 36 alone", shown)
	}
	screenshot(t, tab, "toggle-many-search.png")
	if status := clickAndWait(t, tab, `#company-list a[href="/go/northwind-36"]`); status != http.StatusOK {
		t.Fatalf("switching ended with status %d", status)
	}
	wantLocation(t, tab, a.tenantHost("northwind-36"), "/")
	wantText(t, tab, "Northwind 36")

	click(t, tab, ".company-toggle > summary")
	if status := clickAndWait(t, tab, ".toggle-all"); status != http.StatusOK {
		t.Fatalf("See all ended with status %d", status)
	}
	wantText(t, tab, "Your companies", "1–25 of 40", "Acme Corp")
	screenshot(t, tab, "companies-page.png")

	// On a phone the long list opens in the unfolded menu, whole on the
	// screen, and scrolls within itself down to its last company.
	phoneTab := newTab(t, browser, phone)
	signIn(t, phoneTab, a, "acme", "alice@acme.test")
	click(t, phoneTab, phoneMenuButton)
	click(t, phoneTab, ".company-toggle > summary")
	waitVisible(t, phoneTab, ".toggle-panel")
	wantInViewport(t, phoneTab, ".toggle-panel")
	wantFits(t, phoneTab)
	scrolls, err := chromedp.Run(phoneTab, chromedp.Evaluate[bool](`(l => l.scrollHeight > l.clientHeight)(document.querySelector(".toggle-list"))`))
	if err != nil || !scrolls {
		t.Errorf("the toggle's list of 20 does not scroll within itself (%v)", err)
	}
	last := ".toggle-list li:nth-child(20) .toggle-item"
	if _, err := chromedp.Run(phoneTab, chromedp.Evaluate[any](`document.querySelector(`+strconv.Quote(last)+`).scrollIntoView({block: "nearest"})`)); err != nil {
		t.Fatal(err)
	}
	wantInViewport(t, phoneTab, last)
	wantInViewport(t, phoneTab, ".toggle-all")
	screenshot(t, phoneTab, "toggle-many-phone.png")
}

// listed counts the companies the toggle's list shows.
func listed(t *testing.T, tab context.Context) int {
	t.Helper()
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("#company-list [data-filter-text]:not([hidden])").length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}
