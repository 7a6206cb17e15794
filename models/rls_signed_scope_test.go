package models_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

// The signed scope (migrations/postgres/00018_signed_scope.sql): each attack
// here is a statement the application role could send if one were injected
// through the server — it sets the scope settings itself — and each must
// see nothing and write nothing, while the server's own signed scope works.

// scopeSettings are the settings 00007 and 00018 read, in one transaction.
var scopeSettings = []string{"app.tenant_id", "app.subtree", "app.user_id", "app.invitation_token", "app.mailer", "app.scope_sig"}

// settingsOf are the settings the store applies for scope, with its
// signature, read back from a transaction of the application role.
func (w *rlsWorld) settingsOf(t *testing.T, scope models.Scope) map[string]string {
	t.Helper()
	settings := map[string]string{}
	w.as(t, scope, func(db *gorm.DB) error {
		for _, name := range scopeSettings {
			var value string
			if err := db.Raw("SELECT current_setting(?, true)", name).Scan(&value).Error; err != nil {
				return err
			}
			settings[name] = value
		}
		return nil
	})
	if settings["app.scope_sig"] == "" {
		t.Fatalf("the store applied %+v without a signature", scope)
	}
	return settings
}

// with is settings with some values changed: name, value, name, value, ….
func with(settings map[string]string, pairs ...string) map[string]string {
	changed := maps.Clone(settings)
	for i := 0; i+1 < len(pairs); i += 2 {
		changed[pairs[i]] = pairs[i+1]
	}
	return changed
}

// what a transaction sees: rows of each table the scope settings open.
type sight struct {
	devices, memberships, invitations, outbox int64
}

// lookWith runs a transaction of the application role that sets settings
// itself, with set_config as an injected statement would, and counts what it
// sees; then it tries to add a device to tenant, which must be refused.
func (w *rlsWorld) lookWith(t *testing.T, settings map[string]string, tenant int64) (seen sight, insertErr error) {
	t.Helper()
	err := w.appDB.Transaction(func(tx *gorm.DB) error {
		for _, name := range scopeSettings {
			if err := tx.Exec("SELECT set_config(?, ?, true)", name, settings[name]).Error; err != nil {
				return err
			}
		}
		for table, count := range map[string]*int64{"devices": &seen.devices, "memberships": &seen.memberships,
			"invitations": &seen.invitations, "outbox_emails": &seen.outbox} {
			if err := tx.Raw("SELECT count(*) FROM " + table).Scan(count).Error; err != nil {
				return fmt.Errorf("%s: %w", table, err)
			}
		}
		insertErr = tx.Exec("INSERT INTO devices (tenant_id, identifier, model, status) VALUES (?, 'FORGED-1', 'X', 'active')", tenant).Error
		return insertErr
	})
	if err != nil && !errors.Is(err, insertErr) {
		t.Fatal(err)
	}
	return seen, insertErr
}

