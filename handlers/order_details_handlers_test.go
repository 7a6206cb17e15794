package handlers_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"canopy/models"
)

// orderID is the id of a company's order, by its reference.
func (a *app) orderID(sub, reference string) int64 {
	a.t.Helper()
	o, err := a.store.OrderByReference(context.Background(), a.tenant(sub).ID, reference)
	if err != nil {
		a.t.Fatal(err)
	}
	return o.ID
}

// orderURL is an order's page, or an action on it, on the company's host.
func orderURL(sub string, id int64, action ...string) string {
	path := "/orders/" + strconv.FormatInt(id, 10)
	for _, a := range action {
		path += "/" + a
	}
	return tenantURL(sub, path)
}

// makeTestOrder turns an order of the company into test data, as if a
// sandbox API key had made it: its environment, its creator and the steps
// of its history become the key's.
func (a *app) makeTestOrder(sub, reference string) *models.APIKey {
	a.t.Helper()
	ctx := context.Background()
	tenant := a.tenant(sub)
	key, err := a.store.CreateAPIKey(ctx, tenant.ID, models.NewAPIKey{Name: "Staging server", Environment: models.APISandbox,
		Scopes: []models.APIScope{models.ScopeOrdersWrite}}, models.HashedAPIKey{Hash: testKeyHash(reference), Prefix: "cnp_test_", Last4: "wXyZ"})
	if err != nil {
		a.t.Fatal(err)
	}
	id := a.orderID(sub, reference)
	for _, stmt := range []string{
		"UPDATE orders SET environment = 'test', created_by_user_id = NULL, created_by_api_key_id = ? WHERE id = ?",
		"UPDATE order_events SET actor_user_id = NULL, actor_label = '', api_key_id = ? WHERE order_id = ?",
	} {
		if err := a.db.Exec(stmt, key.ID, id).Error; err != nil {
			a.t.Fatal(err)
		}
	}
	return key
}

// testKeyHash is a stored hash for a key made up for a test.
func testKeyHash(seed string) string {
	sum := sha256.Sum256([]byte(seed))
	return hex.EncodeToString(sum[:])
}

// statusForm asks for an order's next status.
func statusForm(status models.OrderStatus) url.Values { return url.Values{"status": {string(status)}} }

func TestOrderDetailsPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme") // Viewer
	done := a.orderID("acme", "ACME-1001")
	page := b.get(orderURL("acme", done))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Order for Maria Garcia", "Employment verification · reference ACME-1001",
		`href="/templates/`+strconv.FormatInt(a.templateID("acme", "Employment verification"), 10)+`"`,
		"maria.garcia@example.com", `class="status-pill status-pill-completed"`, "Final: a completed order does not change again.",
		`<span class="badge">Live</span>`, "Alice Anderson", "Status history", "<strong>Created</strong>", `href="/orders"`)
	history := page.body[strings.Index(page.body, `data-testid="order-history"`):]
	for i, want := range []string{"Created", "status-pill-pending", "Alice Anderson", "status-pill-in_progress", "status-pill-completed"} {
		at := strings.Index(history, want)
		if at < 0 {
			t.Fatalf("history step %d (%s) missing or out of order:\n%s", i, want, excerpt(page.body[strings.Index(page.body, `data-testid="order-history"`):]))
		}
		history = history[at:]
	}
	// A Viewer changes nothing: no buttons, and the POST is refused.
	pending := a.orderID("acme", "ACME-1005")
	page = b.get(orderURL("acme", pending))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Olivia Brown", "status-pill-pending")
	wantNoBody(t, page, "Mark in progress", "Cancel order", `/status"`, "Final:")
	wantStatus(t, b.submit(orderURL("acme", pending), orderURL("acme", pending, "status"), statusForm(models.OrderInProgress)), http.StatusForbidden)
	if o, _ := a.store.OrderByReference(context.Background(), a.tenant("acme").ID, "ACME-1005"); o.Status != models.OrderPending {
		t.Fatalf("a Viewer's POST moved the order to %s", o.Status)
	}
	// Each row of the list leads to its order's page.
	list := b.get(tenantURL("acme", "/orders"))
	wantBody(t, list, `href="/orders/`+strconv.FormatInt(done, 10)+`"`, `href="/orders/`+strconv.FormatInt(pending, 10)+`"`)
	// A malformed or unknown id is not found.
	wantStatus(t, b.get(tenantURL("acme", "/orders/x")), http.StatusNotFound)
	wantStatus(t, b.get(orderURL("acme", pending+100000)), http.StatusNotFound)
}

