package handlers_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/models"
	"canopy/views"
)

// currentMonth is the month now in the company's timezone.
func (a *app) currentMonth(sub string) models.BillingMonth {
	return models.MonthOf(time.Now(), a.tenant(sub).Location())
}

// closeLastMonth gives every company terms from long ago and closes the
// month before acme's current one, as the closing job would after it
// ended, with an order of each of Acme's and Acme Europe's in it.
func (a *app) closeLastMonth() models.BillingMonth {
	a.t.Helper()
	ctx := context.Background()
	month := a.currentMonth("acme").Prev()
	for _, sql := range []string{
		"UPDATE billing_terms SET effective_month = '2000-01'",
		"UPDATE tenants SET created_at = '2000-01-01 00:00:00'",
	} {
		if err := a.db.Exec(sql).Error; err != nil {
			a.t.Fatal(err)
		}
	}
	for _, sub := range []string{"acme", "acme-eu"} {
		err := a.db.Exec(`INSERT INTO billing_order_days (tenant_id, day, template_id, category, late, template_name, completed)
			VALUES (?, ?, 1, 'standard', false, 'Employment verification', 25)`, a.tenant(sub).ID, string(month)+"-10").Error
		if err != nil {
			a.t.Fatal(err)
		}
	}
	if _, err := a.store.CloseBillingMonth(ctx, month, time.Now()); err != nil {
		a.t.Fatal(err)
	}
	return month
}

// money is a formatted amount of any of the plans' currencies.
var money = regexp.MustCompile(`(\$|€|£|¥|CHF |USD|EUR|GBP)\s?[0-9]`)

// TestBillingOfTheCompanyThatPays: Acme's Admins see Acme Corp's and Acme
// Europe's sections with amounts, the totals to date and projected, and
// nothing of companies paying for themselves; Globex sees only its own.
func TestBillingOfTheCompanyThatPays(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.addDevice("acme", "BILL-DEV-1", "Thermo Logger T-100")
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	page := alice.get(tenantURL("acme", views.BillingPath))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Billing", "Acme Corp", "Acme Europe", "billed to Acme Corp", "pays for itself",
		`data-testid="to-date">$`, `data-testid="projected">$`, "Base fee (share of the month)", "Device-months", "Seats (average)",
		`role="img"`, "Show as table", "Acme Corp and 1 company billed to it")
	for _, other := range []string{"Acme Lab", "Globex", "Initech"} {
		if strings.Contains(mainOf(page), other) {
			t.Errorf("Acme's billing names %s, which pays for itself", other)
		}
	}
	// The settings tabs lead there.
	wantBody(t, alice.get(tenantURL("acme", views.TeamPath)), `href="/settings/billing"`)

	// Bob is an Admin of Acme: the settings' permission, not its subtree's,
	// shows him the companies billed to it (on PostgreSQL through the
	// payer's policy, since Acme Europe is outside his scope).
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme")
	wantBody(t, bob.get(tenantURL("acme", views.BillingPath)), `id="section-`+strconv.FormatInt(a.tenant("acme-eu").ID, 10)+`">Acme Europe<`,
		"Device-months")
	bob.follow(bob.get(tenantURL("globex", "/")))
	globex := bob.get(tenantURL("globex", views.BillingPath))
	wantStatus(t, globex, http.StatusOK)
	wantBody(t, globex, "Globex", "Only Globex itself", `data-testid="to-date">$`)
	if strings.Contains(mainOf(globex), "Acme") {
		t.Error("Globex's billing shows Acme's")
	}

	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	wantStatus(t, dave.get(tenantURL("acme", views.BillingPath)), http.StatusForbidden)
	wantStatus(t, dave.get(tenantURL("acme", views.BillingStatementPath(string(a.currentMonth("acme")), "csv"))), http.StatusForbidden)
	if strings.Contains(dave.get(tenantURL("acme", views.TeamPath)).body, `href="/settings/billing"`) {
		t.Error("a Viewer is offered the Billing tab")
	}
}

