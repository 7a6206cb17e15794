package scale

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"canopy/models"
)

// The plan holds the rows that others refer to (users, tenants, memberships,
// templates) in memory, by index; devices, orders and invitations are
// generated while COPY streams them. Ids are the table's reserved first id
// plus the index, filled in by Load before any row is written.
type plan struct {
	now  time.Time
	r    *mrand.Rand
	hash string // the one argon2id hash of Password

	users        []userRow
	tenants      []tenantRow
	memberships  []membershipRow
	templates    []templateRow
	restrictions []restrictionRow // membership_templates

	fleet     int   // tenant index of fleet
	others    []int // tenants but the root and fleet, shuffled: the pool the skewed pick draws from
	ordering  []int // tenants with templates, fleet excluded
	manyPicks []int // the companies of many@scale.test

	terms []termsRow // billing_terms

	firstUser, firstTenant, firstMembership, firstTemplate int64
}

type userRow struct {
	email, first, last string
	created            time.Time
}

type tenantRow struct {
	parent                                          int // index; -1 for the root
	name, subdomain, description, contact, timezone string
	active, rollsUp                                 bool // rollsUp: billed to its parent (below a customer)
	owner                                           int  // user index
	created                                         time.Time
	solutions                                       uint8 // bit i is models.Solutions[i]; a child's are a subset of its parent's
	firstTemplate, templateCount, children, depth   int
}

type membershipRow struct {
	tenant, user int
	role         models.Role
	created      time.Time
}

type templateRow struct {
	tenant                          int
	name, branding, color, collects string
	premium                         bool // its orders are priced at a plan's premium price
	created                         time.Time
}

type restrictionRow struct{ membership, template int }

const (
	userRoot  = 0 // scale-admin@scale.test
	userFleet = 1 // fleet-admin@scale.test
	userMany  = 2 // many@scale.test
	// firstNumberedUser is u000001@scale.test.
	firstNumberedUser = 3
	tenantRoot        = 0
	year              = 365 * 24 * time.Hour
)

// newPlan builds every referenced row of a platform of size c. The random
// source has a fixed seed, so the same counts give the same platform.
func newPlan(c Counts, hash string, now time.Time) (*plan, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	p := &plan{now: now.UTC().Truncate(time.Microsecond), r: mrand.New(mrand.NewPCG(6, 2026)), hash: hash}
	p.addUsers(c)
	p.addTenants(c)
	if err := p.addMemberships(c); err != nil {
		return nil, err
	}
	p.addTemplates(c)
	p.dateUsers()
	if err := p.addTerms(c); err != nil {
		return nil, err
	}
	return p, nil
}

func (p *plan) addUsers(c Counts) {
	p.users = make([]userRow, 0, c.Users)
	add := func(email string) {
		p.users = append(p.users, userRow{email: email, first: pick(p.r, firstNames), last: pick(p.r, lastNames)})
	}
	add(RootAdmin)
	add(FleetAdmin)
	add(ManyUser)
	for i := 1; len(p.users) < c.Users; i++ {
		add(fmt.Sprintf("u%06d@scale.test", i))
	}
}

