package models_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

// Single sign-on behind the database wall, as the application role: its
// two company tables under the tenant policy, identities and passwords
// reached only through the owner's functions, each answering for the
// scope's own user or tenant alone.

// ssoRLSWorld is the demo data with Acme's own connection saved (two
// domains, acme.test proven by DNS), by the owner.
type ssoRLSWorld struct {
	*rlsWorld
	acmeConn *models.SSOConnection
}

func newSSORLSWorld(t *testing.T) ssoRLSWorld {
	t.Helper()
	w := newRLSWorld(t)
	owner := models.NewStore(w.owner)
	acme := w.tenant["acme"]
	mustSetInherit(t, owner, acme, false)
	c := mustSaveSSO(t, owner, acme, ssoInput("acme.test, pending.test"))
	if err := owner.MarkDomainProvenByDNS(context.Background(), acme, domainNamed(t, c, "acme.test").ID); err != nil {
		t.Fatal(err)
	}
	return ssoRLSWorld{rlsWorld: w, acmeConn: mustConnectionOf(t, owner, acme)}
}

// within runs fn as the application role in scope, in a transaction of its
// own, and returns what fn or the transaction returned.
func (w *rlsWorld) within(scope models.Scope, fn func(ctx context.Context, tx *models.Store) error) error {
	return w.app.Within(context.Background(), scope, fn)
}

func TestRLSSSOTablesAreGuarded(t *testing.T) {
	w := newRLSWorld(t)
	tables := tenantTables(t, w.owner)
	for _, want := range []string{"sso_connections", "sso_domains"} {
		if !slices.Contains(tables, want) {
			t.Errorf("the catalog query missed %s; found %v", want, tables)
		}
		var policies []string
		w.owner.Raw("SELECT polname FROM pg_policy WHERE polrelid = ?::regclass AND polcmd = '*' ORDER BY polname", want).Scan(&policies)
		if !slices.Equal(policies, []string{"tenant_isolation"}) {
			t.Errorf("%s: policies for every command %v, want tenant_isolation", want, policies)
		}
	}
	for _, p := range unguardedTenantTables(t, w.owner) {
		if strings.HasPrefix(p, "sso_") {
			t.Errorf("unguarded: %s", p)
		}
	}
	// Identities belong to no company: no tenant_id, and no grant at all.
	var identities struct {
		TenantColumn, RowSecurity, AnyGrant bool
	}
	w.owner.Raw(`SELECT
		EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = 'user_identities'::regclass AND attname = 'tenant_id') AS tenant_column,
		(SELECT relrowsecurity FROM pg_class WHERE oid = 'user_identities'::regclass) AS row_security,
		has_table_privilege('canopy_app', 'user_identities', 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER') AS any_grant`).Scan(&identities)
	if identities.TenantColumn || !identities.RowSecurity || identities.AnyGrant {
		t.Errorf("user_identities: %+v, want no tenant_id, row-level security on, no grant to canopy_app", identities)
	}
}

