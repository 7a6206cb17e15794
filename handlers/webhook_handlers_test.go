package handlers_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"canopy/models"
)

var webhooksPage = tenantURL("acme", "/developers/webhooks")

func webhookForm(env, rawURL string, events []string, fields map[string][]string) url.Values {
	v := url.Values{"environment": {env}, "url": {rawURL}, "description": {"Billing system"}, "events": events}
	for object, names := range fields {
		v["field_"+object] = names
	}
	return v
}

// createEndpoint adds an endpoint through the form and returns its id.
func createEndpoint(t *testing.T, b *browser, form url.Values) int64 {
	t.Helper()
	r := b.submit(webhooksPage+"/new", webhooksPage, form)
	wantStatus(t, r, http.StatusSeeOther)
	id, err := strconv.ParseInt(strings.TrimPrefix(r.location, "/developers/webhooks/"), 10, 64)
	if err != nil {
		t.Fatalf("created endpoint at %q", r.location)
	}
	return id
}

func endpointURL(id int64, action ...string) string {
	return tenantURL("acme", strings.Join(append([]string{"/developers/webhooks/" + strconv.FormatInt(id, 10)}, action...), "/"))
}

var shownSecret = regexp.MustCompile(`whsec_[A-Za-z0-9+/=]{32,}`)

// TestWebhookEndpointFormShapesThePayload: the fields chosen in the form
// are what the endpoint keeps and what its preview and test events carry;
// personal data is off until ticked.
func TestWebhookEndpointFormShapesThePayload(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")

	form := alice.get(webhooksPage + "/new")
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "Customise returned data", "Personal data", `data-webhook-preview`, "order.created")
	if strings.Contains(form.body, `value="applicant_email" data-object="order" checked`) {
		t.Error("personal data is ticked by default")
	}

	id := createEndpoint(t, alice, webhookForm("sandbox", "http://127.0.0.1:9/hooks", []string{"order.created", "member.added"},
		map[string][]string{"order": {"id", "status", "applicant_email"}, "member": {"user_id"}}))
	e, err := a.store.WebhookEndpointOf(context.Background(), a.tenant("acme").ID, id)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.FieldChoice().For(models.WebhookObjectOrder), ","); got != "id,status,applicant_email" {
		t.Errorf("order fields kept %q", got)
	}
	if got := e.FieldChoice().For(models.WebhookObjectDevice); len(got) != 0 {
		t.Errorf("device fields kept %v, none were ticked", got)
	}
	page := alice.follow(alice.get(endpointURL(id)))
	wantBody(t, page, "Endpoint added", "http://127.0.0.1:9/hooks", "Reveal secret", "Nothing sent yet")

	// The edit form's preview is the server's, for the fields chosen.
	edit := alice.get(endpointURL(id, "edit"))
	wantStatus(t, edit, http.StatusOK)
	preview := html.UnescapeString(edit.body)
	for _, want := range []string{`"applicant_email": "jordan@example.com"`, `"status": "pending"`, `"type": "order.created"`} {
		if !strings.Contains(preview, want) {
			t.Errorf("the preview lacks %s", want)
		}
	}
	if strings.Contains(preview, `"applicant_name": "Jordan Example"`+"\n") && strings.Contains(preview, `<pre class="code-block" data-preview-output`) {
		// applicant_name appears in data-samples (every field), never in the preview itself.
		pre := preview[strings.Index(preview, "data-preview-output"):]
		if strings.Contains(pre[:strings.Index(pre, "</pre>")], "applicant_name") {
			t.Error("the preview carries a field that was not chosen")
		}
	}

	// The test event's body carries exactly those fields.
	r := alice.submit(endpointURL(id), endpointURL(id, "test"), url.Values{"event": {"order.created"}})
	wantStatus(t, r, http.StatusSeeOther)
	log := alice.follow(r)
	wantBody(t, log, "Test order.created event queued", "Test", "Pending")
	deliveries, err := a.store.ListWebhookDeliveries(context.Background(), a.tenant("acme").ID, id, models.WebhookDeliveryFilter{}, models.PageRequest{Number: 1, Size: 10})
	if err != nil || len(deliveries.Items) != 1 {
		t.Fatalf("deliveries %v (%v)", deliveries.Items, err)
	}
	body := deliveries.Items[0].Body
	if !strings.Contains(body, `"applicant_email"`) || strings.Contains(body, `"applicant_name"`) || strings.Contains(body, `"template_name"`) {
		t.Errorf("test event body %s", body)
	}
}

