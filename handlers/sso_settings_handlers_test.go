package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"canopy/internal/sealbox"
	"canopy/models"
)

const ssoPage = "/settings/sso"

// ssoForm is the connection form as an Admin fills it in.
func ssoForm(issuer, clientID, secret, domains, role string, required bool) url.Values {
	v := url.Values{"issuer": {issuer}, "client_id": {clientID}, "client_secret": {secret}, "domains": {domains}, "join_role": {role}}
	if required {
		v.Set("required", "on")
	}
	return v
}

// saveSSO submits the connection form at a company's host.
func saveSSO(b *browser, sub string, form url.Values) response {
	return b.submit(tenantURL(sub, "/settings/team"), tenantURL(sub, ssoPage), form)
}

// postSSO submits one of the page's other forms (test, inherit, delete),
// with a token from the Team page, which every member sees.
func postSSO(b *browser, sub, action string, form url.Values) response {
	return b.submit(tenantURL(sub, "/settings/team"), tenantURL(sub, ssoPage+action), form)
}

// ssoRow is a company's saved connection as the database holds it.
type ssoRow struct {
	ID                 int64
	ClientID           string
	ClientSecretSealed string
	SecretSetAt        string
	Required           bool
	JoinRole           string
}

func (a *app) ssoRow(sub string) (ssoRow, bool) {
	a.t.Helper()
	var rows []ssoRow
	err := a.db.Raw("SELECT id, client_id, client_secret_sealed, CAST(secret_set_at AS TEXT) AS secret_set_at, required, join_role FROM sso_connections WHERE tenant_id = ?",
		a.tenant(sub).ID).Scan(&rows).Error
	if err != nil {
		a.t.Fatal(err)
	}
	if len(rows) == 0 {
		return ssoRow{}, false
	}
	return rows[0], true
}

// ssoTokens are a company's claimed domains with their verification tokens.
func (a *app) ssoTokens(sub string) map[string]string {
	a.t.Helper()
	var rows []struct{ Domain, VerificationToken string }
	if err := a.db.Raw("SELECT domain, verification_token FROM sso_domains WHERE tenant_id = ?", a.tenant(sub).ID).Scan(&rows).Error; err != nil {
		a.t.Fatal(err)
	}
	out := map[string]string{}
	for _, r := range rows {
		out[r.Domain] = r.VerificationToken
	}
	return out
}

func (a *app) ssoDomainID(sub, domain string) int64 {
	a.t.Helper()
	var id int64
	if err := a.db.Raw("SELECT id FROM sso_domains WHERE tenant_id = ? AND domain = ?", a.tenant(sub).ID, domain).Scan(&id).Error; err != nil || id == 0 {
		a.t.Fatalf("domain %s of %s: %v", domain, sub, err)
	}
	return id
}

// TestSSOSettingsWhoMay: Admins and Super Admins configure single sign-on;
// Viewers and Editors get the gate's 403 on every route, and do not see
// the tab.
func TestSSOSettingsWhoMay(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	cases := []struct {
		name, email, sub string
		status           int
	}{
		{"Viewer", "dave@acme.test", "acme", http.StatusForbidden},
		{"Editor", "alice@acme.test", "globex", http.StatusForbidden},
		{"Admin", "bob@globex.test", "acme", http.StatusOK},
		{"Super Admin", "alice@acme.test", "acme", http.StatusOK},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := a.browser()
			b.signIn(c.email, c.sub)
			page := b.get(tenantURL(c.sub, ssoPage))
			wantStatus(t, page, c.status)
			team := b.get(tenantURL(c.sub, "/settings/team"))
			if c.status == http.StatusOK {
				wantBody(t, page, "Single sign-on", `name="issuer"`, `name="client_secret"`, `type="password"`, `autocomplete="new-password"`,
					"http://"+c.sub+".localhost:8080/auth/sso/callback", "openid email profile", "can always sign in with a password")
				wantBody(t, team, `href="/settings/sso"`)
				return
			}
			wantNoBody(t, team, `href="/settings/sso"`)
			for _, action := range []string{"", "/test", "/inherit", "/delete"} {
				form := ssoForm("https://login.example.com", "x", "y", "example.com", "viewer", false)
				form.Set("inherit", "off")
				wantStatus(t, postSSO(b, c.sub, action, form), http.StatusForbidden)
			}
			if _, saved := a.ssoRow(c.sub); saved {
				t.Fatal("a refused save saved a connection")
			}
		})
	}
}

