package models_test

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"gorm.io/gorm"

	"canopy/internal/testdb"
	"canopy/models"
)

// The schema is ready to be distributed with Citus by tenant_id: every
// table is a tenant's or named in models.ReferenceTables (or
// models.CoordinatorTables); a tenant's table keeps tenant_id NOT NULL and
// in every unique key; a foreign key between two tenants' tables maps
// tenant_id to tenant_id, and none sets it; no reference table points at a
// tenant's table.

// distributionCatalog is what the checks read of one schema.
type distributionCatalog struct {
	tables  map[string]catalogTable
	indexes []uniqueIndex
	fks     []foreignKey
}

type catalogTable struct {
	hasTenant, tenantNotNull bool
}

// uniqueIndex is a unique (or exclusion) index, constraint-backed or not,
// expression and partial ones included.
type uniqueIndex struct {
	Table, Name    string
	Primary        bool
	IncludesTenant bool
}

type foreignKey struct {
	Name, From, To string
	FromColumns    []string
	ToColumns      []string
}

func readDistributionCatalog(t *testing.T, db *gorm.DB, schema string) distributionCatalog {
	t.Helper()
	var tables []struct {
		Name                     string
		HasTenant, TenantNotNull bool
	}
	err := db.Raw(`SELECT c.relname AS name, a.attnum IS NOT NULL AS has_tenant, coalesce(a.attnotnull, false) AS tenant_not_null
		FROM pg_class c
		JOIN pg_namespace n ON n.oid = c.relnamespace
		LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = ? AND NOT a.attisdropped
		WHERE n.nspname = ? AND c.relkind IN ('r', 'p') AND NOT c.relispartition`, models.DistributionColumn, schema).Scan(&tables).Error
	if err != nil {
		t.Fatal(err)
	}
	cat := distributionCatalog{tables: map[string]catalogTable{}}
	for _, tb := range tables {
		cat.tables[tb.Name] = catalogTable{hasTenant: tb.HasTenant, tenantNotNull: tb.TenantNotNull}
	}
	err = db.Raw(`SELECT t.relname AS table, i.relname AS name, x.indisprimary AS primary,
			EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = t.oid AND a.attname = ?
				AND a.attnum = ANY (x.indkey::int2[])) AS includes_tenant
		FROM pg_index x
		JOIN pg_class i ON i.oid = x.indexrelid
		JOIN pg_class t ON t.oid = x.indrelid
		JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = ? AND (x.indisunique OR x.indisexclusion)
		ORDER BY t.relname, i.relname`, models.DistributionColumn, schema).Scan(&cat.indexes).Error
	if err != nil {
		t.Fatal(err)
	}
	var fks []struct{ Name, From, To, FromColumns, ToColumns string }
	err = db.Raw(`SELECT c.conname AS name, r.relname AS from, f.relname AS to,
			(SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.conkey) WITH ORDINALITY AS k (attnum, n)
				JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum) AS from_columns,
			(SELECT string_agg(a.attname, ',' ORDER BY k.n) FROM unnest(c.confkey) WITH ORDINALITY AS k (attnum, n)
				JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum) AS to_columns
		FROM pg_constraint c
		JOIN pg_class r ON r.oid = c.conrelid
		JOIN pg_namespace n ON n.oid = r.relnamespace
		JOIN pg_class f ON f.oid = c.confrelid
		WHERE c.contype = 'f' AND n.nspname = ?
		ORDER BY r.relname, c.conname`, schema).Scan(&fks).Error
	if err != nil {
		t.Fatal(err)
	}
	for _, fk := range fks {
		cat.fks = append(cat.fks, foreignKey{Name: fk.Name, From: fk.From, To: fk.To,
			FromColumns: strings.Split(fk.FromColumns, ","), ToColumns: strings.Split(fk.ToColumns, ",")})
	}
	return cat
}

// tableKind is how a table is distributed.
type tableKind int

const (
	unclassified tableKind = iota
	tenantOwned
	referenceTable
	coordinatorTable
)

