package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// NewSubTenant is the Create Sub-Tenant form (and, under the platform
// tenant, the form platform staff use to create a customer company).
type NewSubTenant struct {
	ParentID    int64
	ActorUserID int64
	Name        string
	Subdomain   string
	Description string
	Email       string // becomes the owner and first Super Admin
	Timezone    string
	// BillingRollsUp bills it to its parent (a company under the platform
	// pays for itself unless BillToTenantID names a company).
	BillingRollsUp bool
	// BillToTenantID and PlanID are platform staff's choices for a company
	// they create: the company it is billed to (0: itself) and its plan (0:
	// the default plan).
	BillToTenantID int64
	PlanID         int64
}

// billTo is the company the new one is billed to, 0 when it pays itself.
func (n *NewSubTenant) billTo(parent *Tenant) int64 {
	if n.BillToTenantID != 0 {
		return n.BillToTenantID
	}
	if n.BillingRollsUp && !parent.IsPlatform() {
		return parent.ID
	}
	return 0
}

// ValidateSubTenant checks the form without writing anything, so the person
// can confirm details that cannot be edited later. Name, subdomain,
// description, email and timezone are all required (docs/product.md,
// Sub-Tenants); tenants made otherwise (the platform, the demo) and those
// created before may have no description. Availability is checked here for
// a friendly answer; the unique indexes still decide at creation.
func (s *Store) ValidateSubTenant(ctx context.Context, n *NewSubTenant) error {
	n.Email = NormalizeEmail(n.Email)
	nt := NewTenant{ParentID: n.ParentID, Name: n.Name, Subdomain: n.Subdomain, Description: n.Description, ContactEmail: n.Email, Timezone: n.Timezone}
	errs := nt.validate()
	n.Name, n.Subdomain, n.Description, n.Timezone = nt.Name, nt.Subdomain, nt.Description, nt.Timezone
	if n.Description == "" && errs["description"] == "" {
		errs["description"] = "Describe what it is for, in a sentence or two."
	}
	if msg, ok := errs["contact_email"]; ok {
		errs["email"] = msg
		delete(errs, "contact_email")
	}
	if n.Email == "" {
		errs["email"] = "Enter the email of the person who will own it."
	}
	if errs["subdomain"] == "" {
		if _, err := s.TenantBySubdomain(ctx, n.Subdomain); err == nil {
			errs["subdomain"] = "This subdomain is already taken. Choose another."
		} else if !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if errs["name"] == "" {
		var taken int64
		if err := s.conn(ctx).Model(&Tenant{}).Where("parent_id = ? AND lower(name) = ?", n.ParentID, strings.ToLower(n.Name)).Count(&taken).Error; err != nil {
			return fmt.Errorf("check name: %w", err)
		}
		if taken > 0 {
			errs["name"] = "This name is already used here. Choose a unique name."
		}
	}
	if errs["email"] == "" {
		if owns, err := s.ownsTenant(ctx, n.Email); err != nil {
			return err
		} else if owns {
			errs["email"] = "This person already owns a company; each person can own only one. Choose another owner."
		}
	}
	if err := s.checkStartingTerms(ctx, n, errs); err != nil {
		return err
	}
	return errs.Err()
}

// ownsTenant tells whether the person with this email owns a company. They
// are found by their address alone (UserByEmail): on Postgres, row-level
// security shows this tenant no one else's row.
func (s *Store) ownsTenant(ctx context.Context, email string) (bool, error) {
	u, err := s.UserByEmail(ctx, email)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("check ownership: %w", err)
	}
	var n int64
	err = s.conn(ctx).Model(&Tenant{}).Where("owner_user_id = ?", u.ID).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("check ownership: %w", err)
	}
	return n > 0, nil
}

// CreateSubTenant creates a child tenant and, in the same transaction,
// invites its owner by email as Super Admin: someone new and someone who
// already has an account alike, since nobody is made the owner of a company
// without saying yes (docs/product.md, Sub-Tenants). The invitee becomes
// owner on accepting; until then the tenant has no owner, and the invitee's
// one ownership is not used. The new tenant is Active and reachable at its
// subdomain straight away.
func (s *Store) CreateSubTenant(ctx context.Context, n NewSubTenant, mail MailFor) (*Tenant, error) {
	if n.ParentID <= 0 {
		return nil, ErrNoTenant
	}
	if err := s.ValidateSubTenant(ctx, &n); err != nil {
		return nil, err
	}
	var tenant *Tenant
	err := s.Tx(ctx, func(tx *Store) error {
		parent, err := tx.TenantByID(ctx, n.ParentID)
		if err != nil {
			return err
		}
		tenant, err = tx.CreateTenant(ctx, NewTenant{ParentID: n.ParentID, Name: n.Name, Subdomain: n.Subdomain, Description: n.Description,
			ContactEmail: n.Email, Timezone: n.Timezone, PlanID: n.PlanID, BillToTenantID: n.billTo(parent)})
		if err != nil {
			return err
		}
		if err := tx.emitSubtenantCreated(ctx, tenant); err != nil {
			return err
		}
		_, err = tx.Invite(ctx, InviteRequest{
			TenantID: tenant.ID, InviterID: n.ActorUserID, InviterRole: RoleSuperAdmin,
			Email: n.Email, Role: RoleSuperAdmin, MakesOwner: true,
		}, mail)
		return err
	})
	if err != nil {
		return nil, err
	}
	return tenant, nil
}

// SubTenantPageSize is how many sub-tenants a list page shows.
const SubTenantPageSize = 25

