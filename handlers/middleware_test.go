package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"canopy/models"
	"canopy/static"
)

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	for _, u := range []string{base + "/login", tenantURL("acme", "/"), tenantURL("nope", "/"), base + "/healthz"} {
		r := b.get(u)
		csp := r.header.Get("Content-Security-Policy")
		for _, want := range []string{"script-src 'self'", "frame-ancestors 'none'", "object-src 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("%s: CSP %q lacks %q", u, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("%s: CSP allows inline code: %q", u, csp)
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Referrer-Policy") == "" {
			t.Errorf("%s: missing nosniff or Referrer-Policy", u)
		}
	}
}

func TestPagesHaveNoInlineScript(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	page := b.signIn("alice@acme.test", "acme")
	for _, r := range []response{page, b.get(base + "/login"), b.get(tenantURL("nope", "/"))} {
		if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " onclick=") {
			t.Errorf("%s has inline script, which the CSP blocks", r.url)
		}
	}
}

func TestHealth(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := a.browser().get(base + "/healthz")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `"status":"ok"`)
	// Any host answers health checks, even one that is not a company.
	wantStatus(t, a.browser().get("http://10-0-0-1.internal/healthz"), http.StatusOK)
}

// TestReadiness: /readyz says ready until the process starts draining, then
// 503 while its pages still answer; draining is the process's own, not its
// siblings'. It does not need the database, so a database outage leaves the
// balancer its instances, where /healthz reports the outage.
func TestReadiness(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := a.browser().get(base + "/readyz")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `{"status":"ready"}`)
	wantStatus(t, a.browser().get("http://10-0-0-1.internal/readyz"), http.StatusOK)

	draining := a.anotherInstance()
	draining.handlers.StartDraining()
	r = draining.browser().get(base + "/readyz")
	wantStatus(t, r, http.StatusServiceUnavailable)
	wantBody(t, r, `{"status":"draining"}`)
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	wantStatus(t, draining.browser().get(base+"/login"), http.StatusOK)
	wantStatus(t, a.browser().get(base+"/readyz"), http.StatusOK)

	if err := models.Close(a.serverDB); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a.browser().get(base+"/healthz"), http.StatusServiceUnavailable)
	wantStatus(t, a.browser().get(base+"/readyz"), http.StatusOK)
}

func TestStaticFiles(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	versioned := b.get(base + static.Path("css/app.css"))
	wantStatus(t, versioned, http.StatusOK)
	if cc := versioned.header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Fatalf("versioned asset Cache-Control %q", cc)
	}
	if ct := versioned.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/css") {
		t.Fatalf("Content-Type %q", ct)
	}
	plain := b.get(tenantURL("acme", "/static/css/app.css"))
	wantStatus(t, plain, http.StatusOK)
	if cc := plain.header.Get("Cache-Control"); strings.Contains(cc, "immutable") {
		t.Fatalf("unversioned asset cached forever: %q", cc)
	}
	for _, missing := range []string{"/static/nope.css", "/static/../static.go", "/static/css/"} {
		if r := b.get(base + missing); r.status != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", missing, r.status)
		}
	}
}

func TestErrorPages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	notFound := b.get(tenantURL("acme", "/no-such-page"))
	wantStatus(t, notFound, http.StatusNotFound)
	// Inside a company the error keeps the side menu and the company.
	wantBody(t, notFound, "Page not found", `class="sidebar"`, "Acme Corp")
	// Outside any company the way forward is the base domain, never the same dead end.
	unknown := b.get(tenantURL("nope", "/"))
	wantBody(t, unknown, `href="`+base+`/"`, "Go to Canopy")
	inactive := b.get(tenantURL("acme-lab", "/"))
	wantBody(t, inactive, `class="focus-brand" href="`+base+`/"`)
	// A request with no matching route, whatever its method, is a 404 page too.
	wrongMethod := b.submit(tenantURL("acme", "/"), tenantURL("acme", "/"), nil)
	wantStatus(t, wrongMethod, http.StatusNotFound)
	wantBody(t, wrongMethod, "Page not found")
}

func TestForgedHostHeadersAreIgnored(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	req, _ := http.NewRequest(http.MethodGet, tenantURL("acme", "/"), nil)
	req.Header.Set("X-Forwarded-Host", "evil.example")
	r := b.do(req)
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.location, tenantURL("acme", "/")) {
		t.Fatalf("redirect built from a forwarded host: %q", r.location)
	}
}

// TestDatabaseOutage: a broken database gives a friendly 500 page with no
// internals, and health checks report it.
func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	if err := models.Close(a.serverDB); err != nil {
		t.Fatal(err)
	}
	r := b.get(tenantURL("acme", "/"))
	wantStatus(t, r, http.StatusInternalServerError)
	wantBody(t, r, "Something went wrong on our side")
	if strings.Contains(r.body, "sql") || strings.Contains(r.body, "closed") {
		t.Fatalf("500 page leaks internals:\n%s", excerpt(r.body))
	}
	wantStatus(t, b.get(base+"/healthz"), http.StatusServiceUnavailable)
}
