package e2e

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// leaveNotice is the XPath of the Leave this company button of the notice
// naming company.
func leaveNotice(company string) string {
	return `//div[@class="addition"][contains(., "` + company + `")]//button[normalize-space() = "Leave this company"]`
}

// leaveRow is the XPath of the Leave button of a company on Your companies.
func leaveRow(company string) string {
	return `//li[@class="company-row"][.//span[@class="company-name"][normalize-space() = "` + company + `"]]//button[starts-with(normalize-space(), "Leave")]`
}

// TestAddedThenLeave: Bob Brown adds carol, who has an account, to Globex
// from Team → Add member. Her next page, at her own company's address,
// says so, with Leave this company; Cancel keeps her in Globex, Confirm
// takes her out and lands on her companies, where Globex is gone. The
// notice is looked at at desktop and phone width.
func TestAddedThenLeave(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	bob := newTab(t, browser, desktop)
	signIn(t, bob, a, "globex", "bob@globex.test")
	wantStatus(t, open(t, bob, a.tenantURL("globex", "/settings/team/new")), http.StatusOK)
	typeInto(t, bob, [][2]string{{"#f-first_name", "Carol"}, {"#f-last_name", "Chen"}, {"#f-email", "carol@initech.test"}})
	chooseIn(t, bob, "#f-role", "Editor")
	if status := clickSubmit(t, bob); status != http.StatusOK {
		t.Fatalf("add carol: status %d", status)
	}
	wantText(t, bob, "carol@initech.test already has a Canopy account and is now a member of Globex")
	if strings.Contains(pageText(t, bob), "added you to") {
		t.Error("the person who added carol is shown her notice")
	}

	carol := newTab(t, browser, desktop)
	signIn(t, carol, a, "initech", "carol@initech.test")
	wantText(t, carol, "Bob Brown added you to Globex as Editor", "Got it", "Leave this company")
	screenshot(t, carol, "added-notice.png")
	setView(t, carol, phone, "light")
	wantText(t, carol, "Bob Brown added you to Globex as Editor")
	wantNoSideways(t, carol)
	screenshot(t, carol, "added-notice-phone.png")
	setView(t, carol, desktop, "light")

	cancelThenConfirm(t, carol, leaveNotice("Globex"), leaveNotice("Globex"), "Leave Globex? You lose access to it at once.")
	wantLocation(t, carol, a.tenantHost("initech"), "/companies")
	wantText(t, carol, "You left Globex and no longer have access to it.", "Your companies", "Initech")
	wantNoElement(t, carol, ".additions")
	if names := companyNames(t, carol); strings.Join(names, ",") != "Initech" {
		t.Errorf("after leaving Globex carol's companies are %v, want Initech alone", names)
	}
	screenshot(t, carol, "added-notice-left.png")
	wantStatus(t, open(t, carol, a.tenantURL("globex", "/")), http.StatusForbidden)
}

// TestGotItKeepsTheCompany: Got it ends the notice, here and at every other
// address, and keeps the company.
func TestGotItKeepsTheCompany(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	addedByBob(t, a, "carol@initech.test")
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "initech", "carol@initech.test")
	wantStatus(t, open(t, tab, a.tenantURL("initech", "/orders")), http.StatusOK)
	if status := clickAndWait(t, tab, `.addition form[action$="/acknowledge"] button`); status != http.StatusOK {
		t.Fatalf("Got it: status %d", status)
	}
	wantLocation(t, tab, a.tenantHost("initech"), "/orders")
	wantNoElement(t, tab, ".additions")
	wantStatus(t, open(t, tab, a.tenantURL("globex", "/")), http.StatusOK)
	wantNoElement(t, tab, ".additions")
	wantText(t, tab, "Globex")
}

