package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"canopy/internal/handoff"
	"canopy/models"
)

func TestSignInLandsOnCompanyHome(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	cases := []struct {
		email, tenant, wantHost, wantText string
	}{
		{"alice@acme.test", "acme", "acme.localhost:8080", "Welcome to Acme Corp, Alice"},
		{"alice@acme.test", "", "acme.localhost:8080", "Acme Corp"}, // her own company by default
		{"alice@acme.test", "globex", "globex.localhost:8080", "Globex"},
		{"dave@acme.test", "", "acme.localhost:8080", "Viewer"},
		{"carol@initech.test", "", "initech.localhost:8080", "Initech"},
		{"staff@canopy.test", "", "admin.localhost:8080", "Canopy Platform"},
	}
	for _, c := range cases {
		t.Run(c.email+"→"+c.tenant, func(t *testing.T) {
			page := a.browser().signIn(c.email, c.tenant)
			wantStatus(t, page, http.StatusOK)
			if host := mustParse(t, page.url).Host; host != c.wantHost {
				t.Fatalf("landed on %s, want %s", host, c.wantHost)
			}
			wantBody(t, page, c.wantText)
		})
	}
}

func TestVisitingCompanySignedOutAsksToSignInThenContinues(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	r := b.get(tenantURL("acme", "/?tab=x"))
	wantStatus(t, r, http.StatusSeeOther)
	login := b.follow(r)
	if !strings.HasPrefix(login.url, base+"/login?") || !strings.Contains(login.url, "tenant=acme") {
		t.Fatalf("ended on %q, want the sign-in page for acme", login.url)
	}
	wantBody(t, login, "to continue to", "Acme Corp")
	state := regexp.MustCompile(`name="state" value="([^"]+)"`).FindStringSubmatch(login.body)
	if state == nil {
		t.Fatal("the sign-in form does not carry the hand-off state")
	}
	form := url.Values{"email": {"alice@acme.test"}, "password": {"demo-password"}, "tenant": {"acme"}, "next": {"/?tab=x"}, "state": {state[1]}}
	form.Set("_csrf", csrfField.FindStringSubmatch(login.body)[1])
	home := b.follow(b.post(base+"/login", form))
	wantStatus(t, home, http.StatusOK)
	if home.url != tenantURL("acme", "/?tab=x") {
		t.Fatalf("ended on %s, want the page first asked for", home.url)
	}
}

func TestSignInRefusalsLookTheSame(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	cases := []struct{ name, email, password string }{
		{"wrong password", "alice@acme.test", "not-the-password"},
		{"unknown email", "nobody@acme.test", "demo-password"},
	}
	var bodies []string
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := a.browser()
			r := b.submit(base+"/login", base+"/login", url.Values{"email": {c.email}, "password": {c.password}})
			wantStatus(t, r, http.StatusUnauthorized)
			wantBody(t, r, "The email or password is not correct.", `value="`+c.email+`"`)
			bodies = append(bodies, strings.ReplaceAll(csrfField.ReplaceAllString(r.body, ""), c.email, ""))
			// Still signed out: Home asks to sign in.
			wantStatus(t, b.get(tenantURL("acme", "/")), http.StatusSeeOther)
		})
	}
	if len(bodies) == 2 && bodies[0] != bodies[1] {
		t.Fatal("the answers for a wrong password and an unknown email differ")
	}
}