// distributionRules are the lists the catalog is held to.
type distributionRules struct {
	reference, coordinator []models.UndistributedTable
	anchor                 string
}

var canopyRules = distributionRules{reference: models.ReferenceTables, coordinator: models.CoordinatorTables,
	anchor: models.ColocationAnchor}

func (r distributionRules) kind(cat distributionCatalog, table string) tableKind {
	switch {
	case slices.ContainsFunc(r.reference, func(u models.UndistributedTable) bool { return u.Name == table }):
		return referenceTable
	case slices.ContainsFunc(r.coordinator, func(u models.UndistributedTable) bool { return u.Name == table }):
		return coordinatorTable
	case cat.tables[table].hasTenant:
		return tenantOwned
	}
	return unclassified
}

// violations lists, one per line, what keeps the schema from being
// distributed by tenant_id; none when it is ready.
func (r distributionRules) violations(cat distributionCatalog) []string {
	var out []string
	listed := map[string]bool{}
	for _, u := range slices.Concat(r.reference, r.coordinator) {
		if listed[u.Name] {
			out = append(out, fmt.Sprintf("%s: listed twice", u.Name))
		}
		listed[u.Name] = true
		if strings.TrimSpace(u.Reason) == "" {
			out = append(out, fmt.Sprintf("%s: listed without a reason", u.Name))
		}
		tb, ok := cat.tables[u.Name]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: listed as a table without tenant, but there is no such table", u.Name))
		case tb.hasTenant:
			out = append(out, fmt.Sprintf("%s: listed as a table without tenant, but it has %s", u.Name, models.DistributionColumn))
		}
	}
	for _, name := range sortedKeys(cat.tables) {
		tb := cat.tables[name]
		switch {
		case !tb.hasTenant && !listed[name]:
			out = append(out, fmt.Sprintf("%s: has no %s and is not a reference table (models.ReferenceTables)", name, models.DistributionColumn))
		case tb.hasTenant && !listed[name] && !tb.tenantNotNull:
			out = append(out, fmt.Sprintf("%s: %s is nullable", name, models.DistributionColumn))
		}
	}
	hasPrimary := map[string]bool{}
	for _, ix := range cat.indexes {
		if r.kind(cat, ix.Table) != tenantOwned {
			continue
		}
		hasPrimary[ix.Table] = hasPrimary[ix.Table] || ix.Primary
		if !ix.IncludesTenant {
			what := "unique key"
			if ix.Primary {
				what = "primary key"
			}
			out = append(out, fmt.Sprintf("%s: %s %s lacks %s", ix.Table, what, ix.Name, models.DistributionColumn))
		}
	}
	for _, name := range sortedKeys(cat.tables) {
		if r.kind(cat, name) == tenantOwned && !hasPrimary[name] {
			out = append(out, fmt.Sprintf("%s: has no primary key", name))
		}
	}
	for _, fk := range cat.fks {
		from, to := r.kind(cat, fk.From), r.kind(cat, fk.To)
		switch {
		case from == coordinatorTable || to == coordinatorTable:
			out = append(out, fmt.Sprintf("%s: foreign key %s involves a coordinator-only table", fk.From, fk.Name))
		case from == referenceTable && to == tenantOwned:
			out = append(out, fmt.Sprintf("%s: foreign key %s of a reference table points at the tenant-owned %s", fk.From, fk.Name, fk.To))
		case from == tenantOwned && to == tenantOwned && !fk.mapsTenant():
			out = append(out, fmt.Sprintf("%s: foreign key %s to %s does not map %s to %s (not co-located)",
				fk.From, fk.Name, fk.To, models.DistributionColumn, models.DistributionColumn))
		}
	}
	if r.kind(cat, r.anchor) != tenantOwned {
		out = append(out, fmt.Sprintf("%s: the co-location anchor is not a tenant-owned table", r.anchor))
	}
	for _, fk := range cat.fks {
		if fk.From == r.anchor && fk.To != r.anchor && r.kind(cat, fk.To) == tenantOwned {
			out = append(out, fmt.Sprintf("%s: the co-location anchor refers to the tenant-owned %s (%s), so it cannot be distributed first",
				r.anchor, fk.To, fk.Name))
		}
	}
	return out
}