func TestRLSSSORowsStayInTheirTenant(t *testing.T) {
	w := newSSORLSWorld(t)
	acme, eu, globex := w.tenant["acme"], w.tenant["acme-eu"], w.tenant["globex"]
	count := func(db *gorm.DB, table string) int64 {
		var n int64
		if err := db.Raw("SELECT count(*) FROM " + table).Scan(&n).Error; err != nil {
			t.Fatal(err)
		}
		return n
	}
	// Only acme's own scope reads its rows: not another company's, not a
	// sub-tenant's (the connection in force reaches it through a function,
	// without the secret), not a scope without a tenant.
	for _, c := range []struct {
		name                 string
		scope                models.Scope
		connections, domains int64
	}{
		{"acme", models.Scope{TenantID: acme}, 1, 2},
		{"acme's Super Admins", models.Scope{TenantID: acme, Subtree: true}, 1, 2},
		{"globex", models.Scope{TenantID: globex, Subtree: true}, 0, 0},
		{"acme-eu, below acme", models.Scope{TenantID: eu, Subtree: true}, 0, 0},
		{"alice alone", models.Scope{UserID: w.userID(t, "alice@acme.test")}, 0, 0},
		{"no scope", models.Scope{}, 0, 0},
	} {
		w.as(t, c.scope, func(db *gorm.DB) error {
			if got := count(db, "sso_connections"); got != c.connections {
				t.Errorf("%s sees %d connections, want %d", c.name, got, c.connections)
			}
			if got := count(db, "sso_domains"); got != c.domains {
				t.Errorf("%s sees %d domains, want %d", c.name, got, c.domains)
			}
			return nil
		})
	}
	if got := count(w.appDB, "sso_connections") + count(w.appDB, "sso_domains"); got != 0 {
		t.Errorf("outside any transaction's scope: %d rows", got)
	}

	// Globex can neither change, remove nor add acme's rows.
	globexScope := models.Scope{TenantID: globex, Subtree: true, UserID: w.userID(t, "bob@globex.test")}
	for _, sql := range []string{
		"UPDATE sso_connections SET issuer = 'https://evil.test', client_secret_sealed = 'x' WHERE tenant_id = ?",
		"UPDATE sso_domains SET proof = 'dns' WHERE tenant_id = ?",
		"DELETE FROM sso_domains WHERE tenant_id = ?",
		"DELETE FROM sso_connections WHERE tenant_id = ?",
	} {
		if rows, err := w.try(globexScope, sql, acme); err != nil || rows != 0 {
			t.Errorf("globex: %s: %d rows, err %v", sql, rows, err)
		}
	}
	for _, c := range []struct {
		sql  string
		args []any
	}{
		{"INSERT INTO sso_connections (tenant_id, issuer, client_id, client_secret_sealed, secret_set_at) VALUES (?, 'https://evil.test', 'x', 'x', now())", []any{acme}},
		{"INSERT INTO sso_domains (tenant_id, connection_id, domain, verification_token, proof) VALUES (?, ?, 'evil.test', 't', 'dns')", []any{acme, w.acmeConn.ID}},
	} {
		if _, err := w.try(globexScope, c.sql, c.args...); err == nil || !strings.Contains(err.Error(), "row-level security") {
			t.Errorf("globex: %s: err = %v, want a row-level security refusal", c.sql, err)
		}
	}
	// Nor point a domain of its own at acme's connection.
	if _, err := w.try(globexScope, "INSERT INTO sso_domains (tenant_id, connection_id, domain, verification_token) VALUES (?, ?, 'evil.test', 't')",
		globex, w.acmeConn.ID); err == nil || !strings.Contains(err.Error(), "foreign key") {
		t.Errorf("globex pointed a domain at acme's connection: err = %v", err)
	}
	// Not even acme's Super Admins move a row into a sub-tenant.
	acmeManager := models.Scope{TenantID: acme, Subtree: true}
	if _, err := w.try(acmeManager, "UPDATE sso_domains SET tenant_id = ? WHERE tenant_id = ?", eu, acme); err == nil || !strings.Contains(err.Error(), "between tenants") {
		t.Errorf("an sso domain moved from acme to acme-eu: err = %v", err)
	}

	// The store agrees: acme's records are not found from globex.
	domainID := w.acmeConn.Domains[0].ID
	err := w.within(globexScope, func(ctx context.Context, tx *models.Store) error {
		if _, err := tx.SSOConnectionOf(ctx, acme); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("globex read acme's connection: %v", err)
		}
		if err := tx.MarkDomainProvenByDNS(ctx, acme, domainID); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("globex proved acme's domain: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.within(globexScope, func(ctx context.Context, tx *models.Store) error {
		_, err := tx.SaveSSOConnection(ctx, acme, ssoInput("evil.test"))
		return err
	}); !errors.Is(err, models.ErrNotFound) {
		t.Errorf("globex saved acme's connection: %v", err)
	}

	now := mustConnectionOf(t, models.NewStore(w.owner), acme)
	if now.Issuer != w.acmeConn.Issuer || now.ClientSecretSealed != sealedSecret || len(now.Domains) != 2 ||
		now.Domains[0].Proof != models.ProofDNS || now.Domains[1].Proof != models.ProofNone {
		t.Fatalf("acme's connection changed: %+v", now)
	}
	// Acme's own scope is what saves it, as its Settings page does.
	err = w.within(models.Scope{TenantID: acme, UserID: w.userID(t, "alice@acme.test")}, func(ctx context.Context, tx *models.Store) error {
		in := ssoInput("acme.test")
		in.SealedSecret = ""
		_, err := tx.SaveSSOConnection(ctx, acme, in)
		return err
	})
	if err != nil {
		t.Fatalf("acme's own scope cannot save its connection: %v", err)
	}
}

