package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"canopy/internal/apikey"
	"canopy/models"
)

// namedAPIKey gives a company a key made by the store, as the API keys page
// would, and returns it (Canopy never keeps the key itself).
func (a *app) namedAPIKey(sub, name string, env models.APIEnvironment) *models.APIKey {
	a.t.Helper()
	k, err := apikey.New(env == models.APIProduction)
	if err != nil {
		a.t.Fatal(err)
	}
	stored, err := a.store.CreateAPIKey(context.Background(), a.tenant(sub).ID,
		models.NewAPIKey{Name: name, Environment: env, Scopes: []models.APIScope{models.ScopeOrdersRead}},
		models.HashedAPIKey{Hash: apikey.NewHasher(a.secrets.APIKeyHash).Hash(k), Prefix: k.Prefix(), Last4: k.Last4()})
	if err != nil {
		a.t.Fatal(err)
	}
	return stored
}

// shownKey is the key a page shows whole, or "".
var shownKey = regexp.MustCompile(`cnp_(?:test|live)_[0-9A-Za-z]{38}`)

func keyOn(t *testing.T, r response) string {
	t.Helper()
	m := shownKey.FindAllString(r.body, -1)
	if len(m) == 0 {
		t.Fatalf("%s shows no key (status %d)\n%s", r.url, r.status, excerpt(r.body))
	}
	return m[0]
}

func keysForm(name, env string, scopes ...string) url.Values {
	return url.Values{"name": {name}, "environment": {env}, "scopes": scopes}
}

var keysPage = tenantURL("acme", "/developers/api-keys")

// TestAPIKeyIsShownOnceAndStoredAsItsKeyedHash: an Admin creates a key;
// the answer to the POST shows it whole, uncached; afterwards no page, log
// line, audit row (or its CSV) or stored column holds it, only its keyed
// hash, prefix and last 4.
func TestAPIKeyIsShownOnceAndStoredAsItsKeyedHash(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	r := alice.submit(keysPage+"/new", keysPage, keysForm("Billing system", "sandbox", "orders:read", "devices:read"))
	wantStatus(t, r, http.StatusOK)
	secret := keyOn(t, r)
	wantBody(t, r, "Copy this key now", "It will not be shown again", `data-copy="#new-api-key"`)
	if !strings.HasPrefix(secret, apikey.SandboxPrefix) {
		t.Fatalf("a sandbox key reads %s", secret)
	}
	if got := r.header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("the page showing the key is cached: Cache-Control %q", got)
	}
	parsed, err := apikey.Parse(secret)
	if err != nil {
		t.Fatal(err)
	}

	// What is stored: the keyed hash, prefix and last 4, nothing else of it.
	var rows []map[string]any
	if err := a.db.Table("api_keys").Where("tenant_id = ?", a.tenant("acme").ID).Find(&rows).Error; err != nil || len(rows) != 1 {
		t.Fatalf("api_keys rows: %v (%v)", rows, err)
	}
	if got, want := fmt.Sprint(rows[0]["secret_hash"]), apikey.NewHasher(a.secrets.APIKeyHash).Hash(parsed); got != want {
		t.Errorf("stored hash %s, want the HMAC %s", got, want)
	}
	if fmt.Sprint(rows[0]["last4"]) != parsed.Last4() || fmt.Sprint(rows[0]["prefix"]) != apikey.SandboxPrefix {
		t.Errorf("stored %v", rows[0])
	}
	body := secret[len(apikey.SandboxPrefix):]
	for col, v := range rows[0] {
		if s := fmt.Sprint(v); strings.Contains(s, body[:16]) || strings.Contains(s, secret) {
			t.Errorf("column %s holds the key: %s", col, s)
		}
	}

	// Nowhere else: every page she visits, the audit log and its CSV, the
	// audit rows, the outbox and the server's log.
	list := alice.get(keysPage)
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "Billing system", html.EscapeString(apikey.SandboxPrefix+"…"+parsed.Last4()), "orders:read", "devices:read", "Never", "Active")
	pages := []string{"/", "/developers/api-keys", "/developers/api-keys/new", "/developers/production-access", "/settings/audit", "/settings/audit.csv",
		"/settings/audit?action=api_key.created"}
	for _, p := range pages {
		page := alice.get(tenantURL("acme", p))
		wantStatus(t, page, http.StatusOK)
		if strings.Contains(page.body, secret) || strings.Contains(page.body, body[:16]) {
			t.Errorf("%s shows the key", p)
		}
	}
	wantBody(t, alice.get(tenantURL("acme", "/settings/audit")), "API key created")
	var audit []string
	a.db.Raw("SELECT COALESCE(target_label, '') || ' ' || COALESCE(before, '') || ' ' || COALESCE(after, '') FROM audit_events").Scan(&audit)
	var outbox []string
	a.db.Raw("SELECT subject || ' ' || body_text FROM outbox_emails").Scan(&outbox)
	for where, texts := range map[string][]string{"the audit log": audit, "the outbox": outbox, "the server's log": {a.logs.String()}} {
		for _, s := range texts {
			if strings.Contains(s, secret) || strings.Contains(s, body[:16]) {
				t.Errorf("%s holds the key: %s", where, s)
			}
		}
	}
	if !strings.Contains(a.logs.String(), "api key created") {
		t.Error("the log does not say a key was created")
	}
	if got := a.auditActions("acme"); !containsAction(got, models.AuditAPIKeyCreated) {
		t.Errorf("audit %v lacks %s", got, models.AuditAPIKeyCreated)
	}
}

