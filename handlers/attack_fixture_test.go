package handlers_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"canopy/internal/demo"
	"canopy/models"
)

// The attack tests aim requests at Canopy as different kinds of visitor and
// check what comes back, what leaks and what changes. They come in two
// parts sharing this fixture: the generated matrix (attack_matrix_test.go:
// every route × every kind of visitor × every kind of target tenant) and a
// table of named attacks (attack_scenarios_test.go), the published Grafana
// CVEs among them.

// atkVisitors are the kinds of visitor, each anchored on acme:
//   - anonymous: nobody signed in;
//   - stranger: a signed-in user who never belonged to any target (frank,
//     whose only company, acme-lab, is inactive): a target's host knows no
//     session of theirs, so they fare as anonymous there;
//   - non-member: a signed-in user whose membership of every target was
//     removed after they entered it, so they hold an open session on every
//     target host but belong to none;
//   - viewer (dave), editor (ed, made at setup), admin (bob), super admin
//     (alice): members of acme, and whatever else the demo data makes them.
var atkVisitors = []string{"anonymous", "stranger", "non-member", "viewer", "editor", "admin", "super_admin"}

var atkEmail = map[string]string{
	"stranger":    "frank@acme.test",
	"non-member":  "outsider@attack.test",
	"viewer":      "dave@acme.test",
	"editor":      "ed@attack.test",
	"admin":       "bob@globex.test",
	"super_admin": "alice@acme.test",
}

// atkTargets are the tenants a request is aimed at, by their relation to acme.
var atkTargets = []struct{ rel, sub string }{
	{"own", "acme"}, {"sibling", "globex"}, {"parent", "admin"}, {"child", "acme-eu"}, {"unrelated", "initech"},
}

// atkMarker is what would betray a company's data on a page: its name, its
// owner's email (shown beside the name in the company toggle) and strings
// found only in its own records.
type atkMarker struct {
	name, owner string
	data        []string
}

var atkMarkers = map[string]atkMarker{
	"admin":    {"Canopy Platform", "staff@canopy.test", []string{"Customer Success staff"}},
	"acme":     {"Acme Corp", "alice@acme.test", []string{"ACME-1001", "Maria Garcia", "Cold-chain logistics", "hooks.acme-attack.example"}},
	"globex":   {"Globex", "bob@globex.test", []string{"Global shipping", "hooks.globex-attack.example"}},
	"initech":  {"Initech", "carol@initech.test", []string{"TPS reports", "login.initech.example"}},
	"acme-eu":  {"Acme Europe", "eve@acme.test", []string{"EU-TL100-0001", "European operations"}},
	"acme-lab": {"Acme Lab", "frank@acme.test", []string{"new device models"}},
}

// atkOwnerIsUnique says which owner emails mark a company: alice and bob are
// members elsewhere too, so their emails prove nothing.
var atkOwnerIsUnique = map[string]bool{"admin": true, "initech": true, "acme-eu": true, "acme-lab": true}

var atkParent = map[string]string{"acme": "admin", "globex": "admin", "initech": "admin", "acme-eu": "acme", "acme-lab": "acme"}

// atk is the attack tests' fixture: one app, one signed-in browser per
// visitor, and sample records of several companies to aim at.
type atk struct {
	a          *app
	br         map[string]*browser
	role       map[string]map[string]models.Role // visitor → tenant → role, while a member
	session    map[string]map[string]bool        // visitor → tenant host → holds a signed-in session there
	ids        map[string]int64
	signedOut  map[string]bool
	ssoRemoved map[string]bool // target → its single sign-on was removed by an allowed visitor
	// accessPending: target → it has a request for production access waiting.
	accessPending map[string]bool
	seq           atomic.Int64
	// snapshotQueries read every record a refused request must not change.
	snapshotQueries []*sql.Stmt
}