// TestSSOSettingsSave: errors beside their fields, a save, a later save
// with the secret left blank, and domains changed; the secret is never
// shown back and is sealed for this company only.
func TestSSOSettingsSave(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	const secret = "s3cret-typed-once"
	good := func() url.Values {
		return ssoForm("https://login.acme.example", "canopy-app", secret, "acme.example\nAcme-Corp.example", "editor", true)
	}
	bad := []struct {
		name  string
		edit  func(url.Values)
		field string
		msg   string
	}{
		{"no issuer", func(v url.Values) { v.Set("issuer", "") }, "issuer", "Enter your identity provider"},
		{"plain http elsewhere", func(v url.Values) { v.Set("issuer", "http://login.acme.example") }, "issuer", "Use https"},
		{"issuer with a query", func(v url.Values) { v.Set("issuer", "https://login.acme.example/?x=1") }, "issuer", "no query or fragment"},
		{"no client ID", func(v url.Values) { v.Set("client_id", " ") }, "client_id", "Enter the client ID"},
		{"no secret yet", func(v url.Values) { v.Set("client_secret", "") }, "client_secret", "Enter the client secret"},
		{"secret too long", func(v url.Values) { v.Set("client_secret", strings.Repeat("x", 1001)) }, "client_secret", "at most 1000"},
		{"no domain", func(v url.Values) { v.Set("domains", " , ") }, "domains", "at least one email domain"},
		{"not a domain", func(v url.Values) { v.Set("domains", "acme.example\nnot_a_domain") }, "domains", "is not a domain name"},
		{"Super Admin on joining", func(v url.Values) { v.Set("join_role", "super_admin") }, "join_role", "Choose Viewer, Editor or Admin"},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			form := good()
			c.edit(form)
			r := saveSSO(alice, "acme", form)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			wantBody(t, r, `id="f-`+c.field+`-error">`, c.msg, "Please correct the fields marked below")
			wantNoBody(t, r, secret)
			if c.field != "client_secret" { // the typed values come back, but for the secret
				wantBody(t, r, "Type the client secret again", `<textarea id="f-domains"`, html.EscapeString(form.Get("domains"))+"</textarea>")
			}
			if c.field != "client_id" {
				wantBody(t, r, `value="canopy-app"`)
			}
			if _, saved := a.ssoRow("acme"); saved {
				t.Fatal("a form with errors saved a connection")
			}
		})
	}

	r := saveSSO(alice, "acme", good())
	wantStatus(t, r, http.StatusSeeOther)
	page := alice.follow(r)
	wantBody(t, page, "Single sign-on saved", "Add the TXT records", "•••• set on", "Leave blank to keep it",
		"https://login.acme.example", "canopy-app", "acme.example", "acme-corp.example", "Waiting for verification",
		"_canopy-verification.acme.example", "canopy-verification="+a.ssoTokens("acme")["acme.example"], `<option value="editor" selected`,
		`name="required" aria-describedby="f-required-hint" checked`, "Remove single sign-on")
	wantNoBody(t, page, secret)
	first, _ := a.ssoRow("acme")
	if first.JoinRole != "editor" || !first.Required || first.ClientID != "canopy-app" {
		t.Fatalf("saved %+v", first)
	}
	box, err := sealbox.New(a.secrets.SSOClientSecret)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(first.ClientSecretSealed, secret) {
		t.Fatal("the database holds the client secret in the clear")
	}
	if got, err := box.Open(first.ClientSecretSealed, fmt.Sprintf("sso-connection:%d", a.tenant("acme").ID)); err != nil || got != secret {
		t.Fatalf("the sealed secret opens to %q, %v", got, err)
	}
	if _, err := box.Open(first.ClientSecretSealed, fmt.Sprintf("sso-connection:%d", a.tenant("globex").ID)); err == nil {
		t.Fatal("the sealed secret opens for another company")
	}

	// A blank secret keeps the one saved; the domains change: the one kept
	// keeps its token, the one dropped goes, the new one gets its own.
	tokens := a.ssoTokens("acme")
	form := ssoForm("https://login.acme.example", "canopy-app-2", "", "@acme.example, newco.example", "viewer", false)
	page = alice.follow(saveSSO(alice, "acme", form))
	wantBody(t, page, "Single sign-on saved", "canopy-app-2", "newco.example")
	wantNoBody(t, page, "acme-corp.example")
	second, _ := a.ssoRow("acme")
	if second.ClientSecretSealed != first.ClientSecretSealed || second.SecretSetAt != first.SecretSetAt {
		t.Fatal("a blank secret changed the saved one")
	}
	if second.Required || second.JoinRole != "viewer" {
		t.Fatalf("saved %+v", second)
	}
	after := a.ssoTokens("acme")
	if len(after) != 2 || after["acme.example"] != tokens["acme.example"] || after["newco.example"] == "" || after["newco.example"] == tokens["acme.example"] {
		t.Fatalf("domains before %v, after %v", tokens, after)
	}

	// How each domain stands.
	ctx := context.Background()
	if err := a.store.MarkDomainProvenByDNS(ctx, a.tenant("acme").ID, a.ssoDomainID("acme", "acme.example")); err != nil {
		t.Fatal(err)
	}
	if err := a.store.DecideSSODomain(ctx, a.tenant("acme").ID, a.ssoDomainID("acme", "newco.example"), false, "Not Acme's domain"); err != nil {
		t.Fatal(err)
	}
	page = alice.get(tenantURL("acme", ssoPage))
	wantBody(t, page, "Verified by DNS", "Refused: Not Acme&#39;s domain", "_canopy-verification.newco.example")
	wantNoBody(t, page, "_canopy-verification.acme.example", "Waiting for verification")

	// A new secret replaces the old one.
	form.Set("client_secret", "a-new-secret")
	alice.follow(saveSSO(alice, "acme", form))
	third, _ := a.ssoRow("acme")
	if got, err := box.Open(third.ClientSecretSealed, fmt.Sprintf("sso-connection:%d", a.tenant("acme").ID)); err != nil || got != "a-new-secret" {
		t.Fatalf("the new secret opens to %q, %v", got, err)
	}

	// Removing it: confirmed, audited, gone; removing nothing says so.
	page = alice.follow(postSSO(alice, "acme", "/delete", nil))
	wantBody(t, page, "Single sign-on removed", `name="issuer" type="url" value=""`)
	if _, saved := a.ssoRow("acme"); saved {
		t.Fatal("the connection is still there")
	}
	if n := len(a.ssoTokens("acme")); n != 0 {
		t.Fatalf("%d domains left", n)
	}
	again := postSSO(alice, "acme", "/delete", nil)
	wantStatus(t, again, http.StatusConflict)
	wantBody(t, again, "There is no single sign-on to remove")
	audit := alice.get(tenantURL("acme", "/settings/audit"))
	wantBody(t, audit, "Single sign-on saved", "Single sign-on removed", "single sign-on", "login.acme.example")
}