func containsAction(actions []string, want string) bool {
	for _, a := range actions {
		if a == want {
			return true
		}
	}
	return false
}

// TestAPIKeyFormRefusals: the form comes back with each problem beside its
// field; an eleventh working key of an environment is refused with the
// store's message.
func TestAPIKeyFormRefusals(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bob := a.browser()
	bob.signIn("bob@globex.test", "acme") // acme's Admin
	for _, c := range []struct {
		name    string
		form    url.Values
		message string
	}{
		{"no name", keysForm(" ", "sandbox", "orders:read"), "Name the key"},
		{"no scope", keysForm("CI", "sandbox"), "Choose at least one scope."},
		{"an unknown scope", keysForm("CI", "sandbox", "admin:everything"), "Choose scopes from the list."},
		{"an unknown environment", keysForm("CI", "staging", "orders:read"), "Choose Sandbox or Production."},
		{"production before access", keysForm("CI", "production", "orders:read"), "Production keys need production access."},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			r := bob.submit(keysPage+"/new", keysPage, c.form)
			wantStatus(t, r, http.StatusUnprocessableEntity)
			wantBody(t, r, html.EscapeString(c.message))
			if shownKey.MatchString(r.body) {
				t.Error("a refused form shows a key")
			}
		})
	}
	a.t = t
	for i := range models.MaxActiveAPIKeys {
		a.namedAPIKey("acme", fmt.Sprintf("Key %d", i), models.APISandbox)
	}
	r := bob.submit(keysPage+"/new", keysPage, keysForm("Eleventh", "sandbox", "orders:read"))
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "This environment already has 10 keys that work. Revoke one first.")
}

// TestAPIKeysAreReadOnlyBelowAdmin: an Editor and a Viewer see the keys and
// where production access stands, with no form or button to change them,
// and their POSTs are refused.
func TestAPIKeysAreReadOnlyBelowAdmin(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acmeKey := a.namedAPIKey("acme", "Acme ERP", models.APISandbox)
	globexKey := a.namedAPIKey("globex", "Globex ERP", models.APISandbox)
	dave, alice := a.browser(), a.browser()
	dave.signIn("dave@acme.test", "acme")     // Viewer
	alice.signIn("alice@acme.test", "globex") // Editor there
	for _, c := range []struct {
		who string
		b   *browser
		sub string
		key *models.APIKey
	}{{"viewer", dave, "acme", acmeKey}, {"editor", alice, "globex", globexKey}} {
		t.Run(c.who, func(t *testing.T) {
			a.t = t
			page := c.b.get(tenantURL(c.sub, "/developers/api-keys"))
			wantStatus(t, page, http.StatusOK)
			wantBody(t, page, html.EscapeString(c.key.Masked()), "Admins create, roll and revoke them", "No production access yet")
			main := page.body[strings.Index(page.body, `id="main"`):strings.Index(page.body, "</main>")]
			for _, control := range []string{"<form", "New API key", "Roll…", "Revoke", "Request production access"} {
				if strings.Contains(main, control) {
					t.Errorf("a %s sees %q", c.who, control)
				}
			}
			for _, path := range []string{"/developers/api-keys/new", "/developers/production-access"} {
				wantStatus(t, c.b.get(tenantURL(c.sub, path)), http.StatusForbidden)
			}
			home := tenantURL(c.sub, "/")
			for path, form := range map[string]url.Values{
				"/developers/api-keys":                                  keysForm("Mine", "sandbox", "orders:read"),
				fmt.Sprintf("/developers/api-keys/%d/revoke", c.key.ID): nil,
				fmt.Sprintf("/developers/api-keys/%d/roll", c.key.ID):   {"expires_in": {"0"}},
				"/developers/production-access":                         {"intended_use": {"Mine"}, "monthly_volume": {"5"}},
			} {
				wantStatus(t, c.b.submit(home, tenantURL(c.sub, path), form), http.StatusForbidden)
			}
		})
	}
	a.t = t
	var n int64
	a.db.Table("api_keys").Where("revoked_at IS NOT NULL OR expires_at IS NOT NULL").Count(&n)
	if n != 0 {
		t.Errorf("%d keys changed by refused requests", n)
	}
}