// mapsTenant tells whether the key pairs tenant_id with tenant_id.
func (fk foreignKey) mapsTenant() bool {
	for i, col := range fk.FromColumns {
		if col == models.DistributionColumn && i < len(fk.ToColumns) && fk.ToColumns[i] == models.DistributionColumn {
			return true
		}
	}
	return false
}

// citusCalls are the calls that distribute the schema, in an order where a
// table comes after those it refers to: the reference tables, then the
// co-location anchor, then the other tenant-owned tables. forward names the
// foreign keys of a cycle, which point at a table created after theirs.
func (r distributionRules) citusCalls(cat distributionCatalog) (calls, forward []string) {
	var reference, distributed []string
	for _, name := range sortedKeys(cat.tables) {
		switch r.kind(cat, name) {
		case referenceTable:
			reference = append(reference, name)
		case tenantOwned:
			if name != r.anchor {
				distributed = append(distributed, name)
			}
		}
	}
	refOrder, refForward := dependencyOrder(reference, cat.fks)
	distOrder, distForward := dependencyOrder(distributed, cat.fks)
	for _, name := range refOrder {
		calls = append(calls, fmt.Sprintf("SELECT create_reference_table('%s');", name))
	}
	calls = append(calls, fmt.Sprintf("SELECT create_distributed_table('%s', '%s', colocate_with => 'none');", r.anchor, models.DistributionColumn))
	for _, name := range distOrder {
		calls = append(calls, fmt.Sprintf("SELECT create_distributed_table('%s', '%s', colocate_with => '%s');",
			name, models.DistributionColumn, r.anchor))
	}
	return calls, slices.Concat(refForward, distForward)
}

// dependencyOrder orders tables so that each follows those of the set it
// refers to, alphabetically among equals; in a cycle the first by name goes
// first and its keys into the rest of the cycle are returned as forward.
func dependencyOrder(tables []string, fks []foreignKey) (order, forward []string) {
	remaining := map[string]bool{}
	for _, t := range tables {
		remaining[t] = true
	}
	waitsFor := func(t string) []foreignKey {
		var out []foreignKey
		for _, fk := range fks {
			if fk.From == t && fk.To != t && remaining[fk.To] {
				out = append(out, fk)
			}
		}
		return out
	}
	for len(remaining) > 0 {
		next := ""
		for _, t := range sortedKeys(remaining) {
			if len(waitsFor(t)) == 0 {
				next = t
				break
			}
		}
		if next == "" {
			next = firstInCycle(sortedKeys(remaining), waitsFor)
			for _, fk := range waitsFor(next) {
				forward = append(forward, fk.Name)
			}
		}
		order = append(order, next)
		delete(remaining, next)
	}
	return order, forward
}