// TestSSOSettingsInheritance: Acme Europe follows Acme Corp's single
// sign-on, sees what is in force there (never the secret, only proven
// domains), and switches to its own and back; Acme Corp, directly below
// the platform, has nothing to inherit.
func TestSSOSettingsInheritance(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	eve := a.browser() // owner of Acme Europe, not a member of Acme Corp
	eve.signIn("eve@acme.test", "acme-eu")
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	acmeLink := `href="http://acme.localhost:8080/settings/sso"`

	page := eve.get(tenantURL("acme-eu", ssoPage))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Inherited from Acme Corp", "Acme Corp has no single sign-on set up", "Use our own single sign-on instead", `name="inherit" value="off"`)
	wantNoBody(t, page, `name="issuer"`, acmeLink)

	// Acme Corp's own, with one domain proven.
	const secret = "acme-parent-secret-42"
	wantStatus(t, saveSSO(alice, "acme", ssoForm("https://login.acme.example", "acme-client", secret, "acme.example\nacme-corp.example", "editor", true)), http.StatusSeeOther)
	if err := a.store.MarkDomainProvenByDNS(ctx, a.tenant("acme").ID, a.ssoDomainID("acme", "acme.example")); err != nil {
		t.Fatal(err)
	}
	page = eve.get(tenantURL("acme-eu", ssoPage))
	wantBody(t, page, "Inherited from Acme Corp", "https://login.acme.example", "acme-client", "acme.example", "Editor", "Yes: people of these domains")
	wantNoBody(t, page, secret, "acme-corp.example", acmeLink, "•••• set on")
	wantBody(t, alice.get(tenantURL("acme", "/settings/company")), "Own connection: ", "https://login.acme.example")
	wantBody(t, eve.get(tenantURL("acme-eu", "/settings/company")), "Inherited from Acme Corp", "https://login.acme.example")

	// Acme Corp's settings are linked for someone who manages them there,
	// not for a member there who does not.
	eu := a.tenant("acme-eu")
	for _, email := range []string{"alice@acme.test", "dave@acme.test"} {
		if _, err := a.store.AddMember(ctx, eu.ID, a.user(email).ID, models.RoleAdmin); err != nil {
			t.Fatal(err)
		}
	}
	aliceEU := a.browser()
	aliceEU.signIn("alice@acme.test", "acme-eu")
	wantBody(t, aliceEU.get(tenantURL("acme-eu", ssoPage)), `Inherited from <a `+acmeLink+`>Acme Corp</a>`)
	daveEU := a.browser()
	daveEU.signIn("dave@acme.test", "acme-eu")
	page = daveEU.get(tenantURL("acme-eu", ssoPage))
	wantBody(t, page, "Inherited from")
	wantNoBody(t, page, acmeLink)

	// Its own instead, and back.
	page = eve.follow(postSSO(eve, "acme-eu", "/inherit", url.Values{"inherit": {"off"}}))
	wantBody(t, page, "Acme Europe now uses its own single sign-on", `name="issuer" type="url" value=""`, "Inherit from Acme Corp instead", `name="inherit" value="on"`,
		"http://acme-eu.localhost:8080/auth/sso/callback")
	if a.tenant("acme-eu").SSOInherit {
		t.Fatal("Acme Europe still inherits")
	}
	wantBody(t, alice.get(tenantURL("acme", fmt.Sprintf("/sub-tenants/%d/settings", eu.ID))), "In force now:", "No single sign-on")
	wantStatus(t, saveSSO(eve, "acme-eu", ssoForm("https://login.eu.example", "eu-client", "eu-secret", "acme-eu.example", "viewer", false)), http.StatusSeeOther)
	wantBody(t, alice.get(tenantURL("acme", fmt.Sprintf("/sub-tenants/%d/settings", eu.ID))), "Own connection: ", "https://login.eu.example")
	page = eve.follow(postSSO(eve, "acme-eu", "/inherit", url.Values{"inherit": {"on"}}))
	wantBody(t, page, "Acme Europe now follows Acme Corp&#39;s single sign-on", "Inherited from Acme Corp", "https://login.acme.example",
		"own connection (https://login.eu.example) stays saved")
	if !a.tenant("acme-eu").SSOInherit {
		t.Fatal("Acme Europe does not inherit")
	}
	if row, saved := a.ssoRow("acme-eu"); !saved || row.ClientID != "eu-client" {
		t.Fatal("inheriting dropped Acme Europe's own connection")
	}
	wantBody(t, alice.get(tenantURL("acme", fmt.Sprintf("/sub-tenants/%d/settings", eu.ID))), "Inherited from Acme Corp: ", "https://login.acme.example")
	wantStatus(t, postSSO(eve, "acme-eu", "/inherit", url.Values{"inherit": {"maybe"}}), http.StatusUnprocessableEntity)
	wantBody(t, eve.get(tenantURL("acme-eu", "/settings/audit")), "Single sign-on inheritance changed")

	// Acme Corp is directly below the platform: its flag says it inherits,
	// but there is nothing to inherit, so it has the form and its own.
	if !a.tenant("acme").SSOInherit {
		t.Fatal("the demo's Acme Corp was expected to start inheriting")
	}
	page = alice.get(tenantURL("acme", ssoPage))
	wantBody(t, page, `name="issuer" type="url" value="https://login.acme.example"`)
	wantNoBody(t, page, "Inherited from", `name="inherit"`)
	wantStatus(t, postSSO(alice, "acme", "/inherit", url.Values{"inherit": {"on"}}), http.StatusConflict)
}

