package models_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"canopy/models"
)

var apiKeySeq atomic.Int64

// mustAPIKey stores a sandbox key of the tenant with every scope.
func mustAPIKey(t *testing.T, store *models.Store, tenantID int64) *models.APIKey {
	t.Helper()
	n := apiKeySeq.Add(1)
	k, err := store.CreateAPIKey(context.Background(), tenantID,
		models.NewAPIKey{Name: fmt.Sprintf("Key %d", n), Environment: models.APISandbox, Scopes: models.APIScopes},
		models.HashedAPIKey{Hash: fmt.Sprintf("%064x", n), Prefix: "cnp_test_", Last4: "abcd"})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// asKey is ctx with the key as the actor, as the API's requests have.
func asKey(k *models.APIKey) context.Context {
	return models.WithActor(context.Background(), models.Actor{Email: "API key " + k.Name, APIKeyID: k.ID, IP: "192.0.2.1"})
}

func TestCreateOrderByAPIKey(t *testing.T) {
	w := newTemplateWorld(t)
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	key := mustAPIKey(t, w.store, w.acme.ID)
	ctx := asKey(key)
	var mailed []string
	mail := func(o *models.Order, tp *models.Template) models.NewEmail {
		mailed = append(mailed, tp.BrandingCompanyName)
		return models.NewEmail{Subject: "Hello " + o.ApplicantName, Body: "Body"}
	}
	n := models.NewAPIOrder{NewOrder: models.NewOrder{TemplateID: tpl.ID, ApplicantName: " Tess Test ", ApplicantEmail: "Tess@Example.com", Reference: "T-1"},
		APIKeyID: key.ID, Environment: models.OrderTest}
	o, err := w.store.CreateOrderByAPIKey(ctx, w.acme.ID, n, mail)
	if err != nil {
		t.Fatal(err)
	}
	if o.Environment != models.OrderTest || o.CreatedByUserID != nil || o.CreatedByAPIKeyID == nil || *o.CreatedByAPIKeyID != key.ID ||
		o.ApplicantName != "Tess Test" || o.ApplicantEmail != "tess@example.com" || o.Status != models.OrderPending {
		t.Fatalf("stored %+v", o)
	}
	// A test order emails nobody; a live one emails its applicant.
	if out, err := w.store.OutboxFor(context.Background(), "tess@example.com"); err != nil || len(out) != 0 || len(mailed) != 0 {
		t.Fatalf("a test order's applicant was emailed: %v, %v (built %v)", out, err, mailed)
	}
	live := models.NewAPIOrder{NewOrder: models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Liv Live", ApplicantEmail: "liv@example.com", Reference: "L-1"},
		APIKeyID: key.ID, Environment: models.OrderLive}
	if _, err := w.store.CreateOrderByAPIKey(ctx, w.acme.ID, live, mail); err != nil {
		t.Fatal(err)
	}
	if len(mailed) != 1 || mailed[0] != "Brand" {
		t.Fatalf("mail built with %v", mailed)
	}
	if out, err := w.store.OutboxFor(context.Background(), "liv@example.com"); err != nil || len(out) != 1 {
		t.Fatalf("outbox %v, %v", out, err)
	}
	events, err := w.store.OrderEvents(context.Background(), w.acme.ID, o.ID)
	if err != nil || len(events) != 1 || events[0].APIKeyID == nil || *events[0].APIKeyID != key.ID || events[0].ActorUserID != nil || events[0].FromStatus != nil {
		t.Fatalf("events %+v, %v", events, err)
	}

	// Any template of the company, even one a member is restricted away
	// from; never another company's; references stay unique.
	other := mustTemplate(t, w.store, w.globex.ID, "Globex only")
	for name, c := range map[string]struct {
		edit  func(*models.NewAPIOrder)
		field string
	}{
		"another company's template": {func(n *models.NewAPIOrder) { n.TemplateID = other.ID }, "template_id"},
		"unknown template":           {func(n *models.NewAPIOrder) { n.TemplateID = other.ID + 100 }, "template_id"},
		"reference taken":            {func(*models.NewAPIOrder) {}, "reference"},
		"no name":                    {func(n *models.NewAPIOrder) { n.Reference, n.ApplicantName = "", "" }, "applicant_name"},
	} {
		m := n
		c.edit(&m)
		if _, err := w.store.CreateOrderByAPIKey(ctx, w.acme.ID, m, mail); fieldError(err, c.field) == "" {
			t.Fatalf("%s: %v, want a message beside %s", name, err, c.field)
		}
	}
	// References are unique within an environment only: a test order's
	// reference neither reveals nor takes a live one's.
	for _, env := range []models.OrderEnvironment{models.OrderLive, models.OrderTest} {
		m := n
		m.Reference, m.Environment = "SHARED-REF", env
		if _, err := w.store.CreateOrderByAPIKey(ctx, w.acme.ID, m, nil); err != nil {
			t.Fatalf("reference SHARED-REF in %s: %v", env, err)
		}
	}
	if _, err := w.store.CreateOrderByAPIKey(ctx, w.acme.ID, models.NewAPIOrder{NewOrder: models.NewOrder{TemplateID: tpl.ID,
		ApplicantName: "Again", Reference: "shared-ref"}, APIKeyID: key.ID, Environment: models.OrderTest}, nil); fieldError(err, "reference") == "" {
		t.Fatalf("a second test order with a taken test reference: %v", err)
	}
	// A key of another tenant cannot be named as the creator.
	foreign := mustAPIKey(t, w.store, w.globex.ID)
	m := n
	m.Reference, m.APIKeyID = "", foreign.ID
	if _, err := w.store.CreateOrderByAPIKey(asKey(foreign), w.acme.ID, m, nil); err == nil {
		t.Fatal("an order of acme made with globex's key")
	}
}

func TestAPIOrdersByEnvironmentAndPage(t *testing.T) {
	w := newTemplateWorld(t)
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	key := mustAPIKey(t, w.store, w.acme.ID)
	ctx := asKey(key)
	var test []int64
	for i := range 5 {
		o, err := w.store.CreateOrderByAPIKey(ctx, w.acme.ID, models.NewAPIOrder{
			NewOrder: models.NewOrder{TemplateID: tpl.ID, ApplicantName: fmt.Sprintf("Test %d", i)}, APIKeyID: key.ID, Environment: models.OrderTest}, nil)
		if err != nil {
			t.Fatal(err)
		}
		test = append(test, o.ID)
	}
	liveOrder, err := w.store.CreateOrder(context.Background(), w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Live"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []int64
	page := models.APIListRequest{Limit: 2}
	for {
		p, err := w.store.APIOrders(context.Background(), w.acme.ID, models.APIOrderFilter{Environment: models.OrderTest}, page)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Items {
			got = append(got, o.ID)
		}
		if !p.HasMore {
			break
		}
		page.After = p.Items[len(p.Items)-1].ID
	}
	if fmt.Sprint(got) != fmt.Sprint([]int64{test[4], test[3], test[2], test[1], test[0]}) {
		t.Fatalf("pages gave %v of %v", got, test)
	}
	p, err := w.store.APIOrders(context.Background(), w.acme.ID, models.APIOrderFilter{Environment: models.OrderLive}, models.APIListRequest{})
	if err != nil || len(p.Items) != 1 || p.Items[0].ID != liveOrder.ID {
		t.Fatalf("live %+v, %v", p, err)
	}
	future := time.Now().Add(time.Hour)
	past := time.Now().Add(-time.Hour)
	for name, c := range map[string]struct {
		f    models.APIOrderFilter
		want int
	}{
		"created after now":     {models.APIOrderFilter{CreatedAfter: &future}, 0},
		"created after an hour": {models.APIOrderFilter{CreatedAfter: &past}, 5},
		"created before":        {models.APIOrderFilter{CreatedBefore: &future}, 5},
		"cancelled":             {models.APIOrderFilter{Status: models.OrderCancelled}, 0},
		"pending of template":   {models.APIOrderFilter{Status: models.OrderPending, TemplateID: tpl.ID}, 5},
		"another template":      {models.APIOrderFilter{TemplateID: tpl.ID + 1}, 0},
	} {
		c.f.Environment = models.OrderTest
		p, err := w.store.APIOrders(context.Background(), w.acme.ID, c.f, models.APIListRequest{Limit: 100})
		if err != nil || len(p.Items) != c.want {
			t.Fatalf("%s: %d, %v; want %d", name, len(p.Items), err, c.want)
		}
	}
	if p, err := w.store.APIOrders(context.Background(), w.globex.ID, models.APIOrderFilter{Environment: models.OrderTest}, models.APIListRequest{}); err != nil || len(p.Items) != 0 {
		t.Fatalf("globex sees %+v, %v", p, err)
	}
	// One order: its environment's only, its tenant's only.
	if _, err := w.store.APIOrder(context.Background(), w.acme.ID, models.OrderLive, test[0]); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a test order as live: %v", err)
	}
	if _, err := w.store.APIOrder(context.Background(), w.globex.ID, models.OrderTest, test[0]); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("acme's order at globex: %v", err)
	}
	if _, err := w.store.ChangeAPIOrderStatus(ctx, w.acme.ID, models.OrderTest, liveOrder.ID, models.OrderCancelled); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("a live order cancelled as test: %v", err)
	}
	o, err := w.store.ChangeAPIOrderStatus(ctx, w.acme.ID, models.OrderTest, test[0], models.OrderCancelled)
	if err != nil || o.Status != models.OrderCancelled {
		t.Fatalf("cancel %+v, %v", o, err)
	}
}

