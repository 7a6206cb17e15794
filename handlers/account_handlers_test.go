package handlers_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"canopy/internal/demo"
)

const newPassword = "a-brand-new-secret"

// changePassword fills in the Change password page at host as a person would.
func (b *browser) changePassword(host, current, next, confirm string) response {
	b.app.t.Helper()
	return b.submit(host+"/account/password", host+"/account/password", url.Values{
		"current_password": {current}, "new_password": {next}, "confirm_password": {confirm},
	})
}

// signInWith tries a password on the sign-in page and returns where it ends.
func (b *browser) signInWith(email, password string) response {
	b.app.t.Helper()
	return b.follow(b.submit(base+"/login", base+"/login", url.Values{"email": {email}, "password": {password}}))
}

func TestUserMenuLinksToChangePassword(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	home := b.signIn("dave@acme.test", "acme") // a Viewer
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, `href="/account/password"`, "Change password")
	page := b.follow(b.get(tenantURL("acme", "/account/password")))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Change password", "dave@acme.test", `autocomplete="current-password"`, `autocomplete="new-password"`, `name="_csrf"`)
}

// TestChangePasswordEndsEverySession: alice changes her password in one
// browser on acme; her other browser, signed in on acme, on globex and on
// the base domain, is signed out everywhere on its next request, and the
// browser she used stays signed in.
func TestChangePasswordEndsEverySession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme, globex := tenantURL("acme", ""), tenantURL("globex", "")
	here := a.browser()
	here.signIn("alice@acme.test", "acme")
	other := a.browser() // alice on another device
	other.signIn("alice@acme.test", "acme")
	wantStatus(t, other.follow(other.get(globex+"/")), http.StatusOK)
	staleToken := other.csrf(acme + "/settings/company")
	before, hashBefore := a.user("alice@acme.test"), a.passwordHash("alice@acme.test")

	r := here.changePassword(acme, demo.Password, newPassword, newPassword)
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/account/password" {
		t.Fatalf("redirected to %q, want back to the page", r.location)
	}
	done := here.follow(r)
	wantStatus(t, done, http.StatusOK)
	wantBody(t, done, "Your password has been changed.")
	if after, hashAfter := a.user("alice@acme.test"), a.passwordHash("alice@acme.test"); after.SessionVersion != before.SessionVersion+1 || hashAfter == hashBefore {
		t.Fatalf("session version %d → %d, hash changed %v", before.SessionVersion, after.SessionVersion, hashAfter != hashBefore)
	}
	// This browser keeps working here, forms included.
	wantStatus(t, here.get(acme+"/orders"), http.StatusOK)
	wantStatus(t, here.submit(acme+"/settings/company", acme+"/settings/company", url.Values{"timezone": {"Europe/Paris"}}), http.StatusSeeOther)

	// The other browser: signed out on a company host...
	r = other.get(acme + "/orders")
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.Contains(r.location, "/auth/handoff/begin") {
		t.Fatalf("acme sent the old session to %q, want signing in", r.location)
	}
	wantStatus(t, other.get(globex+"/settings/team"), http.StatusSeeOther)
	// ...its open forms refused...
	wantStatus(t, other.post(acme+"/settings/company", url.Values{"timezone": {"Asia/Tokyo"}, "_csrf": {staleToken}}), http.StatusForbidden)
	if tz := a.tenant("acme").Timezone; tz != "Europe/Paris" {
		t.Fatalf("acme's timezone is %s: the ended session changed it", tz)
	}
	// ...and on the base domain, where it is asked for the password again.
	wantStatus(t, other.get(base+"/"), http.StatusSeeOther)
	login := other.follow(other.get(base + "/"))
	wantBody(t, login, `id="f-password"`)
	if !strings.HasPrefix(login.url, base+"/login") {
		t.Fatalf("the base domain sent the old session to %s, want the sign-in page", login.url)
	}

	// The old password no longer works; the new one does.
	refused := a.browser().signInWith("alice@acme.test", demo.Password)
	wantStatus(t, refused, http.StatusUnauthorized)
	wantBody(t, refused, "The email or password is not correct.")
	landed := a.browser().signInWith("alice@acme.test", newPassword)
	wantStatus(t, landed, http.StatusOK)
	wantBody(t, landed, "Welcome back, Alice")
}

// TestChangePasswordOnTheBaseDomain: the page also exists where there is no
// company (a person without an active one can still reach it), and ends
// the other browsers' sessions the same way.
func TestChangePasswordOnTheBaseDomain(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	other := a.browser()
	other.signIn("dave@acme.test", "acme")

	page := b.get(base + "/account/password")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Change password", "dave@acme.test", "My companies")
	wantStatus(t, b.changePassword(base, demo.Password, newPassword, newPassword), http.StatusSeeOther)
	wantBody(t, b.get(base+"/account/password"), "Your password has been changed.")

	wantStatus(t, other.get(tenantURL("acme", "/orders")), http.StatusSeeOther)
	// The browser that changed it keeps its session everywhere it was:
	// still signed in on acme, which it entered before the change.
	home := b.get(tenantURL("acme", "/"))
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "Acme Corp", "Dave")
}

func TestChangePasswordFormErrors(t *testing.T) {
	t.Parallel()
	acme := tenantURL("acme", "")
	cases := []struct {
		name                    string
		current, next, confirm  string
		field, message, another string
	}{
		{"wrong current password", "not-the-password", newPassword, newPassword, "current_password", "The current password is not correct.", ""},
		{"no current password", "", newPassword, newPassword, "current_password", "Enter your current password.", ""},
		{"too short", demo.Password, "short", "short", "new_password", "Use at least 10 characters.", ""},
		{"same as before", demo.Password, demo.Password, demo.Password, "new_password", "Choose a password different from your current one.", ""},
		{"mismatch", demo.Password, newPassword, newPassword + "!", "confirm_password", "The two passwords do not match.", ""},
		{"wrong current and too short", "not-the-password", "short", "short", "current_password", "The current password is not correct.", "Use at least 10 characters."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := newApp(t) // its own sign-in budget: every case signs bob in twice
			b := a.browser()
			b.signIn("bob@globex.test", "acme")
			other := a.browser()
			other.signIn("bob@globex.test", "acme")
			before, hashBefore := a.user("bob@globex.test"), a.passwordHash("bob@globex.test")
			r := b.changePassword(acme, c.current, c.next, c.confirm)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			// The message sits beside its field, tied to it for screen readers.
			wantBody(t, r, `id="f-`+c.field+`-error">`+c.message, `aria-describedby="f-`+c.field+`-error"`, c.another)
			if strings.Contains(r.body, c.current) && c.current != "" || strings.Contains(r.body, `value="`+c.next+`"`) {
				t.Fatal("a password was sent back in the page")
			}
			after := a.user("bob@globex.test")
			if a.passwordHash("bob@globex.test") != hashBefore || after.SessionVersion != before.SessionVersion {
				t.Fatal("a refused change changed the password or ended sessions")
			}
			wantStatus(t, other.get(acme+"/orders"), http.StatusOK)
			wantStatus(t, b.get(acme+"/orders"), http.StatusOK)
		})
	}
}

func TestChangePasswordNeedsCSRFToken(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := tenantURL("acme", "")
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	before, hashBefore := a.user("alice@acme.test"), a.passwordHash("alice@acme.test")
	form := url.Values{"current_password": {demo.Password}, "new_password": {newPassword}, "confirm_password": {newPassword}}
	r := b.post(acme+"/account/password", form)
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "This form has expired")
	// A token of the same person's session on another host is no better.
	b.follow(b.get(tenantURL("globex", "/")))
	form.Set("_csrf", b.csrf(tenantURL("globex", "/account/password")))
	wantStatus(t, b.post(acme+"/account/password", form), http.StatusForbidden)
	if after := a.user("alice@acme.test"); a.passwordHash("alice@acme.test") != hashBefore || after.SessionVersion != before.SessionVersion {
		t.Fatal("a refused change changed the password or ended sessions")
	}
	// Nobody signed in: refused before any password is looked at.
	anon := a.browser()
	wantStatus(t, anon.submit(base+"/login", base+"/account/password", form), http.StatusUnauthorized)
	wantStatus(t, anon.get(acme+"/account/password"), http.StatusSeeOther)
}

