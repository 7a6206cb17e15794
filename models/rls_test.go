package models_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

// These tests connect as the server does in production — a member of
// canopy_app, not the owner, no superuser, no BYPASSRLS — and prove Postgres
// row-level security holds on its own: each query here names no tenant.

// rlsWorld is the demo data, loaded by the owner, and a store connected as
// the application role.
type rlsWorld struct {
	owner  *gorm.DB
	appDB  *gorm.DB
	app    *models.Store
	tenant map[string]int64 // by subdomain
}

func newRLSWorld(t *testing.T) *rlsWorld {
	t.Helper()
	if os.Getenv(testdb.EnvVar) == "" {
		t.Skip("row-level security is Postgres's; set " + testdb.EnvVar)
	}
	owner, appDB := testdb.OpenDemoAsApp(t)
	ctx := context.Background()
	ownerStore := models.NewStore(owner)
	w := &rlsWorld{owner: owner, appDB: appDB, app: models.NewStore(appDB).WithScopeKey(testdb.ScopeKey), tenant: map[string]int64{}}
	var rows []struct {
		ID        int64
		Subdomain string
	}
	if err := owner.Raw("SELECT id, subdomain FROM tenants").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		w.tenant[r.Subdomain] = r.ID
	}
	// Globex gets devices too, so two tenants have some.
	for i := range 3 {
		if _, err := ownerStore.AddDevice(ctx, w.tenant["globex"], models.NewDevice{Identifier: fmt.Sprintf("GX-%d", i), Model: "Globex Gate"}); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// as runs fn as a request of the application role whose scope is scope, the
// way the server runs each request.
func (w *rlsWorld) as(t *testing.T, scope models.Scope, fn func(db *gorm.DB) error) {
	t.Helper()
	err := w.app.Request(context.Background(), func(ctx context.Context) error {
		ctx, err := w.app.SetScope(ctx, scope)
		if err != nil {
			return err
		}
		return fn(w.app.DBForTest(ctx))
	})
	if err != nil {
		t.Fatal(err)
	}
}

// tenantIDsOf lists the distinct tenant_id values a query of table returns.
func tenantIDsOf(t *testing.T, db *gorm.DB, table string) []int64 {
	t.Helper()
	var ids []int64
	if err := db.Raw("SELECT DISTINCT tenant_id FROM " + table + " WHERE tenant_id IS NOT NULL ORDER BY tenant_id").Scan(&ids).Error; err != nil {
		t.Fatal(err)
	}
	return ids
}

// tenantTables are the tables with a tenant_id column, read from the catalog
// so that a table added later is covered without touching this test.
func tenantTables(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var tables []string
	err := db.Raw(`SELECT c.relname FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') ORDER BY c.relname`).Scan(&tables).Error
	if err != nil {
		t.Fatal(err)
	}
	return tables
}

// unguardedTenantTables lists each tenant_id table lacking RLS enabled,
// RLS forced, or a policy for every command with both USING and WITH CHECK.
func unguardedTenantTables(t *testing.T, db *gorm.DB) []string {
	t.Helper()
	var problems []string
	err := db.Raw(`SELECT c.relname || ': ' || concat_ws(', ',
			CASE WHEN NOT c.relrowsecurity THEN 'RLS not enabled' END,
			CASE WHEN NOT c.relforcerowsecurity THEN 'RLS not forced' END,
			CASE WHEN NOT EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid AND p.polcmd = '*'
				AND p.polqual IS NOT NULL AND p.polwithcheck IS NOT NULL) THEN 'no policy with USING and WITH CHECK' END)
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
		WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
		AND NOT (c.relrowsecurity AND c.relforcerowsecurity AND EXISTS (SELECT 1 FROM pg_policy p WHERE p.polrelid = c.oid
			AND p.polcmd = '*' AND p.polqual IS NOT NULL AND p.polwithcheck IS NOT NULL))
		ORDER BY c.relname`).Scan(&problems).Error
	if err != nil {
		t.Fatal(err)
	}
	return problems
}

func TestRLSCatalogEveryTenantTableIsGuarded(t *testing.T) {
	w := newRLSWorld(t)
	tables := tenantTables(t, w.owner)
	for _, want := range []string{"audit_events", "devices", "invitations", "membership_templates", "memberships",
		"orders", "outbox_emails", "templates", "tenant_solutions"} {
		if !slices.Contains(tables, want) {
			t.Errorf("the catalog query missed %s; found %v", want, tables)
		}
	}
	if problems := unguardedTenantTables(t, w.owner); len(problems) > 0 {
		t.Fatalf("tenant tables without row-level security:\n%s", strings.Join(problems, "\n"))
	}

	// The check itself notices a new table that forgets its policy.
	if err := w.owner.Exec("CREATE TABLE widgets (id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL)").Error; err != nil {
		t.Fatal(err)
	}
	if problems := unguardedTenantTables(t, w.owner); len(problems) != 1 || !strings.HasPrefix(problems[0], "widgets: RLS not enabled, RLS not forced, no policy") {
		t.Fatalf("a new unguarded table went unnoticed: %v", problems)
	}
}

func TestRLSApplicationRoleCannotBypass(t *testing.T) {
	w := newRLSWorld(t)
	var role struct {
		Name      string
		Super     bool
		Bypass    bool
		OwnsTable bool
		InApp     bool
	}
	err := w.appDB.Raw(`SELECT current_user AS name, rolsuper AS super, rolbypassrls AS bypass,
		EXISTS (SELECT 1 FROM pg_tables WHERE tableowner = current_user) AS owns_table,
		pg_has_role(current_user, 'canopy_app', 'MEMBER') AS in_app
		FROM pg_roles WHERE rolname = current_user`).Scan(&role).Error
	if err != nil {
		t.Fatal(err)
	}
	if role.Super || role.Bypass || role.OwnsTable || !role.InApp {
		t.Fatalf("the server's role %s must be a plain member of canopy_app: %+v", role.Name, role)
	}
	if warning, err := models.RowSecurityWarning(context.Background(), w.appDB); err != nil || warning != "" {
		t.Fatalf("warning for the application role: %q, %v", warning, err)
	}
	if warning, _ := models.RowSecurityWarning(context.Background(), w.owner); !strings.Contains(warning, "row-level security does not apply") {
		t.Fatalf("no warning for a superuser connection: %q", warning)
	}
	// Nor can it switch the wall off.
	if err := w.appDB.Exec("ALTER TABLE devices DISABLE ROW LEVEL SECURITY").Error; err == nil {
		t.Fatal("the application role disabled row-level security")
	}
}

func TestRLSWithoutScopeSeesAndWritesNothing(t *testing.T) {
	w := newRLSWorld(t)
	for _, table := range tenantTables(t, w.owner) {
		var count int64
		if err := w.appDB.Raw("SELECT count(*) FROM " + table).Scan(&count).Error; err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if count != 0 {
			t.Errorf("%s: %d rows visible with no tenant set", table, count)
		}
	}
	var owned int64
	w.owner.Raw("SELECT count(*) FROM devices").Scan(&owned)
	if owned == 0 {
		t.Fatal("the owner sees no devices: the test proves nothing")
	}
	// An empty setting, as after a scope with no tenant, is the same.
	w.as(t, models.Scope{}, func(db *gorm.DB) error {
		var count int64
		if err := db.Raw("SELECT count(*) FROM devices").Scan(&count).Error; err != nil || count != 0 {
			t.Errorf("empty scope: %d devices, err %v", count, err)
		}
		return nil
	})
	err := w.appDB.Exec("INSERT INTO devices (tenant_id, identifier, model, status) VALUES (?, 'NO-SCOPE-1', 'X', 'active')", w.tenant["acme"]).Error
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("insert with no tenant set: err = %v, want a row-level security refusal", err)
	}
}