// TestSSOSettingsOtherTenants: a company's connection is read and changed
// only by its own Admins, at its own address; someone of another company,
// the one below it included, reaches nothing of it.
func TestSSOSettingsOtherTenants(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	wantStatus(t, saveSSO(alice, "acme", ssoForm("https://login.acme.example", "acme-client", "acme-secret", "acme.example", "viewer", false)), http.StatusSeeOther)
	before, _ := a.ssoRow("acme")

	bob := a.browser() // Admin of Acme Corp, owner of Globex
	bob.signIn("bob@globex.test", "globex")
	wantNoBody(t, bob.get(tenantURL("globex", ssoPage)), "login.acme.example", "acme-client")
	carol := a.browser() // of Initech only
	carol.signIn("carol@initech.test", "initech")
	eve := a.browser() // owner of Acme Europe, below Acme Corp
	eve.signIn("eve@acme.test", "acme-eu")
	dave := a.browser() // Viewer of Acme Corp
	dave.signIn("dave@acme.test", "acme")

	for name, b := range map[string]*browser{"carol": carol, "eve": eve} {
		t.Run(name+" at Acme Corp's address", func(t *testing.T) {
			r := b.get(tenantURL("acme", ssoPage))
			wantStatus(t, r, http.StatusSeeOther) // no session there: to sign in
			wantNoBody(t, r, "login.acme.example")
			// A token of their own company's host is no token at Acme Corp's.
			for _, action := range []string{"", "/delete", "/inherit"} {
				form := ssoForm("https://evil.example", "evil", "evil", "evil.example", "admin", false)
				form.Set("inherit", "on")
				wantStatus(t, b.submit(tenantURL(map[string]string{"carol": "initech", "eve": "acme-eu"}[name], "/"), tenantURL("acme", ssoPage+action), form), http.StatusForbidden)
			}
		})
	}
	for _, action := range []string{"", "/delete", "/inherit"} {
		form := ssoForm("https://evil.example", "evil", "evil", "evil.example", "admin", false)
		form.Set("inherit", "off")
		wantStatus(t, postSSO(dave, "acme", action, form), http.StatusForbidden)
	}
	// At Acme Europe's address, its owner acts on Acme Europe's own only.
	wantStatus(t, postSSO(eve, "acme-eu", "/delete", nil), http.StatusConflict)
	wantStatus(t, saveSSO(eve, "acme-eu", ssoForm("https://login.eu.example", "eu-client", "eu-secret", "acme-eu.example", "viewer", false)), http.StatusSeeOther)
	if after, saved := a.ssoRow("acme"); !saved || after != before {
		t.Fatalf("Acme Corp's connection changed: %+v, then %+v", before, after)
	}
	if eu, saved := a.ssoRow("acme-eu"); !saved || eu.ClientID != "eu-client" {
		t.Fatal("Acme Europe's own connection was not saved")
	}
}

