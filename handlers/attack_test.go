package handlers_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/internal/demo"
	"canopy/internal/handoff"
	"canopy/models"
)

// The attack matrix: every route of the router × every
// kind of visitor × the tenant the request is aimed at, relative to the
// visitor's own company (acme) → the expected status, nothing leaked from a
// company the visitor may not see, and nothing changed when refused. Named
// rows below replay known attacks, the published Grafana CVEs among them.

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
	x.ids["member:initech"] = a.membershipID("carol@initech.test", "initech")
	x.ids["device:acme-eu"] = a.device("acme-eu", "EU-TL100-0001").ID
	x.ids["device:acme"] = a.addDevice("acme", "ACME-DEV-0001", "Thermo Logger T-100").ID
	x.ids["template:acme"] = a.templateID("acme", "Employment verification")
	for sub := range atkMarkers {
		x.ids["tenant:"+sub] = a.tenant(sub).ID
	}
	snap := x.snapshot()
	for _, table := range []string{"tenants", "memberships", "invitations", "devices", "orders", "templates", "tenant_solutions"} {
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

// subTenant is acme-eu, acme's child, for GETs (acme's Super Admin
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
		// Any member may change their own password; the sample form leaves
		// out the current password, so an allowed case is refused beside the
		// field (422) without testing a password or spending the rate limit.
		"GET /account/password": {want: gate(view, ok)},
		"POST /account/password": {form: f("new_password", "a-brand-new-secret", "confirm_password", "a-brand-new-secret"),
			want: gate(view, always(http.StatusUnprocessableEntity))},

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

		"GET /companies":          {path: p("/companies?q=a"), want: gate(view, ok)},
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
	cases, last, tokens := 0, "", map[string]string{}
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
					// Only the matrix's own POSTs change records, and each is
					// followed by a snapshot: the last one is this one's "before".
					before := last
					if method != http.MethodGet && before == "" {
						before = x.snapshot()
					}
					// The visitor's token of the host, read once: the matrix
					// renews no session until its sign-out rows.
					tk := v + "@" + tg.sub
					if _, ok := tokens[tk]; (!ok || row.last) && method != http.MethodGet {
						tokens[tk] = x.token(x.br[v], tenantURL(tg.sub, ""))
					}
					var r response
					if method == http.MethodGet {
						r = x.br[v].get(tenantURL(tg.sub, target))
					} else {
						if form == nil {
							form = url.Values{}
						}
						if tokens[tk] != "" {
							form.Set("_csrf", tokens[tk])
						}
						r = x.br[v].post(tenantURL(tg.sub, target), form)
					}
					if want := row.want(c); r.status != want {
						t.Errorf("status %d, want %d (location %q) %s", r.status, want, r.location, heading(r.body))
					}
					if method == http.MethodPost && c.hasSession() && !row.last && strings.Contains(r.body, "This form has expired") {
						t.Errorf("refused for its CSRF token, not by authorization: the case proves nothing")
					}
					if leaked := x.leaks(v, tg.sub, r.body); len(leaked) > 0 {
						t.Errorf("page shows data of companies %s may not see: %q %s", v, leaked, heading(r.body))
					}
					if method != http.MethodGet && !row.last {
						after := x.snapshot()
						last = after
						switch {
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
	named := 0
	for _, row := range x.namedRows() {
		named++
		t.Run(row.name, func(t *testing.T) {
			x.a.t = t
			row.run(t)
		})
	}
	x.a.t = t
	t.Logf("attack matrix: %d routes × %d visitors × %d targets = %d cases; named rows: %d; total %d", len(keys), len(atkVisitors), len(atkTargets), cases, named, cases+named)
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

// ---- Named rows: known attacks, one t.Run each. ----

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

func (x *atk) namedRows() []struct {
	name string
	run  func(t *testing.T)
} {
	a := x.a
	ctx := context.Background()
	acme, globex := tenantURL("acme", ""), tenantURL("globex", "")
	sub := func(key string) string { return x.id("tenant:" + key) }
	noData := func(t *testing.T, r response, markers ...string) {
		t.Helper()
		for _, m := range markers {
			if strings.Contains(r.body, m) {
				t.Fatalf("%s shows %q %s", r.url, m, heading(r.body))
			}
		}
	}
	foreign := []string{"carol@initech.test", "staff@canopy.test", "eve@acme.test", "frank@acme.test", "TPS reports", "Global shipping", "EU-TL100-0001"}
	var alice, bob *browser
	type row = struct {
		name string
		run  func(t *testing.T)
	}
	return []row{
		{"setup: fresh sessions after the matrix signed everyone out", func(t *testing.T) {
			alice = x.signedIn("alice@acme.test", "acme", "globex")
			bob = x.signedIn("bob@globex.test", "acme", "globex")
		}},

		// Ids of another tenant in URLs and forms: 404 (or refused), nothing changed.
		{"foreign id/globex membership in acme's role form is 404", func(t *testing.T) {
			x.refused(t, alice, "POST", acme+"/settings/team/members/"+x.id("member:globex")+"/role", url.Values{"role": {"viewer"}}, 404)
		}},
		{"foreign id/acme-eu under /sub-tenants/:id: acme's Super Admin 200, globex's 404", func(t *testing.T) {
			wantBody(t, alice.get(acme+"/sub-tenants/"+sub("acme-eu")+"/users"), "Acme Europe", "eve@acme.test")
			r := bob.get(globex + "/sub-tenants/" + sub("acme-eu") + "/users")
			wantStatus(t, r, 404)
			noData(t, r, "Acme Europe", "eve@acme.test")
		}},
		{"foreign id/acme-eu device in acme's /devices/:id/deprovision is 404", func(t *testing.T) {
			x.refused(t, bob, "POST", acme+"/devices/"+x.id("device:acme-eu")+"/deprovision", nil, 404)
			x.refused(t, alice, "POST", acme+"/sub-tenants/"+sub("acme-eu")+"/devices/"+x.id("device:acme")+"/deprovision", nil, 404)
		}},
		{"foreign id/acme template in globex's invitation form is refused", func(t *testing.T) {
			x.refused(t, bob, "POST", globex+"/settings/team", url.Values{"first_name": {"T"}, "last_name": {"Pl"}, "email": {"tpl@attack.test"}, "role": {"viewer"}, "templates": {x.id("template:acme")}}, 422)
		}},
		{"foreign id/acme template in globex's order form is refused", func(t *testing.T) {
			x.refused(t, bob, "POST", globex+"/orders", url.Values{"template_id": {x.id("template:acme")}, "applicant_name": {"Mal"}}, 422)
		}},

		// tenant_id or role smuggled into a request body: ignored.
		{"smuggled/tenant_id in company settings changes only acme", func(t *testing.T) {
			globexTZ := a.tenant("globex").Timezone
			r := x.send(alice, "POST", acme+"/settings/company", url.Values{"timezone": {"Asia/Tokyo"}, "tenant_id": {sub("globex")}, "tenant": {"globex"}, "subdomain": {"globex"}, "id": {sub("globex")}})
			wantStatus(t, r, http.StatusSeeOther)
			if tz := a.tenant("acme").Timezone; tz != "Asia/Tokyo" {
				t.Fatalf("acme timezone %s", tz)
			}
			if tz := a.tenant("globex").Timezone; tz != globexTZ {
				t.Fatalf("globex timezone changed to %s", tz)
			}
		}},
		{"smuggled/role duplicated in the invitation form", func(t *testing.T) {
			// bob is an Admin of acme: he may invite up to Admin, never Super Admin.
			for i, roles := range [][]string{{"viewer", "super_admin"}, {"super_admin", "viewer"}} {
				email := fmt.Sprintf("dup%d@attack.test", i)
				r := x.send(bob, "POST", acme+"/settings/team", url.Values{"first_name": {"D"}, "last_name": {"Up"}, "email": {email}, "role": roles, "tenant_id": {sub("globex")}})
				if r.status != http.StatusSeeOther && r.status != http.StatusForbidden && r.status != http.StatusUnprocessableEntity {
					t.Fatalf("roles %v: status %d", roles, r.status)
				}
				if got := x.scalar("SELECT role FROM invitations WHERE email = ? AND role NOT IN ('viewer')", email); got != "<none>" {
					t.Fatalf("roles %v: an Admin's invitation carries role %s", roles, got)
				}
				if got := x.scalar("SELECT tenant_id FROM invitations WHERE email = ? AND tenant_id <> ?", email, x.ids["tenant:acme"]); got != "<none>" {
					t.Fatalf("roles %v: invitation went to tenant %s", roles, got)
				}
			}
		}},
		{"smuggled/role above one's own in acme's role form is refused", func(t *testing.T) {
			dave, alicesOwn := x.id("member:acme"), strconv.FormatInt(a.membershipID("alice@acme.test", "acme"), 10)
			x.refused(t, bob, "POST", acme+"/settings/team/members/"+dave+"/role", url.Values{"role": {"super_admin"}}, http.StatusForbidden)
			x.refused(t, bob, "POST", acme+"/settings/team/members/"+alicesOwn+"/role", url.Values{"role": {"viewer"}}, http.StatusForbidden)
			x.refused(t, bob, "POST", acme+"/settings/team/members/"+alicesOwn+"/remove", nil, http.StatusForbidden)
			r := x.refused(t, bob, "POST", acme+"/settings/team/members/"+dave+"/role", url.Values{"role": {"owner"}}, http.StatusSeeOther)
			wantBody(t, bob.follow(r), "Choose a role from the list.")
		}},
		{"smuggled/tenant_id in the device form adds to acme only", func(t *testing.T) {
			wantStatus(t, x.send(bob, "POST", acme+"/devices", url.Values{"identifier": {"SMUGGLED-1"}, "model": {"M"}, "status": {"active"}, "tenant_id": {sub("acme-eu")}}), http.StatusSeeOther)
			if !a.hasDevice("acme", "SMUGGLED-1") || a.hasDevice("acme-eu", "SMUGGLED-1") {
				t.Fatal("the device did not land in acme alone")
			}
		}},

		// Forged Host and X-Forwarded-Host.
		{"forged host/X-Forwarded-Host never reaches an emailed link", func(t *testing.T) {
			form := url.Values{"first_name": {"X"}, "last_name": {"Fh"}, "email": {"xfh@attack.test"}, "role": {"viewer"}, "_csrf": {x.token(alice, acme)}}
			req, _ := http.NewRequest("POST", acme+"/settings/team", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Forwarded-Host", "evil.example")
			req.Header.Set("X-Forwarded-Proto", "https")
			req.Header.Set("Forwarded", "host=evil.example;proto=https")
			wantStatus(t, alice.do(req), http.StatusSeeOther)
			msgs, err := a.store.OutboxFor(ctx, "xfh@attack.test")
			if err != nil || len(msgs) != 1 {
				t.Fatalf("outbox %v %v", msgs, err)
			}
			if body := msgs[0].BodyText; strings.Contains(body, "evil.example") || !strings.Contains(body, "http://localhost:8080/invitations/") {
				t.Fatalf("emailed link follows the request:\n%s", body)
			}
		}},
		{"forged host/Host header of no company is 404 with nothing of acme", func(t *testing.T) {
			for _, host := range []string{"evil.example", "acme.localhost:8080.evil.example", "acme.evil.example", "x.acme.localhost:8080", "acme.localhost:8081", ".localhost:8080"} {
				req, _ := http.NewRequest("GET", acme+"/settings/team", nil)
				req.Host = host
				r := alice.do(req)
				wantStatus(t, r, 404)
				noData(t, r, "Acme Corp", "ACME-1001", "dave@acme.test")
			}
		}},

		// Open redirects.
		{"open redirect/next on /login, /go/:subdomain and the hand-off stays on Canopy", func(t *testing.T) {
			nexts := []string{"//evil.example", "https://evil.example", `/\evil.example`, `\\evil.example`, "/%2F%2Fevil.example", "///evil.example", "http:evil.example", "/\t/evil.example", "//evil.example/%2e%2e/", "javascript:alert(1)"}
			anon := a.browser()
			for _, next := range nexts {
				q := url.Values{"next": {next}}.Encode()
				for _, b := range []*browser{alice, anon} {
					for _, start := range []string{base + "/login?tenant=acme&" + q, base + "/go/acme?" + q, acme + "/go/globex?" + q, acme + "/auth/handoff/begin?" + q, base + "/login?" + q} {
						r, visited := b.hops(start)
						for _, v := range append(visited, r.url) {
							if u := mustParse(t, v); !ourHost(u) || strings.Contains(u.Host, "evil") {
								t.Fatalf("next=%q from %s led to %s", next, start, v)
							}
						}
						if loc := r.location; strings.Contains(loc, "evil") {
							t.Fatalf("next=%q from %s: Location %s", next, start, loc)
						}
					}
				}
			}
		}},

		// Hand-off tokens.
		{"hand-off/replayed token is refused", func(t *testing.T) {
			dave := a.browser()
			login, _ := dave.hops(acme + "/orders") // to sign in, with acme's state for this browser
			wantStatus(t, login, 200)
			q := mustParse(t, login.url).Query()
			form := url.Values{"email": {"dave@acme.test"}, "password": {demo.Password}, "tenant": {q.Get("tenant")}, "state": {q.Get("state")}, "next": {q.Get("next")}}
			r := dave.submit(login.url, base+"/login", form)
			link := r.location
			if !strings.Contains(link, "/auth/handoff?") || !strings.Contains(link, "token=") {
				t.Fatalf("sign-in sent to %q", link)
			}
			wantBody(t, dave.follow(r), "ACME-1001")
			again := dave.get(link)
			wantStatus(t, again, http.StatusBadRequest)
			wantBody(t, again, "already used")
			thief := a.browser()
			thief.handoffState("acme")
			r = thief.get(link)
			wantStatus(t, r, http.StatusBadRequest)
			noData(t, r, "ACME-1001", "Maria Garcia")
		}},
		{"hand-off/expired, other tenant's and other browser's tokens are refused", func(t *testing.T) {
			dave := a.user("dave@acme.test")
			b := a.browser()
			state := b.handoffState("acme")
			_, expired := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:acme"], dave.SessionVersion, state, time.Now().Add(-time.Hour))
			wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(expired)), http.StatusBadRequest)
			_, forGlobex := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:globex"], dave.SessionVersion, b.handoffState("globex"), time.Now())
			wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(forGlobex)), http.StatusBadRequest)
			_, otherBrowser := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:acme"], dave.SessionVersion, "not-this-browsers-state", time.Now())
			wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(otherBrowser)), http.StatusBadRequest)
			// The same token, freshly minted for this browser, works: the refusals above are about what they say.
			_, good := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:acme"], dave.SessionVersion, b.handoffState("acme"), time.Now())
			wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(good)), http.StatusSeeOther)
		}},

		// A GET never changes state: every POST route's path, with ids that
		// a POST could act on, answers 404 or 405 to a GET and changes nothing.
		{"GET on every POST route changes nothing", func(t *testing.T) {
			wantStatus(t, x.send(alice, "POST", acme+"/settings/team", person("get-probe@attack.test", "viewer")), http.StatusSeeOther)
			token := strings.TrimPrefix(a.inbox("get-probe@attack.test")[0], base+"/invitations/")
			real := strings.NewReplacer(":id/invitations/:invitationID", sub("acme-eu")+"/invitations/"+x.id("inv:acme"),
				":id/devices/:deviceID", sub("acme-eu")+"/devices/"+x.id("device:acme-eu"),
				"/sub-tenants/:id", "/sub-tenants/"+sub("acme-eu"),
				"/members/:id", "/members/"+x.id("member:acme"),
				"/invitations/:id", "/invitations/"+x.id("inv:acme"),
				"/devices/:id", "/devices/"+x.id("device:acme"),
				":token", token)
			before := x.snapshot()
			n := 0
			routes := a.server.Config.Handler.(*echo.Echo).Routes()
			page := map[string]bool{} // paths that are also a page: a GET shows it, and must change nothing
			for _, r := range routes {
				if r.Method == http.MethodGet {
					page[r.Path] = true
				}
			}
			for _, r := range routes {
				if r.Method != http.MethodPost {
					continue
				}
				path := real.Replace(r.Path)
				for _, b := range []*browser{alice, a.browser()} {
					for _, host := range []string{acme, base} {
						for _, method := range []string{http.MethodGet, http.MethodHead} {
							req, _ := http.NewRequest(method, host+path+"?timezone=Asia/Dubai&status=inactive&role=viewer&_method=POST", nil)
							req.Header.Set("X-HTTP-Method-Override", "POST")
							res := b.do(req)
							if !page[r.Path] && res.status != http.StatusNotFound && res.status != http.StatusMethodNotAllowed {
								t.Errorf("%s %s%s: status %d", method, host, path, res.status)
							}
							n++
						}
					}
				}
			}
			if x.snapshot() != before {
				t.Fatal("a GET changed records")
			}
			t.Logf("%d GET/HEAD requests on POST routes", n)
		}},

		{"smuggled/parent_id in the create sub-tenant form: the child is acme's", func(t *testing.T) {
			form := url.Values{"name": {"Smuggled Child"}, "subdomain": {"smuggled-child"}, "email": {"owner-smuggled@attack.test"}, "timezone": {"UTC"},
				"confirmed": {"yes"}, "parent_id": {sub("globex")}, "tenant_id": {sub("globex")}, "parent": {"globex"}}
			wantStatus(t, x.send(alice, "POST", acme+"/sub-tenants", form), http.StatusSeeOther)
			child := a.tenant("smuggled-child")
			if child.ParentID == nil || *child.ParentID != x.ids["tenant:acme"] {
				t.Fatalf("the new child's parent is %v", child.ParentID)
			}
		}},
		{"audit log/acme's log and its CSV hold acme's events, and its children's for its Super Admin only", func(t *testing.T) {
			// By now globex, initech and acme-eu all have events of their own.
			var family []string
			a.db.Raw("SELECT name FROM tenants WHERE id = ? OR parent_id = ?", x.ids["tenant:acme"], x.ids["tenant:acme"]).Scan(&family)
			for _, tc := range []struct {
				b       *browser
				allowed []string
			}{{alice, family}, {bob, []string{"Acme Corp"}}} {
				for _, q := range []string{"", "?actor=bob", "?actor=carol", "?actor=%25", "?actor=_"} {
					r := tc.b.get(acme + "/settings/audit.csv" + q)
					wantStatus(t, r, http.StatusOK)
					records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
					if err != nil || len(records) == 0 {
						t.Fatalf("CSV: %v", err)
					}
					for _, rec := range records[1:] {
						if !slices.Contains(tc.allowed, rec[1]) {
							t.Fatalf("acme's audit CSV%s holds an event of %q: %v", q, rec[1], rec)
						}
					}
					page := tc.b.get(acme + "/settings/audit" + q)
					wantStatus(t, page, http.StatusOK)
					noData(t, response{url: page.url, body: tableOf(page)}, "Globex", "Initech", "Canopy Platform", "carol@initech.test", "staff@canopy.test")
				}
			}
			if got := x.scalar("SELECT COUNT(*) FROM audit_events WHERE tenant_id = ?", x.ids["tenant:globex"]); got == "0" {
				t.Fatal("globex has no events: the row proves nothing")
			}
		}},

		// Invitations (CVE-2022-39306: a link reused, or used with another email).
		{"invitation/CVE-2022-39306 accepted twice", func(t *testing.T) {
			wantStatus(t, x.send(alice, "POST", acme+"/settings/team", person("twice@attack.test", "viewer")), http.StatusSeeOther)
			link := a.inbox("twice@attack.test")[0]
			accept := url.Values{"first_name": {"Tw"}, "last_name": {"Ice"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}}
			first := a.browser()
			wantStatus(t, first.submit(link, link+"/accept", accept), http.StatusSeeOther)
			second := a.browser()
			before := x.snapshot()
			wantStatus(t, x.send(second, "POST", link+"/accept", url.Values{"first_name": {"Mal"}, "password": {"another-password"}, "password_confirm": {"another-password"}}), http.StatusGone)
			if x.snapshot() != before {
				t.Fatal("a second acceptance changed records")
			}
		}},
		{"invitation/CVE-2022-39306 accepted by another email: the form's email is ignored", func(t *testing.T) {
			wantStatus(t, x.send(alice, "POST", acme+"/settings/team", person("invited@attack.test", "viewer")), http.StatusSeeOther)
			link := a.inbox("invited@attack.test")[0]
			mallory := a.browser()
			r := mallory.submit(link, link+"/accept", url.Values{"email": {"mallory@attack.test"}, "first_name": {"Mal"}, "last_name": {"Lory"},
				"password": {"a-good-password"}, "password_confirm": {"a-good-password"}, "tenant_id": {sub("globex")}, "role": {"super_admin"}})
			wantStatus(t, r, http.StatusSeeOther)
			if _, err := a.store.UserByEmail(ctx, "mallory@attack.test"); err == nil {
				t.Fatal("an account was made for the email typed into the form")
			}
			m, err := a.store.MembershipOf(ctx, x.ids["tenant:acme"], a.user("invited@attack.test").ID)
			if err != nil || m.Role != models.RoleViewer {
				t.Fatalf("membership of the invited email: %+v %v", m, err)
			}
			if _, err := a.store.MembershipOf(ctx, x.ids["tenant:globex"], a.user("invited@attack.test").ID); err == nil {
				t.Fatal("a smuggled tenant_id joined globex")
			}
		}},
		{"invitation/accepted after revocation or expiry", func(t *testing.T) {
			for _, email := range []string{"revoked@attack.test", "expired@attack.test"} {
				wantStatus(t, x.send(alice, "POST", acme+"/settings/team", person(email, "viewer")), http.StatusSeeOther)
			}
			wantStatus(t, x.send(alice, "POST", acme+"/settings/team/invitations/"+strconv.FormatInt(x.invitationID("revoked@attack.test"), 10)+"/revoke", nil), http.StatusSeeOther)
			if err := a.db.Exec("UPDATE invitations SET expires_at = ? WHERE email = ?", time.Now().UTC().Add(-time.Hour), "expired@attack.test").Error; err != nil {
				t.Fatal(err)
			}
			for _, email := range []string{"revoked@attack.test", "expired@attack.test"} {
				link := a.inbox(email)[0]
				x.refused(t, a.browser(), "POST", link+"/accept", url.Values{"first_name": {"L"}, "password": {"a-good-password"}, "password_confirm": {"a-good-password"}}, http.StatusGone)
			}
		}},

		// Sessions.
		{"session/cookie of one subdomain presented to another", func(t *testing.T) {
			// bob owns globex and is an Admin of acme: his acme cookie is a
			// valid session, but of acme's host only.
			thief := a.browser()
			thief.plant(globex, bob.cookieOf(acme))
			r := thief.get(globex + "/settings/team")
			wantStatus(t, r, http.StatusSeeOther)
			noData(t, r, "Global shipping", "Globex")
			thief.plant(tenantURL("initech", ""), alice.cookieOf(acme)) // alice is a Viewer of initech
			r = thief.get(tenantURL("initech", "/orders"))
			wantStatus(t, r, http.StatusSeeOther)
			noData(t, r, "TPS reports", "carol@initech.test")
			// ...while on its own host it works, so the refusals are about the host.
			same := a.browser()
			same.plant(acme, bob.cookieOf(acme))
			wantStatus(t, same.get(acme+"/settings/team"), http.StatusOK)
		}},
		{"session/removed member's open session is denied on the next request, lists and searches included", func(t *testing.T) {
			ed := x.signedIn("ed@attack.test", "acme")
			wantStatus(t, ed.get(acme+"/orders"), http.StatusOK)
			edID := strconv.FormatInt(a.membershipID("ed@attack.test", "acme"), 10)
			wantStatus(t, x.send(alice, "POST", acme+"/settings/team/members/"+edID+"/remove", nil), http.StatusSeeOther)
			for _, path := range []string{"/", "/settings/team", "/settings/team?q=dave", "/settings/team?q=%25", "/orders", "/orders?q=ACME", "/devices?q=ACME", "/templates", "/settings/company"} {
				r := ed.get(acme + path)
				wantStatus(t, r, http.StatusForbidden)
				noData(t, r, "ACME-1001", "Maria Garcia", "dave@acme.test", "ACME-DEV-0001", "Employment verification", "Cold-chain")
			}
			x.refused(t, ed, "POST", acme+"/devices", url.Values{"identifier": {"GHOST-1"}, "model": {"M"}, "status": {"active"}}, http.StatusForbidden)
		}},
		{"session/deactivated tenant shuts out its members at once", func(t *testing.T) {
			eve := x.signedIn("eve@acme.test", "acme-eu")
			eu := tenantURL("acme-eu", "")
			wantBody(t, eve.get(eu+"/devices"), "EU-TL100-0001")
			wantStatus(t, x.send(alice, "POST", acme+"/sub-tenants/"+sub("acme-eu")+"/status", url.Values{"status": {"inactive"}}), http.StatusSeeOther)
			for _, path := range []string{"/", "/devices", "/devices?q=EU", "/settings/team", "/orders"} {
				r := eve.get(eu + path)
				wantStatus(t, r, http.StatusForbidden)
				noData(t, r, "EU-TL100-0001", "eve@acme.test", "European operations")
			}
			x.refused(t, eve, "POST", eu+"/devices", url.Values{"identifier": {"GHOST-2"}, "model": {"M"}, "status": {"active"}}, http.StatusForbidden)
			frank := a.browser()
			frank.signIn("frank@acme.test", "")
			r := frank.get(tenantURL("acme-lab", "/settings/team"))
			wantStatus(t, r, http.StatusForbidden)
			noData(t, r, "frank@acme.test", "new device models")
			wantStatus(t, x.send(alice, "POST", acme+"/sub-tenants/"+sub("acme-eu")+"/status", url.Values{"status": {"active"}}), http.StatusSeeOther)
		}},

		// CSRF.
		{"csrf/POST without a token", func(t *testing.T) {
			before := x.snapshot()
			wantStatus(t, alice.post(acme+"/settings/company", url.Values{"timezone": {"Asia/Dubai"}}), http.StatusForbidden)
			if x.snapshot() != before {
				t.Fatal("changed")
			}
		}},
		{"csrf/stale token from before sign-in", func(t *testing.T) {
			b := a.browser()
			stale := b.csrf(base + "/login")
			b.signIn("dave@acme.test", "")
			r := b.post(base+"/logout", url.Values{"_csrf": {stale}})
			wantStatus(t, r, http.StatusForbidden)
			wantStatus(t, b.get(acme+"/orders"), http.StatusOK) // still signed in
		}},
		{"csrf/stale token from an earlier session on the host", func(t *testing.T) {
			b := x.signedIn("bob@globex.test", "globex")
			stale := x.token(b, globex)
			b2 := x.signedIn("bob@globex.test", "globex") // another sign-in elsewhere leaves b's session alone...
			_ = b2
			wantStatus(t, b.post(globex+"/logout", url.Values{"_csrf": {stale}}), http.StatusSeeOther) // ...until b signs out
			b.signIn("bob@globex.test", "")
			wantStatus(t, b.follow(b.get(globex+"/")), http.StatusOK)
			wantStatus(t, b.follow(b.get(acme+"/")), http.StatusOK)
			before := x.snapshot()
			wantStatus(t, b.post(globex+"/settings/company", url.Values{"timezone": {"Asia/Dubai"}, "_csrf": {stale}}), http.StatusForbidden)
			if x.snapshot() != before {
				t.Fatal("changed")
			}
			bob = b
		}},
		{"csrf/token and cookie planted from a sibling subdomain's session (cookie tossing)", func(t *testing.T) {
			// The attacker, bob, owns globex: he has a session and token there.
			attacker := x.signedIn("bob@globex.test", "globex")
			tossedCookie, tossedToken := attacker.cookieOf(globex), x.token(attacker, globex)
			victim := x.signedIn("alice@acme.test", "acme")
			before := x.snapshot()
			// Token alone, with the victim's own cookie.
			wantStatus(t, victim.post(acme+"/settings/company", url.Values{"timezone": {"Asia/Dubai"}, "_csrf": {tossedToken}}), http.StatusForbidden)
			req, _ := http.NewRequest("POST", acme+"/settings/company", strings.NewReader("timezone=Asia%2FDubai"))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-CSRF-Token", tossedToken)
			wantStatus(t, victim.do(req), http.StatusForbidden)
			// Cookie and token together, the cookie planted on acme's host.
			victim.plant(acme, tossedCookie)
			wantStatus(t, victim.post(acme+"/settings/company", url.Values{"timezone": {"Asia/Dubai"}, "_csrf": {tossedToken}}), http.StatusForbidden)
			if x.snapshot() != before {
				t.Fatal("changed")
			}
		}},

		// The published Grafana cases.
		{"CVE-2021-41244/an Admin of acme managing members of initech and globex", func(t *testing.T) {
			carol := x.id("member:initech")
			for _, action := range []string{"role", "remove", "owner"} {
				onAcme := http.StatusNotFound
				if action == "owner" {
					onAcme = http.StatusForbidden // an Admin may not transfer ownership at all
				}
				x.refused(t, bob, "POST", acme+"/settings/team/members/"+carol+"/"+action, url.Values{"role": {"viewer"}}, onAcme)
				x.refused(t, bob, "POST", tenantURL("initech", "/settings/team/members/"+carol+"/"+action), url.Values{"role": {"viewer"}}, http.StatusForbidden)
				// As owner of globex, bob aims at dave's acme membership from globex.
				x.refused(t, bob, "POST", globex+"/settings/team/members/"+x.id("member:acme")+"/"+action, url.Values{"role": {"admin"}}, http.StatusNotFound)
			}
		}},
		{"CVE-2022-21713/team search and counts show no one of another company", func(t *testing.T) {
			dave := x.signedIn("dave@acme.test", "acme")
			for _, q := range []string{"carol", "initech", "eve", "staff", "%25", "_", "%25%40%25", "'", "*"} {
				r := dave.get(acme + "/settings/team?q=" + q)
				wantStatus(t, r, http.StatusOK)
				noData(t, r, foreign...)
				if m := atkPagerRE.FindStringSubmatch(r.body); m != nil && (q == "carol" || q == "initech" || q == "eve" || q == "staff") {
					t.Fatalf("searching acme's team for %q counts %s people", q, m[1])
				}
			}
			// The count agrees with acme's own people, and every email the
			// list shows is a member or invitee of acme.
			var acmePeople int64
			a.db.Raw("SELECT (SELECT COUNT(*) FROM memberships WHERE tenant_id = ?) + (SELECT COUNT(*) FROM invitations WHERE tenant_id = ? AND status = 'pending')",
				x.ids["tenant:acme"], x.ids["tenant:acme"]).Scan(&acmePeople)
			if m := atkPagerRE.FindStringSubmatch(dave.get(acme + "/settings/team").body); m == nil || m[1] != strconv.FormatInt(acmePeople, 10) {
				t.Fatalf("acme's team counts %v, acme has %d members and pending invitations", m, acmePeople)
			}
			var acmeEmails []string
			a.db.Raw("SELECT u.email FROM users u JOIN memberships m ON m.user_id = u.id WHERE m.tenant_id = ? UNION SELECT email FROM invitations WHERE tenant_id = ?",
				x.ids["tenant:acme"], x.ids["tenant:acme"]).Scan(&acmeEmails)
			for _, q := range []string{"", "%25", "@", "."} {
				for page := 1; page <= 3; page++ {
					table := tableOf(dave.get(acme + "/settings/team?q=" + q + "&page=" + strconv.Itoa(page)))
					for _, email := range atkEmailRE.FindAllString(table, -1) {
						if !slices.Contains(acmeEmails, email) {
							t.Fatalf("acme's team list (q=%q) shows %s, who is not of acme", q, email)
						}
					}
				}
			}
			for _, r := range []response{dave.get(acme + "/"), dave.get(acme + "/orders?q=%25"), dave.get(acme + "/devices?q=EU")} {
				noData(t, r, append(foreign, "Globex", "Initech", "Acme Europe")...)
			}
			// The parent's Super Admin searching a child's users sees that child only.
			r := alice.get(acme + "/sub-tenants/" + sub("acme-eu") + "/users?q=carol")
			wantStatus(t, r, http.StatusOK)
			r.body = tableOf(r) // alice's company toggle rightly names initech's owner
			noData(t, r, "carol@initech.test")
		}},
		{"CVE-2022-21703/a CSRF-forged invitation", func(t *testing.T) {
			victim := x.signedIn("alice@acme.test", "acme")
			attacker := x.signedIn("bob@globex.test", "acme")
			form := person("forged@attack.test", "admin")
			before := x.snapshot()
			wantStatus(t, victim.post(acme+"/settings/team", form), http.StatusForbidden)
			f2 := person("forged@attack.test", "admin")
			f2.Set("_csrf", x.token(attacker, acme)) // the attacker's own valid token for acme
			wantStatus(t, victim.post(acme+"/settings/team", f2), http.StatusForbidden)
			req, _ := http.NewRequest("POST", acme+"/settings/team", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "text/plain")
			wantStatus(t, victim.do(req), http.StatusForbidden)
			if x.snapshot() != before || len(a.inbox("forged@attack.test")) != 0 {
				t.Fatal("a forged invitation was recorded or emailed")
			}
		}},
		{"CVE-2024-10452/deleting another tenant's pending invitation", func(t *testing.T) {
			x.refused(t, alice, "POST", acme+"/settings/team/invitations/"+x.id("inv:globex")+"/revoke", nil, http.StatusNotFound)
			x.refused(t, alice, "POST", acme+"/sub-tenants/"+sub("acme-eu")+"/invitations/"+x.id("inv:globex")+"/revoke", nil, http.StatusNotFound)
			x.refused(t, bob, "POST", globex+"/settings/team/invitations/"+x.id("inv:acme")+"/revoke", nil, http.StatusNotFound)
			x.refused(t, bob, "POST", globex+"/settings/team/invitations/"+x.id("inv:acme")+"/resend", nil, http.StatusNotFound)
			// acme's own invitation through its child's page is not the child's.
			x.refused(t, alice, "POST", acme+"/sub-tenants/"+sub("acme-eu")+"/invitations/"+x.id("inv:acme")+"/revoke", nil, http.StatusNotFound)
			if got := x.scalar("SELECT status FROM invitations WHERE id = ?", x.ids["inv:globex"]); got != "pending" {
				t.Fatalf("globex's invitation is %s", got)
			}
		}},
	}
}