func TestRLSForgedScopeSeesAndWritesNothing(t *testing.T) {
	w := newRLSWorld(t)
	acme, eu, globex := w.tenant["acme"], w.tenant["acme-eu"], w.tenant["globex"]
	var alice, bob int64
	w.owner.Raw("SELECT id FROM users WHERE email = 'alice@acme.test'").Scan(&alice)
	w.owner.Raw("SELECT id FROM users WHERE email = 'bob@globex.test'").Scan(&bob)
	mail := &sentMail{}
	if _, err := models.NewStore(w.owner).WithScopeKey(testdb.ScopeKey).Invite(context.Background(), models.InviteRequest{TenantID: eu, InviterRole: models.RoleSuperAdmin,
		Email: "queued@acme.test", FirstName: "Quinn", LastName: "Queued", Role: models.RoleViewer}, mail.build); err != nil {
		t.Fatal(err)
	}

	var queuedToken string
	w.owner.Raw("SELECT token_hash FROM invitations WHERE email = 'queued@acme.test'").Scan(&queuedToken)

	// Signatures the server made in other transactions, which an injected
	// statement could have read from its own request.
	globexScope := w.settingsOf(t, models.Scope{TenantID: globex})
	acmeViewer := w.settingsOf(t, models.Scope{TenantID: acme, UserID: alice})
	bobOwn := w.settingsOf(t, models.Scope{UserID: bob})

	// The control: a valid scope, even set by hand, still works.
	seen, err := w.lookWith(t, globexScope, globex)
	if seen.devices != 3 || seen.memberships == 0 || err != nil {
		t.Fatalf("globex's own signed scope sees %+v and adds a device with err %v; want its 3 devices and its members", seen, err)
	}

	for _, c := range []struct {
		name     string
		settings map[string]string
		target   int64
	}{
		{"acme-eu's tenant without a signature", with(globexScope, "app.tenant_id", fmt.Sprint(eu), "app.scope_sig", ""), eu},
		{"acme-eu's tenant under globex's signature", with(globexScope, "app.tenant_id", fmt.Sprint(eu)), eu},
		{"globex's signature with its subtree turned on", with(globexScope, "app.subtree", "on"), globex},
		{"acme's signature with the subtree of acme-eu turned on", with(acmeViewer, "app.subtree", "on"), eu},
		{"alice's memberships under bob's signature", with(bobOwn, "app.user_id", fmt.Sprint(alice)), acme},
		{"the outbox under bob's signature", with(bobOwn, "app.mailer", "on"), eu},
		{"an invitation's token under bob's signature", with(bobOwn, "app.invitation_token", queuedToken), eu},
		{"a signature that is not hex", with(globexScope, "app.scope_sig", "not-a-signature"), globex},
	} {
		t.Run(c.name, func(t *testing.T) {
			seen, err := w.lookWith(t, c.settings, c.target)
			if seen != (sight{}) {
				t.Errorf("a forged scope sees %+v", seen)
			}
			if err == nil || !strings.Contains(err.Error(), "row-level security") {
				t.Errorf("a forged scope adds a device: err %v, want a row-level security refusal", err)
			}
		})
	}
}

// TestRLSInjectedScopeChangeInsideARequest: a statement injected into a
// request that already holds a signed scope cannot move it elsewhere, and
// loses even its own tenant's rows by trying.
func TestRLSInjectedScopeChangeInsideARequest(t *testing.T) {
	w := newRLSWorld(t)
	eu, globex := w.tenant["acme-eu"], w.tenant["globex"]
	w.as(t, models.Scope{TenantID: globex}, func(db *gorm.DB) error {
		if got := tenantIDsOf(t, db, "devices"); !slices.Equal(got, []int64{globex}) {
			t.Fatalf("the request's own scope sees devices of %v", got)
		}
		if err := db.Exec("SELECT set_config('app.tenant_id', ?, true)", fmt.Sprint(eu)).Error; err != nil {
			return err
		}
		if got := tenantIDsOf(t, db, "devices"); len(got) != 0 {
			t.Errorf("after an injected set_config the request sees devices of %v", got)
		}
		return nil
	})
}

