package e2e

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"canopy/internal/netguard"
	"canopy/internal/webhook"
	"canopy/internal/webhookworker"
	"canopy/models"
)

// signedReceiver is a receiver on loopback that answers 204 to requests
// whose Standard Webhooks signature verifies with its secret (set once the
// page showed it), 401 to others, and keeps the webhook-ids it accepted.
type signedReceiver struct {
	mu       sync.Mutex
	secret   string
	accepted []string
	refused  int
}

func (rc *signedReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.secret == "" || webhook.Verify(rc.secret, r.Header, body, time.Now()) != nil {
		rc.refused++
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	rc.accepted = append(rc.accepted, r.Header.Get("webhook-id"))
	w.WriteHeader(http.StatusNoContent)
}

func (rc *signedReceiver) ids() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.accepted...)
}

// startWebhookWorker delivers the test server's webhooks, to loopback.
func startWebhookWorker(t *testing.T, a *app) {
	t.Helper()
	wk := webhookworker.New(a.store, netguard.Policy{AllowPrivate: true}, slog.New(slog.NewTextHandler(io.Discard, nil)),
		webhookworker.WithPollInterval(100*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); wk.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// waitForText reloads the page until the first element matching selector
// says phrase, for at most 20 s.
func waitForText(t *testing.T, tab context.Context, selector, phrase string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		text, err := chromedp.Run(tab, chromedp.Evaluate[string](`(document.querySelector(`+strconv.Quote(selector)+`) || {}).textContent || ""`))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(text, phrase) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never said %q; it says %q", selector, phrase, text)
		}
		time.Sleep(300 * time.Millisecond)
		if err := chromedp.Do(tab, chromedp.Reload()); err != nil {
			t.Fatal(err)
		}
	}
}

