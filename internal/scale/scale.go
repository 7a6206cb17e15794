// Package scale loads a large, realistic platform into PostgreSQL for the load
// benchmark: `canopy seed --scale`, run by `make bench-data`.
//
// The data is generated in Go from a fixed random seed (so every run loads the
// same shape) and streamed with COPY inside one transaction, so a failed run
// leaves nothing behind and a second run finds either everything or nothing.
package scale

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/models"
)

// Password is every scale user's password.
const Password = "bench-password"

// Named users and tenants the benchmark signs in as or visits.
const (
	RootSubdomain  = "scale"
	FleetSubdomain = "fleet"
	RootAdmin      = "scale-admin@scale.test" // owner and Super Admin of scale
	FleetAdmin     = "fleet-admin@scale.test" // owner and Super Admin of fleet
	ManyUser       = "many@scale.test"        // Admin of Counts.ManyCompanies active companies
)

// Counts sizes the platform. Full is the benchmark's; tests use a small one.
type Counts struct {
	Tenants        int // all tenants, the root scale and fleet included
	Customers      int // direct children of the root, fleet included; the rest are sub-tenants
	Users          int // all users, the three named ones included
	Memberships    int
	ManyCompanies  int // active companies many@scale.test is an Admin of
	FleetMembers   int // members of fleet, its owner included
	Devices        int
	FleetDevices   int // of Devices, how many are fleet's
	Orders         int
	Invitations    int
	FleetTemplates int
	FleetPayees    int // customers billed to fleet: its statement holds their sections
}

// Full is the benchmark platform: the scale the performance targets of
// docs/product.md are measured at.
func Full() Counts {
	return Counts{
		Tenants: 10_000, Customers: 9_000, Users: 100_000, Memberships: 300_000,
		ManyCompanies: 500, FleetMembers: 1_000, Devices: 1_000_000, FleetDevices: 200_000,
		Orders: 50_000, Invitations: 3_000, FleetTemplates: 4, FleetPayees: 40,
	}
}

// Validate says whether the counts describe a platform that can exist: every
// tenant needs its own owner, fixed memberships must fit in the total.
func (c Counts) Validate() error {
	var errs []error
	subs := c.Tenants - 1 - c.Customers
	check := func(ok bool, msg string) {
		if !ok {
			errs = append(errs, errors.New(msg))
		}
	}
	check(c.Customers >= 2, "need at least 2 customers (fleet and one more)")
	check(c.Tenants >= 1+c.Customers, "tenants must include the root and every customer")
	// Nine in ten sub-tenants hang three to a customer from c00001 on.
	check(subs-subs/10 <= 3*(c.Customers-1), "too many sub-tenants for the customers")
	// Tenants other than scale and fleet are owned by numbered users.
	check(c.Users-3 >= c.Tenants-2, "need a user to own each tenant")
	check(c.Users-3 >= c.FleetMembers, "need enough users to fill fleet")
	check(c.FleetMembers >= 1, "fleet needs its owner")
	check(c.Memberships >= c.Tenants+c.ManyCompanies+c.FleetMembers-1, "memberships must cover owners, many@ and fleet")
	check(c.FleetDevices <= c.Devices, "fleet cannot have more devices than the platform")
	check(c.FleetTemplates >= 1, "fleet needs a template so orders can be created")
	check(c.Orders >= 0 && c.Invitations >= 0 && c.FleetPayees >= 0, "counts cannot be negative")
	check(c.FleetPayees <= c.Customers-2, "fleet cannot pay for more customers than there are")
	return errors.Join(errs...)
}

// CheckRole refuses a connection that row-level security would hide rows
// from: COPY FROM is not allowed into a table with RLS unless the role
// bypasses it, and the presence check would not see other tenants' rows.
func CheckRole(ctx context.Context, conn *pgx.Conn) (superuser bool, err error) {
	var name string
	var bypass bool
	err = conn.QueryRow(ctx, `SELECT rolname, rolsuper, rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user`).
		Scan(&name, &superuser, &bypass)
	if err != nil {
		return false, fmt.Errorf("read current role: %w", err)
	}
	if !bypass {
		return false, fmt.Errorf("role %q can neither bypass row-level security nor is a superuser: "+
			"connect as the database owner with BYPASSRLS or a superuser (set DATABASE_OWNER_URL, e.g. postgres://postgres@127.0.0.1:5432/canopy_bench)", name)
	}
	return superuser, nil
}

