package handlers_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gorm.io/gorm"

	"canopy/handlers"
	"canopy/internal/config"
	"canopy/internal/demo"
	"canopy/internal/testdb"
	"canopy/internal/testkit"
	"canopy/models"
)

func TestMain(m *testing.M) { testdb.Main(m) }

const base = "http://localhost:8080"

// tenantURL is a page on a tenant's subdomain.
func tenantURL(sub, path string) string { return "http://" + sub + ".localhost:8080" + path }

// app is Canopy with the demo data, served by its real router over a real
// database (SQLite, or Postgres when CANOPY_TEST_DATABASE_URL is set). On
// Postgres the server connects as the test's member of canopy_app, so
// row-level security applies to every request exactly as in production;
// db and store are the owner's, for setting up and inspecting data.
type app struct {
	t        *testing.T
	db       *gorm.DB
	store    *models.Store
	serverDB *gorm.DB // the server's own connection
	cfg      *config.Config
	secrets  *config.Secrets
	server   *httptest.Server
	clock    *testClock            // the server's clock, which a test may move forward
	logs     *testkit.LockedBuffer // everything the server logged
	handlers *handlers.Handlers    // the server's, for settings a test changes (the API's rate limit)
}

// testClock is the real time plus however far a test moved it forward.
type testClock struct{ ahead atomic.Int64 }

func (c *testClock) now() time.Time { return time.Now().Add(time.Duration(c.ahead.Load())) }

