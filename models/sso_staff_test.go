package models_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"canopy/models"
)

// claim gives a tenant a connection claiming domains and returns them by name.
func claim(t *testing.T, store *models.Store, tenantID int64, domains ...string) map[string]models.SSODomain {
	t.Helper()
	c, err := store.SaveSSOConnection(context.Background(), tenantID, models.SSOConnectionInput{
		Issuer: "https://login." + domains[0], ClientID: "canopy", SealedSecret: "v1.test",
		Domains: strings.Join(domains, " "), JoinRole: models.RoleViewer,
	})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]models.SSODomain{}
	for _, d := range c.Domains {
		out[d.Domain] = d
	}
	return out
}

// domainNow reads a domain as it stands, from its tenant's connection.
func domainNow(t *testing.T, store *models.Store, tenantID int64, domain string) models.SSODomain {
	t.Helper()
	c, err := store.SSOConnectionOf(context.Background(), tenantID)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range c.Domains {
		if d.Domain == domain {
			return d
		}
	}
	t.Fatalf("%s is not claimed by tenant %d", domain, tenantID)
	return models.SSODomain{}
}

func describe(d models.SSODomain) string {
	at := "never"
	if d.ProvenAt != nil {
		at = d.ProvenAt.String()
	}
	return string(d.Proof) + " " + d.ProofNote + " " + at
}

// TestDecideSSODomainInTree: staff decide a domain claimed anywhere below
// the root they decide for (or by the root itself), never one of another
// tree, and only while it waits; the decision lands in the claiming
// company's audit log, and a refusal's note is kept for the company.
func TestDecideSSODomainInTree(t *testing.T) {
	tr := newTree(t)
	ctx := models.WithActor(context.Background(), models.Actor{Email: "staff@canopy.test"})
	s := tr.store
	acme := claim(t, s, tr.acme.ID, "acme.test", "acme.example")
	globex := claim(t, s, tr.globex.ID, "globex.test", "globex.example")
	lab := claim(t, s, tr.euLab.ID, "lab.acme.test")
	platform := claim(t, s, tr.platform.ID, "canopy.test")
	unknown := models.SSODomain{ID: 1 << 40, Domain: "nowhere.test"}

	cases := []struct {
		name    string
		root    *models.Tenant
		owner   *models.Tenant
		domain  models.SSODomain
		approve bool
		note    string
		proof   models.DomainProof // what it is after; "" when refused with err
		err     error
		field   string // a FieldErrors key
	}{
		{"staff approve a company's domain", tr.platform, tr.acme, acme["acme.test"], true, "", models.ProofStaff, nil, ""},
		{"staff refuse one, saying why", tr.platform, tr.globex, globex["globex.test"], false, "  Not Globex's domain.  ", models.ProofRefused, nil, ""},
		{"a refusal needs a note", tr.platform, tr.acme, acme["acme.example"], false, "   ", "", nil, "note"},
		{"a note has a length", tr.platform, tr.acme, acme["acme.example"], false, strings.Repeat("x", 501), "", nil, "note"},
		{"at any depth below the root", tr.platform, tr.euLab, lab["lab.acme.test"], true, "checked by phone", models.ProofStaff, nil, ""},
		{"the root's own domain", tr.platform, tr.platform, platform["canopy.test"], true, "", models.ProofStaff, nil, ""},
		{"another tree's domain", tr.acme, tr.globex, globex["globex.example"], true, "", "", models.ErrNotFound, ""},
		{"a domain of the tree above", tr.eu, tr.acme, acme["acme.example"], true, "", "", models.ErrNotFound, ""},
		{"an unknown id", tr.platform, nil, unknown, true, "", "", models.ErrNotFound, ""},
		{"a domain decided already", tr.platform, tr.acme, acme["acme.test"], false, "Changed my mind.", "", models.ErrChangedMeanwhile, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var before models.SSODomain
			if c.owner != nil {
				before = domainNow(t, s, c.owner.ID, c.domain.Domain)
			}
			got, err := s.DecideSSODomainInTree(ctx, c.root.ID, c.domain.ID, c.approve, c.note)
			switch {
			case c.field != "":
				if fieldError(err, c.field) == "" {
					t.Fatalf("err %v, want a message for %s", err, c.field)
				}
			case c.err != nil:
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v", err, c.err)
				}
			case err != nil:
				t.Fatal(err)
			default:
				if got.Proof != c.proof || got.ID != c.domain.ID {
					t.Errorf("decided %+v, want %s", got, c.proof)
				}
			}
			if c.owner == nil {
				return
			}
			after := domainNow(t, s, c.owner.ID, c.domain.Domain)
			if c.proof == "" {
				if describe(after) != describe(before) {
					t.Errorf("refused, yet the domain changed: %+v, was %+v", after, before)
				}
				return
			}
			if after.Proof != c.proof || after.ProofNote != strings.TrimSpace(c.note) {
				t.Errorf("after: proof %s, note %q", after.Proof, after.ProofNote)
			}
			if after.Proven() != (c.proof == models.ProofStaff) || (after.ProvenAt != nil) != after.Proven() {
				t.Errorf("after: proven %v at %v", after.Proven(), after.ProvenAt)
			}
			action := models.AuditSSODomainApproved
			if !c.approve {
				action = models.AuditSSODomainRefused
			}
			log, err := s.AuditLog(ctx, c.owner.ID, false, models.AuditFilter{Action: action}, models.PageRequest{Number: 1, Size: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(log.Items) != 1 || log.Items[0].TargetLabel != c.domain.Domain || log.Items[0].ActorEmail != "staff@canopy.test" {
				t.Errorf("the company's log has %+v, want one %s of %s by staff", log.Items, action, c.domain.Domain)
			}
		})
	}
}