func TestOrderStatusChangesFromTheDashboard(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	id := a.orderID("acme", "ACME-1005")
	page := b.get(orderURL("acme", id))
	wantBody(t, page, "Mark in progress", "Cancel order", `data-confirm="Cancel the order for “Olivia Brown”?`, `value="in_progress"`, `value="cancelled"`, `data-dismiss-label="Keep the order"`)
	wantNoBody(t, page, "Mark completed")

	steps := []struct {
		to    models.OrderStatus
		flash string
		next  []string // the buttons the page offers after the step
		not   []string
	}{
		{models.OrderInProgress, "Order for Olivia Brown is now in progress.", []string{"Mark completed", "Cancel order"}, []string{"Mark in progress", "Final:"}},
		{models.OrderCompleted, "Order for Olivia Brown completed.", []string{"Final: a completed order does not change again."}, []string{"Mark completed", "Cancel order", `/status"`}},
	}
	for _, st := range steps {
		r := b.submit(orderURL("acme", id), orderURL("acme", id, "status"), statusForm(st.to))
		wantStatus(t, r, http.StatusSeeOther)
		if r.location != "/orders/"+strconv.FormatInt(id, 10) {
			t.Fatalf("after %s redirected to %q", st.to, r.location)
		}
		page = b.follow(r)
		wantBody(t, page, append([]string{st.flash, "status-pill-" + string(st.to)}, st.next...)...)
		wantNoBody(t, page, st.not...)
	}
	// The history has every step, with who took it.
	history := page.body[strings.Index(page.body, `data-testid="order-history"`):]
	if n := strings.Count(history, `<li class="history-step">`); n != 3 {
		t.Fatalf("history has %d steps, want 3:\n%s", n, excerpt(history))
	}
	if n := strings.Count(history, "Alice Anderson"); n != 2 {
		t.Fatalf("alice is named on %d steps, want 2:\n%s", n, excerpt(history))
	}
	// A completed order is final: cancelling it is refused and says why.
	r := b.submit(orderURL("acme", id), orderURL("acme", id, "status"), statusForm(models.OrderCancelled))
	wantStatus(t, r, http.StatusConflict)
	wantBody(t, r, "That order cannot take this step", "The order is completed now, which is final, so it cannot be moved to cancelled.",
		`href="/orders/`+strconv.FormatInt(id, 10)+`"`, "Back to the order")
	// Skipping a step and unknown statuses are refused too.
	other := a.orderID("acme", "ACME-1006")
	r = b.submit(orderURL("acme", other), orderURL("acme", other, "status"), statusForm(models.OrderCompleted))
	wantStatus(t, r, http.StatusConflict)
	wantBody(t, r, "The order is pending now, so it cannot be moved to completed.")
	r = b.submit(orderURL("acme", other), orderURL("acme", other, "status"), url.Values{"status": {"lost"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	events, err := a.store.OrderEvents(context.Background(), a.tenant("acme").ID, other)
	if err != nil || len(events) != 1 {
		t.Fatalf("refused steps wrote history: %d events (%v)", len(events), err)
	}

	// Cancelling is recorded in the audit log, by alice.
	r = b.submit(orderURL("acme", other), orderURL("acme", other, "status"), statusForm(models.OrderCancelled))
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.follow(r), "Order for Noah Johnson cancelled.", "Final: a cancelled order does not change again.")
	audit := b.get(tenantURL("acme", "/settings/audit"))
	wantBody(t, audit, "order.status_changed")
}

func TestOrderOfAnotherCompanyIsNotFound(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "globex") // Editor in Globex
	id := a.orderID("acme", "ACME-1005")
	wantStatus(t, b.get(orderURL("globex", id)), http.StatusNotFound)
	wantStatus(t, b.submit(tenantURL("globex", "/orders"), orderURL("globex", id, "status"), statusForm(models.OrderCancelled)), http.StatusNotFound)
	if o, _ := a.store.OrderByReference(context.Background(), a.tenant("acme").ID, "ACME-1005"); o.Status != models.OrderPending {
		t.Fatalf("another company's POST moved the order to %s", o.Status)
	}
}

func TestTestDataSwitch(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.makeTestOrder("acme", "ACME-1006")
	b := a.browser()
	b.signIn("dave@acme.test", "acme")

	live := b.get(tenantURL("acme", "/orders"))
	wantStatus(t, live, http.StatusOK)
	wantBody(t, live, "Maria Garcia", "1–5 of 5", `role="switch" aria-checked="false" href="/orders?env=test"`)
	wantNoBody(t, live, "Noah Johnson", "You're viewing test data")

	test := b.get(tenantURL("acme", "/orders?env=test"))
	wantStatus(t, test, http.StatusOK)
	wantBody(t, test, "Test orders", "Noah Johnson", "1–1 of 1", "API key “Staging server”",
		"You're viewing test data — orders made with sandbox API keys. They are never billed.",
		`role="switch" aria-checked="true" href="/orders"`, `<input type="hidden" name="env" value="test">`)
	wantNoBody(t, test, "Maria Garcia", `href="/orders/new"`)

	// A search keeps the switch, and the switch keeps the search.
	searched := b.get(tenantURL("acme", "/orders?env=test&q=noah"))
	wantBody(t, searched, "Noah Johnson", `href="/orders?q=noah"`, `href="/orders?env=test">Clear`)
	none := b.get(tenantURL("acme", "/orders?env=test&q=maria"))
	wantBody(t, none, "No orders match", `href="/orders?env=test"`)
	wantBody(t, b.get(tenantURL("acme", "/orders?q=maria")), "Maria Garcia", `href="/orders?env=test&amp;q=maria"`)
	// A page past the end goes back to the last page of the same list.
	r := b.get(tenantURL("acme", "/orders?env=test&page=9"))
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/orders?env=test&page=1" {
		t.Fatalf("redirected to %q", r.location)
	}

	// The pager keeps the switch.
	growTestOrders(t, a, 20)
	paged := b.get(tenantURL("acme", "/orders?env=test"))
	wantBody(t, paged, "1–20 of 21", `rel="next" href="/orders?env=test&amp;page=2"`)
	wantBody(t, b.get(tenantURL("acme", "/orders?env=test&page=2")), "21–21 of 21", `rel="prev" href="/orders?env=test&amp;page=1"`)

	// The test order's page says it is test data and which key made it.
	page := b.get(orderURL("acme", a.orderID("acme", "ACME-1006")))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, `<span class="badge badge-test">Test data</span>`, "this order was made with a sandbox API key",
		"API key “Staging server”", "cnp_test_…wXyZ", `href="/orders?env=test"`, "Test orders")
	wantNoBody(t, page, testKeyHash("ACME-1006"))

	// A company with no test orders says where they come from.
	empty := b.get(tenantURL("acme", "/orders?env=test&q=zzz"))
	wantBody(t, empty, "No orders match")
	globex := a.browser()
	globex.signIn("bob@globex.test", "globex")
	wantBody(t, globex.get(tenantURL("globex", "/orders?env=test")), "No test orders yet", "sandbox key (cnp_test_…)", "Back to live orders")
}

