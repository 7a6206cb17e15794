package cluster

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql's "pgx" driver, for the owner's checks
)

// clusterName is the test's own PostgreSQL cluster (pg_createcluster), so
// that stopping and restarting PostgreSQL under load cannot disturb the
// machine's main cluster or anyone using it.
const clusterName = "canopycluster"

// Roles as production has them: the owner migrates and seeds, the server
// is a member of canopy_app and owns nothing, so row-level security binds
// it.
const (
	ownerRole  = "canopy_owner"
	serverRole = "canopy_server"
	dbName     = "canopy"
)

// postgres is the private cluster.
type postgres struct {
	version string
	port    int
}

// startPostgres creates, starts and empties the private cluster, dropping
// one a previous run left behind; the test drops it at the end.
func startPostgres(t *testing.T) *postgres {
	t.Helper()
	version := newestPostgres(t)
	pg := &postgres{version: version, port: freePort(t)}
	if _, err := os.Stat(filepath.Join("/etc/postgresql", version, clusterName)); err == nil {
		logf(t, "dropping the %s cluster a previous run left", clusterName)
		run(t, "pg_dropcluster", "--stop", version, clusterName)
	}
	// trust on local connections, as on the main cluster of this machine;
	// enough connections for three instances' pools, their detached pools,
	// the owner's checks and PgBouncer.
	run(t, "pg_createcluster", "-p", strconv.Itoa(pg.port),
		"-o", "max_connections=300",
		version, clusterName, "--", "--auth=trust")
	t.Cleanup(func() {
		if out, err := exec.Command("pg_dropcluster", "--stop", version, clusterName).CombinedOutput(); err != nil {
			t.Logf("pg_dropcluster: %v\n%s", err, out)
		}
	})
	pg.ctl(t, "start")
	pg.waitReady(t, 30*time.Second)

	admin := pg.open(t, "postgres", "postgres")
	defer admin.Close()
	for _, stmt := range []string{
		"CREATE ROLE " + ownerRole + " LOGIN",
		"CREATE DATABASE " + dbName + " OWNER " + ownerRole,
		// The owner is no superuser, so it may not create roles: the
		// group the server belongs to exists before the first start, as
		// README's set-up says.
		"CREATE ROLE canopy_app NOLOGIN",
		"CREATE ROLE " + serverRole + " LOGIN IN ROLE canopy_app",
	} {
		if _, err := admin.Exec(stmt); err != nil {
			t.Fatalf("%s: %v", stmt, err)
		}
	}
	return pg
}

// newestPostgres is the newest PostgreSQL version installed.
func newestPostgres(t *testing.T) string {
	t.Helper()
	entries, err := os.ReadDir("/etc/postgresql")
	if err != nil || len(entries) == 0 {
		t.Fatalf("no PostgreSQL installed (/etc/postgresql): %v", err)
	}
	var versions []string
	for _, e := range entries {
		versions = append(versions, e.Name())
	}
	sort.Slice(versions, func(i, j int) bool {
		a, _ := strconv.Atoi(versions[i])
		b, _ := strconv.Atoi(versions[j])
		return a < b
	})
	return versions[len(versions)-1]
}

// url is a connection URL for user, straight to the cluster.
func (pg *postgres) url(user string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, pg.port, dbName)
}

func (pg *postgres) open(t *testing.T, user, db string) *sql.DB {
	t.Helper()
	conn, err := sql.Open("pgx", fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", user, pg.port, db))
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

// ctl runs pg_ctlcluster on the private cluster (start, stop, restart).
func (pg *postgres) ctl(t *testing.T, action string, extra ...string) {
	t.Helper()
	args := append([]string{"--skip-systemctl-redirect", pg.version, clusterName, action}, extra...)
	run(t, "pg_ctlcluster", args...)
}

// waitReady waits until the cluster accepts connections.
func (pg *postgres) waitReady(t *testing.T, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		err := exec.Command("pg_isready", "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port)).Run()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the %s cluster is not ready after %s: %v", clusterName, limit, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// inspector is the role the test checks the database as: the cluster's
// superuser, whom row-level security does not bind (it binds even the
// tables' owner, since every policy is forced), so the checks see every
// row whatever scope they check.
const inspector = "postgres"

// queryRows runs a query as the inspector and returns its rows as text.
func (pg *postgres) queryRows(t *testing.T, query string, args ...any) [][]string {
	t.Helper()
	db := pg.open(t, inspector, dbName)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	_, out := readRows(t, rows)
	return out
}

// readRows reads every row of rows as text (NULL as ""), with the
// columns' names.
func readRows(t *testing.T, rows *sql.Rows) (cols []string, out [][]string) {
	t.Helper()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		values := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		row := make([]string, len(cols))
		for i, v := range values {
			row[i] = v.String
		}
		out = append(out, row)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return cols, out
}

// queryStrings is the first column of each row of a query.
func (pg *postgres) queryStrings(t *testing.T, query string, args ...any) []string {
	t.Helper()
	var out []string
	for _, row := range pg.queryRows(t, query, args...) {
		out = append(out, row[0])
	}
	return out
}

// queryInt runs a query answering one number.
func (pg *postgres) queryInt(t *testing.T, query string, args ...any) int {
	t.Helper()
	got := pg.queryStrings(t, query, args...)
	if len(got) != 1 {
		t.Fatalf("%s: %d rows, want 1", query, len(got))
	}
	n, err := strconv.Atoi(strings.TrimSpace(got[0]))
	if err != nil {
		t.Fatalf("%s: %q is not a number", query, got[0])
	}
	return n
}

// exec runs a statement as the inspector.
func (pg *postgres) exec(t *testing.T, stmt string, args ...any) int64 {
	t.Helper()
	db := pg.open(t, inspector, dbName)
	defer db.Close()
	res, err := db.Exec(stmt, args...)
	if err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	n, _ := res.RowsAffected()
	return n
}

// run runs a command and fails the test with its output if it fails.
func run(t *testing.T, name string, args ...string) {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}
