package handlers_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/models"
)

// failCommitOf makes Postgres refuse, at commit, any transaction that
// records action in the audit log: a commit that fails after the handler
// has answered.
func failCommitOf(t *testing.T, a *app, action string) {
	t.Helper()
	for _, sql := range []string{
		`CREATE OR REPLACE FUNCTION fail_at_commit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$ LANGUAGE plpgsql`,
		fmt.Sprintf(`CREATE CONSTRAINT TRIGGER fail_%s AFTER INSERT ON audit_events DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW WHEN (NEW.action = '%s') EXECUTE FUNCTION fail_at_commit()`, strings.ReplaceAll(action, ".", "_"), action),
	} {
		if err := a.db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
}

func requirePostgres(t *testing.T, a *app) {
	t.Helper()
	if models.DialectOf(a.db) != models.Postgres {
		t.Skip("requests run in one transaction on Postgres only")
	}
}

// TestFailedCommitAnnouncesNothing: when the request's transaction cannot
// commit, the page says so, and neither it nor the next page announces the
// change; the setting is unchanged.
func TestFailedCommitAnnouncesNothing(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	requirePostgres(t, a)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	failCommitOf(t, a, "settings.saved")
	r := b.submit(tenantURL("acme", "/settings/company"), tenantURL("acme", "/settings/company"), url.Values{"timezone": {"Asia/Tokyo"}})
	wantStatus(t, r, http.StatusInternalServerError)
	wantNoBody(t, r, "Settings saved")
	wantNoBody(t, b.get(tenantURL("acme", "/settings/company")), "Settings saved")
	if tz := a.tenant("acme").Timezone; tz != "America/New_York" {
		t.Fatalf("timezone is %s after a rolled-back save", tz)
	}
}

// TestFailedCommitSignsNobodyIn: a sign-in whose transaction did not commit
// sets no session cookie.
func TestFailedCommitSignsNobodyIn(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	requirePostgres(t, a)
	failCommitOf(t, a, "auth.signin")
	b := a.browser()
	r := b.submit(base+"/login", base+"/login", url.Values{"email": {"alice@acme.test"}, "password": {demo.Password}})
	wantStatus(t, r, http.StatusInternalServerError)
	if home := b.get(base + "/"); !strings.Contains(home.location, "/login") {
		t.Fatalf("signed in after a rolled-back sign-in: GET / went to %q", home.location)
	}
}

// TestSlowBodiesHoldNoConnection: twenty clients that never finish sending
// a form hold no database connection, so everyone else is still served.
func TestSlowBodiesHoldNoConnection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	requirePostgres(t, a)
	addr := a.server.Listener.Addr().String()
	for range 20 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		fmt.Fprintf(conn, "POST /login HTTP/1.1\r\nHost: localhost:8080\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nemail=")
	}
	time.Sleep(300 * time.Millisecond)
	var waiting int64
	a.db.Raw(`SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'`).Scan(&waiting)
	if waiting != 0 {
		t.Errorf("%d connections wait in a transaction for request bodies", waiting)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, tenantURL("acme", "/login"), nil)
	if _, err := a.browser().client.Do(req); err != nil {
		t.Fatalf("another visitor was not served: %v", err)
	}
}

// TestBadInputIsNotAServerError: input Postgres cannot store in a query
// (a NUL byte) is a client's mistake on both databases, not a 500.
func TestBadInputIsNotAServerError(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	for _, u := range []string{base + "/login?tenant=%00acme", base + "/login?tenant=%ff"} {
		if r := b.get(u); r.status != http.StatusOK {
			t.Errorf("%s: %d", u, r.status)
		}
	}
	login := b.submit(base+"/login", base+"/login", url.Values{"email": {"alice\x00@acme.test"}, "password": {"x\xff"}})
	wantStatus(t, login, http.StatusUnauthorized)
	b.signIn("alice@acme.test", "acme")
	for _, path := range []string{"/devices?q=%00", "/orders?q=a%00b", "/settings/team?q=%00", "/sub-tenants?q=%00", "/companies?q=%00", "/settings/audit?actor=%00"} {
		if r := b.get(tenantURL("acme", path)); r.status >= 500 {
			t.Errorf("%s: %d", path, r.status)
		}
	}
}

// deadlockCommitsOf makes Postgres answer "deadlock detected" at the commit
// of the first `times` transactions that record action in the audit log (a
// sequence counts them, since it survives their rollback).
func deadlockCommitsOf(t *testing.T, a *app, action string, times int) {
	t.Helper()
	name := strings.ReplaceAll(action, ".", "_")
	for _, sql := range []string{
		fmt.Sprintf(`CREATE SEQUENCE deadlocks_%s`, name),
		fmt.Sprintf(`GRANT USAGE ON SEQUENCE deadlocks_%s TO canopy_app`, name),
		fmt.Sprintf(`CREATE FUNCTION deadlock_%s() RETURNS trigger AS $$ BEGIN
			IF nextval('deadlocks_%s') <= %d THEN RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; END IF;
			RETURN NULL; END $$ LANGUAGE plpgsql`, name, name, times),
		fmt.Sprintf(`CREATE CONSTRAINT TRIGGER deadlock_%s AFTER INSERT ON audit_events DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW WHEN (NEW.action = '%s') EXECUTE FUNCTION deadlock_%s()`, name, action, name),
	} {
		if err := a.db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
}

// TestDeadlockIsRetriedOnce: a request whose transaction Postgres gave up
// (a deadlock) runs once more and lands, announced once; when it is given up
// twice, the page asks to try again — never a 500 — and nothing changed.
func TestDeadlockIsRetriedOnce(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		deadlocks int
		status    int
		timezone  string
	}{
		{"once: retried", 1, http.StatusSeeOther, "Asia/Tokyo"},
		{"twice: try again", 2, http.StatusServiceUnavailable, "America/New_York"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			a := newApp(t)
			requirePostgres(t, a)
			b := a.browser()
			b.signIn("alice@acme.test", "acme")
			deadlockCommitsOf(t, a, "settings.saved", c.deadlocks)
			r := b.submit(tenantURL("acme", "/settings/company"), tenantURL("acme", "/settings/company"), url.Values{"timezone": {"Asia/Tokyo"}})
			wantStatus(t, r, c.status)
			if tz := a.tenant("acme").Timezone; tz != c.timezone {
				t.Fatalf("timezone is %s, want %s", tz, c.timezone)
			}
			next := b.get(tenantURL("acme", "/settings/company"))
			if saved := strings.Count(next.body, "Settings saved"); saved != map[bool]int{true: 1, false: 0}[c.status == http.StatusSeeOther] {
				t.Fatalf("the next page announces the save %d times", saved)
			}
			if c.status != http.StatusSeeOther {
				wantBody(t, r, "Canopy was busy with another change")
			}
		})
	}
}
