package models

import (
	"context"
	"fmt"
	"slices"
)

// Lineage is a tenant and every tenant above it, nearest first: the tenant
// itself, its parent, and so on up to the platform tenant. Whether a tenant
// can be entered depends on all of them (docs/product.md, Tenants: Status),
// so the request pipeline loads it in one statement with the host's tenant.
type Lineage []Tenant

// Tenant is the tenant the lineage is of.
func (l Lineage) Tenant() *Tenant { return &l[0] }

// Parent is the tenant directly above, or nil for the platform tenant.
func (l Lineage) Parent() *Tenant {
	if len(l) < 2 {
		return nil
	}
	return &l[1]
}

// InactiveAbove is the highest inactive tenant above the tenant — the one
// whose reactivation brings it back — or nil when every one is active.
// The tenant's own status is not looked at: deactivating a tenant never
// overwrites its descendants' status, so each keeps its own for the day
// the tenant above is reactivated.
func (l Lineage) InactiveAbove() *Tenant { return l[1:].highestInactive() }

// Reachable tells whether members can enter the tenant: it is active, and
// so is every tenant above it.
func (l Lineage) Reachable() bool { return l.highestInactive() == nil }

// Unreachable says why the tenant cannot be entered, and whose Super Admins
// can change that: the parent of the highest inactive tenant, itself or
// above it.
func (l Lineage) Unreachable() InactiveCompany {
	c := InactiveCompany{Name: l.Tenant().Name}
	inactive := 0
	if above := l.InactiveAbove(); above != nil {
		c.BecauseAbove, c.InactiveAbove = true, above.Name
		inactive = slices.IndexFunc(l, func(t Tenant) bool { return t.ID == above.ID })
	}
	if inactive+1 < len(l) {
		c.ParentName = l[inactive+1].Name
	}
	return c
}

// lineageSQL walks up from the tenants the condition picks, one primary-key
// lookup a level, so its cost is the depth of the tree, never its size.
const lineageSQL = `WITH RECURSIVE lineage AS (
		SELECT tenants.*, 0 AS depth FROM tenants WHERE %s
		UNION ALL
		SELECT above.*, lineage.depth + 1 FROM tenants AS above JOIN lineage ON above.id = lineage.parent_id
	)
	SELECT * FROM lineage ORDER BY depth`

// lineage loads the one tenant cond picks and the tenants above it.
func (s *Store) lineage(ctx context.Context, cond string, args ...any) (Lineage, error) {
	var l Lineage
	if err := s.conn(ctx).Raw(fmt.Sprintf(lineageSQL, cond), args...).Scan(&l).Error; err != nil {
		return nil, fmt.Errorf("load tenant lineage: %w", err)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("load tenant lineage: %w", ErrNotFound)
	}
	return l, nil
}

// LineageBySubdomain loads the tenant at a subdomain (any case) with the
// tenants above it, or ErrNotFound.
func (s *Store) LineageBySubdomain(ctx context.Context, subdomain string) (Lineage, error) {
	return s.lineage(ctx, "lower(tenants.subdomain) = ?", NormalizeSubdomain(searchable(subdomain)))
}

// LineageByID loads a tenant with the tenants above it, or ErrNotFound.
func (s *Store) LineageByID(ctx context.Context, id int64) (Lineage, error) {
	return s.lineage(ctx, "tenants.id = ?", id)
}

// highestInactive is the highest inactive tenant of the lineage, the
// tenant itself included: what shuts the tenants below it. Nil when none.
func (l Lineage) highestInactive() *Tenant {
	for i := len(l) - 1; i >= 0; i-- {
		if !l[i].Active() {
			return &l[i]
		}
	}
	return nil
}

// lockTreeStatuses makes the rest of the transaction wait for any other
// status change or creation in the tree of tenantID (none for the root's
// own creation), so that the statuses above a tenant, read next for its
// marks (markSubtree, CreateTenant), stay as read until it commits. Without
// it, two changes at once each mark the tenants below from a lineage the
// other is changing, and the last write leaves stale marks. An advisory lock
// keyed by the tree's root, taken before any row lock: locking the ancestors'
// rows instead would need row-level security to let a sub-tenant's admin
// lock tenants above their tree, which it does not.
func (s *Store) lockTreeStatuses(ctx context.Context, tenantID int64) error {
	if tenantID == 0 || s.Dialect() != Postgres {
		return nil
	}
	l, err := s.LineageByID(ctx, tenantID)
	if err != nil {
		return err
	}
	return s.lockTenantFor(ctx, lockTreeMarks, l[len(l)-1].ID)
}

// markSubtreeSQL gives every tenant below one (whose children are shut by
// the tenant bound first, or by none) the highest inactive tenant above it.
const markSubtreeSQL = `WITH RECURSIVE below (id, status, shut) AS (
		SELECT child.id, child.status, CAST(? AS BIGINT) FROM tenants AS child WHERE child.parent_id = ?
		UNION ALL
		SELECT child.id, child.status, COALESCE(below.shut, CASE WHEN below.status = 'inactive' THEN below.id END)
		FROM tenants AS child JOIN below ON child.parent_id = below.id
	)
	UPDATE tenants SET inactive_above = below.shut FROM below
	WHERE tenants.id = below.id AND tenants.inactive_above IS DISTINCT FROM below.shut`

// markSubtree records, on every tenant below tenantID, the highest inactive
// tenant above it, after tenantID's status changed: the tenants below keep
// their own status. One statement, in the caller's transaction; row-level
// security lets it write where the status change could (the subtree). The
// database copies whether each tenant can now be entered onto its
// memberships (tenants_memberships_order, migration 00034), for the lists
// of a person's companies.
func (s *Store) markSubtree(ctx context.Context, tenantID int64) error {
	l, err := s.LineageByID(ctx, tenantID)
	if err != nil {
		return err
	}
	var shut *int64
	if t := l.highestInactive(); t != nil {
		shut = &t.ID
	}
	if err := s.conn(ctx).Exec(markSubtreeSQL, shut, tenantID).Error; err != nil {
		return fmt.Errorf("mark the tenants below %d: %w", tenantID, err)
	}
	return nil
}
