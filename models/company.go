package models

import (
	"context"
	"fmt"
)

// Company is one entry of a user's company toggle.
type Company struct {
	ID          int64
	Name        string
	Subdomain   string
	OwnerEmail  string
	MemberCount int64
}

// CompaniesOf lists the active companies a user is a member of, at any depth
// of the tree, with each one's member count and owner's email. It is one
// query however many companies there are. It reads across tenants by design
// — it is the user's own list, which row-level security lets the user read
// (Scope.UserID); the counts are kept on the tenants by the database,
// because other members' rows of those companies are not visible here.
func (s *Store) CompaniesOf(ctx context.Context, userID int64) ([]Company, error) {
	var out []Company
	err := s.conn(ctx).Table("memberships").
		Select(`tenants.id, tenants.name, tenants.subdomain, COALESCE(owners.email, '') AS owner_email, tenants.member_count`).
		Joins("JOIN tenants ON tenants.id = memberships.tenant_id").
		Joins("LEFT JOIN users AS owners ON owners.id = tenants.owner_user_id").
		Where("memberships.user_id = ? AND tenants.status = ?", userID, TenantActive).
		Order("lower(tenants.name), tenants.id").
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list companies of user: %w", err)
	}
	return out, nil
}
