package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"canopy/models"
)

func TestOrderDetailsOf(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	o, err := w.store.CreateOrder(models.WithActor(ctx, models.Actor{UserID: w.dave.ID, Email: w.dave.Email}), w.acme.ID, w.daveAtAcme.ID,
		models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Jane Roe", ApplicantEmail: "jane@example.com", Reference: "LN-1"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	byAlice := models.WithActor(ctx, models.Actor{UserID: w.alice.ID, Email: w.alice.Email})
	for _, step := range []models.OrderStatus{models.OrderInProgress, models.OrderCompleted} {
		if _, err := w.store.ChangeOrderStatus(byAlice, w.acme.ID, o.ID, step); err != nil {
			t.Fatal(err)
		}
	}
	// A step recorded by someone whose account is gone keeps its label.
	if err := w.store.ExecForTest(ctx, "INSERT INTO order_events (tenant_id, order_id, from_status, to_status, actor_label, created_at) VALUES (?, ?, 'completed', 'completed', 'gone@example.com', ?)",
		w.acme.ID, o.ID, o.CreatedAt); err != nil {
		t.Fatal(err)
	}

	d, err := w.store.OrderDetailsOf(ctx, w.acme.ID, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != o.ID || d.TemplateName != "Employment" || d.Status != models.OrderCompleted || d.Environment != models.OrderLive ||
		d.CreatorEmail != "dave@acme.test" || d.MadeByAPIKey() || d.HistoryCut {
		t.Fatalf("details %+v", d)
	}
	var who []string
	var to []models.OrderStatus
	for _, e := range d.History {
		who, to = append(who, e.Who()), append(to, e.ToStatus)
	}
	if len(d.History) != 4 || !d.History[0].Created() || d.History[1].Created() ||
		to[0] != models.OrderPending || to[1] != models.OrderInProgress || to[2] != models.OrderCompleted ||
		who[0] != strings.TrimSpace(d.History[0].ActorFirstName+" "+d.History[0].ActorLastName) || d.History[0].ActorEmail != "dave@acme.test" ||
		d.History[1].ActorEmail != "alice@acme.test" || who[3] != "gone@example.com" {
		t.Fatalf("history %q %q", who, to)
	}

	// Another tenant's order, and an unknown one, are not found.
	for _, c := range []struct {
		tenant, order int64
	}{{w.globex.ID, o.ID}, {w.acme.ID, o.ID + 1000}} {
		if _, err := w.store.OrderDetailsOf(ctx, c.tenant, c.order); !errors.Is(err, models.ErrNotFound) {
			t.Fatalf("order %d of tenant %d: %v, want ErrNotFound", c.order, c.tenant, err)
		}
	}
	if _, err := w.store.OrderDetailsOf(ctx, 0, o.ID); !errors.Is(err, models.ErrNoTenant) {
		t.Fatalf("no tenant: %v", err)
	}
}

func TestOrderDetailsShowsTheLatestStepsOnly(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	o, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: "Jane Roe"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for range models.OrderHistoryLimit + 5 {
		if err := w.store.ExecForTest(ctx, "INSERT INTO order_events (tenant_id, order_id, from_status, to_status, actor_label, created_at) VALUES (?, ?, 'pending', 'pending', 'loop', ?)",
			w.acme.ID, o.ID, o.CreatedAt); err != nil {
			t.Fatal(err)
		}
	}
	d, err := w.store.OrderDetailsOf(ctx, w.acme.ID, o.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !d.HistoryCut || len(d.History) != models.OrderHistoryLimit || d.History[0].Created() ||
		d.History[0].ID >= d.History[len(d.History)-1].ID {
		t.Fatalf("history of %d steps, cut %v", len(d.History), d.HistoryCut)
	}
}

// Counts people read are of live orders: a template's page counts its live
// orders, and test orders keep it from being deleted all the same.
func TestTemplateCountsLiveOrdersOnly(t *testing.T) {
	w := newTemplateWorld(t)
	ctx := context.Background()
	tpl := mustTemplate(t, w.store, w.acme.ID, "Employment")
	var ids []int64
	for _, name := range []string{"Live One", "Test One"} {
		o, err := w.store.CreateOrder(ctx, w.acme.ID, w.daveAtAcme.ID, models.NewOrder{TemplateID: tpl.ID, ApplicantName: name}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, o.ID)
	}
	if err := w.store.ExecForTest(ctx, "UPDATE orders SET environment = 'test' WHERE id = ?", ids[1]); err != nil {
		t.Fatal(err)
	}
	d, err := w.store.TemplateByID(ctx, w.acme.ID, tpl.ID)
	if err != nil || d.Orders != 1 || !d.TestOrders || d.Deletable() {
		t.Fatalf("template use %+v (%v), want 1 live order and test orders", d.TemplateUse, err)
	}
	if err := w.store.ExecForTest(ctx, "DELETE FROM order_events WHERE order_id = ?", ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExecForTest(ctx, "DELETE FROM orders WHERE id = ?", ids[0]); err != nil {
		t.Fatal(err)
	}
	d, err = w.store.TemplateByID(ctx, w.acme.ID, tpl.ID)
	if err != nil || d.Orders != 0 || !d.TestOrders || d.Deletable() {
		t.Fatalf("template use %+v (%v), want test orders only", d.TemplateUse, err)
	}
	_, err = w.store.DeleteTemplate(ctx, w.acme.ID, tpl.ID)
	var kept *models.TemplateInUseError
	if !errors.As(err, &kept) || !kept.Use.TestOrders || kept.Use.Orders != 0 {
		t.Fatalf("deleting a template with test orders: %v", err)
	}
}
