package handlers_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"canopy/internal/demo"
)

var (
	setupKeyOnPage = regexp.MustCompile(`id="totp-secret">([a-z2-7 ]+)</code>`)
	recoveryCodes  = regexp.MustCompile(`<li><code>([0-9a-z]{5}-[0-9a-z]{5})</code></li>`)
)

// totpCode is what the authenticator app shows at at for the setup key.
func totpCode(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	code, err := totp.GenerateCode(secret, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// turnOnTOTP sets up an authenticator app on the browser's host, as a
// person does: the setup key read from the page, the code computed from
// it. It returns the key and the recovery codes shown once.
func (b *browser) turnOnTOTP(host string) (secret string, codes []string) {
	t := b.app.t
	t.Helper()
	page := b.follow(b.get(host + "/account/two-factor/setup"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, `src="data:image/png;base64,`, `autocomplete="one-time-code"`, `inputmode="numeric"`)
	m := setupKeyOnPage.FindStringSubmatch(page.body)
	if m == nil {
		t.Fatalf("no setup key on the page\n%s", excerpt(page.body))
	}
	secret = strings.ToUpper(strings.ReplaceAll(m[1], " ", ""))
	r := b.submit(host+"/account/two-factor/setup", host+"/account/two-factor/setup", url.Values{"code": {totpCode(t, secret, time.Now())}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Two-factor sign-in is on", "I have saved them", `download="canopy-recovery-codes.txt"`)
	for _, m := range recoveryCodes.FindAllStringSubmatch(r.body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown, want 10", len(codes))
	}
	return secret, codes
}

// signInPassword signs in with dave's password to acme and returns where
// the sign-in sends the browser (not followed).
func (b *browser) signInPassword(email string) response {
	b.app.t.Helper()
	return b.submit(base+"/login?tenant=acme", base+"/login", url.Values{"email": {email}, "password": {demo.Password}, "tenant": {"acme"}})
}

func (b *browser) secondFactor(form url.Values) response {
	b.app.t.Helper()
	return b.submit(base+"/login/two-factor", base+"/login/two-factor", form)
}

func (b *browser) signOut(host string) {
	b.app.t.Helper()
	wantStatus(b.app.t, b.submit(host+"/", host+"/logout", nil), http.StatusSeeOther)
}

// mailed is the subjects of the mail queued to email.
func (a *app) mailed(email string) []string {
	var subjects []string
	a.db.Raw("SELECT subject FROM outbox_emails WHERE to_address = ? ORDER BY id", email).Scan(&subjects)
	return subjects
}

// TestTwoFactorSetup: setting up needs a recent confirmation; a wrong
// code is refused beside the field; the right one turns the app on,
// shows ten recovery codes once, is recorded and mailed, and the page
// then says so.
func TestTwoFactorSetup(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	wantBody(t, b.follow(b.get(acme+"/account/two-factor")), "Authenticator app", "Off", `href="/account/passkeys"`)

	// Signed in long ago: asked to confirm first, then back to the setup.
	a.clock.advance(11 * time.Minute)
	r := b.get(acme + "/account/two-factor/setup")
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/account/confirm?next=%2Faccount%2Ftwo-factor%2Fsetup" {
		t.Fatalf("setup without a recent confirmation went to %q", r.location)
	}
	r = b.submit(acme+r.location, acme+"/account/confirm", url.Values{"password": {demo.Password}, "next": {"/account/two-factor/setup"}})
	if r.location != "/account/two-factor/setup" {
		t.Fatalf("confirmed, then sent to %q", r.location)
	}

	wrong := b.submit(acme+"/account/two-factor/setup", acme+"/account/two-factor/setup", url.Values{"code": {"000000"}})
	wantStatus(t, wrong, http.StatusUnprocessableEntity)
	wantBody(t, wrong, `id="f-code-error"`, "The code is not correct")
	if a.user("dave@acme.test").TwoFactorEnabled {
		t.Fatal("a wrong code turned two-factor on")
	}

	b.turnOnTOTP(acme)
	if !a.user("dave@acme.test").TwoFactorEnabled {
		t.Fatal("two-factor is not on after setting it up")
	}
	page := b.follow(b.get(acme + "/account/two-factor"))
	wantBody(t, page, "On", "10 of 10", "Turn off", "New recovery codes")
	if strings.Contains(page.body, "totp-secret") {
		t.Fatal("the setup key is shown again")
	}
	wantBody(t, b.follow(b.get(acme+"/account/activity")), "Authenticator app turned on")
	if got := a.mailed("dave@acme.test"); len(got) != 1 || got[0] != "Canopy: Authenticator app turned on" {
		t.Fatalf("mailed %q", got)
	}
	// The secret is stored sealed, never as the key shown.
	var sealed string
	a.db.Raw("SELECT secret_sealed FROM user_totp WHERE user_id = ?", a.user("dave@acme.test").ID).Scan(&sealed)
	if !strings.HasPrefix(sealed, "v1.") {
		t.Fatalf("secret stored as %q", sealed)
	}
}

// TestSignInAsksForTheCode: with an app, the password leads to the second
// step, not into the company; a wrong code and a code used before are
// refused; the right code completes the sign-in and enters acme.
func TestSignInAsksForTheCode(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	secret, _ := b.turnOnTOTP(acme)
	b.signOut(acme)

	r := b.signInPassword("dave@acme.test")
	wantStatus(t, r, http.StatusSeeOther)
	if r.location != "/login/two-factor" {
		t.Fatalf("password right, then sent to %q", r.location)
	}
	// Not signed in yet: acme still asks to sign in.
	if r := b.get(acme + "/orders"); r.status != http.StatusSeeOther || !strings.Contains(r.location, "/auth/handoff/begin") {
		t.Fatalf("before the code, acme answered %d %q", r.status, r.location)
	}
	page := b.get(base + "/login/two-factor")
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "dave@acme.test", `autocomplete="one-time-code"`, `inputmode="numeric"`, "Use a recovery code instead")

	wrong := b.secondFactor(url.Values{"code": {"123456"}})
	wantStatus(t, wrong, http.StatusUnauthorized)
	wantBody(t, wrong, `id="f-code-error"`, "The code is not correct")
	empty := b.secondFactor(url.Values{"code": {""}})
	wantStatus(t, empty, http.StatusUnprocessableEntity)

	// The setup used the present step: the next one's code (the phone a
	// little ahead) signs in.
	code := totpCode(t, secret, time.Now().Add(30*time.Second))
	home := b.follow(b.secondFactor(url.Values{"code": {code}}))
	wantStatus(t, home, http.StatusOK)
	if !strings.HasPrefix(home.url, acme) {
		t.Fatalf("signed in, ended on %s", home.url)
	}
	var audited string
	a.db.Raw("SELECT after FROM audit_events WHERE action = 'auth.signin' ORDER BY id DESC LIMIT 1").Scan(&audited)
	if !strings.Contains(audited, "password and authenticator app") {
		t.Fatalf("sign-in audited as %q", audited)
	}

	// The same code again, in a new sign-in: refused.
	b.signOut(acme)
	wantStatus(t, b.signInPassword("dave@acme.test"), http.StatusSeeOther)
	again := b.secondFactor(url.Values{"code": {code}})
	wantStatus(t, again, http.StatusUnauthorized)
	wantBody(t, again, "This code was already used")
}

// TestSecondFactorIsThrottled: after five wrong codes the person's counter
// refuses even the right one for a while, and says when to try again.
func TestSecondFactorIsThrottled(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	secret, _ := b.turnOnTOTP(acme)
	b.signOut(acme)
	wantStatus(t, b.signInPassword("dave@acme.test"), http.StatusSeeOther)
	for range 5 {
		wantStatus(t, b.secondFactor(url.Values{"code": {"000000"}}), http.StatusUnauthorized)
	}
	r := b.secondFactor(url.Values{"code": {totpCode(t, secret, time.Now().Add(30*time.Second))}})
	wantStatus(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Too many attempts. Try again in")
	if r.header.Get("Retry-After") == "" {
		t.Fatal("no Retry-After")
	}
	// A recovery code is counted on the same counter.
	wantStatus(t, b.secondFactor(url.Values{"method": {"recovery"}, "recovery_code": {"aaaaa-aaaaa"}}), http.StatusTooManyRequests)
}

// TestPendingSignInExpires: five minutes after the password, the second
// step sends the person back to sign in.
func TestPendingSignInExpires(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	secret, _ := b.turnOnTOTP(acme)
	b.signOut(acme)
	wantStatus(t, b.signInPassword("dave@acme.test"), http.StatusSeeOther)
	csrf := b.csrf(base + "/login/two-factor")
	a.clock.advance(5*time.Minute + time.Second)
	r := b.post(base+"/login/two-factor", url.Values{"_csrf": {csrf}, "code": {totpCode(t, secret, time.Now().Add(30*time.Second))}})
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.location, base+"/login?") || !strings.Contains(r.location, "tenant=acme") {
		t.Fatalf("an expired sign-in went to %q", r.location)
	}
	wantBody(t, b.follow(r), "Your sign-in timed out")
	if r := b.get(base + "/login/two-factor"); r.status != http.StatusSeeOther {
		t.Fatalf("the second step after expiry: %d", r.status)
	}
}

// TestRecoveryCodeSignsInOnce: a recovery code completes the sign-in
// once, says how many are left, is recorded and mailed; used again it is
// refused.
func TestRecoveryCodeSignsInOnce(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	_, codes := b.turnOnTOTP(acme)
	b.signOut(acme)

	wantStatus(t, b.signInPassword("dave@acme.test"), http.StatusSeeOther)
	wantBody(t, b.get(base+"/login/two-factor?recovery=1"), "Recovery code", "Use your authenticator app instead")
	// Typed in capitals, without its hyphen: the same code.
	typed := strings.ToUpper(strings.ReplaceAll(codes[2], "-", ""))
	r := b.secondFactor(url.Values{"method": {"recovery"}, "recovery_code": {typed}})
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Signed in with a recovery code", "9 recovery codes")
	next := regexp.MustCompile(`href="([^"]+)">Continue</a>`).FindStringSubmatch(r.body)
	if next == nil {
		t.Fatal("no Continue link")
	}
	home := b.follow(b.get(html.UnescapeString(next[1])))
	wantStatus(t, home, http.StatusOK)
	if !strings.HasPrefix(home.url, acme) {
		t.Fatalf("continued to %s", home.url)
	}
	if got := a.mailed("dave@acme.test"); len(got) != 2 || got[1] != "Canopy: Recovery code used to sign in" {
		t.Fatalf("mailed %q", got)
	}
	wantBody(t, b.follow(b.get(acme+"/account/two-factor")), "9 of 10")

	b.signOut(acme)
	wantStatus(t, b.signInPassword("dave@acme.test"), http.StatusSeeOther)
	again := b.secondFactor(url.Values{"method": {"recovery"}, "recovery_code": {codes[2]}})
	wantStatus(t, again, http.StatusUnauthorized)
	wantBody(t, again, "not correct, or was already used")
}

// TestTurnOffTwoFactor: turning the app off asks to confirm it is you
// after a while; then it is off, the recovery codes go, and the change is
// recorded and mailed.
func TestTurnOffTwoFactor(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	b.turnOnTOTP(acme)
	page := b.follow(b.get(acme + "/account/two-factor"))
	wantBody(t, page, `data-confirm="Turn off two-factor sign-in?`)

	a.clock.advance(11 * time.Minute)
	r := b.submit(acme+"/account/two-factor", acme+"/account/two-factor/disable", nil)
	wantStatus(t, r, http.StatusSeeOther)
	if !strings.HasPrefix(r.location, "/account/confirm?") {
		t.Fatalf("turning off without a recent confirmation went to %q", r.location)
	}
	if !a.user("dave@acme.test").TwoFactorEnabled {
		t.Fatal("turned off without confirming")
	}
	b.submit(acme+r.location, acme+"/account/confirm", url.Values{"password": {demo.Password}, "next": {"/account/two-factor"}})
	r = b.submit(acme+"/account/two-factor", acme+"/account/two-factor/disable", nil)
	if r.status != http.StatusSeeOther || r.location != "/account/two-factor" {
		t.Fatalf("turn off: %d %q", r.status, r.location)
	}
	wantBody(t, b.follow(r), "The authenticator app is off.", "Off")
	if a.user("dave@acme.test").TwoFactorEnabled {
		t.Fatal("still on")
	}
	var codes int
	a.db.Raw("SELECT count(*) FROM user_recovery_codes WHERE user_id = ?", a.user("dave@acme.test").ID).Scan(&codes)
	if codes != 0 {
		t.Fatalf("%d recovery codes left after turning off", codes)
	}
	if got := a.mailed("dave@acme.test"); len(got) != 2 || got[1] != "Canopy: Authenticator app turned off" {
		t.Fatalf("mailed %q", got)
	}
	// Signing in again asks for the password alone.
	b.signOut(acme)
	home := b.follow(b.signInPassword("dave@acme.test"))
	if !strings.HasPrefix(home.url, acme) {
		t.Fatalf("signed in without two-factor, ended on %s", home.url)
	}
}

// TestNewRecoveryCodesReplaceTheOld: new codes are shown once, the old
// ones stop working, and the change is mailed.
func TestNewRecoveryCodesReplaceTheOld(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	b.signIn("dave@acme.test", "acme")
	acme := tenantURL("acme", "")
	_, old := b.turnOnTOTP(acme)
	r := b.submit(acme+"/account/two-factor", acme+"/account/two-factor/recovery-codes", nil)
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, "Your new recovery codes")
	fresh := recoveryCodes.FindAllStringSubmatch(r.body, -1)
	if len(fresh) != 10 || fresh[0][1] == old[0] {
		t.Fatalf("new codes: %v", fresh)
	}
	if got := a.mailed("dave@acme.test"); len(got) != 2 || got[1] != "Canopy: New recovery codes made" {
		t.Fatalf("mailed %q", got)
	}
	b.signOut(acme)
	wantStatus(t, b.signInPassword("dave@acme.test"), http.StatusSeeOther)
	wantStatus(t, b.secondFactor(url.Values{"method": {"recovery"}, "recovery_code": {old[0]}}), http.StatusUnauthorized)
	wantStatus(t, b.secondFactor(url.Values{"method": {"recovery"}, "recovery_code": {fresh[0][1]}}), http.StatusOK)
}

// TestCompanyRequiresTwoFactor: acme's owner requires two-factor sign-in
// (audited); dave, a Viewer without it, is sent to set it up from every
// page and refused any other change; once set up he goes where he likes.
// The Team page shows who has it to Admins only, filtered on request,
// and the Company settings count who has not.
func TestCompanyRequiresTwoFactor(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acme := tenantURL("acme", "")
	owner := a.browser()
	owner.signIn("alice@acme.test", "acme")
	settings := owner.follow(owner.get(acme + "/settings/company"))
	wantBody(t, settings, "Require two-factor sign-in for members", "3 members have not set up two-factor sign-in", `href="/settings/team?twofactor=off"`)
	r := owner.submit(acme+"/settings/company", acme+"/settings/company/two-factor", url.Values{"require_two_factor": {"on"}})
	wantStatus(t, r, http.StatusSeeOther)
	if !a.tenant("acme").RequireTwoFactor {
		t.Fatal("the rule was not saved")
	}
	var audited []string
	a.db.Raw("SELECT after FROM audit_events WHERE tenant_id = ? AND action = 'settings.saved'", a.tenant("acme").ID).Scan(&audited)
	if len(audited) != 1 || !strings.Contains(audited[0], `"require_two_factor":true`) {
		t.Fatalf("audited %q", audited)
	}
	// The owner has no second factor either: asked like everyone.
	wantStatus(t, owner.get(acme+"/orders"), http.StatusSeeOther)

	dave := a.browser()
	landing := dave.signIn("dave@acme.test", "acme")
	if !strings.HasSuffix(landing.url, "/account/two-factor?required=1") {
		t.Fatalf("dave landed on %s", landing.url)
	}
	wantBody(t, landing, "Acme Corp requires two-factor sign-in.", "Set it up to continue.")
	if r := dave.get(acme + "/orders"); r.status != http.StatusSeeOther || r.location != "/account/two-factor?required=1" {
		t.Fatalf("orders: %d %q", r.status, r.location)
	}
	refused := dave.submit(acme+"/account/two-factor", acme+"/orders", url.Values{"template_id": {"1"}})
	wantStatus(t, refused, http.StatusForbidden)
	wantBody(t, refused, "Acme Corp requires two-factor sign-in. Set it up to continue.")
	// His own account's pages stay open (the base domain shows them anyway).
	for _, page := range []string{"/account/confirm?next=%2Faccount%2Ftwo-factor", "/account/profile", "/account/sessions", "/account/activity"} {
		wantStatus(t, dave.get(acme+page), http.StatusOK)
	}
	if r := dave.get(acme + "/companies"); r.status != http.StatusSeeOther || r.location != "/account/two-factor?required=1" {
		t.Fatalf("companies: %d %q", r.status, r.location)
	}

	dave.turnOnTOTP(acme)
	wantStatus(t, dave.get(acme+"/orders"), http.StatusOK)
	// Turning it off says where it will be asked for again.
	wantBody(t, dave.follow(dave.get(acme+"/account/two-factor")),
		"Acme Corp requires it: you will be asked to set it up again there before anything else.")
	if strings.Contains(dave.follow(dave.get(acme+"/account/two-factor")).body, "requires two-factor") {
		t.Fatal("still told to set it up")
	}

	// The Team page: Admins see the column and may filter; Viewers neither.
	team := dave.get(acme + "/settings/team?twofactor=off")
	wantStatus(t, team, http.StatusOK)
	if strings.Contains(team.body, ">Two-factor<") {
		t.Fatal("a Viewer sees the two-factor column")
	}
	admin := a.browser()
	admin.signIn("bob@globex.test", "acme")
	wantStatus(t, admin.get(acme+"/settings/team"), http.StatusSeeOther) // bob has none either
	admin.turnOnTOTP(acme)
	all := admin.get(acme + "/settings/team")
	wantStatus(t, all, http.StatusOK)
	wantBody(t, all, "<th scope=\"col\">Two-factor</th>", "On", "Off")
	off := admin.get(acme + "/settings/team?twofactor=off")
	wantBody(t, off, "alice@acme.test", "Members who have not set up two-factor sign-in")
	if strings.Contains(off.body, "dave@acme.test") {
		t.Fatal("the filter lists members who have two-factor")
	}
	wantBody(t, admin.get(acme+"/settings/company"), "1 member has not set up two-factor sign-in")
}
