package handlers_test

import (
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"canopy/models"
)

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
	// sees names what this route shows the visitor beyond what every page
	// may (the billing pages show a payer the companies billed to it).
	sees func(c atkCase) []string
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

// platformGate is a page of platform staff: on the platform's host the
// gate of perm; on any other host no such page, whoever asks (a POST
// without a token of the host is refused for it first).
func platformGate(perm models.Permission, ok func(c atkCase) int) func(c atkCase) int {
	return func(c atkCase) int {
		if c.target == "admin" {
			return gate(perm, ok)(c)
		}
		if c.method != http.MethodGet && !c.hasSession() {
			return http.StatusForbidden
		}
		return http.StatusNotFound
	}
}

func always(status int) func(atkCase) int { return func(atkCase) int { return status } }

// billingPage is a billing page of a company with terms; the platform has
// none, so its statements are not found (its overview says so, 200).
func billingPage(ok func(atkCase) int) func(atkCase) int {
	return func(c atkCase) int {
		if c.target == "admin" && c.method == http.MethodGet {
			return http.StatusNotFound
		}
		return ok(c)
	}
}

// billedToTarget are the companies billed to the target, which its billing
// pages show its Admins by name: Acme Europe on Acme's.
func billedToTarget(c atkCase) []string {
	role, member := c.member()
	if member && role.Can(models.PermManageSettings) && c.target == "acme" {
		return []string{atkMarkers["acme-eu"].name}
	}
	return nil
}

// notShownHere drops from leaked what the route may show the case's visitor.
func notShownHere(leaked []string, sees func(atkCase) []string, c atkCase) []string {
	if sees == nil {
		return leaked
	}
	allowed := sees(c)
	var out []string
	for _, l := range leaked {
		if !slices.Contains(allowed, l) {
			out = append(out, l)
		}
	}
	return out
}

// billingMonthPath is the target's current month's statement (below, "/csv").
func (x *atk) billingMonthPath(below string) func(atkCase) string {
	return func(c atkCase) string {
		month := models.MonthOf(time.Now(), x.a.tenant(c.target).Location())
		return "/settings/billing/statements/" + string(month) + below
	}
}

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

func (x *atk) foreignDomain(c atkCase) string {
	if c.target == "acme" {
		return x.id("domain:globex")
	}
	return x.id("domain:acme")
}

func (x *atk) foreignKey(c atkCase) string {
	if c.target == "acme" {
		return x.id("key:globex")
	}
	return x.id("key:acme")
}

// foreignOf is a record of kind ("hook", "delivery") of globex when the
// target is acme, else of acme: never the target's own.
func (x *atk) foreignOf(kind string, c atkCase) string {
	if c.target == "acme" {
		return x.id(kind + ":globex")
	}
	return x.id(kind + ":acme")
}