// addTenants lays out the tree: the root, fleet and the numbered customers
// below it, then sub-tenants: nine in ten below customers (three each, from
// c00001 on) and the rest one level deeper, so the tree is four deep.
func (p *plan) addTenants(c Counts) {
	p.tenants = make([]tenantRow, 0, c.Tenants)
	start := p.now.Add(-year)
	p.tenants = append(p.tenants, tenantRow{parent: -1, name: "Scale Platform", subdomain: RootSubdomain,
		description: "The benchmark platform's own tenant.", timezone: "UTC", active: true,
		owner: userRoot, created: start, solutions: 0b111})
	p.fleet = len(p.tenants)
	p.tenants = append(p.tenants, tenantRow{parent: tenantRoot, name: "Fleet Co", subdomain: FleetSubdomain,
		description: "A large fleet operator: the benchmark's busiest company.", contact: "ops@fleet.test",
		timezone: "Europe/Amsterdam", active: true, owner: userFleet, created: start.Add(24 * time.Hour), solutions: 0b111})
	for n := 1; n < c.Customers; n++ {
		i := len(p.tenants)
		p.tenants = append(p.tenants, tenantRow{parent: tenantRoot,
			name:      fmt.Sprintf("%s %s %05d", pick(p.r, nameWords), pick(p.r, industries), n),
			subdomain: fmt.Sprintf("c%05d", n), contact: fmt.Sprintf("ops@c%05d.test", n),
			active:  i%17 != 0, // about 6% deactivated
			created: p.between(start, p.now.Add(-30*24*time.Hour)), solutions: uint8(1 + p.r.IntN(7))})
	}
	subs := c.Tenants - len(p.tenants)
	deep := subs / 10
	firstSub := len(p.tenants)
	for j := 0; j < subs; j++ {
		parent := 2 + j/3 // c00001 is index 2
		if j >= subs-deep {
			parent = firstSub + (j - (subs - deep)) // a sub-tenant of a sub-tenant
		}
		p.addChild(parent, len(p.tenants)%11 != 0)
	}
	for i := range p.tenants {
		t := &p.tenants[i]
		if i != tenantRoot && i != p.fleet {
			t.owner = firstNumberedUser + i - 2 // tenant 2 is owned by u000001, and so on
			p.others = append(p.others, i)
		}
		if t.timezone == "" {
			t.timezone = pick(p.r, timezones)
		}
		if t.description == "" {
			t.description = fmt.Sprintf("%s operations, %d sites.", pick(p.r, industries), 1+p.r.IntN(40))
		}
	}
	p.r.Shuffle(len(p.others), func(a, b int) { p.others[a], p.others[b] = p.others[b], p.others[a] })
}

func (p *plan) addChild(parent int, active bool) {
	par := &p.tenants[parent]
	par.children++
	n := par.children
	region := regions[(n-1)%len(regions)]
	if n > len(regions) {
		region = fmt.Sprintf("%s %d", region, n)
	}
	p.tenants = append(p.tenants, tenantRow{parent: parent, depth: par.depth + 1,
		name:      par.name + " " + region,
		subdomain: fmt.Sprintf("%s-s%d", par.subdomain, n), contact: fmt.Sprintf("ops@%s-s%d.test", par.subdomain, n),
		active: active && par.active, rollsUp: p.r.IntN(2) == 0,
		created:   p.between(par.created, p.now.Add(-7*24*time.Hour)),
		solutions: par.solutions & uint8(p.r.IntN(8))})
}

// addMemberships: every owner is a Super Admin of their tenant, many@ is an
// Admin of ManyCompanies active customers, fleet gets FleetMembers, every
// numbered user joins at least one company, and the rest are spread with a
// skew so a few companies are large and most are small.
func (p *plan) addMemberships(c Counts) error {
	p.memberships = make([]membershipRow, 0, c.Memberships)
	seen := make(map[[2]int32]bool, c.Memberships)
	joined := make([]bool, len(p.users))
	add := func(tenant, user int, role models.Role) bool {
		key := [2]int32{int32(tenant), int32(user)}
		if seen[key] {
			return false
		}
		seen[key], joined[user] = true, true
		created := p.between(p.tenants[tenant].created, p.now)
		if p.tenants[tenant].owner == user {
			created = p.tenants[tenant].created
		}
		p.memberships = append(p.memberships, membershipRow{tenant: tenant, user: user, role: role, created: created})
		return true
	}
	for i, t := range p.tenants {
		add(i, t.owner, models.RoleSuperAdmin)
	}
	for _, i := range p.others {
		if len(p.manyPicks) == c.ManyCompanies {
			break
		}
		if t := p.tenants[i]; t.active && t.parent == tenantRoot {
			add(i, userMany, models.RoleAdmin)
			p.manyPicks = append(p.manyPicks, i)
		}
	}
	if len(p.manyPicks) < c.ManyCompanies {
		return fmt.Errorf("only %d active customers for many@ to join, want %d", len(p.manyPicks), c.ManyCompanies)
	}
	numbered := len(p.users) - firstNumberedUser
	for n := 1; n < c.FleetMembers; {
		if add(p.fleet, firstNumberedUser+p.r.IntN(numbered), p.role()) {
			n++
		}
	}
	// Everyone belongs somewhere; fleet and the root stay at their sizes.
	for u := firstNumberedUser; u < len(p.users) && len(p.memberships) < c.Memberships; u++ {
		for !joined[u] {
			add(p.skewed(p.others), u, p.role())
		}
	}
	for tries := 0; len(p.memberships) < c.Memberships; tries++ {
		if tries > 20*c.Memberships {
			return fmt.Errorf("cannot place %d memberships among %d users and %d tenants", c.Memberships, len(p.users), len(p.tenants))
		}
		add(p.skewed(p.others), firstNumberedUser+p.r.IntN(numbered), p.role())
	}
	return nil
}