func TestSignInFormErrorsBesideFields(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	r := a.browser().submit(base+"/login", base+"/login", url.Values{"email": {"alice@acme.test"}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Enter your password.", `value="alice@acme.test"`, `aria-invalid="true"`)
}

func TestSignInIsRateLimited(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		// Spoofed X-Forwarded-For must not reset the budget: the peer address counts.
		form := url.Values{"email": {"alice@acme.test"}, "password": {"guess"}, "_csrf": {b.csrf(base + "/login")}}
		req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Forwarded-For", "10.0.0."+string(rune('0'+i%10)))
		limited = b.do(req).status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("30 wrong passwords in a row were never limited")
	}
	r := b.submit(base+"/login", base+"/login", url.Values{"email": {"alice@acme.test"}, "password": {"demo-password"}})
	wantStatus(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Too many sign-in attempts")
}

func TestUnknownSubdomainIs404(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "")
	for _, host := range []string{"nope.localhost:8080", "a.acme.localhost:8080", "evil.example", "localhost:9999"} {
		t.Run(host, func(t *testing.T) {
			r := b.get("http://" + host + "/")
			wantStatus(t, r, http.StatusNotFound)
			wantBody(t, r, "There is no company at this address")
		})
	}
	wantStatus(t, b.follow(b.get(base+"/go/nope")), http.StatusNotFound)
}

func TestInactiveCompanyCannotBeEntered(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	frank := a.browser() // owner of the inactive Acme Lab
	r := frank.get(tenantURL("acme-lab", "/"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Acme Lab is inactive")
	landing := frank.signIn("frank@acme.test", "acme-lab")
	wantStatus(t, landing, http.StatusForbidden)
	// Frank has no session at Acme Lab's address: it names no one to him there.
	wantBody(t, landing, "Acme Lab is inactive; ask its parent company's administrators to reactivate it.")
	// With no other company, the base domain names the inactive one and who
	// can reactivate it, and offers no other companies.
	home := frank.follow(frank.get(base + "/"))
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "Acme Lab is inactive", "ask the administrators of Acme Corp, its parent company, to reactivate it", "Sign out")
	for _, wrong := range []string{"No companies yet", "Go to my other companies"} {
		if strings.Contains(home.body, wrong) {
			t.Errorf("frank's page says %q", wrong)
		}
	}
}

func TestInactiveCompanyOffersOtherCompaniesOnlyToThoseWithSome(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice, carol := a.browser(), a.browser() // alice has Acme and Globex too; Initech is carol's only company
	alice.signIn("alice@acme.test", "initech")
	carol.signIn("carol@initech.test", "initech")
	if err := a.store.SetTenantStatus(context.Background(), a.tenant("initech").ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	r := alice.get(tenantURL("initech", "/orders"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Initech is inactive; ask the administrators of Canopy Platform", "Go to my other companies")
	r = carol.get(tenantURL("initech", "/"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Initech is inactive", "Sign out")
	if strings.Contains(r.body, "Go to my other companies") {
		t.Error("carol, with no other company, is offered her other companies")
	}
	// Someone not signed in here: nothing is promised about them.
	r = a.browser().get(tenantURL("initech", "/"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Initech is inactive", "Go to Canopy")
	if strings.Contains(r.body, "Go to my other companies") {
		t.Error("a visitor not signed in is promised other companies")
	}
	// Her open session changes nothing there, even with a valid form token.
	wantStatus(t, carol.submit(tenantURL("initech", "/"), tenantURL("initech", "/settings/company"), url.Values{"timezone": {"Asia/Tokyo"}}), http.StatusForbidden)
	if tz := a.tenant("initech").Timezone; tz == "Asia/Tokyo" {
		t.Fatal("a POST to an inactive company changed its settings")
	}
	// Signing out still works at an inactive company's address.
	wantStatus(t, carol.submit(tenantURL("initech", "/"), tenantURL("initech", "/logout"), nil), http.StatusSeeOther)
	// Carol, with Initech inactive and nothing else, is told so on the base domain.
	carol.signIn("carol@initech.test", "")
	wantBody(t, carol.follow(carol.get(base+"/")), "Initech is inactive", "Canopy Platform")
	// In two inactive companies, both are named with who can reactivate each.
	if _, err := a.store.AddMember(context.Background(), a.tenant("acme-lab").ID, a.user("carol@initech.test").ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	wantBody(t, carol.follow(carol.get(base+"/")), "Your companies are inactive",
		"Acme Lab is inactive; ask the administrators of Acme Corp", "Initech is inactive; ask the administrators of Canopy Platform")
}

func TestNonMemberIsRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	carol := a.browser()
	carol.signIn("carol@initech.test", "")
	r := carol.follow(carol.get(base + "/go/acme"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "You don&#39;t have access to Acme Corp")
	// A hand-off minted for Initech does not open Acme.
	state := carol.handoffState("acme")
	_, token := handoff.New(a.secrets.Handoff, a.user("carol@initech.test").ID, a.tenant("initech").ID, 1, state, time.Now())
	wantStatus(t, carol.get(tenantURL("acme", "/auth/handoff?token="+url.QueryEscape(token))), http.StatusBadRequest)
}

func TestSwitchingCompaniesNeedsNoPassword(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	for _, c := range [][2]string{{"globex", "Globex"}, {"initech", "Initech"}, {"acme", "Acme Corp"}} {
		sub, name := c[0], c[1]
		r := b.follow(b.get(tenantURL(sub, "/")))
		wantStatus(t, r, http.StatusOK)
		if host := mustParse(t, r.url).Host; host != sub+".localhost:8080" {
			t.Fatalf("visiting %s ended on %s", sub, r.url)
		}
		wantBody(t, r, "Welcome to "+name+", Alice")
	}
	// Two companies at once: both hosts keep their own session.
	wantBody(t, b.get(tenantURL("globex", "/")), "Globex")
	wantBody(t, b.get(tenantURL("acme", "/")), "Acme Corp")
	// The last company entered (acme already had its session) is remembered
	// for the next sign-in.
	if u := a.user("alice@acme.test"); u.LastTenantID == nil || *u.LastTenantID != a.tenant("initech").ID {
		t.Fatalf("last company not remembered: %v", u.LastTenantID)
	}
}

func TestHandoffTokenRules(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.user("alice@acme.test")
	acme := a.tenant("acme")
	session := a.newSession(alice)
	ended := a.newSession(alice)
	if err := a.store.EndSession(context.Background(), alice.ID, ended); err != nil {
		t.Fatal(err)
	}
	mint := func(key []byte, tenantID, sessionID int64, state string, at time.Time) string {
		_, tok := handoff.New(key, alice.ID, tenantID, sessionID, state, at)
		return tok
	}
	cases := []struct {
		name  string
		token func(state string) string
		text  string
	}{
		{"garbage", func(string) string { return "not-a-token" }, "expired"},
		{"expired", func(s string) string {
			return mint(a.secrets.Handoff, acme.ID, session, s, time.Now().Add(-2*handoff.TTL))
		}, "expired"},
		{"signed with another key", func(s string) string {
			return mint([]byte("some-other-key-some-other-key-00"), acme.ID, session, s, time.Now())
		}, "expired"},
		{"ended session", func(s string) string { return mint(a.secrets.Handoff, acme.ID, ended, s, time.Now()) }, "expired"},
		{"another person's session", func(s string) string {
			return mint(a.secrets.Handoff, acme.ID, a.newSession(a.user("dave@acme.test")), s, time.Now())
		}, "expired"},
		{"other tenant", func(s string) string {
			return mint(a.secrets.Handoff, a.tenant("globex").ID, session, s, time.Now())
		}, "expired"},
		{"minted for another browser", func(string) string {
			return mint(a.secrets.Handoff, acme.ID, session, a.browser().handoffState("acme"), time.Now())
		}, "not for this browser"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := a.browser()
			r := b.get(tenantURL("acme", "/auth/handoff?token="+url.QueryEscape(c.token(b.handoffState("acme")))))
			wantStatus(t, r, http.StatusBadRequest)
			wantBody(t, r, c.text)
		})
	}
	t.Run("replayed", func(t *testing.T) {
		b := a.browser()
		link := tenantURL("acme", "/auth/handoff?token="+url.QueryEscape(mint(a.secrets.Handoff, acme.ID, session, b.handoffState("acme"), time.Now())))
		wantStatus(t, b.get(link), http.StatusSeeOther)
		second := b.get(link)
		wantStatus(t, second, http.StatusBadRequest)
		wantBody(t, second, "already used")
	})
	t.Run("open redirect", func(t *testing.T) {
		for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)"} {
			b := a.browser()
			tok := mint(a.secrets.Handoff, acme.ID, session, b.handoffState("acme"), time.Now())
			r := b.get(tenantURL("acme", "/auth/handoff?token="+url.QueryEscape(tok)+"&next="+url.QueryEscape(next)))
			wantStatus(t, r, http.StatusSeeOther)
			if r.location != "/" {
				t.Errorf("next=%q redirected to %q", next, r.location)
			}
		}
	})
}

// TestHandoffLinkCannotSwapSessions: dave makes a hand-off link for his own
// account and sends it to alice. Opening it must not sign her in as dave.
func TestHandoffLinkCannotSwapSessions(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	// Dave walks the hand-off himself but stops before the last redirect.
	r := dave.get(tenantURL("acme", "/go/acme"))
	for i := 0; i < 5 && !strings.Contains(r.location, "/auth/handoff?token="); i++ {
		r = dave.get(mustParse(t, r.url).ResolveReference(mustParse(t, r.location)).String())
	}
	if !strings.Contains(r.location, "/auth/handoff?token=") {
		t.Fatalf("never reached a hand-off link: %s", r.location)
	}
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	swapped := alice.get(r.location)
	wantStatus(t, swapped, http.StatusBadRequest)
	wantBody(t, swapped, "not for this browser")
	wantBody(t, alice.get(tenantURL("acme", "/")), "Welcome to Acme Corp, Alice")
}

// TestSignOutEndsThisBrowsersSession: signing out on one address signs
// this browser out of every address it entered (and the base domain);
// alice's other browser stays signed in.
func TestSignOutEndsThisBrowsersSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	wantStatus(t, b.follow(b.get(tenantURL("globex", "/"))), http.StatusOK)
	other := a.browser() // alice on another device
	other.signIn("alice@acme.test", "initech")

	r := b.submit(tenantURL("acme", "/"), tenantURL("acme", "/logout"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, b.follow(r), "You have been signed out.")
	for _, sub := range []string{"acme", "globex", "initech"} {
		if r := b.follow(b.get(tenantURL(sub, "/"))); !strings.Contains(r.body, `name="password"`) {
			t.Fatalf("%s still open after sign-out: ended on %s", sub, r.url)
		}
	}
	// The base domain session ended too: it shows the form, not a redirect.
	wantBody(t, b.get(base+"/login"), `name="password"`)
	// The other browser is still signed in where it was.
	wantStatus(t, other.get(tenantURL("initech", "/")), http.StatusOK)
}

func TestRemovedMemberLosesAccessOnNextRequest(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	dave := a.browser()
	wantStatus(t, dave.signIn("dave@acme.test", "acme"), http.StatusOK)
	acme := a.tenant("acme")
	if err := a.store.RemoveMember(context.Background(), acme.ID, a.user("dave@acme.test").ID); err != nil {
		t.Fatal(err)
	}
	r := dave.get(tenantURL("acme", "/"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "You don&#39;t have access to Acme Corp")
}

func TestDeactivatedCompanyClosesOpenSessions(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "initech")
	if err := a.store.SetTenantStatus(context.Background(), a.tenant("initech").ID, models.TenantInactive); err != nil {
		t.Fatal(err)
	}
	r := b.get(tenantURL("initech", "/"))
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "Initech is inactive")
}

func TestCSRF(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	b.signIn("alice@acme.test", "globex")
	globexToken := b.csrf(tenantURL("globex", "/"))
	cases := []struct {
		name  string
		token string
	}{
		{"no token", ""},
		{"made-up token", "forged"},
		{"token of a sibling subdomain's session", globexToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.post(tenantURL("acme", "/logout"), url.Values{"_csrf": {c.token}})
			wantStatus(t, r, http.StatusForbidden)
			wantBody(t, r, "This form has expired")
		})
	}
	// Still signed in: none of the forged sign-outs took effect.
	wantStatus(t, b.get(tenantURL("acme", "/")), http.StatusOK)
	// A token from before sign-in is stale after it (the session was renewed).
	fresh := a.browser()
	stale := fresh.csrf(base + "/login")
	fresh.signIn("dave@acme.test", "")
	wantStatus(t, fresh.post(base+"/logout", url.Values{"_csrf": {stale}}), http.StatusForbidden)
}

func TestSessionCookieIsBoundToItsHost(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "globex")
	// Plant globex's session cookie on acme, as a sibling subdomain could.
	globex := mustParse(t, tenantURL("globex", "/"))
	acme := mustParse(t, tenantURL("acme", "/"))
	b.client.Jar.SetCookies(acme, b.client.Jar.Cookies(globex))
	r := b.get(tenantURL("acme", "/"))
	if r.status != http.StatusSeeOther || !strings.Contains(r.location, "/auth/handoff/begin") {
		t.Fatalf("a cookie from globex opened acme: %d %s", r.status, r.location)
	}
}

func TestSessionCookieFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		base       string
		name       string
		wantSecure bool
	}{
		{"http://localhost:8080", "canopy_session=", false},
		{"https://canopy.example.com", "__Host-canopy_session=", true},
	} {
		t.Run(c.base, func(t *testing.T) {
			a := newAppWith(t, map[string]string{"CANOPY_BASE_URL": c.base})
			req, _ := http.NewRequest(http.MethodGet, a.server.URL+"/login", nil)
			req.Host = mustParse(t, c.base).Host
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			cookie := res.Header.Get("Set-Cookie")
			if !strings.HasPrefix(cookie, c.name) || !strings.Contains(cookie, "HttpOnly") || !strings.Contains(cookie, "SameSite=Lax") || strings.Contains(cookie, "Domain=") {
				t.Fatalf("cookie %q", cookie)
			}
			if strings.Contains(cookie, "Secure") != c.wantSecure {
				t.Fatalf("cookie %q: Secure should be %v", cookie, c.wantSecure)
			}
			if hsts := res.Header.Get("Strict-Transport-Security"); (hsts != "") != c.wantSecure {
				t.Fatalf("HSTS %q over %s", hsts, c.base)
			}
		})
	}
}

// TestDuplicateSessionCookiesKeepThePersonSignedIn: a browser may send two
// cookies of the session's name — its own and one a sibling subdomain set
// for the parent domain — in either order. The one that verifies for this
// host is used, so garbage or another host's cookie beside it signs nobody
// out; with nothing that verifies the person is signed out.
func TestDuplicateSessionCookiesKeepThePersonSignedIn(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	acme := sessionCookieOf(t, b, tenantURL("acme", "/"))
	globex := sessionCookieOf(t, b.signInAgain("globex"), tenantURL("globex", "/"))
	garbage := "canopy_session=" + strings.Repeat("A", len(acme)-len("canopy_session="))
	// A client without a jar, so the test alone decides the Cookie header.
	bare := &http.Client{Transport: b.client.Transport, CheckRedirect: b.client.CheckRedirect}
	for _, c := range []struct {
		name     string
		cookies  []string
		signedIn bool
	}{
		{"garbage first", []string{garbage, acme}, true},
		{"garbage last", []string{acme, garbage}, true},
		{"another host's first", []string{globex, acme}, true},
		{"another host's last", []string{acme, globex}, true},
		{"garbage alone", []string{garbage}, false},
		{"another host's alone", []string{globex}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, tenantURL("acme", "/devices"), nil)
			req.Header.Set("Cookie", strings.Join(c.cookies, "; "))
			res, err := bare.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if signedIn := res.StatusCode == http.StatusOK; signedIn != c.signedIn {
				t.Fatalf("status %d (location %q): signed in %v, want %v", res.StatusCode, res.Header.Get("Location"), signedIn, c.signedIn)
			}
		})
	}
}

// sessionCookieOf is the "name=value" of the session cookie the browser
// holds for a page's host.
func sessionCookieOf(t *testing.T, b *browser, pageURL string) string {
	t.Helper()
	for _, c := range b.client.Jar.Cookies(mustParse(t, pageURL)) {
		if c.Name == "canopy_session" {
			return c.Name + "=" + c.Value
		}
	}
	t.Fatalf("no session cookie for %s", pageURL)
	return ""
}

// signInAgain takes the browser, signed in already, into another company
// through the base domain's hand-off, and returns it.
func (b *browser) signInAgain(subdomain string) *browser {
	b.app.t.Helper()
	wantStatus(b.app.t, b.follow(b.get(tenantURL(subdomain, "/"))), http.StatusOK)
	return b
}
