package models

import (
	"context"
	"fmt"
	"time"
)

// APIMember is what the JSON API tells of a member: who they are and their
// role, never how they sign in.
type APIMember struct {
	ID        int64 // the membership's
	UserID    int64
	FirstName string
	LastName  string
	Email     string
	Role      Role
	JoinedAt  time.Time
}

// Name is how the member is shown: their name, or their email without one.
func (m APIMember) Name() string {
	u := User{FirstName: m.FirstName, LastName: m.LastName, Email: m.Email}
	return u.Name()
}

// APIMembers is one page of the tenant's members, newest first (by
// membership id): one statement.
func (s *Store) APIMembers(ctx context.Context, tenantID int64, page APIListRequest) (APIPage[APIMember], error) {
	if tenantID <= 0 {
		return APIPage[APIMember]{}, ErrNoTenant
	}
	q := s.scoped(ctx, tenantID).Table("memberships").
		Select(`memberships.id, memberships.user_id, users.first_name, users.last_name, users.email,
			memberships.role, memberships.created_at AS joined_at`).
		Joins("JOIN users ON users.id = memberships.user_id")
	if page.After > 0 {
		q = q.Where("memberships.id < ?", page.After)
	}
	var rows []APIMember
	if err := q.Order("memberships.id DESC").Limit(page.limit() + 1).Scan(&rows).Error; err != nil {
		return APIPage[APIMember]{}, fmt.Errorf("list members: %w", err)
	}
	return trimPage(rows, page.limit()), nil
}