// discoveryServer serves a discovery document made from its own address,
// as an identity provider on this machine would.
func discoveryServer(t *testing.T, doc func(issuer string) map[string]any) string {
	t.Helper()
	var issuer string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/.well-known/openid-configuration" {
			http.NotFound(w, r)
			return
		}
		d := doc(issuer)
		if d == nil {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write([]byte("<html>It works!</html>"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(d)
	}))
	t.Cleanup(srv.Close)
	issuer = srv.URL
	return issuer
}

func fullDocument(issuer string) map[string]any {
	return map[string]any{"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
		"jwks_uri": issuer + "/keys", "response_types_supported": []string{"code"}, "id_token_signing_alg_values_supported": []string{"RS256"}}
}

func without(keys ...string) func(string) map[string]any {
	return func(issuer string) map[string]any {
		d := fullDocument(issuer)
		for _, k := range keys {
			delete(d, k)
		}
		return d
	}
}

// TestSSOTestConnection: Test connection fetches the discovery document of
// the issuer typed (or, with none typed, the saved one) and says plainly
// what is wrong, keeping the form as typed but for the secret.
func TestSSOTestConnection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + closed.Addr().String()
	_ = closed.Close()
	good := discoveryServer(t, fullDocument)
	cases := []struct {
		name   string
		issuer string
		want   []string
	}{
		{"a good one", good, []string{`alert-success`, "The identity provider answers: " + good + ", sign-in at " + good + "/authorize. The client ID and secret are checked at the first sign-in."}},
		{"wrong issuer", discoveryServer(t, func(string) map[string]any { return fullDocument("https://elsewhere.example") }),
			[]string{"alert-error", "Wrong issuer", "says its issuer is &#34;https://elsewhere.example&#34;"}},
		{"no authorization endpoint", discoveryServer(t, without("authorization_endpoint")),
			[]string{"alert-error", "has no authorization_endpoint: Canopy needs it"}},
		{"no token endpoint nor keys", discoveryServer(t, without("token_endpoint", "jwks_uri")),
			[]string{"alert-error", "has no token_endpoint, no jwks_uri"}},
		{"no discovery document there", discoveryServer(t, fullDocument) + "/tenant-1", []string{"alert-error", "answered 404 Not Found", "/tenant-1/.well-known/openid-configuration"}},
		{"not a discovery document", discoveryServer(t, func(string) map[string]any { return nil }), []string{"alert-error", "but not with a discovery document"}},
		{"unreachable", refused, []string{"alert-error", "Unreachable: " + strings.TrimPrefix(refused, "http://") + " refused the connection"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := postSSO(alice, "acme", "/test", ssoForm(c.issuer, "typed-client", "typed-secret-xyz", "typed.example", "admin", true))
			wantStatus(t, r, http.StatusOK)
			wantBody(t, r, c.want...)
			// The form comes back as typed, but for the secret.
			wantBody(t, r, `value="typed-client"`, "typed.example", `<option value="admin" selected`, "Type the client secret again")
			wantNoBody(t, r, "typed-secret-xyz")
			if _, saved := a.ssoRow("acme"); saved {
				t.Fatal("testing saved the connection")
			}
		})
	}

	// With no issuer typed, the saved one is tested; a malformed one is
	// refused beside its field before anything is fetched.
	wantStatus(t, saveSSO(alice, "acme", ssoForm(good, "saved-client", "saved-secret", "acme.example", "viewer", false)), http.StatusSeeOther)
	r := postSSO(alice, "acme", "/test", ssoForm("", "saved-client", "", "acme.example", "viewer", false))
	wantBody(t, r, "The identity provider answers: "+good+",")
	wantNoBody(t, r, "Type the client secret again")
	r = postSSO(alice, "acme", "/test", ssoForm("ftp://login.acme.example", "saved-client", "", "acme.example", "viewer", false))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, `id="f-issuer-error">`, "Enter a URL like https://login.example.com")
	wantNoBody(t, r, "alert-success")
}