func TestRLSIdentitiesAndPasswordsCannotBeRead(t *testing.T) {
	w := newSSORLSWorld(t)
	alice := w.userID(t, "alice@acme.test")
	if err := w.within(models.Scope{UserID: alice}, func(ctx context.Context, tx *models.Store) error {
		_, err := tx.LinkIdentity(ctx, alice, "https://login.acme.test", "alice-sub", "alice@acme.test")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	platformStaff := models.Scope{TenantID: w.tenant["admin"], Subtree: true, UserID: w.userID(t, "staff@canopy.test")}
	for _, scope := range []models.Scope{{}, {UserID: alice}, {TenantID: w.tenant["acme"], Subtree: true, UserID: alice}, platformStaff} {
		for _, sql := range []string{
			"SELECT count(*) FROM user_identities",
			"SELECT subject FROM user_identities WHERE user_id = ?",
			"UPDATE user_identities SET user_id = ?",
			"DELETE FROM user_identities WHERE user_id = ?",
			"INSERT INTO user_identities (user_id, issuer, subject, email) VALUES (?, 'https://evil.test', 's', 'e')",
			"SELECT count(*) FROM user_passwords WHERE user_id = ?",
		} {
			args := []any{}
			if strings.Contains(sql, "?") {
				args = append(args, alice)
			}
			if _, err := w.try(scope, sql, args...); !refused(err) {
				t.Errorf("scope %+v: %s: err = %v, want permission denied", scope, sql, err)
			}
		}
	}
	var kept int64
	w.owner.Raw("SELECT count(*) FROM user_identities WHERE user_id = ?", alice).Scan(&kept)
	if kept != 1 {
		t.Fatalf("alice has %d identities, want her 1", kept)
	}
}

func TestRLSSSOConnectionFunctionHidesTheSecret(t *testing.T) {
	w := newSSORLSWorld(t)
	var fn struct {
		Result        string
		SecurityDef   bool
		SearchPathSet bool
	}
	w.owner.Raw(`SELECT pg_get_function_result(p.oid) AS result, p.prosecdef AS security_def,
		coalesce(array_to_string(p.proconfig, ',') LIKE '%search_path=%', false) AS search_path_set
		FROM pg_proc AS p WHERE p.oid = 'canopy_sso_connection(bigint)'::regprocedure`).Scan(&fn)
	const columns = "TABLE(id bigint, tenant_id bigint, issuer text, client_id text, join_role text, required boolean, " +
		"secret_set_at timestamp with time zone, updated_at timestamp with time zone, domains text[], dns_proven text[])"
	if fn.Result != columns || !fn.SecurityDef || !fn.SearchPathSet {
		t.Fatalf("canopy_sso_connection: %+v, want SECURITY DEFINER with a fixed search_path returning %s", fn, columns)
	}
	acme, eu := w.tenant["acme"], w.tenant["acme-eu"]
	// Whatever the function returns, the sealed secret is not in it.
	w.as(t, models.Scope{}, func(db *gorm.DB) error {
		var rows []string
		if err := db.Raw("SELECT row_to_json(c)::text FROM canopy_sso_connection(?) AS c", acme).Scan(&rows).Error; err != nil {
			return err
		}
		if len(rows) != 1 || strings.Contains(rows[0], sealedSecret) || !strings.Contains(rows[0], w.acmeConn.Issuer) {
			t.Errorf("canopy_sso_connection(acme) = %v", rows)
		}
		return nil
	})

	// The connection in force below acme, read from a descendant's scope
	// and from a sign-in page's, which has none.
	check := func(name string, ctx context.Context, store *models.Store) {
		t.Helper()
		l, err := store.LineageByID(ctx, eu)
		if err != nil {
			t.Fatal(err)
		}
		f, err := store.SSOInForce(ctx, l)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if f.Owner.ID != acme || !f.Inherited || f.ConnectionID != w.acmeConn.ID || f.Issuer != w.acmeConn.Issuer ||
			!slices.Equal(f.Domains, []string{"acme.test"}) || !slices.Equal(f.DNSProven, []string{"acme.test"}) {
			t.Errorf("%s: in force at acme-eu %+v", name, f)
		}
	}
	check("no scope", context.Background(), w.app)
	err := w.within(models.Scope{TenantID: eu, Subtree: true, UserID: w.userID(t, "eve@acme.test")}, func(ctx context.Context, tx *models.Store) error {
		check("acme-eu's scope", ctx, tx)
		// The secret itself stays where the connection is: not found here.
		if _, err := tx.SSOConnectionOf(ctx, acme); !errors.Is(err, models.ErrNotFound) {
			t.Errorf("acme-eu read acme's connection with its secret: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = w.within(models.Scope{TenantID: acme}, func(ctx context.Context, tx *models.Store) error {
		c, err := tx.SSOConnectionOf(ctx, acme)
		if err == nil && c.ClientSecretSealed != sealedSecret {
			t.Errorf("acme's own scope reads the secret %q", c.ClientSecretSealed)
		}
		return err
	})
	if err != nil {
		t.Fatalf("acme's own scope: %v", err)
	}
}

func TestRLSLinkIdentityOnlyForTheScopesUser(t *testing.T) {
	w := newSSORLSWorld(t)
	alice, bob := w.userID(t, "alice@acme.test"), w.userID(t, "bob@globex.test")
	const issuer, subject = "https://login.acme.test", "alice-sub"
	link := func(scope models.Scope, userID int64) error {
		_, err := w.try(scope, "SELECT canopy_link_identity(?, ?, ?, 'x@acme.test')", userID, issuer, subject)
		return err
	}
	for _, c := range []struct {
		name  string
		scope models.Scope
		user  int64
	}{
		{"no scope", models.Scope{}, alice},
		{"a tenant without a user", models.Scope{TenantID: w.tenant["acme"], Subtree: true}, alice},
		{"bob for alice", models.Scope{UserID: bob}, alice},
		{"bob in acme for alice", models.Scope{TenantID: w.tenant["acme"], UserID: bob}, alice},
	} {
		if err := link(c.scope, c.user); err == nil || !strings.Contains(err.Error(), "only to the user in scope") {
			t.Errorf("%s: err = %v, want a refusal", c.name, err)
		}
	}
	var linked int64
	w.owner.Raw("SELECT count(*) FROM user_identities").Scan(&linked)
	if linked != 0 {
		t.Fatalf("%d identities were linked by refused calls", linked)
	}

	storeLink := func(scope models.Scope, userID int64) (bool, error) {
		var got bool
		err := w.within(scope, func(ctx context.Context, tx *models.Store) error {
			var err error
			got, err = tx.LinkIdentity(ctx, userID, issuer, subject, "alice@acme.test")
			return err
		})
		return got, err
	}
	if got, err := storeLink(models.Scope{UserID: alice}, alice); err != nil || !got {
		t.Fatalf("alice linking her identity: %v, %v", got, err)
	}
	if got, err := storeLink(models.Scope{UserID: alice}, alice); err != nil || got {
		t.Fatalf("alice signing in again: linked %v, %v", got, err)
	}
	if id, err := w.app.IdentityUser(context.Background(), issuer, subject); err != nil || id != alice {
		t.Fatalf("with no scope the identity is %d's, %v; want alice's", id, err)
	}
	// Bob, signed in as himself, cannot take alice's identity.
	if _, err := storeLink(models.Scope{UserID: bob}, bob); err == nil {
		t.Fatal("bob took alice's identity")
	}
	var owner int64
	w.owner.Raw("SELECT user_id FROM user_identities WHERE issuer = ? AND subject = ?", issuer, subject).Scan(&owner)
	if owner != alice {
		t.Fatalf("the identity now belongs to %d", owner)
	}

	// A refusal inside a request spoils nothing else of it: the page saying
	// so can still be built.
	err := w.app.Request(context.Background(), func(ctx context.Context) error {
		ctx, err := w.app.SetScope(ctx, models.Scope{UserID: bob})
		if err != nil {
			return err
		}
		if _, err := w.app.LinkIdentity(ctx, bob, issuer, subject, "bob@globex.test"); err == nil {
			t.Error("bob took alice's identity within a request")
		}
		has, err := w.app.HasPassword(ctx, bob)
		if err != nil || !has {
			t.Errorf("the request after a refused link: has password %v, %v", has, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRLSHasPasswordAnswersOnlyForOneself(t *testing.T) {
	w := newSSORLSWorld(t)
	alice, bob := w.userID(t, "alice@acme.test"), w.userID(t, "bob@globex.test")
	var bobs int64
	w.owner.Raw("SELECT count(*) FROM user_passwords WHERE user_id = ?", bob).Scan(&bobs)
	if bobs != 1 {
		t.Fatal("bob has no password: the test proves nothing")
	}
	for _, c := range []struct {
		name  string
		scope models.Scope
		user  int64
		want  bool
	}{
		{"alice of herself", models.Scope{UserID: alice}, alice, true},
		{"alice in acme of herself", models.Scope{TenantID: w.tenant["acme"], UserID: alice}, alice, true},
		{"alice of bob", models.Scope{UserID: alice}, bob, false},
		{"globex's Super Admin without a user, of bob", models.Scope{TenantID: w.tenant["globex"], Subtree: true}, bob, false},
		{"no scope, of alice", models.Scope{}, alice, false},
	} {
		err := w.within(c.scope, func(ctx context.Context, tx *models.Store) error {
			has, err := tx.HasPassword(ctx, c.user)
			if err == nil && has != c.want {
				t.Errorf("%s: %v, want %v", c.name, has, c.want)
			}
			return err
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}

func TestRLSSignInMethodsOnlyTheScopesMembers(t *testing.T) {
	w := newSSORLSWorld(t)
	acme, eu, globex := w.tenant["acme"], w.tenant["acme-eu"], w.tenant["globex"]
	membersOf := func(tenantID int64) []int64 {
		var ids []int64
		w.owner.Raw("SELECT user_id FROM memberships WHERE tenant_id = ? ORDER BY user_id", tenantID).Scan(&ids)
		if len(ids) == 0 {
			t.Fatalf("tenant %d has no members: the test proves nothing", tenantID)
		}
		return ids
	}
	var everyone []int64
	w.owner.Raw("SELECT id FROM users").Scan(&everyone)
	for _, c := range []struct {
		name   string
		scope  models.Scope
		tenant int64
		want   []int64
	}{
		{"globex's own", models.Scope{TenantID: globex}, globex, membersOf(globex)},
		{"acme's own", models.Scope{TenantID: acme}, acme, membersOf(acme)},
		{"acme-eu's, for acme's Super Admins", models.Scope{TenantID: acme, Subtree: true}, eu, membersOf(eu)},
		{"acme-eu's, for acme without its subtree", models.Scope{TenantID: acme}, eu, nil},
		{"acme's, from globex", models.Scope{TenantID: globex, Subtree: true}, acme, nil},
		{"acme's, from below it", models.Scope{TenantID: eu, Subtree: true}, acme, nil},
		{"acme's, for a member with no tenant", models.Scope{UserID: w.userID(t, "alice@acme.test")}, acme, nil},
		{"acme's, with no scope", models.Scope{}, acme, nil},
	} {
		err := w.within(c.scope, func(ctx context.Context, tx *models.Store) error {
			// Asked for everyone: only the tenant's members, in scope, answer.
			methods, err := tx.SignInMethods(ctx, c.tenant, everyone)
			if err != nil {
				return err
			}
			got := slices.Sorted(maps.Keys(methods))
			if !slices.Equal(got, c.want) {
				t.Errorf("%s: the methods of %v, want %v", c.name, got, c.want)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
}

// TestRLSSSOFunctionsWithAnOwnerWhoIsNotSuperuser: in production the schema
// belongs to a plain role (README, canopy_owner), whom FORCE holds to the
// policies as well; the functions of the owner must still read what they
// are for. The other tests migrate as a superuser, whom nothing holds.
func TestRLSSSOFunctionsWithAnOwnerWhoIsNotSuperuser(t *testing.T) {
	plain := newPlainOwnerWorld(t)
	ctx := context.Background()
	app := models.NewStore(plain.connect(plain.appRole)).WithScopeKey(testdb.ScopeKey)
	ids := map[string]int64{}
	for _, who := range []string{"alice@acme.test", "eve@acme.test", "bob@globex.test", "dave@acme.test"} {
		u, err := app.UserByEmail(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		ids[who] = u.ID
	}
	for _, sub := range []string{"acme", "acme-eu"} {
		tn, err := app.TenantBySubdomain(ctx, sub)
		if err != nil {
			t.Fatal(err)
		}
		ids[sub] = tn.ID
	}
	acme, eu, alice := ids["acme"], ids["acme-eu"], ids["alice@acme.test"]

	// Acme's Super Admin sets up its connection, as its Settings page would.
	err := app.Within(ctx, models.Scope{TenantID: acme, UserID: alice}, func(ctx context.Context, tx *models.Store) error {
		if err := tx.SetSSOInherit(ctx, acme, false); err != nil {
			return err
		}
		c, err := tx.SaveSSOConnection(ctx, acme, ssoInput("acme.test"))
		if err != nil {
			return err
		}
		if err := tx.MarkDomainProvenByDNS(ctx, acme, c.Domains[0].ID); err != nil {
			return err
		}
		_, err = tx.LinkIdentity(ctx, alice, "https://login.acme.test", "alice-sub", "alice@acme.test")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	inForceAtEU := func(name string, ctx context.Context, store *models.Store) {
		t.Helper()
		l, err := store.LineageByID(ctx, eu)
		if err != nil {
			t.Fatal(err)
		}
		f, err := store.SSOInForce(ctx, l)
		if err != nil || f.Owner.ID != acme || !slices.Equal(f.Domains, []string{"acme.test"}) || !slices.Equal(f.DNSProven, []string{"acme.test"}) {
			t.Errorf("%s: in force at acme-eu %+v, %v; want acme's, acme.test proven by DNS", name, f, err)
		}
	}
	inForceAtEU("a sign-in page", ctx, app)
	err = app.Within(ctx, models.Scope{TenantID: eu, Subtree: true, UserID: ids["eve@acme.test"]}, func(ctx context.Context, tx *models.Store) error {
		inForceAtEU("acme-eu's scope", ctx, tx)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := app.IdentityUser(ctx, "https://login.acme.test", "alice-sub"); err != nil || id != alice {
		t.Errorf("the identity is %d's, %v; want alice's", id, err)
	}
	err = app.Within(ctx, models.Scope{TenantID: acme, UserID: alice}, func(ctx context.Context, tx *models.Store) error {
		var everyone []int64
		for who, id := range ids {
			if strings.Contains(who, "@") {
				everyone = append(everyone, id)
			}
		}
		methods, err := tx.SignInMethods(ctx, acme, everyone)
		if err != nil {
			return err
		}
		if m := methods[alice]; len(methods) != 3 || !m.Password || !m.SSO {
			t.Errorf("acme's sign-in methods %+v, want its 3 members, alice by password and SSO", methods)
		}
		has, err := tx.HasPassword(ctx, alice)
		if err == nil && !has {
			t.Error("alice has no password")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
