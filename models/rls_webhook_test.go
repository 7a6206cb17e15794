package models_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"canopy/models"
)

// Webhooks behind the database wall, as the application role: the four
// tables under the tenant policy, and the delivery worker's scope, which
// sees them for every tenant and nothing else of a tenant's.

// webhookRLSWorld is the demo data with an endpoint at Acme and one at
// Globex, each sent one event, written by the owner.
func newWebhookRLSWorld(t *testing.T) *rlsWorld {
	t.Helper()
	w := newRLSWorld(t)
	owner, err := models.NewStore(w.owner).WithWebhooks(models.WebhookSettings{SecretKey: webhookKey})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, sub := range []string{"acme", "globex"} {
		e, _, err := owner.CreateWebhookEndpoint(ctx, w.tenant[sub], models.WebhookEndpointInput{Environment: models.WebhookSandbox,
			URL: "https://hooks.example.com/" + sub, Events: []string{models.EventDeviceCreated}})
		if err != nil {
			t.Fatal(err)
		}
		d, err := owner.SendWebhookTestEvent(ctx, w.tenant[sub], e.ID, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := w.owner.Exec(`INSERT INTO webhook_attempts (tenant_id, delivery_id, endpoint_id, succeeded, duration_ms, request_headers, request_body)
			VALUES (?, ?, ?, false, 5, '{}', '{}')`, w.tenant[sub], d.ID, e.ID).Error; err != nil {
			t.Fatal(err)
		}
	}
	return w
}

var webhookTables = []string{"webhook_endpoints", "webhook_messages", "webhook_deliveries", "webhook_attempts"}

func TestRLSWebhookTablesAreGuarded(t *testing.T) {
	w := newRLSWorld(t)
	tables := tenantTables(t, w.owner)
	for _, want := range webhookTables {
		if !slices.Contains(tables, want) {
			t.Errorf("the catalog query missed %s", want)
		}
		var policies []string
		if err := w.owner.Raw("SELECT polname FROM pg_policy WHERE polrelid = ?::regclass ORDER BY polname", want).Scan(&policies).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(policies, []string{"tenant_isolation", "webhook_worker"}) {
			t.Errorf("%s policies %v", want, policies)
		}
	}
}

func TestRLSWebhookRowsStayInTheirTenant(t *testing.T) {
	w := newWebhookRLSWorld(t)
	acme := w.tenant["acme"]
	w.as(t, models.Scope{TenantID: acme}, func(db *gorm.DB) error {
		for _, table := range webhookTables {
			if ids := tenantIDsOf(t, db, table); !slices.Equal(ids, []int64{acme}) {
				t.Errorf("acme sees %s of tenants %v", table, ids)
			}
		}
		// It cannot ask for the admins' emails the worker gets.
		var n int64
		if err := db.Raw("SELECT count(*) FROM canopy_webhook_admins(?)", acme).Scan(&n).Error; err != nil || n != 0 {
			t.Errorf("canopy_webhook_admins as a tenant: %d rows, %v", n, err)
		}
		return nil
	})
}

func TestRLSWebhookWorkerSeesOnlyWebhooks(t *testing.T) {
	w := newWebhookRLSWorld(t)
	acme, globex := w.tenant["acme"], w.tenant["globex"]
	w.as(t, models.WebhookWorkerScopeForTest(), func(db *gorm.DB) error {
		for _, table := range webhookTables {
			if ids := tenantIDsOf(t, db, table); !slices.Equal(ids, []int64{acme, globex}) {
				t.Errorf("the worker sees %s of tenants %v, want both", table, ids)
			}
		}
		for _, table := range []string{"orders", "devices", "memberships", "invitations", "templates", "audit_events",
			"outbox_emails", "api_keys", "sso_connections"} {
			var n int64
			if err := db.Raw("SELECT count(*) FROM " + table).Scan(&n).Error; err != nil || n != 0 {
				t.Errorf("the worker sees %d rows of %s (%v)", n, table, err)
			}
		}
		var admins []string
		if err := db.Raw("SELECT email FROM canopy_webhook_admins(?)", acme).Scan(&admins).Error; err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(admins, "alice@acme.test") {
			t.Errorf("Acme's admins as the worker sees them: %v, without its owner", admins)
		}
		for _, email := range admins {
			if !isAdmin(t, w, acme, email) {
				t.Errorf("%s is not an Admin of Acme", email)
			}
		}
		return nil
	})
	// It may record that it disabled an endpoint, and nothing else, in the
	// audit log; it may queue mail but not read the outbox.
	ctx := context.Background()
	err := w.app.Within(ctx, models.WebhookWorkerScopeForTest(), func(ctx context.Context, tx *models.Store) error {
		return tx.DBForTest(ctx).Exec("INSERT INTO audit_events (tenant_id, action) VALUES (?, 'member.removed')", acme).Error
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("the worker wrote another audit action: %v", err)
	}
	err = w.app.Within(ctx, models.WebhookWorkerScopeForTest(), func(ctx context.Context, tx *models.Store) error {
		if err := tx.DBForTest(ctx).Exec("INSERT INTO audit_events (tenant_id, action) VALUES (?, 'webhook_endpoint.disabled')", acme).Error; err != nil {
			return err
		}
		return tx.EnqueueEmail(ctx, models.NewEmail{TenantID: acme, To: "alice@acme.test", Subject: "s", Body: "b"})
	})
	if err != nil {
		t.Errorf("the worker's own writes: %v", err)
	}
}

func isAdmin(t *testing.T, w *rlsWorld, tenantID int64, email string) bool {
	t.Helper()
	var role string
	w.owner.Raw("SELECT m.role FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = ? AND u.email = ?", tenantID, email).Scan(&role)
	return role == "admin" || role == "super_admin"
}
