package handlers_test

import (
	"net/http"
	"net/url"
	"strconv"
	"testing"
)

// TestChangesReachEveryInstance: a server keeps nothing of a tenant or a
// membership between requests but which tenant id a subdomain had, a hint
// the next request checks. So a change made through one instance is what
// the very next request on another sees: a company deactivated, a role
// lowered.
func TestChangesReachEveryInstance(t *testing.T) {
	t.Parallel()
	first := newApp(t)
	second := first.anotherInstance()
	alice, eve := first.browser(), second.browser()
	alice.signIn("alice@acme.test", "acme")
	eve.signIn("eve@acme.test", "acme-eu")
	wantStatus(t, eve.get(tenantURL("acme-eu", "/")), http.StatusOK) // the second instance has seen acme-eu

	subTenant := strconv.FormatInt(first.tenant("acme-eu").ID, 10)
	page := tenantURL("acme", "/sub-tenants/"+subTenant)
	wantStatus(t, alice.submit(page, tenantURL("acme", "/sub-tenants/"+subTenant+"/status"), url.Values{"status": {"inactive"}}), http.StatusSeeOther)
	inactive := eve.get(tenantURL("acme-eu", "/"))
	wantStatus(t, inactive, http.StatusForbidden)
	wantBody(t, inactive, "is inactive")

	wantStatus(t, alice.submit(page, tenantURL("acme", "/sub-tenants/"+subTenant+"/status"), url.Values{"status": {"active"}}), http.StatusSeeOther)
	wantStatus(t, eve.get(tenantURL("acme-eu", "/")), http.StatusOK)
}