// Load adds the scale platform unless the tenant `scale` exists already, in
// which case it returns loaded=false and changes nothing. conn must bypass
// row-level security (see CheckRole); the schema must be migrated.
func Load(ctx context.Context, conn *pgx.Conn, c Counts, log *slog.Logger) (loaded bool, err error) {
	if err := c.Validate(); err != nil {
		return false, fmt.Errorf("scale counts: %w", err)
	}
	superuser, err := CheckRole(ctx, conn)
	if err != nil {
		return false, err
	}
	started := time.Now()
	// A rerun looks first without locking anything, so it never queues
	// behind (or holds up) a server that is using the data.
	if present, err := scalePresent(ctx, conn); err != nil || present {
		if err != nil {
			return false, err
		}
		return false, resumeBilling(ctx, conn, log)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer func() { _ = tx.Rollback(ctx) }() // a no-op after Commit

	// Two loaders at once queue here; the second then finds scale present.
	if _, err := tx.Exec(ctx, `LOCK TABLE tenants IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return false, fmt.Errorf("lock tenants: %w", err)
	}
	if present, err := scalePresent(ctx, tx); err != nil || present {
		return false, err
	}
	if superuser {
		// Skips foreign-key checks and triggers during COPY: 15 seconds
		// instead of two minutes here. The rows are consistent by
		// construction (the tests check every foreign key) and what the
		// triggers keep is recomputed below.
		if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
			return false, err
		}
	}
	hash, err := models.HashPassword(Password) // once: argon2id is slow by design
	if err != nil {
		return false, err
	}
	p, err := newPlan(c, hash, time.Now())
	if err != nil {
		return false, err
	}
	// Ids come from each table's own identity sequence, reserved as one block,
	// so rows can refer to each other before they are written.
	for _, b := range []struct {
		table string
		n     int
		first *int64
	}{
		{"users", len(p.users), &p.firstUser},
		{"tenants", len(p.tenants), &p.firstTenant},
		{"memberships", len(p.memberships), &p.firstMembership},
		{"templates", len(p.templates), &p.firstTemplate},
	} {
		if *b.first, err = reserveIDs(ctx, tx, b.table, b.n); err != nil {
			return false, err
		}
	}
	standardPlan, enterprisePlan, err := billingPlans(ctx, tx)
	if err != nil {
		return false, err
	}
	log.Info("scale: loading", "tenants", c.Tenants, "users", c.Users, "memberships", c.Memberships,
		"devices", c.Devices, "orders", c.Orders, "invitations", c.Invitations, "replica_mode", superuser)

	// Parents before children, so the order is valid with foreign-key checks
	// on too (a role with BYPASSRLS but not superuser cannot turn them off).
	// Memberships come last: without replica mode their member_count trigger
	// updates a tenants row per membership, and every foreign-key check into
	// tenants after that wades through the dead row versions.
	steps := []struct {
		table string
		cols  []string
		rows  pgx.CopyFromSource
	}{
		{"users", userCols, p.userRows()},
		{"user_passwords", passwordCols, p.passwordRows()},
		{"tenants", tenantCols, p.tenantRows()},
		{"tenant_solutions", []string{"tenant_id", "solution"}, p.solutionRows()},
		{"templates", templateCols, p.templateRows()},
		{"devices", deviceCols, p.deviceRows(c.Devices, c.FleetDevices)},
		{"orders", orderCols, p.orderRows(c.Orders)},
		{"invitations", invitationCols, p.invitationRows(c.Invitations)},
		{"memberships", membershipCols, p.membershipRows()},
		{"membership_templates", []string{"tenant_id", "membership_id", "template_id"}, p.restrictionRows()},
		{"billing_terms", termsCols, p.termsRows(standardPlan, enterprisePlan)},
	}
	for _, s := range steps {
		t := time.Now()
		n, err := tx.CopyFrom(ctx, pgx.Identifier{s.table}, s.cols, s.rows)
		if err != nil {
			return false, fmt.Errorf("copy %s: %w", s.table, err)
		}
		log.Info("scale: loaded", "table", s.table, "rows", n, "took", since(t))
	}
	if err := p.derive(ctx, tx, log); err != nil {
		return false, err
	}
	if err := meterHistory(ctx, tx, p.firstTenant, p.firstTenant+int64(len(p.tenants))-1, log); err != nil {
		return false, err
	}
	t := time.Now()
	if err := tx.Commit(ctx); err != nil {
		return false, fmt.Errorf("commit: %w", err)
	}
	log.Info("scale: committed", "took", since(t))

	// VACUUM, not only ANALYZE: fresh statistics for the planner, and a
	// visibility map so index-only scans work from the first benchmark run
	// instead of after autovacuum gets round to a million new rows.
	t = time.Now()
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) users, user_passwords, tenants, tenant_solutions, memberships, templates, membership_templates, devices, orders, invitations`); err != nil {
		return true, fmt.Errorf("vacuum analyze: %w", err)
	}
	log.Info("scale: vacuumed and analyzed", "took", since(t))
	if err := closeYear(ctx, conn, p.now, log); err != nil {
		return true, err
	}
	if err := vacuumBilling(ctx, conn, log); err != nil {
		return true, err
	}
	log.Info("scale: done", "took", since(started), "password", Password)
	return true, nil
}

// resumeBilling closes the year of a platform loaded by a run that
// stopped before its statements were written.
func resumeBilling(ctx context.Context, conn *pgx.Conn, log *slog.Logger) error {
	closed, err := statementsPresent(ctx, conn)
	if err != nil || closed {
		return err
	}
	log.Info("scale: platform present without its statements; closing its year")
	if err := closeYear(ctx, conn, time.Now(), log); err != nil {
		return err
	}
	return vacuumBilling(ctx, conn, log)
}

func vacuumBilling(ctx context.Context, conn *pgx.Conn, log *slog.Logger) error {
	t := time.Now()
	if _, err := conn.Exec(ctx, `VACUUM (ANALYZE) billing_terms, billing_presence_periods, billing_presence_days, billing_order_days,
		billing_statements, billing_statement_sections, billing_projections`); err != nil {
		return fmt.Errorf("vacuum analyze billing: %w", err)
	}
	log.Info("scale: billing vacuumed and analyzed", "took", since(t))
	return nil
}

func scalePresent(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}) (bool, error) {
	var present bool
	err := q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tenants WHERE lower(subdomain) = $1)`, RootSubdomain).Scan(&present)
	if err != nil {
		return false, fmt.Errorf("look for the scale tenant: %w", err)
	}
	return present, nil
}

// reserveIDs takes n consecutive values from table's id sequence and returns
// the first. The table lock taken by Load keeps other loaders out; the app
// may still take ids meanwhile, which only means a gap before or after.
func reserveIDs(ctx context.Context, tx pgx.Tx, table string, n int) (int64, error) {
	var first int64
	err := tx.QueryRow(ctx, `SELECT setval(s, nextval(s) + $2 - 1) - $2 + 1
		FROM pg_get_serial_sequence($1, 'id') AS s`, table, n).Scan(&first)
	if err != nil {
		return 0, fmt.Errorf("reserve %d ids in %s: %w", n, table, err)
	}
	return first, nil
}

// derive recomputes what triggers or later statements would have kept up to
// date, one statement each, over the rows just loaded.
func (p *plan) derive(ctx context.Context, tx pgx.Tx, log *slog.Logger) error {
	firstUser, lastUser := p.firstUser, p.firstUser+int64(len(p.users))-1
	firstTenant, lastTenant := p.firstTenant, p.firstTenant+int64(len(p.tenants))-1
	statements := []struct {
		what, sql string
		args      []any
	}{
		// Sign-in lands in the last company; for a fresh user, the first they joined.
		{"users.last_tenant_id", `UPDATE users SET last_tenant_id = first.tenant_id
			FROM (SELECT DISTINCT ON (user_id) user_id, tenant_id FROM memberships
			      WHERE user_id BETWEEN $1 AND $2 ORDER BY user_id, created_at, id) AS first
			WHERE users.id = first.user_id`, []any{firstUser, lastUser}},
	}
	type recompute = struct {
		what, sql string
		args      []any
	}
	// The counts kept on tenants by triggers, which COPY in replica mode
	// does not fire: member_count from migration 00007 on, child_count and
	// device_count from 00033 on. Recomputed either way, so they are right
	// whichever way the rows were copied.
	kept := []struct{ column, sql string }{
		{"member_count", `UPDATE tenants SET member_count =
			(SELECT count(*) FROM memberships WHERE memberships.tenant_id = tenants.id)
			WHERE id BETWEEN $1 AND $2`},
		{"child_count", `UPDATE tenants SET child_count =
			(SELECT count(*) FROM tenants AS child WHERE child.parent_id = tenants.id)
			WHERE id BETWEEN $1 AND $2`},
		{"device_count", `UPDATE tenants SET device_count =
			(SELECT count(*) FROM devices WHERE devices.tenant_id = tenants.id)
			WHERE id BETWEEN $1 AND $2`},
	}
	for _, k := range kept {
		has, err := hasColumn(ctx, tx, "tenants", k.column)
		if err != nil {
			return err
		}
		if has {
			statements = append(statements, recompute{"tenants." + k.column, k.sql, []any{firstTenant, lastTenant}})
		}
	}
	// tenants.inactive_above is kept by the store as statuses change; the
	// column exists from migration 00015 on.
	hasInactiveAbove, err := hasColumn(ctx, tx, "tenants", "inactive_above")
	if err != nil {
		return err
	}
	if hasInactiveAbove {
		statements = append(statements, recompute{"tenants.inactive_above", `WITH RECURSIVE below (id, status, shut) AS (
				SELECT id, status, CAST(NULL AS BIGINT) FROM tenants WHERE parent_id IS NULL
				UNION ALL
				SELECT child.id, child.status, COALESCE(below.shut, CASE WHEN below.status = 'inactive' THEN below.id END)
				FROM tenants AS child JOIN below ON child.parent_id = below.id
			)
			UPDATE tenants SET inactive_above = below.shut FROM below
			WHERE tenants.id = below.id AND tenants.inactive_above IS DISTINCT FROM below.shut`, nil})
	}
	// tenants.ancestor_ids, which the row-level security policies read for a
	// Super Admin's subtree, is written by a trigger as each tenant is
	// created (migration 00031 on); the update only fills what COPY skipped,
	// so that trigger, refusing any change, is never asked to allow one.
	hasAncestors, err := hasColumn(ctx, tx, "tenants", "ancestor_ids")
	if err != nil {
		return err
	}
	if hasAncestors {
		statements = append(statements, recompute{"tenants.ancestor_ids", `WITH RECURSIVE walk (id, ancestors) AS (
				SELECT id, CAST(ARRAY[] AS BIGINT[]) FROM tenants WHERE parent_id IS NULL
				UNION ALL
				SELECT child.id, walk.ancestors || walk.id FROM tenants AS child JOIN walk ON child.parent_id = walk.id
			)
			UPDATE tenants SET ancestor_ids = walk.ancestors FROM walk
			WHERE tenants.id = walk.id AND tenants.ancestor_ids IS DISTINCT FROM walk.ancestors`, nil})
	}
	// memberships.tenant_sort_name and tenant_reachable copy the tenant's
	// name and reachability, which triggers keep and COPY in replica mode
	// skips; after inactive_above, which they read. The columns exist from
	// migration 00034 on.
	hasTenantOrder, err := hasColumn(ctx, tx, "memberships", "tenant_reachable")
	if err != nil {
		return err
	}
	if hasTenantOrder {
		statements = append(statements, recompute{"memberships.tenant_sort_name and tenant_reachable", `UPDATE memberships
			SET tenant_sort_name = lower(t.name), tenant_reachable = (t.status = 'active' AND t.inactive_above IS NULL)
			FROM tenants AS t
			WHERE t.id = memberships.tenant_id AND memberships.id BETWEEN $1 AND $2
			  AND (memberships.tenant_sort_name, memberships.tenant_reachable)
			      IS DISTINCT FROM (lower(t.name), t.status = 'active' AND t.inactive_above IS NULL)`,
			[]any{p.firstMembership, p.firstMembership + int64(len(p.memberships)) - 1}})
	}
	// Each membership's copy of its person's name, email and second factor is
	// kept by triggers on memberships and users; the columns exist from
	// migration 00032 on.
	hasPersonCopy, err := hasColumn(ctx, tx, "memberships", "person_email")
	if err != nil {
		return err
	}
	if hasPersonCopy {
		statements = append(statements, recompute{"memberships.person_*", `UPDATE memberships AS m
			SET person_first_name = u.first_name, person_last_name = u.last_name, person_email = u.email,
				person_two_factor = u.two_factor_enabled
			FROM users AS u WHERE u.id = m.user_id AND m.tenant_id BETWEEN $1 AND $2`, []any{firstTenant, lastTenant}})
	}
	for _, s := range statements {
		t := time.Now()
		tag, err := tx.Exec(ctx, s.sql, s.args...)
		if err != nil {
			return fmt.Errorf("recompute %s: %w", s.what, err)
		}
		log.Info("scale: recomputed", "column", s.what, "rows", tag.RowsAffected(), "took", since(t))
	}
	return nil
}

// hasColumn tells whether the schema's table has column yet:
// the loader runs against databases migrated to any version.
func hasColumn(ctx context.Context, tx pgx.Tx, table, column string) (bool, error) {
	var has bool
	err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2)`, table, column).Scan(&has)
	if err != nil {
		return false, fmt.Errorf("look for %s.%s: %w", table, column, err)
	}
	return has, nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }
