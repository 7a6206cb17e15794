package models

import (
	"context"
	"database/sql"
	"fmt"

	"gorm.io/gorm"
)

// Company is one entry of a user's company toggle.
type Company struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Subdomain   string `json:"subdomain"`
	OwnerEmail  string `json:"owner_email"`
	MemberCount int64  `json:"member_count"`
	Owned       bool   `json:"owned"` // the user owns it, so cannot leave it
}

// ToggleSize is how many companies the toggle lists; someone in more finds
// the rest with its search, or on the Companies page. Listing 500 on every
// page would make each page 185 KB.
const ToggleSize = 20

// CompanyPageSize is how many companies a page of the Companies page shows.
const CompanyPageSize = 25

// reachableMemberships selects the user's memberships of the companies
// they can enter (active, under active companies only), at any depth of the
// tree: the entries of memberships_reachable_by_name_idx, which keeps them
// in companyOrder.
// The database keeps each membership's copy of its company's name and
// reachability (migration 00034), so the lists of a person's companies
// read only the rows they show, however many companies the person is in.
// It reads across tenants by design — it is the user's own list, which
// row-level security lets the user read (Scope.UserID).
func (s *Store) reachableMemberships(ctx context.Context, userID int64) *gorm.DB {
	return s.conn(ctx).Table("memberships").Where(reachableMembershipsOf, sql.Named("user", userID))
}

// reachableMembershipsOf is reachableMemberships' condition, written out
// for the statements that are not built by GORM; its one parameter is
// named user.
const reachableMembershipsOf = "memberships.user_id = @user AND memberships.tenant_reachable"

// companyOrder is the order of every list of a person's companies: by name
// in any case, then by id; the index's own order.
const companyOrder = "memberships.tenant_sort_name, memberships.tenant_id"

// companiesOf is reachableMemberships with each one's company, its member
// count and its owner's email, for lists that filter on the company (by
// name, by a setting) or show a page of it. The counts are kept on the
// tenants by the database, because other members' rows of those companies
// are not visible here.
func (s *Store) companiesOf(ctx context.Context, userID int64) *gorm.DB {
	return s.reachableMemberships(ctx, userID).
		Joins("JOIN tenants ON tenants.id = memberships.tenant_id").
		Joins("LEFT JOIN users AS owners ON owners.id = tenants.owner_user_id")
}

const companyColumns = `tenants.id, tenants.name, tenants.subdomain, COALESCE(owners.email, '') AS owner_email, tenants.member_count,
	CASE WHEN tenants.owner_user_id = memberships.user_id THEN 1 ELSE 0 END AS owned`

// Toggle is what the company toggle shows: the user's companies (the
// current one first, then the others by name, ToggleSize in all), how many
// companies they can enter, and how many notices of being added to a
// company they have waiting (UnacknowledgedAdditions).
type Toggle struct {
	Companies []Company `json:"companies"`
	Total     int64     `json:"total"`
	Additions int64     `json:"additions"`
}

// toggleSQL reads the toggle in one pass over the user's entries of
// memberships_reachable_by_name_idx, read from the index alone: it counts
// them (the total) and keeps the first ToggleSize, the current company
// first, then their tenants and owners by primary key, for those rows only.
// One pass rather than a count and a separate read of the first twenty:
// the count reads every entry anyway, and each pass over memberships sets
// up its row-level security again (measured on the bench data, 500
// companies: 0.7 ms against 1.0 ms of Postgres CPU a statement, planning
// included and the owners left out). The waiting additions are a count of
// memberships_unacknowledged_idx. Parameters: user, current (the company
// shown first) and size. Written out rather than built by GORM, which runs
// its query callbacks for the subqueries it builds. PostgreSQL runs the
// same query as the function canopy_company_toggle (migrations/postgres/
// 00037), which TestToggleFunctionIsToggleSQL checks against this one.
var toggleSQL = `SELECT ` + companyColumns + `, memberships.total, ` + additionsWaiting + ` AS additions
	FROM (
		SELECT memberships.user_id, memberships.tenant_id, memberships.tenant_sort_name,
			CASE WHEN memberships.tenant_id = @current THEN 0 ELSE 1 END AS shown_first,
			count(*) OVER () AS total
		FROM memberships WHERE ` + reachableMembershipsOf + `
		ORDER BY shown_first, ` + companyOrder + ` LIMIT @size
	) AS memberships
	JOIN tenants ON tenants.id = memberships.tenant_id
	LEFT JOIN users AS owners ON owners.id = tenants.owner_user_id
	ORDER BY memberships.shown_first, ` + companyOrder

// CompanyToggle reads the toggle in one statement, the waiting additions
// counted in it: every page of a member shows the toggle, and asks for the
// notices themselves only when there are some, so a page sends no statement
// more for them (docs/product.md, Quality rules). On PostgreSQL the query
// is the function canopy_company_toggle (migration 00037), which the
// request frame reads too, so a page's toggle usually comes with its frame
// (LoadFrame) and this is not called.
func (s *Store) CompanyToggle(ctx context.Context, userID, currentID int64) (Toggle, error) {
	var rows []struct {
		Company
		Total     int64
		Additions int64
	}
	query := s.conn(ctx).Raw(toggleSQL, sql.Named("user", userID), sql.Named("current", currentID), sql.Named("size", ToggleSize))
	if s.Dialect() == Postgres {
		query = s.conn(ctx).Raw("SELECT * FROM canopy_company_toggle(?, ?, ?)", userID, currentID, ToggleSize)
	}
	err := query.Scan(&rows).Error
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
	counted := s.reachableMemberships(ctx, userID) // without a query, the index alone
	if query != "" {
		counted = companies()
	}
	if err := countCapped(s.conn(ctx), counted, &out); err != nil {
		return out, fmt.Errorf("count companies: %w", err)
	}
	err := companies().Select(companyColumns).Order(companyOrder).
		Limit(page.Size).Offset(page.Offset()).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("search companies: %w", err)
	}
	return out, nil
}
