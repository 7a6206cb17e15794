package models

import (
	"context"
	"fmt"
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