func (x *atk) foreignRequest(c atkCase) string {
	if c.target == "acme" {
		return x.id("request:globex")
	}
	return x.id("request:acme")
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
			s = strings.ReplaceAll(s, "{domain}", x.foreignDomain(c))
			s = strings.ReplaceAll(s, "{key}", x.foreignKey(c))
			s = strings.ReplaceAll(s, "{request}", x.foreignRequest(c))
			s = strings.ReplaceAll(s, "{hook}", x.foreignOf("hook", c))
			s = strings.ReplaceAll(s, "{delivery}", x.foreignOf("delivery", c))
			s = strings.ReplaceAll(s, "{template}", x.id("template:acme"))
			s = strings.ReplaceAll(s, "{order}", x.id("order:acme"))
			s = strings.ReplaceAll(s, "{lab}", x.id("tenant:acme-lab"))
			s = strings.ReplaceAll(s, "{plan}", x.id("plan:default"))
			s = strings.ReplaceAll(s, "{passkey}", x.id("passkey:eve"))
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
		"GET /readyz":   {want: ok},
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
		"GET /login/sso":          {path: p("/login/sso?company=globex"), want: done},
		// Every customer company of the fixture has single sign-on in force
		// (Acme Europe inherits Acme's); the platform has none.
		"GET /auth/sso": {want: onlyOn("admin", http.StatusNotFound, http.StatusSeeOther)},
		// A company's host runs single sign-on only for where its own
		// connection is in force: never for another company.
		"GET /auth/sso/begin": {path: func(c atkCase) string {
			other := "globex"
			if c.target == "globex" {
				other = "initech"
			}
			return "/auth/sso/begin?tenant=" + other
		}, want: notFound},
		"GET /auth/sso/callback":  {path: p("/auth/sso/callback?state=forged&code=forged"), want: always(http.StatusBadRequest)},
		"POST /auth/sso/link":     {form: f("password", "demo-password"), want: csrfGated(http.StatusBadRequest)},
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
		// Confirming it is you: the sample leaves the password out, refused
		// beside the field without spending the person's attempts.
		"GET /account/confirm":  {want: gate(view, ok)},
		"POST /account/confirm": {form: f("next", "/account/profile"), want: gate(view, always(http.StatusUnprocessableEntity))},
		"GET /account/activity": {want: gate(view, ok)},
		// The profile: the sample forms are refused beside a field (422), so
		// nothing of the visitor's own account changes; the forgot-password
		// pages live on the base domain only.
		"GET /account/profile":               {want: gate(view, ok)},
		"POST /account/profile/name":         {form: f("first_name", "", "last_name", "Lory"), want: gate(view, always(http.StatusUnprocessableEntity))},
		"POST /account/profile/email":        {form: f("email", "not-an-address"), want: gate(view, always(http.StatusUnprocessableEntity))},
		"POST /account/profile/email/cancel": {want: gate(view, done)},
		"POST /account/profile/time-zone":    {form: f("time_zone", "Mars/Olympus"), want: gate(view, always(http.StatusUnprocessableEntity))},
		"GET /account/email/confirm/:token":  {path: p("/account/email/confirm/bogus"), want: notFound},
		"POST /account/email/confirm/:token": {path: p("/account/email/confirm/bogus"), want: gate(view, notFound)},
		"GET /login/forgot":                  {path: p("/login/forgot?tenant=globex"), want: done},
		"POST /login/forgot":                 {form: f("email", "alice@acme.test"), want: csrfGated(http.StatusNotFound)},
		"GET /login/reset/:token":            {path: p("/login/reset/bogus"), want: notFound},
		"POST /login/reset/:token": {path: p("/login/reset/bogus"), form: f("new_password", "a-brand-new-secret", "confirm_password", "a-brand-new-secret"),
			want: csrfGated(http.StatusNotFound)},
		// Sessions: one's own only. Ending every other one ends none here
		// (each visitor has one browser); someone else's is not found.
		"GET /account/sessions":             {want: gate(view, ok)},
		"POST /account/sessions/end-others": {want: gate(view, done)},
		"POST /account/sessions/:id/end": {path: func(atkCase) string { return "/account/sessions/" + x.id("session:carol") + "/end" },
			want: gate(view, notFound)},
		// Two-factor sign-in, on the visitor's own account. The fixture's
		// sessions began within minutes, which counts as confirming it is
		// you: the setup shows a new secret, and its sample form, without a
		// code, is refused beside the field. Turning off (no app) and new
		// recovery codes (no second factor) send the visitor back to the
		// page. The second step of a sign-in exists on the base domain only.
		"GET /account/two-factor":                 {want: gate(view, ok)},
		"GET /account/two-factor/setup":           {want: gate(view, ok)},
		"POST /account/two-factor/setup":          {form: f("code", ""), want: gate(view, always(http.StatusUnprocessableEntity))},
		"POST /account/two-factor/disable":        {want: gate(view, done)},
		"POST /account/two-factor/recovery-codes": {want: gate(view, done)},
		"GET /login/two-factor":                   {want: notFound},
		"POST /login/two-factor":                  {form: f("code", "123456"), want: csrfGated(http.StatusNotFound)},
		// Passkeys: one's own; the sample form posts no passkey's answer,
		// refused beside the form, and another person's passkey is not found.
		"GET /account/passkeys":               {want: gate(view, ok)},
		"GET /account/passkeys/new":           {want: gate(view, done)}, // to the base domain's form: localhost's companies cannot make one
		"POST /account/passkeys/new/begin":    {want: gate(view, ok)},
		"POST /account/passkeys/new":          {form: f("name", "Mallory's key"), want: gate(view, always(http.StatusUnprocessableEntity))},
		"POST /account/passkeys/:id/rename":   {path: p("/account/passkeys/{passkey}/rename"), form: f("name", "Mine now"), want: gate(view, notFound)},
		"POST /account/passkeys/:id/remove":   {path: p("/account/passkeys/{passkey}/remove"), want: gate(view, notFound)},
		"POST /account/confirm/passkey/begin": {want: gate(view, always(http.StatusUnprocessableEntity))},
		"POST /account/confirm/passkey":       {form: f("next", "/account/profile"), want: gate(view, always(http.StatusUnprocessableEntity))},
		// Signing in with a passkey is the base domain's alone.
		"POST /login/passkey/begin": {want: csrfGated(http.StatusNotFound)},
		"POST /login/passkey":       {want: csrfGated(http.StatusNotFound)},
		// The second step of a sign-in with a passkey: the base domain's alone.
		"POST /login/two-factor/passkey/begin": {want: csrfGated(http.StatusNotFound)},
		"POST /login/two-factor/passkey":       {want: csrfGated(http.StatusNotFound)},

		"GET /settings/team":     {path: p("/settings/team?q=a"), want: gate(view, ok)},
		"GET /settings/team/new": {want: gate(manage, ok)},
		"POST /settings/team": {noSnap: true, form: f("first_name", "Mal", "last_name", "Lory", "email", "mallory{n}@attack.test", "role", "viewer"),
			want: gate(manage, done)},
		"GET /settings/team/members/:id/edit": {path: p("/settings/team/members/{member}/edit"), want: gate(manage, notFound)},
		"POST /settings/team/members/:id/edit": {path: p("/settings/team/members/{member}/edit"), form: f("role", "admin", "templates", "{template}"),
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

		// Requiring two-factor sign-in: the sample leaves the rule off, as
		// it is, so the rest of the matrix is not sent to set it up.
		"POST /settings/company/two-factor": {form: f("require_two_factor", ""), want: gate(settings, done)},

		// Single sign-on: only a company's own Admins, at its own address.
		// Each allowed save changes the client ID; a test fetches from a
		// closed port on this machine and changes nothing; the targets
		// allowed to inherit sit directly below the platform, which lends
		// nothing (409); the first allowed removal at a target removes what
		// the save row saved there, the next finds nothing (409).
		"GET /settings/sso": {want: gate(settings, ok)},
		"POST /settings/sso": {noSnap: true, form: f("issuer", "https://login.attack.example", "client_id", "attack-{n}", "client_secret", "attack-secret",
			"domains", "attack.example", "join_role", "admin"), want: gate(settings, done)},
		"POST /settings/sso/test": {form: f("issuer", "http://127.0.0.1:1", "client_id", "attack", "domains", "attack.example", "join_role", "viewer"),
			want: gate(settings, ok)},
		"POST /settings/sso/inherit": {form: f("inherit", "on"), want: gate(settings, always(http.StatusConflict))},
		"POST /settings/sso/delete": {noSnap: true, want: gate(settings, func(c atkCase) int {
			if x.ssoRemoved[c.target] {
				return http.StatusConflict
			}
			x.ssoRemoved[c.target] = true
			return http.StatusSeeOther
		})},

		// A domain of another company's connection: not found for its DNS
		// check. Staff's decisions exist on the platform's host only, which
		// no visitor is staff of; each names a domain still waiting.
		"POST /settings/sso/domains/:id/verify": {path: p("/settings/sso/domains/{domain}/verify"), want: gate(settings, notFound)},
		"GET /sso-domains":                      {want: platformGate(super, ok)},

		// Billing: a company's Admins see its month; the companies billed to
		// it by name (their usage, never their other data) where it pays,
		// never a company paying for itself; staff's pages exist on the
		// platform's host only, whose staff no visitor is.
		"GET /settings/billing":                       {want: gate(settings, billingPage(ok)), sees: billedToTarget},
		"GET /settings/billing/statements/:month":     {path: x.billingMonthPath(""), want: gate(settings, billingPage(ok)), sees: billedToTarget},
		"GET /settings/billing/statements/:month/csv": {path: x.billingMonthPath("/csv"), want: gate(settings, billingPage(ok)), sees: billedToTarget},
		"GET /billing":                                {path: p("/billing?q=a&sort=name"), want: platformGate(super, ok)},
		"POST /billing/refresh":                       {want: platformGate(super, done)},
		"GET /billing/companies/:id":                  {path: p("/billing/companies/{lab}"), want: platformGate(super, ok)},
		"GET /billing/companies/:id/statements/:month": {path: func(c atkCase) string {
			return "/billing/companies/" + x.id("tenant:acme") + x.billingMonthPath("")(c)[len("/settings/billing"):]
		}, want: platformGate(super, ok)},
		"GET /billing/companies/:id/statements/:month/csv": {path: func(c atkCase) string {
			return "/billing/companies/" + x.id("tenant:acme") + x.billingMonthPath("/csv")(c)[len("/settings/billing"):]
		}, want: platformGate(super, ok)},
		"POST /sso-domains/:id/approve": {path: p("/sso-domains/{domain}/approve"), want: platformGate(super, notFound)},
		"POST /sso-domains/:id/refuse":  {path: p("/sso-domains/{domain}/refuse"), form: f("note", "Mallory says no"), want: platformGate(super, notFound)},

		// The person's own membership of the company named: acme-lab, which
		// no visitor with a session on a target belongs to, is not found for
		// them, and nobody can make another person leave or answer for them.
		"POST /companies/:id/leave":       {path: p("/companies/{lab}/leave"), want: gate(view, notFound)},
		"POST /companies/:id/acknowledge": {path: p("/companies/{lab}/acknowledge"), want: gate(view, notFound)},

		"GET /orders":     {path: p("/orders?q=a"), want: gate(view, ok)},
		"GET /orders/new": {want: gate(edit, ok)},
		"POST /orders": {noSnap: true, form: func(atkCase) url.Values {
			return url.Values{"template_id": {x.id("template:acme")}, "applicant_name": {x.unique("Mallory ")}, "applicant_email": {"m@attack.test"}}
		}, want: gate(edit, onlyOn("acme", http.StatusSeeOther, http.StatusUnprocessableEntity))},

		// acme's completed order: its page on acme, not found elsewhere; a
		// step it cannot take (it is final) is refused on acme, so no case
		// changes it, and not found anywhere else.
		"GET /orders/:id":         {path: p("/orders/{order}"), want: gate(view, onlyOn("acme", http.StatusOK, http.StatusNotFound))},
		"POST /orders/:id/status": {path: p("/orders/{order}/status"), form: f("status", "cancelled"), want: gate(edit, onlyOn("acme", http.StatusConflict, http.StatusNotFound))},

		"GET /templates":     {want: gate(view, ok)},
		"GET /templates/new": {want: gate(edit, ok)},
		// acme's template: its page on acme, not found on any other host.
		"GET /templates/:id": {path: p("/templates/{template}"), want: gate(view, onlyOn("acme", http.StatusOK, http.StatusNotFound))},
		"POST /templates": {noSnap: true, form: f("name", "Attack template {n}", "branding_company_name", "Attack", "brand_color", "#112233", "collects", "employment"),
			want: gate(edit, done)},
		"GET /templates/:id/edit": {path: p("/templates/{template}/edit"), want: gate(edit, onlyOn("acme", http.StatusOK, http.StatusNotFound))},
		// acme's template, which orders use: deleting it is refused on acme
		// (back to its page, which says why) and not found anywhere else.
		"POST /templates/:id/delete": {path: p("/templates/{template}/delete"), want: gate(edit, onlyOn("acme", http.StatusSeeOther, http.StatusNotFound))},
		"POST /templates/:id/edit": {path: p("/templates/{template}/edit"), noSnap: true,
			form: f("name", "Attack template {n}", "branding_company_name", "Attack", "brand_color", "#112233", "collects", "employment"),
			want: gate(edit, onlyOn("acme", http.StatusSeeOther, http.StatusNotFound))},

		"GET /sub-tenants/subdomain-check": {path: p("/sub-tenants/subdomain-check?subdomain=acme-eu"), want: gate(super, ok)},
		"GET /sub-tenants":                 {want: gate(super, ok)},
		"GET /sub-tenants/new":             {want: gate(super, ok)},
		"POST /sub-tenants": {noSnap: true, form: f("name", "Attack Co {n}", "subdomain", "attack-{n}", "description", "Attack", "email", "owner@attack.test",
			"timezone", "UTC", "confirmed", "yes"), want: gate(super, done)},
		"GET /sub-tenants/:id":                 {path: p("/sub-tenants/{sub}"), want: gate(super, child(http.StatusSeeOther))},
		"GET /sub-tenants/:id/users":           {path: p("/sub-tenants/{sub}/users?q=a"), want: gate(super, child(http.StatusOK))},
		"GET /sub-tenants/:id/users/new":       {path: p("/sub-tenants/{sub}/users/new"), want: gate(super, child(http.StatusOK))},
		"GET /sub-tenants/:id/settings":        {path: p("/sub-tenants/{sub}/settings"), want: gate(super, child(http.StatusOK))},
		"GET /sub-tenants/:id/sub-tenants":     {path: p("/sub-tenants/{sub}/sub-tenants?q=a"), want: gate(super, child(http.StatusOK))},
		"GET /sub-tenants/:id/sub-tenants/new": {path: p("/sub-tenants/{sub}/sub-tenants/new"), want: gate(super, child(http.StatusOK))},
		"POST /sub-tenants/:id/sub-tenants": {path: p("/sub-tenants/{sub}/sub-tenants"), form: f("name", "Attack Co {n}", "subdomain", "attack-{n}", "description", "Attack",
			"email", "owner@attack.test", "timezone", "UTC", "confirmed", "yes"), want: gate(super, notFound)},
		"GET /sub-tenants/:id/devices": {path: p("/sub-tenants/{sub}/devices?q=a"), want: gate(super, child(http.StatusOK))},
		"POST /sub-tenants/:id/users": {path: p("/sub-tenants/{sub}/users"), form: f("first_name", "Mal", "last_name", "Lory", "email", "mallory{n}@attack.test", "role", "admin"),
			want: gate(super, notFound)},
		"POST /sub-tenants/:id/users/:membershipID/owner":        {path: p("/sub-tenants/{sub}/users/{member}/owner"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/invitations/:invitationID/resend": {path: p("/sub-tenants/{sub}/invitations/{inv}/resend"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/invitations/:invitationID/revoke": {path: p("/sub-tenants/{sub}/invitations/{inv}/revoke"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/settings":                         {path: p("/sub-tenants/{sub}/settings"), form: f("timezone", "Asia/Tokyo", "sso_inherit", "on"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/status":                           {path: p("/sub-tenants/{sub}/status"), form: f("status", "inactive"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices": {path: p("/sub-tenants/{sub}/devices"), form: f("identifier", "ATK-{n}", "model", "Evil", "status", "active"),
			want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices/import":                {path: p("/sub-tenants/{sub}/devices/import"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices/:deviceID/status":      {path: p("/sub-tenants/{sub}/devices/{device}/status"), form: f("status", "inactive"), want: gate(super, notFound)},
		"POST /sub-tenants/:id/devices/:deviceID/deprovision": {path: p("/sub-tenants/{sub}/devices/{device}/deprovision"), want: gate(super, notFound)},
		// A GET names acme-eu and, aimed at acme, one of acme-eu's devices,
		// which acme's Super Admins may edit; a POST names no child of the target.
		"GET /sub-tenants/:id/devices/:deviceID/edit":  {path: p("/sub-tenants/{sub}/devices/{device}/edit"), want: gate(super, child(http.StatusOK))},
		"POST /sub-tenants/:id/devices/:deviceID/edit": {path: p("/sub-tenants/{sub}/devices/{device}/edit"), form: f("model", "Evil"), want: gate(super, notFound)},

		// Developers: every member sees the keys; Admins create them (the
		// key shown on the answer's page), and roll or revoke only their own
		// company's: another company's key is not found. A company asks for
		// production access while no request of its waits (then 422), and
		// only platform staff, on the platform's host, answer.
		"GET /developers/api-keys":     {want: gate(view, ok)},
		"GET /developers/api-keys/new": {want: gate(settings, ok)},
		"POST /developers/api-keys": {noSnap: true, form: f("name", "Attack key {n}", "environment", "sandbox", "scopes", "orders:read"),
			want: gate(settings, ok)},
		"POST /developers/api-keys/:id/revoke": {path: p("/developers/api-keys/{key}/revoke"), want: gate(settings, notFound)},
		"POST /developers/api-keys/:id/roll":   {path: p("/developers/api-keys/{key}/roll"), form: f("expires_in", "0"), want: gate(settings, notFound)},
		"GET /developers/api-keys/:id/roll":    {path: p("/developers/api-keys/{key}/roll"), want: gate(settings, notFound)},
		// The form is not offered while the company's request waits.
		"GET /developers/production-access": {want: gate(settings, func(c atkCase) int {
			if x.accessPending[c.target] {
				return http.StatusSeeOther
			}
			return http.StatusOK
		})},
		// Webhooks: Admins and above of the company alone; another
		// company's endpoint or delivery is not found, whatever the action.
		"GET /developers/webhooks":     {want: gate(settings, ok)},
		"GET /developers/webhooks/new": {want: gate(settings, ok)},
		"POST /developers/webhooks": {noSnap: true, form: f("environment", "sandbox", "url", "https://hooks.attack.example/{n}", "events", "order.created"),
			want: gate(settings, done)},
		"GET /developers/webhooks/:id":                    {path: p("/developers/webhooks/{hook}"), want: gate(settings, notFound)},
		"GET /developers/webhooks/:id/edit":               {path: p("/developers/webhooks/{hook}/edit"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id":                   {path: p("/developers/webhooks/{hook}"), form: f("url", "https://hooks.attack.example/x", "events", "order.created"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id/enable":            {path: p("/developers/webhooks/{hook}/enable"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id/disable":           {path: p("/developers/webhooks/{hook}/disable"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id/delete":            {path: p("/developers/webhooks/{hook}/delete"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id/reveal":            {path: p("/developers/webhooks/{hook}/reveal"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id/rotate":            {path: p("/developers/webhooks/{hook}/rotate"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id/test":              {path: p("/developers/webhooks/{hook}/test"), form: f("event", "order.created"), want: gate(settings, notFound)},
		"POST /developers/webhooks/:id/resend":            {path: p("/developers/webhooks/{hook}/resend"), form: f("since", "2020-01-01T00:00"), want: gate(settings, notFound)},
		"GET /developers/webhooks/deliveries/:id":         {path: p("/developers/webhooks/deliveries/{delivery}"), want: gate(settings, notFound)},
		"POST /developers/webhooks/deliveries/:id/replay": {path: p("/developers/webhooks/deliveries/{delivery}/replay"), want: gate(settings, notFound)},
		"POST /developers/production-access": {noSnap: true, form: f("intended_use", "Attack {n}", "monthly_volume", "5"), want: gate(settings, func(c atkCase) int {
			if x.accessPending[c.target] {
				return http.StatusUnprocessableEntity
			}
			x.accessPending[c.target] = true
			return http.StatusSeeOther
		})},
		// Billing: platform staff's plans and a company's terms, which no
		// visitor is staff to reach; anywhere but the platform's host, no
		// such page.
		"GET /plans":     {want: platformGate(super, ok)},
		"GET /plans/new": {path: p("/plans/new?from={plan}"), want: platformGate(super, ok)},
		"POST /plans": {form: f("name", "Attack plan {n}", "currency", "USD", "base_fee", "0", "order_price", "0", "included_orders", "0",
			"device_month_price", "0", "included_device_months", "0", "seat_price", "0", "included_seats", "0", "is_default", "on"), want: platformGate(super, done)},
		"GET /plans/:id":               {path: p("/plans/{plan}"), want: platformGate(super, ok)},
		"POST /plans/:id":              {path: p("/plans/{plan}"), form: f("name", "Mallory's plan"), want: platformGate(super, done)},
		"POST /plans/:id/archive":      {path: p("/plans/{plan}/archive"), want: platformGate(super, always(http.StatusConflict))},
		"GET /sub-tenants/:id/billing": {path: p("/sub-tenants/{sub}/billing?q=a"), want: platformGate(super, ok)},
		"POST /sub-tenants/:id/billing": {path: p("/sub-tenants/{sub}/billing"), form: f("plan_id", "{plan}", "bill_to", "{lab}"),
			want: platformGate(super, done)},
		"GET /access-requests":              {want: platformGate(super, ok)},
		"POST /access-requests/:id/approve": {path: p("/access-requests/{request}/approve"), want: platformGate(super, notFound)},
		"POST /access-requests/:id/decline": {path: p("/access-requests/{request}/decline"), form: f("reason", "Mallory says no"), want: platformGate(super, notFound)},

		"GET /devices":                  {path: p("/devices?q=EU"), want: gate(view, ok)},
		"GET /devices/new":              {want: gate(edit, ok)},
		"POST /devices":                 {noSnap: true, form: f("identifier", "ATK-{n}", "model", "Evil", "status", "active"), want: gate(edit, done)},
		"POST /devices/import":          {want: gate(edit, always(http.StatusUnprocessableEntity))}, // no file: the allowed see the form again
		"POST /devices/:id/status":      {path: p("/devices/{device}/status"), form: f("status", "inactive"), want: gate(edit, notFound)},
		"POST /devices/:id/deprovision": {path: p("/devices/{device}/deprovision"), want: gate(manage, notFound)},
		"GET /devices/:id/edit":         {path: p("/devices/{device}/edit"), want: gate(edit, notFound)},
		"POST /devices/:id/edit":        {path: p("/devices/{device}/edit"), form: f("model", "Evil"), want: gate(edit, notFound)},

		// The JSON API takes an API key, never a session or its token:
		// every visitor is refused; api_attack_test.go aims keys at it.
		"GET /api/v1/openapi.json":         {want: ok},
		"GET /api/v1/orders":               {want: always(http.StatusUnauthorized)},
		"POST /api/v1/orders":              {form: f("template_id", "{template}", "applicant_name", "Mallory"), want: always(http.StatusUnauthorized)},
		"GET /api/v1/orders/:id":           {path: p("/api/v1/orders/1"), want: always(http.StatusUnauthorized)},
		"POST /api/v1/orders/:id/cancel":   {path: p("/api/v1/orders/1/cancel"), want: always(http.StatusUnauthorized)},
		"POST /api/v1/orders/:id/simulate": {path: p("/api/v1/orders/1/simulate"), form: f("status", "completed"), want: always(http.StatusUnauthorized)},
		"GET /api/v1/devices":              {want: always(http.StatusUnauthorized)},
		"POST /api/v1/devices":             {form: f("identifier", "ATK-{n}", "model", "Evil"), want: always(http.StatusUnauthorized)},
		"GET /api/v1/devices/:id":          {path: p("/api/v1/devices/{device}"), want: always(http.StatusUnauthorized)},
		"POST /api/v1/devices/:id/status":  {path: p("/api/v1/devices/{device}/status"), form: f("status", "inactive"), want: always(http.StatusUnauthorized)},
		"GET /api/v1/members":              {want: always(http.StatusUnauthorized)},
	}
}

// TestAttackMatrix: every route of the router × every kind of visitor × the
// tenant the request is aimed at, relative to the visitor's own company
// (acme) → the expected status, nothing leaked from a company the visitor may
// not see, and nothing changed when refused. Each target runs on a fixture
// of its own, in parallel with the others.
func TestAttackMatrix(t *testing.T) {
	t.Parallel()
	x := newAtk(t)
	// The leak check itself is checked: a child's name on a Viewer's page
	// is caught, on its Super Admin's page it is not.
	if got := x.leaks("viewer", "acme", "Acme Europe EU-TL100-0001"); len(got) != 2 {
		t.Fatalf("leak check missed a child's data: %q", got)
	}
	if got := x.leaks("super_admin", "acme", "Acme Europe Globex Initech carol@initech.test"); len(got) != 0 {
		t.Fatalf("leak check flags what the visitor may see: %q", got)
	}
	keys := matrixRoutes(t, x)
	var cases atomic.Int64
	t.Cleanup(func() {
		t.Logf("attack matrix: %d routes × %d visitors × %d targets = %d cases", len(keys), len(atkVisitors), len(atkTargets), cases.Load())
	})
	for i, tg := range atkTargets {
		t.Run(tg.rel, func(t *testing.T) {
			t.Parallel()
			fixture := x
			if i > 0 {
				fixture = newAtk(t)
			}
			cases.Add(int64(runMatrixTarget(t, fixture, keys, tg.sub)))
		})
	}
}

// matrixRoutes are the keys of every route, in the order the matrix runs
// them (the rows that end sessions last). The route list is Echo's own: a
// route without a row fails.
func matrixRoutes(t *testing.T, x *atk) []string {
	routes := atkRoutes(x)
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
	return keys
}

// runMatrixTarget aims every route at one target as every visitor and
// returns how many cases it ran.
func runMatrixTarget(t *testing.T, x *atk, keys []string, sub string) int {
	routes := atkRoutes(x)
	cases, last, tokens := 0, "", map[string]string{}
	for _, key := range keys {
		row := routes[key]
		method, path, _ := strings.Cut(key, " ")
		for _, v := range atkVisitors {
			c := atkCase{x: x, method: method, visitor: v, target: sub}
			cases++
			t.Run(key+"/"+v, func(t *testing.T) {
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
				if _, ok := tokens[v]; (!ok || row.last) && method != http.MethodGet {
					tokens[v] = x.token(x.br[v], tenantURL(sub, ""))
				}
				var r response
				if method == http.MethodGet {
					r = x.br[v].get(tenantURL(sub, target))
				} else {
					if form == nil {
						form = url.Values{}
					}
					if tokens[v] != "" {
						form.Set("_csrf", tokens[v])
					}
					r = x.br[v].post(tenantURL(sub, target), form)
				}
				if want := row.want(c); r.status != want {
					t.Errorf("status %d, want %d (location %q) %s", r.status, want, r.location, heading(r.body))
				}
				if method == http.MethodPost && c.hasSession() && !row.last && strings.Contains(r.body, "This form has expired") {
					t.Errorf("refused for its CSRF token, not by authorization: the case proves nothing")
				}
				if leaked := notShownHere(x.leaks(v, sub, r.body), row.sees, c); len(leaked) > 0 {
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
	x.a.t = t
	return cases
}