func TestRLSTenantCannotWriteAnothersRows(t *testing.T) {
	w := newRLSWorld(t)
	acme, globex := w.tenant["acme"], w.tenant["globex"]
	ctx := context.Background()
	err := w.app.Within(ctx, models.Scope{TenantID: globex}, func(ctx context.Context, tx *models.Store) error {
		return tx.DBForTest(ctx).Exec("INSERT INTO devices (tenant_id, identifier, model, status) VALUES (?, 'SNEAK-1', 'X', 'active')", acme).Error
	})
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("globex inserting an acme device: err = %v, want a row-level security refusal", err)
	}
	// Moving one of its own rows into another tenant is refused too.
	err = w.app.Within(ctx, models.Scope{TenantID: globex}, func(ctx context.Context, tx *models.Store) error {
		return tx.DBForTest(ctx).Exec("UPDATE devices SET tenant_id = ? WHERE identifier = 'GX-0'", acme).Error
	})
	if err == nil {
		t.Fatal("globex moved a device into acme")
	}
	// Another tenant's rows are not there to change or delete.
	w.as(t, models.Scope{TenantID: globex}, func(db *gorm.DB) error {
		for _, stmt := range []string{
			"UPDATE memberships SET role = 'viewer' WHERE tenant_id = ?",
			"DELETE FROM memberships WHERE tenant_id = ?",
			"DELETE FROM tenant_solutions WHERE tenant_id = ?",
		} {
			res := db.Exec(stmt, acme)
			if res.Error != nil || res.RowsAffected != 0 {
				t.Errorf("%s as globex: %d rows, err %v", stmt, res.RowsAffected, res.Error)
			}
		}
		return nil
	})
	var acmeMembers int64
	w.owner.Raw("SELECT count(*) FROM memberships WHERE tenant_id = ? AND role <> 'viewer'", acme).Scan(&acmeMembers)
	if acmeMembers == 0 {
		t.Fatal("acme's memberships were changed from globex")
	}
}