// TestChangePasswordIsRateLimited: the form cannot be used to guess the
// current password; it has its own budget, per person.
func TestChangePasswordIsRateLimited(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("carol@initech.test", "initech")
	initech := tenantURL("initech", "")
	limited := false
	for i := 0; i < 30 && !limited; i++ {
		r := b.changePassword(initech, "guess-"+strconv.Itoa(i), newPassword, newPassword)
		limited = r.status == http.StatusTooManyRequests
	}
	if !limited {
		t.Fatal("30 wrong current passwords in a row were never limited")
	}
	r := b.changePassword(initech, demo.Password, newPassword, newPassword)
	wantStatus(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Too many attempts")
	if _, err := a.store.Authenticate(t.Context(), "carol@initech.test", demo.Password); err != nil {
		t.Fatalf("the password changed while limited: %v", err)
	}
}

// TestChangePasswordUnderAttack: an attacker sending wrong passwords for
// carol's email locks her account for unknown browsers; signed in, she can
// still change her password with her current one.
func TestChangePasswordUnderAttack(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("carol@initech.test", "initech")
	a.lockOut("carol@initech.test")
	wantRetryAfter(t, a.browser().signInWith("carol@initech.test", demo.Password))
	wantStatus(t, b.changePassword(tenantURL("initech", ""), demo.Password, newPassword, newPassword), http.StatusSeeOther)
	if _, err := a.store.Authenticate(t.Context(), "carol@initech.test", newPassword); err != nil {
		t.Fatalf("the password did not change: %v", err)
	}
}

// TestRoleChangeRenewsSession: bob's role at acme is lowered by alice; the
// form bob had open under his old role cannot be submitted, though his new
// role would allow the action; a page he opens afterwards works.
func TestRoleChangeRenewsSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := tenantURL("acme", "")
	alice, bob := a.browser(), a.browser()
	alice.signIn("alice@acme.test", "acme")
	bob.signIn("bob@globex.test", "acme")
	wantStatus(t, bob.follow(bob.get(acme+"/")), http.StatusOK)
	oldToken := bob.csrf(acme + "/devices/new") // Add device, open as an Admin
	bobID := strconv.FormatInt(a.membershipID("bob@globex.test", "acme"), 10)

	r := alice.submit(acme+"/settings/team/members/"+bobID+"/edit", acme+"/settings/team/members/"+bobID+"/edit", url.Values{"role": {"editor"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, alice.follow(r), "Bob Brown is an Editor")

	// An Editor may add devices, but not with a form from before the change.
	r = bob.post(acme+"/devices", url.Values{"identifier": {"ROLE-1"}, "model": {"M"}, "status": {"active"}, "_csrf": {oldToken}})
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "This form has expired")
	if a.hasDevice("acme", "ROLE-1") {
		t.Fatal("the form from before the role change was accepted")
	}
	// Still signed in, now as an Editor: a fresh page works.
	page := bob.get(acme + "/devices/new")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Editor")
	newToken := csrfField.FindStringSubmatch(page.body)[1]
	if newToken == oldToken {
		t.Fatal("the session kept its CSRF token across the role change")
	}
	wantStatus(t, bob.post(acme+"/devices", url.Values{"identifier": {"ROLE-2"}, "model": {"M"}, "status": {"active"}, "_csrf": {newToken}}), http.StatusSeeOther)
	if !a.hasDevice("acme", "ROLE-2") {
		t.Fatal("the fresh form did not add the device")
	}
	// Renewed once: the token now stays until the role changes again.
	wantStatus(t, bob.submit(acme+"/devices/new", acme+"/devices", url.Values{"identifier": {"ROLE-3"}, "model": {"M"}, "status": {"active"}}), http.StatusSeeOther)
	// Bob's session on another host is his own business there: globex
	// (which he owns) saw no change and keeps its token.
	globexToken := bob.csrf(tenantURL("globex", "/"))
	wantStatus(t, bob.get(tenantURL("globex", "/settings/team")), http.StatusOK)
	if bob.csrf(tenantURL("globex", "/")) != globexToken {
		t.Fatal("a role change at acme renewed the session at globex")
	}

	// Removed: the open form is refused too, and he is told he has no access.
	staleToken := bob.csrf(acme + "/devices/new")
	wantStatus(t, alice.submit(acme+"/settings/team", acme+"/settings/team/members/"+bobID+"/remove", nil), http.StatusSeeOther)
	r = bob.post(acme+"/devices", url.Values{"identifier": {"ROLE-4"}, "model": {"M"}, "status": {"active"}, "_csrf": {staleToken}})
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "This form has expired")
	r = bob.get(acme + "/devices")
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "You don&#39;t have access to Acme Corp")
}

