package models_test

import (
	"context"
	"fmt"
	"testing"

	"gorm.io/gorm"

	"canopy/models"
)

// keptCount is one tenant's kept counts beside a recount of its rows.
type keptCount struct {
	ID                       int64
	Subdomain                string
	ChildCount, Children     int64
	DeviceCount, DeviceTotal int64
}

// keptCounts reads every tenant's tenants.child_count and
// tenants.device_count beside a recount of its children and devices.
func keptCounts(t *testing.T, db *gorm.DB) []keptCount {
	t.Helper()
	var rows []keptCount
	err := db.Raw(`SELECT id, subdomain, child_count, device_count,
		(SELECT count(*) FROM tenants AS child WHERE child.parent_id = tenants.id) AS children,
		(SELECT count(*) FROM devices WHERE devices.tenant_id = tenants.id) AS device_total
		FROM tenants ORDER BY id`).Scan(&rows).Error
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// checkKeptCounts fails unless every tenant's kept counts are its rows'.
func checkKeptCounts(t *testing.T, db *gorm.DB, after string) {
	t.Helper()
	for _, c := range keptCounts(t, db) {
		if c.ChildCount != c.Children || c.DeviceCount != c.DeviceTotal {
			t.Errorf("after %s, %s keeps %d children and %d devices, has %d and %d",
				after, c.Subdomain, c.ChildCount, c.DeviceCount, c.Children, c.DeviceTotal)
		}
	}
}

// The Sub-Tenants and Devices lists read their totals from counts the
// database keeps on the tenant (migration 00033). Whatever happens to
// tenants and devices, each count stays its rows' count, and the lists
// show it.
func TestKeptListCountsStayExact(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	db := w.store.DBForTest(ctx)
	newTenant := func(parentID int64, sub string) *models.Tenant {
		t.Helper()
		tn, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: parentID, Name: "Tenant " + sub, Subdomain: sub, Timezone: "UTC"})
		if err != nil {
			t.Fatal(err)
		}
		return tn
	}
	eu := newTenant(w.acme.ID, "acme-eu")
	first := models.PageRequest{Number: 1, Size: 25}
	noMail := func(inv *models.Invitation, tn *models.Tenant, _ string) models.NewEmail {
		return models.NewEmail{TenantID: tn.ID, To: inv.Email, Subject: "Join", Body: "link"}
	}

	steps := []struct {
		name string
		do   func(t *testing.T) error
		// what acme's and acme-eu's lists show afterwards
		acmeChildren, acmeDevices, euChildren, euDevices int64
	}{
		{"creating a sub-tenant", func(*testing.T) error { newTenant(w.acme.ID, "acme-us"); return nil }, 2, 0, 0, 0},
		{"creating one with its owner's invitation", func(*testing.T) error {
			_, err := w.store.CreateSubTenant(ctx, models.NewSubTenant{ParentID: w.acme.ID, ActorUserID: w.alice.ID, Name: "Acme Asia",
				Subdomain: "acme-asia", Description: "Asia.", Email: "owner@asia.test", Timezone: "UTC"}, noMail)
			return err
		}, 3, 0, 0, 0},
		{"creating one a level down", func(*testing.T) error { newTenant(eu.ID, "acme-eu-fr"); return nil }, 3, 0, 1, 0},
		{"a creation refused (subdomain taken)", func(*testing.T) error {
			if _, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.acme.ID, Name: "Again", Subdomain: "acme-us", Timezone: "UTC"}); err == nil {
				return fmt.Errorf("a taken subdomain was accepted")
			}
			return nil
		}, 3, 0, 1, 0},
		{"deactivating a sub-tenant", func(*testing.T) error {
			return w.store.SetTenantStatus(ctx, eu.ID, models.TenantInactive)
		}, 3, 0, 1, 0},
		{"adding devices", func(t *testing.T) error {
			mustDevice(t, w.store, w.acme.ID, "A-1", "Gate")
			mustDevice(t, w.store, w.acme.ID, "A-2", "Gate")
			mustDevice(t, w.store, eu.ID, "E-1", "Gate")
			return nil
		}, 3, 2, 1, 1},
		{"a device refused (identifier taken)", func(*testing.T) error {
			if _, err := w.store.AddDevice(ctx, w.acme.ID, models.NewDevice{Identifier: "a-1", Model: "Gate"}); err == nil {
				return fmt.Errorf("a taken identifier was accepted")
			}
			return nil
		}, 3, 2, 1, 1},
		{"an import, some rows refused", func(*testing.T) error {
			rows := []models.DeviceCSVRow{{Line: 2, Identifier: "I-1", Model: "Gate"}, {Line: 3, Identifier: "A-1", Model: "Gate"},
				{Line: 4, Identifier: "I-2", Model: "Gate", Status: models.DeviceInactive}, {Line: 5, Identifier: "I-1", Model: "Gate"}}
			report, err := w.store.ImportDevices(ctx, w.acme.ID, rows)
			if err == nil && report.Imported != 2 {
				return fmt.Errorf("imported %d of the 2 new devices", report.Imported)
			}
			return err
		}, 3, 4, 1, 1},
		{"devices changing status, deprovisioned too", func(*testing.T) error {
			d, err := w.store.DeviceByIdentifier(ctx, w.acme.ID, "A-1")
			if err != nil {
				return err
			}
			if _, err := w.store.SetDeviceStatus(ctx, w.acme.ID, d.ID, models.DeviceInactive); err != nil {
				return err
			}
			_, err = w.store.DeprovisionDevice(ctx, w.acme.ID, d.ID)
			return err
		}, 3, 4, 1, 1},
		{"many devices in one statement", func(*testing.T) error {
			return w.store.ExecForTest(ctx, `INSERT INTO devices (tenant_id, identifier, model, status, created_at, updated_at)
				SELECT ?, 'bulk-' || id, 'Bulk', 'active', created_at, updated_at FROM devices WHERE tenant_id = ?`, eu.ID, w.acme.ID)
		}, 3, 4, 1, 5},
		{"a device deleted (by the owner: the application never deletes one)", func(*testing.T) error {
			return w.store.ExecForTest(ctx, "DELETE FROM devices WHERE tenant_id = ? AND identifier = 'bulk-' || (SELECT min(id) FROM devices WHERE tenant_id = ?)", eu.ID, w.acme.ID)
		}, 3, 4, 1, 4},
		{"a sub-tenant inserted, given a device and deleted with it, by the owner", func(*testing.T) error {
			// Written in SQL, without the audit events the store writes and
			// the audit log would keep: the owner may delete a bare tenant.
			if err := w.store.ExecForTest(ctx, "INSERT INTO tenants (parent_id, name, subdomain) VALUES (?, 'Bare', 'acme-bare')", eu.ID); err != nil {
				return err
			}
			bare, err := w.store.TenantBySubdomain(ctx, "acme-bare")
			if err != nil {
				return err
			}
			if err := w.store.ExecForTest(ctx, "INSERT INTO devices (tenant_id, identifier, model, status) VALUES (?, 'B-1', 'Gate', 'active')", bare.ID); err != nil {
				return err
			}
			checkKeptCounts(t, db, "a tenant inserted in SQL")
			return w.store.ExecForTest(ctx, "DELETE FROM tenants WHERE id = ?", bare.ID)
		}, 3, 4, 1, 4},
	}
	for _, step := range steps {
		if err := step.do(t); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		checkKeptCounts(t, db, step.name)
		for _, list := range []struct {
			of                     string
			tenantID               int64
			wantChildren, wantDevs int64
		}{{"acme", w.acme.ID, step.acmeChildren, step.acmeDevices}, {"acme-eu", eu.ID, step.euChildren, step.euDevices}} {
			children, err := w.store.SubTenants(ctx, list.tenantID, "", first)
			if err != nil {
				t.Fatal(err)
			}
			devices, err := w.store.ListDevices(ctx, list.tenantID, "", first)
			if err != nil {
				t.Fatal(err)
			}
			if children.Total != list.wantChildren || int64(len(children.Items)) != list.wantChildren ||
				devices.Total != list.wantDevs || int64(len(devices.Items)) != list.wantDevs {
				t.Errorf("after %s, %s lists %d sub-tenants (of %d) and %d devices (of %d), want %d and %d", step.name, list.of,
					len(children.Items), children.Total, len(devices.Items), devices.Total, list.wantChildren, list.wantDevs)
			}
		}
	}
}

