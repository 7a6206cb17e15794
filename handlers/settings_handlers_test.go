package handlers_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestCompanySettings(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	eve := a.browser() // owner of the sub-tenant Acme Europe
	eve.signIn("eve@acme.test", "acme-eu")
	page := eve.get(tenantURL("acme-eu", "/settings/company"))
	wantStatus(t, page, http.StatusOK)
	wantBody(t, page, "Acme Europe", "acme-eu.localhost:8080", "Inherited from Acme Corp", "Cold Chain Monitoring", "cannot be edited", "Save Changes")
	settings := tenantURL("acme-eu", "/settings/company")
	r := eve.submit(settings, settings, url.Values{"timezone": {"Europe/Lisbon"}, "name": {"Renamed"}})
	wantBody(t, eve.follow(r), "Settings saved", "Europe/Lisbon")
	if got := a.tenant("acme-eu"); got.Timezone != "Europe/Lisbon" || got.Name != "Acme Europe" {
		t.Fatalf("after save: %+v", got)
	}
	bad := eve.submit(settings, settings, url.Values{"timezone": {"Moon/Base"}})
	wantStatus(t, bad, http.StatusUnprocessableEntity)
	wantBody(t, bad, "Choose a timezone from the list")

	// A viewer sees the settings but cannot change the timezone.
	dave := a.browser()
	dave.signIn("dave@acme.test", "acme")
	view := dave.get(tenantURL("acme", "/settings/company"))
	wantBody(t, view, "Times are shown in", "Admins can change this")
	if strings.Contains(view.body, "Save Changes") {
		t.Fatal("a viewer is offered Save Changes")
	}
	wantStatus(t, dave.submit(tenantURL("acme", "/settings/company"), tenantURL("acme", "/settings/company"), url.Values{"timezone": {"UTC"}}), http.StatusForbidden)
}

func TestSubdomainCheck(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	cases := map[string]string{
		"fresh-name": `"available":true`,
		"GLOBEX":     "already taken",
		"www":        "reserved",
		"-x":         "at least 3",
		"no_way":     "lowercase",
	}
	for sub, want := range cases {
		r := alice.get(tenantURL("acme", "/sub-tenants/subdomain-check?subdomain="+url.QueryEscape(sub)))
		wantStatus(t, r, http.StatusOK)
		wantBody(t, r, want)
	}
	bob := a.browser() // an Admin: no access
	bob.signIn("bob@globex.test", "acme")
	wantStatus(t, bob.get(tenantURL("acme", "/sub-tenants/subdomain-check?subdomain=x")), http.StatusForbidden)
}
