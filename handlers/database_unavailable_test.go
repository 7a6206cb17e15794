package handlers_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"canopy/models"
)

// wantDatabaseUnavailablePage: a 503 page that says what happened in
// words, asks to retry after a while, and shows nothing of the internals.
func wantDatabaseUnavailablePage(t *testing.T, r response) {
	t.Helper()
	wantStatus(t, r, http.StatusServiceUnavailable)
	wantBody(t, r, "Canopy can&#39;t reach its database right now")
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("%s: no Retry-After", r.url)
	}
	for _, internal := range []string{"SQLSTATE", "pgconn", "08006", "57P01", "goroutine", ".go:"} {
		wantNoBody(t, r, internal)
	}
}

// wantDatabaseUnavailableJSON: the API's 503, as JSON.
func wantDatabaseUnavailableJSON(t *testing.T, r response) {
	t.Helper()
	wantAPIError(t, r, http.StatusServiceUnavailable, "database_unavailable")
	if r.header.Get("Retry-After") == "" {
		t.Fatalf("%s: no Retry-After", r.url)
	}
	if strings.Contains(r.body, "SQLSTATE") {
		t.Fatalf("%s: internals in the answer: %s", r.url, r.body)
	}
}

// TestLostDatabaseAtCommitIs503: a commit that fails because the connection
// failed (SQLSTATE 08006, raised as PostgreSQL raises it) is the friendly
// 503 page, or the API's 503 JSON, and nothing of the change lands.
func TestLostDatabaseAtCommitIs503(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	requirePostgres(t, a)
	for _, sql := range []string{
		`CREATE FUNCTION lose_connection() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'connection failure' USING ERRCODE = '08006'; END $$ LANGUAGE plpgsql`,
		`CREATE CONSTRAINT TRIGGER lose_connection AFTER INSERT ON audit_events DEFERRABLE INITIALLY DEFERRED
			FOR EACH ROW WHEN (NEW.action IN ('settings.saved', 'device.added')) EXECUTE FUNCTION lose_connection()`,
	} {
		if err := a.db.Exec(sql).Error; err != nil {
			t.Fatal(err)
		}
	}
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	page := tenantURL("acme", "/settings/company")
	wantDatabaseUnavailablePage(t, b.submit(page, page, url.Values{"timezone": {"Asia/Tokyo"}}))
	if tz := a.tenant("acme").Timezone; tz != "America/New_York" {
		t.Fatalf("timezone is %s after a lost commit", tz)
	}
	if !strings.Contains(a.logs.String(), "database unavailable") {
		t.Fatal("the lost database was not logged")
	}

	key := a.apiKey(t, "acme", models.APISandbox)
	wantDatabaseUnavailableJSON(t, a.call(key, http.MethodPost, apiURL("acme", "/devices"), `{"identifier": "API-LOST-1", "model": "Thermo Logger T-100"}`))
}

// TestPoolRecoversFromTerminatedConnections: when PostgreSQL ends the
// server's connections (a restart, a failover, an operator), the pool
// throws the dead ones away by itself — pgx's driver pings a connection
// idle over a second before lending it, and marks one that failed as
// closed so database/sql discards it — so requests succeed again at once;
// a request that meets a dead connection is a 503, at most one per
// connection, never a 500.
func TestPoolRecoversFromTerminatedConnections(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	requirePostgres(t, a)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	key := a.apiKey(t, "acme", models.APISandbox)
	home := tenantURL("acme", "/")
	for range 3 {
		wantStatus(t, b.get(home), http.StatusOK)
		wantStatus(t, a.call(key, http.MethodGet, apiURL("acme", "/members"), ""), http.StatusOK)
	}
	sqlDB, err := a.serverDB.DB()
	if err != nil {
		t.Fatal(err)
	}
	open := sqlDB.Stats().OpenConnections

	var terminated int
	if err := a.db.Raw(`SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()) AS t`).Scan(&terminated).Error; err != nil {
		t.Fatal(err)
	}
	if terminated == 0 {
		t.Fatal("no connection was terminated")
	}

	unavailable := 0
	var statuses []int
	for i := range 12 {
		var r response
		if i%2 == 0 {
			r = b.get(home)
		} else {
			r = a.call(key, http.MethodGet, apiURL("acme", "/members"), "")
		}
		statuses = append(statuses, r.status)
		switch {
		case r.status == http.StatusOK:
		case r.status == http.StatusServiceUnavailable && i%2 == 0:
			wantDatabaseUnavailablePage(t, r)
			unavailable++
		case r.status == http.StatusServiceUnavailable:
			wantDatabaseUnavailableJSON(t, r)
			unavailable++
		default:
			t.Fatalf("request %d after the termination: status %d\n%s", i, r.status, r.body)
		}
	}
	t.Logf("%d of the server's %d open connections terminated; statuses after: %v", terminated, open, statuses)
	if unavailable > open {
		t.Fatalf("%d answers were 503 for %d dead connections: the pool kept lending them (%v)", unavailable, open, statuses)
	}
	for i, s := range statuses[len(statuses)-4:] {
		if s != http.StatusOK {
			t.Fatalf("request %d of the last four failed: the pool did not recover (%v)", i, statuses)
		}
	}
	var members struct {
		Data []json.RawMessage `json:"data"`
	}
	decode(t, a.call(key, http.MethodGet, apiURL("acme", "/members"), ""), &members)
	if len(members.Data) == 0 {
		t.Fatal(fmt.Sprint("no members after the recovery: ", members))
	}
}

// TestCutShortBodyIsTheClients: a body that ends before its Content-Length
// (the client hung up) is a 400 of the client's, not a lost database: the
// network error inside must not make it a 503 that anyone could provoke,
// nor a warning about the database in the log.
func TestCutShortBodyIsTheClients(t *testing.T) {
	a := newApp(t)
	key := a.apiKey(t, "acme", models.APISandbox)
	conn, err := net.Dial("tcp", strings.TrimPrefix(a.server.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }()
	_, _ = fmt.Fprintf(conn, "POST /api/v1/devices HTTP/1.1\r\nHost: acme.localhost:8080\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"identifier\":", key)
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = res.Body.Close() }()
	var body struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != http.StatusBadRequest || body.Error.Code != "bad_request" {
		t.Fatalf("a body cut short: %d %q, want 400 bad_request", res.StatusCode, body.Error.Code)
	}
	if strings.Contains(a.logs.String(), "database unavailable") {
		t.Fatal("a body cut short was logged as a lost database")
	}
}
