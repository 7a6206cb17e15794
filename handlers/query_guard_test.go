package handlers_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/handlers"
	"canopy/internal/testdb"
	"canopy/models"
	"canopy/views"
)

// queryBudget is the most SQL statements any one request of a hot page may
// send on PostgreSQL, however much data its tenant has (docs/product.md,
// Quality rules): the request frame (one statement with the company toggle)
// and at most three of the page's own.
const queryBudget = 4

// sqliteFrameStatements is how many more statements the frame is on SQLite,
// which reads the host's tenant, the user, the membership and the toggle
// one statement each (models.Store.LoadFrame).
const sqliteFrameStatements = 3

// changeBudget is the most a change (a POST) or a sign-in (the hand-off that
// lands a person in a company) may send: beside the page's work, it writes
// what the same transaction must record with it — the record's history, its
// audit event, its email and its webhook event; a sign-in's session record.
const changeBudget = 10

// budgetFor is the budget of a step: a change's, or a page's.
func budgetFor(change bool, method string) int {
	budget := queryBudget
	if method == http.MethodPost || change {
		budget = changeBudget
	}
	if guardDialect() == "SQLite" {
		budget += sqliteFrameStatements
	}
	return budget
}

// The query guard drives the hot pages of the load benchmark through the
// real router, once over a small dataset and once over a large one, and
// counts the SQL statements each request sends. A request over the budget,
// or one whose count changes with the amount of data (an N+1), fails with
// the statements it saw.
func TestQueryGuard(t *testing.T) {
	t.Parallel()
	for _, tc := range guardCases() {
		t.Run(tc.name, func(t *testing.T) {
			if tc.skip != "" {
				t.Skip(tc.skip)
			}
			small := runGuardCase(t, tc, tc.sizes[0])
			large := runGuardCase(t, tc, tc.sizes[1])
			var summary strings.Builder
			for i := range small {
				s, l := small[i], large[i]
				fmt.Fprintf(&summary, "\n  %-44s %2d with %d %s, %2d with %d", s.step, len(s.statements), tc.sizes[0], tc.unit, len(l.statements), tc.sizes[1])
				if testing.Verbose() {
					summary.WriteString(listStatements(l.statements))
				}
				for _, r := range []guardResult{s, l} {
					if budget := budgetFor(r.change, r.method); len(r.statements) > budget {
						t.Errorf("%s (%s, %d %s): %s %s sent %d SQL statements, more than the budget of %d:%s",
							r.step, tc.name, r.size, tc.unit, r.method, r.url, len(r.statements), budget, listStatements(r.statements))
					}
				}
				if len(s.statements) != len(l.statements) {
					t.Errorf("%s (%s): %d SQL statements with %d %s but %d with %d: the count must not grow with the data (N+1?)\nwith %d:%s\nwith %d:%s",
						s.step, tc.name, len(s.statements), tc.sizes[0], tc.unit, len(l.statements), tc.sizes[1],
						tc.sizes[0], listStatements(s.statements), tc.sizes[1], listStatements(l.statements))
				}
			}
			t.Logf("SQL statements per request on %s (budget %d a page, %d a change, on SQLite %d more for the frame):%s",
				guardDialect(), queryBudget, changeBudget, sqliteFrameStatements, summary.String())
		})
	}
}

// TestQueryGuardCounting checks the counter itself: each statement sent is
// counted once, whichever GORM API sends it; subqueries built inside one
// and statements that fail before they are sent are not counted.
func TestQueryGuardCounting(t *testing.T) {
	t.Parallel()
	a, guard := newGuardedApp(t)
	var n int64
	var one int
	var users []models.User
	statements := []struct {
		name string
		want int
		run  func() error
	}{
		{"Count", 1, func() error { return a.db.Model(&models.User{}).Count(&n).Error }},
		{"Find with a subquery", 1, func() error {
			return a.db.Where("id IN (?)", a.db.Model(&models.Membership{}).Select("user_id")).Find(&users).Error
		}},
		{"Table of a subquery, Count", 1, func() error {
			return a.db.Table("(?) AS u", a.db.Model(&models.User{}).Select("id")).Count(&n).Error
		}},
		{"Raw Scan", 1, func() error { return a.db.Raw("SELECT 1").Scan(&one).Error }},
		{"Exec", 1, func() error { return a.db.Exec("UPDATE users SET first_name = first_name WHERE id = 0").Error }},
		{"Update", 1, func() error { return a.db.Model(&models.User{}).Where("id = 0").Update("first_name", "x").Error }},
		{"Delete", 1, func() error { return a.db.Where("token_id = ''").Delete(&models.HandoffRedemption{}).Error }},
		{"failed before sending", 0, func() error {
			db := a.db.Session(&gorm.Session{})
			_ = db.AddError(models.ErrNoTenant)
			_ = db.Find(&users)
			return nil
		}},
	}
	for _, st := range statements {
		guard.mu.Lock()
		guard.recording, guard.current = true, &servedRequest{}
		guard.mu.Unlock()
		err := st.run()
		guard.mu.Lock()
		got := guard.current.statements
		guard.recording, guard.current = false, nil
		guard.mu.Unlock()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if len(got) != st.want {
			t.Errorf("%s: counted %d statements, want %d:%s", st.name, len(got), st.want, listStatements(got))
		}
	}
}

