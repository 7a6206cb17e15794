package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"canopy/models"
)

// acmeOrder is the id of one of Acme's demo orders, by its reference.
func acmeOrder(t *testing.T, a *app, reference string) int64 {
	t.Helper()
	acme := tenantNamed(t, a, "acme")
	o, err := a.store.OrderByReference(context.Background(), acme.ID, reference)
	if err != nil {
		t.Fatal(err)
	}
	return o.ID
}

// makeTestOrder turns one of Acme's demo orders into test data, as if a
// sandbox API key named "Staging server" had made it.
func makeTestOrder(t *testing.T, a *app, reference string) int64 {
	t.Helper()
	acme := tenantNamed(t, a, "acme")
	sum := sha256.Sum256([]byte("e2e " + reference))
	key, err := a.store.CreateAPIKey(context.Background(), acme.ID, models.NewAPIKey{Name: "Staging server", Environment: models.APISandbox,
		Scopes: []models.APIScope{models.ScopeOrdersWrite}}, models.HashedAPIKey{Hash: hex.EncodeToString(sum[:]), Prefix: "cnp_test_", Last4: "q7Rx"})
	if err != nil {
		t.Fatal(err)
	}
	id := acmeOrder(t, a, reference)
	for _, stmt := range []string{
		"UPDATE orders SET environment = 'test', created_by_user_id = NULL, created_by_api_key_id = ? WHERE id = ?",
		"UPDATE order_events SET actor_user_id = NULL, actor_label = '', api_key_id = ? WHERE order_id = ?",
	} {
		if err := a.db.Exec(stmt, key.ID, id).Error; err != nil {
			t.Fatal(err)
		}
	}
	return id
}

// historySteps is how many steps the order's history shows.
func historySteps(t *testing.T, tab context.Context) int {
	t.Helper()
	n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll("[data-testid=order-history] li").length`))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestOrderLifecycle: alice opens an order from the list (which holds live
// orders only), moves it to In progress and then Completed and reads its
// history.
func TestOrderLifecycle(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	makeTestOrder(t, a, "ACME-1006")
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders")), http.StatusOK)
	wantText(t, tab, "Olivia Brown", "1–5 of 5", "Test data")
	pending := acmeOrder(t, a, "ACME-1005")
	if status := clickAndWait(t, tab, fmt.Sprintf(`a[href="/orders/%d"]`, pending)); status != http.StatusOK {
		t.Fatalf("the order's page answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), fmt.Sprintf("/orders/%d", pending))
	wantText(t, tab, "Order for Olivia Brown", "Income verification · reference ACME-1005", "olivia.brown@example.com",
		"Pending", "Live", "Bob Brown", "Status history", "Created", "Mark in progress", "Cancel order")
	screenshot(t, tab, "order.png")

	steps := []struct{ button, flash, status string }{
		{"Mark in progress", "Order for Olivia Brown is now in progress.", "In progress"},
		{"Mark completed", "Order for Olivia Brown completed.", "Completed"},
	}
	for i, st := range steps {
		clickXPath(t, tab, `//button[normalize-space() = "`+st.button+`"]`)
		if err := chromedp.Do(tab, chromedp.WaitVisible(chromedp.Search(`//*[contains(@class, "flash")][contains(., "`+st.flash+`")]`))); err != nil {
			t.Fatalf("after %s: %v", st.button, err)
		}
		wantText(t, tab, st.flash, st.status)
		if n := historySteps(t, tab); n != i+2 {
			t.Fatalf("after %s the history shows %d steps, want %d", st.button, n, i+2)
		}
	}
	wantText(t, tab, "Final: a completed order does not change again.", "Alice Anderson")
	wantNoElement(t, tab, `form[action$="/status"]`)
	screenshot(t, tab, "order-completed.png")
}

