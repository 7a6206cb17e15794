package handlers_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

// expectation is what each kind of visitor gets from one route on a tenant
// host (acme) and on the base domain.
type expectation struct {
	tenant map[string]int // visitor → status on acme
	apex   map[string]int // visitor → status on the base domain
}

// Visitors: anonymous; a signed-in non-member of acme (carol); and one member
// per role: dave (Viewer), alice via globex is Editor so acme uses bob
// (Admin) and alice (Super Admin). Editor is exercised on globex below.
var visitors = []string{"anonymous", "non-member", "viewer", "admin", "super_admin"}

var signInAs = map[string]string{
	"non-member":  "carol@initech.test",
	"viewer":      "dave@acme.test",
	"admin":       "bob@globex.test",
	"super_admin": "alice@acme.test",
}

func all(status int) map[string]int {
	m := map[string]int{}
	for _, v := range visitors {
		m[v] = status
	}
	return m
}

func members(anonymous, nonMember, member int) map[string]int {
	m := all(member)
	m["anonymous"], m["non-member"] = anonymous, nonMember
	return m
}

// routeExpectations has a row for every route the router knows. A new route
// without a row fails TestEveryRouteHasAnAccessRow.
var routeExpectations = map[string]expectation{
	"GET /healthz":  {tenant: all(200), apex: all(200)},
	"GET /readyz":   {tenant: all(200), apex: all(200)},
	"GET /static/*": {}, // checked in TestStaticFiles
	// A non-member has no session on acme's host, so acme sends them to sign
	// in, where the base domain refuses them (TestNonMemberIsRefused).
	"GET /":                   {tenant: members(303, 303, 200), apex: members(303, 303, 303)}, // apex: to sign-in or to a company
	"GET /login":              {tenant: all(303), apex: members(200, 303, 303)},
	"POST /login":             {},                                 // checked in the sign-in tests
	"POST /logout":            {},                                 // checked in TestCSRF and TestSignOutEndsThisBrowsersSession
	"GET /auth/handoff":       {tenant: all(400), apex: all(404)}, // no token given
	"GET /auth/handoff/begin": {tenant: all(303), apex: all(404)},
	"GET /go/:subdomain":      {}, // checked in TestNonMemberIsRefused and the switching tests
	// The demo data of these tests has no single sign-on; sso_handlers_test.go
	// configures it and runs the flow.
	"GET /login/sso":         {tenant: all(303), apex: all(200)},
	"GET /auth/sso":          {tenant: all(404), apex: all(404)},
	"GET /auth/sso/begin":    {tenant: all(404), apex: all(404)},
	"GET /auth/sso/callback": {tenant: all(400), apex: all(404)}, // no attempt cookie
	"POST /auth/sso/link":    {},                                 // checked in sso_handlers_test.go

	"GET /invitations/:token":          {tenant: all(404), apex: all(404)}, // sample token is unknown; real ones in team tests
	"POST /invitations/:token/accept":  {},                                 // checked in team_handlers_test.go
	"POST /invitations/:token/decline": {},
	"GET /companies":                   {tenant: members(303, 303, 200), apex: all(404)},
	"POST /companies/:id/leave":        {}, // checked in company_handlers_test.go
	"POST /companies/:id/acknowledge":  {},
	"GET /settings/team":               {tenant: members(303, 303, 200), apex: all(404)},
	"GET /settings/team/new":           {tenant: map[string]int{"anonymous": 303, "non-member": 303, "viewer": 403, "admin": 200, "super_admin": 200}, apex: all(404)},
	"POST /settings/team":              {}, // checked in team_handlers_test.go
	// Editing dave, acme's Viewer: Admins and Super Admins (PermManageMembers).
	"GET /settings/team/members/:id/edit":        {tenant: map[string]int{"anonymous": 303, "non-member": 303, "viewer": 403, "admin": 200, "super_admin": 200}, apex: all(404)},
	"POST /settings/team/members/:id/edit":       {}, // checked in team_handlers_test.go
	"POST /settings/team/members/:id/remove":     {},
	"POST /settings/team/members/:id/owner":      {},
	"POST /settings/team/invitations/:id/resend": {},
	"POST /settings/team/invitations/:id/revoke": {},
	// An order's page (acme's ACME-1001): every member; changing its
	// status needs PermEdit.
	"GET /orders/:id":         {tenant: members(303, 303, 200), apex: all(404)},
	"POST /orders/:id/status": {}, // checked in order_details_handlers_test.go

	// Orders and templates: every member sees the lists; creating needs PermEdit.
	"GET /orders":                {tenant: members(303, 303, 200), apex: all(404)},
	"GET /orders/new":            {tenant: needsEdit(), apex: all(404)},
	"POST /orders":               {}, // checked in order_handlers_test.go
	"GET /templates":             {tenant: members(303, 303, 200), apex: all(404)},
	"GET /templates/new":         {tenant: needsEdit(), apex: all(404)},
	"GET /templates/:id":         {tenant: members(303, 303, 200), apex: all(404)}, // acme's Employment verification
	"GET /templates/:id/edit":    {tenant: needsEdit(), apex: all(404)},
	"POST /templates":            {}, // checked in template_handlers_test.go
	"POST /templates/:id/edit":   {},
	"POST /templates/:id/delete": {},
	"GET /settings/company":      {tenant: members(303, 303, 200), apex: all(404)},
	"POST /settings/company":     {}, // checked in settings_handlers_test.go
	// The audit log: Admins and Super Admins (PermManageSettings).
	"GET /settings/audit":     {tenant: needsManageSettings(), apex: all(404)},
	"GET /settings/audit.csv": {tenant: needsManageSettings(), apex: all(404)},
	// Billing: a company's Admins and Super Admins (PermManageSettings);
	// platform staff's pages exist on the platform's host only.
	"GET /settings/billing":                            {tenant: needsManageSettings(), apex: all(404)},
	"GET /settings/billing/statements/:month":          {tenant: needsManageSettings(), apex: all(404)}, // acme's current month
	"GET /settings/billing/statements/:month/csv":      {tenant: needsManageSettings(), apex: all(404)},
	"GET /billing":                                     {tenant: all(404), apex: all(404)},
	"POST /billing/refresh":                            {}, // checked in billing_handlers_test.go
	"GET /billing/companies/:id":                       {tenant: all(404), apex: all(404)},
	"GET /billing/companies/:id/statements/:month":     {tenant: all(404), apex: all(404)},
	"GET /billing/companies/:id/statements/:month/csv": {tenant: all(404), apex: all(404)},
	// Single sign-on domains: a company's Admins check their DNS records;
	// platform staff decide the rest on the platform's host only, so on a
	// company's host (acme here) the page does not exist for anyone.
	"POST /settings/sso/domains/:id/verify": {}, // checked in sso_domain_handlers_test.go
	"GET /sso-domains":                      {tenant: all(404), apex: all(404)},
	"POST /sso-domains/:id/approve":         {}, // checked in sso_domain_handlers_test.go
	"POST /sso-domains/:id/refuse":          {},
	// Single sign-on: Admins and Super Admins (PermManageSettings).
	"GET /settings/sso":          {tenant: needsManageSettings(), apex: all(404)},
	"POST /settings/sso":         {}, // checked in sso_settings_handlers_test.go
	"POST /settings/sso/test":    {},
	"POST /settings/sso/inherit": {},
	"POST /settings/sso/delete":  {},
	// Sub-tenants: Super Admins only.
	"GET /sub-tenants/subdomain-check": {tenant: onlySuperAdmin(), apex: all(404)},
	"GET /sub-tenants":                 {tenant: onlySuperAdmin(), apex: all(404)},
	"GET /sub-tenants/new":             {tenant: onlySuperAdmin(), apex: all(404)},
	"POST /sub-tenants":                {}, // checked in subtenant_handlers_test.go
	// The details pages of acme's child acme-eu: Super Admins of acme only.
	"GET /sub-tenants/:id":                                   {tenant: detailsOnlySuperAdmin(303), apex: all(404)},
	"GET /sub-tenants/:id/users":                             {tenant: detailsOnlySuperAdmin(200), apex: all(404)},
	"GET /sub-tenants/:id/users/new":                         {tenant: detailsOnlySuperAdmin(200), apex: all(404)},
	"GET /sub-tenants/:id/settings":                          {tenant: detailsOnlySuperAdmin(200), apex: all(404)},
	"GET /sub-tenants/:id/sub-tenants":                       {tenant: detailsOnlySuperAdmin(200), apex: all(404)},
	"GET /sub-tenants/:id/sub-tenants/new":                   {tenant: detailsOnlySuperAdmin(200), apex: all(404)},
	"POST /sub-tenants/:id/sub-tenants":                      {}, // checked in subtenant_handlers_test.go
	"POST /sub-tenants/:id/users":                            {}, // checked in subtenant_handlers_test.go
	"POST /sub-tenants/:id/invitations/:invitationID/resend": {},
	"POST /sub-tenants/:id/users/:membershipID/owner":        {}, // platform staff only: subtenant_handlers_test.go
	"POST /sub-tenants/:id/invitations/:invitationID/revoke": {},
	"POST /sub-tenants/:id/settings":                         {},
	"POST /sub-tenants/:id/status":                           {},
	// Devices: every member sees them; adding, importing and (de)activating
	// need PermEdit, deprovisioning PermManageMembers (an Admin's). The
	// parent's Super Admins reach a child's devices only on its Devices tab.
	"GET /devices":                                        {tenant: members(303, 303, 200), apex: all(404)},
	"GET /devices/new":                                    {tenant: needsEdit(), apex: all(404)},
	"POST /devices":                                       {}, // checked in device_handlers_test.go
	"POST /devices/import":                                {},
	"POST /devices/:id/status":                            {},
	"POST /devices/:id/deprovision":                       {},
	"GET /devices/:id/edit":                               {tenant: needsEdit(), apex: all(404)}, // a device of acme's
	"POST /devices/:id/edit":                              {},
	"GET /sub-tenants/:id/devices":                        {tenant: detailsOnlySuperAdmin(200), apex: all(404)},
	"POST /sub-tenants/:id/devices":                       {},
	"POST /sub-tenants/:id/devices/import":                {},
	"POST /sub-tenants/:id/devices/:deviceID/status":      {},
	"POST /sub-tenants/:id/devices/:deviceID/deprovision": {},
	"GET /sub-tenants/:id/devices/:deviceID/edit":         {tenant: detailsOnlySuperAdmin(200), apex: all(404)}, // a device of acme-eu's
	"POST /sub-tenants/:id/devices/:deviceID/edit":        {},

	// Developers: every member sees the API keys; Admins and Super Admins
	// (PermManageSettings) create, roll and revoke them and ask for
	// production access. Platform staff answer on the platform's host only.
	"GET /developers/api-keys":                        {tenant: members(303, 303, 200), apex: all(404)},
	"GET /developers/api-keys/new":                    {tenant: needsManageSettings(), apex: all(404)},
	"POST /developers/api-keys":                       {}, // checked in developer_handlers_test.go
	"POST /developers/api-keys/:id/revoke":            {},
	"POST /developers/api-keys/:id/roll":              {},
	"GET /developers/api-keys/:id/roll":               {}, // needs a key's id: checked in developer_handlers_test.go and the attack matrix
	"GET /developers/production-access":               {tenant: needsManageSettings(), apex: all(404)},
	"POST /developers/production-access":              {},
	"GET /developers/webhooks":                        {tenant: needsManageSettings(), apex: all(404)},
	"GET /developers/webhooks/new":                    {tenant: needsManageSettings(), apex: all(404)},
	"POST /developers/webhooks":                       {}, // checked in webhook_handlers_test.go and the attack matrix
	"GET /developers/webhooks/:id":                    {}, // needs an endpoint's id: checked in webhook_handlers_test.go and the attack matrix
	"GET /developers/webhooks/:id/edit":               {},
	"POST /developers/webhooks/:id":                   {},
	"POST /developers/webhooks/:id/enable":            {},
	"POST /developers/webhooks/:id/disable":           {},
	"POST /developers/webhooks/:id/delete":            {},
	"POST /developers/webhooks/:id/reveal":            {},
	"POST /developers/webhooks/:id/rotate":            {},
	"POST /developers/webhooks/:id/test":              {},
	"POST /developers/webhooks/:id/resend":            {},
	"GET /developers/webhooks/deliveries/:id":         {}, // needs a delivery's id
	"POST /developers/webhooks/deliveries/:id/replay": {},
	"GET /access-requests":                            {tenant: all(404), apex: all(404)},
	"POST /access-requests/:id/approve":               {}, // checked in developer_handlers_test.go
	"POST /access-requests/:id/decline":               {},
	// Billing plans and a company's terms: platform staff's, on the
	// platform's host only (plan_handlers_test.go,
	// subtenant_billing_handlers_test.go).
	"GET /plans":                    {tenant: all(404), apex: all(404)},
	"GET /plans/new":                {tenant: all(404), apex: all(404)},
	"GET /plans/:id":                {tenant: all(404), apex: all(404)},
	"POST /plans":                   {},
	"POST /plans/:id":               {},
	"POST /plans/:id/archive":       {},
	"GET /sub-tenants/:id/billing":  {tenant: all(404), apex: all(404)},
	"POST /sub-tenants/:id/billing": {},

	// The signed-in person's own account: any member on a company's host,
	// anyone signed in on the base domain (carol, a non-member of acme, too).
	"GET /account/password":              {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"POST /account/password":             {}, // checked in account_handlers_test.go
	"GET /account/confirm":               {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"POST /account/confirm":              {}, // checked in account_confirm_handlers_test.go
	"GET /account/activity":              {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"GET /account/profile":               {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"POST /account/profile/name":         {}, // checked in profile_handlers_test.go
	"POST /account/profile/email":        {},
	"POST /account/profile/email/cancel": {},
	"POST /account/profile/time-zone":    {},
	"GET /account/email/confirm/:token":  {tenant: all(404), apex: map[string]int{"anonymous": 200, "non-member": 410, "viewer": 410, "admin": 410, "super_admin": 410}}, // a visitor is asked to sign in
	"POST /account/email/confirm/:token": {},
	"GET /login/forgot":                  {tenant: all(303), apex: all(200)},
	"POST /login/forgot":                 {},                                 // checked in password_reset_handlers_test.go
	"GET /login/reset/:token":            {tenant: all(404), apex: all(410)}, // sample token is unknown
	"POST /login/reset/:token":           {},
	"GET /account/sessions":              {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"POST /account/sessions/end-others":  {}, // checked in account_sessions_handlers_test.go
	"POST /account/sessions/:id/end":     {},
	// Two-factor sign-in: the account's pages (a fresh sign-in counts as
	// confirming it is you, so the setup shows); its POSTs and the
	// sign-in's second step are checked in two_factor_handlers_test.go.
	// Without a sign-in waiting for its code, the second step sends the
	// visitor to sign in (or, signed in, home).
	"GET /account/two-factor":                 {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"GET /account/two-factor/setup":           {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"POST /account/two-factor/setup":          {},
	"POST /account/two-factor/disable":        {},
	"POST /account/two-factor/recovery-codes": {},
	"GET /login/two-factor":                   {tenant: all(404), apex: all(303)},
	"POST /login/two-factor":                  {},
	"POST /settings/company/two-factor":       {}, // checked in two_factor_handlers_test.go
	// Passkeys (passkey_handlers_test.go); signing in with one is the base
	// domain's (a company's host answers 404).
	"GET /account/passkeys":                {tenant: members(303, 303, 200), apex: members(303, 200, 200)},
	"GET /account/passkeys/new":            {tenant: members(303, 303, 303), apex: members(303, 200, 200)}, // localhost's companies add on the base domain
	"POST /account/passkeys/new/begin":     {},
	"POST /account/passkeys/new":           {},
	"POST /account/passkeys/:id/rename":    {},
	"POST /account/passkeys/:id/remove":    {},
	"POST /account/confirm/passkey/begin":  {},
	"POST /account/confirm/passkey":        {},
	"POST /login/passkey/begin":            {},
	"POST /login/passkey":                  {},
	"POST /login/two-factor/passkey/begin": {}, // checked in two_factor_handlers_test.go
	"POST /login/two-factor/passkey":       {},

	// The JSON API: an API key, never a session, so every visitor here is
	// refused (on the base domain there is no API); its description is
	// public. Keys are tried route by route in api_attack_test.go.
	"GET /api/v1/openapi.json":         {tenant: all(200), apex: all(200)},
	"GET /api/v1/orders":               {tenant: all(401), apex: all(404)},
	"POST /api/v1/orders":              {},
	"GET /api/v1/orders/:id":           {tenant: all(401), apex: all(404)},
	"POST /api/v1/orders/:id/cancel":   {},
	"POST /api/v1/orders/:id/simulate": {},
	"GET /api/v1/devices":              {tenant: all(401), apex: all(404)},
	"POST /api/v1/devices":             {},
	"GET /api/v1/devices/:id":          {tenant: all(401), apex: all(404)},
	"POST /api/v1/devices/:id/status":  {},
	"GET /api/v1/members":              {tenant: all(401), apex: all(404)},
}

func needsManageSettings() map[string]int {
	return map[string]int{"anonymous": 303, "non-member": 303, "viewer": 403, "admin": 200, "super_admin": 200}
}

func detailsOnlySuperAdmin(superAdmin int) map[string]int {
	m := onlySuperAdmin()
	m["super_admin"] = superAdmin
	return m
}

func onlySuperAdmin() map[string]int {
	return map[string]int{"anonymous": 303, "non-member": 303, "viewer": 403, "admin": 403, "super_admin": 200}
}

var samplePath = map[string]string{"GET /go/:subdomain": "/go/acme", "GET /invitations/:token": "/invitations/bogus",
	"GET /login/reset/:token": "/login/reset/bogus", "GET /account/email/confirm/:token": "/account/email/confirm/bogus"}

func TestEveryRouteHasAnAccessRow(t *testing.T) {
	t.Parallel()
	h := newHandlersForRoutes(t)
	for _, r := range h.Router().Routes() {
		if r.Method == "echo_route_not_found" {
			continue // Echo's own catch-all for groups: renders the 404 page
		}
		key := r.Method + " " + r.Path
		if _, ok := routeExpectations[key]; !ok {
			t.Errorf("route %s has no row in routeExpectations", key)
		}
		if _, ok := h.AccessRules()[key]; !ok {
			t.Errorf("route %s was registered without an access rule", key)
		}
	}
}

func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	acmeDevice := a.addDevice("acme", "ACME-ACCESS-1", "Thermo Logger T-100")
	browsers := map[string]*browser{"anonymous": a.browser()}
	for visitor, email := range signInAs {
		b := a.browser()
		b.signIn(email, "")
		b.follow(b.get(tenantURL("acme", "/"))) // enter acme where a member
		browsers[visitor] = b
	}
	for key, exp := range routeExpectations {
		method, path, _ := strings.Cut(key, " ")
		if p, ok := samplePath[key]; ok {
			path = p
		}
		// A template's page is tried on one of acme's, an order's on one of
		// acme's, a member's on dave's and a device's on one of acme's; sub-tenant pages on acme's child,
		// Acme Europe, and a device's there on one of Acme Europe's.
		path = strings.ReplaceAll(path, "/templates/:id", "/templates/"+strconv.FormatInt(a.templateID("acme", "Employment verification"), 10))
		path = strings.ReplaceAll(path, "/orders/:id", "/orders/"+strconv.FormatInt(a.orderID("acme", "ACME-1001"), 10))
		path = strings.ReplaceAll(path, "/members/:id", "/members/"+strconv.FormatInt(a.membershipID("dave@acme.test", "acme"), 10))
		path = strings.ReplaceAll(path, "/devices/:id", "/devices/"+strconv.FormatInt(acmeDevice.ID, 10))
		path = strings.ReplaceAll(path, ":deviceID", strconv.FormatInt(a.device("acme-eu", "EU-TL100-0001").ID, 10))
		path = strings.ReplaceAll(path, ":id", strconv.FormatInt(a.tenant("acme-eu").ID, 10))
		path = strings.ReplaceAll(path, ":month", string(models.MonthOf(time.Now(), a.tenant("acme").Location())))
		if method != http.MethodGet {
			continue
		}
		for host, statuses := range map[string]map[string]int{tenantURL("acme", ""): exp.tenant, base: exp.apex} {
			for visitor, want := range statuses {
				t.Run(key+"@"+host+"/"+visitor, func(t *testing.T) {
					r := browsers[visitor].get(host + path)
					if r.status != want {
						t.Fatalf("status %d, want %d (location %q)", r.status, want, r.location)
					}
				})
			}
		}
	}
}

// TestEditorOnHome covers the role the acme demo data has no member for.
func TestEditorOnHome(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	page := b.signIn("alice@acme.test", "globex") // alice is an Editor in Globex
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Editor")
	if !models.RoleEditor.Can(models.PermView) {
		t.Fatal("editor cannot view")
	}
}