// firstInCycle is the first of tables (all waiting) that waits, through
// the others, for itself: a table merely waiting for a cycle is not one.
func firstInCycle(tables []string, waitsFor func(string) []foreignKey) string {
	reaches := func(from, target string) bool {
		seen := map[string]bool{}
		stack := []string{from}
		for len(stack) > 0 {
			t := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, fk := range waitsFor(t) {
				if fk.To == target {
					return true
				}
				if !seen[fk.To] {
					seen[fk.To] = true
					stack = append(stack, fk.To)
				}
			}
		}
		return false
	}
	for _, t := range tables {
		if reaches(t, t) {
			return t
		}
	}
	return tables[0] // unreachable: tables that all wait include a cycle
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func openCatalogDatabase(t *testing.T) *gorm.DB {
	t.Helper()
	if os.Getenv(testdb.EnvVar) == "" {
		t.Skip("the catalog checks read PostgreSQL's; set " + testdb.EnvVar)
	}
	return testdb.Open(t)
}

func TestSchemaIsReadyToDistributeByTenant(t *testing.T) {
	db := openCatalogDatabase(t)
	for _, v := range canopyRules.violations(readDistributionCatalog(t, db, "public")) {
		t.Error(v)
	}
}

// TestScalingDocMatchesTheSchema: the Citus calls in docs/scaling.md are
// the ones the catalog and the lists call for, in order, and the doc names
// every foreign key that has to wait for its table.
func TestScalingDocMatchesTheSchema(t *testing.T) {
	db := openCatalogDatabase(t)
	doc, err := os.ReadFile("../docs/scaling.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, line := range strings.Split(string(doc), "\n") {
		if strings.HasPrefix(line, "SELECT create_reference_table(") || strings.HasPrefix(line, "SELECT create_distributed_table(") {
			documented = append(documented, strings.TrimSpace(line))
		}
	}
	want, forward := canopyRules.citusCalls(readDistributionCatalog(t, db, "public"))
	if !slices.Equal(documented, want) {
		t.Errorf("docs/scaling.md's Citus calls are out of date; they should read:\n%s", strings.Join(want, "\n"))
	}
	for _, name := range forward {
		if !strings.Contains(string(doc), "`"+name+"`") {
			t.Errorf("docs/scaling.md does not say what to do with %s, a foreign key of a cycle", name)
		}
	}
}

// distributionFixture is a schema the checks pass: a reference table, and
// two tenant-owned tables that refer to each other and to it as Citus needs.
const distributionFixture = `
CREATE TABLE plans (id BIGINT PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE accounts (
    id BIGINT NOT NULL, tenant_id BIGINT NOT NULL, code TEXT NOT NULL,
    PRIMARY KEY (id, tenant_id), UNIQUE (tenant_id, code));
CREATE UNIQUE INDEX accounts_code_key ON accounts (tenant_id, lower(code)) WHERE code <> '';
CREATE TABLE items (
    id BIGINT NOT NULL, tenant_id BIGINT NOT NULL, account_id BIGINT NOT NULL, plan_id BIGINT REFERENCES plans (id),
    PRIMARY KEY (id, tenant_id),
    FOREIGN KEY (tenant_id, account_id) REFERENCES accounts (tenant_id, id) ON DELETE CASCADE);
`

// TestDistributionChecksFindEachViolation: each kind of violation, alone
// in the fixture, is found and named; the fixture alone passes.
func TestDistributionChecksFindEachViolation(t *testing.T) {
	db := openCatalogDatabase(t)
	plans := models.UndistributedTable{Name: "plans", Reason: "a price list"}
	for i, c := range []struct {
		name      string
		ddl       string
		reference []models.UndistributedTable
		want      string // "" for none
	}{
		{"ready", "", nil, ""},
		{"table of nobody", "CREATE TABLE stray (id BIGINT PRIMARY KEY)", nil, "stray: has no tenant_id and is not a reference table"},
		{"listed table with a tenant", "", []models.UndistributedTable{{"accounts", "wrongly"}}, "accounts: listed as a table without tenant, but it has tenant_id"},
		{"listed table that is gone", "", []models.UndistributedTable{{"ghost", "gone"}}, "ghost: listed as a table without tenant, but there is no such table"},
		{"listed without reason", "CREATE TABLE kinds (id BIGINT PRIMARY KEY)", []models.UndistributedTable{{"kinds", " "}}, "kinds: listed without a reason"},
		{"nullable tenant", "CREATE TABLE notes (id BIGINT PRIMARY KEY, tenant_id BIGINT)", nil, "notes: tenant_id is nullable"},
		{"primary key without tenant", "CREATE TABLE notes (id BIGINT PRIMARY KEY, tenant_id BIGINT NOT NULL)", nil, "notes: primary key notes_pkey lacks tenant_id"},
		{"no primary key", "CREATE TABLE notes (tenant_id BIGINT NOT NULL)", nil, "notes: has no primary key"},
		{"unique constraint without tenant", "ALTER TABLE items ADD CONSTRAINT items_plan_key UNIQUE (plan_id)", nil, "items: unique key items_plan_key lacks tenant_id"},
		{"unique expression index without tenant", "CREATE UNIQUE INDEX accounts_lower_key ON accounts (lower(code))", nil, "accounts: unique key accounts_lower_key lacks tenant_id"},
		{"partial unique index without tenant", "CREATE UNIQUE INDEX accounts_one_empty ON accounts ((true)) WHERE code = ''", nil, "accounts: unique key accounts_one_empty lacks tenant_id"},
		{"foreign key across tenants", `CREATE TABLE notes (id BIGINT, tenant_id BIGINT NOT NULL, account_id BIGINT, account_tenant_id BIGINT,
			PRIMARY KEY (id, tenant_id), CONSTRAINT notes_account_fk FOREIGN KEY (account_id, account_tenant_id) REFERENCES accounts (id, tenant_id))`,
			nil, "notes: foreign key notes_account_fk to accounts does not map tenant_id to tenant_id"},
		{"reference table pointing at a tenant's", `CREATE TABLE kinds (id BIGINT PRIMARY KEY, account_id BIGINT, account_tenant BIGINT,
			CONSTRAINT kinds_account_fk FOREIGN KEY (account_id, account_tenant) REFERENCES accounts (id, tenant_id))`,
			[]models.UndistributedTable{{"kinds", "kinds of things"}}, "kinds: foreign key kinds_account_fk of a reference table points at the tenant-owned accounts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			schema := fmt.Sprintf("distribution_fixture_%d", i)
			err := db.Transaction(func(tx *gorm.DB) error {
				for _, sql := range []string{"CREATE SCHEMA " + schema, "SET LOCAL search_path TO " + schema, distributionFixture, c.ddl} {
					if sql == "" {
						continue
					}
					if err := tx.Exec(sql).Error; err != nil {
						return fmt.Errorf("%s: %w", sql, err)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			rules := distributionRules{reference: append([]models.UndistributedTable{plans}, c.reference...), anchor: "accounts"}
			got := rules.violations(readDistributionCatalog(t, db, schema))
			switch {
			case c.want == "" && len(got) != 0:
				t.Errorf("violations of a ready schema: %q", got)
			case c.want != "" && !slices.ContainsFunc(got, func(v string) bool { return strings.HasPrefix(v, c.want) }):
				t.Errorf("violations %q, want among them: %q", got, c.want)
			}
		})
	}
}

// TestCitusCallsFollowDependencies: reference tables first, a table after
// the ones it refers to, and a cycle broken at a named foreign key.
func TestCitusCallsFollowDependencies(t *testing.T) {
	fk := func(name, from, to string) foreignKey { return foreignKey{Name: name, From: from, To: to} }
	cat := distributionCatalog{
		tables: map[string]catalogTable{
			"people": {}, "orgs": {}, "badges": {}, "accounts": {hasTenant: true}, "a_items": {hasTenant: true}, "z_notes": {hasTenant: true},
		},
		fks: []foreignKey{
			fk("badges_person_fk", "badges", "people"), fk("people_org_fk", "people", "orgs"), fk("orgs_owner_fk", "orgs", "people"),
			fk("a_items_note_fk", "a_items", "z_notes"), fk("z_notes_account_fk", "z_notes", "accounts"),
		},
	}
	rules := distributionRules{reference: []models.UndistributedTable{{"people", "x"}, {"orgs", "x"}, {"badges", "x"}}, anchor: "accounts"}
	calls, forward := rules.citusCalls(cat)
	want := []string{
		"SELECT create_reference_table('orgs');",
		"SELECT create_reference_table('people');",
		"SELECT create_reference_table('badges');",
		"SELECT create_distributed_table('accounts', 'tenant_id', colocate_with => 'none');",
		"SELECT create_distributed_table('z_notes', 'tenant_id', colocate_with => 'accounts');",
		"SELECT create_distributed_table('a_items', 'tenant_id', colocate_with => 'accounts');",
	}
	if !slices.Equal(calls, want) || !slices.Equal(forward, []string{"orgs_owner_fk"}) {
		t.Errorf("calls:\n%s\nforward %v; want:\n%s\nforward [orgs_owner_fk]", strings.Join(calls, "\n"), forward, strings.Join(want, "\n"))
	}
}
