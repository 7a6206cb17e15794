package handlers_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/internal/devidp"
	"canopy/internal/sealbox"
	"canopy/models"
)

// startIDP runs a development identity provider on loopback for one test.
func startIDP(t *testing.T, clientID string) *devidp.Server {
	t.Helper()
	idp, err := devidp.Start(devidp.Config{Addr: "127.0.0.1:0", ClientID: clientID, ClientSecret: clientID + "-secret"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = idp.Close() })
	return idp
}

// newSSOApp is the demo data with Acme Corp signing in through an identity
// provider of its own for acme.test (approved by platform staff, as the
// demo data does), and Acme Europe inheriting it.
func newSSOApp(t *testing.T) (*app, *devidp.Server) {
	t.Helper()
	a := newApp(t)
	idp := startIDP(t, "acme-canopy")
	if err := demo.SeedSSO(context.Background(), a.store, idp.Issuer(), idp.ClientID(), a.sealFor(idp.ClientSecret())); err != nil {
		t.Fatal(err)
	}
	return a, idp
}

// sealFor seals a client secret as the server does, with its key.
func (a *app) sealFor(secret string) func(int64) string {
	box, err := sealbox.New(a.secrets.SSOClientSecret)
	if err != nil {
		a.t.Fatal(err)
	}
	return func(tenantID int64) string { return box.Seal(secret, models.SSOSecretBinding(tenantID)) }
}

// ssoSignIn clicks "Sign in with SSO" on a company's host and follows the
// browser through the identity provider, which signs in as p, to the page
// it ends on.
func (b *browser) ssoSignIn(sub string, idp *devidp.Server, p devidp.Person) response {
	b.app.t.Helper()
	idp.SignInNext(p)
	return b.follow(b.get(tenantURL(sub, "/auth/sso")))
}

// ssoCallback goes as far as the identity provider's answer and returns the
// callback URL it sends the browser to, without visiting it.
func (b *browser) ssoCallback(sub string, idp *devidp.Server, p devidp.Person) *url.URL {
	b.app.t.Helper()
	idp.SignInNext(p)
	r := b.get(tenantURL(sub, "/auth/sso"))
	for i := 0; i < 5 && !strings.Contains(r.location, "/auth/sso/callback"); i++ {
		if r.status != http.StatusSeeOther && r.status != http.StatusFound {
			b.app.t.Fatalf("%s: status %d before reaching the callback\n%s", r.url, r.status, excerpt(r.body))
		}
		r = b.get(mustParse(b.app.t, r.url).ResolveReference(mustParse(b.app.t, r.location)).String())
	}
	return mustParse(b.app.t, r.location)
}

func (a *app) auditActions(sub string) []string {
	a.t.Helper()
	var actions []string
	err := a.db.Table("audit_events").Where("tenant_id = ?", a.tenant(sub).ID).Order("id").Pluck("action", &actions).Error
	if err != nil {
		a.t.Fatal(err)
	}
	return actions
}

func (a *app) lastAudit(sub string) models.AuditEvent {
	a.t.Helper()
	var e models.AuditEvent
	if err := a.db.Where("tenant_id = ?", a.tenant(sub).ID).Order("id DESC").Take(&e).Error; err != nil {
		a.t.Fatal(err)
	}
	return e
}

func wantSignedIn(t *testing.T, b *browser, sub string, signedIn bool) {
	t.Helper()
	r := b.get(tenantURL(sub, "/"))
	if signedIn && r.status != http.StatusOK || !signedIn && r.status == http.StatusOK {
		t.Fatalf("%s: status %d; signed in there: want %v", sub, r.status, signedIn)
	}
}

