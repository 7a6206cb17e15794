package scale

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"canopy/models"
)

// TestFullPlan checks the benchmark's own platform in memory, without a
// database, so these run on SQLite-only machines too.
func TestFullPlan(t *testing.T) {
	c := Full()
	p, err := newPlan(c, "hash", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(p.users) != c.Users || len(p.tenants) != c.Tenants || len(p.memberships) != c.Memberships {
		t.Fatalf("got %d users, %d tenants, %d memberships", len(p.users), len(p.tenants), len(p.memberships))
	}
	// The same rules as migrations/postgres: subdomain pattern, unique
	// subdomains, sibling names and owners, parents before children.
	subdomainRE := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	subdomains, siblings, owners := map[string]bool{}, map[string]bool{}, map[int]bool{}
	children, maxDepth := 0, 0
	for i, tn := range p.tenants {
		if !subdomainRE.MatchString(tn.subdomain) || subdomains[tn.subdomain] {
			t.Fatalf("tenant %d: bad or repeated subdomain %q", i, tn.subdomain)
		}
		subdomains[tn.subdomain] = true
		key := fmt.Sprint(tn.parent, "/", strings.ToLower(tn.name))
		if siblings[key] || len(tn.name) > 100 {
			t.Fatalf("tenant %d: name %q repeated among siblings or too long", i, tn.name)
		}
		siblings[key] = true
		if owners[tn.owner] {
			t.Fatalf("user %d owns two tenants", tn.owner)
		}
		owners[tn.owner] = true
		if i > 0 && tn.parent >= i {
			t.Fatalf("tenant %d comes before its parent %d", i, tn.parent)
		}
		if tn.parent == tenantRoot {
			children++
		}
		if i > 0 && tn.solutions&^p.tenants[tn.parent].solutions != 0 {
			t.Fatalf("tenant %d has a solution its parent lacks", i)
		}
		maxDepth = max(maxDepth, tn.depth)
	}
	if children != c.Customers || maxDepth < 2 {
		t.Errorf("root has %d children (want %d), sub-tenants go %d deep below customers", children, c.Customers, maxDepth)
	}
	if p.tenants[p.fleet].subdomain != FleetSubdomain || p.tenants[tenantRoot].subdomain != RootSubdomain {
		t.Error("fleet or scale missing")
	}

	members := map[int]int{}
	roles := map[models.Role]int{}
	for _, m := range p.memberships {
		members[m.tenant]++
		roles[m.role]++
		if m.user == userMany && (m.role != models.RoleAdmin || !p.tenants[m.tenant].active) {
			t.Fatalf("many@ is %s of tenant %d (active %v)", m.role, m.tenant, p.tenants[m.tenant].active)
		}
		if m.user == p.tenants[m.tenant].owner && m.role != models.RoleSuperAdmin {
			t.Fatalf("owner of tenant %d is %s", m.tenant, m.role)
		}
		if m.created.Before(p.tenants[m.tenant].created) || m.created.Before(p.users[m.user].created) {
			t.Fatalf("membership older than its tenant or user: %+v", m)
		}
	}
	if members[p.fleet] != c.FleetMembers || len(p.manyPicks) != c.ManyCompanies {
		t.Errorf("fleet has %d members, many@ is in %d companies", members[p.fleet], len(p.manyPicks))
	}
	for i := range p.tenants {
		if members[i] == 0 {
			t.Fatalf("tenant %d has no members", i)
		}
	}
	t.Logf("roles %v; largest tenant but fleet has %d members", roles, members[p.others[0]])
	if p.tenants[p.fleet].templateCount != c.FleetTemplates || len(p.ordering) == 0 {
		t.Errorf("fleet has %d templates, %d other tenants have some", p.tenants[p.fleet].templateCount, len(p.ordering))
	}
}

func TestValidateRefusesImpossibleCounts(t *testing.T) {
	bad := Full()
	bad.Users = bad.Tenants - 10 // not enough owners
	if bad.Validate() == nil {
		t.Error("accepted fewer users than tenants to own")
	}
	bad = Full()
	bad.Memberships = bad.Tenants // no room for many@ and fleet
	if bad.Validate() == nil {
		t.Error("accepted too few memberships")
	}
}