// SubTenant is one row of a Sub-Tenants list (under the platform tenant,
// the Companies list): the tenant, its owner's email, or while it has none
// the email its pending owner invitation went to, and its member count.
type SubTenant struct {
	Tenant
	OwnerEmail        string // "" while nobody owns it
	InvitedOwnerEmail string // the pending owner invitation's, while nobody owns it
	MemberCount       int64
}

// SubTenants lists a tenant's direct children, searchable by name or
// subdomain, one page at a time, with each one's owner and member count:
// one statement, the page with the tenant's child count beside it
// (tenants.child_count, which the database keeps); a search is two, a
// count of its matches up to CountCap and the page.
func (s *Store) SubTenants(ctx context.Context, parentID int64, query string, page PageRequest) (Page[SubTenant], error) {
	if query != "" {
		if err := s.planSearch(ctx); err != nil {
			return Page[SubTenant]{PageRequest: page}, err
		}
	}
	return s.subTenants(ctx, parentID, query, page)
}

// SubTenantsBelow is SubTenants for the tenant a path found by SubTenantPath
// leads to: a sub-tenant's own Sub-Tenants tab. Its search is not planned
// afresh (planSearch): the children of one tenant below the top are found
// through the parent index however many match, so a cached plan serves
// them as well, and the page keeps within its statement budget.
func (s *Store) SubTenantsBelow(ctx context.Context, path TreePath, query string, page PageRequest) (Page[SubTenant], error) {
	return s.subTenants(ctx, path.Target().ID, query, page)
}

// subTenantColumns are a Sub-Tenants row's: the tenant, its owner's email
// (from the owner's membership), its member count and, while nobody owns
// it, the email of its pending owner invitation (the newest, though
// resending replaces rather than adds one), the argument.
const subTenantColumns = `tenants.*, COALESCE(owner_membership.person_email, '') AS owner_email, tenants.member_count,
	CASE WHEN tenants.owner_user_id IS NULL THEN COALESCE((?), '') ELSE '' END AS invited_owner_email`

func (s *Store) subTenants(ctx context.Context, parentID int64, query string, page PageRequest) (Page[SubTenant], error) {
	result := Page[SubTenant]{PageRequest: page}
	if parentID <= 0 {
		return result, ErrNoTenant
	}
	children := func() *gorm.DB {
		q := s.conn(ctx).Model(&Tenant{}).Where("parent_id = ?", parentID)
		if query != "" {
			q = s.containsAny(q, query, "name", "subdomain")
		}
		return q
	}
	const order = "lower(tenants.name), tenants.id"
	// The page is cut from the children first, so that the owners and the
	// invitations are looked up for its rows only, not for those before it.
	onPage := children().Order(order).Offset(page.Offset()).Limit(page.Size)
	invited := s.conn(ctx).Table("invitations").Select("invitations.email").
		Where("invitations.tenant_id = tenants.id AND invitations.makes_owner = ? AND invitations.status = ?", true, InvitationPending).
		Order("invitations.id DESC").Limit(1)
	// The owner's email is their membership's copy of it (the owner is
	// always a member): a lookup by the membership's key, where reading
	// users would pass each owner through that table's policy.
	rows := s.conn(ctx).Table("(?) AS tenants", onPage).
		Joins("LEFT JOIN memberships AS owner_membership ON owner_membership.tenant_id = tenants.id AND owner_membership.user_id = tenants.owner_user_id").
		Order(order)
	if query == "" {
		kept := s.conn(ctx).Table("tenants AS listed").Select("listed.child_count").Where("listed.id = ?", parentID)
		if err := readPageWithKeptTotal(rows, kept, &result, subTenantColumns, invited); err != nil {
			return result, fmt.Errorf("list sub-tenants: %w", err)
		}
		return result, nil
	}
	if err := countCapped(s.conn(ctx), children(), &result); err != nil {
		return result, fmt.Errorf("count sub-tenants: %w", err)
	}
	if err := rows.Select(subTenantColumns, invited).Scan(&result.Items).Error; err != nil {
		return result, fmt.Errorf("list sub-tenants: %w", err)
	}
	return result, nil
}

// SubTenantOf loads a tenant below ancestorID, at any depth. Anything else
// — a tenant of another tree, ancestorID itself or a tenant above it, an
// unknown id — is ErrNotFound, so the Sub-Tenants pages can never reach
// outside the subtree of the tenant whose host they are on.
func (s *Store) SubTenantOf(ctx context.Context, ancestorID, id int64) (*Tenant, error) {
	path, err := s.SubTenantPath(ctx, ancestorID, id)
	if err != nil {
		return nil, err
	}
	return path.Target(), nil
}

// SubTenantPath is the way down from ancestorID to a tenant below it, as
// SubTenantOf finds it: the breadcrumb of a sub-tenant's details page.
func (s *Store) SubTenantPath(ctx context.Context, ancestorID, id int64) (TreePath, error) {
	return s.inSubtree(ctx, ancestorID, id)
}

// TreePath is the way down from a tenant to one below it: the tenant
// first, the one below it last, every tenant between them in order.
type TreePath []Tenant

// Target is the tenant the path leads to.
func (p TreePath) Target() *Tenant { return &p[len(p)-1] }

// Parent is the tenant directly above the target.
func (p TreePath) Parent() *Tenant { return &p[len(p)-2] }

// InactiveAbove is the highest inactive tenant between the top of the path
// (whose host the page is on, so active) and the target: the reason the
// target cannot be entered whatever its own status. Nil when there is none.
func (p TreePath) InactiveAbove() *Tenant {
	for i := 1; i < len(p)-1; i++ {
		if !p[i].Active() {
			return &p[i]
		}
	}
	return nil
}
