package models

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Membership gives a user a role in one tenant.
//
// The json tags are the columns' names: the request frame (frame.go) reads
// these rows as PostgreSQL's to_json writes them.
type Membership struct {
	ID        int64     `json:"id"`
	TenantID  int64     `json:"tenant_id"`
	UserID    int64     `json:"user_id"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// AddedByUserID is who added the person at once, without asking them
	// (docs/product.md, Team and invitations), and AddedByName that
	// person's name then; nil for someone who accepted an invitation or
	// created the company. Until AcknowledgedAt, the person is told on
	// every page, with a way to leave.
	AddedByUserID  *int64     `json:"added_by_user_id"`
	AddedByName    string     `json:"added_by_name"`
	AcknowledgedAt *time.Time `json:"acknowledged_at"`
}

// MembershipOf loads the user's membership of a tenant, or ErrNotFound when
// they have none. It is read afresh on every request, so removing a member
// takes effect on their next click.
func (s *Store) MembershipOf(ctx context.Context, tenantID, userID int64) (*Membership, error) {
	var m Membership
	err := s.scoped(ctx, tenantID).Where("user_id = ?", userID).Take(&m).Error
	return &m, notFound(err, "load membership")
}

// AddMember gives a user a role in a tenant. Adding someone twice is reported
// beside the email field; the unique index decides, also under a race.
func (s *Store) AddMember(ctx context.Context, tenantID, userID int64, role Role) (*Membership, error) {
	return s.addMember(ctx, &Membership{TenantID: tenantID, UserID: userID, Role: role})
}

// addMember creates m, which may name who added the person.
func (s *Store) addMember(ctx context.Context, m *Membership) (*Membership, error) {
	tenantID, userID, role := m.TenantID, m.UserID, m.Role
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if _, err := ParseRole(string(role)); err != nil {
		return nil, FieldErrors{"role": "Choose a role from the list."}
	}
	if err := s.conn(ctx).Create(m).Error; err != nil {
		if violatesUnique(err, "memberships_tenant_user_key") {
			return nil, FieldErrors{"email": "This person is already a member."}
		}
		return nil, fmt.Errorf("add member: %w", err)
	}
	if err := s.auditUser(ctx, tenantID, AuditMemberAdded, userID, nil, map[string]any{"role": role}); err != nil {
		return nil, err
	}
	if err := s.startPresence(ctx, tenantID, MeterSeats, []int64{userID}, s.db.NowFunc()); err != nil {
		return nil, err
	}
	return m, s.emitMemberEvent(ctx, EventMemberAdded, m, nil)
}

// CountMembers counts a tenant's members.
func (s *Store) CountMembers(ctx context.Context, tenantID int64) (int64, error) {
	var n int64
	err := s.scoped(ctx, tenantID).Model(&Membership{}).Count(&n).Error
	if err != nil {
		return 0, fmt.Errorf("count members: %w", err)
	}
	return n, nil
}

// LandingTenant is where a user goes after signing in: the company they were
// last in, else the one they own, else the first in the order of their
// company toggle (companyOrder). Only tenants they are still a member of and
// can enter count: active, under active tenants only. ErrNotFound means none.
func (s *Store) LandingTenant(ctx context.Context, u *User) (*Tenant, error) {
	var last int64
	if u.LastTenantID != nil {
		last = *u.LastTenantID
	}
	var t Tenant
	res := s.conn(ctx).Raw(landingSQL, sql.Named("user", u.ID), sql.Named("last", last)).Scan(&t)
	if res.Error == nil && res.RowsAffected == 0 {
		res.Error = gorm.ErrRecordNotFound
	}
	return &t, notFound(res.Error, "find landing tenant")
}

// landingSQL picks LandingTenant's company in one pass over the user's
// entries of memberships_reachable_by_name_idx, as the company toggle
// reads them (toggleSQL), then loads that one tenant by primary key. The
// company they own is found by tenants_owner_key. Parameters: user, and
// last (the company).
var landingSQL = `SELECT tenants.* FROM (
		SELECT memberships.tenant_id, memberships.tenant_sort_name,
			CASE WHEN memberships.tenant_id = @last THEN 0
				WHEN memberships.tenant_id = (SELECT owned.id FROM tenants AS owned WHERE owned.owner_user_id = @user) THEN 1
				ELSE 2 END AS preference
		FROM memberships WHERE ` + reachableMembershipsOf + `
		ORDER BY preference, ` + companyOrder + ` LIMIT 1
	) AS memberships
	JOIN tenants ON tenants.id = memberships.tenant_id`

// InactiveCompany is a company a person belongs to but cannot enter: it is
// inactive itself, or a company above it is. ParentName is the company
// whose Super Admins can bring it back: the parent of the inactive one.
type InactiveCompany struct {
	Name string
	// BecauseAbove: it cannot be entered because a company above it is
	// inactive, whatever its own status.
	BecauseAbove  bool
	InactiveAbove string // the highest inactive company above it, when named
	ParentName    string // empty when unknown, or the inactive one is the platform tenant
}

// Heading is what a page about it is titled.
func (c InactiveCompany) Heading() string {
	if c.BecauseAbove {
		return c.Name + " is unavailable"
	}
	return c.Name + " is inactive"
}

// maxInactiveListed bounds the inactive companies a page names.
const maxInactiveListed = 20

// inactiveLineagesSQL walks up from each of a user's companies that cannot
// be entered, one primary-key lookup a level. Which ones those are is read
// from the memberships, as the lists of the companies they can enter read
// it (reachableMemberships), so the two never disagree about a company.
var inactiveLineagesSQL = `WITH RECURSIVE lineage AS (
		SELECT tenants.*, tenants.id AS member_of, 0 AS depth FROM tenants
		JOIN memberships ON memberships.tenant_id = tenants.id
		WHERE memberships.user_id = ? AND NOT memberships.tenant_reachable
		UNION ALL
		SELECT above.*, lineage.member_of, lineage.depth + 1 FROM tenants AS above JOIN lineage ON above.id = lineage.parent_id
	)
	SELECT * FROM lineage ORDER BY member_of, depth`

// InactiveCompaniesOf lists, by name, the companies a user is a member of
// but cannot enter — inactive, or below an inactive company — each with
// the company that is inactive and whom to ask, for pages that explain why
// they cannot go in. One statement.
func (s *Store) InactiveCompaniesOf(ctx context.Context, userID int64) ([]InactiveCompany, error) {
	var rows []struct {
		Tenant
		MemberOf int64
	}
	if err := s.conn(ctx).Raw(inactiveLineagesSQL, userID).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("list inactive companies: %w", err)
	}
	var out []InactiveCompany
	for start := 0; start < len(rows); {
		end := start + 1
		for end < len(rows) && rows[end].MemberOf == rows[start].MemberOf {
			end++
		}
		l := make(Lineage, 0, end-start)
		for _, r := range rows[start:end] {
			l = append(l, r.Tenant)
		}
		out = append(out, l.Unreachable())
		start = end
	}
	slices.SortFunc(out, func(a, b InactiveCompany) int { return strings.Compare(a.Name, b.Name) })
	return out[:min(len(out), maxInactiveListed)], nil
}

// lockTeam locks what a change to a tenant's members or owner decides on,
// always in one order: the tenant's row first (its owner), then the
// tenant's memberships that match where, by ascending id. Every such change
// takes these locks before it reads what it decides on, so two changes at
// once take turns instead of each acting on what the other is changing, and,
// taking them in the same order, cannot deadlock. It returns the tenant and
// the memberships as they are now.
func (s *Store) lockTeam(ctx context.Context, tenantID int64, where string, args ...any) (*Tenant, []Membership, error) {
	if tenantID <= 0 {
		return nil, nil, ErrNoTenant
	}
	var t Tenant
	if err := s.forUpdate(s.conn(ctx)).Where("id = ?", tenantID).Take(&t).Error; err != nil {
		return nil, nil, notFound(err, "lock tenant")
	}
	var members []Membership
	err := s.forUpdate(s.scoped(ctx, tenantID)).Where(where, args...).Order("id").Find(&members).Error
	if err != nil {
		return nil, nil, fmt.Errorf("lock memberships: %w", err)
	}
	return &t, members, nil
}

// RemoveMember takes a user's access to a tenant away. The owner stays.
func (s *Store) RemoveMember(ctx context.Context, tenantID, userID int64) error {
	return s.removeMember(ctx, tenantID, userID, AuditMemberRemoved)
}

// removeMember is RemoveMember, recorded in the audit log as action: the
// person removed by someone else, or leaving (LeaveCompany).
func (s *Store) removeMember(ctx context.Context, tenantID, userID int64, action string) error {
	return s.Tx(ctx, func(tx *Store) error {
		t, members, err := tx.lockTeam(ctx, tenantID, "user_id = ?", userID)
		if err != nil {
			return err
		}
		if len(members) == 0 {
			return fmt.Errorf("remove member: %w", ErrNotFound)
		}
		return tx.removeLockedMember(ctx, t, &members[0], action)
	})
}

// removeLockedMember deletes a membership that the transaction has locked
// with lockTeam, together with its tenant, and read since, and records it as
// action; every way out of a company (removal by an administrator, leaving
// it oneself) ends here.
// The owner stays. The role is part of the condition: a membership whose
// role changed under the lock after all is not deleted on what was read.
func (s *Store) removeLockedMember(ctx context.Context, t *Tenant, m *Membership, action string) error {
	if t.OwnerUserID != nil && *t.OwnerUserID == m.UserID {
		return ErrOwnerIsFixed
	}
	// Read while they are a member: on Postgres, row-level security shows a
	// person's row to the tenant only while they share it.
	u, err := s.UserByID(ctx, m.UserID)
	if err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	res := s.scoped(ctx, t.ID).Where("id = ? AND user_id = ? AND role = ?", m.ID, m.UserID, m.Role).Delete(&Membership{})
	if err := changed(res, "remove member"); err != nil {
		return err
	}
	if err := s.endPresence(ctx, t.ID, MeterSeats, []int64{m.UserID}, s.db.NowFunc()); err != nil {
		return err
	}
	if err := s.audit(ctx, t.ID, action, AuditTarget{Type: "user", ID: m.UserID, Label: u.Email}, map[string]any{"role": m.Role}, nil); err != nil {
		return err
	}
	return s.emitMemberEvent(ctx, EventMemberRemoved, m, u)
}
