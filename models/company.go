package models

import (
	"context"
	"fmt"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Company is one entry of a user's company toggle.
type Company struct {
	ID          int64
	Name        string
	Subdomain   string
	OwnerEmail  string
	MemberCount int64
	Owned       bool // the user owns it, so cannot leave it
}

// ToggleSize is how many companies the toggle lists; someone in more finds
// the rest with its search, or on the Companies page. Listing 500 on every
// page would make each page 185 KB.
const ToggleSize = 20

// CompanyPageSize is how many companies a page of the Companies page shows.
const CompanyPageSize = 25

// companiesOf selects the companies a user is a member of and can enter
// (active, under active companies only), at any depth of the tree, with each one's member count and owner's email. It
// reads across tenants by design — it is the user's own list, which
// row-level security lets the user read (Scope.UserID); the counts are kept
// on the tenants by the database, because other members' rows of those
// companies are not visible here.
func (s *Store) companiesOf(ctx context.Context, userID int64) *gorm.DB {
	return s.conn(ctx).Table("memberships").
		Joins("JOIN tenants ON tenants.id = memberships.tenant_id").
		Joins("LEFT JOIN users AS owners ON owners.id = tenants.owner_user_id").
		Where("memberships.user_id = ? AND "+reachableTenant("tenants"), userID)
}

const companyColumns = `tenants.id, tenants.name, tenants.subdomain, COALESCE(owners.email, '') AS owner_email, tenants.member_count,
	CASE WHEN tenants.owner_user_id = memberships.user_id THEN 1 ELSE 0 END AS owned`

// Toggle is what the company toggle shows: the user's companies (the
// current one first, then the others by name, ToggleSize in all), how many
// companies they can enter, and how many notices of being added to a
// company they have waiting (UnacknowledgedAdditions).
type Toggle struct {
	Companies []Company
	Total     int64
	Additions int64
}

// CompanyToggle reads the toggle in one statement, the waiting additions
// counted in it: every page of a member shows the toggle, and asks for the
// notices themselves only when there are some, so a page sends no statement
// more for them (docs/product.md, Quality rules).
func (s *Store) CompanyToggle(ctx context.Context, userID, currentID int64) (Toggle, error) {
	var rows []struct {
		Company
		Total     int64
		Additions int64
	}
	err := s.companiesOf(ctx, userID).Select(companyColumns+`, COUNT(*) OVER () AS total, `+additionsWaiting+` AS additions`, userID).
		Clauses(clause.OrderBy{Expression: clause.Expr{SQL: "CASE WHEN tenants.id = ? THEN 0 ELSE 1 END, lower(tenants.name), tenants.id", Vars: []any{currentID}}}).
		Limit(ToggleSize).Scan(&rows).Error
	if err != nil {
		return Toggle{}, fmt.Errorf("list companies for the toggle: %w", err)
	}
	if len(rows) == 0 {
		return Toggle{}, nil
	}
	out := Toggle{Companies: make([]Company, len(rows)), Total: rows[0].Total, Additions: rows[0].Additions}
	for i, r := range rows {
		out.Companies[i] = r.Company
	}
	return out, nil
}

// SearchCompanies is one page of a user's active companies by name,
// narrowed to those whose name or subdomain contains query.
func (s *Store) SearchCompanies(ctx context.Context, userID int64, query string, page PageRequest) (Page[Company], error) {
	out := Page[Company]{PageRequest: page}
	if query != "" {
		if err := s.planSearch(ctx); err != nil {
			return out, err
		}
	}
	companies := func() *gorm.DB {
		q := s.companiesOf(ctx, userID)
		if query != "" {
			q = s.containsAny(q, query, "tenants.name", "tenants.subdomain")
		}
		return q
	}
	if err := countCapped(s.conn(ctx), companies(), &out); err != nil {
		return out, fmt.Errorf("count companies: %w", err)
	}
	err := companies().Select(companyColumns).Order("lower(tenants.name), tenants.id").
		Limit(page.Size).Offset(page.Offset()).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("search companies: %w", err)
	}
	return out, nil
}
