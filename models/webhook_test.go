package models_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"canopy/internal/webhook"
	"canopy/models"
)

// webhookKey seals endpoint secrets in these tests.
var webhookKey = []byte("0123456789abcdef0123456789abcdef")

type webhookWorld struct {
	templateWorld
	tpl *models.Template
}

func newWebhookWorld(t *testing.T) webhookWorld {
	t.Helper()
	w := webhookWorld{templateWorld: newTemplateWorld(t)}
	store, err := w.store.WithWebhooks(models.WebhookSettings{SecretKey: webhookKey, HTTPHosts: []string{"hooks.intranet"}})
	if err != nil {
		t.Fatal(err)
	}
	w.store = store
	w.tpl = mustTemplate(t, w.store, w.acme.ID, "Employment")
	return w
}

func (w webhookWorld) endpoint(t *testing.T, tenantID int64, env models.WebhookEnvironment, events []string, fields models.WebhookFields) *models.WebhookEndpoint {
	t.Helper()
	url := "https://hooks.example.com/" + string(env)
	e, secret, err := w.store.CreateWebhookEndpoint(context.Background(), tenantID, models.WebhookEndpointInput{
		Environment: env, URL: url, Events: events, Fields: fields})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, webhook.SecretPrefix) {
		t.Fatalf("secret %q", secret)
	}
	return e
}

// deliveries lists an endpoint's deliveries, oldest first.
func (w webhookWorld) deliveries(t *testing.T, e *models.WebhookEndpoint) []models.WebhookDeliveryRow {
	t.Helper()
	p, err := w.store.ListWebhookDeliveries(context.Background(), e.TenantID, e.ID, models.WebhookDeliveryFilter{}, models.PageRequest{Number: 1, Size: 100})
	if err != nil {
		t.Fatal(err)
	}
	slices.Reverse(p.Items)
	return p.Items
}

type payload struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

func decodePayload(t *testing.T, body string) payload {
	t.Helper()
	var p payload
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		t.Fatalf("body %q: %v", body, err)
	}
	if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
		t.Fatalf("timestamp %q: %v", p.Timestamp, err)
	}
	return p
}

func types(rows []models.WebhookDeliveryRow) []string {
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.EventType
	}
	return out
}

func allEvents() []string {
	out := make([]string, len(models.WebhookEventTypes))
	for i, e := range models.WebhookEventTypes {
		out[i] = e.Type
	}
	return out
}