// guardCase is one hot page (or chain of requests), the data it grows
// with, and the requests to count.
type guardCase struct {
	name  string
	email string // who is signed in
	sub   string // the company they sign in to
	unit  string // what sizes count, for messages
	sizes [2]int // small and large
	skip  string // temporarily skipped, with the reason
	// grow brings the demo data up to n of unit.
	grow func(t *testing.T, a *app, n int)
	// steps lists the requests to count, after grow and signing in.
	steps func(t *testing.T, a *app, b *browser, n int) []guardStep
}

// guardStep is one request; request gets the previous step's response, so
// a chain of redirects can be followed one counted request at a time.
type guardStep struct {
	name    string
	status  int
	body    []string
	request func(prev response) *http.Request
	change  bool // a GET that changes things (a sign-in): a change's budget
}

type guardResult struct {
	step        string
	change      bool
	size        int
	method, url string
	statements  []string
}

func guardCases() []guardCase {
	get := func(rawURL string) func(response) *http.Request {
		return func(response) *http.Request {
			req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
			return req
		}
	}
	followRedirect := func(prev response) *http.Request {
		u, err := url.Parse(prev.url)
		if err != nil {
			panic(err)
		}
		loc, err := url.Parse(prev.location)
		if err != nil {
			panic(err)
		}
		req, _ := http.NewRequest(http.MethodGet, u.ResolveReference(loc).String(), nil)
		return req
	}
	return []guardCase{
		{
			name: "home with company toggle", email: "alice@acme.test", sub: "acme",
			unit: "companies", sizes: [2]int{3, 60}, grow: growCompanies,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{{name: "GET / (Home)", status: http.StatusOK,
					body:    []string{"Welcome to Acme Corp, Alice", countOf(n, "companies")},
					request: get(tenantURL("acme", "/"))}}
			},
		},
		{
			name: "device list", email: "alice@acme.test", sub: "acme",
			unit: "devices", sizes: [2]int{5, 300}, grow: growDevices,
			steps: func(_ *testing.T, a *app, _ *browser, n int) []guardStep {
				gateways := (n + 1) / 2
				return []guardStep{
					{name: "GET /devices (page 1)", status: http.StatusOK,
						body:    []string{pagerText(n, models.DevicePageSize)},
						request: get(tenantURL("acme", "/devices"))},
					{name: "GET /devices?q=gateway (search)", status: http.StatusOK,
						body:    []string{pagerText(gateways, models.DevicePageSize)},
						request: get(tenantURL("acme", "/devices?q=gateway"))},
					{name: "GET /devices/:id/edit", status: http.StatusOK,
						body:    []string{"Edit device", "GRD-0000"},
						request: get(tenantURL("acme", "/devices/"+strconv.FormatInt(a.device("acme", "GRD-0000").ID, 10)+"/edit?q=gateway"))},
				}
			},
		},
		{
			name: "sub-tenants list", email: "alice@acme.test", sub: "acme",
			unit: "sub-tenants", sizes: [2]int{3, 80}, grow: growSubTenants,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{
					{name: "GET /sub-tenants (page 1)", status: http.StatusOK,
						body:    []string{pagerText(n, models.SubTenantPageSize), "Acme Europe"},
						request: get(tenantURL("acme", "/sub-tenants"))},
					{name: "GET /sub-tenants?q=guard (search)", status: http.StatusOK,
						body:    []string{pagerText(n-2, models.SubTenantPageSize)},
						request: get(tenantURL("acme", "/sub-tenants?q=guard"))},
				}
			},
		},
		{
			name: "a sub-tenant's Sub-Tenants tab", email: "alice@acme.test", sub: "acme",
			unit: "sub-tenants below it", sizes: [2]int{2, 80}, grow: growGrandchildren,
			steps: func(_ *testing.T, a *app, _ *browser, n int) []guardStep {
				tab := tenantURL("acme", views.SubTenantPath(a.tenant("acme-eu").ID, "sub-tenants"))
				return []guardStep{
					{name: "GET /sub-tenants/:id/sub-tenants (page 1)", status: http.StatusOK,
						body:    []string{pagerText(n, models.SubTenantPageSize), "Acme Europe"},
						request: get(tab)},
					{name: "GET /sub-tenants/:id/sub-tenants?q=guard", status: http.StatusOK,
						body:    []string{pagerText(n, models.SubTenantPageSize)},
						request: get(tab + "?q=guard")},
				}
			},
		},
		{
			name: "API keys", email: "alice@acme.test", sub: "acme",
			unit: "keys", sizes: [2]int{2, 40}, grow: growAPIKeys,
			steps: func(_ *testing.T, _ *app, _ *browser, _ int) []guardStep {
				return []guardStep{{name: "GET /developers/api-keys", status: http.StatusOK,
					body:    []string{"Guard key 000", "Revoked"},
					request: get(tenantURL("acme", "/developers/api-keys"))}}
			},
		},
		{
			name: "webhook endpoints", email: "alice@acme.test", sub: "acme",
			unit: "endpoints", sizes: [2]int{2, 40}, grow: growWebhookEndpoints,
			steps: func(_ *testing.T, _ *app, _ *browser, _ int) []guardStep {
				return []guardStep{{name: "GET /developers/webhooks", status: http.StatusOK,
					body:    []string{"https://guard.example/000", "order.created"},
					request: get(tenantURL("acme", "/developers/webhooks"))}}
			},
		},
		{
			name: "webhook delivery log", email: "alice@acme.test", sub: "acme",
			unit: "deliveries", sizes: [2]int{3, 120}, grow: growWebhookDeliveries,
			steps: func(t *testing.T, a *app, _ *browser, _ int) []guardStep {
				endpoints, err := a.store.ListWebhookEndpoints(context.Background(), a.tenant("acme").ID, "")
				if err != nil || len(endpoints) != 1 {
					t.Fatalf("endpoints %v (%v)", endpoints, err)
				}
				page := tenantURL("acme", views.WebhookPath(endpoints[0].ID))
				return []guardStep{
					{name: "GET /developers/webhooks/:id", status: http.StatusOK, body: []string{"member.added", "Pending"}, request: get(page)},
					{name: "GET /developers/webhooks/:id?event=order.created&status=pending", status: http.StatusOK, body: []string{"order.created"},
						request: get(page + "?event=order.created&status=pending")},
				}
			},
		},
		{
			name: "access requests", email: "staff@canopy.test", sub: "admin",
			unit: "companies asking", sizes: [2]int{3, 40}, grow: growAccessRequests,
			steps: func(_ *testing.T, _ *app, _ *browser, _ int) []guardStep {
				return []guardStep{{name: "GET /access-requests", status: http.StatusOK,
					body:    []string{"Guard Sub 000", "Recently decided"},
					request: get(tenantURL("admin", "/access-requests"))}}
			},
		},
		{
			name: "team list", email: "alice@acme.test", sub: "acme",
			unit: "people", sizes: [2]int{4, 120}, grow: growTeam,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{{name: "GET /settings/team", status: http.StatusOK,
					body:    []string{pagerText(n, models.TeamPageSize)},
					request: get(tenantURL("acme", "/settings/team"))},
					// Who has not set up two-factor sign-in: the filter, and
					// the count on Settings → Company.
					{name: "GET /settings/team?twofactor=off", status: http.StatusOK,
						body:    []string{"Members who have not set up two-factor sign-in"},
						request: get(tenantURL("acme", "/settings/team?twofactor=off"))},
					{name: "GET /settings/company", status: http.StatusOK,
						body:    []string{"not set up two-factor sign-in"},
						request: get(tenantURL("acme", "/settings/company"))}}
			},
		},
		{
			name: "create order", email: "alice@acme.test", sub: "acme",
			unit: "templates", sizes: [2]int{2, 40}, grow: growTemplatesAndOrders,
			steps: func(t *testing.T, a *app, b *browser, _ int) []guardStep {
				tmpl, err := a.store.TemplateByName(context.Background(), a.tenant("acme").ID, "Employment verification")
				if err != nil {
					t.Fatal(err)
				}
				form := url.Values{
					"_csrf":           {b.csrf(tenantURL("acme", "/orders/new"))},
					"template_id":     {strconv.FormatInt(tmpl.ID, 10)},
					"applicant_name":  {"Query Guard"},
					"applicant_email": {"guard@example.com"},
					"reference":       {"GUARD-1"},
				}
				return []guardStep{{name: "POST /orders (create order)", status: http.StatusSeeOther,
					request: func(response) *http.Request {
						req, _ := http.NewRequest(http.MethodPost, tenantURL("acme", "/orders"), strings.NewReader(form.Encode()))
						req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
						return req
					}}}
			},
		},
		{
			name: "template details", email: "alice@acme.test", sub: "acme",
			unit: "templates", sizes: [2]int{2, 40}, grow: growTemplatesAndOrders,
			steps: func(_ *testing.T, a *app, _ *browser, _ int) []guardStep {
				id := a.templateID("acme", "Employment verification")
				return []guardStep{{name: "GET /templates/:id", status: http.StatusOK,
					body:    []string{"Employment verification", "Create order"},
					request: get(tenantURL("acme", "/templates/"+strconv.FormatInt(id, 10)))}}
			},
		},
		{
			name: "order details", email: "alice@acme.test", sub: "acme",
			unit: "steps of its history", sizes: [2]int{3, models.OrderHistoryLimit + 20}, grow: growOrderHistory,
			steps: func(_ *testing.T, a *app, _ *browser, _ int) []guardStep {
				return []guardStep{{name: "GET /orders/:id", status: http.StatusOK,
					body:    []string{"Order for Olivia Brown", "Status history", "Mark in progress"},
					request: get(orderURL("acme", a.orderID("acme", "ACME-1005")))}}
			},
		},
		{
			name: "test orders list", email: "alice@acme.test", sub: "acme",
			unit: "test orders", sizes: [2]int{3, 60}, grow: growTestOrders,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{
					{name: "GET /orders?env=test (page 1)", status: http.StatusOK,
						body:    []string{pagerText(n, 20), "You're viewing test data"},
						request: get(tenantURL("acme", "/orders?env=test"))},
					{name: "GET /orders?env=test&q=tester (search)", status: http.StatusOK,
						body:    []string{pagerText(n, 20)},
						request: get(tenantURL("acme", "/orders?env=test&q=tester"))},
				}
			},
		},
		{
			name: "platform home and companies list", email: "staff@canopy.test", sub: "admin",
			unit: "companies", sizes: [2]int{3, 60}, grow: growCompanies,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{
					{name: "GET admin / (platform Home)", status: http.StatusOK,
						body:    []string{"Welcome to Canopy Platform, Casey", `data-testid="companies">` + strconv.Itoa(n) + `<`},
						request: get(tenantURL("admin", "/"))},
					{name: "GET admin /sub-tenants (Companies)", status: http.StatusOK,
						body:    []string{pagerText(n, models.SubTenantPageSize), "alice@acme.test", "<th scope=\"col\">Owner</th>"},
						request: get(tenantURL("admin", "/sub-tenants"))},
				}
			},
		},
		{
			// Staff's plans count each plan's companies in one grouped
			// statement; a company's Billing tab reads its terms with the
			// company billed in one, and a search for another company to
			// bill (?q=) adds one statement, however many there are.
			name: "plans and a company's billing terms", email: "staff@canopy.test", sub: "admin",
			unit: "companies", sizes: [2]int{3, 60}, grow: growCompanies,
			steps: func(_ *testing.T, a *app, _ *browser, _ int) []guardStep {
				billing := tenantURL("admin", views.SubTenantPath(a.tenant("acme-eu").ID, "billing"))
				return []guardStep{
					{name: "GET admin /plans", status: http.StatusOK, body: []string{"Standard", "Flat $2.50"},
						request: get(tenantURL("admin", "/plans"))},
					{name: "GET admin /sub-tenants/:id/billing", status: http.StatusOK, body: []string{"Pays for itself", "Billed to Acme Corp"},
						request: get(billing)},
				}
			},
		},
		{
			name: "SSO domains waiting for staff", email: "staff@canopy.test", sub: "admin",
			unit: "domains", sizes: [2]int{2, 60}, grow: growPendingDomains,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{{name: "GET admin /sso-domains", status: http.StatusOK,
					body:    []string{pagerText(n, models.PendingSSODomainPageSize), "Acme Corp"},
					request: get(tenantURL("admin", "/sso-domains"))}}
			},
		},
		{
			name: "edit member", email: "alice@acme.test", sub: "acme",
			unit: "templates", sizes: [2]int{2, 40}, grow: growTemplatesAndOrders,
			steps: func(_ *testing.T, a *app, _ *browser, _ int) []guardStep {
				dave := strconv.FormatInt(a.membershipID("dave@acme.test", "acme"), 10)
				return []guardStep{{name: "GET /settings/team/members/:id/edit", status: http.StatusOK,
					body:    []string{"Edit member", "dave@acme.test", "Employment verification"},
					request: get(tenantURL("acme", "/settings/team/members/"+dave+"/edit"))}}
			},
		},
		{
			name: "edit template", email: "alice@acme.test", sub: "acme",
			unit: "templates", sizes: [2]int{2, 40}, grow: growTemplatesAndOrders,
			steps: func(_ *testing.T, a *app, _ *browser, _ int) []guardStep {
				id := strconv.FormatInt(a.templateID("acme", "Employment verification"), 10)
				return []guardStep{{name: "GET /templates/:id/edit", status: http.StatusOK,
					body:    []string{"Edit template", `value="Employment verification"`},
					request: get(tenantURL("acme", "/templates/"+id+"/edit"))}}
			},
		},
		{
			name: "company switch round trip", email: "alice@acme.test", sub: "acme",
			unit: "companies", sizes: [2]int{3, 60}, grow: growCompanies,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{
					{name: "GET acme /go/globex (toggle choice)", status: http.StatusSeeOther,
						request: get(tenantURL("acme", "/go/globex"))},
					{name: "GET globex /auth/handoff/begin", status: http.StatusSeeOther, request: followRedirect},
					{name: "GET base /login?tenant=globex&state=…", status: http.StatusSeeOther, request: followRedirect},
					{name: "GET globex /auth/handoff?token=…", status: http.StatusSeeOther, request: followRedirect, change: true},
					{name: "GET globex / (Home)", status: http.StatusOK,
						body: []string{"Welcome to Globex, Alice", countOf(n, "companies")}, request: followRedirect},
				}
			},
		},
		{
			name: "billing overview and statement", email: "alice@acme.test", sub: "acme",
			unit: "companies billed to Acme", sizes: [2]int{1, 30}, grow: growBilledCompanies,
			steps: func(_ *testing.T, a *app, _ *browser, n int) []guardStep {
				bill := fmt.Sprintf("Acme Corp and %s billed to it", countLabel(n, "company", "companies"))
				month := string(a.currentMonth("acme"))
				return []guardStep{
					{name: "GET /settings/billing", status: http.StatusOK, body: []string{bill, "Acme Europe", "Previous statements"},
						request: get(tenantURL("acme", views.BillingPath))},
					{name: "GET /settings/billing/statements/:month (open)", status: http.StatusOK, body: []string{bill, "To date, not final"},
						request: get(tenantURL("acme", views.BillingStatementPath(month)))},
					{name: "GET /settings/billing/statements/:month/csv", status: http.StatusOK, body: []string{"Acme Europe,Device-months"},
						request: get(tenantURL("acme", views.BillingStatementPath(month, "csv")))},
				}
			},
		},
		{
			name: "staff billing list", email: "staff@canopy.test", sub: "admin",
			unit: "companies that pay", sizes: [2]int{5, 60}, grow: growPayingCompanies,
			steps: func(_ *testing.T, _ *app, _ *browser, n int) []guardStep {
				return []guardStep{
					{name: "GET admin /billing", status: http.StatusOK, body: []string{pagerText(n, models.BillingProjectionPageSize), "Acme Corp"},
						request: get(tenantURL("admin", views.StaffBillingPath))},
					{name: "GET admin /billing?q=guard&sort=name", status: http.StatusOK, body: []string{pagerText(n-4, models.BillingProjectionPageSize)},
						request: get(tenantURL("admin", views.StaffBillingPath+"?q=guard&sort=name"))},
				}
			},
		},
		{
			// Every request checks its session record inside the statement
			// that loads the user; the list of them is one more.
			name: "account sessions", email: "alice@acme.test", sub: "acme",
			unit: "other sessions", sizes: [2]int{1, 60}, grow: growSessions,
			steps: func(_ *testing.T, _ *app, _ *browser, _ int) []guardStep {
				return []guardStep{{name: "GET /account/sessions", status: http.StatusOK,
					body:    []string{"This browser", "Sign out everywhere else"},
					request: get(tenantURL("acme", "/account/sessions"))}}
			},
		},
		{
			name: "healthz", email: "alice@acme.test", sub: "acme",
			unit: "companies", sizes: [2]int{3, 60}, grow: growCompanies,
			steps: func(_ *testing.T, _ *app, _ *browser, _ int) []guardStep {
				return []guardStep{{name: "GET /healthz", status: http.StatusOK, body: []string{`"status":"ok"`},
					request: get(base + "/healthz")}}
			},
		},
	}
}

