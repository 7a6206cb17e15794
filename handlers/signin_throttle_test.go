package handlers_test

import (
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/internal/devicecookie"
)

// tryPassword posts the sign-in form once with a form token the browser
// already has, from the given client address when the app trusts the test's
// proxy (otherwise the header is ignored), and does not follow the answer.
func (b *browser) tryPassword(token, email, password, from string) response {
	b.app.t.Helper()
	form := url.Values{"email": {email}, "password": {password}, "_csrf": {token}}
	req, _ := http.NewRequest(http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if from != "" {
		req.Header.Set("X-Forwarded-For", from)
	}
	return b.do(req)
}

// deviceCookie is the device cookie the browser holds for the base domain.
func (b *browser) deviceCookie() *http.Cookie {
	b.app.t.Helper()
	for _, c := range b.client.Jar.Cookies(mustParse(b.app.t, base)) {
		if c.Name == "canopy_device" {
			return c
		}
	}
	b.app.t.Fatal("the browser has no device cookie")
	return nil
}

// browserWithDevice is a browser holding nothing but a device cookie: the
// browser a person signed in with before, after signing out.
func (a *app) browserWithDevice(value string) *browser {
	b := a.browser()
	b.plant(base, &http.Cookie{Name: "canopy_device", Value: value})
	return b
}

// wantRetryAfter checks a refusal for too many attempts and returns the
// seconds it asks to wait.
func wantRetryAfter(t *testing.T, r response) int {
	t.Helper()
	wantStatus(t, r, http.StatusTooManyRequests)
	wantBody(t, r, "Too many sign-in attempts. Try again in ")
	seconds, err := strconv.Atoi(r.header.Get("Retry-After"))
	if err != nil || seconds <= 0 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	return seconds
}

// lockOut sends wrong passwords for email from a browser of its own until
// unknown browsers are refused, and returns how many were checked.
func (a *app) lockOut(email string) int {
	a.t.Helper()
	attacker := a.browser()
	token := attacker.csrf(base + "/login")
	for i := range 50 {
		r := attacker.tryPassword(token, email, "guess-"+strconv.Itoa(i), "")
		if r.status == http.StatusTooManyRequests {
			return i
		}
		wantStatus(a.t, r, http.StatusUnauthorized)
	}
	a.t.Fatalf("50 wrong passwords for %s were never refused", email)
	return 0
}

// TestAttackerCannotLockOutAKnownBrowser: an attacker (here even at the
// same address) sending hundreds of wrong passwords for the owner's email
// is slowed down at once, and refuses her unknown browsers too, but the
// browser she signed in with before still signs her in.
func TestAttackerCannotLockOutAKnownBrowser(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	owner := a.browser()
	wantStatus(t, owner.signIn("alice@acme.test", "acme"), http.StatusOK)
	wantStatus(t, owner.submit(tenantURL("acme", "/"), tenantURL("acme", "/logout"), nil), http.StatusSeeOther)

	attacker := a.browser()
	token := attacker.csrf(base + "/login")
	checked := 0
	for i := range 300 {
		r := attacker.tryPassword(token, "alice@acme.test", "guess-"+strconv.Itoa(i), "")
		switch r.status {
		case http.StatusUnauthorized:
			checked++
		case http.StatusTooManyRequests:
			wantRetryAfter(t, r)
		default:
			t.Fatalf("attempt %d: status %d", i, r.status)
		}
	}
	if checked > 10 {
		t.Fatalf("%d of 300 wrong passwords were checked; the attacker was not slowed down", checked)
	}
	// Her right password from a browser she never used is held up too...
	wantRetryAfter(t, a.browser().signInWith("alice@acme.test", demo.Password))
	// ...but the browser she signed in with before signs her straight in.
	home := owner.signIn("alice@acme.test", "acme")
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "Acme Corp")
}

