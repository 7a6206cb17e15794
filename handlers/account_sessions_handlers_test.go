package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/models"
)

// newSession records a signed-in browser for u, as the owner, and returns
// its id: for minting hand-off tokens and for other people's sessions.
func (a *app) newSession(u *models.User) int64 {
	a.t.Helper()
	rec, err := a.store.StartSession(context.Background(), u, models.SessionStart{Method: models.SessionByPassword, IP: "192.0.2.9"}, time.Now())
	if err != nil {
		a.t.Fatal(err)
	}
	return rec.ID
}

// sessionsOf lists the person's sessions, as the owner.
func (a *app) sessionsOf(email string) []models.UserSession {
	a.t.Helper()
	list, err := a.store.SessionsOf(context.Background(), a.user(email).ID, time.Now())
	if err != nil {
		a.t.Fatal(err)
	}
	return list
}

// wantShownTo checks the browser is signed in at pageURL: it is shown, not
// sent to sign in.
func wantShownTo(t *testing.T, b *browser, pageURL string) {
	t.Helper()
	wantStatus(t, b.get(pageURL), http.StatusOK)
}

// wantSentToSignIn checks the browser is sent to sign in at pageURL, and
// ends on the sign-in form.
func wantSentToSignIn(t *testing.T, b *browser, pageURL string) {
	t.Helper()
	r := b.get(pageURL)
	wantStatus(t, r, http.StatusSeeOther)
	if page := b.follow(r); !strings.Contains(page.body, `id="f-password"`) {
		t.Fatalf("%s: still signed in, ended on %s", pageURL, page.url)
	}
}

var endFormAction = regexp.MustCompile(`action="/account/sessions/(\d+)/end"`)

// twoBrowsers signs alice in twice: here on acme, then there on globex,
// each entering its company by hand-off from the base domain. It returns
// the browsers and the session id of there.
func twoBrowsers(t *testing.T, a *app) (here, there *browser, thereID int64) {
	t.Helper()
	here, there = a.browser(), a.browser()
	wantBody(t, here.signIn("alice@acme.test", "acme"), "Acme Corp")
	before := a.sessionsOf("alice@acme.test")
	wantBody(t, there.signIn("alice@acme.test", "globex"), "Globex")
	after := a.sessionsOf("alice@acme.test")
	if len(after) != len(before)+1 {
		t.Fatalf("a second sign-in made %d sessions, want 1 more than %d", len(after), len(before))
	}
	return here, there, after[0].ID // newest activity first: there's
}

func TestSessionsPageListsEveryBrowser(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	here, _, thereID := twoBrowsers(t, a)
	for _, page := range []string{base + "/account/sessions", tenantURL("acme", "/account/sessions")} {
		r := here.get(page)
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, "Sessions", "This browser", "Sign out everywhere else", "Signed in with password")
		if forms := endFormAction.FindAllStringSubmatch(r.body, -1); len(forms) != 2 {
			t.Fatalf("%s lists %d sessions, want 2", page, len(forms))
		}
		// This browser on the base domain and on acme is the same session:
		// only the other one is not marked.
		if strings.Count(r.body, "badge-this-browser") != 1 || !strings.Contains(r.body, "/account/sessions/"+strconv.FormatInt(thereID, 10)+"/end") {
			t.Fatalf("%s: this browser marked wrongly\n%s", page, excerpt(r.body))
		}
	}
	// One session alone reads well.
	solo := a.browser()
	solo.signIn("dave@acme.test", "acme")
	r := solo.get(tenantURL("acme", "/account/sessions"))
	wantBody(t, r, "This is the only browser signed in to your account.")
	if strings.Contains(r.body, "Sign out everywhere else") {
		t.Fatal("one session offers to sign out the others")
	}
}