func TestSSOSignsInSomeoneNewAndTheyJoin(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	b := a.browser()
	home := b.ssoSignIn("acme", idp, devidp.Person{Email: "nora@acme.test", Name: "Nora Novak", EmailVerified: true})
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "Acme Corp", "Nora")

	nora := a.user("nora@acme.test")
	if nora.FirstName != "Nora" || nora.LastName != "Novak" || a.passwordHash("nora@acme.test") != "" {
		t.Fatalf("new account: %+v, password hash %q", nora, a.passwordHash("nora@acme.test"))
	}
	m, err := a.store.MembershipOf(context.Background(), a.tenant("acme").ID, nora.ID)
	if err != nil || m.Role != models.RoleViewer {
		t.Fatalf("membership: %+v, %v; want a Viewer", m, err)
	}
	actions := strings.Join(a.auditActions("acme"), " ")
	for _, want := range []string{models.AuditMemberAdded, models.AuditSSOIdentityLinked, models.AuditSignIn} {
		if !strings.Contains(actions, want) {
			t.Errorf("acme's log lacks %s: %s", want, actions)
		}
	}

	// A session made by Acme's single sign-on is Acme's alone: the base
	// domain (every other company's way in) has no session from it.
	login := b.follow(b.get(base + "/"))
	wantStatus(t, login, http.StatusOK)
	wantBody(t, login, `name="password"`)

	// Next time the identity signs in straight away, and nobody joins twice.
	b2 := a.browser()
	wantStatus(t, b2.ssoSignIn("acme", idp, devidp.Person{Email: "nora@acme.test", EmailVerified: true}), http.StatusOK)
}

func TestSSOLinksAnExistingAccountOnceItsPasswordIsGiven(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	b := a.browser()
	alice := devidp.Person{Email: "alice@acme.test", Name: "Alice Anderson", EmailVerified: true}
	ask := b.ssoSignIn("acme", idp, alice)
	wantStatus(t, ask, http.StatusOK)
	wantBody(t, ask, "Confirm it", "alice@acme.test")
	wantSignedIn(t, b, "acme", false)

	token := csrfField.FindStringSubmatch(ask.body)
	if token == nil {
		t.Fatal("no CSRF token on the confirmation page")
	}
	wrong := b.post(tenantURL("acme", "/auth/sso/link"), url.Values{"password": {"not-her-password"}, "_csrf": {token[1]}})
	wantStatus(t, wrong, http.StatusUnauthorized)
	if e := a.lastAudit("acme"); e.Action != models.AuditSignInFailed {
		t.Fatalf("last event %s, want a failed sign-in", e.Action)
	}
	right := b.follow(b.post(tenantURL("acme", "/auth/sso/link"), url.Values{"password": {demo.Password}, "_csrf": {token[1]}}))
	if right.status == http.StatusOK && strings.Contains(right.body, "Confirm it") {
		t.Fatalf("still asked to confirm: %s", excerpt(right.body))
	}
	wantSignedIn(t, b, "acme", true)

	// Linked: the next sign-in needs no password.
	b2 := a.browser()
	home := b2.ssoSignIn("acme", idp, alice)
	wantStatus(t, home, http.StatusOK)
	if strings.Contains(home.body, "Confirm it") {
		t.Fatal("asked for the password again after linking")
	}
}

// An email change at the identity provider cannot take over another
// account: the identity stays linked to whom it was linked to.
func TestSSOIdentityIsLinkedBySubjectNotEmail(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	wantStatus(t, a.browser().ssoSignIn("acme", idp, devidp.Person{Subject: "sub-nora", Email: "nora@acme.test", EmailVerified: true}), http.StatusOK)
	// The same subject now claims dave's address: it still signs in Nora.
	b := a.browser()
	home := b.ssoSignIn("acme", idp, devidp.Person{Subject: "sub-nora", Email: "dave@acme.test", EmailVerified: true})
	wantStatus(t, home, http.StatusOK)
	if e := a.lastAudit("acme"); e.Action != models.AuditSignIn || e.TargetLabel != "nora@acme.test" {
		t.Fatalf("signed in %s (%s), want nora@acme.test", e.TargetLabel, e.Action)
	}
}

