package models

import (
	"context"
	"fmt"
	"slices"
)

// PlatformFigures are what platform staff see on Home: the customer
// companies (the platform tenant's children), active and inactive; their
// members, company by company, as the Companies list counts them (someone in
// two companies counts in each); and the invitations to them still waiting
// for an answer — pending, and not expired.
type PlatformFigures struct {
	ActiveCompanies    int64
	InactiveCompanies  int64
	Members            int64
	PendingInvitations int64
}

// Companies is how many customer companies there are.
func (f PlatformFigures) Companies() int64 { return f.ActiveCompanies + f.InactiveCompanies }

// PlatformFigures reads the figures of the platform tenant's Home in one
// statement: the companies and their member counts (kept on each tenant by
// the database) from the tenant tree, and the invitations to the companies.
// The tenant tree is not tenant-owned; the invitations are, and row-level
// security lets the platform's Super Admins, whose scope is the whole tree
// below the platform, count them.
func (s *Store) PlatformFigures(ctx context.Context, platformID int64) (PlatformFigures, error) {
	var f PlatformFigures
	if platformID <= 0 {
		return f, ErrNoTenant
	}
	companies := s.conn(ctx).Model(&Tenant{}).Select("id").Where("parent_id = ?", platformID)
	pending := s.conn(ctx).Table("invitations").Select("count(*)").
		Where("invitations.tenant_id IN (?) AND invitations.status = ? AND invitations.expires_at > ?", companies, InvitationPending, s.db.NowFunc())
	err := s.conn(ctx).Model(&Tenant{}).Where("parent_id = ?", platformID).
		Select(`COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) AS active_companies,
			COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) AS inactive_companies,
			COALESCE(SUM(member_count), 0) AS members, (?) AS pending_invitations`, TenantActive, TenantInactive, pending).
		Scan(&f).Error
	if err != nil {
		return f, fmt.Errorf("read platform figures: %w", err)
	}
	return f, nil
}

// SetCompanyOwner is platform staff's repair of a company whose owner is not
// its Super Admin, which the database has refused to commit since migration
// 00013 but which data from before may hold: one of the company's members
// becomes its owner and its Super Admin, under the locks every change of
// owner takes (lockTeam), audited in the company's own log as a transfer
// made by platform staff. Only the platform tenant's Super Admins reach it,
// for any company below the platform (as they manage the whole tree): any
// other tenant or member is ErrNotFound. It returns the owner.
func (s *Store) SetCompanyOwner(ctx context.Context, platformID, companyID, membershipID int64) (*User, error) {
	var owner *User
	err := s.Tx(ctx, func(tx *Store) error {
		platform, err := tx.TenantByID(ctx, platformID)
		if err != nil {
			return err
		}
		if !platform.IsPlatform() {
			return fmt.Errorf("set a company's owner from a customer's tenant: %w", ErrNotFound)
		}
		if _, err := tx.SubTenantOf(ctx, platformID, companyID); err != nil {
			return err
		}
		t, locked, err := tx.lockTeam(ctx, companyID, "id = ? OR user_id IN (SELECT owner_user_id FROM tenants WHERE id = ?)", membershipID, companyID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(locked, func(m Membership) bool { return m.ID == membershipID })
		if i < 0 {
			return fmt.Errorf("load member: %w", ErrNotFound)
		}
		if m := locked[i]; t.OwnerUserID != nil && *t.OwnerUserID == m.UserID && m.Role == RoleSuperAdmin {
			owner, err = tx.UserByID(ctx, m.UserID)
			return err // nothing to repair
		}
		before := map[string]any{"owner_user_id": t.OwnerUserID}
		if owner, err = tx.makeOwner(ctx, t, &locked[i]); err != nil {
			return err
		}
		return tx.audit(ctx, companyID, AuditOwnershipTransferred, AuditTarget{Type: "user", ID: owner.ID, Label: owner.Email},
			before, map[string]any{"owner_user_id": owner.ID, "set_by": "platform staff"})
	})
	return owner, err
}