// A count kept above CountCap reads as the pager shows any count: CountCap,
// with more beyond it; a page past the end still knows the total.
func TestKeptListCountsAsThePagerShowsThem(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	mustDevice(t, w.store, w.acme.ID, "A-1", "Gate")
	// The owner sets the count, as a tenant of more than CountCap devices has it.
	if err := w.store.ExecForTest(ctx, "UPDATE tenants SET device_count = ? WHERE id = ?", models.CountCap+5, w.acme.ID); err != nil {
		t.Fatal(err)
	}
	for _, page := range []int{1, 3} {
		p, err := w.store.ListDevices(ctx, w.acme.ID, "", models.PageRequest{Number: page, Size: 25})
		if err != nil {
			t.Fatal(err)
		}
		if p.Total != models.CountCap || !p.Capped {
			t.Errorf("page %d: total %d (capped %v), want %d and more", page, p.Total, p.Capped, models.CountCap)
		}
	}
	// A search counts its matches, capped the same way, never the kept count.
	p, err := w.store.ListDevices(ctx, w.acme.ID, "a-1", models.PageRequest{Number: 1, Size: 25})
	if err != nil || p.Total != 1 || p.Capped {
		t.Errorf("search: total %d (capped %v), err %v", p.Total, p.Capped, err)
	}
}

