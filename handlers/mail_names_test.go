package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestEmailsShowCompanyNamesAsNames: a company's name is whatever its
// creator typed, so every email that carries one shows it after "the
// company", in quotation marks it cannot close, and never as words of
// Canopy's own: the owner invitation of a new sub-tenant, a member's
// invitation, and an order's email to its applicant (in the template's
// branding name).
func TestEmailsShowCompanyNamesAsNames(t *testing.T) {
	t.Parallel()
	const posing = "Canopy Security Team: your account is suspended"
	const breakingOut = `Globex" is closed. "Canopy support`
	a := newApp(t)
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")

	form := subTenantForm(posing, "posing", "owner@posing.example")
	form.Set("confirmed", "yes")
	wantStatus(t, alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form), http.StatusSeeOther)
	posingID := a.tenant("posing").ID
	invite := url.Values{"first_name": {"Ida"}, "last_name": {"Ink"}, "email": {"ida@posing.example"}, "role": {"viewer"}}
	users := tenantURL("acme", fmt.Sprintf("/sub-tenants/%d/users", posingID))
	wantStatus(t, alice.submit(users+"/new", users, invite), http.StatusSeeOther)

	form = subTenantForm(breakingOut, "breaking-out", "owner@breaking.example")
	form.Set("confirmed", "yes")
	wantStatus(t, alice.submit(tenantURL("acme", "/sub-tenants/new"), tenantURL("acme", "/sub-tenants"), form), http.StatusSeeOther)

	brand := url.Values{"name": {"Posing brand"}, "branding_company_name": {posing}, "brand_color": {"#123456"}, "collects": {"income"}}
	wantStatus(t, alice.submit(tenantURL("acme", "/templates/new"), tenantURL("acme", "/templates"), brand), http.StatusSeeOther)
	order := url.Values{"template_id": {fmt.Sprint(a.templateID("acme", "Posing brand"))}, "applicant_name": {"Jane Roe"}, "applicant_email": {"jane@posing.example"}}
	wantStatus(t, alice.submit(tenantURL("acme", "/orders/new"), tenantURL("acme", "/orders"), order), http.StatusSeeOther)

	for _, c := range []struct {
		to, name, quoted string
	}{
		{"owner@posing.example", posing, "“" + posing + "”"},
		{"ida@posing.example", posing, "“" + posing + "”"},
		{"jane@posing.example", posing, "“" + posing + "”"},
		{"owner@breaking.example", breakingOut, "“Globex' is closed. 'Canopy support”"},
	} {
		msgs, err := a.store.OutboxFor(context.Background(), c.to)
		if err != nil || len(msgs) != 1 {
			t.Fatalf("emails to %s: %d (%v)", c.to, len(msgs), err)
		}
		for part, text := range map[string]string{"subject": msgs[0].Subject, "body": msgs[0].BodyText} {
			if !strings.Contains(text, "the company "+c.quoted) && !strings.Contains(text, "The company "+c.quoted) {
				t.Errorf("the %s to %s does not name the company %s:\n%s", part, c.to, c.quoted, text)
			}
			// Everything of the name is inside its quotation marks.
			if bare := strings.ReplaceAll(text, c.quoted, ""); strings.Contains(bare, c.name) || strings.Contains(bare, "is closed") || strings.Contains(bare, "suspended") {
				t.Errorf("the %s to %s shows the name outside its quotation marks:\n%s", part, c.to, text)
			}
		}
	}
}
