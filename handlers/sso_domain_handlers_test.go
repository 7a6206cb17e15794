package handlers_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"canopy/internal/dnsproof/dnstest"
	"canopy/models"
)

// claimDomains gives a company a connection claiming domains, as its
// Settings → Single sign-on would, and returns them by name.
func (a *app) claimDomains(sub string, domains ...string) map[string]models.SSODomain {
	a.t.Helper()
	c, err := a.store.SaveSSOConnection(context.Background(), a.tenant(sub).ID, models.SSOConnectionInput{
		Issuer: "https://login." + sub + ".example", ClientID: "canopy", SealedSecret: "v1.test",
		Domains: strings.Join(domains, " "), JoinRole: models.RoleViewer,
	})
	if err != nil {
		a.t.Fatal(err)
	}
	out := map[string]models.SSODomain{}
	for _, d := range c.Domains {
		out[d.Domain] = d
	}
	return out
}

// ssoDomain is a company's claimed domain as it stands.
func (a *app) ssoDomain(sub, domain string) models.SSODomain {
	a.t.Helper()
	c, err := a.store.SSOConnectionOf(context.Background(), a.tenant(sub).ID)
	if err != nil {
		a.t.Fatal(err)
	}
	for _, d := range c.Domains {
		if d.Domain == domain {
			return d
		}
	}
	a.t.Fatalf("%s claims no %s", sub, domain)
	return models.SSODomain{}
}

// auditActions are the company's audit events of one action, by target.
func (a *app) auditTargets(sub, action string) []string {
	a.t.Helper()
	log, err := a.store.AuditLog(context.Background(), a.tenant(sub).ID, false, models.AuditFilter{Action: action}, models.PageRequest{Number: 1, Size: 50})
	if err != nil {
		a.t.Fatal(err)
	}
	var out []string
	for _, e := range log.Items {
		out = append(out, e.TargetLabel+" by "+e.ActorEmail)
	}
	return out
}

// flashes is the next page's messages on a host, as the person reads them.
func (b *browser) flashes(sub string) string {
	b.app.t.Helper()
	r := b.get(tenantURL(sub, "/"))
	wantStatus(b.app.t, r, http.StatusOK)
	return html.UnescapeString(r.body)
}