// runGuardCase builds a fresh app with n of the case's unit, signs in and
// counts each step's statements.
func runGuardCase(t *testing.T, tc guardCase, n int) []guardResult {
	t.Helper()
	a, guard := newGuardedApp(t)
	tc.grow(t, a, n)
	b := a.browser()
	wantStatus(t, b.signIn(tc.email, tc.sub), http.StatusOK)
	steps := tc.steps(t, a, b, n)
	results := make([]guardResult, 0, len(steps))
	var prev response
	for _, st := range steps {
		req := st.request(prev)
		var served []servedRequest
		served, prev = guard.serve(t, func() response { return b.do(req) })
		if len(served) != 1 {
			t.Fatalf("%s: %d requests served, want 1", st.name, len(served))
		}
		wantStatus(t, prev, st.status)
		wantBody(t, prev, st.body...)
		results = append(results, guardResult{step: st.name, change: st.change, size: n, method: req.Method, url: req.URL.String(), statements: served[0].statements})
	}
	return results
}

// queryGuard records the SQL statements GORM sends while each request is
// served. Requests are served one at a time, so every statement sent during
// a request belongs to it, whatever context it was sent with.
type queryGuard struct {
	mu        sync.Mutex
	idle      *sync.Cond
	recording bool
	current   *servedRequest // the request being served
	served    []servedRequest
	stray     []string // sent while recording but outside any request
}