// TestRevokeAndRollAPIKeys: revoking stops a key at once; rolling shows a
// new key once and keeps the old one working until the chosen time; a key
// of another company is not found.
func TestRevokeAndRollAPIKeys(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	revoked := a.namedAPIKey("acme", "Old ERP", models.APISandbox)
	rolled := a.namedAPIKey("acme", "Warehouse", models.APISandbox)
	stopped := a.namedAPIKey("acme", "Stopped now", models.APISandbox)
	globex := a.namedAPIKey("globex", "Globex ERP", models.APISandbox)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	path := func(k *models.APIKey, action string) string {
		return tenantURL("acme", fmt.Sprintf("/developers/api-keys/%d/%s", k.ID, action))
	}

	r := alice.submit(keysPage, path(revoked, "revoke"), nil)
	wantStatus(t, r, http.StatusSeeOther)
	if page := alice.flashes("acme"); !strings.Contains(page, "Revoked Old ERP ("+revoked.Masked()+")") {
		t.Error("no word of the revocation")
	}
	wantStatus(t, alice.submit(keysPage, path(revoked, "revoke"), nil), http.StatusSeeOther)
	if page := alice.flashes("acme"); !strings.Contains(page, "That key had already stopped working.") {
		t.Error("revoking twice says nothing")
	}

	form := alice.get(path(rolled, "roll"))
	wantStatus(t, form, http.StatusOK)
	wantBody(t, form, "Roll Warehouse", html.EscapeString(rolled.Masked()), `name="expires_in"`, "In 7 days")
	wrong := alice.submit(path(rolled, "roll"), path(rolled, "roll"), url.Values{"expires_in": {"5"}})
	wantStatus(t, wrong, http.StatusUnprocessableEntity)
	wantBody(t, wrong, "Choose when the old key stops working.")

	r = alice.submit(keysPage, path(rolled, "roll"), url.Values{"expires_in": {"24"}})
	wantStatus(t, r, http.StatusOK)
	secret := keyOn(t, r)
	wantBody(t, r, "Your rolled key", html.EscapeString(rolled.Masked()), "keeps working until")
	if r.header.Get("Cache-Control") != "no-store" {
		t.Error("the rolled key's page is cached")
	}
	wantStatus(t, alice.submit(keysPage, path(stopped, "roll"), url.Values{"expires_in": {"0"}}), http.StatusOK)
	wantStatus(t, alice.submit(keysPage, path(stopped, "roll"), url.Values{"expires_in": {"0"}}), http.StatusSeeOther)
	if page := alice.flashes("acme"); !strings.Contains(page, "nothing to roll") {
		t.Error("rolling a stopped key says nothing")
	}
	// A key is rolled once: its page and a second roll send back to the list.
	wantStatus(t, alice.get(path(rolled, "roll")), http.StatusSeeOther)
	wantStatus(t, alice.submit(keysPage, path(rolled, "roll"), url.Values{"expires_in": {"168"}}), http.StatusSeeOther)
	if page := alice.flashes("acme"); !strings.Contains(page, "already rolled") {
		t.Error("rolling a rolled key says nothing")
	}

	list := html.UnescapeString(alice.get(keysPage).body)
	for _, want := range []string{"Revoked", "Expiring", "Expires in 24 hours", "Expired", secret[len(secret)-4:]} {
		if !strings.Contains(list, want) {
			t.Errorf("the list lacks %q", want)
		}
	}
	if strings.Contains(list, secret) {
		t.Error("the list shows the rolled key whole")
	}
	actions := strings.Join(a.auditActions("acme"), " ")
	if strings.Count(actions, models.AuditAPIKeyRevoked) != 1 || strings.Count(actions, models.AuditAPIKeyRolled) != 2 {
		t.Errorf("audit: %s", actions)
	}
	for _, action := range []string{"revoke", "roll"} {
		wantStatus(t, alice.submit(keysPage, path(globex, action), url.Values{"expires_in": {"0"}}), http.StatusNotFound)
	}
	if k, _ := a.store.APIKeyOf(context.Background(), a.tenant("globex").ID, globex.ID); k.RevokedAt != nil || k.ExpiresAt != nil {
		t.Error("acme changed globex's key")
	}
}