// addTemplates gives fleet FleetTemplates templates and one tenant in five one
// to three, so orders have templates of their own tenant to come from. One in
// ten of those tenants' Editors and Viewers may order from the first only.
func (p *plan) addTemplates(c Counts) {
	add := func(tenant, count int) {
		t := &p.tenants[tenant]
		t.firstTemplate, t.templateCount = len(p.templates), count
		for k := range count {
			name := templateNames[k%len(templateNames)]
			if k >= len(templateNames) {
				name = fmt.Sprintf("%s %d", name, k+1)
			}
			var collects []string
			for _, kind := range models.OrderDataKinds { // kept in OrderDataKinds order
				if p.r.IntN(2) == 0 || len(collects) == 0 && kind == models.OrderDataKinds[len(models.OrderDataKinds)-1] {
					collects = append(collects, kind.Key)
				}
			}
			p.templates = append(p.templates, templateRow{tenant: tenant, name: name,
				branding: t.name, color: pick(p.r, brandColors), collects: strings.Join(collects, ","), premium: k == 1,
				created: p.between(t.created, p.earlier(t.created.Add(30*24*time.Hour)))})
		}
	}
	add(p.fleet, c.FleetTemplates)
	for _, i := range p.others {
		if i%5 == 2 {
			add(i, 1+i%3)
			p.ordering = append(p.ordering, i)
		}
	}
	for m, row := range p.memberships {
		t := p.tenants[row.tenant]
		if t.templateCount > 0 && (row.role == models.RoleEditor || row.role == models.RoleViewer) && p.r.IntN(10) == 0 {
			p.restrictions = append(p.restrictions, restrictionRow{membership: m, template: t.firstTemplate})
		}
	}
}

// dateUsers makes each account a little older than its first membership.
func (p *plan) dateUsers() {
	for i := range p.users {
		p.users[i].created = p.now
	}
	for _, m := range p.memberships {
		if u := &p.users[m.user]; m.created.Before(u.created) {
			u.created = m.created
		}
	}
	for i := range p.users {
		u := &p.users[i]
		u.created = p.between(u.created.Add(-24*time.Hour), u.created)
	}
}

// role mixes roles the way a real team is: mostly Viewers and Editors.
func (p *plan) role() models.Role {
	switch n := p.r.IntN(100); {
	case n < 50:
		return models.RoleViewer
	case n < 80:
		return models.RoleEditor
	case n < 95:
		return models.RoleAdmin
	}
	return models.RoleSuperAdmin
}

// skewed picks from pool with density falling off from the front (the pool
// is shuffled): P(index < k) = sqrt(k/n), so the first tenant of 10,000 gets
// about 1% of the picks and most get a handful.
func (p *plan) skewed(pool []int) int {
	u := p.r.Float64()
	return pool[int(float64(len(pool))*u*u)]
}

// between is a random time in [from, to), or from when to is not later.
func (p *plan) between(from, to time.Time) time.Time {
	if !to.After(from) {
		return from
	}
	return from.Add(time.Duration(p.r.Int64N(int64(to.Sub(from))))).Truncate(time.Microsecond)
}

// earlier caps t at now.
func (p *plan) earlier(t time.Time) time.Time {
	if t.After(p.now) {
		return p.now
	}
	return t
}

func pick[T any](r *mrand.Rand, list []T) T { return list[r.IntN(len(list))] }

// tenantID is tenant i's id; i = -1 (the root's parent) is NULL.
func (p *plan) tenantID(i int) any {
	if i < 0 {
		return nil
	}
	return p.firstTenant + int64(i)
}

func (p *plan) userID(i int) int64 { return p.firstUser + int64(i) }