// TestRLSScopeKeyIsTheOwnersAlone: the application role can neither read nor
// replace the key, nor the functions that check it, nor slip its own key in
// through a temporary table of the same name.
func TestRLSScopeKeyIsTheOwnersAlone(t *testing.T) {
	w := newRLSWorld(t)
	for _, stmt := range []string{
		"SELECT inner_pad FROM scope_key",
		"UPDATE scope_key SET inner_pad = sha256('mine') || sha256('mine')",
		"DELETE FROM scope_key",
		"INSERT INTO scope_key (id, inner_pad, outer_pad) VALUES (false, sha256('a') || sha256('b'), sha256('c') || sha256('d'))",
		"CREATE OR REPLACE FUNCTION app_tenant_id() RETURNS BIGINT AS 'SELECT 1::BIGINT' LANGUAGE sql STABLE",
		"ALTER FUNCTION app_verified_scope() SECURITY INVOKER",
	} {
		if err := w.appDB.Exec(stmt).Error; err == nil || !strings.Contains(err.Error(), "must be owner") && !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("%s as the application role: err %v, want a refusal", stmt, err)
		}
	}

	// Its own key, in a temporary table found first on its search path,
	// signing its own scope: the check reads the owner's table regardless.
	globex := w.tenant["globex"]
	mine := []byte("a key the application role chose itself, 32+ bytes")
	innerPad, outerPad := models.ScopeKeyPadsForTest(mine)
	settings := map[string]string{"app.tenant_id": fmt.Sprint(globex), "app.subtree": "", "app.user_id": "",
		"app.invitation_token": "", "app.mailer": "", "app.scope_sig": models.ScopeSignatureForTest(mine, models.Scope{TenantID: globex})}
	var devices int64
	err := w.appDB.Transaction(func(tx *gorm.DB) error {
		for _, stmt := range []string{
			"CREATE TEMPORARY TABLE scope_key (id BOOLEAN, inner_pad BYTEA, outer_pad BYTEA) ON COMMIT DROP",
			fmt.Sprintf("INSERT INTO scope_key VALUES (true, '\\x%x', '\\x%x')", innerPad, outerPad),
			"SET LOCAL search_path = pg_temp, public",
		} {
			if err := tx.Exec(stmt).Error; err != nil {
				return fmt.Errorf("%s: %w", stmt, err)
			}
		}
		for _, name := range scopeSettings {
			if err := tx.Exec("SELECT set_config(?, ?, true)", name, settings[name]).Error; err != nil {
				return err
			}
		}
		return tx.Raw("SELECT count(*) FROM devices").Scan(&devices).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	if devices != 0 {
		t.Fatalf("a scope signed with a key of the application role's own sees %d devices", devices)
	}
	// The same scope signed with the database's key does see them: the test
	// above failed for the key alone.
	if got := w.settingsOf(t, models.Scope{TenantID: globex}); got["app.scope_sig"] != models.ScopeSignatureForTest(testdb.ScopeKey, models.Scope{TenantID: globex}) {
		t.Fatal("the test signs differently from the store")
	}
}

// TestRLSScopeIsVerifiedOncePerStatement: the policies call the accessors as
// scalar subqueries, which PostgreSQL runs once per statement, so a query
// over many rows checks the signature at most twice per table (the tenant,
// and the tree below it when a row of another tenant is looked at), not
// once per row.
func TestRLSScopeIsVerifiedOncePerStatement(t *testing.T) {
	w := newRLSWorld(t)
	// acme's Super Admins see acme-eu's devices through the tree.
	settings := w.settingsOf(t, models.Scope{TenantID: w.tenant["acme"], Subtree: true})
	var rows, calls int64
	// As the owner (a superuser, the only one who may count function calls),
	// switched to the application role so the policies apply.
	err := w.owner.Transaction(func(tx *gorm.DB) error {
		for _, stmt := range []string{"SET LOCAL track_functions = 'pl'", "SET LOCAL ROLE " + testdb.AppRole} {
			if err := tx.Exec(stmt).Error; err != nil {
				return err
			}
		}
		for _, name := range scopeSettings {
			if err := tx.Exec("SELECT set_config(?, ?, true)", name, settings[name]).Error; err != nil {
				return err
			}
		}
		if err := tx.Raw("SELECT count(*) FROM devices").Scan(&rows).Error; err != nil {
			return err
		}
		return tx.Raw("SELECT coalesce(pg_stat_get_xact_function_calls('app_verified_scope'::regproc), 0)").Scan(&calls).Error
	})
	if err != nil {
		t.Fatal(err)
	}
	if rows < 25 {
		t.Fatalf("the query saw %d rows; the test needs many", rows)
	}
	if calls == 0 || calls > 2 {
		t.Fatalf("the signature was checked %d times for one statement over %d rows, want at most 2", calls, rows)
	}
}

// TestRLSCheckScopeKey: the server stops at start-up when the database does
// not hold its key, and a new key (a changed CANOPY_SESSION_KEY) takes over.
func TestRLSCheckScopeKey(t *testing.T) {
	w := newRLSWorld(t)
	ctx := context.Background()
	if err := w.app.CheckScopeKey(ctx); err != nil {
		t.Fatalf("the database's own key: %v", err)
	}
	other := []byte("another server's key, at least 32 bytes long")
	otherStore := models.NewStore(w.appDB).WithScopeKey(other)
	if err := otherStore.CheckScopeKey(ctx); !errors.Is(err, models.ErrScopeKeyMismatch) {
		t.Fatalf("another key: err %v, want ErrScopeKeyMismatch", err)
	}
	if err := models.NewStore(w.appDB).CheckScopeKey(ctx); !errors.Is(err, models.ErrScopeKeyMismatch) {
		t.Fatalf("no key: err %v, want ErrScopeKeyMismatch", err)
	}
	if err := models.ProvisionScopeKey(ctx, w.appDB, other); err == nil {
		t.Fatal("the application role wrote the scope key")
	}
	if err := models.ProvisionScopeKey(ctx, w.owner, other); err != nil {
		t.Fatal(err)
	}
	if err := otherStore.CheckScopeKey(ctx); err != nil {
		t.Fatalf("after the owner wrote the new key: %v", err)
	}
	if err := w.app.CheckScopeKey(ctx); !errors.Is(err, models.ErrScopeKeyMismatch) {
		t.Fatalf("the old key after the new was written: err %v", err)
	}
}

// TestRLSEveryPolicyReadsTheSignedScope: every policy, including those of
// tables added later, reads the scope through the accessors, which check the
// signature, and only as scalar subqueries, which run once per statement; a
// policy reading current_setting directly would trust a forged scope, and an
// accessor called per row would check the signature once per row.
func TestRLSEveryPolicyReadsTheSignedScope(t *testing.T) {
	w := newRLSWorld(t)
	problems := func() []string {
		var policies []struct{ Name, Expr string }
		err := w.owner.Raw(`SELECT c.relname || '.' || p.polname AS name,
				concat_ws(' ', pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)) AS expr
			FROM pg_policy p JOIN pg_class c ON c.oid = p.polrelid ORDER BY 1`).Scan(&policies).Error
		if err != nil {
			t.Fatal(err)
		}
		if len(policies) < 10 {
			t.Fatalf("the catalog shows %d policies", len(policies))
		}
		var found []string
		for _, p := range policies {
			if strings.Contains(p.Expr, "current_setting") {
				found = append(found, p.Name+" reads current_setting: "+p.Expr)
			}
			if perRow := perRowAccessor.FindAllString(p.Expr, -1); len(perRow) > 0 {
				found = append(found, fmt.Sprintf("%s calls %v per row: %s", p.Name, perRow, p.Expr))
			}
		}
		return found
	}
	if found := problems(); len(found) > 0 {
		t.Fatalf("policies that do not read the signed scope once per statement:\n%s", strings.Join(found, "\n"))
	}

	// The check itself notices both.
	for _, stmt := range []string{
		"CREATE POLICY per_row ON devices FOR SELECT USING (tenant_id = app_tenant_id())",
		"CREATE POLICY unsigned ON templates FOR SELECT USING (tenant_id = current_setting('app.tenant_id')::BIGINT)",
	} {
		if err := w.owner.Exec(stmt).Error; err != nil {
			t.Fatal(err)
		}
	}
	if found := problems(); len(found) != 2 {
		t.Fatalf("the check missed a per-row or an unsigned policy: %v", found)
	}
}

// perRowAccessor finds an accessor call that is not a whole scalar subquery,
// as PostgreSQL prints policies: `( SELECT app_tenant_id() AS app_tenant_id)`.
var perRowAccessor = regexp.MustCompile(`(?:^|[^T] |[^ ])app_[a-z_]+\(\)`)