// TestAttackersDelayGrows: past the free attempts, each failure doubles
// the wait, which the page states; waiting it out allows one more try.
func TestAttackersDelayGrows(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	attacker := a.browser()
	token := attacker.csrf(base + "/login")
	a.lockOut("alice@acme.test")
	steps := []struct {
		seconds int
		words   string
	}{{30, "30 seconds"}, {60, "1 minute"}, {120, "2 minutes"}, {240, "4 minutes"}}
	for _, step := range steps {
		r := attacker.tryPassword(token, "alice@acme.test", "guess", "")
		if got := wantRetryAfter(t, r); got != step.seconds {
			t.Fatalf("Retry-After %d, want %d", got, step.seconds)
		}
		wantBody(t, r, "Try again in "+step.words+".")
		a.clock.advance(time.Duration(step.seconds-1) * time.Second)
		wantRetryAfter(t, attacker.tryPassword(token, "alice@acme.test", "guess", "")) // not yet
		a.clock.advance(time.Second)
		wantStatus(t, attacker.tryPassword(token, "alice@acme.test", "guess", ""), http.StatusUnauthorized)
	}
}

// TestEverySpellingOfAnEmailSharesItsCounter: whatever signs in to an
// account (other case, spaces, control characters) counts on
// that account's counter, so varying the spelling buys no more guesses;
// and odd input (a NUL byte, a very long email) is a wrong password.
func TestEverySpellingOfAnEmailSharesItsCounter(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.lockOut("alice@acme.test")
	b := a.browser()
	token := b.csrf(base + "/login")
	for _, spelling := range []string{"ALICE@acme.test", "  alice@acme.test ", "\talice@Acme.test", "alice@acme.test\x00"} {
		t.Run(strconv.Quote(spelling), func(t *testing.T) {
			if u, err := a.store.UserByEmail(t.Context(), spelling); err != nil || u.Email != "alice@acme.test" {
				t.Fatalf("%q does not name alice's account (%v)", spelling, err)
			}
			wantRetryAfter(t, b.tryPassword(token, spelling, "guess", ""))
		})
	}
	// Input no account has is a wrong password, never a server error.
	for _, email := range []string{"bob\x00@globex.test", strings.Repeat("é", 400) + "@globex.test"} {
		wantStatus(t, b.tryPassword(token, email, "guess", ""), http.StatusUnauthorized)
	}
}

// TestCountersListNoEmails: an account's counter is named by a keyed hash
// of its email, so reading the counters' table (say, by an injected query)
// does not tell which emails were tried.
func TestCountersListNoEmails(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.lockOut("alice@acme.test")
	wantStatus(t, a.browser().signInWith("nobody@example.test", "guess"), http.StatusUnauthorized)
	var subjects []string
	if err := a.serverDB.Raw("SELECT subject FROM signin_counters").Scan(&subjects).Error; err != nil {
		t.Fatal(err)
	}
	accounts := 0
	for _, subject := range subjects {
		if strings.Contains(subject, "@") || strings.Contains(subject, "alice") || strings.Contains(subject, "nobody") {
			t.Errorf("counter %q shows an email", subject)
		}
		if strings.HasPrefix(subject, "account:") {
			accounts++
		}
	}
	if accounts != 2 {
		t.Fatalf("%d account counters among %q, want one per email tried", accounts, subjects)
	}
}

// TestSuccessfulSignInsResetTheirCounters: a success clears the counter it
// was charged to, from an unknown browser as from a known one, and signing
// in many times from one address uses up nothing.
func TestSuccessfulSignInsResetTheirCounters(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	known := a.browser()
	wantStatus(t, known.signIn("bob@globex.test", "globex"), http.StatusOK)
	device := known.deviceCookie().Value
	cases := []struct {
		name     string
		email    string
		failures int // in a row before each success: one short of the limit
		browser  func() *browser
	}{
		{"unknown browser", "alice@acme.test", 4, a.browser},
		{"known browser", "bob@globex.test", 9, func() *browser { return a.browserWithDevice(device) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for round := range 3 {
				b := c.browser()
				token := b.csrf(base + "/login")
				for i := range c.failures {
					wantStatus(t, b.tryPassword(token, c.email, "guess-"+strconv.Itoa(i), ""), http.StatusUnauthorized)
				}
				if r := b.tryPassword(token, c.email, demo.Password, ""); r.status != http.StatusSeeOther {
					t.Fatalf("round %d: the right password got %d", round, r.status)
				}
			}
		})
	}
	// More successes than the address's or the account's limit, one address.
	for i := range 25 {
		if r := a.browser().signInWith("dave@acme.test", demo.Password); r.status != http.StatusOK {
			t.Fatalf("sign-in %d: status %d; successes must not use up an allowance", i+1, r.status)
		}
	}
}