func TestRLSPooledConnectionCarriesNoScope(t *testing.T) {
	w := newRLSWorld(t)
	sqlDB, err := w.appDB.DB()
	if err != nil {
		t.Fatal(err)
	}
	sqlDB.SetMaxOpenConns(1) // one connection, used by every step below
	eu, globex := w.tenant["acme-eu"], w.tenant["globex"]
	pids := map[int64]bool{}
	visible := func(db *gorm.DB) (tenants []int64) {
		var pid int64
		db.Raw("SELECT pg_backend_pid()").Scan(&pid)
		pids[pid] = true
		return tenantIDsOf(t, db, "devices")
	}
	w.as(t, models.Scope{TenantID: eu}, func(db *gorm.DB) error {
		if got := visible(db); !slices.Equal(got, []int64{eu}) {
			t.Errorf("as acme-eu: devices of %v", got)
		}
		return nil
	})
	w.as(t, models.Scope{TenantID: globex}, func(db *gorm.DB) error {
		if got := visible(db); !slices.Equal(got, []int64{globex}) {
			t.Errorf("as globex after acme-eu: devices of %v", got)
		}
		return nil
	})
	if got := visible(w.appDB); len(got) != 0 {
		t.Errorf("no tenant after globex: devices of %v", got)
	}
	var setting *string
	w.appDB.Raw("SELECT NULLIF(current_setting('app.tenant_id', true), '')").Scan(&setting)
	if setting != nil {
		t.Errorf("app.tenant_id outlived its transaction: %q", *setting)
	}
	if len(pids) != 1 {
		t.Fatalf("the steps used %d connections; the test needs one", len(pids))
	}
}