// Orders announce themselves to production endpoints (a dashboard order is
// live), shaped by each endpoint's fields: personal data only where chosen.
func TestOrderEventsShapedPerEndpoint(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := context.Background()
	plain := w.endpoint(t, w.acme.ID, models.WebhookProduction, []string{models.EventOrderCreated, models.EventOrderCompleted, models.EventOrderStatusChanged}, nil)
	personal := w.endpoint(t, w.acme.ID, models.WebhookProduction, []string{models.EventOrderCreated},
		models.WebhookFields{models.WebhookObjectOrder: {"id", "status", "applicant_email"}})
	sandbox := w.endpoint(t, w.acme.ID, models.WebhookSandbox, allEvents(), nil)
	devicesOnly := w.endpoint(t, w.acme.ID, models.WebhookProduction, []string{models.EventDeviceCreated}, nil)

	o, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: w.tpl.ID, ApplicantName: "Jane Roe", ApplicantEmail: "jane@example.com", Reference: "R-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, to := range []models.OrderStatus{models.OrderInProgress, models.OrderCompleted} {
		if _, err := w.store.ChangeOrderStatus(ctx, w.acme.ID, o.ID, to); err != nil {
			t.Fatal(err)
		}
	}

	got := w.deliveries(t, plain)
	if want := []string{"order.created", "order.status_changed", "order.status_changed", "order.completed"}; !slices.Equal(types(got), want) {
		t.Fatalf("plain endpoint got %v, want %v", types(got), want)
	}
	created := decodePayload(t, got[0].Body)
	if created.Type != "order.created" || created.Data["reference"] != "R-1" || created.Data["template_name"] != "Employment" ||
		created.Data["environment"] != "live" || created.Data["status"] != "pending" {
		t.Errorf("order.created data %v", created.Data)
	}
	for _, personalField := range []string{"applicant_name", "applicant_email"} {
		if _, ok := created.Data[personalField]; ok {
			t.Errorf("default fields carry %s: %v", personalField, created.Data)
		}
	}
	if _, ok := created.Data["previous_status"]; ok {
		t.Errorf("order.created carries previous_status: %v", created.Data)
	}
	completed := decodePayload(t, got[3].Body)
	if completed.Data["status"] != "completed" || completed.Data["previous_status"] != "in_progress" {
		t.Errorf("order.completed data %v", completed.Data)
	}

	mine := w.deliveries(t, personal)
	if len(mine) != 1 {
		t.Fatalf("personal endpoint got %v", types(mine))
	}
	data := decodePayload(t, mine[0].Body).Data
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{"applicant_email", "id", "status"}) || data["applicant_email"] != "jane@example.com" {
		t.Errorf("chosen fields shaped %v", data)
	}
	if n := len(w.deliveries(t, sandbox)); n != 0 {
		t.Errorf("a live order reached a sandbox endpoint %d times", n)
	}
	// An order made through the API is announced the same way: a sandbox
	// key's test order to the sandbox endpoint only.
	key, err := w.store.CreateAPIKey(ctx, w.acme.ID, models.NewAPIKey{Name: "Integration", Environment: models.APISandbox, Scopes: models.APIScopes},
		models.HashedAPIKey{Hash: strings.Repeat("ab", 32), Prefix: "cnp_test_", Last4: "abcd"})
	if err != nil {
		t.Fatal(err)
	}
	byKey := models.WithActor(ctx, models.Actor{Email: "API key", APIKeyID: key.ID})
	if _, err := w.store.CreateOrderByAPIKey(byKey, w.acme.ID, models.NewAPIOrder{NewOrder: models.NewOrder{TemplateID: w.tpl.ID, ApplicantName: "Test Person"},
		APIKeyID: key.ID, Environment: models.OrderTest}, nil); err != nil {
		t.Fatal(err)
	}
	if got := types(w.deliveries(t, sandbox)); !slices.Equal(got, []string{"order.created"}) {
		t.Errorf("the sandbox endpoint heard %v of a test order made through the API, want order.created", got)
	}
	if n := len(w.deliveries(t, plain)); n != 4 {
		t.Errorf("a test order reached a production endpoint: %d deliveries", n)
	}
	if n := len(w.deliveries(t, devicesOnly)); n != 0 {
		t.Errorf("an endpoint not subscribed to orders got %d", n)
	}
	// One webhook-id per event and environment, the same for every endpoint.
	if mine[0].MsgID != got[0].MsgID || !strings.HasPrefix(got[0].MsgID, "msg_") || got[0].MsgID == got[1].MsgID {
		t.Errorf("message ids %q %q %q", mine[0].MsgID, got[0].MsgID, got[1].MsgID)
	}
}