// TestEndingASessionSignsThatBrowserOutEverywhere: alice, in one browser on
// acme, signs her other browser out; it is signed out on the base domain
// and on globex, which it entered by hand-off, and this one stays.
func TestEndingASessionSignsThatBrowserOutEverywhere(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	here, there, thereID := twoBrowsers(t, a)
	wantShownTo(t, there, tenantURL("globex", "/orders"))
	page := tenantURL("acme", "/account/sessions")
	r := here.submit(page, tenantURL("acme", "/account/sessions/"+strconv.FormatInt(thereID, 10)+"/end"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, here.follow(r), "That browser has been signed out.")
	wantSentToSignIn(t, there, tenantURL("globex", "/orders"))
	wantSentToSignIn(t, there, base+"/")
	wantShownTo(t, here, tenantURL("acme", "/orders"))
	if r := here.get(base + "/"); r.status != http.StatusSeeOther || strings.Contains(r.location, "/login") {
		t.Fatalf("this browser on the base domain: %d to %q, want its company", r.status, r.location)
	}
	if n := len(a.sessionsOf("alice@acme.test")); n != 1 {
		t.Fatalf("%d sessions left, want this one", n)
	}
	// Ending it again, or someone else's, is not found and changes nothing.
	dave := a.newSession(a.user("dave@acme.test"))
	for _, id := range []int64{thereID, dave, 0} {
		r := here.submit(page, tenantURL("acme", "/account/sessions/"+strconv.FormatInt(id, 10)+"/end"), nil)
		wantStatus(t, r, http.StatusNotFound)
	}
	wantStatus(t, here.submit(page, tenantURL("acme", "/account/sessions/x/end"), nil), http.StatusNotFound)
	if n := len(a.sessionsOf("dave@acme.test")); n != 1 {
		t.Fatalf("dave has %d sessions, want his one untouched", n)
	}
}

func TestEndingThisSessionFromTheListSignsOutHere(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	here, there, thereID := twoBrowsers(t, a)
	var hereID int64
	for _, s := range a.sessionsOf("alice@acme.test") {
		if s.ID != thereID {
			hereID = s.ID
		}
	}
	r := here.submit(base+"/account/sessions", base+"/account/sessions/"+strconv.FormatInt(hereID, 10)+"/end", nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, here.follow(r), "You have been signed out.")
	wantSentToSignIn(t, here, tenantURL("acme", "/orders"))
	wantShownTo(t, there, tenantURL("globex", "/orders"))
}

func TestSignOutEverywhereElse(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	here, there, _ := twoBrowsers(t, a)
	third := a.browser()
	third.signIn("alice@acme.test", "")
	page := tenantURL("acme", "/account/sessions")
	r := here.submit(page, tenantURL("acme", "/account/sessions/end-others"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, here.follow(r), "Every other browser has been signed out.", "This is the only browser signed in")
	wantSentToSignIn(t, there, tenantURL("globex", "/orders"))
	wantSentToSignIn(t, third, base+"/")
	wantShownTo(t, here, tenantURL("acme", "/orders"))
	wantBody(t, here.follow(here.submit(page, tenantURL("acme", "/account/sessions/end-others"), nil)), "No other browser was signed in.")
}

// TestSignOutEndsOnlyThisBrowser: signing out on one company's address
// signs this browser out of every address it entered, and no other browser.
func TestSignOutEndsOnlyThisBrowser(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	here, there, _ := twoBrowsers(t, a)
	wantStatus(t, here.follow(here.get(tenantURL("globex", "/orders"))), http.StatusOK) // entered by hand-off, same session
	stolen := here.client.Jar.Cookies(mustParse(t, tenantURL("acme", "/")))
	r := here.submit(tenantURL("acme", "/"), tenantURL("acme", "/logout"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, here.follow(r), "You have been signed out.")
	for _, page := range []string{tenantURL("acme", "/orders"), tenantURL("globex", "/orders"), base + "/"} {
		wantSentToSignIn(t, here, page)
	}
	wantShownTo(t, there, tenantURL("globex", "/orders"))
	wantShownTo(t, there, tenantURL("globex", "/account/sessions"))
	// The cookie this browser had, replayed after sign-out (copied before
	// it was replaced), names an ended session: no session at all.
	replay := a.browser()
	replay.client.Jar.SetCookies(mustParse(t, tenantURL("acme", "/")), stolen)
	wantSentToSignIn(t, replay, tenantURL("acme", "/orders"))
}

// TestChangingPasswordKeepsThisBrowserEverywhere: the browser that changed
// the password stays signed in on every address it entered; the other
// browser's session is gone (TestChangePasswordEndsEverySession shows it
// signed out).
func TestChangingPasswordKeepsThisBrowserEverywhere(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	here, there, _ := twoBrowsers(t, a)
	wantStatus(t, here.follow(here.get(tenantURL("globex", "/orders"))), http.StatusOK)
	r := here.changePassword(tenantURL("acme", ""), demo.Password, newPassword, newPassword)
	wantStatus(t, r, http.StatusSeeOther)
	for _, page := range []string{tenantURL("acme", "/orders"), tenantURL("globex", "/orders"), base + "/account/sessions"} {
		wantShownTo(t, here, page)
	}
	wantSentToSignIn(t, there, tenantURL("globex", "/orders"))
	if list := a.sessionsOf("alice@acme.test"); len(list) != 1 || list[0].SessionVersion != a.user("alice@acme.test").SessionVersion {
		t.Fatalf("sessions after the change: %+v", list)
	}
}

// TestSessionExpiresWhenIdle: a session unused for its lifetime is no
// session; one in use notes its activity at most every few minutes.
func TestSessionExpiresWhenIdle(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	first := a.sessionsOf("alice@acme.test")[0]
	a.clock.advance(time.Minute)
	wantShownTo(t, b, tenantURL("acme", "/orders"))
	if got := a.sessionsOf("alice@acme.test")[0]; !got.LastSeenAt.Equal(first.LastSeenAt) {
		t.Fatalf("activity written after a minute: %v → %v", first.LastSeenAt, got.LastSeenAt)
	}
	a.clock.advance(models.SessionSeenResolution)
	wantShownTo(t, b, tenantURL("acme", "/orders"))
	seen := a.sessionsOf("alice@acme.test")[0].LastSeenAt
	if !seen.After(first.LastSeenAt.Add(models.SessionSeenResolution)) {
		t.Fatalf("activity not written after %v: %v → %v", models.SessionSeenResolution, first.LastSeenAt, seen)
	}
	a.clock.advance(models.SessionIdleLifetime - time.Minute)
	wantShownTo(t, b, tenantURL("acme", "/orders")) // used within its lifetime: still on
	a.clock.advance(models.SessionIdleLifetime + time.Minute)
	wantSentToSignIn(t, b, tenantURL("acme", "/orders"))
}

// TestSessionsPageNeedsSignIn: anonymous visitors are sent to sign in, and
// the forms need their CSRF token.
func TestSessionsFormsNeedTheirToken(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	here, there, thereID := twoBrowsers(t, a)
	for _, action := range []string{"/account/sessions/end-others", "/account/sessions/" + strconv.FormatInt(thereID, 10) + "/end"} {
		wantStatus(t, here.post(tenantURL("acme", action), url.Values{}), http.StatusForbidden)
	}
	wantShownTo(t, there, tenantURL("globex", "/orders"))
}