// TestRoleChangeKeepsFlashMessages: a renewal does not swallow the message
// a person was about to see.
func TestRoleChangeKeepsFlashMessages(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := tenantURL("acme", "")
	alice, bob := a.browser(), a.browser()
	alice.signIn("alice@acme.test", "acme")
	bob.signIn("bob@globex.test", "acme")
	// Bob adds a device; before his browser shows the next page, alice
	// lowers him to Editor.
	r := bob.submit(acme+"/devices/new", acme+"/devices", url.Values{"identifier": {"FLASH-1"}, "model": {"M"}, "status": {"active"}})
	wantStatus(t, r, http.StatusSeeOther)
	bobID := strconv.FormatInt(a.membershipID("bob@globex.test", "acme"), 10)
	wantStatus(t, alice.submit(acme+"/settings/team", acme+"/settings/team/members/"+bobID+"/edit", url.Values{"role": {"editor"}}), http.StatusSeeOther)
	page := bob.follow(r)
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "FLASH-1", `class="flash flash-success"`)
}

// TestThemeCookieChoosesTheScheme: the theme chosen in the Account menu
// (a cookie, set by app.js) is on <html> as the page arrives, on the company's
// pages and on the sign-in page; the menu shows it chosen and names the base
// domain for the cookie. Anything but light or dark is the system's.
func TestThemeCookieChoosesTheScheme(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("alice@acme.test", "acme")
	withTheme := func(rawURL, value string) response {
		t.Helper()
		return b.withCookie(rawURL, "canopy_theme", value)
	}

	dark := withTheme(tenantURL("acme", "/"), "dark")
	wantStatus(t, dark, http.StatusOK)
	wantBody(t, dark, `<html lang="en" data-theme="dark">`, `<meta name="color-scheme" content="dark">`,
		`data-cookie="canopy_theme" data-cookie-domain="localhost"`, `<input type="radio" name="theme" value="dark" checked>`)
	wantNoBody(t, dark, `value="system" checked`)

	light := a.browser().withCookie(base+"/login", "canopy_theme", "light")
	wantStatus(t, light, http.StatusOK)
	wantBody(t, light, `<html lang="en" data-theme="light">`, `<meta name="color-scheme" content="light">`)
	// Pages that name no company, like an inactive company's, too.
	inactive := withTheme(tenantURL("acme-lab", "/"), "dark")
	wantStatus(t, inactive, http.StatusForbidden)
	wantBody(t, inactive, `<html lang="en" data-theme="dark">`, "Acme Lab is inactive")

	for _, value := range []string{"", "sepia", `dark"><script>`} {
		system := withTheme(tenantURL("acme", "/orders"), value)
		wantBody(t, system, `<html lang="en">`, `<meta name="color-scheme" content="light dark">`, `value="system" checked`)
		wantNoBody(t, system, "data-theme=", "<script>alert")
	}
}

// withCookie gets a page sending one more cookie (none when value is empty).
func (b *browser) withCookie(rawURL, name, value string) response {
	b.app.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, rawURL, nil)
	if value != "" {
		req.AddCookie(&http.Cookie{Name: name, Value: value})
	}
	return b.do(req)
}