// TestWebhookEndpointFormRefusals: a production endpoint needs https, the
// message beside the URL; an endpoint needs an event.
func TestWebhookEndpointFormRefusals(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	r := alice.submit(webhooksPage+"/new", webhooksPage, webhookForm("production", "http://hooks.example.com/in", []string{"order.created"}, nil))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Production endpoints need an https:// URL.", `id="f-url-error"`, `value="http://hooks.example.com/in"`)
	r = alice.submit(webhooksPage+"/new", webhooksPage, webhookForm("sandbox", "http://hooks.example.com/in", nil, nil))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Choose at least one event.")
	// Production with https is fine.
	id := createEndpoint(t, alice, webhookForm("production", "https://hooks.example.com/in", []string{"device.created"}, nil))
	list := alice.get(webhooksPage)
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "https://hooks.example.com/in", "1 event", "Enabled", "None yet", "No sandbox endpoints yet")
	_ = id
}

// TestWebhookPagesAreForAdmins: Viewers and Editors are refused every
// page; the Developers tabs offer Webhooks only to those who may see it;
// another company's endpoint is not found.
func TestWebhookPagesAreForAdmins(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	e, _, err := a.store.CreateWebhookEndpoint(ctx, a.tenant("acme").ID, models.WebhookEndpointInput{Environment: models.WebhookSandbox,
		URL: "https://hooks.example.com/acme", Events: []string{models.EventOrderCreated}})
	if err != nil {
		t.Fatal(err)
	}
	dave := a.browser() // a Viewer at acme
	dave.signIn("dave@acme.test", "acme")
	for _, path := range []string{"/developers/webhooks", "/developers/webhooks/new", "/developers/webhooks/" + strconv.FormatInt(e.ID, 10)} {
		wantStatus(t, dave.get(tenantURL("acme", path)), http.StatusForbidden)
	}
	keys := dave.get(tenantURL("acme", "/developers/api-keys"))
	if strings.Contains(keys.body, `href="/developers/webhooks"`) {
		t.Error("a Viewer is offered the Webhooks tab")
	}
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	wantBody(t, alice.get(tenantURL("acme", "/developers/api-keys")), `href="/developers/webhooks"`)
	// Bob is an Admin of globex: acme's endpoint is not found there.
	bob := a.browser()
	bob.signIn("bob@globex.test", "globex")
	wantStatus(t, bob.get(tenantURL("globex", "/developers/webhooks/"+strconv.FormatInt(e.ID, 10))), http.StatusNotFound)
	wantStatus(t, bob.submit(tenantURL("globex", "/developers/webhooks"), tenantURL("globex", "/developers/webhooks/"+strconv.FormatInt(e.ID, 10)+"/reveal"), nil),
		http.StatusNotFound)
}

// TestWebhookSecretRevealAndRotate: revealing shows the secret on an
// uncached page and records who saw it; rotating shows the new one with
// the old one still signing.
func TestWebhookSecretRevealAndRotate(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	id := createEndpoint(t, alice, webhookForm("sandbox", "https://hooks.example.com/in", []string{"order.created"}, nil))
	page := alice.get(endpointURL(id))
	if shownSecret.MatchString(page.body) {
		t.Fatal("the endpoint's page shows its secret before it is asked for")
	}
	r := alice.submit(endpointURL(id), endpointURL(id, "reveal"), nil)
	wantStatus(t, r, http.StatusOK)
	first := shownSecret.FindString(r.body)
	if first == "" {
		t.Fatalf("reveal shows no secret\n%s", excerpt(r.body))
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("the revealed secret is cached: %q", got)
	}
	audit, err := a.store.AuditLog(context.Background(), a.tenant("acme").ID, false, models.AuditFilter{Action: models.AuditWebhookSecretRevealed}, models.PageRequest{Number: 1, Size: 10})
	if err != nil || len(audit.Items) != 1 || audit.Items[0].ActorEmail != "alice@acme.test" {
		t.Fatalf("reveal audited as %+v (%v)", audit.Items, err)
	}

	r = alice.submit(endpointURL(id), endpointURL(id, "rotate"), nil)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "New secret made", "Previous secret, signing until")
	shown := shownSecret.FindAllString(r.body, -1)
	if len(shown) != 2 || shown[0] == first || shown[1] != first {
		t.Fatalf("after rotating the page shows %v, want the new secret then %s", shown, first)
	}
}