// TestProductionAccessIsApprovedByStaff: production keys are refused until
// an Admin asks for production access and platform staff, on the
// platform's host, approve it; the company's Admins and Super Admins are
// emailed the answer, with a link on the configured address; then a live
// key can be made and Home ticks the step.
func TestProductionAccessIsApprovedByStaff(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	bob, alice, staff := a.browser(), a.browser(), a.browser()
	bob.signIn("bob@globex.test", "acme")
	alice.signIn("alice@acme.test", "acme")
	staff.signIn("staff@canopy.test", "admin")
	accessForm := tenantURL("acme", "/developers/production-access")

	home := alice.get(tenantURL("acme", "/"))
	wantBody(t, home, "Request production keys", "Request production access", `href="/developers/api-keys"`)
	wantStatus(t, bob.submit(keysPage+"/new", keysPage, keysForm("Live", "production", "orders:write")), http.StatusUnprocessableEntity)

	wantStatus(t, bob.submit(accessForm, accessForm, url.Values{"intended_use": {""}, "monthly_volume": {"many"}}), http.StatusUnprocessableEntity)
	r := bob.submit(accessForm, accessForm, url.Values{"intended_use": {"Payroll checks for our HR system"}, "monthly_volume": {"1,200"}})
	wantStatus(t, r, http.StatusSeeOther)
	wantBody(t, bob.get(keysPage), "Pending", "Production access requested")
	// While it waits there is no form to fill in: the keys page says where it stands.
	waiting := bob.get(accessForm)
	wantStatus(t, waiting, http.StatusSeeOther)
	wantBody(t, bob.follow(waiting), "is waiting for Canopy")
	wantBody(t, alice.get(tenantURL("acme", "/")), "Production access is requested", "See where it stands")
	again := bob.submit(accessForm, accessForm, url.Values{"intended_use": {"Again"}, "monthly_volume": {"3"}})
	wantStatus(t, again, http.StatusUnprocessableEntity)
	wantBody(t, again, "already has a request waiting")

	// Staff see it on the platform's host only.
	wantStatus(t, alice.get(tenantURL("acme", "/access-requests")), http.StatusNotFound)
	list := staff.get(tenantURL("admin", "/access-requests"))
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "Acme Corp", "Payroll checks for our HR system", "1,200", "bob@globex.test")
	var id int64
	a.db.Raw("SELECT id FROM production_access_requests WHERE tenant_id = ?", a.tenant("acme").ID).Scan(&id)
	approve := tenantURL("admin", fmt.Sprintf("/access-requests/%d/approve", id))
	wantStatus(t, staff.submit(tenantURL("admin", "/access-requests"), approve, nil), http.StatusSeeOther)
	wantBody(t, staff.get(tenantURL("admin", "/access-requests")), "No requests are waiting", "Recently decided", "Approved", "staff@canopy.test")
	wantStatus(t, staff.submit(tenantURL("admin", "/access-requests"), approve, nil), http.StatusSeeOther) // decided already: a flash

	for _, to := range []string{"alice@acme.test", "bob@globex.test"} {
		msgs, err := a.store.OutboxFor(context.Background(), to)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("emails to %s: %d (%v)", to, len(msgs), err)
		}
		if !strings.Contains(msgs[0].Subject, "Production access approved for the company “Acme Corp”") ||
			!strings.Contains(msgs[0].BodyText, "http://acme.localhost:8080/developers/api-keys") {
			t.Errorf("email to %s: %s\n%s", to, msgs[0].Subject, msgs[0].BodyText)
		}
	}
	if msgs, _ := a.store.OutboxFor(context.Background(), "dave@acme.test"); len(msgs) != 0 {
		t.Error("a Viewer was emailed the decision")
	}
	actions := strings.Join(a.auditActions("acme"), " ")
	for _, want := range []string{models.AuditProductionAccessRequested, models.AuditProductionAccessApproved} {
		if !strings.Contains(actions, want) {
			t.Errorf("acme's audit lacks %s: %s", want, actions)
		}
	}

	r = bob.submit(keysPage+"/new", keysPage, keysForm("Live", "production", "orders:write"))
	wantStatus(t, r, http.StatusOK)
	if !strings.HasPrefix(keyOn(t, r), apikey.ProductionPrefix) {
		t.Error("a production key is not cnp_live_")
	}
	wantBody(t, alice.get(keysPage), "Approved", "cnp_live_…")
	home = alice.get(tenantURL("acme", "/"))
	if item := setupItemOf(t, home, "Request production keys"); !strings.Contains(item, "is-done") {
		t.Errorf("Home's production step is not ticked: %s", item)
	}
}