type servedRequest struct {
	method, url string
	statements  []string
}

const guardSentKey = "query_guard:sent"

// newGuardedApp is the demo app served by a router wrapped in a query guard
// whose GORM callbacks are registered on the app's database.
func newGuardedApp(t *testing.T) (*app, *queryGuard) {
	t.Helper()
	a := newApp(t)
	g := &queryGuard{}
	g.idle = sync.NewCond(&g.mu)
	g.register(t, a.db)
	h := handlers.New(a.cfg, a.store, a.secrets, slog.New(slog.NewTextHandler(io.Discard, nil)))
	server := httptest.NewServer(g.wrap(h.Router()))
	t.Cleanup(server.Close)
	guarded := *a
	guarded.server = server
	return &guarded, g
}

// register counts every statement GORM executes: creates, queries (Count,
// Pluck and Find included), updates, deletes, Row/Rows/Scan and Raw/Exec.
// Subqueries are built by running the query callbacks in dry-run mode;
// those, and statements that fail before they are sent, are not counted.
func (g *queryGuard) register(t *testing.T, db *gorm.DB) {
	t.Helper()
	cb := db.Callback()
	guardHook(t, g, cb.Create(), "create")
	guardHook(t, g, cb.Query(), "query")
	guardHook(t, g, cb.Update(), "update")
	guardHook(t, g, cb.Delete(), "delete")
	guardHook(t, g, cb.Row(), "row")
	guardHook(t, g, cb.Raw(), "raw")
	if err := db.Use(guardObserver{g: g, db: db}); err != nil {
		t.Fatal(err)
	}
}

