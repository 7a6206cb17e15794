package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/labstack/echo/v4"

	"canopy/internal/demo"
	"canopy/models"
)

// The attack matrix (issue 5, item 3): every route of the router × every
// kind of visitor × the tenant the request is aimed at, relative to the
// visitor's own company (acme) → the expected status, nothing leaked from a
// company the visitor may not see, and nothing changed when refused. Named
// rows below replay known attacks, the published Grafana CVEs among them.

// atkVisitors are the kinds of visitor, each anchored on acme:
//   - anonymous: nobody signed in;
//   - non-member: a signed-in user whose membership of every target was
//     removed after they entered it, so they hold an open session on every
//     target host but belong to none (the strongest non-member there is: a
//     non-member who never belonged has no session on the host at all and is
//     treated as anonymous there);
//   - viewer (dave), editor (ed, made at setup), admin (bob), super admin
//     (alice): members of acme, and whatever else the demo data makes them.
var atkVisitors = []string{"anonymous", "non-member", "viewer", "editor", "admin", "super_admin"}

var atkEmail = map[string]string{
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
	"acme":     {"Acme Corp", "alice@acme.test", []string{"ACME-1001", "Maria Garcia", "Cold-chain logistics"}},
	"globex":   {"Globex", "bob@globex.test", []string{"Global shipping"}},
	"initech":  {"Initech", "carol@initech.test", []string{"TPS reports"}},
	"acme-eu":  {"Acme Europe", "eve@acme.test", []string{"EU-TL100-0001", "European operations"}},
	"acme-lab": {"Acme Lab", "frank@acme.test", []string{"new device models"}},
}

// atkOwnerIsUnique says which owner emails mark a company: alice and bob are
// members elsewhere too, so their emails prove nothing.
var atkOwnerIsUnique = map[string]bool{"admin": true, "initech": true, "acme-eu": true, "acme-lab": true}

var atkParent = map[string]string{"acme": "admin", "globex": "admin", "initech": "admin", "acme-eu": "acme", "acme-lab": "acme"}

// atk is the matrix's fixture: one app, one signed-in browser per visitor.
type atk struct {
	a         *app
	br        map[string]*browser
	role      map[string]map[string]models.Role // visitor → tenant → role, while a member
	session   map[string]map[string]bool        // visitor → tenant host → holds a signed-in session there
	ids       map[string]int64
	signedOut map[string]bool
	seq       atomic.Int64
}

func newAtk(t *testing.T) *atk {
	t.Helper()
	a := newApp(t)
	ctx := context.Background()
	x := &atk{a: a, br: map[string]*browser{}, role: map[string]map[string]models.Role{}, session: map[string]map[string]bool{}, ids: map[string]int64{}, signedOut: map[string]bool{}}
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
	x.ids["device:acme-eu"] = a.device("acme-eu", "EU-TL100-0001").ID
	x.ids["device:acme"] = a.addDevice("acme", "ACME-DEV-0001", "Thermo Logger T-100").ID
	x.ids["template:acme"] = a.templateID("acme", "Employment verification")
	for sub := range atkMarkers {
		x.ids["tenant:"+sub] = a.tenant(sub).ID
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
	for _, table := range []string{"tenants", "memberships", "invitations", "devices", "orders", "templates", "membership_templates", "tenant_solutions"} {
		order := "id"
		if table == "membership_templates" || table == "tenant_solutions" {
			order = "1, 2"
		}
		rows, err := x.a.db.Raw("SELECT * FROM " + table + " ORDER BY " + order).Rows()
		if err != nil {
			x.a.t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				x.a.t.Fatal(err)
			}
			fmt.Fprintf(&sb, "%s %v\n", table, vals)
		}
		rows.Close()
	}
	return sb.String()
}