func newAtk(t *testing.T) *atk {
	t.Helper()
	a := newApp(t)
	ctx := context.Background()
	x := &atk{a: a, br: map[string]*browser{}, role: map[string]map[string]models.Role{}, session: map[string]map[string]bool{}, ids: map[string]int64{}, signedOut: map[string]bool{}, ssoRemoved: map[string]bool{},
		accessPending: map[string]bool{}}
	for _, email := range []string{"ed@attack.test", "outsider@attack.test"} {
		if _, err := a.store.CreateUser(ctx, models.NewUser{Email: email, FirstName: "At", LastName: "Tacker", Password: demo.Password}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.store.AddMember(ctx, a.tenant("acme").ID, a.user("ed@attack.test").ID, models.RoleEditor); err != nil {
		t.Fatal(err)
	}
	outsider := a.user("outsider@attack.test")
	for _, tg := range atkTargets {
		if _, err := a.store.AddMember(ctx, a.tenant(tg.sub).ID, outsider.ID, models.RoleViewer); err != nil {
			t.Fatal(err)
		}
	}
	x.br["anonymous"] = a.browser()
	x.role["anonymous"], x.session["anonymous"] = map[string]models.Role{}, map[string]bool{}
	for _, v := range atkVisitors[1:] {
		b := a.browser()
		email := atkEmail[v]
		b.signIn(email, "")
		x.br[v], x.role[v], x.session[v] = b, map[string]models.Role{}, map[string]bool{}
		u := a.user(email)
		for sub := range atkMarkers {
			m, err := a.store.MembershipOf(ctx, a.tenant(sub).ID, u.ID)
			if err != nil {
				continue
			}
			x.role[v][sub] = m.Role
			if !a.tenant(sub).Active() {
				continue
			}
			home := b.follow(b.get(tenantURL(sub, "/")))
			if home.status != http.StatusOK {
				t.Fatalf("%s entering %s: %d", email, sub, home.status)
			}
			x.session[v][sub] = true
		}
	}
	// The non-member's memberships go; their open sessions stay.
	for _, tg := range atkTargets {
		if err := a.store.RemoveMember(ctx, a.tenant(tg.sub).ID, outsider.ID); err != nil {
			t.Fatal(err)
		}
		delete(x.role["non-member"], tg.sub)
	}
	// Sample records of several companies, to aim at from the wrong one.
	alice, bob := x.br["super_admin"], x.br["admin"]
	wantStatus(t, addMember(alice, "acme", person("pending-acme@attack.test", "viewer")), http.StatusSeeOther)
	wantStatus(t, addMember(bob, "globex", person("pending-globex@attack.test", "viewer")), http.StatusSeeOther)
	x.ids["inv:acme"] = x.invitationID("pending-acme@attack.test")
	x.ids["inv:globex"] = x.invitationID("pending-globex@attack.test")
	x.ids["member:acme"] = a.membershipID("dave@acme.test", "acme")
	x.ids["member:globex"] = a.membershipID("alice@acme.test", "globex")
	x.ids["member:initech"] = a.membershipID("carol@initech.test", "initech")
	x.ids["member:acme-owner"] = a.membershipID("alice@acme.test", "acme")
	x.ids["session:carol"] = a.newSession(a.user("carol@initech.test")) // a browser of someone no visitor is
	x.ids["device:acme-eu"] = a.device("acme-eu", "EU-TL100-0001").ID
	x.ids["device:acme"] = a.addDevice("acme", "ACME-DEV-0001", "Thermo Logger T-100").ID
	x.ids["template:acme"] = a.templateID("acme", "Employment verification")
	x.ids["order:acme"] = a.orderID("acme", "ACME-1001") // completed: no step is left
	freight, err := a.store.CreateTemplate(ctx, a.tenant("globex").ID, a.user("bob@globex.test").ID,
		models.NewTemplate{Name: "Freight check", BrandingCompanyName: "Freight", Collects: []string{"identity"}})
	if err != nil {
		t.Fatal(err)
	}
	x.ids["template:globex"] = freight.ID
	// Initech's single sign-on, which no visitor may manage.
	if _, err := a.store.SaveSSOConnection(ctx, a.tenant("initech").ID, models.SSOConnectionInput{Issuer: "https://login.initech.example",
		ClientID: "initech-client", SealedSecret: "v1.sealed-elsewhere", Domains: "initech.example", JoinRole: models.RoleViewer}); err != nil {
		t.Fatal(err)
	}
	for sub := range atkMarkers {
		x.ids["tenant:"+sub] = a.tenant(sub).ID
	}
	for _, sub := range []string{"acme", "globex"} {
		c, err := a.store.SaveSSOConnection(ctx, a.tenant(sub).ID, models.SSOConnectionInput{Issuer: "https://login." + sub + ".test",
			ClientID: "canopy", SealedSecret: "v1.test", Domains: sub + "-attack.test", JoinRole: models.RoleViewer})
		if err != nil {
			t.Fatal(err)
		}
		x.ids["domain:"+sub] = c.Domains[0].ID
	}
	// A sandbox key and a waiting request for production access of acme and
	// of globex, each to aim at from the other companies.
	for _, sub := range []string{"acme", "globex"} {
		key := x.a.namedAPIKey(sub, "Attack sample key", models.APISandbox)
		x.ids["key:"+sub] = key.ID
		req, err := a.store.RequestProductionAccess(ctx, a.tenant(sub).ID, models.NewProductionAccessRequest{IntendedUse: "Sample", MonthlyVolume: "10"})
		if err != nil {
			t.Fatal(err)
		}
		x.ids["request:"+sub] = req.ID
		x.accessPending[sub] = true
	}
	// A webhook endpoint of acme and of globex, each with a delivery, to aim
	// at from the other companies: their URLs are markers above.
	for _, sub := range []string{"acme", "globex"} {
		e, _, err := a.store.CreateWebhookEndpoint(ctx, a.tenant(sub).ID, models.WebhookEndpointInput{Environment: models.WebhookSandbox,
			URL: "https://hooks." + sub + "-attack.example/in", Events: []string{models.EventOrderCreated}})
		if err != nil {
			t.Fatal(err)
		}
		x.ids["hook:"+sub] = e.ID
		d, err := a.store.SendWebhookTestEvent(ctx, a.tenant(sub).ID, e.ID, models.EventOrderCreated)
		if err != nil {
			t.Fatal(err)
		}
		x.ids["delivery:"+sub] = d.ID
	}
	// Staff's billing figures, which only staff may refresh.
	if _, err := a.store.RefreshBillingProjections(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	plan, err := a.store.DefaultBillingPlan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	x.ids["plan:default"] = plan.ID
	// A passkey of someone who is none of the visitors: nobody but eve may
	// rename or remove it.
	eve := a.user("eve@acme.test")
	if err := a.db.Exec("INSERT INTO user_passkeys (user_id, credential_id, public_key, name) VALUES (?, ?, ?, ?)",
		eve.ID, []byte("eve-passkey"), []byte{1}, "Eve's phone").Error; err != nil {
		t.Fatal(err)
	}
	var passkey int64
	if err := a.db.Raw("SELECT id FROM user_passkeys WHERE user_id = ?", eve.ID).Scan(&passkey).Error; err != nil || passkey == 0 {
		t.Fatalf("eve's passkey: %v", err)
	}
	x.ids["passkey:eve"] = passkey
	x.prepareSnapshot(t)
	snap := x.snapshot()
	for _, table := range []string{"tenants", "memberships", "invitations", "devices", "orders", "templates", "tenant_solutions", "sso_domains", "sso_connections",
		"api_keys", "production_access_requests", "webhook_endpoints", "webhook_deliveries", "billing_projections", "billing_plans", "billing_terms"} {
		if !strings.Contains(snap, "\n"+table+" [") && !strings.HasPrefix(snap, table+" [") {
			t.Fatalf("the snapshot misses the %s table: it could not prove nothing changed", table)
		}
	}
	return x
}

func (x *atk) invitationID(email string) int64 {
	var id int64
	if err := x.a.db.Raw("SELECT id FROM invitations WHERE email = ? ORDER BY id DESC", email).Scan(&id).Error; err != nil || id == 0 {
		x.a.t.Fatalf("invitation of %s: %v", email, err)
	}
	return id
}

func (x *atk) id(key string) string { return strconv.FormatInt(x.ids[key], 10) }

func (x *atk) unique(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, x.seq.Add(1))
}

// snapshot is every tenant-owned record, to prove a refused request changed nothing.
func (x *atk) snapshot() string {
	x.a.t.Helper()
	var sb strings.Builder
	for i, stmt := range x.snapshotQueries {
		rows, err := stmt.Query()
		if err != nil {
			x.a.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				x.a.t.Fatal(err)
			}
			fmt.Fprintf(&sb, "%s %v\n", snapshotTables[i], vals)
		}
		if err := rows.Close(); err != nil {
			x.a.t.Fatal(err)
		}
	}
	return sb.String()
}

// snapshotTables are the tables a refused request must leave as they were.
var snapshotTables = []string{"tenants", "memberships", "invitations", "devices", "orders", "templates", "membership_templates", "tenant_solutions",
	"sso_connections", "sso_domains", "api_keys", "production_access_requests", "webhook_endpoints", "webhook_deliveries",
	"billing_projections", "billing_plans", "billing_terms", "user_passkeys"}

// prepareSnapshot prepares snapshot's queries once: the matrix takes a
// snapshot after each of its thousand or so POSTs.
func (x *atk) prepareSnapshot(t *testing.T) {
	sqlDB, err := x.a.db.DB()
	if err != nil {
		t.Fatal(err)
	}
	for _, table := range snapshotTables {
		order := "id"
		switch table {
		case "membership_templates", "tenant_solutions", "billing_terms":
			order = "1, 2"
		case "billing_projections":
			order = "1, 2, 3"
		}
		stmt, err := sqlDB.Prepare("SELECT * FROM " + table + " ORDER BY " + order)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = stmt.Close() })
		x.snapshotQueries = append(x.snapshotQueries, stmt)
	}
}