func TestSimulateOrder(t *testing.T) {
	w := newTemplateWorld(t)
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	key := mustAPIKey(t, w.store, w.acme.ID)
	ctx := asKey(key)
	o, err := w.store.CreateOrderByAPIKey(ctx, w.acme.ID, models.NewAPIOrder{
		NewOrder: models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Sim"}, APIKeyID: key.ID, Environment: models.OrderTest}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.SimulateOrder(ctx, w.acme.ID, o.ID, models.OrderPending); !errors.Is(err, models.ErrOrderTransition) {
		t.Fatalf("to its own status: %v", err)
	}
	done, err := w.store.SimulateOrder(ctx, w.acme.ID, o.ID, models.OrderCompleted)
	if err != nil || done.Status != models.OrderCompleted {
		t.Fatalf("simulate %+v, %v", done, err)
	}
	events, err := w.store.OrderEvents(context.Background(), w.acme.ID, o.ID)
	if err != nil || len(events) != 3 || events[1].ToStatus != models.OrderInProgress || events[2].ToStatus != models.OrderCompleted {
		t.Fatalf("events %+v, %v", events, err)
	}
	if _, err := w.store.SimulateOrder(ctx, w.acme.ID, o.ID, models.OrderCancelled); !errors.Is(err, models.ErrOrderTransition) {
		t.Fatalf("after final: %v", err)
	}
	if _, err := w.store.SimulateOrder(ctx, w.globex.ID, o.ID, models.OrderCancelled); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("from globex: %v", err)
	}
	live, err := w.store.CreateOrder(context.Background(), w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Live"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.store.SimulateOrder(ctx, w.acme.ID, live.ID, models.OrderCompleted); !errors.Is(err, models.ErrOrderNotTest) {
		t.Fatalf("a live order simulated: %v", err)
	}
	if _, err := w.store.SimulateOrder(ctx, w.acme.ID, o.ID, "shipped"); fieldError(err, "status") == "" {
		t.Fatalf("unknown status: %v", err)
	}
}

