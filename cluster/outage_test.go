package cluster

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// accountFreeAttempts is the sign-in throttle's free attempts per account
// (handlers/signin_throttle.go, accountThrottle): the next one is refused.
const accountFreeAttempts = 5

// scenarioBruteForce: wrong passwords for one account, spread by the
// balancer over every instance, are limited in total: the counters are in
// the database, so the sixth attempt is refused whichever instance
// answers it.
func scenarioBruteForce(t *testing.T, c *cluster) {
	ctx := context.Background()
	attacker := c.browser()
	token, err := attacker.csrf(ctx, c.base+"/login")
	if err != nil {
		t.Fatal(err)
	}
	attacker.takeServed()
	const attempts = accountFreeAttempts + 4
	var statuses []int
	servedBy := map[string]int{}
	for i := range attempts {
		p, err := attacker.do(ctx, http.MethodPost, c.base+"/login", url.Values{
			"_csrf": {token}, "email": {"dave@acme.test"}, "password": {fmt.Sprintf("guess-%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, p.status)
		servedBy[p.servedBy]++
		want := http.StatusUnauthorized
		if i >= accountFreeAttempts {
			want = http.StatusTooManyRequests
		}
		if p.status != want {
			t.Fatalf("e: attempt %d answered %s, want %d; statuses so far %v, instances %v", i+1, p, want, statuses, servedBy)
		}
		if want == http.StatusTooManyRequests && (p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "Too many sign-in attempts")) {
			t.Fatalf("e: attempt %d: a 429 without Retry-After or the page saying so: %s", i+1, p)
		}
	}
	if len(servedBy) != len(c.instances) {
		t.Fatalf("e: the attempts reached %d instances, want all %d: %v", len(servedBy), len(c.instances), servedBy)
	}
	logf(t, "e: %d wrong passwords for dave@acme.test over %v: statuses %v — 429 from attempt %d on, whichever instance answered",
		attempts, servedBy, statuses, accountFreeAttempts+1)
}

// internals are words a page must never show a visitor, however the
// database failed.
var internals = []string{"SQLSTATE", "pgconn", "goroutine", "dial tcp"}

// outageCeiling bounds how long the instances may take to serve again
// once PostgreSQL is back.
const outageCeiling = 10 * time.Second

// scenarioPostgresRestart: PostgreSQL stops for a few seconds while the
// clients work. Meanwhile pages answer 503 with Canopy's page and nothing
// internal, /healthz says the database is unavailable and /readyz keeps
// the instances in rotation; once it is back every instance serves again
// by itself within outageCeiling, and every acknowledged write is there.
func scenarioPostgresRestart(t *testing.T, c *cluster) {
	clients := c.loadClients(t)
	l := startLoad("g", clients)
	defer l.finish()
	time.Sleep(2 * time.Second)

	stoppedAt := time.Now()
	c.pg.ctl(t, "stop", "-m", "fast")
	down := time.Now()
	ctx := context.Background()
	probe := clients[0].b
	var healthAnswers, pageAnswers int
	for time.Since(down) < 3*time.Second {
		health, err := c.browser().get(ctx, c.base+"/healthz")
		if err != nil {
			t.Fatalf("g: /healthz while PostgreSQL is down: %v", err)
		}
		if health.status != http.StatusServiceUnavailable || !strings.Contains(health.body, "unavailable") {
			t.Fatalf("g: /healthz while PostgreSQL is down: %s %s, want 503 unavailable", health, health.body)
		}
		healthAnswers++
		p, err := probe.get(ctx, probe.tenantURL("acme", "/devices"))
		if err != nil {
			t.Fatalf("g: a page while PostgreSQL is down: %v", err)
		}
		checkOutagePage(t, p)
		pageAnswers++
		time.Sleep(250 * time.Millisecond)
	}
	status, err := c.lb.serverStatus()
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range c.instances {
		if !strings.HasPrefix(status[in.name], "UP") {
			t.Errorf("g: HAProxy took %s out of rotation while PostgreSQL was down (%s): readiness must not depend on the database", in.name, status[in.name])
		}
	}

	c.pg.ctl(t, "start")
	c.pg.waitReady(t, 30*time.Second)
	backAt := time.Now()
	recovered := c.waitInstancesServe(t, backAt)
	time.Sleep(2 * time.Second)
	l.finish()

	requests, failures, acked := l.result()
	for _, f := range failures {
		if f.at.Before(stoppedAt) || f.at.After(backAt.Add(outageCeiling)) {
			t.Fatalf("g: a request failed outside the outage (%s to %s + %s): %s",
				stoppedAt.Format("15:04:05.000"), backAt.Format("15:04:05.000"), outageCeiling, f)
		}
		if f.status != http.StatusServiceUnavailable {
			t.Errorf("g: during the outage %s, want 503", f)
		}
	}
	if t.Failed() {
		t.Fatalf("g: failures during the outage:\n%s", failureList(failures, 15))
	}
	rows := c.checkAcked(t, "g", acked)
	logf(t, "g: PostgreSQL down %s under %d clients: %d requests, %d answered 503 during the outage (Canopy's page, nothing internal; %d probes of /healthz said unavailable, %d of a page checked), every instance serving again %v after PostgreSQL was back; %d devices acknowledged, %d rows checked present",
		backAt.Sub(stoppedAt).Round(time.Millisecond), len(clients), requests, len(failures), healthAnswers, pageAnswers, recovered, len(acked), rows)
}

// checkOutagePage: what a visitor sees while the database is down.
func checkOutagePage(t *testing.T, p page) {
	t.Helper()
	if p.status != http.StatusServiceUnavailable {
		t.Fatalf("g: a page while PostgreSQL is down: %s, want 503:\n%s", p, excerpt(p.body))
	}
	if !strings.Contains(p.body, "Canopy") || !strings.Contains(p.header.Get("Content-Type"), "text/html") {
		t.Fatalf("g: the outage page is not Canopy's HTML page: %s %q\n%s", p, p.header.Get("Content-Type"), excerpt(p.body))
	}
	for _, word := range internals {
		if strings.Contains(p.body, word) {
			t.Fatalf("g: the outage page shows %q:\n%s", word, excerpt(p.body))
		}
	}
}

// waitInstancesServe waits until each instance, asked directly, serves a
// signed-in page again, and returns how long each took after since.
func (c *cluster) waitInstancesServe(t *testing.T, since time.Time) map[string]time.Duration {
	t.Helper()
	cookies := c.clients[0].b.client.Jar
	took := map[string]time.Duration{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, in := range c.instances {
		wg.Add(1)
		go func() {
			defer wg.Done()
			direct := c.browserAt(in)
			direct.client.Jar = cookies
			for time.Since(since) < outageCeiling {
				p, err := direct.get(context.Background(), direct.tenantURL("acme", "/devices"))
				if err == nil && p.status == http.StatusOK {
					mu.Lock()
					took[in.name] = time.Since(since).Round(time.Millisecond)
					mu.Unlock()
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	for _, in := range c.instances {
		if _, ok := took[in.name]; !ok {
			t.Fatalf("g: %s does not serve %s after PostgreSQL came back\n%s", in.name, outageCeiling, in.proc.tail(30))
		}
	}
	return took
}

// scenarioPgBouncer: the instances restarted one by one with DATABASE_URL
// through PgBouncer in transaction mode (migrations still straight to
// PostgreSQL as the owner); the flows and a short rolling restart again.
func scenarioPgBouncer(t *testing.T, c *cluster) {
	bouncer := startPgBouncer(c.root, c.pg)
	c.bouncer = bouncer
	c.serverURL = bouncer.url()
	for _, in := range c.instances {
		c.restart(t, in)
	}
	before := bouncer.transactions(t)
	checkFlows(t, c, "f")
	rollingRestart(t, c, "f", c.instances[:2])
	after := bouncer.transactions(t)
	if after-before < 100 {
		t.Fatalf("f: PgBouncer pooled %d transactions during the flows and the restarts: the instances do not go through it", after-before)
	}
	logf(t, "f: through PgBouncer (transaction pooling, pgx default_query_exec_mode=exec): %d transactions pooled", after-before)
}

// transactions is PgBouncer's count of transactions pooled for Canopy's
// database (SHOW STATS on its admin console, as a stats user).
func (b *pgbouncer) transactions(t *testing.T) int64 {
	t.Helper()
	conn, err := sql.Open("pgx", fmt.Sprintf("postgres://%s@127.0.0.1:%d/pgbouncer?sslmode=disable&default_query_exec_mode=simple_protocol", ownerRole, b.port))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rows, err := conn.Query("SHOW STATS")
	if err != nil {
		t.Fatalf("pgbouncer SHOW STATS: %v", err)
	}
	defer rows.Close()
	cols, stats := readRows(t, rows)
	for _, values := range stats {
		var database string
		var count int64
		for i, col := range cols {
			switch col {
			case "database":
				database = values[i]
			case "total_xact_count":
				if _, err := fmt.Sscan(values[i], &count); err != nil {
					t.Fatalf("pgbouncer SHOW STATS: total_xact_count %q: %v", values[i], err)
				}
			}
		}
		if database == dbName {
			return count
		}
	}
	t.Fatalf("pgbouncer SHOW STATS has no row for %s", dbName)
	return 0
}