// TestLeaveFromYourCompanies: Account menu → Your companies lists alice's
// companies with Leave on each but Acme, which she owns; Cancel on one
// keeps it, Confirm on another leaves it. At phone width the list and its
// buttons fit the screen.
func TestLeaveFromYourCompanies(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	tab := newTab(t, browser, desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	click(t, tab, ".user-menu > summary")
	if status := clickAndWait(t, tab, `.user-menu a[href="/companies"]`); status != http.StatusOK {
		t.Fatalf("Your companies: status %d", status)
	}
	wantText(t, tab, "Your companies", "Acme Corp", "You own it", "Globex", "Initech")
	wantNoElement(t, tab, `form[action="/companies/`+idOf(t, a, "acme")+`/leave"]`)
	screenshot(t, tab, "companies-leave.png")

	setView(t, tab, phone, "light")
	wantNoSideways(t, tab)
	screenshot(t, tab, "companies-leave-phone.png")
	setView(t, tab, desktop, "light")

	cancelThenConfirm(t, tab, leaveRow("Globex"), leaveRow("Initech"), "Leave Initech? You lose access to it at once.")
	wantLocation(t, tab, a.tenantHost("acme"), "/companies")
	wantText(t, tab, "You left Initech", "Globex")
	if names := companyNames(t, tab); strings.Join(names, ",") != "Acme Corp,Globex" {
		t.Errorf("after leaving Initech the list holds %v, want Acme Corp and Globex", names)
	}
	if m, err := a.store.MembershipOf(context.Background(), tenantNamed(t, a, "globex").ID, userID(t, a, "alice@acme.test")); err != nil || m == nil {
		t.Errorf("the cancelled Leave took alice out of Globex: %v", err)
	}
}

// TestExistingUserOwnsAfterAccepting: platform staff create a company for
// dave, who has an account. He is emailed an invitation; until he accepts,
// the company has no owner and he cannot enter it; accepting makes him its
// owner and Super Admin.
func TestExistingUserOwnsAfterAccepting(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	browser := newBrowser(t)
	staff := newTab(t, browser, desktop)
	signIn(t, staff, a, "admin", "staff@canopy.test")
	wantStatus(t, open(t, staff, a.tenantURL("admin", "/sub-tenants/new")), http.StatusOK)
	typeInto(t, staff, [][2]string{
		{"#f-name", "Umbrella"}, {"#f-subdomain", "umbrella"},
		{"#f-description", "Umbrella's shipments"}, {"#f-email", "dave@acme.test"},
	})
	if status := clickSubmit(t, staff); status != http.StatusOK {
		t.Fatalf("review: %d", status)
	}
	if status := clickAndWait(t, staff, `dialog[open] button.button-primary`); status != http.StatusOK {
		t.Fatalf("create: %d", status)
	}
	wantText(t, staff, "Umbrella is active", "An invitation to own it was emailed to dave@acme.test; they become its owner when they accept.")
	screenshot(t, staff, "owner-invited.png")
	umbrella := tenantNamed(t, a, "umbrella")
	if umbrella.OwnerUserID != nil {
		t.Fatalf("Umbrella has an owner before anyone accepted")
	}

	dave := newTab(t, browser, desktop)
	signIn(t, dave, a, "acme", "dave@acme.test")
	wantStatus(t, open(t, dave, a.tenantURL("umbrella", "/")), http.StatusForbidden)
	msgs, err := a.store.OutboxFor(context.Background(), "dave@acme.test")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("dave's invitations: %d, %v", len(msgs), err)
	}
	wantStatus(t, open(t, dave, linkInMail.FindString(msgs[0].BodyText)), http.StatusOK)
	wantText(t, dave, "Join Umbrella", "You are invited to own this company", "You already have a Canopy account")
	screenshot(t, dave, "owner-invitation-existing-user.png")
	if status := clickAndWait(t, dave, `.auth-card form.form button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("accept: status %d", status)
	}
	wantLocation(t, dave, a.tenantHost("umbrella"), "/")
	wantText(t, dave, "Welcome to Umbrella, Dave", "Super Admin")
	if o := tenantNamed(t, a, "umbrella").OwnerUserID; o == nil || *o != userID(t, a, "dave@acme.test") {
		t.Fatalf("dave does not own Umbrella after accepting")
	}
}

// companyNames are the companies Your companies lists, in order.
func companyNames(t *testing.T, tab context.Context) []string {
	t.Helper()
	names, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`[...document.querySelectorAll(".company-row .company-name")].map(e => e.textContent.trim())`))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

func idOf(t *testing.T, a *app, subdomain string) string {
	t.Helper()
	return strconv.FormatInt(tenantNamed(t, a, subdomain).ID, 10)
}

func userID(t *testing.T, a *app, email string) int64 {
	t.Helper()
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return u.ID
}