// TestWebhookDeliveryLog: test events appear in the log, filters narrow
// it, a delivery's page shows what was sent, Replay and Resend failed
// queue deliveries again, and a disabled endpoint sends nothing.
func TestWebhookDeliveryLog(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme").ID
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	id := createEndpoint(t, alice, webhookForm("sandbox", "https://hooks.example.com/in", []string{"order.created"}, nil))
	for _, event := range []string{"order.created", "member.added"} {
		wantStatus(t, alice.submit(endpointURL(id), endpointURL(id, "test"), url.Values{"event": {event}}), http.StatusSeeOther)
	}
	log := alice.get(endpointURL(id))
	wantBody(t, log, "order.created", "member.added", "Pending")
	filtered := alice.get(endpointURL(id) + "?event=member.added")
	if !strings.Contains(filtered.body, "<code>member.added</code>") || strings.Contains(filtered.body, "<code>order.created</code>") {
		t.Errorf("the event filter shows\n%s", excerpt(filtered.body))
	}
	none := alice.get(endpointURL(id) + "?status=succeeded")
	wantBody(t, none, "No deliveries match these filters")

	page, err := a.store.ListWebhookDeliveries(ctx, acme, id, models.WebhookDeliveryFilter{EventType: "order.created"}, models.PageRequest{Number: 1, Size: 10})
	if err != nil || len(page.Items) != 1 {
		t.Fatal(page.Items, err)
	}
	delivery := page.Items[0]
	deliveryURL := tenantURL("acme", "/developers/webhooks/deliveries/"+strconv.FormatInt(delivery.ID, 10))
	detail := alice.get(deliveryURL)
	wantStatus(t, detail, http.StatusOK)
	wantBody(t, detail, delivery.MsgID, "Body sent", "Not tried yet", "&#34;type&#34;: &#34;order.created&#34;")

	// Failed deliveries: Replay one, Resend the rest.
	if err := a.db.Exec("UPDATE webhook_deliveries SET status = ? WHERE endpoint_id = ?", models.DeliveryFailed, id).Error; err != nil {
		t.Fatal(err)
	}
	r := alice.submit(deliveryURL, deliveryURL+"/replay", nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, alice.follow(r), "Replay queued")
	status := func(deliveryID int64) string {
		d, err := a.store.WebhookDeliveryOf(ctx, acme, deliveryID)
		if err != nil {
			t.Fatal(err)
		}
		return d.Status
	}
	if got := status(delivery.ID); got != models.DeliveryPending {
		t.Errorf("replayed delivery is %s", got)
	}
	r = alice.submit(endpointURL(id), endpointURL(id, "resend"), url.Values{"since": {"2020-01-01T00:00"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, alice.follow(r), "Resending 1 failed delivery")
	r = alice.submit(endpointURL(id), endpointURL(id, "resend"), url.Values{"since": {"not a date"}})
	wantBody(t, alice.follow(r), "Choose the date and time")

	// Disabled: no test event, no replay; enabling again works.
	wantStatus(t, alice.submit(endpointURL(id), endpointURL(id, "disable"), nil), http.StatusSeeOther)
	r = alice.submit(endpointURL(id), endpointURL(id, "test"), url.Values{"event": {"order.created"}})
	wantBody(t, alice.follow(r), "Nothing is sent to a disabled endpoint", "Disabled by alice@acme.test")
	r = alice.submit(deliveryURL, deliveryURL+"/replay", nil)
	wantBody(t, alice.follow(r), "Nothing is sent to a disabled endpoint")
	wantStatus(t, alice.submit(endpointURL(id), endpointURL(id, "enable"), nil), http.StatusSeeOther)
	wantBody(t, alice.get(webhooksPage), "Enabled")

	// Delete: gone with its log.
	wantStatus(t, alice.submit(endpointURL(id), endpointURL(id, "delete"), nil), http.StatusSeeOther)
	wantStatus(t, alice.get(endpointURL(id)), http.StatusNotFound)
	wantStatus(t, alice.get(deliveryURL), http.StatusNotFound)
}