// TestBillingOfACompanyBilledToAnother: Acme Europe's owner reads "Billed
// to Acme Corp" and her own usage, and no price, amount or total anywhere:
// not on the overview, not on a month's page, not in its CSV.
func TestBillingOfACompanyBilledToAnother(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	last := a.closeLastMonth()
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	page := eve.get(tenantURL("acme-eu", views.BillingPath))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Billed to", "<strong>Acme Corp</strong>", "Acme Corp pays for Acme Europe", "Device-months",
		"Completed orders", "Seats", "Previous months", last.Label())
	month := eve.get(tenantURL("acme-eu", views.BillingStatementPath(string(a.currentMonth("acme-eu")))))
	wantStatus(t, month, http.StatusOK)
	wantBody(t, month, "Usage · ", "To date, not final", "Billed to <strong>Acme Corp</strong>", "Device-months")
	closed := eve.get(tenantURL("acme-eu", views.BillingStatementPath(string(last))))
	wantStatus(t, closed, http.StatusOK)
	wantBody(t, closed, "Closed", "Completed orders, Employment verification", "25")
	csvFile := eve.get(tenantURL("acme-eu", views.BillingStatementPath(string(last), "csv")))
	wantStatus(t, csvFile, http.StatusOK)
	rows := readCSV(t, csvFile)
	if got := strings.Join(rows[0], ","); got != "Company,Meter,Quantity" {
		t.Errorf("a rolled-up company's CSV has the columns %s", got)
	}
	for _, r := range []response{page, month, closed, csvFile} {
		for _, word := range []string{"$", "USD", "Subtotal", "Total", "Unit price", "Amount", "Standard plan", "Base fee"} {
			if strings.Contains(r.body, word) {
				t.Errorf("%s shows %q to a company billed to another", r.url, word)
			}
		}
		if m := money.FindString(r.body); m != "" {
			t.Errorf("%s shows an amount (%q) to a company billed to another", r.url, m)
		}
	}
	// Acme Europe has no statement of its own for staff's routes either.
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	wantStatus(t, staff.get(tenantURL("admin", views.StaffBillingCompanyPath(a.tenant("acme-eu").ID, "statements", string(last)))), http.StatusOK)
}

// TestBillingStatementsAndCSV: a closed month is listed and opens as a
// fixed statement; its CSV has a row per line with decimals, each
// company's subtotal and the total; the open month is "to date, not
// final"; a month written wrong, to come or without a statement is not
// found.
func TestBillingStatementsAndCSV(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	last := a.closeLastMonth()
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	overview := alice.get(tenantURL("acme", views.BillingPath))
	wantBody(t, overview, "Previous statements", last.Label(), `href="`+views.BillingStatementPath(string(last))+`"`)

	st := alice.get(tenantURL("acme", views.BillingStatementPath(string(last))))
	wantStatus(t, st, http.StatusOK)
	wantBody(t, st, "Statement · "+last.Label(), "Closed", "Print or save as PDF", "data-print", "Acme Corp", "Acme Europe",
		`data-testid="statement-total">$`, "Completed orders")
	if strings.Contains(st.body, "not final") {
		t.Error("a closed statement says it is not final")
	}
	open := alice.get(tenantURL("acme", views.BillingStatementPath(string(a.currentMonth("acme")))))
	wantStatus(t, open, http.StatusOK)
	wantBody(t, open, "To date, not final", "Total to date", "Projected for")

	file := alice.get(tenantURL("acme", views.BillingStatementPath(string(last), "csv")))
	wantStatus(t, file, http.StatusOK)
	if got := file.header.Get("Content-Disposition"); got != `attachment; filename="statement-acme-`+string(last)+`.csv"` {
		t.Errorf("Content-Disposition %q", got)
	}
	rows := readCSV(t, file)
	if got := strings.Join(rows[0], ","); got != "Company,Meter,Quantity,Included,Billable,Unit price,Amount,Currency" {
		t.Fatalf("CSV heading %s", got)
	}
	decimal := regexp.MustCompile(`^[0-9]+\.[0-9]{2}$`)
	byMeter := map[string][]string{}
	var sum, total int64
	for _, r := range rows[1:] {
		if len(r) != 8 || r[7] != "USD" || !decimal.MatchString(r[6]) {
			t.Fatalf("CSV row %q", r)
		}
		byMeter[r[0]+"/"+r[1]] = r
		cents := mustCents(t, r[6])
		switch r[1] {
		case "Subtotal":
			sum += cents
		case "Total":
			total = cents
		}
	}
	for _, key := range []string{"Acme Corp/Base fee", "Acme Corp/Completed orders", "Acme Europe/Completed orders", "Acme Europe/Device-months",
		"Acme Corp/Seat-months", "Acme Corp/Subtotal", "Acme Europe/Subtotal", "All companies/Total"} {
		if byMeter[key] == nil {
			t.Errorf("CSV has no row %s: %q", key, rows)
		}
	}
	// 25 orders, 20 included on the Standard plan, 5 billable at $2.50.
	if r := byMeter["Acme Europe/Completed orders"]; r != nil && strings.Join(r[2:7], ",") != "25,20,5,2.50,12.50" {
		t.Errorf("Acme Europe's orders line %q", r)
	}
	if sum == 0 || sum != total {
		t.Errorf("subtotals add up to %d cents, the total is %d", sum, total)
	}
	openCSV := readCSV(t, alice.get(tenantURL("acme", views.BillingStatementPath(string(a.currentMonth("acme")), "csv"))))
	if last := openCSV[len(openCSV)-1]; last[1] != "Projected total" {
		t.Errorf("the open month's CSV ends with %q", last)
	}

	for _, month := range []string{"2026-13", "nov", "2026-1", "2000-01", string(a.currentMonth("acme").Next())} {
		wantStatus(t, alice.get(tenantURL("acme", "/settings/billing/statements/"+month)), http.StatusNotFound)
		wantStatus(t, alice.get(tenantURL("acme", "/settings/billing/statements/"+month+"/csv")), http.StatusNotFound)
	}
	// Globex pays for itself: Acme's statement is not Globex's to see.
	bob := a.browser()
	bob.signIn("bob@globex.test", "globex")
	globexLast := bob.get(tenantURL("globex", views.BillingStatementPath(string(last))))
	wantStatus(t, globexLast, http.StatusOK)
	if strings.Contains(mainOf(globexLast), "Acme") {
		t.Error("Globex's statement shows Acme's")
	}
}