// guardObserver counts the statements the store sends past GORM (the
// request frame, pipelined with BEGIN).
type guardObserver struct {
	g  *queryGuard
	db *gorm.DB
}

func (guardObserver) Name() string              { return models.StatementObserverName }
func (guardObserver) Initialize(*gorm.DB) error { return nil }
func (o guardObserver) ObserveStatement(sql string, vars []any) {
	o.g.record(o.db.Explain(sql, vars...))
}

// gormCallback and gormProcessor describe GORM's unexported callback types.
type gormCallback interface {
	Register(name string, fn func(*gorm.DB)) error
}

type gormProcessor[C gormCallback] interface {
	Before(name string) C
	After(name string) C
	Remove(name string) error
}

// guardHook records the statements of one processor ("gorm:"+name): before
// it runs, whether the statement will be sent; after, its SQL.
func guardHook[C gormCallback, P gormProcessor[C]](t *testing.T, g *queryGuard, p P, name string) {
	t.Helper()
	before, after := "query_guard:before_"+name, "query_guard:after_"+name
	err := p.Before("gorm:"+name).Register(before, func(tx *gorm.DB) {
		if !tx.DryRun && tx.Error == nil {
			tx.InstanceSet(guardSentKey, true)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	err = p.After("gorm:"+name).Register(after, func(tx *gorm.DB) {
		if sent, _ := tx.InstanceGet(guardSentKey); sent != true || tx.Statement.SQL.Len() == 0 {
			return
		}
		g.record(tx.Explain(tx.Statement.SQL.String(), tx.Statement.Vars...))
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = p.Remove(before)
		_ = p.Remove(after)
	})
}

func (g *queryGuard) record(sql string) {
	sql = strings.Join(strings.Fields(sql), " ")
	g.mu.Lock()
	defer g.mu.Unlock()
	switch {
	case !g.recording:
	case g.current != nil:
		g.current.statements = append(g.current.statements, sql)
	default:
		g.stray = append(g.stray, sql)
	}
}

// wrap serves one request at a time and notes which one is being served.
func (g *queryGuard) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		for g.current != nil {
			g.idle.Wait()
		}
		g.current = &servedRequest{method: r.Method, url: "http://" + r.Host + r.URL.RequestURI()}
		g.mu.Unlock()
		defer func() {
			g.mu.Lock()
			if g.recording {
				g.served = append(g.served, *g.current)
			}
			g.current = nil
			g.idle.Broadcast()
			g.mu.Unlock()
		}()
		next.ServeHTTP(w, r)
	})
}