// Devices, members and sub-tenants have no test version: both environments'
// endpoints hear of them. A disabled endpoint hears nothing.
func TestDeviceMemberAndSubtenantEvents(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := context.Background()
	prod := w.endpoint(t, w.acme.ID, models.WebhookProduction, allEvents(), nil)
	sandbox := w.endpoint(t, w.acme.ID, models.WebhookSandbox, allEvents(),
		models.WebhookFields{models.WebhookObjectMember: {"user_id", "role", "previous_role", "email"}})
	off := w.endpoint(t, w.acme.ID, models.WebhookSandbox, allEvents(), nil)
	if err := w.store.SetWebhookEndpointEnabled(ctx, w.acme.ID, off.ID, false); err != nil {
		t.Fatal(err)
	}

	d, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "GATE-1", Model: "Gate"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.SetDeviceModel(ctx, w.acme.ID, d.ID, "Gate 2"); err != nil { // no event
		t.Fatal(err)
	}
	if _, err := w.store.SetDeviceStatus(ctx, w.acme.ID, d.ID, models.DeviceInactive); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.DeprovisionDevice(ctx, w.acme.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.ImportDevicesCSV(ctx, w.acme.ID, strings.NewReader("identifier,model\nGATE-2,Gate\nGATE-3,Gate\n")); err != nil {
		t.Fatal(err)
	}
	erin := mustUser(t, w.store, "erin@acme.test")
	if _, err := w.store.AddMember(ctx, w.acme.ID, erin.ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ChangeRole(ctx, models.MemberChange{TenantID: w.acme.ID, ActorUserID: w.alice.ID, ActorRole: models.RoleSuperAdmin, MembershipID: mustMembership(t, w.store, w.acme.ID, erin.ID).ID}, models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	if err := w.store.RemoveMember(ctx, w.acme.ID, erin.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.CreateSubTenant(ctx, models.NewSubTenant{ParentID: w.acme.ID, ActorUserID: w.alice.ID, Name: "Acme West", Subdomain: "acme-west",
		Description: "The western branch", Email: "west@acme.test", Timezone: "UTC"}, (&sentMail{}).build); err != nil {
		t.Fatal(err)
	}

	want := []string{"device.created", "device.status_changed", "device.status_changed", "device.created", "device.created",
		"member.added", "member.role_changed", "member.removed", "subtenant.created"}
	for _, e := range []*models.WebhookEndpoint{prod, sandbox} {
		if got := types(w.deliveries(t, e)); !slices.Equal(got, want) {
			t.Errorf("%s endpoint got %v, want %v", e.Environment, got, want)
		}
	}
	if n := len(w.deliveries(t, off)); n != 0 {
		t.Errorf("a disabled endpoint got %d deliveries", n)
	}
	rows := w.deliveries(t, sandbox)
	deprovisioned := decodePayload(t, rows[2].Body).Data
	if deprovisioned["status"] != "deprovisioned" || deprovisioned["previous_status"] != "inactive" {
		t.Errorf("deprovisioning data %v", deprovisioned)
	}
	roleChanged := decodePayload(t, rows[6].Body).Data
	if roleChanged["role"] != "editor" || roleChanged["previous_role"] != "viewer" || roleChanged["email"] != "erin@acme.test" {
		t.Errorf("role change data %v", roleChanged)
	}
	if _, ok := roleChanged["first_name"]; ok {
		t.Errorf("an unchosen personal field was sent: %v", roleChanged)
	}
	removed := decodePayload(t, rows[7].Body).Data
	if removed["email"] != "erin@acme.test" {
		t.Errorf("member.removed data %v", removed)
	}
	sub := decodePayload(t, rows[8].Body).Data
	if sub["subdomain"] != "acme-west" || sub["parent_id"] != float64(w.acme.ID) {
		t.Errorf("subtenant.created data %v", sub)
	}
}

func mustMembership(t *testing.T, store *models.Store, tenantID, userID int64) *models.Membership {
	t.Helper()
	m, err := store.MembershipOf(context.Background(), tenantID, userID)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// An event is written in the transaction of its change: a change rolled
// back leaves no event behind.
func TestEventsRollBackWithTheirChange(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := context.Background()
	w.endpoint(t, w.acme.ID, models.WebhookProduction, allEvents(), nil)
	errRollBack := errors.New("roll back")
	err := w.store.Tx(ctx, func(tx *models.Store) error {
		if _, err := tx.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "GATE-X", Model: "Gate"}); err != nil {
			return err
		}
		if n, err := tx.CountWebhookMessagesForTest(ctx); err != nil || n != 1 {
			t.Errorf("inside the transaction: %d events, %v; want 1", n, err)
		}
		return errRollBack
	})
	if !errors.Is(err, errRollBack) {
		t.Fatal(err)
	}
	if n, err := w.store.CountWebhookMessagesForTest(ctx); err != nil || n != 0 {
		t.Fatalf("after the rollback: %d events, %v; want none", n, err)
	}
	// A refused change (a duplicate identifier) emits nothing either.
	if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "GATE-Y", Model: "Gate"}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "gate-y", Model: "Gate"}); err == nil {
		t.Fatal("a duplicate identifier was accepted")
	}
	if n, _ := w.store.CountWebhookMessagesForTest(ctx); n != 1 {
		t.Fatalf("%d events, want the one device's", n)
	}
}