var (
	userCols       = []string{"id", "email", "first_name", "last_name", "status", "created_at", "updated_at"}
	passwordCols   = []string{"user_id", "hash", "updated_at"}
	tenantCols     = []string{"id", "parent_id", "name", "subdomain", "description", "contact_email", "timezone", "status", "owner_user_id", "created_at", "updated_at"}
	membershipCols = []string{"id", "tenant_id", "user_id", "role", "created_at", "updated_at"}
	templateCols   = []string{"id", "tenant_id", "name", "branding_company_name", "brand_color", "collects", "category", "created_by_user_id", "created_at", "updated_at"}
	deviceCols     = []string{"tenant_id", "identifier", "model", "status", "deprovisioned_at", "created_at", "updated_at"}
	orderCols      = []string{"tenant_id", "template_id", "applicant_name", "applicant_email", "reference", "status", "created_by_user_id", "created_at", "updated_at"}
	invitationCols = []string{"tenant_id", "email", "first_name", "last_name", "role", "token_hash", "status", "invited_by_user_id", "expires_at", "responded_at", "created_at", "updated_at"}
)

func (p *plan) userRows() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(p.users), func(i int) ([]any, error) {
		u := p.users[i]
		return []any{p.userID(i), u.email, u.first, u.last, "active", u.created, u.created}, nil
	})
}

// passwordRows give every user the one hash, in the table of its own.
func (p *plan) passwordRows() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(p.users), func(i int) ([]any, error) {
		return []any{p.userID(i), p.hash, p.users[i].created}, nil
	})
}

func (p *plan) tenantRows() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(p.tenants), func(i int) ([]any, error) {
		t := p.tenants[i]
		status := "active"
		if !t.active {
			status = "inactive"
		}
		return []any{p.tenantID(i), p.tenantID(t.parent), t.name, t.subdomain, t.description, t.contact, t.timezone,
			status, p.userID(t.owner), t.created, t.created}, nil
	})
}

func (p *plan) solutionRows() pgx.CopyFromSource {
	var rows [][]any
	for i, t := range p.tenants {
		for bit, s := range models.Solutions {
			if t.solutions&(1<<bit) != 0 {
				rows = append(rows, []any{p.tenantID(i), string(s)})
			}
		}
	}
	return pgx.CopyFromRows(rows)
}

func (p *plan) membershipRows() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(p.memberships), func(i int) ([]any, error) {
		m := p.memberships[i]
		return []any{p.firstMembership + int64(i), p.tenantID(m.tenant), p.userID(m.user), string(m.role), m.created, m.created}, nil
	})
}

func (p *plan) templateRows() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(p.templates), func(i int) ([]any, error) {
		t := p.templates[i]
		category := models.CategoryStandard
		if t.premium {
			category = models.CategoryPremium
		}
		return []any{p.firstTemplate + int64(i), p.tenantID(t.tenant), t.name, t.branding, t.color, t.collects,
			string(category), p.userID(p.tenants[t.tenant].owner), t.created, t.created}, nil
	})
}

func (p *plan) restrictionRows() pgx.CopyFromSource {
	return pgx.CopyFromSlice(len(p.restrictions), func(i int) ([]any, error) {
		r := p.restrictions[i]
		return []any{p.tenantID(p.memberships[r.membership].tenant), p.firstMembership + int64(r.membership), p.firstTemplate + int64(r.template)}, nil
	})
}

// deviceRows spreads fleet's devices evenly through the stream (so they are
// not one block on disk) and the rest with the skew. Identifiers are the
// model's prefix and a per-tenant serial, so they are unique per tenant.
func (p *plan) deviceRows(n, fleetN int) pgx.CopyFromSource {
	serial := make([]int, len(p.tenants))
	return pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		tenant := p.fleet
		if (i+1)*fleetN/n == i*fleetN/n { // exactly fleetN of n rows go to fleet
			tenant = p.skewed(p.others)
		}
		serial[tenant]++
		model := pick(p.r, deviceModels)
		created := p.between(p.tenants[tenant].created, p.now)
		updated := p.between(created, p.now)
		status, deprovisioned := "active", any(nil)
		switch k := p.r.IntN(100); {
		case k < 5:
			status, deprovisioned = "deprovisioned", updated
		case k < 15:
			status = "inactive"
		}
		return []any{p.tenantID(tenant), fmt.Sprintf("%s-%06d", model.prefix, serial[tenant]), model.name,
			status, deprovisioned, created, updated}, nil
	})
}