// TestOrderCancelAndTestData: alice cancels an order through the
// confirmation, then turns the Test data switch on, opens a test order and
// turns the switch off again.
func TestOrderCancelAndTestData(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	testOrder := makeTestOrder(t, a, "ACME-1006")
	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")

	// Cancelling asks first; cancelling the question changes nothing.
	inProgress := acmeOrder(t, a, "ACME-1002")
	wantStatus(t, open(t, tab, a.tenantURL("acme", fmt.Sprintf("/orders/%d", inProgress))), http.StatusOK)
	wantText(t, tab, "Order for James Wilson", "In progress", "Mark completed")
	// The page's button, not the dialog's Confirm, which takes its label.
	cancel := `//form[@data-confirm]/button[normalize-space() = "Cancel order"]`
	cancelThenConfirm(t, tab, cancel, cancel, "Cancel the order for “James Wilson”?")
	wantText(t, tab, "Order for James Wilson cancelled.", "Final: a cancelled order does not change again.")
	screenshot(t, tab, "order-cancelled.png")

	// The Test data switch shows the test orders, with the banner, and back.
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders")), http.StatusOK)
	if status := clickAndWait(t, tab, `[data-testid="test-data-switch"]`); status != http.StatusOK {
		t.Fatalf("the switch answered %d", status)
	}
	if u := location(t, tab); u.RawQuery != "env=test" {
		t.Fatalf("the switch led to %s", u)
	}
	wantText(t, tab, "You're viewing test data — orders made with sandbox API keys. They are never billed.", "Noah Johnson", "1–1 of 1")
	if text := pageText(t, tab); strings.Contains(text, "Maria Garcia") || strings.Contains(text, "Create order") {
		t.Fatal("the test data shows live orders or offers to create one")
	}
	screenshot(t, tab, "orders-test-data.png")
	if status := clickAndWait(t, tab, fmt.Sprintf(`a[href="/orders/%d"]`, testOrder)); status != http.StatusOK {
		t.Fatalf("the test order's page answered %d", status)
	}
	wantText(t, tab, "Test data", "this order was made with a sandbox API key", "API key “Staging server”", "cnp_test_…q7Rx", "Test orders")
	screenshot(t, tab, "order-test.png")
	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders?env=test")), http.StatusOK)
	if status := clickAndWait(t, tab, `[data-testid="test-data-switch"]`); status != http.StatusOK {
		t.Fatalf("the switch answered %d", status)
	}
	wantLocation(t, tab, a.tenantHost("acme"), "/orders")
	wantNoElement(t, tab, `[data-testid="test-data-banner"]`)
	wantText(t, tab, "Maria Garcia")
}

// TestOrderAtPhoneWidth: an order's page and the test data stay readable
// on a phone, and a Viewer sees no buttons.
func TestOrderAtPhoneWidth(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	makeTestOrder(t, a, "ACME-1006")
	tab := newTab(t, newBrowser(t), phone)
	signIn(t, tab, a, "acme", "alice@acme.test")

	wantStatus(t, open(t, tab, a.tenantURL("acme", fmt.Sprintf("/orders/%d", acmeOrder(t, a, "ACME-1001")))), http.StatusOK)
	wantText(t, tab, "Order for Maria Garcia", "Completed", "Status history")
	wantNoSideways(t, tab)
	screenshot(t, tab, "order-phone.png")

	wantStatus(t, open(t, tab, a.tenantURL("acme", "/orders?env=test")), http.StatusOK)
	wantText(t, tab, "You're viewing test data", "Noah Johnson")
	wantNoSideways(t, tab)
	screenshot(t, tab, "orders-test-data-phone.png")

	viewer := newTab(t, newBrowser(t), phone)
	signIn(t, viewer, a, "acme", "dave@acme.test")
	wantStatus(t, open(t, viewer, a.tenantURL("acme", fmt.Sprintf("/orders/%d", acmeOrder(t, a, "ACME-1005")))), http.StatusOK)
	wantText(t, viewer, "Order for Olivia Brown", "Pending")
	wantNoElement(t, viewer, `form[action$="/status"]`)
	wantNoSideways(t, viewer)
	screenshot(t, viewer, "order-viewer-phone.png")
}