// TestVerifySSODomain: a company's Admin has a claimed domain's TXT record
// looked up, through the configured resolver (a real DNS server here), and
// learns what was found; only the value the domain was given proves it.
func TestVerifySSODomain(t *testing.T) {
	t.Parallel()
	dns := dnstest.Start(t)
	a := newAppWith(t, map[string]string{"CANOPY_DNS_RESOLVER": dns.Addr})
	domains := a.claimDomains("acme", "right.test", "wrong.test", "several.test", "absent.test", "empty.test", "broken.test", "done.test")
	globex := a.claimDomains("globex", "globex.test")["globex.test"]
	dns.SetTXT(domains["right.test"].TXTName(), domains["right.test"].TXTValue())
	dns.SetTXT(domains["wrong.test"].TXTName(), "canopy-verification=not-the-token")
	dns.SetTXT(domains["several.test"].TXTName(), "v=spf1 -all", domains["several.test"].TXTValue(), strings.Repeat("x", 300))
	dns.SetTXT(domains["empty.test"].TXTName())
	dns.ServFail(domains["broken.test"].TXTName())
	dns.SetTXT(domains["done.test"].TXTName(), domains["done.test"].TXTValue())
	if err := a.store.MarkDomainProvenByDNS(context.Background(), a.tenant("acme").ID, domains["done.test"].ID); err != nil {
		t.Fatal(err)
	}
	dns.SetTXT(globex.TXTName(), globex.TXTValue())

	alice, bob := a.browser(), a.browser()
	alice.signIn("alice@acme.test", "acme")
	bob.signIn("bob@globex.test", "acme") // acme's Admin
	for _, c := range []struct {
		name    string
		as      *browser
		domain  string
		proof   models.DomainProof
		message string
	}{
		{"the record holds the domain's value", alice, "right.test", models.ProofDNS, "right.test is verified"},
		{"an Admin verifies too", bob, "several.test", models.ProofDNS, "several.test is verified"},
		{"a record with another value", alice, "wrong.test", models.ProofNone,
			"Found TXT records at _canopy-verification.wrong.test, but none is " + domains["wrong.test"].TXTValue() + `. Found: "canopy-verification=not-the-token".`},
		{"no such name", alice, "absent.test", models.ProofNone,
			"No TXT record at _canopy-verification.absent.test yet; DNS changes can take a while to appear."},
		{"the name holds no TXT record", alice, "empty.test", models.ProofNone, "No TXT record at _canopy-verification.empty.test yet"},
		{"the DNS server fails", alice, "broken.test", models.ProofNone,
			"Could not look up the TXT records at _canopy-verification.broken.test just now"},
		{"a domain verified already", alice, "done.test", models.ProofDNS, "done.test is already verified."},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			d := domains[c.domain]
			r := c.as.submit(tenantURL("acme", "/"), tenantURL("acme", fmt.Sprintf("/settings/sso/domains/%d/verify", d.ID)), nil)
			wantStatus(t, r, http.StatusSeeOther)
			if r.location != "/settings/sso" {
				t.Errorf("back to %q, want /settings/sso", r.location)
			}
			if page := c.as.flashes("acme"); !strings.Contains(page, c.message) {
				t.Errorf("the next page lacks %q", c.message)
			}
			if got := a.ssoDomain("acme", c.domain); got.Proof != c.proof {
				t.Errorf("%s is %s, want %s", c.domain, got.Proof, c.proof)
			}
		})
	}
	a.t = t
	want := []string{"several.test by bob@globex.test", "right.test by alice@acme.test"}
	if got := a.auditTargets("acme", models.AuditSSODomainVerified); strings.Join(got[:2], "; ") != strings.Join(want, "; ") || len(got) != 3 {
		t.Errorf("acme's sso.domain_verified events: %q, want %q and done.test's, set up before", got, want)
	}
	// Another company's domain is not found, and nothing is looked up.
	r := alice.submit(tenantURL("acme", "/"), tenantURL("acme", fmt.Sprintf("/settings/sso/domains/%d/verify", globex.ID)), nil)
	wantStatus(t, r, http.StatusNotFound)
	if got := a.ssoDomain("globex", "globex.test"); got.Proof != models.ProofNone {
		t.Errorf("globex.test is %s after acme asked", got.Proof)
	}
}

// staffBrowser is platform staff signed in at the platform's host.
func (a *app) staffBrowser() *browser {
	a.t.Helper()
	b := a.browser()
	wantStatus(a.t, b.signIn("staff@canopy.test", "admin"), http.StatusOK)
	return b
}

var adminHost = tenantURL("admin", "")

