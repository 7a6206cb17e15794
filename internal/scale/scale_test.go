package scale

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// small is the same platform at about a two-hundredth of the size: every
// feature (depth, fleet, many@, templates) is present.
var small = Counts{
	Tenants: 60, Customers: 45, Users: 400, Memberships: 1200, ManyCompanies: 10, FleetMembers: 25,
	Devices: 3000, FleetDevices: 600, Orders: 200, Invitations: 40, FleetTemplates: 2, FleetPayees: 3,
}

// TestLoadSmallPlatform runs the real loader into a fresh Postgres database
// and checks what the benchmark relies on, including every foreign key, since
// the loader skips their checks while copying.
func TestLoadSmallPlatform(t *testing.T) {
	conn, db := openPostgres(t)
	ctx := context.Background()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))

	loaded, err := Load(ctx, conn, small, quiet)
	if err != nil || !loaded {
		t.Fatalf("load: loaded=%v err=%v", loaded, err)
	}
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	want := map[string]int{"tenants": small.Tenants, "users": small.Users, "memberships": small.Memberships,
		"devices": small.Devices, "orders": small.Orders, "invitations": small.Invitations}
	for table, n := range want {
		if got := count(`SELECT count(*) FROM ` + table); got != n {
			t.Errorf("%s: %d rows, want %d", table, got, n)
		}
	}
	for _, c := range []struct {
		what string
		sql  string
		want int
	}{
		{"many@ active Admin memberships", `SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
			JOIN tenants t ON t.id = m.tenant_id WHERE u.email = $1 AND m.role = 'admin' AND t.status = 'active'`, small.ManyCompanies},
		{"many@ memberships", `SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id WHERE u.email = $1`, small.ManyCompanies},
		{"tenants whose owner is not their Super Admin", `SELECT count(*) FROM tenants t LEFT JOIN memberships m
			ON m.tenant_id = t.id AND m.user_id = t.owner_user_id WHERE m.role IS DISTINCT FROM 'super_admin'`, 0},
		{"fleet members", `SELECT count(*) FROM memberships m JOIN tenants t ON t.id = m.tenant_id WHERE t.subdomain = 'fleet'`, small.FleetMembers},
		{"fleet devices", `SELECT count(*) FROM devices d JOIN tenants t ON t.id = d.tenant_id WHERE t.subdomain = 'fleet'`, small.FleetDevices},
		{"fleet templates", `SELECT count(*) FROM templates x JOIN tenants t ON t.id = x.tenant_id WHERE t.subdomain = 'fleet'`, small.FleetTemplates},
		{"customers", `SELECT count(*) FROM tenants c JOIN tenants r ON r.id = c.parent_id WHERE r.subdomain = 'scale'`, small.Customers},
		{"members without a landing company they belong to", `SELECT count(*) FROM users u WHERE NOT EXISTS
			(SELECT 1 FROM memberships m WHERE m.user_id = u.id AND m.tenant_id = u.last_tenant_id)`, 0},
		{"solutions their parent lacks", `SELECT count(*) FROM tenant_solutions s JOIN tenants t ON t.id = s.tenant_id
			WHERE t.parent_id IS NOT NULL AND NOT EXISTS
			(SELECT 1 FROM tenant_solutions ps WHERE ps.tenant_id = t.parent_id AND ps.solution = s.solution)`, 0},
	} {
		var args []any
		if strings.Contains(c.sql, "$1") {
			args = append(args, ManyUser)
		}
		if got := count(c.sql, args...); got != c.want {
			t.Errorf("%s: %d, want %d", c.what, got, c.want)
		}
	}
	if depth := count(`WITH RECURSIVE tree AS (SELECT id, 0 AS depth FROM tenants WHERE subdomain = 'scale'
		UNION ALL SELECT c.id, tree.depth + 1 FROM tenants c JOIN tree ON c.parent_id = tree.id)
		SELECT max(depth) FROM tree`); depth < 3 {
		t.Errorf("tree is %d deep below the root, want 3", depth)
	}
	if count(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'tenants' AND column_name = 'member_count'`) == 1 {
		if n := count(`SELECT count(*) FROM tenants WHERE member_count <> (SELECT count(*) FROM memberships m WHERE m.tenant_id = tenants.id)`); n != 0 {
			t.Errorf("%d tenants have a wrong member_count", n)
		}
	}
	// The list counts of 00033 (child_count, device_count), copied without
	// their triggers, are recomputed like member_count.
	if n := count(`SELECT count(*) FROM tenants WHERE child_count <> (SELECT count(*) FROM tenants c WHERE c.parent_id = tenants.id)
		OR device_count <> (SELECT count(*) FROM devices d WHERE d.tenant_id = tenants.id)`); n != 0 {
		t.Errorf("%d tenants have a wrong child_count or device_count", n)
	}
	if count(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'memberships' AND column_name = 'tenant_reachable'`) == 1 {
		// The lists of a person's companies read these copies, not the tenants.
		if n := count(`SELECT count(*) FROM memberships AS m JOIN tenants AS t ON t.id = m.tenant_id
			WHERE (m.tenant_sort_name, m.tenant_reachable) IS DISTINCT FROM (lower(t.name), t.status = 'active' AND t.inactive_above IS NULL)`); n != 0 {
			t.Errorf("%d memberships have a wrong copy of their company's name or reachability", n)
		}
		if n := count(`SELECT count(*) FROM memberships WHERE NOT tenant_reachable`); n == 0 {
			t.Error("no membership of a company that cannot be entered: the check above proves nothing")
		}
	}
	if count(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'tenants' AND column_name = 'ancestor_ids'`) == 1 {
		// Row-level security reads each tenant's ancestors for a Super Admin's subtree.
		if n := count(`WITH RECURSIVE walk (id, ancestors) AS (
				SELECT id, CAST(ARRAY[] AS BIGINT[]) FROM tenants WHERE parent_id IS NULL
				UNION ALL
				SELECT child.id, walk.ancestors || walk.id FROM tenants AS child JOIN walk ON child.parent_id = walk.id)
			SELECT count(*) FROM tenants JOIN walk USING (id) WHERE tenants.ancestor_ids IS DISTINCT FROM walk.ancestors`); n != 0 {
			t.Errorf("%d tenants have wrong ancestor_ids", n)
		}
	}
	if count(`SELECT count(*) FROM information_schema.columns WHERE table_name = 'memberships' AND column_name = 'person_email'`) == 1 {
		if n := count(`SELECT count(*) FROM memberships m JOIN users u ON u.id = m.user_id
			WHERE (m.person_first_name, m.person_last_name, m.person_email, m.person_two_factor)
			   IS DISTINCT FROM (u.first_name, u.last_name, u.email, u.two_factor_enabled)`); n != 0 {
			t.Errorf("%d memberships carry a wrong copy of their person", n)
		}
	}
	checkForeignKeys(t, conn)
	checkBilling(t, conn, db)

	// The shared password hash works through the application's own sign-in.
	if _, err := models.NewStore(db).Authenticate(ctx, ManyUser, Password); err != nil {
		t.Errorf("sign in as %s: %v", ManyUser, err)
	}

	// A second run finds the data and changes nothing.
	again, err := Load(ctx, conn, small, quiet)
	if err != nil || again {
		t.Fatalf("second load: loaded=%v err=%v", again, err)
	}
	if got := count(`SELECT count(*) FROM devices`); got != small.Devices {
		t.Errorf("second load changed devices to %d", got)
	}
}

// checkBilling: every company has terms; fleet's statements hold the
// customers billed to it; a year of months is closed; and a statement
// closed again by the models package, one by one as the closing job
// does, is the one the loader wrote in bulk.
func checkBilling(t *testing.T, conn *pgx.Conn, db *gorm.DB) {
	t.Helper()
	ctx := context.Background()
	count := func(sql string, args ...any) int {
		t.Helper()
		var n int
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return n
	}
	if n := count(`SELECT count(*) FROM tenants AS t WHERE parent_id IS NOT NULL AND NOT EXISTS
		(SELECT 1 FROM billing_terms AS b WHERE b.tenant_id = t.id)`); n != 0 {
		t.Errorf("%d companies without billing terms", n)
	}
	due := models.BillingMonthDue(time.Now())
	var fleetID int64
	if err := conn.QueryRow(ctx, `SELECT id FROM tenants WHERE subdomain = $1`, FleetSubdomain).Scan(&fleetID); err != nil {
		t.Fatal(err)
	}
	if n := count(`SELECT count(DISTINCT month) FROM billing_statements`); n < 11 {
		t.Errorf("%d months closed, want a year's", n)
	}
	if n := count(`SELECT count(*) FROM billing_statement_sections WHERE payer_tenant_id = $1 AND month = $2`, fleetID, string(due)); n != 1+small.FleetPayees {
		t.Errorf("fleet's statement of %s has %d sections, want its own and %d customers'", due, n, small.FleetPayees)
	}
	if n := count(`SELECT count(*) FROM billing_projections WHERE tenant_id = $1`, fleetID); n < 1 {
		t.Errorf("fleet has no projection for staff")
	}
	read := func() string {
		var out string
		err := conn.QueryRow(ctx, `SELECT string_agg(concat_ws('|', tenant_id, position, plan_name, currency, subtotal, usage, lines), E'\n' ORDER BY position)
			FROM billing_statement_sections WHERE payer_tenant_id = $1 AND month = $2`, fleetID, string(due)).Scan(&out)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	bulk := read()
	if _, err := conn.Exec(ctx, `DELETE FROM billing_statements WHERE tenant_id = $1 AND month = $2`, fleetID, string(due)); err != nil {
		t.Fatal(err)
	}
	store := models.NewStore(db).WithScopeKey(testdb.ScopeKey)
	if n, err := store.CloseBillingMonth(ctx, due, due.Next().Start(time.UTC).Add(14*time.Hour+15*time.Minute)); err != nil || n != 1 {
		t.Fatalf("closing fleet's %s again: %d, %v", due, n, err)
	}
	if again := read(); again != bulk {
		t.Errorf("fleet's %s closed by the store:\n%s\nloaded in bulk:\n%s", due, again, bulk)
	}
}

// checkForeignKeys finds, for every foreign key in the schema (including ones
// added after this test was written), rows whose reference has no target.
func checkForeignKeys(t *testing.T, conn *pgx.Conn) {
	t.Helper()
	ctx := context.Background()
	rows, err := conn.Query(ctx, `SELECT c.conname, c.conrelid::regclass::text, c.confrelid::regclass::text,
		array_agg(a.attname ORDER BY k.n), array_agg(f.attname ORDER BY k.n)
		FROM pg_constraint c
		CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(col, fcol, n)
		JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.col
		JOIN pg_attribute f ON f.attrelid = c.confrelid AND f.attnum = k.fcol
		WHERE c.contype = 'f' AND c.connamespace = current_schema()::regnamespace
		GROUP BY c.conname, c.conrelid, c.confrelid`)
	if err != nil {
		t.Fatal(err)
	}
	type fk struct {
		name, table, target string
		cols, targetCols    []string
	}
	var fks []fk
	for rows.Next() {
		var k fk
		if err := rows.Scan(&k.name, &k.table, &k.target, &k.cols, &k.targetCols); err != nil {
			t.Fatal(err)
		}
		fks = append(fks, k)
	}
	if rows.Err() != nil || len(fks) < 10 {
		t.Fatalf("read foreign keys: %v (found %d)", rows.Err(), len(fks))
	}
	for _, k := range fks {
		var match, notNull []string
		for i := range k.cols {
			match = append(match, fmt.Sprintf("p.%s = c.%s", k.targetCols[i], k.cols[i]))
			notNull = append(notNull, fmt.Sprintf("c.%s IS NOT NULL", k.cols[i])) // MATCH SIMPLE
		}
		sql := fmt.Sprintf(`SELECT count(*) FROM %s c WHERE %s AND NOT EXISTS (SELECT 1 FROM %s p WHERE %s)`,
			k.table, strings.Join(notNull, " AND "), k.target, strings.Join(match, " AND "))
		var n int
		if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
			t.Fatalf("%s: %v", k.name, err)
		}
		if n != 0 {
			t.Errorf("foreign key %s: %d rows of %s point at nothing", k.name, n, k.table)
		}
	}
}

// TestLoadRefusesRoleUnderRowLevelSecurity: a role that neither is a
// superuser nor bypasses RLS is told so instead of failing inside COPY.
func TestLoadRefusesRoleUnderRowLevelSecurity(t *testing.T) {
	conn, _ := openPostgres(t)
	ctx := context.Background()
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	role := "canopy_scale_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, `CREATE ROLE `+role+` NOLOGIN`); err != nil {
		t.Skipf("cannot create a role here: %v", err)
	}
	t.Cleanup(func() { _, _ = conn.Exec(ctx, `RESET ROLE; DROP ROLE `+role) })
	if _, err := conn.Exec(ctx, `SET ROLE `+role); err != nil {
		t.Fatal(err)
	}
	_, err := Load(ctx, conn, small, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil || !strings.Contains(err.Error(), "row-level security") {
		t.Fatalf("want a refusal naming row-level security, got %v", err)
	}
}

// openPostgres gives the test a fresh migrated database and a pgx connection
// to it (the loader speaks COPY, which database/sql does not).
func openPostgres(t *testing.T) (*pgx.Conn, *gorm.DB) {
	t.Helper()
	server := os.Getenv(testdb.EnvVar)
	if server == "" {
		t.Skip("the scale loader is PostgreSQL-only: set " + testdb.EnvVar)
	}
	db := testdb.Open(t)
	var name string
	if err := db.Raw(`SELECT current_database()`).Scan(&name).Error; err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	conn, err := pgx.Connect(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn, db
}