// TestDecideSSODomainInTreeLeavesAProvenDomain: a domain the company
// proved by DNS while it sat in staff's list is not theirs to decide.
func TestDecideSSODomainInTreeLeavesAProvenDomain(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	d := claim(t, w.store, w.acme.ID, "acme.test")["acme.test"]
	if err := w.store.MarkDomainProvenByDNS(ctx, w.acme.ID, d.ID); err != nil {
		t.Fatal(err)
	}
	got, err := w.store.DecideSSODomainInTree(ctx, w.platform.ID, d.ID, false, "Looks wrong.")
	if !errors.Is(err, models.ErrChangedMeanwhile) || got == nil || got.Proof != models.ProofDNS || got.Domain != "acme.test" {
		t.Fatalf("got %+v, %v; want the DNS-proven domain and ErrChangedMeanwhile", got, err)
	}
	if now := domainNow(t, w.store, w.acme.ID, "acme.test"); now.Proof != models.ProofDNS {
		t.Errorf("the domain is now %s", now.Proof)
	}
}

// TestPendingSSODomainsPages: the waiting domains, oldest first, page by
// page, with their company and issuer; decided and proven ones leave.
func TestPendingSSODomainsPages(t *testing.T) {
	tr := newTree(t)
	ctx := context.Background()
	s := tr.store
	acme := claim(t, s, tr.acme.ID, "acme.test", "acme.example")
	globex := claim(t, s, tr.globex.ID, "globex.test")
	if err := s.MarkDomainProvenByDNS(ctx, tr.acme.ID, acme["acme.example"].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DecideSSODomainInTree(ctx, tr.platform.ID, globex["globex.test"].ID, false, "No."); err != nil {
		t.Fatal(err)
	}
	claim(t, s, tr.euLab.ID, "lab.acme.test", "lab2.acme.test")
	var seen []string
	for number := 1; number <= 2; number++ {
		page, err := s.PendingSSODomains(ctx, tr.platform.ID, models.PageRequest{Number: number, Size: 2})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != 3 {
			t.Fatalf("page %d: total %d, want 3", number, page.Total)
		}
		for _, d := range page.Items {
			seen = append(seen, d.TenantName+" "+d.Domain+" "+d.Issuer)
		}
	}
	want := []string{"Acme Corp acme.test https://login.acme.test", "Acme Europe Lab lab.acme.test https://login.lab.acme.test",
		"Acme Europe Lab lab2.acme.test https://login.lab.acme.test"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("pending:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}

// TestRLSStaffDecideDomainsOfEveryCompany: on Postgres the staff's scope
// (the platform and the tree below it) is what lets them reach a company's
// domain; the platform's scope without the tree, or a company's Super
// Admins' scope, finds another company's domain not at all.
func TestRLSStaffDecideDomainsOfEveryCompany(t *testing.T) {
	w := newRLSWorld(t)
	owner := models.NewStore(w.owner)
	globex := claim(t, owner, w.tenant["globex"], "globex.test", "globex.example")
	europe := claim(t, owner, w.tenant["acme-eu"], "eu.acme.test")
	platform := w.tenant["admin"]
	staff := models.Scope{TenantID: platform, Subtree: true, UserID: w.userID(t, "staff@canopy.test")}
	acmeAdmins := models.Scope{TenantID: w.tenant["acme"], Subtree: true, UserID: w.userID(t, "alice@acme.test")}
	for _, c := range []struct {
		name   string
		scope  models.Scope
		root   int64
		domain models.SSODomain
		err    error
	}{
		{"the platform without its tree", models.Scope{TenantID: platform}, platform, globex["globex.test"], models.ErrNotFound},
		{"a company's Super Admins, for another company", acmeAdmins, platform, globex["globex.test"], models.ErrNotFound},
		{"a company's Super Admins, from their own root", acmeAdmins, w.tenant["acme"], globex["globex.test"], models.ErrNotFound},
		{"staff, for a company", staff, platform, globex["globex.test"], nil},
		{"staff, two levels down", staff, platform, europe["eu.acme.test"], nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var pending models.Page[models.PendingSSODomain]
			err := w.app.Request(context.Background(), func(ctx context.Context) error {
				ctx, err := w.app.SetScope(ctx, c.scope)
				if err != nil {
					return err
				}
				if pending, err = w.app.PendingSSODomains(ctx, c.root, models.PageRequest{Number: 1, Size: 10}); err != nil {
					return err
				}
				_, err = w.app.DecideSSODomainInTree(ctx, c.root, c.domain.ID, true, "")
				return err
			})
			if !errors.Is(err, c.err) {
				t.Fatalf("err %v, want %v", err, c.err)
			}
			if c.err != nil {
				return
			}
			listed := false
			for _, d := range pending.Items {
				listed = listed || d.ID == c.domain.ID
			}
			if !listed {
				t.Errorf("staff's pending domains %+v lack %s", pending.Items, c.domain.Domain)
			}
			if now := domainNow(t, owner, c.domain.TenantID, c.domain.Domain); now.Proof != models.ProofStaff {
				t.Errorf("%s is %s, want approved", c.domain.Domain, now.Proof)
			}
		})
	}
}
