package handlers_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/internal/demo"
	"canopy/internal/handoff"
	"canopy/models"
)

// attackScenario is one named attack, written in the manner of PocketBase's
// tests.ApiScenario: the requests, as whom, and what must come back. An
// attack whose steps depend on each other says them in run instead.
type attackScenario struct {
	name     string
	requests []attackRequest
	changes  bool // the requests may change records; otherwise none may
	after    func(t *testing.T, x *atk)
	run      func(t *testing.T, x *atk)
}

// attackRequest is one request of a scenario. It is sent as a browser's
// form would be, with the sender's own CSRF token of the host, unless
// noToken.
type attackRequest struct {
	as      string // a visitor of the fixture: "super_admin" (alice), "admin" (bob), "viewer" (dave), "anonymous"…
	method  string
	url     string     // {key} is replaced by the id of the fixture's sample record key
	form    url.Values // values may hold {key} too
	host    string     // a forged Host header
	header  map[string]string
	noToken bool
	status  int
	follow  bool     // follow redirects before checking the page
	body    []string // the page shows each
	absent  []string // the page shows none
}

var acme, globex, initech = tenantURL("acme", ""), tenantURL("globex", ""), tenantURL("initech", "")

// foreignToAcme is what acme's Viewer must never see: other companies'
// people and records.
var foreignToAcme = []string{"carol@initech.test", "staff@canopy.test", "eve@acme.test", "frank@acme.test", "TPS reports", "Global shipping", "EU-TL100-0001"}

func TestAttackScenarios(t *testing.T) {
	t.Parallel()
	x := newAtk(t)
	for _, s := range attackScenarios() {
		t.Run(s.name, func(t *testing.T) {
			x.a.t = t
			if s.run != nil {
				s.run(t, x)
				return
			}
			before := x.snapshot()
			for _, req := range s.requests {
				x.attack(t, req)
			}
			if !s.changes && x.snapshot() != before {
				t.Fatal("a refused attack changed records")
			}
			if s.after != nil {
				s.after(t, x)
			}
		})
	}
	x.a.t = t
}