func TestIdempotencyKeys(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	key := mustAPIKey(t, w.store, w.acme.ID)
	other := mustAPIKey(t, w.store, w.acme.ID)
	kept, err := w.store.ReserveIdempotencyKey(ctx, w.acme.ID, key.ID, "k1", "hash-a")
	if err != nil || kept != nil {
		t.Fatalf("first use: %+v, %v", kept, err)
	}
	if _, err := w.store.ReserveIdempotencyKey(ctx, w.acme.ID, key.ID, "k1", "hash-a"); !errors.Is(err, models.ErrIdempotencyKeyInUse) {
		t.Fatalf("while running: %v", err)
	}
	if err := w.store.SaveIdempotentResponse(ctx, w.acme.ID, key.ID, "k1", models.IdempotentResponse{Status: 201, Body: `{"id":1}`}); err != nil {
		t.Fatal(err)
	}
	kept, err = w.store.ReserveIdempotencyKey(ctx, w.acme.ID, key.ID, "k1", "hash-a")
	if err != nil || kept == nil || kept.Status != 201 || kept.Body != `{"id":1}` {
		t.Fatalf("replay: %+v, %v", kept, err)
	}
	if _, err := w.store.ReserveIdempotencyKey(ctx, w.acme.ID, key.ID, "k1", "hash-b"); !errors.Is(err, models.ErrIdempotencyKeyReused) {
		t.Fatalf("another body: %v", err)
	}
	if kept, err := w.store.ReserveIdempotencyKey(ctx, w.acme.ID, other.ID, "k1", "hash-b"); err != nil || kept != nil {
		t.Fatalf("another API key's: %+v, %v", kept, err)
	}
	// A released reservation can be taken again.
	if _, err := w.store.ReserveIdempotencyKey(ctx, w.acme.ID, key.ID, "k2", "hash-a"); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ReleaseIdempotencyKey(ctx, w.acme.ID, key.ID, "k2"); err != nil {
		t.Fatal(err)
	}
	if kept, err := w.store.ReserveIdempotencyKey(ctx, w.acme.ID, key.ID, "k2", "hash-b"); err != nil || kept != nil {
		t.Fatalf("after release: %+v, %v", kept, err)
	}
	// Past a day, a key is swept and free again.
	if err := w.store.ExecForTest(ctx, "UPDATE api_idempotency_keys SET created_at = ? WHERE idempotency_key = 'k1'", time.Now().UTC().Add(-25*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if kept, err := w.store.ReserveIdempotencyKey(ctx, w.acme.ID, key.ID, "k1", "hash-c"); err != nil || kept != nil {
		t.Fatalf("after a day: %+v, %v", kept, err)
	}
	if _, err := w.store.ReserveIdempotencyKey(ctx, 0, key.ID, "k3", "h"); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("no tenant: %v", err)
	}
}

func TestAPIMembersAndDevices(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	p, err := w.store.APIMembers(ctx, w.acme.ID, models.APIListRequest{Limit: 1})
	if err != nil || len(p.Items) != 1 || !p.HasMore || p.Items[0].Email != "dave@acme.test" || p.Items[0].Role != models.RoleEditor {
		t.Fatalf("first page %+v, %v", p, err)
	}
	p, err = w.store.APIMembers(ctx, w.acme.ID, models.APIListRequest{Limit: 1, After: p.Items[0].ID})
	if err != nil || len(p.Items) != 1 || p.HasMore || p.Items[0].Email != "alice@acme.test" {
		t.Fatalf("second page %+v, %v", p, err)
	}
	for _, id := range []string{"A-1", "B-2", "A-3"} {
		if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: id, Model: "M"}); err != nil {
			t.Fatal(err)
		}
	}
	d, err := w.store.APIDevices(ctx, w.acme.ID, "a-", models.APIListRequest{})
	if err != nil || len(d.Items) != 2 || d.Items[0].Identifier != "A-3" || d.HasMore {
		t.Fatalf("devices %+v, %v", d, err)
	}
	if d, err := w.store.APIDevices(ctx, w.globex.ID, "", models.APIListRequest{}); err != nil || len(d.Items) != 0 {
		t.Fatalf("globex devices %+v, %v", d, err)
	}
}
