package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/demo"
	"canopy/models"
)

func (a *app) orderCount(sub string) int64 {
	a.t.Helper()
	p, err := a.store.ListOrders(context.Background(), a.tenant(sub).ID, models.OrderFilter{}, models.PageRequest{Number: 1, Size: 1})
	if err != nil {
		a.t.Fatal(err)
	}
	return p.Total
}

func (a *app) membershipID(email, sub string) int64 {
	a.t.Helper()
	m, err := a.store.MembershipOf(context.Background(), a.tenant(sub).ID, a.user(email).ID)
	if err != nil {
		a.t.Fatal(err)
	}
	return m.ID
}

// optionFor matches the dropdown entry of one template.
func optionFor(id int64) string { return `<option value="` + strconv.FormatInt(id, 10) + `"` }

func TestOrdersListShowsDemoOrders(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme") // Viewer
	page := b.get(tenantURL("acme", "/orders"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page,
		"Maria Garcia", "ACME-1001", "Employment verification", "Income verification",
		"Alice Anderson", "Bob Brown", "Completed", "In progress", "Pending", "Cancelled",
		"1–6 of 6", `name="q"`)
	// Recent orders say how long ago they were made ("3 days ago"), with the
	// exact time, in Acme's time zone (America/New_York), on hover.
	if !regexp.MustCompile(`<time datetime="[^"]+" title="\d{1,2} [A-Z][a-z]{2} \d{4}, \d\d:\d\d E[SD]T">(\d+ (minutes?|hours?|days?) ago|yesterday|just now)</time>`).MatchString(page.body) {
		t.Fatalf("order times are not relative with the exact time on hover:\n%s", excerpt(page.body))
	}
	wantNoBody(t, page, `href="/orders/new"`, `style=`)
}

func TestViewerCannotCreateOrders(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	wantStatus(t, b.get(tenantURL("acme", "/orders/new")), http.StatusForbidden)
	form := url.Values{"template_id": {fmt.Sprint(a.templateID("acme", "Income verification"))}, "applicant_name": {"Viewer made"}}
	wantStatus(t, b.submit(tenantURL("acme", "/orders"), tenantURL("acme", "/orders"), form), http.StatusForbidden)
	if n := a.orderCount("acme"); n != 6 {
		t.Fatalf("a viewer's POST changed the orders: %d", n)
	}
}

func TestEditorCreatesOrder(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "globex") // Editor in Globex

	// Globex has no templates yet: the form says so and links to New template.
	empty := b.get(tenantURL("globex", "/orders/new"))
	wantStatus(t, empty, http.StatusOK)
	wantBody(t, empty, "No templates to order from", `href="/templates/new"`, `class="company-tile"`)
	wantNoBody(t, empty, `name="applicant_name"`)
	list := b.get(tenantURL("globex", "/orders"))
	wantBody(t, list, "No orders yet", `href="/orders/new"`)

	tpl, err := a.store.CreateTemplate(context.Background(), a.tenant("globex").ID, 0, models.NewTemplate{
		Name: "Freight driver check", BrandingCompanyName: "Globex", Collects: []string{"employment"},
	})
	if err != nil {
		t.Fatal(err)
	}
	form := b.get(tenantURL("globex", "/orders/new"))
	wantStatus(t, form, http.StatusOK)
	// The only template is chosen already.
	wantBody(t, form, optionFor(tpl.ID)+` selected`, "Freight driver check — Globex", `href="/orders"`)

	bad := url.Values{"template_id": {fmt.Sprint(tpl.ID)}, "applicant_name": {"  "}, "applicant_email": {"not-an-email"}, "reference": {"PO-77"}}
	r := b.submit(tenantURL("globex", "/orders/new"), tenantURL("globex", "/orders"), bad)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Enter the applicant&#39;s name.", "Enter a valid email address", `value="not-an-email"`, `value="PO-77"`, optionFor(tpl.ID)+` selected`)
	if n := a.orderCount("globex"); n != 0 {
		t.Fatalf("bad input wrote %d orders", n)
	}

	good := url.Values{"template_id": {fmt.Sprint(tpl.ID)}, "applicant_name": {"Hank Hill"}, "applicant_email": {"hank@example.com"}, "reference": {"PO-77"}}
	r = b.submit(tenantURL("globex", "/orders/new"), tenantURL("globex", "/orders"), good)
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/orders" {
		t.Fatalf("redirected to %q", r.location)
	}
	list = b.follow(r)
	wantBody(t, list, "Order for Hank Hill created and emailed to hank@example.com.", "Hank Hill", "hank@example.com", "PO-77", "Freight driver check", "Alice Anderson", "Pending")
	if n := a.orderCount("globex"); n != 1 {
		t.Fatalf("globex has %d orders, want 1", n)
	}
}