// TestSSOSecretNeverShown: a client secret, once typed, appears on no page
// (its own settings, a form sent back with errors, a test, a sub-tenant's
// that inherits it, the audit log and its export), in no audit row and in
// no log line.
func TestSSOSecretNeverShown(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	const secret = "canary-9d2f7e-client-secret-never-shown"
	issuer := discoveryServer(t, fullDocument)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	seen := []response{
		saveSSO(alice, "acme", ssoForm(issuer, "canary-client", secret, "not a domain", "viewer", false)),
		postSSO(alice, "acme", "/test", ssoForm(issuer, "canary-client", secret, "acme.example", "viewer", false)),
	}
	r := saveSSO(alice, "acme", ssoForm(issuer, "canary-client", secret, "acme.example", "viewer", true))
	wantStatus(t, r, http.StatusSeeOther)
	seen = append(seen, alice.follow(r))
	// Saved again without it, and with another change, for a second audit row.
	wantStatus(t, saveSSO(alice, "acme", ssoForm(issuer, "canary-client-2", "", "acme.example", "viewer", true)), http.StatusSeeOther)
	eve := a.browser()
	eve.signIn("eve@acme.test", "acme-eu")
	eu := a.tenant("acme-eu").ID
	seen = append(seen,
		alice.get(tenantURL("acme", ssoPage)),
		alice.get(tenantURL("acme", "/settings/company")),
		alice.get(tenantURL("acme", "/settings/audit")),
		alice.get(tenantURL("acme", "/settings/audit.csv")),
		alice.get(tenantURL("acme", fmt.Sprintf("/sub-tenants/%d/settings", eu))),
		eve.get(tenantURL("acme-eu", ssoPage)),
		eve.get(tenantURL("acme-eu", "/settings/company")),
	)
	wantBody(t, seen[len(seen)-2], "canary-client-2")                                        // the page shows what is in force
	wantBody(t, alice.get(tenantURL("acme", "/settings/audit.csv")), "sso.connection_saved") // and the export has the rows
	for _, r := range seen {
		wantNoBody(t, r, secret)
	}
	var rows []string
	if err := a.db.Raw("SELECT COALESCE(before, '') || ' ' || COALESCE(after, '') FROM audit_events WHERE action LIKE 'sso.%'").Scan(&rows).Error; err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d audit rows of single sign-on, want 2", len(rows))
	}
	for _, row := range rows {
		if strings.Contains(row, secret) || strings.Contains(row, "sealed") {
			t.Fatalf("an audit row holds the secret: %s", row)
		}
	}
	logs := a.logs.String()
	if !strings.Contains(logs, "single sign-on saved") {
		t.Fatalf("the server's log is not the one the test reads:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Fatalf("the server logged the secret:\n%s", logs)
	}
}