// orderRows gives fleet one order in ten and spreads the rest over the
// tenants that have templates; each comes from one of its tenant's templates
// and was placed by the tenant's owner.
func (p *plan) orderRows(n int) pgx.CopyFromSource {
	return pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		tenant := p.fleet
		if i%10 != 0 && len(p.ordering) > 0 {
			tenant = p.skewed(p.ordering)
		}
		t := p.tenants[tenant]
		template := t.firstTemplate + p.r.IntN(t.templateCount)
		created := p.between(p.templates[template].created, p.now)
		first, last := pick(p.r, firstNames), pick(p.r, lastNames)
		return []any{p.tenantID(tenant), p.firstTemplate + int64(template), first + " " + last,
			strings.ToLower(fmt.Sprintf("%s.%s%d@example.test", first, last, i)), fmt.Sprintf("PO-%06d", i+1),
			string(pick(p.r, models.OrderStatuses)), p.userID(t.owner), created, p.between(created, p.now)}, nil
	})
}

// invitationRows invites people with no account yet (unique addresses, so
// the one-pending-invitation-per-address index holds), one in twenty to
// fleet. Pending ones are recent; the rest were declined or revoked (an
// accepted one would need its member, so there are none).
func (p *plan) invitationRows(n int) pgx.CopyFromSource {
	return pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		tenant := p.fleet
		if i%20 != 0 {
			tenant = p.skewed(p.others)
		}
		token := make([]byte, 32) // random, so no link can ever redeem these
		_, _ = rand.Read(token)
		sum := sha256.Sum256(token)
		status, responded := "pending", any(nil)
		created := p.between(p.now.Add(-6*24*time.Hour), p.now)
		if k := p.r.IntN(10); k >= 6 {
			status = "declined"
			if k >= 8 {
				status = "revoked"
			}
			created = p.between(p.tenants[tenant].created, p.now.Add(-7*24*time.Hour))
			responded = p.between(created, created.Add(models.InvitationTTL))
		}
		role := p.role()
		if role == models.RoleSuperAdmin {
			role = models.RoleAdmin
		}
		return []any{p.tenantID(tenant), fmt.Sprintf("invitee%06d@example.test", i+1), pick(p.r, firstNames), pick(p.r, lastNames),
			string(role), hex.EncodeToString(sum[:]), status, p.userID(p.tenants[tenant].owner),
			created.Add(models.InvitationTTL), responded, created, created}, nil
	})
}

type deviceModel struct{ name, prefix string }

var (
	deviceModels = []deviceModel{
		{"ColdTrack T40", "CT40"}, {"ColdTrack T60", "CT60"}, {"ShipSense S2", "SS2"}, {"ShipSense S3 LTE", "SS3"},
		{"AirLog A1", "AL1"}, {"PalletBeacon P5", "PB5"}, {"ReeferLink R2", "RL2"}, {"TempTag Mini", "TTM"},
	}
	firstNames = []string{"Ada", "Ben", "Chloe", "Daniel", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas",
		"Kira", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sami", "Tara", "Umar", "Vera", "Wen", "Xavier", "Yara", "Zoe"}
	lastNames = []string{"Adams", "Becker", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen", "Ito", "Jansen",
		"Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi", "Schmidt", "Tanaka", "Urban", "Varga", "Weber", "Yilmaz", "Zhang"}
	nameWords = []string{"Northwind", "Bluewater", "Summit", "Harbor", "Evergreen", "Polar", "Granite", "Silverline",
		"Redwood", "Atlas", "Meridian", "Cobalt", "Keystone", "Pioneer", "Horizon", "Riverbend", "Ironbridge", "Sterling", "Crescent", "Lakeside"}
	industries    = []string{"Logistics", "Freight", "Pharma", "Foods", "Cold Chain", "Cargo", "Shipping", "Labs", "Health", "Produce", "Distribution", "Transport"}
	regions       = []string{"Europe", "Americas", "Asia Pacific", "Nordics", "Iberia", "Benelux", "Middle East", "Africa"}
	timezones     = []string{"UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Chicago", "America/Los_Angeles", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney"}
	templateNames = []string{"Standard onboarding", "Express check", "Cold-chain audit", "Air cargo intake", "Annual review"}
	brandColors   = []string{"#0f766e", "#1d4ed8", "#b91c1c", "#7c3aed", "#c2410c", "#15803d", "#0e7490", "#be185d"}
)