func TestRestrictedMemberOrdersOnlyFromAllowedTemplates(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme")
	emp, inc := a.templateID("acme", "Employment verification"), a.templateID("acme", "Income verification")
	if err := a.store.SetMemberTemplates(ctx, acme.ID, a.membershipID("bob@globex.test", "acme"), []int64{inc}); err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	b.signIn("bob@globex.test", "acme") // Admin in Acme, restricted to Income verification
	form := b.get(tenantURL("acme", "/orders/new"))
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, optionFor(inc))
	wantNoBody(t, form, optionFor(emp), "Employment verification")

	r := b.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), url.Values{"template_id": {fmt.Sprint(emp)}, "applicant_name": {"Sneaky"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Choose one of the templates available to you.", `value="Sneaky"`)
	if n := a.orderCount("acme"); n != 6 {
		t.Fatalf("a refused order was written: %d orders", n)
	}
	r = b.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), url.Values{"template_id": {fmt.Sprint(inc)}, "applicant_name": {"Allowed"}})
	wantStatus(t, r, http.StatusSeeOther)
	if n := a.orderCount("acme"); n != 7 {
		t.Fatalf("%d orders, want 7", n)
	}
	// Alice has no list, so she may use both.
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	wantBody(t, alice.get(tenantURL("acme", "/orders/new")), optionFor(emp), optionFor(inc))
}

func TestOrderWithAnotherCompanysTemplateIsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	foreign, err := a.store.CreateTemplate(context.Background(), a.tenant("globex").ID, 0, models.NewTemplate{
		Name: "Globex secret", BrandingCompanyName: "Globex", Collects: []string{"income"},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	b.signIn("alice@acme.test", "acme") // Super Admin in Acme, Editor in Globex
	r := b.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), url.Values{"template_id": {fmt.Sprint(foreign.ID)}, "applicant_name": {"Cross tenant"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Choose one of the templates available to you.")
	wantNoBody(t, r, "Globex secret")
	if n := a.orderCount("acme"); n != 6 {
		t.Fatalf("acme has %d orders, want 6", n)
	}
	if n := a.orderCount("globex"); n != 0 {
		t.Fatalf("globex has %d orders, want 0", n)
	}
	for _, junk := range []string{"", "abc", "-1", "99999999999999999999"} {
		r := b.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), url.Values{"template_id": {junk}, "applicant_name": {"Junk"}})
		wantStatus(t, r, http.StatusUnprocessableEntity)
		wantBody(t, r, "Choose a template.")
	}
}

func TestOrdersSearchAndPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme")
	inc := a.templateID("acme", "Income verification")
	alice := a.membershipID("alice@acme.test", "acme")
	b := a.browser()
	b.signIn("alice@acme.test", "acme")

	// Count the database queries of one list page: it must not grow with the data.
	var queries atomic.Int64
	count := func(*gorm.DB) { queries.Add(1) }
	if err := a.serverDB.Callback().Query().Before("gorm:query").Register("test:count_queries", count); err != nil {
		t.Fatal(err)
	}
	if err := a.serverDB.Callback().Row().Before("gorm:row").Register("test:count_rows", count); err != nil {
		t.Fatal(err)
	}
	queriesFor := func(path string) int64 {
		t.Helper()
		queries.Store(0)
		wantStatus(t, b.get(tenantURL("acme", path)), http.StatusOK)
		return queries.Load()
	}
	small := queriesFor("/orders")
	if small == 0 {
		t.Fatal("the query counter saw nothing")
	}

	for i := 1; i <= 25; i++ {
		_, err := a.store.CreateOrder(ctx, acme.ID, alice, models.NewOrder{TemplateID: inc, ApplicantName: fmt.Sprintf("Bulk applicant %02d", i), Reference: fmt.Sprintf("BULK-%02d", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	if large := queriesFor("/orders"); large != small {
		t.Fatalf("the orders page made %d queries with 6 orders and %d with 31", small, large)
	}

	first := b.get(tenantURL("acme", "/orders"))
	wantBody(t, first, "1–20 of 31", `rel="next" href="/orders?page=2"`, "Bulk applicant 25")
	wantNoBody(t, first, "Maria Garcia", `rel="prev"`)
	second := b.get(tenantURL("acme", "/orders?page=2"))
	wantBody(t, second, "21–31 of 31", `rel="prev"`, "Maria Garcia", "Noah Johnson")
	wantNoBody(t, second, "Bulk applicant 25", `rel="next"`)

	found := b.get(tenantURL("acme", "/orders?q=bulk"))
	wantBody(t, found, "1–20 of 25", `href="/orders?page=2&amp;q=bulk"`, `value="bulk"`)
	wantNoBody(t, found, "Maria Garcia")
	byRef := b.get(tenantURL("acme", "/orders?q=acme-1003"))
	wantBody(t, byRef, "Priya Patel", "1–1 of 1")
	wantNoBody(t, byRef, "Maria Garcia", "Bulk applicant")
	byName := b.get(tenantURL("acme", "/orders?q=PRIYA"))
	wantBody(t, byName, "Priya Patel", "1–1 of 1")
	nothing := b.get(tenantURL("acme", "/orders?q=nobody-like-this"))
	wantStatus(t, nothing, http.StatusOK)
	wantBody(t, nothing, "No orders match", `href="/orders"`)
	// A page number past the end leads to the last page.
	past := b.get(tenantURL("acme", "/orders?page=999&q=bulk"))
	wantStatus(t, past, http.StatusSeeOther)
	if past.location != "/orders?page=2&q=bulk" {
		t.Fatalf("past the end: redirected to %q", past.location)
	}
	if n := strings.Count(first.body, "<tr>"); n != 21 { // header + 20 rows
		t.Fatalf("page 1 has %d table rows, want 21", n)
	}
}

func TestDemoOrdersAreSeededOnce(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	if err := demo.Seed(context.Background(), a.store); err != nil {
		t.Fatal(err)
	}
	if names := a.templateNames("acme"); len(names) != 2 {
		t.Fatalf("acme templates after seeding twice: %v", names)
	}
	if n := a.orderCount("acme"); n != 6 {
		t.Fatalf("acme orders after seeding twice: %d", n)
	}
}

// webAddress finds what a mail program would link: a scheme or a www. name.
var webAddress = regexp.MustCompile(`(?i)[a-z][a-z0-9+.-]*://\S*|\bwww\.\S*`)

func TestOrderEmailsItsApplicantInTheBrandsName(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	income := fmt.Sprint(a.templateID("acme", "Income verification")) // branded "Acme Corp"
	form := url.Values{"template_id": {income}, "applicant_name": {"Jane Roe www.evil.example"}, "applicant_email": {"Jane@Example.com"},
		"reference": {"LN-9 see https://evil.example/login"}}
	r := alice.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), form)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, alice.follow(r), "created and emailed to jane@example.com")
	msgs, err := a.store.OutboxFor(context.Background(), "jane@example.com")
	if err != nil || len(msgs) != 1 {
		t.Fatalf("emails to the applicant: %d (%v)", len(msgs), err)
	}
	m := msgs[0]
	if !strings.HasPrefix(m.Subject, "The company “Acme Corp” needs to verify your ") {
		t.Errorf("subject %q does not speak for the template's brand", m.Subject)
	}
	for _, want := range []string{"The company “Acme Corp” has asked Canopy to let you know", "sent by Canopy on its behalf", "The company's reference: LN-9"} {
		if !strings.Contains(m.BodyText, want) {
			t.Errorf("the email lacks %q:\n%s", want, m.BodyText)
		}
	}
	// Typed web addresses are inert; any address is the configured base URL's.
	for _, link := range webAddress.FindAllString(m.Subject+"\n"+m.BodyText, -1) {
		if !strings.HasPrefix(link, base+"/") {
			t.Errorf("the email links to %q:\n%s", link, m.BodyText)
		}
	}
}

func TestOrderWithoutEmailSaysNothingWasSent(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	page := alice.get(tenantURL("acme", "/orders"))
	wantNoBody(t, page, "Orders sent to applicants")
	wantBody(t, page, "An applicant with an email address is emailed the request")
	// Priya Patel's demo order has no email: the list says nothing was sent.
	if row := rowMentioning(t, page, "Priya Patel"); !strings.Contains(row, "No email: nothing was sent") {
		t.Errorf("the row of an order without email:\n%s", row)
	}
	if row := rowMentioning(t, page, "Maria Garcia"); strings.Contains(row, "nothing was sent") {
		t.Errorf("the row of an order with an email:\n%s", row)
	}
	form := url.Values{"template_id": {fmt.Sprint(a.templateID("acme", "Income verification"))}, "applicant_name": {"No Mail"}}
	r := alice.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), form)
	wantBody(t, alice.follow(r), "Order for No Mail created. It has no applicant email, so nothing was sent.")
}

func TestDuplicateOrderReferenceIsRefusedBesideTheField(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	form := url.Values{"template_id": {fmt.Sprint(a.templateID("acme", "Income verification"))}, "applicant_name": {"Sam Lee"},
		"applicant_email": {"sam@example.com"}, "reference": {"acme-1001"}} // Maria Garcia's, in another case
	r := alice.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), form)
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-reference-error"`, "Another order already has this reference", `value="Sam Lee"`, `value="acme-1001"`)
	if n := a.orderCount("acme"); n != 6 {
		t.Fatalf("%d orders after a duplicate reference, want the 6 demo ones", n)
	}
	if msgs, _ := a.store.OutboxFor(context.Background(), "sam@example.com"); len(msgs) != 0 {
		t.Fatal("a refused order emailed its applicant")
	}
}