// serve runs fn, which makes requests, and returns each request served
// meanwhile with its statements, once the server has finished them all.
// Statements sent outside any request fail the test.
func (g *queryGuard) serve(t *testing.T, fn func() response) ([]servedRequest, response) {
	t.Helper()
	g.mu.Lock()
	for g.current != nil {
		g.idle.Wait()
	}
	g.recording, g.served, g.stray = true, nil, nil
	g.mu.Unlock()

	r := fn()

	g.mu.Lock()
	defer g.mu.Unlock()
	for g.current != nil { // the response can arrive before the handler returns
		g.idle.Wait()
	}
	g.recording = false
	if len(g.stray) > 0 {
		t.Fatalf("query guard: %d SQL statements sent outside any request:%s", len(g.stray), listStatements(g.stray))
	}
	return g.served, r
}

func listStatements(statements []string) string {
	var b strings.Builder
	for i, s := range statements {
		if len(s) > 600 {
			s = s[:600] + "…"
		}
		fmt.Fprintf(&b, "\n    %d. %s", i+1, s)
	}
	return b.String()
}

func guardDialect() string {
	if os.Getenv(testdb.EnvVar) != "" {
		return "Postgres"
	}
	return "SQLite"
}

// countOf is how the company toggle counts its entries.
func countOf(n int, many string) string { return strconv.Itoa(n) + " " + many }

// pagerText is the pager's summary of page 1 of a list of total rows.
func pagerText(total, size int) string {
	return fmt.Sprintf("1–%d of %d", min(total, size), total)
}

// bulkUsers inserts n active users in batches, without hashing passwords
// (nobody signs in as them), straight through the harness's database.
func bulkUsers(t *testing.T, a *app, prefix string, n int) []models.User {
	t.Helper()
	if n <= 0 {
		return nil
	}
	users := make([]models.User, n)
	for i := range users {
		users[i] = models.User{
			Email:     fmt.Sprintf("%s-%03d@guard.test", prefix, i),
			FirstName: "Guard", LastName: fmt.Sprintf("%s %03d", prefix, i),
			Status: models.UserActive, SessionVersion: 1,
		}
	}
	if err := a.db.CreateInBatches(&users, 100).Error; err != nil {
		t.Fatal(err)
	}
	return users
}

// growCompanies makes alice a member of n active companies in all, each
// new one with its own owner and alice as a Viewer.
// growPendingDomains has companies claim n domains for single sign-on,
// none proven: twenty to a company's connection, the most one may claim.
func growPendingDomains(t *testing.T, a *app, n int) {
	t.Helper()
	for i, sub := range []string{"acme", "globex", "initech", "acme-eu", "acme-lab"} {
		var domains []string
		for j := i * 20; j < min(n, (i+1)*20); j++ {
			domains = append(domains, fmt.Sprintf("d%03d.%s.test", j, sub))
		}
		if len(domains) > 0 {
			a.claimDomains(sub, domains...)
		}
	}
}