// setupItemOf is the checklist item of Home that names title.
func setupItemOf(t *testing.T, r response, title string) string {
	t.Helper()
	i := strings.Index(r.body, title)
	if i < 0 {
		t.Fatalf("Home has no %q", title)
	}
	start := strings.LastIndex(r.body[:i], "<li")
	return r.body[start : i+strings.Index(r.body[i:], "</li>")]
}

// TestProductionAccessDeclinedWithAReason: staff must say why; the company
// reads the reason on its API keys page and in the email, and may ask again.
func TestProductionAccessDeclinedWithAReason(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	req, err := a.store.RequestProductionAccess(context.Background(), a.tenant("acme").ID,
		models.NewProductionAccessRequest{IntendedUse: "Scraping", MonthlyVolume: "100000"})
	if err != nil {
		t.Fatal(err)
	}
	staff, alice := a.browser(), a.browser()
	staff.signIn("staff@canopy.test", "admin")
	alice.signIn("alice@acme.test", "acme")
	list := tenantURL("admin", "/access-requests")
	decline := tenantURL("admin", fmt.Sprintf("/access-requests/%d/decline", req.ID))

	r := staff.submit(list, decline, url.Values{"reason": {"  "}})
	wantStatus(t, r, http.StatusUnprocessableEntity)
	wantBody(t, r, "Say why, in a sentence the company will read.")
	wantStatus(t, staff.submit(list, decline, url.Values{"reason": {"Tell us more about the data you keep."}}), http.StatusSeeOther)

	page := alice.get(keysPage)
	wantBody(t, page, "Declined", "Tell us more about the data you keep.", "Request again")
	msgs, err := a.store.OutboxFor(context.Background(), "alice@acme.test")
	if err != nil || len(msgs) != 1 || !strings.Contains(msgs[0].BodyText, "Tell us more about the data you keep.") ||
		!strings.Contains(msgs[0].Subject, "declined") {
		t.Fatalf("the decline's email: %+v (%v)", msgs, err)
	}
	if e := a.lastAudit("acme"); e.Action != models.AuditProductionAccessDeclined || e.ActorEmail != "staff@canopy.test" {
		t.Errorf("last audit event %s by %s", e.Action, e.ActorEmail)
	}
	form := tenantURL("acme", "/developers/production-access")
	wantBody(t, alice.get(form), "Your last request was declined")
	wantStatus(t, alice.submit(form, form, url.Values{"intended_use": {"Employment checks"}, "monthly_volume": {"40"}}), http.StatusSeeOther)
	wantBody(t, alice.get(keysPage), "Pending")
}

// TestNewAPIKeyFormSentTwiceMakesOneKey: reloading the page that shows a
// new key sends its form again; the second sending makes no key and shows
// none, and points to the list.
func TestNewAPIKeyFormSentTwiceMakesOneKey(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	form := alice.get(keysPage + "/new")
	token := regexp.MustCompile(`name="form_token" value="([^"]+)"`).FindStringSubmatch(form.body)
	if token == nil {
		t.Fatal("the new key form carries no form token")
	}
	sent := keysForm("Billing system", "sandbox", "orders:read")
	sent.Set("form_token", token[1])
	sent.Set("_csrf", alice.csrf(keysPage+"/new"))
	first := alice.post(keysPage, sent)
	wantStatus(t, first, http.StatusOK)
	keyOn(t, first)

	again := alice.post(keysPage, sent)
	wantStatus(t, again, http.StatusSeeOther)
	if shownKey.MatchString(again.body) {
		t.Fatal("the form sent again shows a key")
	}
	wantBody(t, alice.follow(again), "That key was already created")
	var n int64
	a.db.Table("api_keys").Where("tenant_id = ?", a.tenant("acme").ID).Count(&n)
	if n != 1 {
		t.Fatalf("%d keys after the form was sent twice, want 1", n)
	}
}