func TestSSOInheritedTwoLevelsDownAndReverted(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	ctx := context.Background()
	eu := a.tenant("acme-eu")
	var lab *models.Tenant
	err := a.store.Within(ctx, models.Scope{TenantID: eu.ID, Subtree: true}, func(ctx context.Context, tx *models.Store) error {
		var err error
		lab, err = tx.CreateTenant(ctx, models.NewTenant{Name: "Acme Europe Lab", Subdomain: "acme-eu-lab", ParentID: eu.ID, Timezone: "Europe/Berlin"})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	home := b.ssoSignIn("acme-eu-lab", idp, devidp.Person{Email: "nora@acme.test", EmailVerified: true})
	wantStatus(t, home, http.StatusOK)
	wantBody(t, home, "Acme Europe Lab")
	if _, err := a.store.MembershipOf(ctx, lab.ID, a.user("nora@acme.test").ID); err != nil {
		t.Fatalf("nora did not join the grandchild: %v", err)
	}
	// Nora joined where she signed in, not at the connection's owner.
	if _, err := a.store.MembershipOf(ctx, a.tenant("acme").ID, a.user("nora@acme.test").ID); err == nil {
		t.Fatal("nora joined Acme Corp by signing in to its grandchild")
	}

	// Acme Europe stops inheriting (with no connection of its own): its
	// subtree has no single sign-on any more; ticking again reverts.
	inherit := func(on bool) {
		t.Helper()
		err := a.store.Within(ctx, models.Scope{TenantID: eu.ID}, func(ctx context.Context, tx *models.Store) error {
			return tx.SetSSOInherit(ctx, eu.ID, on)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	// An attempt under way when the subtree stops inheriting signs nobody
	// in: the callback asks again where Acme's connection is in force.
	midway := a.browser()
	callback := midway.ssoCallback("acme-eu-lab", idp, devidp.Person{Email: "nora@acme.test", EmailVerified: true})
	inherit(false)
	wantStatus(t, midway.get(callback.String()), http.StatusNotFound)
	wantSignedIn(t, midway, "acme-eu-lab", false)
	wantStatus(t, a.browser().get(tenantURL("acme-eu-lab", "/auth/sso")), http.StatusNotFound)
	inherit(true)
	wantStatus(t, a.browser().ssoSignIn("acme-eu-lab", idp, devidp.Person{Email: "nora@acme.test", EmailVerified: true}), http.StatusOK)
}

func TestSSOFailuresEndOnAPlainPage(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	otherNonce := "not-the-nonce-asked-for"
	cases := []struct {
		name    string
		person  devidp.Person
		deny    bool
		tamper  func(q url.Values)
		status  int
		heading string
	}{
		{name: "denied at the identity provider", deny: true, status: http.StatusForbidden, heading: "did not sign you in"},
		{name: "tampered state", person: devidp.Person{Email: "nora@acme.test", EmailVerified: true},
			tamper: func(q url.Values) { q.Set("state", q.Get("state")+"x") }, status: http.StatusBadRequest, heading: "did not start here"},
		{name: "wrong nonce", person: devidp.Person{Email: "nora@acme.test", EmailVerified: true, Nonce: &otherNonce},
			status: http.StatusBadRequest, heading: "could not be verified"},
		{name: "token for another client", person: devidp.Person{Email: "nora@acme.test", EmailVerified: true, Audience: "another-app"},
			status: http.StatusBadRequest, heading: "could not be verified"},
		{name: "expired token", person: devidp.Person{Email: "nora@acme.test", EmailVerified: true, ExpiresIn: -time.Minute},
			status: http.StatusBadRequest, heading: "could not be verified"},
		{name: "unverified email", person: devidp.Person{Email: "nora@acme.test", EmailVerified: false},
			status: http.StatusForbidden, heading: "not verified"},
		{name: "foreign domain", person: devidp.Person{Email: "mallory@evil.test", EmailVerified: true},
			status: http.StatusForbidden, heading: "cannot sign in here"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := a.browser()
			var r response
			if c.deny {
				idp.DenyNext()
				callback := b.ssoCallbackAfter(tenantURL("acme", "/auth/sso"))
				r = b.get(callback.String())
			} else {
				callback := b.ssoCallback("acme", idp, c.person)
				if c.tamper != nil {
					q := callback.Query()
					c.tamper(q)
					callback.RawQuery = q.Encode()
				}
				r = b.get(callback.String())
			}
			wantStatus(t, r, c.status)
			wantBody(t, r, c.heading, "Back to sign in")
			if e := a.lastAudit("acme"); e.Action != models.AuditSignInFailed {
				t.Fatalf("last event in acme's log: %s, want a failed sign-in", e.Action)
			}
			wantSignedIn(t, b, "acme", false)
		})
	}
	if _, err := a.store.UserByEmail(context.Background(), "mallory@evil.test"); err == nil {
		t.Fatal("an email outside the covered domains got an account")
	}
	wantSecretNowhere(t, a, idp.ClientSecret())
}

// wantSecretNowhere: a client secret is in no log line and no audit row.
func wantSecretNowhere(t *testing.T, a *app, secret string) {
	t.Helper()
	if strings.Contains(a.logs.String(), secret) {
		t.Error("the client secret is in the server's log")
	}
	var n int64
	err := a.db.Table("audit_events").Where("before LIKE ? OR after LIKE ? OR target_label LIKE ?", "%"+secret+"%", "%"+secret+"%", "%"+secret+"%").Count(&n).Error
	if err != nil {
		t.Fatal(err)
	}
	if n > 0 {
		t.Errorf("the client secret is in %d audit rows", n)
	}
}

// ssoCallbackAfter follows redirects from a start URL to the callback URL
// the identity provider sends back, without visiting it.
func (b *browser) ssoCallbackAfter(start string) *url.URL {
	b.app.t.Helper()
	r := b.get(start)
	for i := 0; i < 5 && !strings.Contains(r.location, "/auth/sso/callback"); i++ {
		r = b.get(mustParse(b.app.t, r.url).ResolveReference(mustParse(b.app.t, r.location)).String())
	}
	return mustParse(b.app.t, r.location)
}

// A code is exchanged once: the same code answering a new attempt (its own
// state and cookie) is refused by the identity provider.
func TestSSOReplayedCodeIsRefused(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	b := a.browser()
	first := b.ssoCallback("acme", idp, devidp.Person{Email: "nora@acme.test", EmailVerified: true})
	code := first.Query().Get("code")
	wantStatus(t, b.follow(b.get(first.String())), http.StatusOK)

	attacker := a.browser()
	second := attacker.ssoCallback("acme", idp, devidp.Person{Email: "nora@acme.test", EmailVerified: true})
	q := second.Query()
	q.Set("code", code)
	second.RawQuery = q.Encode()
	r := attacker.get(second.String())
	wantStatus(t, r, http.StatusBadRequest)
	wantBody(t, r, "refused this sign-in")
	wantSignedIn(t, attacker, "acme", false)

	// And the cookie of an attempt works once: the first callback again.
	again := b.get(first.String())
	wantStatus(t, again, http.StatusBadRequest)
	wantBody(t, again, "expired")
	wantSecretNowhere(t, a, idp.ClientSecret())
}

func TestSSORequiredRefusesPasswordsButTheOwners(t *testing.T) {
	t.Parallel()
	a, _ := newSSOApp(t)
	ctx := context.Background()
	acme := a.tenant("acme")
	err := a.store.Within(ctx, models.Scope{TenantID: acme.ID}, func(ctx context.Context, tx *models.Store) error {
		conn, err := tx.SSOConnectionOf(ctx, acme.ID)
		if err != nil {
			return err
		}
		_, err = tx.SaveSSOConnection(ctx, acme.ID, models.SSOConnectionInput{Issuer: conn.Issuer, ClientID: conn.ClientID,
			Domains: "acme.test", JoinRole: conn.JoinRole, Required: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	// dave@acme.test is a Viewer of Acme: his password no longer enters it.
	dave := a.browser()
	// Sent to single sign-on, with or without a password, which is not even
	// checked: the answer is the same for a wrong one.
	for _, password := range []string{demo.Password, "a-wrong-password"} {
		refused := dave.submit(base+"/login?tenant=acme", base+"/login", url.Values{"email": {"dave@acme.test"}, "password": {password}, "tenant": {"acme"}})
		wantStatus(t, refused, http.StatusOK)
		wantBody(t, refused, "to sign in with single sign-on, not a password", "data-auto-follow")
		wantSignedIn(t, dave, "acme", false)
		if strings.Contains(refused.header.Get("Set-Cookie"), "canopy_device") {
			t.Fatal("a refused password marked the browser as known")
		}
	}

	// Email first: his address alone goes to the identity provider.
	routed := dave.submit(base+"/login?tenant=acme", base+"/login", url.Values{"email": {"dave@acme.test"}, "tenant": {"acme"}})
	wantStatus(t, routed, http.StatusOK)
	wantBody(t, routed, `href="`+tenantURL("acme", "/auth/sso")+`?email=dave%40acme.test"`, "data-auto-follow")

	// A session with a password from the base domain cannot hand him in.
	dave2 := a.browser()
	landing := dave2.signIn("dave@acme.test", "")
	wantStatus(t, landing, http.StatusForbidden)
	wantBody(t, landing, "uses single sign-on")
	wantSignedIn(t, dave2, "acme", false)
	// Nor does Acme's log say his password signed him in there.
	if e := a.lastAudit("acme"); e.Action == models.AuditSignIn && e.TargetLabel == "dave@acme.test" {
		t.Fatal("acme's log records a password sign-in its single sign-on refused")
	}

	// Alice owns Acme: the break-glass account keeps her password.
	alice := a.browser()
	wantStatus(t, alice.signIn("alice@acme.test", "acme"), http.StatusOK)
	wantSignedIn(t, alice, "acme", true)
	// Bob's domain is not Acme's: his password works as before.
	bob := a.browser()
	wantStatus(t, bob.signIn("bob@globex.test", "acme"), http.StatusOK)
}

// Globex's administrators configure a hostile identity provider that
// asserts alice@acme.test. A connection speaks only for domains it has
// proven, and its sessions are Globex's alone: nothing of Acme is reached.
func TestSSOHostileProviderReachesNothingOfAnotherCompany(t *testing.T) {
	t.Parallel()
	a, _ := newSSOApp(t)
	ctx := context.Background()
	hostile := startIDP(t, "globex-canopy")
	globex := a.tenant("globex")
	err := a.store.Within(ctx, models.Scope{TenantID: globex.ID, Subtree: true}, func(ctx context.Context, tx *models.Store) error {
		if err := tx.SetSSOInherit(ctx, globex.ID, false); err != nil {
			return err
		}
		conn, err := tx.SaveSSOConnection(ctx, globex.ID, models.SSOConnectionInput{Issuer: hostile.Issuer(), ClientID: hostile.ClientID(),
			SealedSecret: a.sealFor(hostile.ClientSecret())(globex.ID), Domains: "acme.test globex.test", JoinRole: models.RoleAdmin})
		if err != nil {
			return err
		}
		// Globex proves its own domain; acme.test it cannot.
		for _, d := range conn.Domains {
			if d.Domain == "globex.test" {
				return tx.MarkDomainProvenByDNS(ctx, globex.ID, d.ID)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	r := b.ssoSignIn("globex", hostile, devidp.Person{Subject: "evil", Email: "alice@acme.test", Name: "Alice", EmailVerified: true})
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "cannot sign in here")
	wantSignedIn(t, b, "globex", false)
	wantSignedIn(t, b, "acme", false)
	if _, err := a.store.IdentityUser(ctx, hostile.Issuer(), "evil"); err == nil {
		t.Fatal("the hostile identity was linked to an account")
	}
	// Its own proven domain signs its own people in, into Globex only.
	wantStatus(t, b.ssoSignIn("globex", hostile, devidp.Person{Email: "gina@globex.test", EmailVerified: true}), http.StatusOK)
	wantSignedIn(t, b, "acme", false)
	// And Globex's host does not run a sign-in for Acme.
	wantStatus(t, a.browser().get(tenantURL("globex", "/auth/sso/begin?tenant=acme")), http.StatusNotFound)
}

func TestSignInPageOffersSSO(t *testing.T) {
	t.Parallel()
	a, _ := newSSOApp(t)
	b := a.browser()
	cases := []struct {
		name, url string
		want      []string
		not       string
	}{
		{"a company with single sign-on", base + "/login?tenant=acme", []string{"Sign in with SSO", tenantURL("acme", "/auth/sso")}, ""},
		{"inherited", base + "/login?tenant=acme-eu", []string{tenantURL("acme-eu", "/auth/sso")}, ""},
		{"a company without", base + "/login?tenant=globex", nil, "Sign in with SSO"},
		{"the base domain asks for the company", base + "/login", []string{`href="/login/sso"`}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := b.get(c.url)
			wantStatus(t, r, http.StatusOK)
			wantBody(t, r, c.want...)
			if c.not != "" && strings.Contains(r.body, c.not) {
				t.Fatalf("page offers %q", c.not)
			}
		})
	}
	wantBody(t, b.get(base+"/login/sso"), "Company address")
	r := b.get(base + "/login/sso?company=acme")
	wantStatus(t, r, http.StatusOK)
	wantBody(t, r, `href="`+tenantURL("acme", "/auth/sso")+`"`, "data-auto-follow")
	for _, unknown := range []string{"globex", "no-such-company", ""} {
		r := b.get(base + "/login/sso?company=" + unknown)
		wantStatus(t, r, http.StatusUnprocessableEntity)
	}
}

// An account single sign-on made has no password. Another company's
// provider, for the same domain approved by staff (not proven by DNS),
// cannot take it over: nothing proves it speaks for that account.
func TestSSOApprovedDomainCannotTakeOverAnAccountWithoutPassword(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	ctx := context.Background()
	wantStatus(t, a.browser().ssoSignIn("acme", idp, devidp.Person{Subject: "nora-at-acme", Email: "nora@acme.test", EmailVerified: true}), http.StatusOK)

	hostile := startIDP(t, "globex-canopy")
	globex := a.tenant("globex")
	err := a.store.Within(ctx, models.Scope{TenantID: globex.ID, Subtree: true}, func(ctx context.Context, tx *models.Store) error {
		conn, err := tx.SaveSSOConnection(ctx, globex.ID, models.SSOConnectionInput{Issuer: hostile.Issuer(), ClientID: hostile.ClientID(),
			SealedSecret: a.sealFor(hostile.ClientSecret())(globex.ID), Domains: "acme.test", JoinRole: models.RoleAdmin})
		if err != nil {
			return err
		}
		// As if staff had approved it before the rule below existed.
		return tx.MarkDomainProvenByDNS(ctx, globex.ID, conn.Domains[0].ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	a.db.Exec("UPDATE sso_domains SET proof = 'staff' WHERE tenant_id = ?", globex.ID)

	b := a.browser()
	r := b.ssoSignIn("globex", hostile, devidp.Person{Subject: "evil", Email: "nora@acme.test", EmailVerified: true})
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "cannot be linked here")
	wantSignedIn(t, b, "globex", false)
	if _, err := a.store.IdentityUser(ctx, hostile.Issuer(), "evil"); err == nil {
		t.Fatal("the hostile identity was linked to nora's account")
	}
}

// Staff cannot approve for one company a domain another company's
// connection has already proven.
func TestStaffCannotApproveADomainProvenElsewhere(t *testing.T) {
	t.Parallel()
	a, _ := newSSOApp(t)
	ctx := context.Background()
	globex := a.tenant("globex")
	var claim models.SSODomain
	err := a.store.Within(ctx, models.Scope{TenantID: globex.ID}, func(ctx context.Context, tx *models.Store) error {
		conn, err := tx.SaveSSOConnection(ctx, globex.ID, models.SSOConnectionInput{Issuer: "https://login.globex.example", ClientID: "c",
			SealedSecret: "v1.x", Domains: "acme.test", JoinRole: models.RoleViewer})
		if err == nil {
			claim = conn.Domains[0]
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	platform := a.tenant("admin")
	err = a.store.Within(ctx, models.Scope{TenantID: platform.ID, Subtree: true}, func(ctx context.Context, tx *models.Store) error {
		_, err := tx.DecideSSODomainInTree(ctx, platform.ID, claim.ID, true, "")
		return err
	})
	var fe models.FieldErrors
	if !errors.As(err, &fe) || !strings.Contains(fe["note"], "already proven for Acme Corp") {
		t.Fatalf("approving acme.test for Globex: %v", err)
	}
}

// Someone removed from a company does not come back by signing in with
// its single sign-on: someone there must add or invite them again.
func TestSSODoesNotBringBackARemovedMember(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	ctx := context.Background()
	nora := devidp.Person{Email: "nora@acme.test", EmailVerified: true}
	wantStatus(t, a.browser().ssoSignIn("acme", idp, nora), http.StatusOK)
	acme := a.tenant("acme")
	err := a.store.Within(ctx, models.Scope{TenantID: acme.ID}, func(ctx context.Context, tx *models.Store) error {
		return tx.RemoveMember(ctx, acme.ID, a.user("nora@acme.test").ID)
	})
	if err != nil {
		t.Fatal(err)
	}
	b := a.browser()
	r := b.ssoSignIn("acme", idp, nora)
	wantStatus(t, r, http.StatusForbidden)
	wantBody(t, r, "no longer a member of Acme Corp")
	wantSignedIn(t, b, "acme", false)
	if _, err := a.store.MembershipOf(ctx, acme.ID, a.user("nora@acme.test").ID); err == nil {
		t.Fatal("single sign-on made nora a member again")
	}
	// Added back by someone there, she signs in as before.
	err = a.store.Within(ctx, models.Scope{TenantID: acme.ID}, func(ctx context.Context, tx *models.Store) error {
		_, err := tx.AddMember(ctx, acme.ID, a.user("nora@acme.test").ID, models.RoleEditor)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a.browser().ssoSignIn("acme", idp, nora), http.StatusOK)
}

// TestSSOLinkDoesNotSkipTheAccountsSecondFactor: linking an identity of a
// domain only approved (not proven by DNS) takes the account's password
// because the identity provider's word alone does not speak for the
// account. For an account with two-factor sign-in the password alone is
// not the account's proof either: whoever holds the password and an
// identity claiming the address (a company's Admin can point its single
// sign-on at a provider of their own) must not get a session without the
// second factor, from which "Confirm it's you" would pass for ten minutes.
func TestSSOLinkDoesNotSkipTheAccountsSecondFactor(t *testing.T) {
	t.Parallel()
	a, idp := newSSOApp(t)
	owner := a.browser()
	owner.signIn("alice@acme.test", "acme")
	owner.turnOnTOTP(base)
	if !a.user("alice@acme.test").TwoFactorEnabled {
		t.Fatal("two-factor is not on")
	}

	attacker := a.browser()
	ask := attacker.ssoSignIn("acme", idp, devidp.Person{Subject: "evil-alice", Email: "alice@acme.test", EmailVerified: true})
	if token := csrfField.FindStringSubmatch(ask.body); ask.status == http.StatusOK && token != nil && strings.Contains(ask.body, "Confirm it") {
		attacker.follow(attacker.post(tenantURL("acme", "/auth/sso/link"), url.Values{"password": {demo.Password}, "_csrf": {token[1]}}))
	}
	wantSignedIn(t, attacker, "acme", false)
	if _, err := a.store.IdentityUser(context.Background(), idp.Issuer(), "evil-alice"); !errors.Is(err, models.ErrNotFound) {
		t.Fatalf("the identity was linked to the account: %v", err)
	}
}
