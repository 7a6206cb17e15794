package models

import (
	"context"
	"errors"
	"fmt"

	"gorm.io/gorm"
)

// Addition is a company someone else added the user to at once, without
// asking them, which the user has not acknowledged yet: "Bob Brown added
// you to Globex as Editor" (docs/product.md, Team and invitations).
type Addition struct {
	TenantID    int64
	TenantName  string
	Role        Role
	AddedByName string
}

// maxAdditionsShown bounds the notices a page shows at once; the next ones
// appear as these are answered.
const maxAdditionsShown = 5

// UnacknowledgedAdditions lists, oldest first, the companies the user was
// added to by someone else and has not yet acknowledged or left, in one
// statement on an index of the unacknowledged rows only. It reads the
// user's own memberships in any company (Scope.UserID) and the companies'
// names, and no other person's row: the adder's name was kept on the
// membership when they added them.
func (s *Store) UnacknowledgedAdditions(ctx context.Context, userID int64) ([]Addition, error) {
	var out []Addition
	err := s.unacknowledged(ctx, userID).
		Select("memberships.tenant_id, tenants.name AS tenant_name, memberships.role, memberships.added_by_name").
		Joins("JOIN tenants ON tenants.id = memberships.tenant_id").
		Order("memberships.created_at, memberships.id").Limit(maxAdditionsShown).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list unacknowledged additions: %w", err)
	}
	return out, nil
}

// unacknowledged selects the user's memberships that someone else made and
// the user has not acknowledged: the rows of memberships_unacknowledged_idx.
func (s *Store) unacknowledged(ctx context.Context, userID int64) *gorm.DB {
	return s.conn(ctx).Table("memberships").
		Where("memberships.user_id = ? AND memberships.added_by_user_id IS NOT NULL AND memberships.acknowledged_at IS NULL", userID)
}

// additionsWaiting counts the user's unacknowledged additions inside another
// statement (the company toggle's), as unacknowledged selects them; its one
// parameter, the user's id, is named user. Written out rather than built by
// GORM, which runs its query callbacks for a subquery it builds.
const additionsWaiting = `(SELECT count(*) FROM memberships AS waiting
	WHERE waiting.user_id = @user AND waiting.added_by_user_id IS NOT NULL AND waiting.acknowledged_at IS NULL)`

// AcknowledgeAddition records that the user saw the notice of being added
// to a company, which then stops showing. Acknowledging twice changes
// nothing; a company they do not belong to is ErrNotFound.
func (s *Store) AcknowledgeAddition(ctx context.Context, tenantID, userID int64) error {
	return s.asMemberOf(ctx, tenantID, userID, func(ctx context.Context, tx *Store) error {
		err := tx.scoped(ctx, tenantID).Model(&Membership{}).
			Where("user_id = ? AND acknowledged_at IS NULL", userID).
			Update("acknowledged_at", tx.db.NowFunc()).Error
		if err != nil {
			return fmt.Errorf("acknowledge addition: %w", err)
		}
		return nil
	})
}

// LeaveCompany takes the user out of a company at their own request, from
// any company's address, recorded as member.left. The owner cannot leave
// (ErrOwnerCannotLeave): they transfer ownership first. Memberships are
// read afresh on every request, so their access ends at once.
func (s *Store) LeaveCompany(ctx context.Context, tenantID, userID int64) error {
	err := s.asMemberOf(ctx, tenantID, userID, func(ctx context.Context, tx *Store) error {
		return tx.removeMember(ctx, tenantID, userID, AuditMemberLeft)
	})
	if errors.Is(err, ErrOwnerIsFixed) {
		return ErrOwnerCannotLeave
	}
	return err
}

// asMemberOf runs fn inside a company the user belongs to, which may not be
// the one whose address the request is on: their own membership, which the
// request may read in any company, is the reason the database cannot know.
// A company they do not belong to is ErrNotFound, and fn does not run.
func (s *Store) asMemberOf(ctx context.Context, tenantID, userID int64, fn func(ctx context.Context, tx *Store) error) error {
	if _, err := s.MembershipOf(ctx, tenantID, userID); err != nil {
		return err
	}
	return s.Within(ctx, Scope{TenantID: tenantID, UserID: userID}, fn)
}