func growCompanies(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	alice := a.user("alice@acme.test")
	toggle, err := a.store.CompanyToggle(ctx, alice.ID, 0)
	if err != nil {
		t.Fatal(err)
	}
	have := toggle.Total
	admin := a.tenant("admin")
	owners := bulkUsers(t, a, "owner", n-int(have))
	for i, owner := range owners {
		tn, err := a.store.CreateTenant(ctx, models.NewTenant{
			ParentID: admin.ID, Name: fmt.Sprintf("Guard Company %03d", i), Subdomain: fmt.Sprintf("guard-co-%03d", i),
			Timezone: "UTC", OwnerUserID: owner.ID,
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.AddMember(ctx, tn.ID, alice.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	if toggle, err := a.store.CompanyToggle(ctx, alice.ID, 0); err != nil || toggle.Total != int64(n) {
		t.Fatalf("alice is in %d companies (%v), want %d", toggle.Total, err, n)
	}
}

// growDevices gives acme n devices, half of them gateways.
func growDevices(t *testing.T, a *app, n int) {
	t.Helper()
	acme := a.tenant("acme")
	rows := make([]models.DeviceCSVRow, n)
	for i := range rows {
		rows[i] = models.DeviceCSVRow{Line: i + 2, Identifier: fmt.Sprintf("GRD-%04d", i), Model: "Sensor S1", Status: models.DeviceActive}
		if i%2 == 0 {
			rows[i].Model = "Gateway G2"
		}
		if i%7 == 0 {
			rows[i].Status = models.DeviceInactive
		}
	}
	report, err := a.store.ImportDevices(context.Background(), acme.ID, rows)
	if err != nil || report.Imported != n {
		t.Fatalf("imported %d of %d devices: %v", report.Imported, n, err)
	}
}

// growSubTenants gives acme n sub-tenants in all (2 in the demo data).
func growSubTenants(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	acme := a.tenant("acme")
	for i := 0; i < n-2; i++ {
		tn, err := a.store.CreateTenant(ctx, models.NewTenant{
			ParentID: acme.ID, Name: fmt.Sprintf("Guard Sub %03d", i), Subdomain: fmt.Sprintf("guard-sub-%03d", i),
			Description: "A sub-tenant of the query guard.", Timezone: "Europe/Paris",
		})
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := a.store.SetTenantStatus(ctx, tn.ID, models.TenantInactive); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// growAPIKeys gives Acme n sandbox keys, all but the last revoked (an
// environment holds at most 10 that work).
func growAPIKeys(t *testing.T, a *app, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		k := a.namedAPIKey("acme", fmt.Sprintf("Guard key %03d", i), models.APISandbox)
		if i < n-1 {
			if _, err := a.store.RevokeAPIKey(context.Background(), k.TenantID, k.ID); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// growWebhookEndpoints gives Acme n endpoints, half in each environment,
// each with a delivery.
func growWebhookEndpoints(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	acme := a.tenant("acme").ID
	for i := 0; i < n; i++ {
		env := models.WebhookSandbox
		if i%2 == 1 {
			env = models.WebhookProduction
		}
		e, _, err := a.store.CreateWebhookEndpoint(ctx, acme, models.WebhookEndpointInput{Environment: env,
			URL: fmt.Sprintf("https://guard.example/%03d", i), Events: []string{models.EventOrderCreated}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.SendWebhookTestEvent(ctx, acme, e.ID, models.EventOrderCreated); err != nil {
			t.Fatal(err)
		}
	}
}

// growWebhookDeliveries gives one endpoint of Acme's n test deliveries.
func growWebhookDeliveries(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	acme := a.tenant("acme").ID
	e, _, err := a.store.CreateWebhookEndpoint(ctx, acme, models.WebhookEndpointInput{Environment: models.WebhookSandbox,
		URL: "https://guard.example/log", Events: []string{models.EventOrderCreated}})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		event := models.EventOrderCreated
		if i%2 == 1 {
			event = models.EventMemberAdded
		}
		if _, err := a.store.SendWebhookTestEvent(ctx, acme, e.ID, event); err != nil {
			t.Fatal(err)
		}
	}
}

// growAccessRequests has n-2 companies below Acme, and Acme itself, ask
// for production access, and declines Acme's, so that staff's list has
// requests waiting and one decided.
func growAccessRequests(t *testing.T, a *app, n int) {
	t.Helper()
	growSubTenants(t, a, n)
	ctx := context.Background()
	var ids []int64
	if err := a.db.Table("tenants").Where("subdomain LIKE ? OR subdomain = ?", "guard-sub-%", "acme").Order("id").Pluck("id", &ids).Error; err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		req, err := a.store.RequestProductionAccess(ctx, id, models.NewProductionAccessRequest{IntendedUse: "Guard", MonthlyVolume: "10"})
		if err != nil {
			t.Fatal(err)
		}
		if id == a.tenant("acme").ID {
			if _, err := a.store.DecideAccessRequestInTree(ctx, a.tenant("admin").ID, req.ID, false, "Guard says no", nil); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// growGrandchildren gives Acme Europe n sub-tenants of its own, some inactive.
func growGrandchildren(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	eu := a.tenant("acme-eu")
	for i := 0; i < n; i++ {
		tn, err := a.store.CreateTenant(ctx, models.NewTenant{
			ParentID: eu.ID, Name: fmt.Sprintf("Guard Depot %03d", i), Subdomain: fmt.Sprintf("guard-depot-%03d", i), Timezone: "Europe/Paris",
		})
		if err != nil {
			t.Fatal(err)
		}
		if i%5 == 0 {
			if err := a.store.SetTenantStatus(ctx, tn.ID, models.TenantInactive); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// growTeam gives acme n people in all: members and pending invitations.
func growTeam(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	acme, alice := a.tenant("acme"), a.user("alice@acme.test")
	invitations := max(1, n/12)
	roles := []models.Role{models.RoleViewer, models.RoleEditor, models.RoleAdmin}
	for i, u := range bulkUsers(t, a, "member", n-3-invitations) {
		if _, err := a.store.AddMember(ctx, acme.ID, u.ID, roles[i%len(roles)]); err != nil {
			t.Fatal(err)
		}
	}
	mail := func(inv *models.Invitation, tn *models.Tenant, token string) models.NewEmail {
		return models.NewEmail{TenantID: tn.ID, To: inv.Email, Subject: "Join " + tn.Name, Body: "/invitations/" + token}
	}
	for i := range invitations {
		_, err := a.store.Invite(ctx, models.InviteRequest{
			TenantID: acme.ID, InviterID: alice.ID, InviterRole: models.RoleSuperAdmin,
			Email: fmt.Sprintf("invitee-%03d@guard.test", i), FirstName: "Invitee", LastName: strconv.Itoa(i), Role: roles[i%len(roles)],
		}, mail)
		if err != nil {
			t.Fatal(err)
		}
	}
	team, err := a.store.Team(ctx, acme.ID, "", models.PageRequest{Number: 1, Size: 1})
	if err != nil || team.Total != int64(n) {
		t.Fatalf("acme's team has %d people (%v), want %d", team.Total, err, n)
	}
}

// growTemplatesAndOrders gives acme n templates in all (2 in the demo
// data), restricts alice's membership to all of them (so the availability
// check reads membership_templates) and adds five orders per template.
func growTemplatesAndOrders(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	acme, alice := a.tenant("acme"), a.user("alice@acme.test")
	for i := 0; i < n-2; i++ {
		_, err := a.store.CreateTemplate(ctx, acme.ID, alice.ID, models.NewTemplate{
			Name: fmt.Sprintf("Guard template %03d", i), BrandingCompanyName: "Acme Corp", Collects: []string{"identity"},
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	templates, err := a.store.TemplatesOf(ctx, acme.ID)
	if err != nil || len(templates) != n {
		t.Fatalf("acme has %d templates (%v), want %d", len(templates), err, n)
	}
	m, err := a.store.MembershipOf(ctx, acme.ID, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(templates))
	for i, tmpl := range templates {
		ids[i] = tmpl.ID
	}
	if err := a.store.SetMemberTemplates(ctx, acme.ID, m.ID, ids); err != nil {
		t.Fatal(err)
	}
	for i := range 5 * n {
		_, err := a.store.CreateOrder(ctx, acme.ID, m.ID, models.NewOrder{
			TemplateID: ids[i%len(ids)], ApplicantName: fmt.Sprintf("Applicant %03d", i), Reference: fmt.Sprintf("GRD-%04d", i),
		}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
}

func countLabel(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// growBilledCompanies gives Acme n companies billed to it in all (Acme
// Europe in the demo data), each with active devices, and a closed month.
func growBilledCompanies(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	acme := a.tenant("acme")
	for i := 0; i < n-1; i++ {
		tn, err := a.store.CreateTenant(ctx, models.NewTenant{ParentID: acme.ID, Name: fmt.Sprintf("Guard Billed %03d", i),
			Subdomain: fmt.Sprintf("guard-billed-%03d", i), Timezone: "Europe/Paris", BillToTenantID: acme.ID})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 3; j++ {
			a.addDevice(tn.Subdomain, fmt.Sprintf("GB-%03d-%d", i, j), "Sensor S1")
		}
	}
	a.closeLastMonth()
}

// growPayingCompanies makes n companies that pay for themselves in all
// (four in the demo data) and prices their month for staff's list.
func growPayingCompanies(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	admin := a.tenant("admin")
	for i := 0; i < n-4; i++ {
		if _, err := a.store.CreateTenant(ctx, models.NewTenant{ParentID: admin.ID, Name: fmt.Sprintf("Guard Payer %03d", i),
			Subdomain: fmt.Sprintf("guard-payer-%03d", i), Timezone: "UTC"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.store.RefreshBillingProjections(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// growSessions signs alice in on n other browsers.
func growSessions(t *testing.T, a *app, n int) {
	t.Helper()
	alice := a.user("alice@acme.test")
	for range n {
		a.newSession(alice)
	}
}