// TestTeamSignInColumn: Team says how each member signs in: with a
// password, through single sign-on, both, or not yet.
func TestTeamSignInColumn(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	acme := a.tenant("acme").ID
	link := func(email, subject string) {
		t.Helper()
		if err := a.db.Exec("INSERT INTO user_identities (user_id, issuer, subject, email) VALUES (?, ?, ?, ?)",
			a.user(email).ID, "https://login.acme.example", subject, email).Error; err != nil {
			t.Fatal(err)
		}
	}
	for _, email := range []string{"sso-only@acme.example", "nobody-yet@acme.example"} {
		u, err := a.store.CreateSSOUser(ctx, email, "Sam", "Soo")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.store.AddMember(ctx, acme, u.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	link("dave@acme.test", "dave-subject")
	link("sso-only@acme.example", "sam-subject")
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	page := alice.get(tenantURL("acme", "/settings/team"))
	wantBody(t, page, "Sign-in")
	_, table, _ := strings.Cut(page.body, "<tbody>")
	table, _, _ = strings.Cut(table, "</tbody>")
	rows := strings.Split(table, "<tr")
	for email, want := range map[string]string{
		"alice@acme.test": ">Password<", "dave@acme.test": ">Password and SSO<", "sso-only@acme.example": ">SSO<", "nobody-yet@acme.example": ">Not yet<",
	} {
		found := false
		for _, row := range rows {
			if strings.Contains(row, email) {
				found = true
				if !strings.Contains(row, want) {
					t.Errorf("%s's row lacks %q:\n%s", email, want, row)
				}
			}
		}
		if !found {
			t.Errorf("no row for %s", email)
		}
	}
}