// token is the visitor's CSRF token on a tenant host, read from a page of
// that host as the visitor's own browser sees it ("" when the host shows the
// visitor no page with a form: a visitor without a session there).
func (x *atk) token(b *browser, host string) string {
	paths := []string{"/"}
	if host == base {
		paths = append(paths, "/login") // the sign-in form, for a visitor without a session
	}
	for _, path := range paths {
		r := b.get(host + path)
		if m := csrfField.FindStringSubmatch(r.body); m != nil {
			return m[1]
		}
	}
	return ""
}

// send makes the request of one case: a GET as is, a POST with the
// visitor's own CSRF token of that host.
func (x *atk) send(b *browser, method, rawURL string, form url.Values) response {
	if method == http.MethodGet {
		return b.get(rawURL)
	}
	u := mustParse(x.a.t, rawURL)
	if form == nil {
		form = url.Values{}
	}
	if tok := x.token(b, u.Scheme+"://"+u.Host); tok != "" {
		form.Set("_csrf", tok)
	}
	return b.post(rawURL, form)
}

// leaks lists the markers of companies the visitor may not see found in a
// page of target's host.
func (x *atk) leaks(visitor, target, body string) []string {
	allowed := map[string]bool{atkMarkers[target].name: true}
	allow := func(sub string, all bool) {
		m := atkMarkers[sub]
		allowed[m.name], allowed[m.owner] = true, true
		if all {
			for _, d := range m.data {
				allowed[d] = true
			}
		}
	}
	if role, ok := x.role[visitor][target]; ok {
		allow(target, true)
		if p := atkParent[target]; p != "" {
			allowed[atkMarkers[p].name] = true
		}
		if role == models.RoleSuperAdmin {
			for child, parent := range atkParent {
				if parent == target {
					allow(child, true)
				}
			}
		}
		for sub := range x.role[visitor] { // the company toggle
			allow(sub, false)
		}
	}
	var found []string
	for sub, m := range atkMarkers {
		markers := append([]string{m.name}, m.data...)
		if atkOwnerIsUnique[sub] {
			markers = append(markers, m.owner)
		}
		for _, s := range markers {
			if !allowed[s] && strings.Contains(body, s) {
				found = append(found, s)
			}
		}
	}
	sort.Strings(found)
	return found
}