// TestStaffSSODomainsList: staff find the waiting domains under ⚙ → SSO
// domains: each with its company (linked to its details), the provider,
// and Approve and Refuse; oldest first, page by page; an empty list says
// nothing waits.
func TestStaffSSODomainsList(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	empty := staff.get(adminHost + "/sso-domains")
	wantStatus(t, empty, http.StatusOK)
	wantBody(t, empty, "No domains are waiting", `href="/sso-domains"`) // the ⚙ menu's entry

	acme := a.claimDomains("acme", "acme.test", "a1.acme.test", "a2.acme.test", "a3.acme.test", "a4.acme.test")
	a.claimDomains("acme-eu", "eu.acme.test")
	proven := a.claimDomains("globex", "globex.test", "globex.example")
	if err := a.store.MarkDomainProvenByDNS(context.Background(), a.tenant("globex").ID, proven["globex.example"].ID); err != nil {
		t.Fatal(err)
	}
	list := staff.get(adminHost + "/sso-domains")
	wantStatus(t, list, http.StatusOK)
	wantBody(t, list, "acme.test", "eu.acme.test", "globex.test", "https://login.acme-eu.example", "Acme Europe",
		fmt.Sprintf(`href="/sub-tenants/%d"`, a.tenant("acme-eu").ID), fmt.Sprintf(`action="/sso-domains/%d/approve"`, acme["acme.test"].ID),
		fmt.Sprintf(`action="/sso-domains/%d/refuse"`, acme["acme.test"].ID), "data-confirm=")
	if strings.Contains(list.body, ">globex.example<") {
		t.Error("a domain proven by DNS is listed as waiting")
	}
	if strings.Index(list.body, ">acme.test<") > strings.Index(list.body, ">eu.acme.test<") {
		t.Error("the list is not oldest first")
	}

	// A second page, after a company claims twenty more: 27 in all.
	var more []string
	for i := range 20 {
		more = append(more, fmt.Sprintf("d%02d.initech.test", i))
	}
	a.claimDomains("initech", more...)
	second := staff.get(adminHost + "/sso-domains?page=2")
	wantStatus(t, second, http.StatusOK)
	wantBody(t, second, "26–27 of 27", `rel="prev"`, "d19.initech.test")
	if rows := strings.Count(second.body, "<tr data-domain="); rows != 2 {
		t.Errorf("page 2 has %d rows, want 2", rows)
	}

	// Nobody else sees the menu entry: a company's Super Admin at theirs.
	alice := a.browser()
	alice.signIn("alice@acme.test", "acme")
	if home := alice.get(tenantURL("acme", "/")); strings.Contains(home.body, `href="/sso-domains"`) {
		t.Error("a company's Super Admin is offered SSO domains")
	}
}

// TestStaffDecideSSODomains: staff approve a domain or refuse it with a
// note the company can read; each decision asks first, lands in the
// company's audit log and comes back to the same page of the list. A
// refusal without a note comes back with the message beside that domain's
// note, changing nothing.
func TestStaffDecideSSODomains(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	staff := a.staffBrowser()
	acme := a.claimDomains("acme", "acme.test", "acme.example", "acme.org")
	globex := a.claimDomains("globex", "globex.test")
	eu := a.claimDomains("acme-eu", "eu.acme.test")
	for _, c := range []struct {
		name    string
		sub     string
		domain  models.SSODomain
		action  string
		form    url.Values
		status  int
		proof   models.DomainProof
		note    string
		message string // in the page that follows, or in the page itself
		audit   string
	}{
		{"approve", "acme", acme["acme.test"], "approve", nil, http.StatusSeeOther, models.ProofStaff, "",
			"acme.test is approved: the company's identity provider now signs in people with acme.test emails.", models.AuditSSODomainApproved},
		{"approve two levels down", "acme-eu", eu["eu.acme.test"], "approve", url.Values{"page": {"2"}}, http.StatusSeeOther, models.ProofStaff, "",
			"eu.acme.test is approved", models.AuditSSODomainApproved},
		{"refuse with a note", "globex", globex["globex.test"], "refuse", url.Values{"note": {"  globex.test belongs to another Globex.  "}},
			http.StatusSeeOther, models.ProofRefused, "globex.test belongs to another Globex.", "globex.test is refused.", models.AuditSSODomainRefused},
		{"refuse without a note", "acme", acme["acme.example"], "refuse", url.Values{"note": {"   "}}, http.StatusUnprocessableEntity, models.ProofNone, "",
			"Say why, so the company knows what to do.", ""},
		{"refuse with too long a note", "acme", acme["acme.org"], "refuse", url.Values{"note": {strings.Repeat("x", 501)}}, http.StatusUnprocessableEntity,
			models.ProofNone, "", "Use at most 500 characters.", ""},
		{"a domain decided meanwhile", "acme", acme["acme.test"], "refuse", url.Values{"note": {"Too late."}}, http.StatusSeeOther, models.ProofStaff, "",
			"acme.test is no longer waiting: it was verified by DNS or decided by someone else meanwhile. Nothing was changed.", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			before := len(a.auditTargets(c.sub, c.audit))
			r := staff.submit(adminHost+"/sso-domains", adminHost+fmt.Sprintf("/sso-domains/%d/%s", c.domain.ID, c.action), c.form)
			wantStatus(t, r, c.status)
			page := html.UnescapeString(r.body)
			if c.status == http.StatusSeeOther {
				want := "/sso-domains"
				if c.form.Get("page") == "2" {
					want += "?page=2"
				}
				if r.location != want {
					t.Errorf("back to %q, want %q", r.location, want)
				}
				page = html.UnescapeString(staff.follow(r).body)
			} else {
				// That domain's Refuse form comes back open, the message
				// beside its note.
				wantBody(t, r, fmt.Sprintf(`aria-describedby="f-note-%d-error"`, c.domain.ID), `<details class="sso-refuse" open`)
			}
			if !strings.Contains(page, c.message) {
				t.Errorf("the page lacks %q\n%s", c.message, excerpt(page))
			}
			got := a.ssoDomain(c.sub, c.domain.Domain)
			if got.Proof != c.proof || got.ProofNote != c.note {
				t.Errorf("%s: proof %s, note %q; want %s, %q", c.domain.Domain, got.Proof, got.ProofNote, c.proof, c.note)
			}
			if c.audit != "" {
				if events := a.auditTargets(c.sub, c.audit); len(events) != before+1 || events[0] != c.domain.Domain+" by staff@canopy.test" {
					t.Errorf("%s's %s events: %q", c.sub, c.audit, events)
				}
			}
		})
	}
}