// Counts people read are of live orders: the template's page does not count
// a test order, which still keeps the template from being deleted.
func TestTemplateCountsLiveOrders(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	tpl := strconv.FormatInt(a.templateID("acme", "Employment verification"), 10)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	wantBody(t, b.get(tenantURL("acme", "/templates/"+tpl)), `data-testid="template-orders">3 orders<`)
	a.makeTestOrder("acme", "ACME-1006")
	page := b.get(tenantURL("acme", "/templates/"+tpl))
	wantBody(t, page, `data-testid="template-orders">2 orders (test orders not counted)<`, "2 orders were made from it, test orders too")
	wantNoBody(t, page, "Delete")
}

// growOrderHistory gives acme's pending order ACME-1005 n steps of history
// in all, written straight into the table (the statuses allow three).
func growOrderHistory(t *testing.T, a *app, n int) {
	t.Helper()
	acme, id := a.tenant("acme").ID, a.orderID("acme", "ACME-1005")
	for range n - 1 {
		err := a.db.Exec("INSERT INTO order_events (tenant_id, order_id, from_status, to_status, actor_user_id, actor_label, created_at) VALUES (?, ?, 'pending', 'pending', ?, 'alice@acme.test', CURRENT_TIMESTAMP)",
			acme, id, a.user("alice@acme.test").ID).Error
		if err != nil {
			t.Fatal(err)
		}
	}
	events, err := a.store.OrderEvents(context.Background(), acme, id)
	if err != nil || len(events) != n {
		t.Fatalf("ACME-1005 has %d steps (%v), want %d", len(events), err, n)
	}
}

// growTestOrders gives acme n test orders, made by a sandbox key.
func growTestOrders(t *testing.T, a *app, n int) {
	t.Helper()
	ctx := context.Background()
	acme := a.tenant("acme")
	key, err := a.store.CreateAPIKey(ctx, acme.ID, models.NewAPIKey{Name: "Guard key", Environment: models.APISandbox,
		Scopes: []models.APIScope{models.ScopeOrdersWrite}}, models.HashedAPIKey{Hash: testKeyHash("guard"), Prefix: "cnp_test_", Last4: "gUaR"})
	if err != nil {
		t.Fatal(err)
	}
	m := a.membershipID("alice@acme.test", "acme")
	tpl := a.templateID("acme", "Employment verification")
	for i := range n {
		_, err := a.store.CreateOrder(ctx, acme.ID, m, models.NewOrder{TemplateID: tpl,
			ApplicantName: fmt.Sprintf("Tester %03d", i), Reference: fmt.Sprintf("TST-%04d", i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
	}
	err = a.db.Exec("UPDATE orders SET environment = 'test', created_by_user_id = NULL, created_by_api_key_id = ? WHERE tenant_id = ? AND reference LIKE 'TST-%'",
		key.ID, acme.ID).Error
	if err != nil {
		t.Fatal(err)
	}
}