var atkEmailRE = regexp.MustCompile(`[a-z0-9._+-]+@[a-z0-9.-]+\.[a-z]+`)

var atkPagerRE = regexp.MustCompile(`\d+–\d+ of (\d+)`)

var headingRE = regexp.MustCompile(`<h[12][^>]*>([^<]*)<`)

// heading is a page's first heading, to say briefly which page came back.
func heading(body string) string {
	if m := headingRE.FindStringSubmatch(body); m != nil {
		return strconv.Quote(m[1])
	}
	if len(body) > 200 {
		body = body[:200]
	}
	return strconv.Quote(body)
}

// signedIn is a fresh browser signed in as email that has entered subs.
func (x *atk) signedIn(email string, subs ...string) *browser {
	x.a.t.Helper()
	b := x.a.browser()
	b.signIn(email, "")
	for _, sub := range subs {
		wantStatus(x.a.t, b.follow(b.get(tenantURL(sub, "/"))), http.StatusOK)
	}
	return b
}

// refused sends a request that must be refused with status and change no record.
func (x *atk) refused(t *testing.T, b *browser, method, rawURL string, form url.Values, status int) response {
	t.Helper()
	before := x.snapshot()
	r := x.send(b, method, rawURL, form)
	if r.status != status {
		t.Fatalf("%s %s: status %d, want %d %s", method, rawURL, r.status, status, heading(r.body))
	}
	if x.snapshot() != before {
		t.Fatalf("%s %s was refused but changed records", method, rawURL)
	}
	return r
}