// TestAddressIsLimitedAcrossEmails: one address trying many emails is
// refused after a while, for any email, as is the rest of its IPv6 /64;
// other addresses are not, nor is a known browser at that address.
func TestAddressIsLimitedAcrossEmails(t *testing.T) {
	t.Parallel()
	a := newAppWith(t, map[string]string{"CANOPY_TRUSTED_PROXIES": "127.0.0.1/32,::1/128"})
	known := a.browser()
	wantStatus(t, known.signIn("alice@acme.test", "acme"), http.StatusOK)
	device := known.deviceCookie().Value

	type probe struct {
		name, from string
		want       int
	}
	families := []struct {
		attacker string
		probes   []probe
	}{
		{"203.0.113.7", []probe{
			{"same address", "203.0.113.7", http.StatusTooManyRequests},
			{"the next address", "203.0.113.8", http.StatusUnauthorized},
		}},
		{"2001:db8:1:2::7", []probe{
			{"same address", "2001:db8:1:2::7", http.StatusTooManyRequests},
			{"same /64", "2001:db8:1:2::99", http.StatusTooManyRequests},
			{"another /64", "2001:db8:1:3::7", http.StatusUnauthorized},
		}},
	}
	for _, family := range families {
		t.Run(family.attacker, func(t *testing.T) {
			b := a.browser()
			token := b.csrf(base + "/login")
			refusedAt := 0
			for i := range 40 {
				email := "someone" + strconv.Itoa(i) + "@" + strings.ReplaceAll(family.attacker, ":", "-") + ".test"
				if r := b.tryPassword(token, email, "guess", family.attacker); r.status == http.StatusTooManyRequests {
					refusedAt = i
					break
				}
			}
			if refusedAt == 0 || refusedAt > 25 {
				t.Fatalf("wrong passwords for 40 different emails from one address: refused at %d", refusedAt)
			}
			for _, p := range family.probes {
				email := "fresh-" + strings.ReplaceAll(p.from, ":", "-") + "@example.test"
				if r := b.tryPassword(token, email, "guess", p.from); r.status != p.want {
					t.Errorf("%s (%s): status %d, want %d", p.name, p.from, r.status, p.want)
				}
			}
			// A person's unknown browser at that address is refused; her known one is not.
			stranger := a.browser()
			wantRetryAfter(t, stranger.tryPassword(stranger.csrf(base+"/login"), "alice@acme.test", demo.Password, family.attacker))
			returning := a.browserWithDevice(device)
			wantStatus(t, returning.tryPassword(returning.csrf(base+"/login"), "alice@acme.test", demo.Password, family.attacker), http.StatusSeeOther)
		})
	}
}

