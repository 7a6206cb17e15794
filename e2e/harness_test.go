// Package e2e drives Canopy in a real headless Chromium, the way a person
// uses it: across the base domain and the tenant subdomains, with real
// cookies and redirects. The tests run only when CANOPY_E2E=1 (make test-e2e).
package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"gorm.io/gorm"

	"canopy/handlers"
	"canopy/internal/config"
	"canopy/internal/demo"
	"canopy/internal/testdb"
	"canopy/internal/testkit"
	"canopy/models"
)

const (
	// chromiumPath is Debian's Chromium. The tests never download a browser.
	chromiumPath = "/usr/bin/chromium"
	// testTimeout bounds one test's whole browser session, so a hung page
	// or browser fails the test instead of waiting for go test's 10 minutes.
	testTimeout = 60 * time.Second
	// screenshotDir is git-ignored; the pictures are for people to look at.
	screenshotDir = "screenshots"
)

// viewport is the size of the page area the browser renders.
type viewport struct{ width, height int64 }

var (
	desktop = viewport{1440, 900}
	phone   = viewport{390, 844}
)

// requireBrowser skips the test unless CANOPY_E2E=1, and then insists on
// Chromium: CI sets the variable, so a missing browser must fail there
// rather than turn the browser tests into a silent skip.
func TestMain(m *testing.M) { testdb.Main(m) }

func requireBrowser(t *testing.T) {
	t.Helper()
	if os.Getenv("CANOPY_E2E") != "1" {
		t.Skip("browser tests run only with CANOPY_E2E=1 (make test-e2e)")
	}
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("CANOPY_E2E=1 but Chromium is missing (%v): apt-get install chromium", err)
	}
}

// app is one Canopy server running inside the test process.
type app struct {
	hostname string // the base domain's name: "localhost", or canopyTest
	port     string
	store    *models.Store // to read what Canopy emailed, as a person reads their inbox
	db       *gorm.DB      // to let time pass, e.g. for an invitation to expire
	secrets  *config.Secrets
}

// canopyTest is a base domain of two labels, like a real one (canopy.example.com)
// and unlike localhost: browsers refuse a cookie for the whole of localhost,
// but not for canopy.test. The browsers resolve it and its subdomains to the
// loopback address (newBrowser); .test is reserved, so it is nobody's name.
const canopyTest = "canopy.test"

// baseHost is the bare sign-in domain, e.g. "localhost:41234".
func (a *app) baseHost() string { return a.hostname + ":" + a.port }

// baseURL is a page on the bare base domain.
func (a *app) baseURL(path string) string { return "http://" + a.baseHost() + path }

// tenantHost is a company's subdomain, e.g. "acme.localhost:41234".
func (a *app) tenantHost(subdomain string) string { return subdomain + "." + a.baseHost() }

// tenantURL is an address on a company's subdomain. Chromium resolves every
// *.localhost name to the loopback address by itself, so no hosts file or
// DNS server is needed.
func (a *app) tenantURL(subdomain, path string) string {
	return "http://" + a.tenantHost(subdomain) + path
}

// startCanopy serves Canopy with the demo data on a free loopback port until
// the test ends, with localhost as its base domain.
func startCanopy(t *testing.T) *app {
	t.Helper()
	return startCanopyOn(t, "localhost")
}

// startCanopyOn is startCanopy with hostname as the base domain.
func startCanopyOn(t *testing.T, hostname string) *app {
	t.Helper()
	// Listen first: the base URL must name the real port, because Canopy
	// builds every redirect between the domain and its subdomains from it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	env := map[string]string{
		"CANOPY_BASE_URL": "http://" + hostname + ":" + port,
		"CANOPY_DATA_DIR": t.TempDir(),
		"CANOPY_ADDR":     "127.0.0.1:" + port,
	}
	cfg, err := config.Parse(func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	db := testdb.OpenDemo(t)
	store := models.NewStore(db).WithScopeKey(testdb.ScopeKey)
	secrets, err := cfg.LoadSecrets()
	if err != nil {
		t.Fatal(err)
	}
	if store, err = store.WithWebhooks(models.WebhookSettings{SecretKey: secrets.WebhookSecret, HTTPHosts: cfg.WebhookHTTPHosts}); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := &http.Server{
		Handler:           handlers.New(cfg, store, secrets, log).Router(),
		ReadHeaderTimeout: 10 * time.Second,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shut down Canopy: %v", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return &app{hostname: hostname, port: port, store: store, db: db, secrets: secrets}
}

// newBrowser starts a headless Chromium that lives until the test ends, or
// until testTimeout passes, whichever comes first.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	return startBrowser(t, testTimeout)
}

// startBrowser starts a headless Chromium that lives until the test ends,
// or until budget passes.
func startBrowser(t *testing.T, budget time.Duration) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox, // containers and CI run as root, where the sandbox cannot start
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		// Nothing but Canopy on loopback: no updates, sync or QUIC probes
		// that could slow a test down or reach for the network.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		// Chromium resolves *.localhost by itself; canopyTest is told here.
		chromedp.Flag("host-resolver-rules", "MAP "+canopyTest+" 127.0.0.1, MAP *."+canopyTest+" 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(int(desktop.width), int(desktop.height)),
	)
	// Chromium's output and chromedp's errors are noise when all is well;
	// keep them to show on a failure. (Not t.Logf: chromedp may report from
	// its own goroutines after the test has ended, where t.Logf panics.)
	var output testkit.LockedBuffer
	opts = append(opts, chromedp.CombinedOutput(&output))
	logErr := func(format string, args ...any) { fmt.Fprintf(&output, "chromedp: "+format+"\n", args...) }

	ctx, cancelTimeout := context.WithTimeout(context.Background(), budget)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(logErr))
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc() // waits for the browser process to exit
		cancelTimeout()
		if t.Failed() && output.Len() > 0 {
			t.Logf("chromium output:\n%s", output.String())
		}
	})
	// Start the browser now, so a broken install fails here, clearly.
	if err := chromedp.Do(browserCtx); err != nil {
		t.Fatalf("start %s: %v", chromiumPath, err)
	}
	return browserCtx
}