// cookieOf is a browser's session cookie on a host.
func (b *browser) cookieOf(host string) *http.Cookie {
	for _, c := range b.client.Jar.Cookies(mustParse(b.app.t, host)) {
		if c.Name == "canopy_session" {
			return c
		}
	}
	b.app.t.Fatalf("no session cookie for %s", host)
	return nil
}

// plant puts a cookie in a browser's jar for a host, as a sibling subdomain
// tossing a cookie, or a thief replaying one, would.
func (b *browser) plant(host string, c *http.Cookie) {
	b.client.Jar.SetCookies(mustParse(b.app.t, host), []*http.Cookie{{Name: c.Name, Value: c.Value, Path: "/"}})
}

// hops follows redirects and returns every address visited.
func (b *browser) hops(rawURL string) (response, []string) {
	r := b.get(rawURL)
	visited := []string{rawURL}
	for i := 0; i < 10 && r.status >= 300 && r.status < 400; i++ {
		next := mustParse(b.app.t, r.url).ResolveReference(mustParse(b.app.t, r.location)).String()
		visited = append(visited, next)
		r = b.get(next)
	}
	return r, visited
}

func ourHost(u *url.URL) bool {
	return u.Host == "localhost:8080" || strings.HasSuffix(u.Host, ".localhost:8080") && !strings.Contains(strings.TrimSuffix(u.Host, ".localhost:8080"), ".")
}

func (x *atk) scalar(query string, args ...any) string {
	var s string
	if err := x.a.db.Raw(query, args...).Row().Scan(&s); err != nil {
		return "<none>"
	}
	return s
}