func TestWebhookEndpointLifecycle(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := models.WithActor(context.Background(), models.Actor{UserID: w.alice.ID, Email: "alice@acme.test"})
	e, secret, err := w.store.CreateWebhookEndpoint(ctx, w.acme.ID, models.WebhookEndpointInput{
		Environment: models.WebhookSandbox, URL: " HTTP://Localhost:9997/webhooks ", Description: "Try it", Events: []string{models.EventOrderCreated}})
	if err != nil {
		t.Fatal(err)
	}
	if e.URL != "http://localhost:9997/webhooks" || !e.Enabled || e.EventTypes()[0] != models.EventOrderCreated {
		t.Fatalf("created %+v", e)
	}
	if e.FieldChoice().Chosen(models.WebhookObjectOrder, "applicant_email") || !e.FieldChoice().Chosen(models.WebhookObjectOrder, "id") {
		t.Errorf("default fields %v", e.FieldChoice())
	}
	if strings.Contains(e.SecretSealed, strings.TrimPrefix(secret, "whsec_")) {
		t.Fatal("the secret is stored in the clear")
	}

	revealed, err := w.store.RevealWebhookSecret(ctx, w.acme.ID, e.ID)
	if err != nil || revealed.Current != secret || revealed.Previous != "" {
		t.Fatalf("revealed %+v, %v", revealed, err)
	}
	rotated, err := w.store.RotateWebhookSecret(ctx, w.acme.ID, e.ID)
	if err != nil || rotated == secret {
		t.Fatalf("rotated %q, %v", rotated, err)
	}
	revealed, err = w.store.RevealWebhookSecret(ctx, w.acme.ID, e.ID)
	if err != nil || revealed.Current != rotated || revealed.Previous != secret || revealed.PreviousExpiresAt == nil ||
		len(revealed.Signing()) != 2 {
		t.Fatalf("after rotation %+v, %v", revealed, err)
	}

	in := models.WebhookEndpointInput{URL: "https://hooks.example.com/x", Events: []string{models.EventDeviceCreated, models.EventOrderCreated},
		Fields: models.WebhookFields{models.WebhookObjectDevice: {"id"}}}
	updated, err := w.store.UpdateWebhookEndpoint(ctx, w.acme.ID, e.ID, in)
	if err != nil || updated.URL != in.URL || updated.Events != "order.created device.created" || updated.Environment != models.WebhookSandbox {
		t.Fatalf("updated %+v, %v", updated, err)
	}
	if err := w.store.SetWebhookEndpointEnabled(ctx, w.acme.ID, e.ID, false); err != nil {
		t.Fatal(err)
	}
	if got, _ := w.store.WebhookEndpointOf(ctx, w.acme.ID, e.ID); got.Enabled || got.DisabledReason != "Disabled by alice@acme.test" {
		t.Errorf("disabled %+v", got)
	}
	if _, err := w.store.SendWebhookTestEvent(ctx, w.acme.ID, e.ID, ""); !errors.Is(err, models.ErrWebhookEndpointDisabled) {
		t.Errorf("test event to a disabled endpoint: %v", err)
	}
	if err := w.store.SetWebhookEndpointEnabled(ctx, w.acme.ID, e.ID, true); err != nil {
		t.Fatal(err)
	}

	// Another tenant's endpoint is not found, whatever the method.
	other := w.endpoint(t, w.globex.ID, models.WebhookSandbox, allEvents(), nil)
	for name, err := range map[string]error{
		"load":   func() error { _, err := w.store.WebhookEndpointOf(ctx, w.acme.ID, other.ID); return err }(),
		"reveal": func() error { _, err := w.store.RevealWebhookSecret(ctx, w.acme.ID, other.ID); return err }(),
		"rotate": func() error { _, err := w.store.RotateWebhookSecret(ctx, w.acme.ID, other.ID); return err }(),
		"update": func() error { _, err := w.store.UpdateWebhookEndpoint(ctx, w.acme.ID, other.ID, in); return err }(),
		"enable": w.store.SetWebhookEndpointEnabled(ctx, w.acme.ID, other.ID, false),
		"delete": w.store.DeleteWebhookEndpoint(ctx, w.acme.ID, other.ID),
		"test":   func() error { _, err := w.store.SendWebhookTestEvent(ctx, w.acme.ID, other.ID, ""); return err }(),
		"log": func() error {
			_, err := w.store.ListWebhookAttempts(ctx, w.acme.ID, other.ID, models.WebhookAttemptFilter{}, models.PageRequest{Number: 1, Size: 10})
			return err
		}(),
		"resend": func() error {
			_, err := w.store.ResendFailedWebhookDeliveries(ctx, w.acme.ID, other.ID, time.Time{})
			return err
		}(),
	} {
		if !errors.Is(err, models.ErrNotFound) {
			t.Errorf("%s another tenant's endpoint: %v, want ErrNotFound", name, err)
		}
	}

	// A test event: sample data shaped by the endpoint's fields, to it alone.
	d, err := w.store.SendWebhookTestEvent(ctx, w.acme.ID, e.ID, models.EventDeviceCreated)
	if err != nil {
		t.Fatal(err)
	}
	if data := decodePayload(t, d.Body).Data; len(data) != 1 || data["id"] == nil {
		t.Errorf("test event data %v", data)
	}
	detail, err := w.store.WebhookDeliveryOf(ctx, w.acme.ID, d.ID)
	if err != nil || !detail.Message.Test || detail.Status != models.DeliveryPending {
		t.Fatalf("test delivery %+v, %v", detail, err)
	}
	if _, err := w.store.WebhookDeliveryOf(ctx, w.globex.ID, d.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("another tenant's delivery: %v", err)
	}
	if err := w.store.ReplayWebhookDelivery(ctx, w.globex.ID, d.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("replaying another tenant's delivery: %v", err)
	}
	if err := w.store.ReplayWebhookDelivery(ctx, w.acme.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	// While a worker sends it, a replay would send it twice at once.
	if jobs, err := w.store.ClaimDueWebhookDeliveries(context.Background(), "worker-1", time.Now(), 10, 2, time.Minute); err != nil || len(jobs) == 0 {
		t.Fatalf("claim: %v, %v", jobs, err)
	}
	if err := w.store.ReplayWebhookDelivery(ctx, w.acme.ID, d.ID); !errors.Is(err, models.ErrWebhookDeliveryInFlight) {
		t.Errorf("replaying a delivery being sent: %v, want ErrWebhookDeliveryInFlight", err)
	}

	log, err := w.store.AuditLog(ctx, w.acme.ID, false, models.AuditFilter{}, models.PageRequest{Number: 1, Size: 50})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, ev := range log.Items {
		if strings.HasPrefix(ev.Action, "webhook_") {
			actions = append(actions, ev.Action)
		}
		if ev.After != nil && strings.Contains(*ev.After, strings.TrimPrefix(secret, "whsec_")) {
			t.Errorf("the audit log holds the secret: %s", *ev.After)
		}
	}
	slices.Reverse(actions)
	want := []string{"webhook_endpoint.created", "webhook_endpoint.secret_revealed", "webhook_endpoint.secret_rotated",
		"webhook_endpoint.secret_revealed", "webhook_endpoint.updated", "webhook_endpoint.disabled", "webhook_endpoint.enabled",
		"webhook_delivery.replayed"}
	if !slices.Equal(actions, want) {
		t.Errorf("audited %v, want %v", actions, want)
	}

	if err := w.store.DeleteWebhookEndpoint(ctx, w.acme.ID, e.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.WebhookEndpointOf(ctx, w.acme.ID, e.ID); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
}

func TestWebhookEndpointValidation(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := context.Background()
	valid := models.WebhookEndpointInput{Environment: models.WebhookProduction, URL: "https://hooks.example.com/in", Events: []string{models.EventOrderCreated}}
	cases := []struct {
		name  string
		edit  func(in *models.WebhookEndpointInput)
		field string
	}{
		{"no environment", func(in *models.WebhookEndpointInput) { in.Environment = "" }, "environment"},
		{"http in production", func(in *models.WebhookEndpointInput) { in.URL = "http://hooks.example.com/in" }, "url"},
		{"no events", func(in *models.WebhookEndpointInput) { in.Events = nil }, "events"},
		{"unknown event", func(in *models.WebhookEndpointInput) { in.Events = []string{"order.deleted"} }, "events"},
		{"unknown field", func(in *models.WebhookEndpointInput) {
			in.Fields = models.WebhookFields{models.WebhookObjectOrder: {"password"}}
		}, "fields"},
		{"unknown object", func(in *models.WebhookEndpointInput) { in.Fields = models.WebhookFields{"invoice": {"id"}} }, "fields"},
		{"long description", func(in *models.WebhookEndpointInput) { in.Description = strings.Repeat("d", 501) }, "description"},
	}
	for _, c := range cases {
		in := valid
		c.edit(&in)
		if _, _, err := w.store.CreateWebhookEndpoint(ctx, w.acme.ID, in); fieldError(err, c.field) == "" {
			t.Errorf("%s: %v, want a message beside %s", c.name, err, c.field)
		}
	}
	// http is fine for a host the operator allows.
	in := valid
	in.URL = "http://hooks.intranet/in"
	if _, _, err := w.store.CreateWebhookEndpoint(ctx, w.acme.ID, in); err != nil {
		t.Errorf("an allowed http host: %v", err)
	}
	// Without the key, no endpoint can be made.
	if _, _, err := models.NewStore(nil).CreateWebhookEndpoint(ctx, w.acme.ID, valid); !errors.Is(err, models.ErrWebhooksNotConfigured) {
		t.Errorf("without the key: %v", err)
	}
}

func TestValidateWebhookURL(t *testing.T) {
	cases := []struct {
		raw  string
		env  models.WebhookEnvironment
		want string // the URL kept; "" for refused
	}{
		{"https://hooks.example.com/in?x=1", models.WebhookProduction, "https://hooks.example.com/in?x=1"},
		{"HTTPS://Hooks.Example.com:8443/In", models.WebhookProduction, "https://hooks.example.com:8443/In"},
		{"http://127.0.0.1:9997/webhooks", models.WebhookSandbox, "http://127.0.0.1:9997/webhooks"},
		{"http://[::1]:9997/", models.WebhookSandbox, "http://[::1]:9997/"},
		{"http://hooks.example.com/", models.WebhookProduction, ""},
		{"ftp://hooks.example.com/", models.WebhookSandbox, ""},
		{"https://user:pw@hooks.example.com/", models.WebhookProduction, ""},
		{"https://hooks.example.com/#frag", models.WebhookProduction, ""},
		{"https:///nohost", models.WebhookProduction, ""},
		{"hooks.example.com/in", models.WebhookProduction, ""},
		{"https://hooks example.com/", models.WebhookProduction, ""},
		{"https://hooks.example.com:99999/", models.WebhookProduction, ""},
		{"https://-bad-.example.com/", models.WebhookProduction, ""},
		{"https://hooks.example.com./", models.WebhookProduction, ""},
		{"https://hooks.example.com/\x00", models.WebhookProduction, ""},
		{"https://" + strings.Repeat("a", 2000) + ".com/", models.WebhookProduction, ""},
	}
	for _, c := range cases {
		got, problem := models.ValidateWebhookURL(c.raw, c.env, nil)
		if got != c.want || (c.want == "") != (problem != "") {
			t.Errorf("ValidateWebhookURL(%q, %s) = %q, %q; want %q", c.raw, c.env, got, problem, c.want)
		}
	}
}

// FuzzValidateWebhookURL: whatever it is given, an accepted URL is an
// http(s) URL with a host, no credentials and no fragment, that validates
// again to itself; production accepts only https.
func FuzzValidateWebhookURL(f *testing.F) {
	for _, seed := range []string{"https://hooks.example.com/in", "http://127.0.0.1:9997/webhooks", "http://[::1]:80/", "https://a@b/",
		"javascript:alert(1)", "https://exa mple.com", "https://%2e%2e/", "//hooks.example.com/"} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, raw string, production bool) {
		env := models.WebhookSandbox
		if production {
			env = models.WebhookProduction
		}
		got, problem := models.ValidateWebhookURL(raw, env, nil)
		if problem != "" {
			if got != "" {
				t.Fatalf("refused %q but returned %q", raw, got)
			}
			return
		}
		if !strings.HasPrefix(got, "https://") && !(strings.HasPrefix(got, "http://") && !production) {
			t.Fatalf("accepted %q as %q", raw, got)
		}
		if strings.Contains(got, "@") && strings.Index(got, "@") < strings.Index(got[8:], "/")+8 {
			t.Fatalf("credentials kept: %q", got)
		}
		again, problem := models.ValidateWebhookURL(got, env, nil)
		if problem != "" || again != got {
			t.Fatalf("%q → %q, then %q, %q", raw, got, again, problem)
		}
	})
}