// newTab opens a tab in its own browser context, like a fresh private
// window: no cookies from other tabs, so each case starts signed out.
func newTab(t *testing.T, browser context.Context, size viewport) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(browser, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(tab, chromedp.EmulateViewport(size.width, size.height, chromedp.EmulatePortrait)); err != nil {
		t.Fatalf("set viewport %dx%d: %v", size.width, size.height, err)
	}
	return tab
}

// open loads rawURL, following redirects, and returns the final response.
func open(t *testing.T, tab context.Context, rawURL string) *network.Response {
	t.Helper()
	resp, err := chromedp.Run(tab, chromedp.NavigateResponse(rawURL))
	if err != nil {
		t.Fatalf("open %s: %v", rawURL, err)
	}
	return resp
}

// submitSignIn types the credentials into the sign-in form on the page and
// clicks its button, as a person would, and returns the final response.
func submitSignIn(t *testing.T, tab context.Context, email, password string) *network.Response {
	t.Helper()
	if err := chromedp.Do(tab,
		chromedp.WaitVisible(chromedp.CSS("#f-email")),
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.SendKeys(chromedp.CSS("#f-password"), password),
	); err != nil {
		t.Fatalf("fill in the sign-in form: %v", err)
	}
	resp, err := chromedp.RunResponse(tab, chromedp.Click(chromedp.CSS(`.auth-card button[type="submit"]`)))
	if err != nil {
		t.Fatalf("submit the sign-in form: %v", err)
	}
	return resp
}

// signIn signs in on a company's address from a signed-out tab and checks
// that it ends on that company's Home.
func signIn(t *testing.T, tab context.Context, a *app, subdomain, email string) {
	t.Helper()
	open(t, tab, a.tenantURL(subdomain, "/"))
	resp := submitSignIn(t, tab, email, demo.Password)
	wantStatus(t, resp, http.StatusOK)
	wantLocation(t, tab, a.tenantHost(subdomain), "/")
}

// location is the address the tab shows now.
func location(t *testing.T, tab context.Context) *url.URL {
	t.Helper()
	raw, err := chromedp.Run(tab, chromedp.Location())
	if err != nil {
		t.Fatalf("read the location: %v", err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse the location %q: %v", raw, err)
	}
	return u
}

// wantLocation checks the tab's host and path, which tell which domain and
// page the redirects ended on.
func wantLocation(t *testing.T, tab context.Context, host, path string) *url.URL {
	t.Helper()
	u := location(t, tab)
	if u.Host != host || u.Path != path {
		t.Fatalf("at %s, want host %s and path %s", u, host, path)
	}
	return u
}

func wantStatus(t *testing.T, resp *network.Response, status int64) {
	t.Helper()
	if resp.Status != status {
		t.Errorf("%s answered %d, want %d", resp.URL, resp.Status, status)
	}
}

// pageText is the text a person sees on the page, as the browser lays it out.
func pageText(t *testing.T, tab context.Context) string {
	t.Helper()
	text, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
	if err != nil {
		t.Fatalf("read the page text: %v", err)
	}
	return text
}

// wantText checks that every phrase is visible on the page.
func wantText(t *testing.T, tab context.Context, phrases ...string) {
	t.Helper()
	text := pageText(t, tab)
	for _, p := range phrases {
		if !strings.Contains(text, p) {
			t.Errorf("page at %s does not say %q; it says:\n%s", location(t, tab), p, text)
		}
	}
}

// wantNoElement checks that nothing on the page matches a CSS selector.
func wantNoElement(t *testing.T, tab context.Context, selector string) {
	t.Helper()
	found, err := chromedp.Run(tab, chromedp.Evaluate[bool](fmt.Sprintf(`document.querySelector(%q) !== null`, selector)))
	if err != nil {
		t.Fatalf("look for %s: %v", selector, err)
	}
	if found {
		t.Errorf("page at %s has %s, want none", location(t, tab), selector)
	}
}

// wantNoSideways checks that the page fits the viewport's width: content
// wider than the screen means a person has to scroll sideways to read it.
func wantNoSideways(t *testing.T, tab context.Context) {
	t.Helper()
	widths, err := chromedp.Run(tab, chromedp.Evaluate[[2]int](
		`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if err != nil {
		t.Fatalf("measure the page: %v", err)
	}
	if widths[0] > widths[1] {
		t.Errorf("page at %s is %dpx wide in a %dpx viewport", location(t, tab), widths[0], widths[1])
	}
}

// screenshot saves the whole page, not just the viewport, as a PNG in
// e2e/screenshots, for people to review what the tests saw.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(tab, chromedp.FullScreenshot(100)) // quality 100 means PNG
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(screenshotDir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: e2e/%s", path)
}
