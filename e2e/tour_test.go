package e2e

import (
	"canopy/internal/apikey"
	"canopy/internal/demo"
	"canopy/models"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// axeSource is axe-core, the accessibility checker, injected into each
// page through the DevTools protocol (which the Content Security Policy does
// not govern); users are never sent it.
//
//go:embed testdata/axe/axe.min.js
var axeSource string

// tourPage is one page of the tour: whose session, which host and path.
type tourPage struct {
	name string // file name stem of its screenshots
	as   string // a demo user's email; "" for nobody signed in
	sub  string // the company's subdomain; "" for the base domain
	path string
	want int64 // the status the page answers with
}

// tourSchemes are the colour schemes every page is looked at in.
var tourSchemes = []string{"light", "dark"}

// tourSizes are the widths every page is looked at in.
var tourSizes = []struct {
	name string
	size viewport
}{{"desktop", viewport{1440, 900}}, {"phone", phone}}

// TestEveryPage visits every page as the person who would see it, at
// desktop (1440×900) and phone (390×844) width, in the light and the dark
// colour scheme, and looks each over (lookOver): the right status, the
// scheme, readable text, no serious or critical accessibility violation by
// axe-core, nothing to scroll sideways on a phone. The pictures, four per
// page, are written to e2e/screenshots/tour for people to look through.
func TestEveryPage(t *testing.T) {
	requireBrowser(t)
	// Not parallel: go test runs it alone before the parallel tests start.
	// Its four visits of every page with axe kept two cores busy for
	// minutes, and the flows running beside it missed their deadlines.
	a := startCanopy(t)
	browser := newBrowserWithin(t, 10*time.Minute)
	pages := tourPages(t, a)

	tabs := map[string]context.Context{}
	for _, p := range pages {
		tab, ok := tabs[p.as]
		if !ok {
			tab = newTab(t, browser, desktop)
			switch landing := landingOf(p.as); {
			case p.as == "":
			case landing == "": // no company to land in: signed in on the base domain
				open(t, tab, a.baseURL("/login"))
				wantStatus(t, submitSignIn(t, tab, p.as, demo.Password), http.StatusOK)
			default:
				signIn(t, tab, a, landing, p.as)
			}
			tabs[p.as] = tab
		}
		t.Run(p.name, func(t *testing.T) {
			rawURL := a.baseURL(p.path)
			if p.sub != "" {
				rawURL = a.tenantURL(p.sub, p.path)
			}
			for _, scheme := range tourSchemes {
				for _, sz := range tourSizes {
					setView(t, tab, sz.size, scheme)
					wantStatus(t, open(t, tab, rawURL), p.want)
					lookOver(t, tab, fmt.Sprintf("%s-%s-%s", p.name, sz.name, scheme), scheme, sz.name == "phone")
				}
			}
		})
	}
}

// landingOf is the company a demo user signs in to for the tour.
func landingOf(email string) string {
	switch email {
	case "staff@canopy.test":
		return "admin"
	case "eve@acme.test":
		return "acme-eu"
	case "frank@acme.test": // his only company, Acme Lab, is inactive
		return ""
	case "carol@initech.test":
		return "initech"
	}
	return "acme"
}

// tourPages lists every page a person can reach, with the ids the demo data
// gives its records.
func tourPages(t *testing.T, a *app) []tourPage {
	t.Helper()
	ctx := context.Background()
	acme, err := a.store.TenantBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	europe, err := a.store.TenantBySubdomain(ctx, "acme-eu")
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := a.store.TemplateByName(ctx, acme.ID, "Employment verification")
	if err != nil {
		t.Fatal(err)
	}
	order, testOrder := acmeOrder(t, a, "ACME-1005"), makeTestOrder(t, a, "ACME-1006")
	invitation := "/invitations/" + inviteFor(t, a, acme, "tour-invitee@example.com")
	expired := "/invitations/" + inviteFor(t, a, acme, "tour-late@example.com")
	if err := a.db.Exec("UPDATE invitations SET expires_at = ? WHERE email = ?", time.Now().Add(-time.Hour).UTC(), "tour-late@example.com").Error; err != nil {
		t.Fatal(err)
	}
	confirm := "/sub-tenants/new?" + url.Values{"check": {"1"}, "name": {"Acme Asia"}, "subdomain": {"acme-asia"},
		"description": {"For the Acme Asia team."}, "email": {"owner@asia.example"}, "timezone": {"Asia/Tokyo"}}.Encode()
	dave, err := a.store.UserByEmail(ctx, "dave@acme.test")
	if err != nil {
		t.Fatal(err)
	}
	daveAtAcme, err := a.store.MembershipOf(ctx, acme.ID, dave.ID)
	if err != nil {
		t.Fatal(err)
	}
	devices, err := a.store.ListDevices(ctx, europe.ID, "", models.PageRequest{Number: 1, Size: 1})
	if err != nil || len(devices.Items) == 0 {
		t.Fatalf("Acme Europe's devices: %v", err)
	}
	device := devices.Items[0].ID
	addedByBob(t, a, "carol@initech.test")
	child := func(below string) string { return fmt.Sprintf("/sub-tenants/%d/%s", europe.ID, below) }
	// A tenant two levels below Acme, for the breadcrumb, and one below the
	// inactive Acme Lab, unavailable because of it.
	depot, err := a.store.CreateTenant(ctx, models.NewTenant{ParentID: europe.ID, Name: "Berlin Depot", Subdomain: "acme-berlin",
		Description: "Acme Europe's depot in Berlin.", Timezone: "Europe/Berlin"})
	if err != nil {
		t.Fatal(err)
	}
	lab, err := a.store.TenantBySubdomain(ctx, "acme-lab")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.CreateTenant(ctx, models.NewTenant{ParentID: lab.ID, Name: "Lab Annex", Subdomain: "acme-lab-annex", Timezone: "UTC"}); err != nil {
		t.Fatal(err)
	}
	// Domains waiting for staff, one of a company two levels down.
	claimSSODomains(t, a, "globex", "globex.test", "globex-shipping.example")
	claimSSODomains(t, a, "acme-eu", "acme-europe.example")
	ssoSettingsForTour(t, a, acme)
	liveKey := apiKeysForTour(t, a, acme)
	hook, hookDelivery := webhooksForTour(t, a, acme)
	lastMonth := string(billingHistory(t, a))
	thisMonth := string(models.MonthOf(time.Now(), acme.Location()))
	standardPlan, growthPlan, globex := billingForTour(t, a)
	const alice, viewer, eve, staff, frank, carol = "alice@acme.test", "dave@acme.test", "eve@acme.test", "staff@canopy.test", "frank@acme.test", "carol@initech.test"
	resetPath := profileForTour(t, a)
	ok := int64(http.StatusOK)
	return []tourPage{
		{"sign-in", "", "", "/login", ok},
		{"invitation", "", "", invitation, ok},
		{"invitation-expired", "", "", expired, http.StatusGone},
		{"invitation-someone-else", viewer, "", invitation, ok},
		{"only-company-inactive", frank, "", "/", ok},
		{"unknown-company", "", "nowhere", "/", http.StatusNotFound},

		{"home", alice, "acme", "/", ok},
		{"home-viewer", viewer, "acme", "/", ok},
		{"home-added-notice", carol, "initech", "/", ok},
		{"order-new-added-notice", carol, "initech", "/orders/new", ok},
		{"orders", alice, "acme", "/orders", ok},
		{"order-new", alice, "acme", "/orders/new", ok},
		{"order", alice, "acme", fmt.Sprintf("/orders/%d", order), ok},
		{"order-viewer", viewer, "acme", fmt.Sprintf("/orders/%d", order), ok},
		{"order-test", alice, "acme", fmt.Sprintf("/orders/%d", testOrder), ok},
		{"orders-test-data", alice, "acme", "/orders?env=test", ok},
		{"templates", alice, "acme", "/templates", ok},
		{"template", alice, "acme", fmt.Sprintf("/templates/%d", tmpl.ID), ok},
		{"template-new", alice, "acme", "/templates/new", ok},
		{"template-edit", alice, "acme", fmt.Sprintf("/templates/%d/edit", tmpl.ID), ok},
		{"team", alice, "acme", "/settings/team", ok},
		{"member-new", alice, "acme", "/settings/team/new", ok},
		{"member-edit", alice, "acme", fmt.Sprintf("/settings/team/members/%d/edit", daveAtAcme.ID), ok},
		{"company-settings", alice, "acme", "/settings/company", ok},
		{"audit", alice, "acme", "/settings/audit", ok},
		{"sso-settings", alice, "acme", "/settings/sso", ok},
		{"sso-settings-inherited", eve, "acme-eu", "/settings/sso", ok},
		{"companies", alice, "acme", "/companies", ok},
		{"password", alice, "acme", "/account/password", ok},
		{"profile", alice, "acme", "/account/profile", ok},
		{"forgot-password", "", "", "/login/forgot?tenant=acme", ok},
		{"reset-password", "", "", resetPath, ok},
		{"reset-link-invalid", "", "", "/login/reset/no-such-token", http.StatusGone},
		{"sessions", alice, "acme", "/account/sessions", ok},
		{"passkeys", alice, "acme", "/account/passkeys", ok},
		{"sub-tenants", alice, "acme", "/sub-tenants", ok},
		{"sub-tenant-new", alice, "acme", "/sub-tenants/new", ok},
		{"sub-tenant-confirm", alice, "acme", confirm, ok},
		{"sub-tenant-devices", alice, "acme", child("devices"), ok},
		{"sub-tenant-device-edit", alice, "acme", child(fmt.Sprintf("devices/%d/edit", device)), ok},
		{"sub-tenant-users", alice, "acme", child("users"), ok},
		{"sub-tenant-invite", alice, "acme", child("users/new"), ok},
		{"sub-tenant-settings", alice, "acme", child("settings"), ok},
		{"sub-tenant-sub-tenants", alice, "acme", child("sub-tenants"), ok},
		{"sub-tenant-sub-tenant-new", alice, "acme", child("sub-tenants/new"), ok},
		{"sub-tenant-grandchild", alice, "acme", fmt.Sprintf("/sub-tenants/%d/devices", depot.ID), ok},
		{"sub-tenant-unavailable", alice, "acme", fmt.Sprintf("/sub-tenants/%d/sub-tenants", lab.ID), ok},
		{"inactive-company", alice, "acme-lab", "/", http.StatusForbidden},
		{"unavailable-company", alice, "acme-lab-annex", "/", http.StatusForbidden},
		{"not-found", alice, "acme", "/no-such-page", http.StatusNotFound},
		{"forbidden", viewer, "acme", "/settings/team/new", http.StatusForbidden},

		{"api-keys", alice, "acme", "/developers/api-keys", ok},
		{"api-keys-viewer", viewer, "acme", "/developers/api-keys", ok},
		{"api-key-new", alice, "acme", "/developers/api-keys/new", ok},
		{"api-key-roll", alice, "acme", fmt.Sprintf("/developers/api-keys/%d/roll", liveKey), ok},
		{"api-keys-none", eve, "acme-eu", "/developers/api-keys", ok},
		{"production-access", eve, "acme-eu", "/developers/production-access", ok},
		{"webhooks", alice, "acme", "/developers/webhooks", ok},
		{"webhooks-none", eve, "acme-eu", "/developers/webhooks", ok},
		{"webhook-new", alice, "acme", "/developers/webhooks/new", ok},
		{"webhook", alice, "acme", fmt.Sprintf("/developers/webhooks/%d", hook), ok},
		{"webhook-edit", alice, "acme", fmt.Sprintf("/developers/webhooks/%d/edit", hook), ok},
		{"webhook-delivery", alice, "acme", fmt.Sprintf("/developers/webhooks/deliveries/%d", hookDelivery), ok},

		{"billing", alice, "acme", "/settings/billing", ok},
		{"billing-statement", alice, "acme", "/settings/billing/statements/" + lastMonth, ok},
		{"billing-statement-open", alice, "acme", "/settings/billing/statements/" + thisMonth, ok},
		{"billing-billed-to", eve, "acme-eu", "/settings/billing", ok},
		{"billing-billed-to-month", eve, "acme-eu", "/settings/billing/statements/" + lastMonth, ok},
		{"billing-platform", staff, "admin", "/settings/billing", ok},

		{"devices", eve, "acme-eu", "/devices", ok},
		{"device-new", eve, "acme-eu", "/devices/new", ok},
		{"device-edit", eve, "acme-eu", fmt.Sprintf("/devices/%d/edit", device), ok},

		{"staff-home", staff, "admin", "/", ok},
		{"staff-companies", staff, "admin", "/sub-tenants", ok},
		{"staff-company-users", staff, "admin", fmt.Sprintf("/sub-tenants/%d/users", acme.ID), ok}, // with Make owner
		{"staff-sso-domains", staff, "admin", "/sso-domains", ok},
		{"staff-access-requests", staff, "admin", "/access-requests", ok},
		{"staff-billing", staff, "admin", "/billing", ok},
		{"staff-billing-company", staff, "admin", fmt.Sprintf("/billing/companies/%d", acme.ID), ok},
		{"staff-billing-billed-to", staff, "admin", fmt.Sprintf("/billing/companies/%d", europe.ID), ok},
		{"staff-billing-statement", staff, "admin", fmt.Sprintf("/billing/companies/%d/statements/%s", acme.ID, lastMonth), ok},
		{"staff-plans", staff, "admin", "/plans", ok},
		{"staff-plan", staff, "admin", fmt.Sprintf("/plans/%d", growthPlan), ok},
		{"staff-plan-new", staff, "admin", "/plans/new", ok},
		{"staff-plan-duplicate", staff, "admin", fmt.Sprintf("/plans/new?from=%d", standardPlan), ok},
		{"staff-company-billing", staff, "admin", fmt.Sprintf("/sub-tenants/%d/billing?q=acme", europe.ID), ok},
		{"staff-company-billing-scheduled", staff, "admin", fmt.Sprintf("/sub-tenants/%d/billing", globex), ok},
		{"staff-company-new", staff, "admin", "/sub-tenants/new?find_bill_to=1&bill_to_q=acme", ok},
		{"password-base-domain", staff, "", "/account/password", ok},
		// Two-factor sign-in: bob's tab is opened for these alone, so his
		// sign-in is recent enough for the setup to show without asking
		// for his password again.
		{"two-factor-setup", "bob@globex.test", "acme", "/account/two-factor/setup", ok},
		{"two-factor", "bob@globex.test", "acme", "/account/two-factor", ok},
		{"passkey-new", staff, "", "/account/passkeys/new", ok},
	}
}

// apiKeysForTour gives Acme approved production access, a live key and
// sandbox keys (one rolled, one revoked), and Globex a request waiting for
// staff, so that the API keys pages and Access requests show each state.
func apiKeysForTour(t *testing.T, a *app, acme *models.Tenant) (liveKeyID int64) {
	t.Helper()
	ctx := context.Background()
	hasher := apikey.NewHasher([]byte("tour"))
	create := func(name string, env models.APIEnvironment, scopes ...models.APIScope) *models.APIKey {
		k, err := apikey.New(env == models.APIProduction)
		if err != nil {
			t.Fatal(err)
		}
		stored, err := a.store.CreateAPIKey(ctx, acme.ID, models.NewAPIKey{Name: name, Environment: env, Scopes: scopes},
			models.HashedAPIKey{Hash: hasher.Hash(k), Prefix: k.Prefix(), Last4: k.Last4()})
		if err != nil {
			t.Fatal(err)
		}
		return stored
	}
	platform, err := a.store.TenantBySubdomain(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	req, err := a.store.RequestProductionAccess(ctx, acme.ID, models.NewProductionAccessRequest{IntendedUse: "Employment checks from our HR system", MonthlyVolume: "1200"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.DecideAccessRequestInTree(ctx, platform.ID, req.ID, true, "", nil); err != nil {
		t.Fatal(err)
	}
	liveKeyID = create("Payroll (live)", models.APIProduction, models.ScopeOrdersRead, models.ScopeOrdersWrite).ID
	create("HR system staging", models.APISandbox, models.APIScopes...)
	rolled := create("Warehouse scanner", models.APISandbox, models.ScopeDevicesRead, models.ScopeDevicesWrite)
	k, _ := apikey.New(false)
	if _, _, err := a.store.RollAPIKey(ctx, acme.ID, rolled.ID, 24*time.Hour, models.HashedAPIKey{Hash: hasher.Hash(k), Prefix: k.Prefix(), Last4: k.Last4()}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.RevokeAPIKey(ctx, acme.ID, create("Old CI", models.APISandbox, models.ScopeOrdersRead).ID); err != nil {
		t.Fatal(err)
	}
	globex, err := a.store.TenantBySubdomain(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.RequestProductionAccess(ctx, globex.ID, models.NewProductionAccessRequest{
		IntendedUse: "Shipping partners create orders for drivers they hire.\nAbout 40 partners.", MonthlyVolume: "25000"}); err != nil {
		t.Fatal(err)
	}
	return liveKeyID
}

// billingForTour adds a plan priced by template category and an archived
// one, and schedules Globex's move to the first from its next month, so
// that the plans and a company's Billing tab show each state.
func billingForTour(t *testing.T, a *app) (standardID, growthID, globexID int64) {
	t.Helper()
	ctx := context.Background()
	platform, err := a.store.TenantBySubdomain(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	premium := int64(450)
	growth, err := a.store.CreateBillingPlan(ctx, platform.ID, models.NewBillingPlan{Name: "Growth", Description: "For companies ordering in bulk.",
		Currency: "USD", BaseFee: 9900, OrderPrice: 200, PremiumOrderPrice: &premium, IncludedOrders: 100, DeviceMonthPrice: 80,
		IncludedDeviceMonths: 50, SeatPrice: 500, IncludedSeats: 10})
	if err != nil {
		t.Fatal(err)
	}
	legacy, err := a.store.CreateBillingPlan(ctx, platform.ID, models.NewBillingPlan{Name: "Legacy 2025", Currency: "EUR", BaseFee: 2900, OrderPrice: 300})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.store.ArchiveBillingPlan(ctx, platform.ID, legacy.ID); err != nil {
		t.Fatal(err)
	}
	globex, err := a.store.TenantBySubdomain(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	acme, err := a.store.TenantBySubdomain(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.store.ChangeBillingTerms(ctx, globex.ID, growth.ID, acme.ID); err != nil {
		t.Fatal(err)
	}
	standard, err := a.store.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return standard.ID, growth.ID, globex.ID
}

// addedByBob has Bob Brown add someone with an account to Globex at once,
// as Team → Add member does, so that their pages show the notice.
func addedByBob(t *testing.T, a *app, email string) {
	t.Helper()
	ctx := context.Background()
	globex, err := a.store.TenantBySubdomain(ctx, "globex")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := a.store.UserByEmail(ctx, "bob@globex.test")
	if err != nil {
		t.Fatal(err)
	}
	noMail := func(*models.Invitation, *models.Tenant, string) models.NewEmail { return models.NewEmail{} }
	outcome, err := a.store.Invite(ctx, models.InviteRequest{TenantID: globex.ID, InviterID: bob.ID, InviterRole: models.RoleSuperAdmin,
		Email: email, FirstName: "Carol", LastName: "Chen", Role: models.RoleEditor}, noMail)
	if err != nil || outcome != models.AddedAtOnce {
		t.Fatalf("add %s to Globex: outcome %d, %v", email, outcome, err)
	}
}

// newBrowserWithin is newBrowser for a session longer than one test's usual
// budget.
func newBrowserWithin(t *testing.T, budget time.Duration) context.Context {
	t.Helper()
	return startBrowser(t, budget)
}

// setView sizes the tab and chooses the colour scheme the page is asked
// for, as the operating system's setting would.
func setView(t *testing.T, tab context.Context, size viewport, scheme string) {
	t.Helper()
	if err := chromedp.Do(tab, chromedp.EmulateViewport(size.width, size.height, chromedp.EmulatePortrait)); err != nil {
		t.Fatalf("set the view to %dx%d: %v", size.width, size.height, err)
	}
	preferScheme(t, tab, scheme)
}

// lookOver checks what a person sees of the page as it stands: painted in
// the scheme, every text readable against what is behind it, no serious or
// critical accessibility violation, and at phone width nothing to scroll
// sideways; then it takes the page's picture for people to look at.
func lookOver(t *testing.T, tab context.Context, name, scheme string, phoneWidth bool) {
	t.Helper()
	wantScheme(t, tab, scheme)
	for _, p := range unreadable(t, tab) {
		t.Errorf("%s: %s", name, p)
	}
	// axe-core is the costliest check, and what it finds in a page's
	// markup is the same at every width and in every scheme: it runs whole
	// once (desktop, light), for colour contrast alone in the dark scheme,
	// and not at phone width, where the markup is the same again.
	var rules []string
	switch {
	case phoneWidth:
		rules = nil
	case scheme == "dark":
		rules = []string{"color-contrast"}
	default:
		rules = []string{}
	}
	if rules != nil {
		for _, v := range axeViolations(t, tab, rules...) {
			t.Errorf("%s: %s (%s, %s) at %s", name, v.Help, v.ID, v.Impact, strings.Join(v.Nodes, " | "))
		}
	}
	if phoneWidth {
		wantNoSideways(t, tab)
	}
	screenshot(t, tab, filepath.Join("tour", name+".png"))
}

// axeViolation is one rule axe-core found broken on a page.
type axeViolation struct {
	ID     string   `json:"id"`
	Impact string   `json:"impact"`
	Help   string   `json:"help"`
	Nodes  []string `json:"nodes"`
}

// axeViolations runs axe-core over the page, all its rules or only those
// named, and returns its serious and critical violations.
func axeViolations(t *testing.T, tab context.Context, only ...string) []axeViolation {
	t.Helper()
	if _, err := chromedp.Run(tab, chromedp.Evaluate[chromedp.Void](`if (!window.axe) { (function () {`+axeSource+`
	}).call(window); }`)); err != nil {
		t.Fatalf("load axe-core: %v", err)
	}
	options := map[string]any{"resultTypes": []string{"violations"}}
	if len(only) > 0 {
		options["runOnly"] = map[string]any{"type": "rule", "values": only}
	}
	optionsJSON, err := json.Marshal(options)
	if err != nil {
		t.Fatal(err)
	}
	found, err := chromedp.Run(tab, chromedp.Evaluate[[]axeViolation](`axe.run(document, `+string(optionsJSON)+`).then(function (r) {
		return r.violations
			.filter(function (v) { return v.impact === "serious" || v.impact === "critical"; })
			.map(function (v) {
				return {id: v.id, impact: v.impact, help: v.help,
					nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(" "); })};
			});
	})`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run axe-core: %v", err)
	}
	return found
}