// TestOnlyTheAccountsOwnDeviceCookieCounts: with the owner's account locked
// for unknown browsers, a device cookie of another account, forged,
// tampered with, expired or garbage counts as none; her own one works.
func TestOnlyTheAccountsOwnDeviceCookieCounts(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice, bob := a.browser(), a.browser()
	wantStatus(t, alice.signIn("alice@acme.test", "acme"), http.StatusOK)
	wantStatus(t, bob.signIn("bob@globex.test", "globex"), http.StatusOK)
	a.lockOut("alice@acme.test")

	server := devicecookie.NewSigner(a.secrets.Device)
	forger := devicecookie.NewSigner([]byte("not the server's key, but 32 bytes"))
	aliceValue := alice.deviceCookie().Value
	cases := []struct {
		name   string
		cookie string
		want   int
	}{
		{"bob's device cookie", bob.deviceCookie().Value, http.StatusTooManyRequests},
		{"signed with another key", forger.Encode([]devicecookie.Device{forger.Issue("alice@acme.test", time.Now())}), http.StatusTooManyRequests},
		{"alice's, tampered with", tamper(aliceValue), http.StatusTooManyRequests},
		{"alice's, expired", server.Encode([]devicecookie.Device{server.Issue("alice@acme.test", time.Now().Add(-devicecookie.Lifetime-time.Hour))}), http.StatusTooManyRequests},
		{"garbage", "x.y.z", http.StatusTooManyRequests},
		{"alice's own", aliceValue, http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := a.browserWithDevice(c.cookie).signInWith("alice@acme.test", demo.Password)
			if r.status != c.want {
				t.Fatalf("status %d, want %d", r.status, c.want)
			}
		})
	}
}

// tamper changes one character inside a cookie's first entry's signed part.
func tamper(value string) string {
	c := byte('A')
	if value[20] == 'A' {
		c = 'B'
	}
	return value[:20] + string(c) + value[21:]
}

// TestOneBrowserIsKnownForSeveralAccounts: a browser shared by two people
// stays known for both.
func TestOneBrowserIsKnownForSeveralAccounts(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	shared := a.browser()
	for _, who := range []struct{ email, company string }{{"alice@acme.test", "acme"}, {"bob@globex.test", "globex"}} {
		wantStatus(t, shared.signIn(who.email, who.company), http.StatusOK)
		wantStatus(t, shared.submit(tenantURL(who.company, "/"), tenantURL(who.company, "/logout"), nil), http.StatusSeeOther)
	}
	device := shared.deviceCookie().Value
	for _, email := range []string{"alice@acme.test", "bob@globex.test"} {
		a.lockOut(email)
		if r := a.browserWithDevice(device).signInWith(email, demo.Password); r.status != http.StatusOK {
			t.Fatalf("%s from the shared browser: status %d", email, r.status)
		}
	}
}

// TestDeviceCookieFlags: long-lived, HttpOnly, SameSite=Lax, host-only on
// the base domain, Secure and __Host- over https.
func TestDeviceCookieFlags(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		base       string
		name       string
		wantSecure bool
	}{
		{"http://localhost:8080", "canopy_device=", false},
		{"https://canopy.example.com", "__Host-canopy_device=", true},
	} {
		t.Run(c.base, func(t *testing.T) {
			t.Parallel()
			a := newAppWith(t, map[string]string{"CANOPY_BASE_URL": c.base})
			host := mustParse(t, c.base).Host
			client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			req, _ := http.NewRequest(http.MethodGet, a.server.URL+"/login", nil)
			req.Host = host
			res, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(res.Body)
			res.Body.Close()
			token := csrfField.FindStringSubmatch(string(page))
			if token == nil {
				t.Fatal("no form token on the sign-in page")
			}
			form := url.Values{"email": {"alice@acme.test"}, "password": {demo.Password}, "_csrf": {token[1]}}
			req, _ = http.NewRequest(http.MethodPost, a.server.URL+"/login", strings.NewReader(form.Encode()))
			req.Host = host
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			for _, cookie := range res.Cookies() {
				req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
			}
			res, err = client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			var device string
			for _, line := range res.Header.Values("Set-Cookie") {
				if strings.HasPrefix(line, c.name) {
					device = line
				}
			}
			for _, want := range []string{"Path=/", "Max-Age=31536000", "HttpOnly", "SameSite=Lax"} {
				if !strings.Contains(device, want) {
					t.Fatalf("device cookie %q lacks %s (status %d)", device, want, res.StatusCode)
				}
			}
			if strings.Contains(device, "Domain=") || strings.Contains(device, "Secure") != c.wantSecure {
				t.Fatalf("device cookie %q: want host-only, Secure %v", device, c.wantSecure)
			}
		})
	}
}