func TestRLSConcurrentTenantsSeeOnlyTheirOwn(t *testing.T) {
	w := newRLSWorld(t)
	want := map[int64]int{w.tenant["acme-eu"]: 25, w.tenant["globex"]: 3}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for tenantID, count := range want {
		for range 100 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := w.app.Within(context.Background(), models.Scope{TenantID: tenantID}, func(ctx context.Context, tx *models.Store) error {
					var seen []int64
					if err := tx.DBForTest(ctx).Raw("SELECT tenant_id FROM devices").Scan(&seen).Error; err != nil {
						return err
					}
					if len(seen) != count || slices.ContainsFunc(seen, func(id int64) bool { return id != tenantID }) {
						return fmt.Errorf("tenant %d saw %d devices of tenants %v", tenantID, len(seen), slices.Compact(slices.Sorted(slices.Values(seen))))
					}
					return nil
				})
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestRLSParentSeesExactlyItsDescendants(t *testing.T) {
	w := newRLSWorld(t)
	acme, eu, lab := w.tenant["acme"], w.tenant["acme-eu"], w.tenant["acme-lab"]
	family := []int64{acme, eu, lab}
	slices.Sort(family)
	// Without Subtree (anyone but a Super Admin) acme's scope is acme alone.
	w.as(t, models.Scope{TenantID: acme}, func(db *gorm.DB) error {
		if got := tenantIDsOf(t, db, "memberships"); !slices.Equal(got, []int64{acme}) {
			t.Errorf("acme's scope without Subtree sees memberships of %v, want acme's alone", got)
		}
		if got := tenantIDsOf(t, db, "devices"); len(got) != 0 {
			t.Errorf("acme's scope without Subtree sees devices of %v", got)
		}
		return nil
	})
	w.as(t, models.Scope{TenantID: acme, Subtree: true}, func(db *gorm.DB) error {
		if got := tenantIDsOf(t, db, "memberships"); !slices.Equal(got, family) {
			t.Errorf("acme's scope sees memberships of %v, want exactly acme and its sub-tenants %v", got, family)
		}
		if got := tenantIDsOf(t, db, "devices"); !slices.Equal(got, []int64{eu}) {
			t.Errorf("acme's scope sees devices of %v, want acme-eu's", got)
		}
		return nil
	})
	w.as(t, models.Scope{TenantID: eu, Subtree: true}, func(db *gorm.DB) error {
		if got := tenantIDsOf(t, db, "memberships"); !slices.Equal(got, []int64{eu}) {
			t.Errorf("acme-eu's scope sees memberships of %v, not only its own", got)
		}
		return nil
	})

	// The store's own pages agree: a sub-tenant's devices are there for the
	// parent, and a sibling's are not, even when the application asks.
	ctx, err := w.app.SetScope(context.Background(), models.Scope{TenantID: acme, Subtree: true})
	if err != nil {
		t.Fatal(err)
	}
	first := models.PageRequest{Number: 1, Size: 25}
	err = w.app.Tx(ctx, func(tx *models.Store) error {
		child, err := tx.ListDevices(ctx, eu, "", first)
		if err != nil || child.Total != 25 {
			t.Errorf("acme listing acme-eu's devices: %d, err %v", child.Total, err)
		}
		sibling, err := tx.ListDevices(ctx, w.tenant["globex"], "", first)
		if err != nil || sibling.Total != 0 || len(sibling.Items) != 0 {
			t.Errorf("acme listing globex's devices got %d, err %v", sibling.Total, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRLSUserSeesOwnMembershipsOnly(t *testing.T) {
	w := newRLSWorld(t)
	var alice int64
	w.owner.Raw("SELECT id FROM users WHERE email = 'alice@acme.test'").Scan(&alice)
	w.as(t, models.Scope{UserID: alice}, func(db *gorm.DB) error {
		var users []int64
		db.Raw("SELECT DISTINCT user_id FROM memberships").Scan(&users)
		if !slices.Equal(users, []int64{alice}) {
			t.Errorf("alice's scope sees memberships of users %v", users)
		}
		if got := tenantIDsOf(t, db, "memberships"); len(got) != 3 {
			t.Errorf("alice's own memberships in %v, want her 3 companies", got)
		}
		// Reading her own rows does not let her write into those companies.
		err := db.Exec("UPDATE memberships SET role = 'super_admin' WHERE user_id = ?", alice).Error
		if err != nil {
			return err
		}
		return nil
	})
	var raised int64
	w.owner.Raw("SELECT count(*) FROM memberships WHERE user_id = ? AND role = 'super_admin'", alice).Scan(&raised)
	if raised != 1 { // she owns acme and nothing else
		t.Fatalf("alice's own scope changed her role elsewhere: %d super_admin memberships", raised)
	}
}

func TestRLSInvitationVisibleOnlyWithItsToken(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	var token string
	mail := func(inv *models.Invitation, tn *models.Tenant, tok string) models.NewEmail {
		token = tok
		return models.NewEmail{TenantID: tn.ID, To: inv.Email, Subject: "Join", Body: "link"}
	}
	if _, err := models.NewStore(w.owner).Invite(ctx, models.InviteRequest{TenantID: w.tenant["globex"], InviterRole: models.RoleSuperAdmin,
		Email: "newcomer@example.com", FirstName: "New", LastName: "Comer", Role: models.RoleViewer}, mail); err != nil || token == "" {
		t.Fatalf("invite: %v", err)
	}
	var count int64
	w.appDB.Raw("SELECT count(*) FROM invitations").Scan(&count)
	if count != 0 {
		t.Fatalf("%d invitations visible without a token", count)
	}
	inv, tn, err := w.app.InvitationByToken(ctx, token)
	if err != nil || inv.Email != "newcomer@example.com" || tn.ID != w.tenant["globex"] {
		t.Fatalf("the token's holder cannot read the invitation: %v", err)
	}
	if _, _, err := w.app.InvitationByToken(ctx, token+"x"); err == nil {
		t.Fatal("a wrong token read an invitation")
	}
	// The outbox, which holds the link, is the mail worker's alone: not
	// another tenant's, nor even globex's own.
	for _, sub := range []string{"acme", "globex", "admin"} {
		w.as(t, models.Scope{TenantID: w.tenant[sub], Subtree: true}, func(db *gorm.DB) error {
			db.Raw("SELECT count(*) FROM outbox_emails").Scan(&count)
			if count != 0 {
				t.Errorf("%s's scope reads %d queued emails", sub, count)
			}
			return nil
		})
	}
	emails, err := w.app.OutboxFor(ctx, "newcomer@example.com")
	if err != nil || len(emails) != 1 {
		t.Fatalf("the mail worker's scope: %d emails, err %v", len(emails), err)
	}
}

func TestRLSTenantTreeIsFixed(t *testing.T) {
	w := newRLSWorld(t)
	acme, eu, globex := w.tenant["acme"], w.tenant["acme-eu"], w.tenant["globex"]
	ctx := context.Background()
	try := func(scope models.Scope, sql string, args ...any) (int64, error) {
		var rows int64
		err := w.app.Within(ctx, scope, func(ctx context.Context, tx *models.Store) error {
			res := tx.DBForTest(ctx).Exec(sql, args...)
			rows = res.RowsAffected
			return res.Error
		})
		return rows, err
	}
	manager := models.Scope{TenantID: acme, Subtree: true}

	// Every tenant can be read: hosts resolve against the directory.
	w.as(t, models.Scope{}, func(db *gorm.DB) error {
		var n int64
		db.Raw("SELECT count(*) FROM tenants").Scan(&n)
		if n != int64(len(w.tenant)) {
			t.Errorf("the directory shows %d of %d tenants", n, len(w.tenant))
		}
		return nil
	})
	// Another tenant cannot be changed, nor created under another tenant.
	if rows, err := try(manager, "UPDATE tenants SET timezone = 'UTC' WHERE id = ?", globex); err != nil || rows != 0 {
		t.Errorf("acme changed globex: %d rows, err %v", rows, err)
	}
	if _, err := try(manager, "INSERT INTO tenants (parent_id, name, subdomain) VALUES (?, 'Sneaky', 'sneaky')", globex); err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Errorf("acme created a tenant under globex: err %v", err)
	}
	// Without Subtree, acme's own sub-tenants are out of reach too.
	if rows, err := try(models.Scope{TenantID: acme}, "UPDATE tenants SET timezone = 'UTC' WHERE id = ?", eu); err != nil || rows != 0 {
		t.Errorf("acme without Subtree changed acme-eu: %d rows, err %v", rows, err)
	}
	// The tree cannot be rearranged, even within one's own tree.
	if _, err := try(manager, "UPDATE tenants SET parent_id = ? WHERE id = ?", globex, eu); err == nil || !strings.Contains(err.Error(), "immutable") {
		t.Errorf("acme-eu moved in the tree: err %v", err)
	}
	// Rows never move between tenants, even between one's own.
	if _, err := try(manager, "UPDATE devices SET tenant_id = ? WHERE tenant_id = ?", acme, eu); err == nil || !strings.Contains(err.Error(), "between tenants") {
		t.Errorf("devices moved from acme-eu to acme: err %v", err)
	}
	// What a manager may do still works.
	if rows, err := try(manager, "UPDATE tenants SET timezone = 'UTC' WHERE id = ?", eu); err != nil || rows != 1 {
		t.Errorf("acme could not change its own sub-tenant: %d rows, err %v", rows, err)
	}
}

// TestRLSWithinPutsBackTheScopeInForce: Within, handed a context older than
// the request's latest scope, still restores the scope in force, after
// success and after failure alike.
func TestRLSWithinPutsBackTheScopeInForce(t *testing.T) {
	w := newRLSWorld(t)
	eu, globex, acme := w.tenant["acme-eu"], w.tenant["globex"], w.tenant["acme"]
	err := w.app.Request(context.Background(), func(ctx context.Context) error {
		stale, err := w.app.SetScope(ctx, models.Scope{TenantID: eu})
		if err != nil {
			return err
		}
		latest, err := w.app.SetScope(stale, models.Scope{TenantID: globex})
		if err != nil {
			return err
		}
		for _, fail := range []bool{false, true} {
			err := w.app.Within(stale, models.Scope{TenantID: acme, Subtree: true}, func(context.Context, *models.Store) error {
				if fail {
					return errors.New("the work failed")
				}
				return nil
			})
			if (err != nil) != fail {
				return fmt.Errorf("Within: %w", err)
			}
			if got := tenantIDsOf(t, w.app.DBForTest(latest), "devices"); !slices.Equal(got, []int64{globex}) {
				t.Errorf("after Within (failed %v) the request sees devices of %v, want globex's", fail, got)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRLSPlatformFiguresNeedTheWholeTree: the platform Home counts the
// invitations of every company, which row-level security shows only to a
// scope over the tree below the platform — its Super Admins'.
func TestRLSPlatformFiguresNeedTheWholeTree(t *testing.T) {
	w := newRLSWorld(t)
	ownerStore := models.NewStore(w.owner)
	mail := &sentMail{}
	_, err := ownerStore.Invite(context.Background(), models.InviteRequest{TenantID: w.tenant["globex"], InviterRole: models.RoleSuperAdmin,
		Email: "waiting@globex.test", FirstName: "Wanda", LastName: "Wait", Role: models.RoleViewer}, mail.build)
	if err != nil {
		t.Fatal(err)
	}
	platform := w.tenant["admin"]
	for _, c := range []struct {
		scope   models.Scope
		pending int64
	}{{models.Scope{TenantID: platform, Subtree: true}, 1}, {models.Scope{TenantID: platform}, 0}} {
		var got models.PlatformFigures
		err := w.app.Request(context.Background(), func(ctx context.Context) error {
			ctx, err := w.app.SetScope(ctx, c.scope)
			if err != nil {
				return err
			}
			got, err = w.app.PlatformFigures(ctx, platform)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		// Members are counted on the tenants, which every scope reads.
		if got.ActiveCompanies != 3 || got.Members != 7 || got.PendingInvitations != c.pending {
			t.Errorf("scope %+v: %+v, want 3 active companies, 7 members and %d pending invitations", c.scope, got, c.pending)
		}
	}
}