// advance moves the server's clock forward by d.
func (c *testClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

func newApp(t *testing.T) *app {
	t.Helper()
	return newAppWith(t, nil)
}

func newAppWith(t *testing.T, env map[string]string) *app {
	t.Helper()
	db, serverDB := testdb.OpenDemoAsApp(t)
	store := models.NewStore(db).WithScopeKey(testdb.ScopeKey)
	vars := map[string]string{"CANOPY_BASE_URL": base, "CANOPY_DATA_DIR": t.TempDir()}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Parse(func(k string) (string, bool) { v, ok := vars[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	store, err = store.WithWebhooks(models.WebhookSettings{SecretKey: secrets.WebhookSecret, HTTPHosts: cfg.WebhookHTTPHosts})
	if err != nil {
		t.Fatal(err)
	}
	serverStore, err := models.NewStore(serverDB).WithScopeKey(testdb.ScopeKey).
		WithWebhooks(models.WebhookSettings{SecretKey: secrets.WebhookSecret, HTTPHosts: cfg.WebhookHTTPHosts})
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.LockedBuffer{}
	h := handlers.New(cfg, serverStore, secrets,
		slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	clock := &testClock{}
	h.SetClock(clock.now)
	server := httptest.NewServer(h.Router())
	t.Cleanup(server.Close)
	return &app{t: t, db: db, store: store, serverDB: serverDB, cfg: cfg, secrets: secrets, server: server, clock: clock, logs: logs, handlers: h}
}

// anotherInstance is a second server process on the same database, with
// the same configuration and keys: what a load balancer's next instance is.
// Its browsers talk to it alone.
func (a *app) anotherInstance() *app {
	a.t.Helper()
	serverStore, err := models.NewStore(a.serverDB).WithScopeKey(testdb.ScopeKey).
		WithWebhooks(models.WebhookSettings{SecretKey: a.secrets.WebhookSecret, HTTPHosts: a.cfg.WebhookHTTPHosts})
	if err != nil {
		a.t.Fatal(err)
	}
	h := handlers.New(a.cfg, serverStore, a.secrets, slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	h.SetClock(a.clock.now)
	server := httptest.NewServer(h.Router())
	a.t.Cleanup(server.Close)
	other := *a
	other.server, other.handlers = server, h
	return &other
}

// browser is one person's browser: its own cookie jar, keyed by host like a
// real one, with every host name routed to the test server.
type browser struct {
	app    *app
	client *http.Client
}

func (a *app) browser() *browser {
	jar, _ := cookiejar.New(nil)
	addr := a.server.Listener.Addr().String()
	// Every host name goes to the test server, whatever it is; a loopback
	// IP address (an identity provider a test started) to itself.
	transport := &http.Transport{DialContext: func(ctx context.Context, network, to string) (net.Conn, error) {
		if host, _, err := net.SplitHostPort(to); err != nil || !net.ParseIP(host).IsLoopback() {
			to = addr
		}
		return (&net.Dialer{}).DialContext(ctx, network, to)
	}}
	return &browser{app: a, client: &http.Client{
		Jar:           jar,
		Transport:     transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	status   int
	body     string
	location string
	header   http.Header
	url      string
}

func (b *browser) do(req *http.Request) response {
	b.app.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.app.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, body: string(body), location: res.Header.Get("Location"), header: res.Header, url: req.URL.String()}
}

func (b *browser) get(rawURL string) response {
	b.app.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	return b.do(req)
}

// post submits a form as-is (no CSRF token added).
func (b *browser) post(rawURL string, form url.Values) response {
	b.app.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, rawURL, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

// submit posts a form with the CSRF token of the page at pageURL, as a
// person filling in that page would.
func (b *browser) submit(pageURL, action string, form url.Values) response {
	b.app.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set("_csrf", b.csrf(pageURL))
	return b.post(action, form)
}

var csrfField = regexp.MustCompile(`name="_csrf" value="([^"]+)"`)

func (b *browser) csrf(pageURL string) string {
	b.app.t.Helper()
	page := b.follow(b.get(pageURL))
	m := csrfField.FindStringSubmatch(page.body)
	if m == nil {
		b.app.t.Fatalf("no CSRF token on %s (status %d)", page.url, page.status)
	}
	return m[1]
}

// follow goes through redirects like a browser, up to ten.
func (b *browser) follow(r response) response {
	b.app.t.Helper()
	for i := 0; i < 10 && r.status >= 300 && r.status < 400; i++ {
		next, err := url.Parse(r.url)
		if err != nil {
			b.app.t.Fatal(err)
		}
		r = b.get(next.ResolveReference(mustParse(b.app.t, r.location)).String())
	}
	return r
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signIn signs in on the base domain, continuing to a company when given,
// and returns the page the browser ends on.
func (b *browser) signIn(email, subdomain string) response {
	b.app.t.Helper()
	login := base + "/login"
	if subdomain != "" {
		login += "?tenant=" + subdomain
	}
	form := url.Values{"email": {email}, "password": {demo.Password}, "tenant": {subdomain}}
	return b.follow(b.submit(login, base+"/login", form))
}

func (a *app) user(email string) *models.User {
	a.t.Helper()
	u, err := a.store.UserByEmail(context.Background(), email)
	if err != nil {
		a.t.Fatal(err)
	}
	return u
}

// passwordHash is the person's password hash ("" for none), read by the
// owner: the server's own connection cannot read the table.
func (a *app) passwordHash(email string) string {
	a.t.Helper()
	var hashes []string
	err := a.db.Table("user_passwords").Joins("JOIN users ON users.id = user_passwords.user_id").
		Where("users.email = ?", email).Pluck("user_passwords.hash", &hashes).Error
	if err != nil {
		a.t.Fatal(err)
	}
	if len(hashes) == 0 {
		return ""
	}
	return hashes[0]
}

func (a *app) tenant(sub string) *models.Tenant {
	a.t.Helper()
	tn, err := a.store.TenantBySubdomain(context.Background(), sub)
	if err != nil {
		a.t.Fatal(err)
	}
	return tn
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("%s: status %d, want %d (location %q)\n%s", r.url, r.status, status, r.location, excerpt(r.body))
	}
}

func wantBody(t *testing.T, r response, fragments ...string) {
	t.Helper()
	for _, f := range fragments {
		if !strings.Contains(r.body, f) {
			t.Fatalf("%s: body lacks %q\n%s", r.url, f, excerpt(r.body))
		}
	}
}

func excerpt(s string) string {
	if len(s) > 1500 {
		return s[:1500] + "…"
	}
	return s
}

// newHandlersForRoutes builds the router alone, to list its routes.
func newHandlersForRoutes(t *testing.T) *handlers.Handlers {
	t.Helper()
	cfg, err := config.Parse(func(k string) (string, bool) {
		if k == "CANOPY_DATA_DIR" {
			return t.TempDir(), true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	return handlers.New(cfg, models.NewStore(testdb.Open(t)).WithScopeKey(testdb.ScopeKey), secrets, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// handoffState starts a hand-off at a company's host, as a browser does
// before it is sent to sign in, and returns the state that host gave it.
func (b *browser) handoffState(sub string) string {
	b.app.t.Helper()
	r := b.get(tenantURL(sub, "/auth/handoff/begin"))
	if r.status != http.StatusSeeOther {
		b.app.t.Fatalf("begin hand-off at %s: status %d", sub, r.status)
	}
	state := mustParse(b.app.t, r.location).Query().Get("state")
	if state == "" {
		b.app.t.Fatalf("no state in %s", r.location)
	}
	return state
}