// TestSSODomainsArePlatformStaffs: the list and the decisions exist on the
// platform's host only, for its Super Admins: a company's Super Admin at
// their own host finds no such page, a platform member without the role
// is refused, an unknown or malformed id is not found; nothing changes.
func TestSSODomainsArePlatformStaffs(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	ctx := context.Background()
	d := a.claimDomains("acme", "acme.test")["acme.test"]
	if _, err := a.store.AddMember(ctx, a.tenant("admin").ID, a.user("dave@acme.test").ID, models.RoleViewer); err != nil {
		t.Fatal(err)
	}
	alice, dave, staff := a.browser(), a.browser(), a.staffBrowser()
	alice.signIn("alice@acme.test", "acme")
	dave.signIn("dave@acme.test", "admin")
	approve := fmt.Sprintf("/sso-domains/%d/approve", d.ID)
	for _, c := range []struct {
		name   string
		as     *browser
		host   string
		method string
		path   string
		status int
	}{
		{"a company's Super Admin, the list", alice, tenantURL("acme", ""), http.MethodGet, "/sso-domains", http.StatusNotFound},
		{"a company's Super Admin, approving", alice, tenantURL("acme", ""), http.MethodPost, approve, http.StatusNotFound},
		{"a company's Super Admin, refusing", alice, tenantURL("acme", ""), http.MethodPost, fmt.Sprintf("/sso-domains/%d/refuse", d.ID), http.StatusNotFound},
		{"staff at a company's host", staff, tenantURL("acme", ""), http.MethodGet, "/sso-domains", http.StatusNotFound},
		{"a platform Viewer, the list", dave, adminHost, http.MethodGet, "/sso-domains", http.StatusForbidden},
		{"a platform Viewer, approving", dave, adminHost, http.MethodPost, approve, http.StatusForbidden},
		{"staff, an unknown id", staff, adminHost, http.MethodPost, "/sso-domains/999999/approve", http.StatusNotFound},
		{"staff, a malformed id", staff, adminHost, http.MethodPost, "/sso-domains/acme.test/approve", http.StatusNotFound},
	} {
		t.Run(c.name, func(t *testing.T) {
			a.t = t
			var r response
			if c.method == http.MethodGet {
				r = c.as.get(c.host + c.path)
			} else {
				r = c.as.submit(c.host+"/", c.host+c.path, url.Values{"note": {"No."}})
			}
			wantStatus(t, r, c.status)
			if strings.Contains(r.body, "data-domain=") {
				t.Error("the refusal lists domains")
			}
			if got := a.ssoDomain("acme", "acme.test"); got.Proof != models.ProofNone {
				t.Fatalf("acme.test is %s", got.Proof)
			}
		})
	}
	a.t = t
}