// TestWebhooksCreateTestEventReplay: alice opens Developers → Webhooks,
// adds a sandbox endpoint at a receiver verifying signatures, choosing its
// fields with the preview following; reveals the secret for the receiver,
// sends a test event and sees it delivered in the log, then replays it
// with the same webhook-id. At phone width the pages fit.
func TestWebhooksCreateTestEventReplay(t *testing.T) {
	requireBrowser(t)
	t.Parallel()
	a := startCanopy(t)
	startWebhookWorker(t, a)
	rc := &signedReceiver{}
	receiver := httptest.NewServer(rc)
	t.Cleanup(receiver.Close)

	tab := newTab(t, newBrowser(t), desktop)
	signIn(t, tab, a, "acme", "alice@acme.test")
	clickAndWait(t, tab, `.sidebar-nav a[href="/developers/api-keys"]`)
	clickAndWait(t, tab, `.tabs a[href="/developers/webhooks"]`)
	wantText(t, tab, "Webhooks", "Sandbox", "No sandbox endpoints yet", "Production", "No production endpoints yet")
	screenshot(t, tab, "webhooks-empty-desktop.png")

	clickAndWait(t, tab, `.page-actions a[href="/developers/webhooks/new"]`)
	typeInto(t, tab, [][2]string{{"#f-url", receiver.URL + "/hooks"}, {"#f-description", "Test receiver"}})
	// The preview follows the fields: personal data is off until ticked.
	preview := func() string {
		text, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector("[data-preview-output]").textContent`))
		if err != nil {
			t.Fatal(err)
		}
		return text
	}
	if strings.Contains(preview(), "applicant_email") || !strings.Contains(preview(), `"reference": "PO-2026-0042"`) {
		t.Fatalf("the first preview:\n%s", preview())
	}
	click(t, tab, `input[name="field_order"][value="applicant_email"]`)
	click(t, tab, `input[name="field_order"][value="reference"]`)
	if p := preview(); !strings.Contains(p, `"applicant_email": "jordan@example.com"`) || strings.Contains(p, "reference") {
		t.Fatalf("the preview after ticking applicant_email and unticking reference:\n%s", p)
	}
	screenshot(t, tab, "webhook-new-desktop.png")
	if status := clickAndWait(t, tab, `form[action="/developers/webhooks"] button[type="submit"]`); status != http.StatusOK {
		t.Fatalf("Add endpoint answered %d", status)
	}
	wantText(t, tab, "Endpoint added", receiver.URL+"/hooks", "Nothing sent yet")

	clickAndWait(t, tab, `form[action$="/reveal"] button`)
	secret, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById("webhook-secret").textContent.trim()`))
	if err != nil || !strings.HasPrefix(secret, webhook.SecretPrefix) {
		t.Fatalf("the page shows the secret %q (%v)", secret, err)
	}
	rc.mu.Lock()
	rc.secret = secret
	rc.mu.Unlock()
	screenshot(t, tab, "webhook-secret-desktop.png")

	clickAndWait(t, tab, `form[action$="/test"] button[type="submit"]`)
	wantText(t, tab, "Test order.created event queued")
	waitForText(t, tab, ".delivery-table .status-pill", "Delivered")
	screenshot(t, tab, "webhook-log-desktop.png")
	if ids := rc.ids(); len(ids) != 1 {
		t.Fatalf("the receiver accepted %v", ids)
	}

	clickAndWait(t, tab, `.delivery-table a[href^="/developers/webhooks/deliveries/"]`)
	wantText(t, tab, "order.created delivery", "Body sent", "Attempt 1", "Succeeded", "204")
	clickAndWait(t, tab, `form[action$="/replay"] button`)
	wantText(t, tab, "Replay queued")
	waitForText(t, tab, ".webhook-attempt", "Attempt 2")
	waitForText(t, tab, `[data-testid="delivery-status"]`, "Delivered")
	screenshot(t, tab, "webhook-delivery-desktop.png")
	if ids := rc.ids(); len(ids) != 2 || ids[0] != ids[1] {
		t.Fatalf("the receiver accepted %v, want the same webhook-id twice", ids)
	}

	// The endpoint is in the list with its last delivery.
	open(t, tab, a.tenantURL("acme", "/developers/webhooks"))
	wantText(t, tab, receiver.URL+"/hooks", "Test receiver", "10 events", "Enabled", "Delivered")
	screenshot(t, tab, "webhooks-desktop.png")

	phoneTab := newTab(t, newBrowser(t), phone)
	signIn(t, phoneTab, a, "acme", "alice@acme.test")
	open(t, phoneTab, a.tenantURL("acme", "/developers/webhooks"))
	wantText(t, phoneTab, "Test receiver", "Delivered")
	wantNoSideways(t, phoneTab)
	screenshot(t, phoneTab, "webhooks-phone.png")
	endpoints, err := a.store.ListWebhookEndpoints(context.Background(), tenantNamed(t, a, "acme").ID, models.WebhookSandbox)
	if err != nil || len(endpoints) != 1 {
		t.Fatalf("endpoints %v (%v)", endpoints, err)
	}
	open(t, phoneTab, a.tenantURL("acme", "/developers/webhooks/"+strconv.FormatInt(endpoints[0].ID, 10)))
	wantText(t, phoneTab, "Delivery log", "order.created")
	wantNoSideways(t, phoneTab)
	screenshot(t, phoneTab, "webhook-endpoint-phone.png")
	open(t, phoneTab, a.tenantURL("acme", "/developers/webhooks/"+strconv.FormatInt(endpoints[0].ID, 10)+"/edit"))
	wantNoSideways(t, phoneTab)
	screenshot(t, phoneTab, "webhook-edit-phone.png")
}

// webhooksForTour gives Acme a sandbox endpoint with test deliveries and a
// production endpoint disabled after a 410, and returns the first
// endpoint and one of its deliveries.
func webhooksForTour(t *testing.T, a *app, acme *models.Tenant) (endpointID, deliveryID int64) {
	t.Helper()
	ctx := context.Background()
	e, _, err := a.store.CreateWebhookEndpoint(ctx, acme.ID, models.WebhookEndpointInput{Environment: models.WebhookSandbox,
		URL: "http://127.0.0.1:9997/webhooks", Description: "Billing system (staging)", Events: []string{models.EventOrderCreated, models.EventMemberAdded}})
	if err != nil {
		t.Fatal(err)
	}
	for _, event := range []string{models.EventMemberAdded, models.EventOrderCreated} {
		d, err := a.store.SendWebhookTestEvent(ctx, acme.ID, e.ID, event)
		if err != nil {
			t.Fatal(err)
		}
		deliveryID = d.ID
	}
	gone, _, err := a.store.CreateWebhookEndpoint(ctx, acme.ID, models.WebhookEndpointInput{Environment: models.WebhookProduction,
		URL: "https://erp.acme.example/hooks/canopy", Events: []string{models.EventDeviceCreated}})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.db.Exec("UPDATE webhook_endpoints SET enabled = ?, disabled_reason = ? WHERE id = ?", false,
		"Disabled after the endpoint answered 410 Gone", gone.ID).Error; err != nil {
		t.Fatal(err)
	}
	return e.ID, deliveryID
}