// attack sends one scenario request and checks its answer.
func (x *atk) attack(t *testing.T, req attackRequest) response {
	t.Helper()
	b := x.br[req.as]
	rawURL := x.expand(req.url)
	form := url.Values{}
	for k, vs := range req.form {
		for _, v := range vs {
			form.Add(k, x.expand(v))
		}
	}
	if req.method == http.MethodPost && !req.noToken {
		u := mustParse(t, rawURL)
		if tok := x.token(b, u.Scheme+"://"+u.Host); tok != "" {
			form.Set("_csrf", tok)
		}
	}
	var body *strings.Reader
	if req.method == http.MethodPost {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	hr, _ := http.NewRequest(req.method, rawURL, body)
	if req.method == http.MethodPost {
		hr.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range req.header {
		hr.Header.Set(k, v)
	}
	if req.host != "" {
		hr.Host = req.host
	}
	r := b.do(hr)
	if r.status != req.status {
		t.Fatalf("%s %s as %s: status %d, want %d %s", req.method, rawURL, req.as, r.status, req.status, heading(r.body))
	}
	if req.follow {
		r = b.follow(r)
	}
	wantBody(t, r, req.body...)
	noData(t, r, req.absent...)
	return r
}

var sampleKey = regexp.MustCompile(`\{([a-z_-]+:[a-z@.-]+)\}`)

// expand replaces each {key} in s with the id of the fixture's sample record.
func (x *atk) expand(s string) string {
	return sampleKey.ReplaceAllStringFunc(s, func(m string) string {
		key := m[1 : len(m)-1]
		if _, ok := x.ids[key]; !ok {
			x.a.t.Fatalf("no sample record %q", key)
		}
		return x.id(key)
	})
}

// noData fails when the page shows any of markers.
func noData(t *testing.T, r response, markers ...string) {
	t.Helper()
	for _, m := range markers {
		if strings.Contains(r.body, m) {
			t.Fatalf("%s shows %q %s", r.url, m, heading(r.body))
		}
	}
}

func attackScenarios() []attackScenario {
	post := func(as, rawURL string, form url.Values, status int) attackRequest {
		return attackRequest{as: as, method: http.MethodPost, url: rawURL, form: form, status: status}
	}
	scenarios := []attackScenario{
		// Ids of another tenant in URLs and forms: 404 (or refused), nothing changed.
		{name: "foreign id/globex membership in acme's Edit member form is 404", requests: []attackRequest{
			{as: "super_admin", method: http.MethodGet, url: acme + "/settings/team/members/{member:globex}/edit", status: 404},
			post("super_admin", acme+"/settings/team/members/{member:globex}/edit", url.Values{"role": {"viewer"}}, 404),
		}},
		{name: "foreign id/globex template in acme's Edit member form is refused", requests: []attackRequest{
			post("super_admin", acme+"/settings/team/members/{member:acme}/edit", url.Values{"role": {"viewer"}, "templates": {"{template:globex}"}}, 422),
		}},
		{name: "foreign id/acme-eu under /sub-tenants/:id: acme's Super Admin 200, globex's 404", requests: []attackRequest{
			{as: "super_admin", method: http.MethodGet, url: acme + "/sub-tenants/{tenant:acme-eu}/users", status: 200, body: []string{"Acme Europe", "eve@acme.test"}},
			{as: "admin", method: http.MethodGet, url: globex + "/sub-tenants/{tenant:acme-eu}/users", status: 404, absent: []string{"Acme Europe", "eve@acme.test"}},
		}},
		{name: "foreign id/acme-eu device in acme's /devices/:id/deprovision is 404", requests: []attackRequest{
			post("admin", acme+"/devices/{device:acme-eu}/deprovision", nil, 404),
			post("super_admin", acme+"/sub-tenants/{tenant:acme-eu}/devices/{device:acme}/deprovision", nil, 404),
		}},
		{name: "foreign id/acme template in globex's invitation form is refused", requests: []attackRequest{
			post("admin", globex+"/settings/team", url.Values{"first_name": {"T"}, "last_name": {"Pl"}, "email": {"tpl@attack.test"}, "role": {"viewer"}, "templates": {"{template:acme}"}}, 422),
		}},
		{name: "foreign id/acme template in globex's order form is refused", requests: []attackRequest{
			post("admin", globex+"/orders", url.Values{"template_id": {"{template:acme}"}, "applicant_name": {"Mal"}}, 422),
		}},

		// tenant_id or role smuggled into a request body: ignored.
		{name: "smuggled/tenant_id in company settings changes only acme", run: func(t *testing.T, x *atk) {
			globexTZ := x.a.tenant("globex").Timezone
			x.attack(t, post("super_admin", acme+"/settings/company", url.Values{"timezone": {"Asia/Tokyo"}, "tenant_id": {"{tenant:globex}"},
				"tenant": {"globex"}, "subdomain": {"globex"}, "id": {"{tenant:globex}"}}, http.StatusSeeOther))
			if tz := x.a.tenant("acme").Timezone; tz != "Asia/Tokyo" {
				t.Fatalf("acme timezone %s", tz)
			}
			if tz := x.a.tenant("globex").Timezone; tz != globexTZ {
				t.Fatalf("globex timezone changed to %s", tz)
			}
		}},
		{name: "smuggled/role duplicated in the invitation form", run: func(t *testing.T, x *atk) {
			// bob is an Admin of acme: he may invite up to Admin, never Super Admin.
			for i, roles := range [][]string{{"viewer", "super_admin"}, {"super_admin", "viewer"}} {
				email := fmt.Sprintf("dup%d@attack.test", i)
				r := x.send(x.br["admin"], "POST", acme+"/settings/team", url.Values{"first_name": {"D"}, "last_name": {"Up"}, "email": {email}, "role": roles, "tenant_id": {x.id("tenant:globex")}})
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
		{name: "smuggled/role above one's own in acme's Edit member form is refused", requests: []attackRequest{
			post("admin", acme+"/settings/team/members/{member:acme}/edit", url.Values{"role": {"super_admin"}}, http.StatusForbidden),
			post("admin", acme+"/settings/team/members/{member:acme-owner}/edit", url.Values{"role": {"viewer"}}, http.StatusForbidden),
			post("super_admin", acme+"/settings/team/members/{member:acme-owner}/edit", url.Values{"role": {"viewer"}}, http.StatusForbidden),
			post("admin", acme+"/settings/team/members/{member:acme-owner}/remove", nil, http.StatusForbidden),
			{as: "admin", method: http.MethodPost, url: acme + "/settings/team/members/{member:acme}/edit", form: url.Values{"role": {"owner"}},
				status: http.StatusUnprocessableEntity, body: []string{"Choose a role from the list."}},
		}},
		{name: "smuggled/tenant_id in the device form adds to acme only", changes: true, requests: []attackRequest{
			post("admin", acme+"/devices", url.Values{"identifier": {"SMUGGLED-1"}, "model": {"M"}, "status": {"active"}, "tenant_id": {"{tenant:acme-eu}"}}, http.StatusSeeOther),
		}, after: func(t *testing.T, x *atk) {
			if !x.a.hasDevice("acme", "SMUGGLED-1") || x.a.hasDevice("acme-eu", "SMUGGLED-1") {
				t.Fatal("the device did not land in acme alone")
			}
		}},
		{name: "smuggled/parent_id in the create sub-tenant form: the child is acme's", changes: true, requests: []attackRequest{
			post("super_admin", acme+"/sub-tenants", url.Values{"name": {"Smuggled Child"}, "subdomain": {"smuggled-child"}, "description": {"Smuggled"}, "email": {"owner-smuggled@attack.test"},
				"timezone": {"UTC"}, "confirmed": {"yes"}, "parent_id": {"{tenant:globex}"}, "tenant_id": {"{tenant:globex}"}, "parent": {"globex"}}, http.StatusSeeOther),
		}, after: func(t *testing.T, x *atk) {
			if child := x.a.tenant("smuggled-child"); child.ParentID == nil || *child.ParentID != x.ids["tenant:acme"] {
				t.Fatalf("the new child's parent is %v", child.ParentID)
			}
		}},

		// Forged Host and X-Forwarded-Host.
		{name: "forged host/X-Forwarded-Host never reaches an emailed link", changes: true, requests: []attackRequest{
			{as: "super_admin", method: http.MethodPost, url: acme + "/settings/team", form: person("xfh@attack.test", "viewer"), status: http.StatusSeeOther,
				header: map[string]string{"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https", "Forwarded": "host=evil.example;proto=https"}},
		}, after: func(t *testing.T, x *atk) {
			msgs, err := x.a.store.OutboxFor(context.Background(), "xfh@attack.test")
			if err != nil || len(msgs) != 1 {
				t.Fatalf("outbox %v %v", msgs, err)
			}
			if body := msgs[0].BodyText; strings.Contains(body, "evil.example") || !strings.Contains(body, "http://localhost:8080/invitations/") {
				t.Fatalf("emailed link follows the request:\n%s", body)
			}
		}},
		{name: "forged host/Host header of no company is 404 with nothing of acme", requests: forgedHosts()},

		// Open redirects.
		{name: "open redirect/next on /login, /go/:subdomain and the hand-off stays on Canopy", run: openRedirects},

		// Hand-off tokens.
		{name: "hand-off/replayed token is refused", run: replayedHandoff},
		{name: "hand-off/expired, other tenant's and other browser's tokens are refused", run: foreignHandoffs},

		// A GET never changes state.
		{name: "GET on every POST route changes nothing", run: getOnPostRoutes},

		{name: "audit log/acme's log and its CSV hold acme's events, and its children's for its Super Admin only", run: auditLogIsolation},

		// Invitations (CVE-2022-39306: a link reused, or used with another email).
		{name: "invitation/CVE-2022-39306 accepted twice", run: invitationAcceptedTwice},
		{name: "invitation/CVE-2022-39306 accepted by another email: the form's email is ignored", run: invitationForAnotherEmail},
		{name: "invitation/accepted after revocation or expiry", run: invitationRevokedOrExpired},

		// Sessions.
		{name: "session/cookie of one subdomain presented to another", run: cookieOfAnotherSubdomain},
		{name: "session/removed member's open session is denied on the next request, lists and searches included", run: removedMembersSession},
		{name: "session/deactivated tenant shuts out its members at once", run: deactivatedTenant},

		// CSRF.
		{name: "csrf/POST without a token", requests: []attackRequest{
			{as: "super_admin", method: http.MethodPost, url: acme + "/settings/company", form: url.Values{"timezone": {"Asia/Dubai"}}, noToken: true, status: http.StatusForbidden},
		}},
		{name: "csrf/stale token from before sign-in", run: staleTokenBeforeSignIn},
		{name: "csrf/stale token from an earlier session on the host", run: staleTokenOfEarlierSession},
		{name: "csrf/token and cookie planted from a sibling subdomain's session (cookie tossing)", run: cookieTossing},

		// The published Grafana cases.
		{name: "CVE-2021-41244/an Admin of acme managing members of initech and globex", requests: adminReachingOtherCompanies()},
		{name: "CVE-2022-21713/team search and counts show no one of another company", run: teamSearchAcrossCompanies},
		{name: "CVE-2022-21703/a CSRF-forged invitation", run: forgedInvitation},
		{name: "CVE-2024-10452/deleting another tenant's pending invitation", requests: []attackRequest{
			post("super_admin", acme+"/settings/team/invitations/{inv:globex}/revoke", nil, http.StatusNotFound),
			post("super_admin", acme+"/sub-tenants/{tenant:acme-eu}/invitations/{inv:globex}/revoke", nil, http.StatusNotFound),
			post("admin", globex+"/settings/team/invitations/{inv:acme}/revoke", nil, http.StatusNotFound),
			post("admin", globex+"/settings/team/invitations/{inv:acme}/resend", nil, http.StatusNotFound),
			// acme's own invitation through its child's page is not the child's.
			post("super_admin", acme+"/sub-tenants/{tenant:acme-eu}/invitations/{inv:acme}/revoke", nil, http.StatusNotFound),
		}, after: func(t *testing.T, x *atk) {
			if got := x.scalar("SELECT status FROM invitations WHERE id = ?", x.ids["inv:globex"]); got != "pending" {
				t.Fatalf("globex's invitation is %s", got)
			}
		}},
		// Last: it adds tenants under globex, which the scenarios above do not expect.
		{name: "foreign id/a grandchild of another tree under /sub-tenants/:id is 404", run: grandchildOfAnotherTree},
	}
	return scenarios
}

// grandchildOfAnotherTree: Super Admins manage their tenant's whole subtree,
// so globex's grandchild is reached from globex, and from acme is as unknown
// as any id: every sub-tenant page and action is a 404, and changes nothing.
func grandchildOfAnotherTree(t *testing.T, x *atk) {
	ctx := context.Background()
	globexEU, err := x.a.store.CreateTenant(ctx, models.NewTenant{ParentID: x.ids["tenant:globex"], Name: "Globex EU", Subdomain: "globex-eu", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	lab, err := x.a.store.CreateTenant(ctx, models.NewTenant{ParentID: globexEU.ID, Name: "Globex EU Lab", Subdomain: "globex-eu-lab",
		Description: "Globex's secret lab", Timezone: "UTC"})
	if err != nil {
		t.Fatal(err)
	}
	paths := fmt.Sprintf("/sub-tenants/%d", lab.ID)
	wantBody(t, x.br["admin"].get(globex+paths+"/settings"), "Globex EU Lab", "secret lab") // bob owns globex
	alice := x.br["super_admin"]
	for _, below := range []string{"", "/devices", "/users", "/users/new", "/sub-tenants", "/sub-tenants/new", "/settings"} {
		r := alice.get(acme + paths + below)
		wantStatus(t, r, http.StatusNotFound)
		noData(t, r, "Globex EU", "secret lab")
	}
	create := url.Values{"name": {"Planted"}, "subdomain": {"planted-lab"}, "description": {"Planted"}, "email": {"owner@attack.test"}, "timezone": {"UTC"}, "confirmed": {"yes"}}
	x.refused(t, alice, "POST", acme+paths+"/sub-tenants", create, http.StatusNotFound)
	x.refused(t, alice, "POST", acme+paths+"/status", url.Values{"status": {"inactive"}}, http.StatusNotFound)
	x.refused(t, alice, "POST", acme+paths+"/settings", url.Values{"timezone": {"Asia/Tokyo"}}, http.StatusNotFound)
	x.refused(t, alice, "POST", acme+paths+"/users", url.Values{"first_name": {"M"}, "last_name": {"L"}, "email": {"m@attack.test"}, "role": {"admin"}}, http.StatusNotFound)
	x.refused(t, alice, "POST", acme+paths+"/devices", url.Values{"identifier": {"PLANTED-1"}, "model": {"M"}, "status": {"active"}}, http.StatusNotFound)
}

// forgedHosts asks for acme's team with Host headers that name no company.
func forgedHosts() []attackRequest {
	var requests []attackRequest
	for _, host := range []string{"evil.example", "acme.localhost:8080.evil.example", "acme.evil.example", "x.acme.localhost:8080", "acme.localhost:8081", ".localhost:8080"} {
		requests = append(requests, attackRequest{as: "super_admin", method: http.MethodGet, url: acme + "/settings/team", host: host,
			status: http.StatusNotFound, absent: []string{"Acme Corp", "ACME-1001", "dave@acme.test"}})
	}
	return requests
}

// adminReachingOtherCompanies: bob, an Admin of acme and the owner of
// globex, aims member changes at initech's and acme's members from the wrong
// company.
func adminReachingOtherCompanies() []attackRequest {
	var requests []attackRequest
	for _, action := range []string{"role", "remove", "owner"} {
		onAcme := http.StatusNotFound
		if action == "owner" {
			onAcme = http.StatusForbidden // an Admin may not transfer ownership at all
		}
		requests = append(requests,
			attackRequest{as: "admin", method: http.MethodPost, url: acme + "/settings/team/members/{member:initech}/" + action, form: url.Values{"role": {"viewer"}}, status: onAcme},
			attackRequest{as: "admin", method: http.MethodPost, url: initech + "/settings/team/members/{member:initech}/" + action, form: url.Values{"role": {"viewer"}}, status: http.StatusForbidden},
			attackRequest{as: "admin", method: http.MethodPost, url: globex + "/settings/team/members/{member:acme}/" + action, form: url.Values{"role": {"admin"}}, status: http.StatusNotFound},
		)
	}
	return requests
}

func openRedirects(t *testing.T, x *atk) {
	nexts := []string{"//evil.example", "https://evil.example", `/\evil.example`, `\\evil.example`, "/%2F%2Fevil.example", "///evil.example", "http:evil.example", "/\t/evil.example", "//evil.example/%2e%2e/", "javascript:alert(1)"}
	anon := x.a.browser()
	for _, next := range nexts {
		q := url.Values{"next": {next}}.Encode()
		for _, b := range []*browser{x.br["super_admin"], anon} {
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
}

func replayedHandoff(t *testing.T, x *atk) {
	dave := x.a.browser()
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
	thief := x.a.browser()
	thief.handoffState("acme")
	r = thief.get(link)
	wantStatus(t, r, http.StatusBadRequest)
	noData(t, r, "ACME-1001", "Maria Garcia")
}

func foreignHandoffs(t *testing.T, x *atk) {
	a := x.a
	dave := a.user("dave@acme.test")
	b := a.browser()
	state := b.handoffState("acme")
	session := a.newSession(dave)
	_, expired := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:acme"], session, state, time.Now().Add(-time.Hour))
	wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(expired)), http.StatusBadRequest)
	_, forGlobex := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:globex"], session, b.handoffState("globex"), time.Now())
	wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(forGlobex)), http.StatusBadRequest)
	_, otherBrowser := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:acme"], session, "not-this-browsers-state", time.Now())
	wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(otherBrowser)), http.StatusBadRequest)
	// The same token, freshly minted for this browser, works: the refusals above are about what they say.
	_, good := handoff.New(a.secrets.Handoff, dave.ID, x.ids["tenant:acme"], session, b.handoffState("acme"), time.Now())
	wantStatus(t, b.get(acme+"/auth/handoff?token="+url.QueryEscape(good)), http.StatusSeeOther)
}

// getOnPostRoutes: every POST route's path, with ids that a POST could act
// on, answers 404 or 405 to a GET or HEAD (or shows its page, when it is
// also one) and changes nothing.
func getOnPostRoutes(t *testing.T, x *atk) {
	a, alice := x.a, x.br["super_admin"]
	wantStatus(t, x.send(alice, "POST", acme+"/settings/team", person("get-probe@attack.test", "viewer")), http.StatusSeeOther)
	token := strings.TrimPrefix(a.inbox("get-probe@attack.test")[0], base+"/invitations/")
	withIDs := strings.NewReplacer(":id/invitations/:invitationID", x.id("tenant:acme-eu")+"/invitations/"+x.id("inv:acme"),
		":id/devices/:deviceID", x.id("tenant:acme-eu")+"/devices/"+x.id("device:acme-eu"),
		"/sub-tenants/:id", "/sub-tenants/"+x.id("tenant:acme-eu"),
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
		path := withIDs.Replace(r.Path)
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
}

func auditLogIsolation(t *testing.T, x *atk) {
	a := x.a
	// Give globex, initech and acme-eu events of their own first.
	wantStatus(t, x.send(x.br["admin"], "POST", globex+"/settings/company", url.Values{"timezone": {"Europe/Paris"}}), http.StatusSeeOther)
	wantStatus(t, x.send(x.br["super_admin"], "POST", acme+"/sub-tenants/"+x.id("tenant:acme-eu")+"/settings", url.Values{"timezone": {"Europe/Paris"}}), http.StatusSeeOther)
	wantStatus(t, x.send(x.signedIn("carol@initech.test", "initech"), "POST", initech+"/settings/company", url.Values{"timezone": {"Europe/Paris"}}), http.StatusSeeOther)
	var family []string
	a.db.Raw("SELECT name FROM tenants WHERE id = ? OR parent_id = ?", x.ids["tenant:acme"], x.ids["tenant:acme"]).Scan(&family)
	for _, tc := range []struct {
		b       *browser
		allowed []string
	}{{x.br["super_admin"], family}, {x.br["admin"], []string{"Acme Corp"}}} {
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
	for _, sub := range []string{"globex", "initech", "acme-eu"} {
		if got := x.scalar("SELECT COUNT(*) FROM audit_events WHERE tenant_id = ?", x.ids["tenant:"+sub]); got == "0" {
			t.Fatalf("%s has no events: the row proves nothing", sub)
		}
	}
}

func invitationAcceptedTwice(t *testing.T, x *atk) {
	a := x.a
	wantStatus(t, x.send(x.br["super_admin"], "POST", acme+"/settings/team", person("twice@attack.test", "viewer")), http.StatusSeeOther)
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
}

func invitationForAnotherEmail(t *testing.T, x *atk) {
	a, ctx := x.a, context.Background()
	wantStatus(t, x.send(x.br["super_admin"], "POST", acme+"/settings/team", person("invited@attack.test", "viewer")), http.StatusSeeOther)
	link := a.inbox("invited@attack.test")[0]
	mallory := a.browser()
	r := mallory.submit(link, link+"/accept", url.Values{"email": {"mallory@attack.test"}, "first_name": {"Mal"}, "last_name": {"Lory"},
		"password": {"a-good-password"}, "password_confirm": {"a-good-password"}, "tenant_id": {x.id("tenant:globex")}, "role": {"super_admin"}})
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
}

func invitationRevokedOrExpired(t *testing.T, x *atk) {
	a, alice := x.a, x.br["super_admin"]
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
}

func cookieOfAnotherSubdomain(t *testing.T, x *atk) {
	a, alice, bob := x.a, x.br["super_admin"], x.br["admin"]
	// bob owns globex and is an Admin of acme: his acme cookie is a
	// valid session, but of acme's host only.
	thief := a.browser()
	thief.plant(globex, bob.cookieOf(acme))
	r := thief.get(globex + "/settings/team")
	wantStatus(t, r, http.StatusSeeOther)
	noData(t, r, "Global shipping", "Globex")
	thief.plant(initech, alice.cookieOf(acme)) // alice is a Viewer of initech
	r = thief.get(initech + "/orders")
	wantStatus(t, r, http.StatusSeeOther)
	noData(t, r, "TPS reports", "carol@initech.test")
	// ...while on its own host it works, so the refusals are about the host.
	same := a.browser()
	same.plant(acme, bob.cookieOf(acme))
	wantStatus(t, same.get(acme+"/settings/team"), http.StatusOK)
}

func removedMembersSession(t *testing.T, x *atk) {
	ed := x.signedIn("ed@attack.test", "acme")
	wantStatus(t, ed.get(acme+"/orders"), http.StatusOK)
	edID := strconv.FormatInt(x.a.membershipID("ed@attack.test", "acme"), 10)
	wantStatus(t, x.send(x.br["super_admin"], "POST", acme+"/settings/team/members/"+edID+"/remove", nil), http.StatusSeeOther)
	for _, path := range []string{"/", "/settings/team", "/settings/team?q=dave", "/settings/team?q=%25", "/orders", "/orders?q=ACME", "/devices?q=ACME", "/templates", "/settings/company"} {
		r := ed.get(acme + path)
		wantStatus(t, r, http.StatusForbidden)
		noData(t, r, "ACME-1001", "Maria Garcia", "dave@acme.test", "ACME-DEV-0001", "Employment verification", "Cold-chain")
	}
	x.refused(t, ed, "POST", acme+"/devices", url.Values{"identifier": {"GHOST-1"}, "model": {"M"}, "status": {"active"}}, http.StatusForbidden)
}

func deactivatedTenant(t *testing.T, x *atk) {
	alice := x.br["super_admin"]
	eve := x.signedIn("eve@acme.test", "acme-eu")
	eu := tenantURL("acme-eu", "")
	status := acme + "/sub-tenants/" + x.id("tenant:acme-eu") + "/status"
	wantBody(t, eve.get(eu+"/devices"), "EU-TL100-0001")
	wantStatus(t, x.send(alice, "POST", status, url.Values{"status": {"inactive"}}), http.StatusSeeOther)
	for _, path := range []string{"/", "/devices", "/devices?q=EU", "/settings/team", "/orders"} {
		r := eve.get(eu + path)
		wantStatus(t, r, http.StatusForbidden)
		noData(t, r, "EU-TL100-0001", "eve@acme.test", "European operations")
	}
	x.refused(t, eve, "POST", eu+"/devices", url.Values{"identifier": {"GHOST-2"}, "model": {"M"}, "status": {"active"}}, http.StatusForbidden)
	frank := x.a.browser()
	frank.signIn("frank@acme.test", "")
	r := frank.get(tenantURL("acme-lab", "/settings/team"))
	wantStatus(t, r, http.StatusForbidden)
	noData(t, r, "frank@acme.test", "new device models")
	wantStatus(t, x.send(alice, "POST", status, url.Values{"status": {"active"}}), http.StatusSeeOther)
}

func staleTokenBeforeSignIn(t *testing.T, x *atk) {
	b := x.a.browser()
	stale := b.csrf(base + "/login")
	b.signIn("dave@acme.test", "")
	r := b.post(base+"/logout", url.Values{"_csrf": {stale}})
	wantStatus(t, r, http.StatusForbidden)
	wantStatus(t, b.get(acme+"/orders"), http.StatusOK) // still signed in
}

func staleTokenOfEarlierSession(t *testing.T, x *atk) {
	b := x.signedIn("bob@globex.test", "globex")
	stale := x.token(b, globex)
	x.signedIn("bob@globex.test", "globex")                                                    // another sign-in elsewhere leaves b's session alone...
	wantStatus(t, b.post(globex+"/logout", url.Values{"_csrf": {stale}}), http.StatusSeeOther) // ...until b signs out
	b.signIn("bob@globex.test", "")
	wantStatus(t, b.follow(b.get(globex+"/")), http.StatusOK)
	wantStatus(t, b.follow(b.get(acme+"/")), http.StatusOK)
	before := x.snapshot()
	wantStatus(t, b.post(globex+"/settings/company", url.Values{"timezone": {"Asia/Dubai"}, "_csrf": {stale}}), http.StatusForbidden)
	if x.snapshot() != before {
		t.Fatal("changed")
	}
	x.br["admin"] = b // signing out ended bob's other sessions: b is his browser now
}

func cookieTossing(t *testing.T, x *atk) {
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
}

func teamSearchAcrossCompanies(t *testing.T, x *atk) {
	a := x.a
	dave := x.signedIn("dave@acme.test", "acme")
	for _, q := range []string{"carol", "initech", "eve", "staff", "%25", "_", "%25%40%25", "'", "*"} {
		r := dave.get(acme + "/settings/team?q=" + q)
		wantStatus(t, r, http.StatusOK)
		noData(t, r, foreignToAcme...)
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
		noData(t, r, append(foreignToAcme, "Globex", "Initech", "Acme Europe")...)
	}
	// The parent's Super Admin searching a child's users sees that child only.
	r := x.br["super_admin"].get(acme + "/sub-tenants/" + x.id("tenant:acme-eu") + "/users?q=carol")
	wantStatus(t, r, http.StatusOK)
	r.body = tableOf(r) // alice's company toggle rightly names initech's owner
	noData(t, r, "carol@initech.test")
}

func forgedInvitation(t *testing.T, x *atk) {
	a := x.a
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
}