// TestPlatformBillingDoesNotApply: the platform itself has no terms.
func TestPlatformBillingDoesNotApply(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	page := staff.get(tenantURL("admin", views.BillingPath))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Billing does not apply to Canopy Platform")
	wantStatus(t, staff.get(tenantURL("admin", views.BillingStatementPath(string(a.currentMonth("admin"))))), http.StatusNotFound)
}

// TestStaffBilling: staff's list shows every company that pays with its
// figures once refreshed, searches and sorts; each row leads to the
// company's billing as it sees it; a company outside the platform's tree
// (the platform itself, an unknown id) is not found, and the pages do not
// exist on a company's host.
func TestStaffBilling(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.browser()
	staff.signIn("staff@canopy.test", "admin")
	list := tenantURL("admin", views.StaffBillingPath)
	wantBody(t, staff.get(list), "No figures yet")
	wantBody(t, staff.get(tenantURL("admin", "/")), `href="/billing"`) // ⚙ → Billing

	refreshed := staff.follow(staff.submit(list, tenantURL("admin", views.StaffBillingRefreshPath), nil))
	wantStatus(t, refreshed, http.StatusOK)
	wantBody(t, refreshed, "Figures refreshed for", "Acme Corp", "Globex", "Initech", "Figures as of", "1 company", `aria-sort="descending"`,
		`Acme Lab`, `class="status status-inactive">Inactive`)
	if strings.Contains(refreshed.body, "Acme Europe") {
		t.Error("staff's list shows a company billed to another as paying")
	}
	byName := staff.get(list + "?sort=name")
	wantBody(t, byName, `aria-sort="ascending"`)
	if strings.Index(byName.body, "Acme Corp") > strings.Index(byName.body, "Globex") {
		t.Error("sorted by name, Globex comes before Acme Corp")
	}
	search := staff.get(list + "?" + url.Values{"q": {"glob"}}.Encode())
	wantBody(t, search, "Globex", "1–1 of 1")
	if strings.Contains(mainOf(search), "Acme Corp") {
		t.Error("a search for glob lists Acme Corp")
	}

	acme := a.tenant("acme")
	page := staff.get(tenantURL("admin", views.StaffBillingCompanyPath(acme.ID)))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Acme Corp · Billing", "Acme Europe", `data-testid="to-date">$`)
	month := string(a.currentMonth("acme"))
	wantBody(t, staff.get(tenantURL("admin", views.StaffBillingCompanyPath(acme.ID, "statements", month))), "Statement · ", "Acme Europe")
	file := staff.get(tenantURL("admin", views.StaffBillingCompanyPath(acme.ID, "statements", month, "csv")))
	wantStatus(t, file, http.StatusOK)
	wantBody(t, file, "Acme Europe,Completed orders")
	europe := staff.get(tenantURL("admin", views.StaffBillingCompanyPath(a.tenant("acme-eu").ID)))
	wantBody(t, europe, "Billed to", `href="`+views.StaffBillingCompanyPath(acme.ID)+`"`)

	for _, id := range []int64{a.tenant("admin").ID, 1 << 40} {
		for _, below := range [][]string{nil, {"statements", month}, {"statements", month, "csv"}} {
			wantStatus(t, staff.get(tenantURL("admin", views.StaffBillingCompanyPath(id, below...))), http.StatusNotFound)
		}
	}
	wantStatus(t, staff.get(tenantURL("admin", views.StaffBillingCompanyPath(acme.ID, "statements", "1999-99"))), http.StatusNotFound)

	// Acme's Super Admin on Acme's host: staff's pages are not there.
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	for _, path := range []string{views.StaffBillingPath, views.StaffBillingCompanyPath(a.tenant("globex").ID),
		views.StaffBillingCompanyPath(a.tenant("globex").ID, "statements", month, "csv")} {
		wantStatus(t, alice.get(tenantURL("acme", path)), http.StatusNotFound)
	}
	refused := alice.submit(tenantURL("acme", views.BillingPath), tenantURL("acme", views.StaffBillingRefreshPath), nil)
	wantStatus(t, refused, http.StatusNotFound)
}

func readCSV(t *testing.T, r response) [][]string {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("%s: Content-Type %q", r.url, ct)
	}
	rows, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil || len(rows) < 2 {
		t.Fatalf("%s: CSV %q: %v", r.url, r.body, err)
	}
	return rows
}

// mustCents reads "12.50" as 1250.
func mustCents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("amount %q", s)
	}
	return w*100 + f
}

// mainOf is a page's content, without the menus (whose company toggle
// names the visitor's other companies).
func mainOf(r response) string {
	_, after, _ := strings.Cut(r.body, "<main")
	content, _, _ := strings.Cut(after, "</main>")
	return content
}