func TestWebhookPreviewAndCatalog(t *testing.T) {
	preview, err := models.WebhookPreview(models.EventOrderStatusChanged, models.WebhookFields{models.WebhookObjectOrder: {"id", "status", "previous_status", "applicant_name"}})
	if err != nil {
		t.Fatal(err)
	}
	p := decodePayload(t, string(preview))
	if p.Type != "order.status_changed" || len(p.Data) != 4 || p.Data["previous_status"] != "pending" || p.Data["applicant_name"] == nil {
		t.Errorf("preview %s", preview)
	}
	if _, err := models.WebhookPreview("order.deleted", nil); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("unknown event: %v", err)
	}
	for _, e := range models.WebhookEventTypes {
		if models.WebhookEventObject(e.Type) == "" {
			t.Errorf("%s has no object", e.Type)
		}
	}
	for _, o := range models.WebhookObjects {
		for _, name := range models.DefaultWebhookFields()[o.Type] {
			for _, f := range o.Fields {
				if f.Name == name && f.Personal {
					t.Errorf("%s.%s is personal and on by default", o.Type, name)
				}
			}
		}
	}
}

// Migration 00024 goes down to 00020's schema and up again: the webhook
// tables go, the audit log keeps its earlier events and refuses the
// webhook actions again, and everything comes back.
func TestWebhookMigrationRoundTrip(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := context.Background()
	e := w.endpoint(t, w.acme.ID, models.WebhookSandbox, allEvents(), nil)
	if _, err := w.store.SendWebhookTestEvent(ctx, w.acme.ID, e.ID, ""); err != nil {
		t.Fatal(err)
	}
	countAudit := func() (n int64) {
		if err := w.store.DBForTest(ctx).Raw("SELECT count(*) FROM audit_events WHERE action NOT LIKE 'webhook%'").Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := countAudit()
	if err := w.store.MigrateDownToForTest(ctx, 20); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExecForTest(ctx, "SELECT count(*) FROM webhook_endpoints"); err == nil {
		t.Error("webhook_endpoints is still there")
	}
	if after := countAudit(); after != before {
		t.Errorf("%d earlier audit events, %d after going down", before, after)
	}
	if err := w.store.ExecForTest(ctx, "INSERT INTO audit_events (tenant_id, action) VALUES (?, 'webhook_endpoint.created')", w.acme.ID); err == nil {
		t.Error("00020's schema accepted a webhook audit action")
	}
	if err := models.Migrate(ctx, w.store.DBForTest(ctx), slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	if _, _, err := w.store.CreateWebhookEndpoint(ctx, w.acme.ID, models.WebhookEndpointInput{Environment: models.WebhookSandbox,
		URL: "https://hooks.example.com/again", Events: []string{models.EventOrderCreated}}); err != nil {
		t.Fatalf("after going up again: %v", err)
	}
}

func TestLastWebhookDeliveries(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := context.Background()
	quiet := w.endpoint(t, w.acme.ID, models.WebhookSandbox, allEvents(), nil)
	busy, _, err := w.store.CreateWebhookEndpoint(ctx, w.acme.ID, models.WebhookEndpointInput{
		Environment: models.WebhookSandbox, URL: "https://hooks.example.com/busy", Events: allEvents()})
	if err != nil {
		t.Fatal(err)
	}
	other := w.endpoint(t, w.globex.ID, models.WebhookSandbox, allEvents(), nil)
	if _, err := w.store.SendWebhookTestEvent(ctx, w.acme.ID, busy.ID, models.EventOrderCreated); err != nil {
		t.Fatal(err)
	}
	last, err := w.store.SendWebhookTestEvent(ctx, w.acme.ID, busy.ID, models.EventMemberAdded)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.SendWebhookTestEvent(ctx, w.globex.ID, other.ID, models.EventOrderCreated); err != nil {
		t.Fatal(err)
	}
	got, err := w.store.LastWebhookDeliveries(ctx, w.acme.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[busy.ID].ID != last.ID || got[busy.ID].EventType != models.EventMemberAdded {
		t.Fatalf("last deliveries %+v, want only %d's newest (%d)", got, busy.ID, last.ID)
	}
	if _, ok := got[quiet.ID]; ok {
		t.Fatal("an endpoint without deliveries has a last one")
	}
}

func TestWebhookEndpointWithDeliveries(t *testing.T) {
	w := newWebhookWorld(t)
	ctx := context.Background()
	e := w.endpoint(t, w.acme.ID, models.WebhookSandbox, allEvents(), nil)
	if _, err := w.store.SendWebhookTestEvent(ctx, w.acme.ID, e.ID, models.EventMemberAdded); err != nil {
		t.Fatal(err)
	}
	got, page, err := w.store.WebhookEndpointWithDeliveries(ctx, w.acme.ID, e.ID, models.WebhookDeliveryFilter{}, models.PageRequest{Number: 1, Size: 10})
	if err != nil || got.ID != e.ID || len(page.Items) != 1 || page.Items[0].EventType != models.EventMemberAdded || !page.Items[0].Test {
		t.Fatalf("endpoint %+v, deliveries %+v (%v)", got, page.Items, err)
	}
	if _, _, err := w.store.WebhookEndpointWithDeliveries(ctx, w.globex.ID, e.ID, models.WebhookDeliveryFilter{}, models.PageRequest{Number: 1, Size: 10}); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("another company's endpoint: %v", err)
	}
}