// token is the visitor's CSRF token on a tenant host, read from a page of
// that host as the visitor's own browser sees it ("" when the host shows the
// visitor no page with a form: a visitor without a session there).
func (x *atk) token(b *browser, host string) string {
	r := b.get(host + "/")
	if m := csrfField.FindStringSubmatch(r.body); m != nil {
		return m[1]
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

// atkCase is one visitor aiming one route at one tenant.
type atkCase struct {
	x               *atk
	method, visitor string
	target          string
}

func (c atkCase) member() (models.Role, bool) {
	r, ok := c.x.role[c.visitor][c.target]
	return r, ok
}

func (c atkCase) hasSession() bool { return c.x.session[c.visitor][c.target] }

// atkRoute is a route's row: the path and form of a sample request aimed at
// a target, and the status each case expects.
type atkRoute struct {
	path   func(c atkCase) string     // nil: the route's own path
	form   func(c atkCase) url.Values // POSTs: values that would change something
	want   func(c atkCase) int
	last   bool // run after every other row (it ends sessions)
	noSnap bool // a success is expected to change records; refusals still checked
}

// gate is a tenant route needing perm: a visitor without a session on the
// host is sent to sign in (GET) or refused for want of a CSRF token, which a
// host gives only to a session of its own (POST); a non-member or a role
// without perm gets 403; anyone else gets ok.
func gate(perm models.Permission, ok func(c atkCase) int) func(c atkCase) int {
	return func(c atkCase) int {
		if !c.hasSession() {
			if c.method == http.MethodGet {
				return http.StatusSeeOther
			}
			return http.StatusForbidden
		}
		role, member := c.member()
		if !member || !role.Can(perm) {
			return http.StatusForbidden
		}
		return ok(c)
	}
}

func always(status int) func(atkCase) int { return func(atkCase) int { return status } }

// onlyOn answers status on one target and other elsewhere: a sample id
// belongs to that target only.
func onlyOn(sub string, status, other int) func(atkCase) int {
	return func(c atkCase) int {
		if c.target == sub {
			return status
		}
		return other
	}
}

// csrfGated is a public POST: refused without a token of the host.
func csrfGated(ok int) func(atkCase) int {
	return func(c atkCase) int {
		if !c.hasSession() {
			return http.StatusForbidden
		}
		return ok
	}
}

// Foreign ids: each names a record of a company other than the target.
func (x *atk) foreignMember(c atkCase) string {
	if c.target == "acme" {
		return x.id("member:globex")
	}
	return x.id("member:acme")
}

func (x *atk) foreignInvitation(c atkCase) string {
	if c.target == "acme" {
		return x.id("inv:globex")
	}
	return x.id("inv:acme")
}

func (x *atk) foreignDevice(c atkCase) string {
	if c.target == "acme-eu" {
		return x.id("device:acme")
	}
	return x.id("device:acme-eu")
}

// childOrForeign is acme-eu, acme's child, for GETs (acme's Super Admin
// reads it); POSTs aim at a tenant that is no child of the target, so that
// every case is a refusal and the matrix changes nothing by accident.
func (x *atk) subTenant(c atkCase) string {
	if c.method == http.MethodPost && c.target == "acme" {
		return x.id("tenant:initech")
	}
	return x.id("tenant:acme-eu")
}

func atkRoutes(x *atk) map[string]atkRoute {
	p := func(s string) func(atkCase) string {
		return func(c atkCase) string {
			s := strings.ReplaceAll(s, "{member}", x.foreignMember(c))
			s = strings.ReplaceAll(s, "{inv}", x.foreignInvitation(c))
			s = strings.ReplaceAll(s, "{device}", x.foreignDevice(c))
			return strings.ReplaceAll(s, "{sub}", x.subTenant(c))
		}
	}
	view, edit, manage, settings, super := models.PermView, models.PermEdit, models.PermManageMembers, models.PermManageSettings, models.PermManageSubTenants
	ok := always(http.StatusOK)
	done := always(http.StatusSeeOther)
	notFound := always(http.StatusNotFound)
	// acme-eu is acme's child only: another Super Admin asking for it gets 404.
	child := func(status int) func(atkCase) int { return onlyOn("acme", status, http.StatusNotFound) }
	f := func(kv ...string) func(atkCase) url.Values {
		return func(atkCase) url.Values {
			v := url.Values{}
			for i := 0; i+1 < len(kv); i += 2 {
				val := kv[i+1]
				if strings.Contains(val, "{n}") {
					val = strings.ReplaceAll(val, "{n}", x.unique(""))
				}
				v.Add(kv[i], val)
			}
			return v
		}
	}
	return map[string]atkRoute{
		"GET /healthz":  {want: ok},
		"GET /static/*": {path: p("/static/css/app.css"), want: ok},
		"GET /":         {want: gate(view, ok)},
		"GET /login":    {want: done},
		"POST /login": {form: f("email", "alice@acme.test", "password", "demo-password", "tenant", "acme"),
			want: csrfGated(http.StatusNotFound)},
		"POST /logout": {last: true, noSnap: true, want: func(c atkCase) int {
			// Signing out ends every session of the visitor: the first
			// sign-out works, and later ones find no session to carry a token.
			if !c.hasSession() || x.signedOut[c.visitor] {
				return http.StatusForbidden
			}
			x.signedOut[c.visitor] = true
			return http.StatusSeeOther
		}},
		"GET /auth/handoff":       {path: p("/auth/handoff?token=forged"), want: always(http.StatusBadRequest)},
		"GET /auth/handoff/begin": {path: p("/auth/handoff/begin?next=//evil.example"), want: done},
		"GET /go/:subdomain":      {path: p("/go/initech?next=//evil.example"), want: done},
		"GET /invitations/:token": {path: p("/invitations/bogus"), want: notFound},
		"POST /invitations/:token/accept": {path: p("/invitations/bogus/accept"),
			form: f("first_name", "Mallory", "password", "a-long-password", "password_confirm", "a-long-password"), want: csrfGated(http.StatusNotFound)},
		"POST /invitations/:token/decline": {path: p("/invitations/bogus/decline"), want: csrfGated(http.StatusNotFound)},

		"GET /settings/team":     {path: p("/settings/team?q=a"), want: gate(view, ok)},
		"GET /settings/team/new": {want: gate(manage, ok)},
		"POST /settings/team": {noSnap: true, form: f("first_name", "Mal", "last_name", "Lory", "email", "mallory{n}@attack.test", "role", "viewer"),
			want: gate(manage, done)},
		"POST /settings/team/members/:id/role": {path: p("/settings/team/members/{member}/role"), form: f("role", "admin"),
			want: gate(manage, notFound)},
		"POST /settings/team/members/:id/remove": {path: p("/settings/team/members/{member}/remove"), want: gate(manage, notFound)},
		"POST /settings/team/members/:id/owner":  {path: p("/settings/team/members/{member}/owner"), want: gate(super, notFound)},
		"POST /settings/team/invitations/:id/resend": {path: p("/settings/team/invitations/{inv}/resend"),
			want: gate(manage, notFound)},
		"POST /settings/team/invitations/:id/revoke": {path: p("/settings/team/invitations/{inv}/revoke"),
			want: gate(manage, notFound)},

		"GET /settings/company":   {want: gate(view, ok)},
		"POST /settings/company":  {noSnap: true, form: f("timezone", "Europe/Paris"), want: gate(settings, done)},
		"GET /settings/audit":     {want: gate(settings, ok)},
		"GET /settings/audit.csv": {want: gate(settings, ok)},

		"GET /orders":     {path: p("/orders?q=a"), want: gate(view, ok)},
		"GET /orders/new": {want: gate(edit, ok)},
		"POST /orders": {noSnap: true, form: func(c atkCase) url.Values {
			return url.Values{"template_id": {x.id("template:acme")}, "applicant_name": {x.unique("Mallory ")}, "applicant_email": {"m@attack.test"}}
		}, want: gate(edit, onlyOn("acme", http.StatusSeeOther, http.StatusUnprocessableEntity))},
		"GET /templates":     {want: gate(view, ok)},
		"GET /templates/new": {want: gate(edit, ok)},
		"POST /templates": {noSnap: true, form: f("name", "Attack template {n}", "branding_company_name", "Attack", "brand_color", "#112233", "collects", "employment"),
			want: gate(edit, done)},

		"GET /sub-tenants/subdomain-check": {path: p("/sub-tenants/subdomain-check?subdomain=acme-eu"), want: gate(super, ok)},
		"GET /sub-tenants":                 {want: gate(super, ok)},
		"GET /sub-tenants/new":             {want: gate(super, ok)},
		"POST /sub-tenants": {noSnap: true, form: f("name", "Attack Co {n}", "subdomain", "attack-{n}", "email", "owner@attack.test",
			"timezone", "UTC", "confirmed", "yes"), want: gate(super, done)},
		"GET /sub-tenants/:id":           {path: p("/sub-tenants/{sub}"), want: gate(super, child(http.StatusSeeOther))},
		"GET /sub-tenants/:id/users":     {path: p("/sub-tenants/{sub}/users?q=a"), want: gate(super, child(http.StatusOK))},
		"GET /sub-tenants/:id/users/new": {path: p("/sub-tenants/{sub}/users/new"), want: gate(super, child(http.StatusOK))},
		"GET /sub-tenants/:id/settings":  {path: p("/sub-tenants/{sub}/settings"), want: gate(super, child(http.StatusOK))},
		"GET /sub-tenants/:id/devices":   {path: p("/sub-tenants/{sub}/devices?q=a"), want: gate(super, child(http.StatusOK))},
		"POST /sub-tenants/:id/users": {path: p("/sub-tenants/{sub}/users"), form: f("first_name", "Mal", "last_name", "Lory", "email", "mallory{n}@attack.test", "role", "admin"),
			want: gate(super, notFound)},
		"POST /sub-tenants/:id/invitations/:invitationID/resend": {path: p("/sub-tenants/{sub}/invitations/{inv}/resend"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/invitations/:invitationID/revoke": {path: p("/sub-tenants/{sub}/invitations/{inv}/revoke"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/settings":                         {path: p("/sub-tenants/{sub}/settings"), form: f("timezone", "Asia/Tokyo", "sso_inherit", "on"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/status":                           {path: p("/sub-tenants/{sub}/status"), form: f("status", "inactive"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices": {path: p("/sub-tenants/{sub}/devices"), form: f("identifier", "ATK-{n}", "model", "Evil", "status", "active"),
			want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices/import":                {path: p("/sub-tenants/{sub}/devices/import"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices/:deviceID/status":      {path: p("/sub-tenants/{sub}/devices/{device}/status"), form: f("status", "inactive"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices/:deviceID/deprovision": {path: p("/sub-tenants/{sub}/devices/{device}/deprovision"), want: gate(super, notFound)},

		"GET /devices":                  {path: p("/devices?q=EU"), want: gate(view, ok)},
		"GET /devices/new":              {want: gate(edit, ok)},
		"POST /devices":                 {noSnap: true, form: f("identifier", "ATK-{n}", "model", "Evil", "status", "active"), want: gate(edit, done)},
		"POST /devices/import":          {want: gate(edit, always(http.StatusUnprocessableEntity))}, // no file: the allowed see the form again
		"POST /devices/:id/status":      {path: p("/devices/{device}/status"), form: f("status", "inactive"), want: gate(edit, notFound)},
		"POST /devices/:id/deprovision": {path: p("/devices/{device}/deprovision"), want: gate(manage, notFound)},
	}
}

func TestAttackMatrix(t *testing.T) {
	x := newAtk(t)
	routes := atkRoutes(x)
	// The leak check itself is checked: a child's name on a Viewer's page
	// is caught, on its Super Admin's page it is not.
	if got := x.leaks("viewer", "acme", "Acme Europe EU-TL100-0001"); len(got) != 2 {
		t.Fatalf("leak check missed a child's data: %q", got)
	}
	if got := x.leaks("super_admin", "acme", "Acme Europe Globex Initech carol@initech.test"); len(got) != 0 {
		t.Fatalf("leak check flags what the visitor may see: %q", got)
	}

	// The route list is Echo's own: a route without a row fails.
	var keys []string
	for _, r := range x.a.server.Config.Handler.(*echo.Echo).Routes() {
		if r.Method == "echo_route_not_found" {
			continue
		}
		key := r.Method + " " + r.Path
		if _, ok := routes[key]; !ok {
			t.Errorf("route %s has no row in the attack matrix", key)
			continue
		}
		keys = append(keys, key)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if routes[keys[i]].last != routes[keys[j]].last {
			return !routes[keys[i]].last
		}
		return keys[i] < keys[j]
	})
	cases := 0
	for _, key := range keys {
		row := routes[key]
		method, path, _ := strings.Cut(key, " ")
		for _, tg := range atkTargets {
			for _, v := range atkVisitors {
				c := atkCase{x: x, method: method, visitor: v, target: tg.sub}
				cases++
				t.Run(key+"/"+tg.rel+"/"+v, func(t *testing.T) {
					x.a.t = t
					target := path
					if row.path != nil {
						target = row.path(c)
					}
					var form url.Values
					if row.form != nil {
						form = row.form(c)
					}
					var before string
					if method != http.MethodGet {
						before = x.snapshot()
					}
					r := x.send(x.br[v], method, tenantURL(tg.sub, target), form)
					if want := row.want(c); r.status != want {
						t.Errorf("status %d, want %d (location %q) %s", r.status, want, r.location, heading(r.body))
					}
					if leaked := x.leaks(v, tg.sub, r.body); len(leaked) > 0 {
						t.Errorf("page shows data of companies %s may not see: %q %s", v, leaked, heading(r.body))
					}
					if method != http.MethodGet && !row.last {
						switch after := x.snapshot(); {
						case (r.status >= 400 || !row.noSnap) && after != before:
							t.Errorf("a refused %s changed records", key)
						case r.status < 400 && row.noSnap && after == before:
							t.Errorf("the sample form of %s changed nothing even where allowed: it proves nothing", key)
						}
					}
				})
			}
		}
	}
	x.a.t = t
	t.Logf("attack matrix: %d routes × %d visitors × %d targets = %d cases", len(keys), len(atkVisitors), len(atkTargets), cases)
}

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
