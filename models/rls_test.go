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
	"time"

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
		"orders", "outbox_emails", "sso_connections", "sso_domains", "templates", "tenant_solutions"} {
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

// The database wall: what a statement injected through the application —
// any SQL at all, run as canopy_app in whatever scope the request had —
// can still not do.

// try runs one statement as the application role in scope, in a
// transaction of its own (a refused statement spoils the one it is in).
func (w *rlsWorld) try(scope models.Scope, sql string, args ...any) (rows int64, err error) {
	err = w.app.Within(context.Background(), scope, func(ctx context.Context, tx *models.Store) error {
		res := tx.DBForTest(ctx).Exec(sql, args...)
		rows = res.RowsAffected
		return res.Error
	})
	return rows, err
}

// userID is the id of the demo person with email, read by the owner.
func (w *rlsWorld) userID(t *testing.T, email string) int64 {
	t.Helper()
	var id int64
	if err := w.owner.Raw("SELECT id FROM users WHERE email = ?", email).Scan(&id).Error; err != nil || id == 0 {
		t.Fatalf("no demo user %s: %v", email, err)
	}
	return id
}

// refused tells whether err is Postgres refusing the statement for want of
// a grant — the first layer; the triggers, the second, are tested as the
// owner, whom no grant stops.
func refused(err error) bool {
	return err != nil && strings.Contains(err.Error(), "permission denied")
}

func TestRLSPasswordHashesCannotBeListed(t *testing.T) {
	w := newRLSWorld(t)
	alice := w.userID(t, "alice@acme.test")
	platformStaff := models.Scope{TenantID: w.tenant["admin"], Subtree: true, UserID: w.userID(t, "staff@canopy.test")}
	for _, scope := range []models.Scope{{}, {UserID: alice}, {TenantID: w.tenant["acme"], Subtree: true, UserID: alice}, platformStaff} {
		for _, sql := range []string{
			"SELECT count(*) FROM user_passwords",
			"SELECT hash FROM user_passwords WHERE user_id = " + fmt.Sprint(alice),
			"UPDATE user_passwords SET hash = 'x'",
			"INSERT INTO user_passwords (user_id, hash) VALUES (" + fmt.Sprint(alice) + ", 'x')",
			"DELETE FROM user_passwords",
		} {
			if _, err := w.try(scope, sql); !refused(err) {
				t.Errorf("scope %+v: %s: err = %v, want permission denied", scope, sql, err)
			}
		}
		// The hashes are no longer in users either.
		if _, err := w.try(scope, "SELECT password_hash FROM users"); err == nil || !strings.Contains(err.Error(), "password_hash") {
			t.Errorf("scope %+v: users still has a password_hash column: err = %v", scope, err)
		}
	}
}

func TestRLSPasswordHashFunctionAnswersOneExactEmail(t *testing.T) {
	w := newRLSWorld(t)
	alice := w.userID(t, "alice@acme.test")
	var ownerHash string
	w.owner.Raw("SELECT hash FROM user_passwords WHERE user_id = ?", alice).Scan(&ownerHash)
	if ownerHash == "" {
		t.Fatal("alice has no password hash: the test proves nothing")
	}
	cases := []struct {
		email string
		want  int
	}{
		{"alice@acme.test", 1},
		{"ALICE@Acme.Test", 1}, // addresses are one account in any case
		{"%", 0},
		{"%@acme.test", 0},
		{"alice@acme.test' OR true --", 0},
		{"", 0},
		{"nobody@acme.test", 0},
	}
	for _, c := range cases {
		w.as(t, models.Scope{}, func(db *gorm.DB) error {
			var rows []struct {
				UserID int64
				Hash   string
			}
			if err := db.Raw("SELECT user_id, hash FROM canopy_password_hash(?)", c.email).Scan(&rows).Error; err != nil {
				return err
			}
			if len(rows) != c.want {
				t.Errorf("canopy_password_hash(%q): %d rows, want %d", c.email, len(rows), c.want)
			}
			if c.want == 1 && (rows[0].UserID != alice || rows[0].Hash != ownerHash) {
				t.Errorf("canopy_password_hash(%q) = user %d, want alice's row", c.email, rows[0].UserID)
			}
			return nil
		})
	}
	// Nor can its neighbours list anyone: the lookup by email is as exact.
	w.as(t, models.Scope{}, func(db *gorm.DB) error {
		var n int64
		if err := db.Raw("SELECT count(*) FROM canopy_user_by_email('%')").Scan(&n).Error; err != nil || n != 0 {
			t.Errorf("canopy_user_by_email('%%'): %d rows, err %v", n, err)
		}
		return nil
	})
	// Sign-in still works through it, as the server's role.
	if u, err := w.app.Authenticate(context.Background(), "alice@acme.test", "demo-password"); err != nil || u.ID != alice {
		t.Fatalf("alice cannot sign in as the application role: %v", err)
	}
}

func TestRLSPasswordChangesOnlyYourOwn(t *testing.T) {
	w := newRLSWorld(t)
	alice, bob := w.userID(t, "alice@acme.test"), w.userID(t, "bob@globex.test")
	var bobsHash string
	w.owner.Raw("SELECT hash FROM user_passwords WHERE user_id = ?", bob).Scan(&bobsHash)
	// Knowing bob's hash (canopy_password_hash gives it for his address) is
	// not enough: only the scope's own user's can be replaced.
	for _, scope := range []models.Scope{{}, {UserID: alice}, {TenantID: w.tenant["globex"], Subtree: true, UserID: alice}} {
		w.as(t, scope, func(db *gorm.DB) error {
			var replaced bool
			if err := db.Raw("SELECT canopy_change_password(?, ?, 'attacker-hash')", bob, bobsHash).Scan(&replaced).Error; err != nil {
				return err
			}
			if replaced {
				t.Errorf("scope %+v replaced bob's password", scope)
			}
			return nil
		})
	}
	var now string
	w.owner.Raw("SELECT hash FROM user_passwords WHERE user_id = ?", bob).Scan(&now)
	if now != bobsHash {
		t.Fatal("bob's hash changed")
	}
}

func TestRLSAuditLogIsInsertOnly(t *testing.T) {
	w := newRLSWorld(t)
	acme := w.tenant["acme"]
	var logged int64
	w.owner.Raw("SELECT count(*) FROM audit_events WHERE tenant_id = ?", acme).Scan(&logged)
	if logged == 0 {
		t.Fatal("acme's log is empty: the test proves nothing")
	}
	manager := models.Scope{TenantID: acme, Subtree: true, UserID: w.userID(t, "alice@acme.test")}
	for _, sql := range []string{
		"DELETE FROM audit_events",
		"UPDATE audit_events SET actor_email = 'someone@else.test'",
		"UPDATE audit_events SET action = 'settings.saved' WHERE action = 'member.removed'",
		"TRUNCATE audit_events",
	} {
		if _, err := w.try(manager, sql); !refused(err) {
			t.Errorf("acme's Super Admin scope: %s: err = %v, want permission denied", sql, err)
		}
	}
	// Writing the log still works, as every change does.
	if _, err := w.try(manager, "INSERT INTO audit_events (tenant_id, action) VALUES (?, 'settings.saved')", acme); err != nil {
		t.Fatalf("the application cannot write the log: %v", err)
	}
	// The trigger holds even where a grant would not: for the owner too.
	for _, sql := range []string{"DELETE FROM audit_events WHERE tenant_id = ?", "UPDATE audit_events SET ip = '' WHERE tenant_id = ?"} {
		if err := w.owner.Exec(sql, acme).Error; err == nil || !strings.Contains(err.Error(), "insert-only") {
			t.Errorf("owner: %s: err = %v, want the insert-only trigger", sql, err)
		}
	}
	var after int64
	w.owner.Raw("SELECT count(*) FROM audit_events WHERE tenant_id = ?", acme).Scan(&after)
	if after != logged+1 {
		t.Fatalf("acme's log has %d events, want %d", after, logged+1)
	}
}

func TestRLSHandoffRedemptionsCannotBeUndone(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	live, spent := time.Now().Add(time.Minute), time.Now().Add(-time.Minute)
	if err := w.app.RedeemHandoff(ctx, "live-token", live); err != nil {
		t.Fatal(err)
	}
	if err := w.app.RedeemHandoff(ctx, "spent-token", spent); err != nil {
		t.Fatal(err)
	}
	alice := models.Scope{TenantID: w.tenant["acme"], UserID: w.userID(t, "alice@acme.test")}
	for _, sql := range []string{
		"DELETE FROM handoff_redemptions WHERE token_id = 'live-token'",
		"DELETE FROM handoff_redemptions WHERE token_id = 'spent-token'",
		"UPDATE handoff_redemptions SET token_id = 'other' WHERE token_id = 'live-token'",
		"UPDATE handoff_redemptions SET expires_at = now() - interval '1 hour'",
		"TRUNCATE handoff_redemptions",
	} {
		if _, err := w.try(alice, sql); !refused(err) {
			t.Errorf("%s: err = %v, want permission denied", sql, err)
		}
	}
	if err := w.app.RedeemHandoff(ctx, "live-token", live); !errors.Is(err, models.ErrHandoffUsed) {
		t.Fatalf("a spent token was redeemed again: err = %v", err)
	}
	// Not even the owner removes a redemption whose token is still valid.
	if err := w.owner.Exec("DELETE FROM handoff_redemptions WHERE token_id = 'live-token'").Error; err == nil || !strings.Contains(err.Error(), "insert-only") {
		t.Errorf("owner deleting a live redemption: err = %v, want the insert-only trigger", err)
	}
	// The server's sweep forgets the expired one, through the owner's function.
	if swept, err := w.app.SweepHandoffs(ctx); err != nil || swept != 1 {
		t.Fatalf("sweep as the application role: %d swept, err %v; want the expired one", swept, err)
	}
	var left []string
	w.owner.Raw("SELECT token_id FROM handoff_redemptions ORDER BY token_id").Scan(&left)
	if !slices.Equal(left, []string{"live-token"}) {
		t.Fatalf("after the sweep: %v, want the live token alone", left)
	}
}

func TestRLSUsersOfAnotherTenantAreInvisible(t *testing.T) {
	w := newRLSWorld(t)
	emailsOf := func(db *gorm.DB, sql string, args ...any) []string {
		var emails []string
		if err := db.Raw(sql, args...).Scan(&emails).Error; err != nil {
			t.Fatal(err)
		}
		return emails
	}
	membersOf := func(subdomains ...string) []string {
		var ids []int64
		for _, s := range subdomains {
			ids = append(ids, w.tenant[s])
		}
		return emailsOf(w.owner, "SELECT DISTINCT u.email FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.tenant_id IN ? ORDER BY u.email", ids)
	}
	var everyone int64
	w.owner.Raw("SELECT count(*) FROM users").Scan(&everyone)
	alice := w.userID(t, "alice@acme.test")
	cases := []struct {
		name  string
		scope models.Scope
		want  []string
	}{
		{"no scope", models.Scope{}, nil},
		{"globex's members", models.Scope{TenantID: w.tenant["globex"]}, membersOf("globex")},
		{"acme without its sub-tenants", models.Scope{TenantID: w.tenant["acme"]}, membersOf("acme")},
		{"acme's Super Admins", models.Scope{TenantID: w.tenant["acme"], Subtree: true}, membersOf("acme", "acme-eu", "acme-lab")},
		// Her own row, and the owners of her three companies.
		{"alice alone", models.Scope{UserID: alice}, []string{"alice@acme.test", "bob@globex.test", "carol@initech.test"}},
	}
	for _, c := range cases {
		w.as(t, c.scope, func(db *gorm.DB) error {
			got := emailsOf(db, "SELECT email FROM users ORDER BY email")
			if !slices.Equal(got, c.want) {
				t.Errorf("%s: sees %v, want %v", c.name, got, c.want)
			}
			if int64(len(got)) >= everyone {
				t.Errorf("%s: sees all %d users", c.name, everyone)
			}
			return nil
		})
	}
	// Platform staff see everyone who belongs to a company: their pages do.
	w.as(t, models.Scope{TenantID: w.tenant["admin"], Subtree: true}, func(db *gorm.DB) error {
		if got := emailsOf(db, "SELECT email FROM users"); int64(len(got)) != everyone {
			t.Errorf("platform staff see %d of %d users", len(got), everyone)
		}
		return nil
	})

	// Nor can another tenant's people be changed, created or removed.
	globex := models.Scope{TenantID: w.tenant["globex"], UserID: w.userID(t, "bob@globex.test")}
	dave := w.userID(t, "dave@acme.test")
	if rows, err := w.try(globex, "UPDATE users SET session_version = session_version + 1, first_name = 'X' WHERE id = ?", dave); err != nil || rows != 0 {
		t.Errorf("globex changed dave of acme: %d rows, err %v", rows, err)
	}
	// Not even a fellow member's row: only one's own.
	if rows, err := w.try(globex, "UPDATE users SET first_name = 'X' WHERE id = ?", alice); err != nil || rows != 0 {
		t.Errorf("bob changed alice, a fellow member of globex: %d rows, err %v", rows, err)
	}
	for _, sql := range []string{"DELETE FROM users", "INSERT INTO users (email) VALUES ('sneaky@example.test')"} {
		if _, err := w.try(globex, sql); !refused(err) {
			t.Errorf("%s: err = %v, want permission denied", sql, err)
		}
	}
	var changed int64
	w.owner.Raw("SELECT count(*) FROM users WHERE first_name = 'X'").Scan(&changed)
	if changed != 0 {
		t.Fatal("someone's name was changed")
	}
}

func TestRLSDeliveredMailKeepsNoBody(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	var token string
	mail := func(inv *models.Invitation, tn *models.Tenant, tok string) models.NewEmail {
		token = tok
		return models.NewEmail{TenantID: tn.ID, To: inv.Email, Subject: "Join Globex", Body: "Accept: http://localhost:8080/invitations/" + tok}
	}
	if _, err := models.NewStore(w.owner).Invite(ctx, models.InviteRequest{TenantID: w.tenant["globex"], InviterRole: models.RoleSuperAdmin,
		Email: "newcomer@example.com", FirstName: "New", LastName: "Comer", Role: models.RoleViewer}, mail); err != nil || token == "" {
		t.Fatalf("invite: %v", err)
	}
	claimed, err := w.app.ClaimDueEmails(ctx, 10, time.Minute)
	if err != nil || len(claimed) != 1 || !strings.Contains(claimed[0].BodyText, token) {
		t.Fatalf("the worker claimed %d emails, err %v", len(claimed), err)
	}
	if err := w.app.MarkEmailSent(ctx, claimed[0].ID); err != nil {
		t.Fatal(err)
	}
	var row struct {
		ToAddress, Subject, BodyText, Status string
	}
	w.owner.Raw("SELECT to_address, subject, body_text, status FROM outbox_emails WHERE id = ?", claimed[0].ID).Scan(&row)
	if row.BodyText != "" || row.Status != models.EmailSent || row.Subject != "Join Globex" || row.ToAddress != "newcomer@example.com" {
		t.Fatalf("delivered mail: %+v, want sent, its subject and recipient kept, and no body", row)
	}
	// Not even the mail worker's own scope finds the link any more.
	emails, err := w.app.OutboxFor(ctx, "newcomer@example.com")
	if err != nil || len(emails) != 1 || emails[0].BodyText != "" || emails[0].Subject != "Join Globex" {
		t.Fatalf("the mail worker reads %+v, err %v; want the record without its body", emails, err)
	}
}
