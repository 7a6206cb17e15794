// Command bench is Canopy's load benchmark (`make bench`): it starts
// `canopy serve` against the large data set of `canopy seed --scale`, signs
// users in through the real sign-in flow, drives each page with concurrent
// virtual clients over loopback, and writes requests/s, latency percentiles,
// errors and the server's memory against the targets to bench/results.md.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

type options struct {
	ownerURL                    string
	appRole                     string
	clients                     int
	duration, warmup            time.Duration
	password                    string
	manyUser, manyTenant        string
	fleet, fleetUser            string
	platform, platformUser      string
	deviceQuery, subTenantQuery string
	only                        string
	out                         string
	explain                     bool
	logLevel                    string
}

func main() {
	var o options
	flag.StringVar(&o.ownerURL, "db", envOr("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/canopy_bench?sslmode=disable"),
		"the loaded database, as its owner (migrations run with it); $BENCH_DATABASE_URL")
	flag.StringVar(&o.appRole, "app-role", "canopy_bench_app",
		"login role in canopy_app the server connects as (created when missing); empty: connect as the owner")
	flag.IntVar(&o.clients, "clients", 32, "concurrent virtual clients per scenario")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "measured time per scenario")
	flag.DurationVar(&o.warmup, "warmup", 2*time.Second, "unmeasured time before each scenario (connections, caches)")
	flag.StringVar(&o.password, "password", "bench-password", "every user's password")
	flag.StringVar(&o.manyUser, "many-user", "many@scale.test", "the user in many companies: Home with the toggle, company switch")
	flag.StringVar(&o.manyTenant, "many-tenant", "", "the company of -many-user whose Home is measured (empty: their first by subdomain)")
	flag.StringVar(&o.fleet, "fleet", "fleet", "the tenant with the most devices: devices, team, orders")
	flag.StringVar(&o.fleetUser, "fleet-user", "fleet-admin@scale.test", "an Admin of -fleet")
	flag.StringVar(&o.platform, "platform", "scale", "the tenant with the most sub-tenants")
	flag.StringVar(&o.platformUser, "platform-user", "scale-admin@scale.test", "a Super Admin of -platform")
	flag.StringVar(&o.deviceQuery, "device-q", "4242", "the device search (part of an identifier: a few dozen of fleet's devices)")
	flag.StringVar(&o.subTenantQuery, "subtenant-q", "harbor", "the sub-tenant search (a word of company names: about one in twenty)")
	flag.StringVar(&o.only, "only", "", "comma-separated scenario names to run (e.g. healthz,home); empty: all")
	flag.StringVar(&o.out, "out", "bench/results.md", "where to write the results")
	flag.BoolVar(&o.explain, "explain", true, "append EXPLAIN (ANALYZE, BUFFERS) of every query each page makes")
	flag.StringVar(&o.logLevel, "server-log-level", "info", "the server's CANOPY_LOG_LEVEL (its log goes to a temporary file)")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := benchmark(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func envOr(key, fallback string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return fallback
}

func benchmark(ctx context.Context, o options) error {
	owner, err := sql.Open("pgx", o.ownerURL)
	if err != nil {
		return err
	}
	defer owner.Close()
	if err := owner.PingContext(ctx); err != nil {
		return fmt.Errorf("database %s: %w (load it with `make bench-data`)", redact(o.ownerURL), err)
	}
	if err := requireTenants(ctx, owner, o.ownerURL, o.fleet, o.platform); err != nil {
		return err
	}
	appURL, roleNote, err := appConnection(ctx, owner, o.ownerURL, o.appRole)
	if err != nil {
		return err
	}
	machine := describeMachine(ctx, owner)
	data := describeData(ctx, owner, o)

	dir, err := os.MkdirTemp("", "canopy-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	log("building and starting canopy serve (%s)", roleNote)
	srv, err := startServer(ctx, dir, o.ownerURL, appURL, o.logLevel)
	if err != nil {
		return err
	}
	defer srv.stop()

	tr := newTransport(srv.addr, o.clients)
	scenarios, err := prepare(ctx, o, owner, srv, tr)
	if err != nil {
		return fmt.Errorf("%w\nserver log: %s", err, tail(srv.logPath, 5))
	}
	rss := &rssSampler{srv: srv}
	sampling, stopSampling := context.WithCancel(ctx)
	defer stopSampling()
	rss.start(sampling)
	var results []result
	for _, sc := range scenarios {
		log("%-22s %d clients, %s warm-up + %s", sc.name, len(sc.clients), o.warmup, o.duration)
		before := dbSessions(ctx, owner)
		r := run(ctx, sc, o.warmup, o.duration, rss, &pgCPU{db: owner})
		r.newConns = dbSessions(ctx, owner) - before
		if r.firstErr != "" {
			log("  %d errors; first: %s", r.Errors, r.firstErr)
		}
		results = append(results, r)
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	stopSampling()
	_, peak, _ := srv.memory()

	var plans []pagePlans
	var costs map[string]wireCount
	if o.explain {
		log("statements and round trips of each scenario, and EXPLAIN (ANALYZE, BUFFERS) of every query of each page, through the handlers in-process")
		if plans, costs, err = explainPages(ctx, srv.env, appURL, filepath.Join(dir, "explain.log"), scenarios); err != nil {
			// The table is the point; a failed EXPLAIN pass is reported in its section.
			log("EXPLAIN failed: %v", err)
			plans = []pagePlans{{name: "EXPLAIN failed", err: err.Error()}}
		}
	}
	rep := report{
		machine: machine, data: data, roleNote: roleNote, opts: o, results: results, peakRSS: peak, plans: plans, costs: costs,
	}
	table := rep.table()
	fmt.Print("\n" + table)
	if err := rep.write(o.out); err != nil {
		return err
	}
	log("wrote %s", o.out)
	return nil
}

func log(format string, args ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
}

// redact hides a password in a database URL.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// requireTenants fails early, with the fix, when the data set is not loaded.
func requireTenants(ctx context.Context, db *sql.DB, dbURL string, subdomains ...string) error {
	for _, sub := range subdomains {
		var n int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM tenants WHERE subdomain = $1`, sub).Scan(&n); err != nil {
			return fmt.Errorf("look for tenant %q: %w (load the data with `make bench-data`)", sub, err)
		}
		if n == 0 {
			return fmt.Errorf("no tenant %q in %s: load the data with `make bench-data`", sub, redact(dbURL))
		}
	}
	return nil
}

// appConnection is the URL the server connects with: as in production, a
// login role that is a member of canopy_app (created by migration 00007),
// so row-level security applies to every query. It creates the role when
// missing. Without canopy_app, or with -app-role "", the server connects as
// the owner, and the note says so.
func appConnection(ctx context.Context, owner *sql.DB, ownerURL, role string) (appURL, note string, err error) {
	if role == "" {
		return ownerURL, "server connected as the database owner (-app-role empty): row-level security not exercised", nil
	}
	var exists bool
	if err := owner.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = 'canopy_app')`).Scan(&exists); err != nil {
		return "", "", err
	}
	if !exists {
		return ownerURL, "role canopy_app does not exist yet: server connected as the owner, row-level security not exercised", nil
	}
	if err := owner.QueryRowContext(ctx, `SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = $1)`, role).Scan(&exists); err != nil {
		return "", "", err
	}
	if !exists {
		// Trust authentication on loopback, as for postgres itself: no password.
		ident := `"` + strings.ReplaceAll(role, `"`, `""`) + `"`
		if _, err := owner.ExecContext(ctx, `CREATE ROLE `+ident+` LOGIN IN ROLE canopy_app`); err != nil {
			return "", "", fmt.Errorf("create role %s: %w", role, err)
		}
	}
	u, err := url.Parse(ownerURL)
	if err != nil {
		return "", "", err
	}
	u.User = url.User(role)
	return u.String(), "server connected as " + role + ", a member of canopy_app: row-level security applies", nil
}

// prepare signs the users in and builds each scenario's virtual clients.
func prepare(ctx context.Context, o options, owner *sql.DB, srv *server, tr http.RoundTripper) ([]scenario, error) {
	sessions := map[string]*session{}
	signed := func(email, tenant string) (*session, error) {
		if s, ok := sessions[email+" "+tenant]; ok {
			return s, nil
		}
		log("signing in %s", email)
		s, err := signIn(ctx, tr, srv.baseURL, email, o.password, tenant)
		if err != nil {
			return nil, err
		}
		sessions[email+" "+tenant] = s
		return s, nil
	}
	clients := func(s *session, setup func(*vclient) error) ([]*vclient, error) {
		var out []*vclient
		for range o.clients {
			c := newClient(s, tr, srv.baseURL)
			if setup != nil {
				if err := setup(c); err != nil {
					return nil, err
				}
			}
			out = append(out, c)
		}
		return out, nil
	}
	want := func(name string) bool {
		return o.only == "" || slices.Contains(strings.Split(o.only, ","), name)
	}

	var out []scenario
	add := func(name, request string, page bool, s *session, setup func(*vclient) error, do func(context.Context, *vclient) error) error {
		if !want(name) {
			return nil
		}
		cs, err := clients(s, setup)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, scenario{name: name, request: request, page: page, clients: cs, do: do})
		return nil
	}

	// Home and the switch use the user's first two active companies by
	// subdomain, not wherever the last run's switching left them, so runs
	// compare.
	home, other, err := twoCompanies(ctx, owner, o.manyUser, o.manyTenant)
	if err != nil {
		return nil, err
	}
	many, err := signed(o.manyUser, home)
	if err != nil {
		return nil, err
	}
	companies := uniq(goRe.FindAllStringSubmatch(many.body, -1))
	fleet, err := signed(o.fleetUser, o.fleet)
	if err != nil {
		return nil, err
	}
	platform, err := signed(o.platformUser, o.platform)
	if err != nil {
		return nil, err
	}

	steps := []error{
		add("healthz", "GET /healthz (ceiling: no session, one ping)", false, many, nil, getPage("", "/healthz")),
		add("home", fmt.Sprintf("GET %s/ as %s, toggle of %d companies", home, o.manyUser, len(companies)), true, many, nil, getPage(home, "/")),
		add("devices", fmt.Sprintf("GET %s/devices", o.fleet), true, fleet, nil, getPage(o.fleet, "/devices")),
		add("devices-search", fmt.Sprintf("GET %s/devices?q=%s", o.fleet, o.deviceQuery), true, fleet, nil,
			getPage(o.fleet, "/devices?"+url.Values{"q": {o.deviceQuery}}.Encode())),
		add("subtenants", fmt.Sprintf("GET %s/sub-tenants", o.platform), true, platform, nil, getPage(o.platform, "/sub-tenants")),
		add("subtenants-search", fmt.Sprintf("GET %s/sub-tenants?q=%s", o.platform, o.subTenantQuery), true, platform, nil,
			getPage(o.platform, "/sub-tenants?"+url.Values{"q": {o.subTenantQuery}}.Encode())),
		add("team", fmt.Sprintf("GET %s/settings/team", o.fleet), true, fleet, nil, getPage(o.fleet, "/settings/team")),
		// Billing: the company with the most devices, paying for customers
		// billed to it, with a year of statements; and platform staff's list
		// of every paying company (seed --scale writes both).
		add("billing", fmt.Sprintf("GET %s/settings/billing (this month to date with the customers billed to it, a year of statements)", o.fleet),
			true, fleet, nil, getPage(o.fleet, "/settings/billing")),
		add("billing-staff", fmt.Sprintf("GET %s/billing (platform staff's list of paying companies)", o.platform), true, platform, nil,
			getPage(o.platform, "/billing")),
		add("order", fmt.Sprintf("POST %s/orders (Create order, answered by 303)", o.fleet), true, fleet,
			func(c *vclient) error { return c.orderForm(ctx, o.fleet) }, createOrder(o.fleet)),
		add("switch", fmt.Sprintf("GET %s/go/%s and every redirect to %s's Home (then back)", home, other, other), true, many,
			func(c *vclient) error { c.here, c.there = home, other; return nil }, switchCompany),
	}
	if err := errors.Join(steps...); err != nil {
		return nil, err
	}
	return out, nil
}

// dbSessions is how many connections the database has accepted since its
// statistics were reset; the difference shows a pool that reconnects.
func dbSessions(ctx context.Context, db *sql.DB) int64 {
	var n int64
	_ = db.QueryRowContext(ctx, `SELECT sessions FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	return n
}

// twoCompanies picks the many-company user's Home (first, unless given) and
// the company they switch to.
func twoCompanies(ctx context.Context, db *sql.DB, email, first string) (home, other string, err error) {
	rows, err := db.QueryContext(ctx, `SELECT t.subdomain FROM memberships m
		JOIN users u ON u.id = m.user_id JOIN tenants t ON t.id = m.tenant_id
		WHERE u.email = $1 AND t.status = 'active' ORDER BY t.subdomain <> $2, t.subdomain LIMIT 2`, email, first)
	if err != nil {
		return "", "", err
	}
	defer rows.Close()
	var subs []string
	for rows.Next() {
		var sub string
		if err := rows.Scan(&sub); err != nil {
			return "", "", err
		}
		subs = append(subs, sub)
	}
	if err := rows.Err(); err != nil {
		return "", "", err
	}
	if len(subs) < 2 || first != "" && subs[0] != first {
		return "", "", fmt.Errorf("%s needs two active companies (and -many-tenant %q among them) for Home and the switch", email, first)
	}
	return subs[0], subs[1], nil
}

// orderForm reads the Create order form once: the CSRF token and the first
// template the member may use.
func (c *vclient) orderForm(ctx context.Context, host string) error {
	res, body, err := fetch(ctx, c.fixed, http.MethodGet, c.tenantURL(host, "/orders/new"), nil)
	if err := expect(res, err, http.StatusOK); err != nil {
		return err
	}
	csrf, tmpl := csrfRe.FindStringSubmatch(body), templateRe.FindStringSubmatch(body)
	if csrf == nil || tmpl == nil {
		return fmt.Errorf("%s/orders/new: no CSRF token or no template to order from", host)
	}
	c.csrf, c.templateID = csrf[1], tmpl[1]
	return nil
}

func uniq(matches [][]string) []string {
	var out []string
	for _, m := range matches {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}