// As the server runs, under row-level security: a parent's Super Admin
// creating a tenant and devices below their own tenant keeps the counts of
// the tenants below, whose rows their scope may write.
func TestKeptListCountsUnderRowLevelSecurity(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	acme, eu := w.tenant["acme"], w.tenant["acme-eu"]
	manager := models.Scope{TenantID: acme, Subtree: true}
	err := w.app.Within(ctx, manager, func(ctx context.Context, tx *models.Store) error {
		if _, err := tx.CreateTenant(ctx, models.NewTenant{ParentID: eu, Name: "Acme Paris", Subdomain: "acme-paris", Timezone: "UTC"}); err != nil {
			return err
		}
		if _, err := tx.AddDevice(ctx, eu, models.NewDevice{Identifier: "EU-NEW", Model: "Gate"}); err != nil {
			return err
		}
		_, err := tx.ImportDevices(ctx, acme, []models.DeviceCSVRow{{Line: 2, Identifier: "AC-1", Model: "Gate"}, {Line: 3, Identifier: "AC-2", Model: "Gate"}})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	checkKeptCounts(t, w.owner, "a Super Admin's changes below their tenant")
	// The lists, read as the application, show them.
	err = w.app.Within(ctx, manager, func(ctx context.Context, tx *models.Store) error {
		first := models.PageRequest{Number: 1, Size: 25}
		children, err := tx.SubTenants(ctx, eu, "", first)
		if err != nil {
			return err
		}
		devices, err := tx.ListDevices(ctx, eu, "", first)
		if err != nil {
			return err
		}
		if children.Total != 1 || devices.Total != 26 || len(devices.Items) != 25 { // the demo's 25 devices and the new one
			t.Errorf("acme-eu lists %d sub-tenants, and %d devices of %d", children.Total, len(devices.Items), devices.Total)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Migration 00033 counts what exists when it runs: down to 00030 and up
// again, every tenant's counts are its rows', and they are kept from then on.
func TestListCountsMigrationCountsExistingRows(t *testing.T) {
	w := newDeviceWorld(t)
	ctx := context.Background()
	for _, sub := range []string{"acme-eu", "acme-us"} {
		if _, err := w.store.CreateTenant(ctx, models.NewTenant{ParentID: w.acme.ID, Name: "Tenant " + sub, Subdomain: sub, Timezone: "UTC"}); err != nil {
			t.Fatal(err)
		}
	}
	mustDevice(t, w.store, w.acme.ID, "A-1", "Gate")
	mustDevice(t, w.store, w.globex.ID, "G-1", "Gate")
	if err := w.store.MigrateDownToForTest(ctx, 30); err != nil {
		t.Fatal(err)
	}
	if err := w.store.ExecForTest(ctx, "SELECT child_count FROM tenants"); err == nil {
		t.Fatal("tenants.child_count is still there after going down")
	}
	mustDevice(t, w.store, w.acme.ID, "A-2", "Gate") // added while nothing counts
	if err := w.store.MigrateForTest(ctx); err != nil {
		t.Fatal(err)
	}
	checkKeptCounts(t, w.store.DBForTest(ctx), "migrating up again")
	mustDevice(t, w.store, w.acme.ID, "A-3", "Gate")
	checkKeptCounts(t, w.store.DBForTest(ctx), "a device added after the migration")
	if p, err := w.store.ListDevices(ctx, w.acme.ID, "", models.PageRequest{Number: 1, Size: 25}); err != nil || p.Total != 3 {
		t.Fatalf("acme lists %d devices, want 3 (err %v)", p.Total, err)
	}
}
