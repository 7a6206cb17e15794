package models

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // timezones work on machines without a zoneinfo database

	"gorm.io/gorm"
)

// TenantStatus tells whether a tenant's members can enter it.
type TenantStatus string

// The tenant statuses.
const (
	TenantActive   TenantStatus = "active"
	TenantInactive TenantStatus = "inactive"
)

// Tenant is a company or sub-tenant: one node of the tenant tree, reached at
// its own subdomain. The root is the platform tenant.
//
// The json tags are the columns' names: the request frame (frame.go) reads
// these rows as PostgreSQL's to_json writes them.
type Tenant struct {
	ID           int64        `json:"id"`
	ParentID     *int64       `json:"parent_id"`
	Name         string       `json:"name"`
	Subdomain    string       `json:"subdomain"`
	Description  string       `json:"description"`
	ContactEmail string       `json:"contact_email"`
	Timezone     string       `json:"timezone"`
	Status       TenantStatus `json:"status"`
	OwnerUserID  *int64       `json:"owner_user_id"`
	SSOInherit   bool         `gorm:"column:sso_inherit" json:"sso_inherit"`
	// RequireTwoFactor asks every member to sign in with a second factor.
	RequireTwoFactor bool      `json:"require_two_factor"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at"`
}

// Active tells whether members may enter the tenant.
func (t *Tenant) Active() bool { return t.Status == TenantActive }

// target is the tenant as an audit event names it.
func (t *Tenant) target() AuditTarget { return AuditTarget{Type: "tenant", ID: t.ID, Label: t.Name} }

// IsPlatform tells whether t is the root of the tree, whose Super Admins are
// the provider's own staff.
func (t *Tenant) IsPlatform() bool { return t.ParentID == nil }

// Location is the tenant's timezone for showing times; UTC if it cannot load.
func (t *Tenant) Location() *time.Location {
	if loc, ok := locations.Load(t.Timezone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		loc = time.UTC
	}
	locations.Store(t.Timezone, loc)
	return loc
}

// locations caches time zones by name: loading one reads the zone database
// from disk, and a list page formats a time on every row.
var locations sync.Map

// immutableTenantFields cannot change once a tenant exists.
var immutableTenantFields = []string{"Name", "Subdomain", "Description", "ContactEmail"}

// BeforeUpdate refuses any GORM update that would change a fixed detail. The
// database has a trigger for the same rule, for statements that skip hooks.
func (t *Tenant) BeforeUpdate(tx *gorm.DB) error {
	if tx.Statement.Changed(immutableTenantFields...) {
		return ErrImmutableField
	}
	if m, ok := tx.Statement.Dest.(map[string]any); ok {
		for _, col := range []string{"name", "subdomain", "description", "contact_email"} {
			if _, touched := m[col]; touched {
				return ErrImmutableField
			}
		}
	}
	return nil
}

// ValidateTimezone returns a message fit to show beside the field, or "".
func ValidateTimezone(tz string) string {
	if tz == "" || tz == "Local" {
		return "Choose a timezone."
	}
	if _, err := time.LoadLocation(tz); err != nil {
		return "Choose a timezone from the list."
	}
	return ""
}

// NewTenant describes a tenant to create. A zero ParentID creates the
// platform (root) tenant, which may exist once.
type NewTenant struct {
	ParentID     int64
	Name         string
	Subdomain    string
	Description  string
	ContactEmail string
	Timezone     string
	OwnerUserID  int64
	// PlanID is the billing plan it starts on: 0 for its parent's, or the
	// default plan under the platform.
	PlanID int64
	// BillToTenantID is the company it is billed to; 0 when it pays for
	// itself.
	BillToTenantID int64
}

func (n *NewTenant) validate() FieldErrors {
	errs := FieldErrors{}
	var ok bool
	if n.Name, ok = cleanLine(n.Name); !ok {
		errs["name"] = controlCharacterMessage
	}
	if n.Description, ok = cleanText(n.Description); !ok {
		errs["description"] = controlCharacterMessage
	}
	n.Subdomain = NormalizeSubdomain(n.Subdomain)
	n.ContactEmail = NormalizeEmail(n.ContactEmail)
	n.Timezone = strings.TrimSpace(n.Timezone)
	switch l := len([]rune(n.Name)); {
	case errs["name"] != "":
	case l == 0:
		errs["name"] = "Enter a name."
	case l < 2:
		errs["name"] = "Use at least 2 characters."
	case l > 100:
		errs["name"] = "Use at most 100 characters."
	}
	msg := ValidateSubdomain(n.Subdomain)
	if n.ParentID == 0 && reservedSubdomains[n.Subdomain] {
		msg = "" // the platform tenant owns the reserved "admin" address
	}
	if msg != "" {
		errs["subdomain"] = msg
	}
	if errs["description"] == "" && len([]rune(n.Description)) > 500 {
		errs["description"] = "Use at most 500 characters."
	}
	if n.ContactEmail != "" {
		if msg := ValidateEmail(n.ContactEmail); msg != "" {
			errs["contact_email"] = msg
		}
	}
	if msg := ValidateTimezone(n.Timezone); msg != "" {
		errs["timezone"] = msg
	}
	return errs
}

// CreateTenant adds a tenant to the tree and, when it has an owner, makes the
// owner its Super Admin, all in one transaction. A taken subdomain or an
// owner who already owns a tenant is reported beside the field, also when
// two requests race: the unique indexes decide, not a prior lookup.
func (s *Store) CreateTenant(ctx context.Context, n NewTenant) (*Tenant, error) {
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	t := &Tenant{
		Name: n.Name, Subdomain: n.Subdomain, Description: n.Description, ContactEmail: n.ContactEmail,
		Timezone: n.Timezone, Status: TenantActive,
		SSOInherit: n.ParentID != 0, // a new child follows its parent's SSO until told otherwise
	}
	if n.ParentID != 0 {
		t.ParentID = &n.ParentID
	}
	if n.OwnerUserID != 0 {
		t.OwnerUserID = &n.OwnerUserID
	}
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.lockTreeStatuses(ctx, n.ParentID); err != nil {
			return err
		}
		above, err := tx.checkParent(ctx, n.ParentID)
		if err != nil {
			return err
		}
		if err := tx.conn(ctx).Create(t).Error; err != nil {
			switch {
			case violatesUnique(err, "tenants_subdomain_key"):
				return FieldErrors{"subdomain": "This subdomain is already taken. Choose another."}
			case violatesUnique(err, "tenants_parent_name_key"):
				return FieldErrors{"name": "This name is already used here. Choose a unique name."}
			case violatesUnique(err, "tenants_owner_key"):
				return FieldErrors{"owner_email": "This person already owns a company; each person can own only one."}
			}
			return fmt.Errorf("create tenant: %w", err)
		}
		if shut := above.highestInactive(); shut != nil {
			// Created below an inactive tenant: shut with it until it is back.
			if err := tx.conn(ctx).Exec("UPDATE tenants SET inactive_above = ? WHERE id = ?", shut.ID, t.ID).Error; err != nil {
				return fmt.Errorf("create tenant: %w", err)
			}
		}
		if n.ParentID == 0 {
			// The root has nothing above it to act in, so it acts in itself.
			return tx.Within(ctx, Scope{TenantID: t.ID}, func(ctx context.Context, tx *Store) error {
				return tx.recordNewTenant(ctx, t, n.OwnerUserID)
			})
		}
		if err := tx.startBillingTerms(ctx, t, n.PlanID, n.BillToTenantID); err != nil {
			return err
		}
		return tx.recordNewTenant(ctx, t, n.OwnerUserID)
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// recordNewTenant audits a new tenant and makes its owner, if any, its
// Super Admin.
func (s *Store) recordNewTenant(ctx context.Context, t *Tenant, ownerUserID int64) error {
	if err := s.audit(ctx, t.ID, AuditTenantCreated, t.target(), nil, map[string]any{"name": t.Name, "subdomain": t.Subdomain, "parent_id": t.ParentID, "timezone": t.Timezone}); err != nil {
		return err
	}
	if ownerUserID == 0 {
		return nil
	}
	_, err := s.AddMember(ctx, t.ID, ownerUserID, RoleSuperAdmin)
	return err
}

// checkParent refuses a second root and a parent that does not exist, and
// returns the parent's lineage (none for the root).
func (s *Store) checkParent(ctx context.Context, parentID int64) (Lineage, error) {
	if parentID == 0 {
		var roots int64
		if err := s.conn(ctx).Model(&Tenant{}).Where("parent_id IS NULL").Count(&roots).Error; err != nil {
			return nil, fmt.Errorf("count root tenants: %w", err)
		}
		if roots > 0 {
			return nil, errors.New("create tenant: the platform tenant already exists; give a parent")
		}
		return nil, nil
	}
	return s.LineageByID(ctx, parentID)
}

// TenantByID loads a tenant, or ErrNotFound.
func (s *Store) TenantByID(ctx context.Context, id int64) (*Tenant, error) {
	var t Tenant
	err := s.conn(ctx).Where("id = ?", id).Take(&t).Error
	return &t, notFound(err, "load tenant")
}

// TenantBySubdomain loads the tenant at a subdomain (any case), or ErrNotFound.
func (s *Store) TenantBySubdomain(ctx context.Context, subdomain string) (*Tenant, error) {
	var t Tenant
	err := s.conn(ctx).Where("lower(subdomain) = ?", NormalizeSubdomain(searchable(subdomain))).Take(&t).Error
	return &t, notFound(err, "load tenant by subdomain")
}

// SetTenantStatus activates or deactivates a tenant, and with it, for its
// members, every tenant below it: their own status stays as it is, and what
// shuts them is recorded beside it (markSubtree), in the same transaction.
func (s *Store) SetTenantStatus(ctx context.Context, tenantID int64, status TenantStatus) error {
	if status != TenantActive && status != TenantInactive {
		return fmt.Errorf("set tenant status: unknown status %q", status)
	}
	return s.Tx(ctx, func(tx *Store) error {
		if err := tx.lockTreeStatuses(ctx, tenantID); err != nil {
			return err
		}
		if err := tx.updateTenant(ctx, tenantID, map[string]any{"status": status}); err != nil {
			return err
		}
		return tx.markSubtree(ctx, tenantID)
	})
}

// SetTenantTimezone changes the timezone a tenant's times are shown in.
func (s *Store) SetTenantTimezone(ctx context.Context, tenantID int64, tz string) error {
	if msg := ValidateTimezone(tz); msg != "" {
		return FieldErrors{"timezone": msg}
	}
	return s.Tx(ctx, func(tx *Store) error {
		t, err := tx.TenantByID(ctx, tenantID)
		if err != nil {
			return err
		}
		if err := tx.updateTenant(ctx, tenantID, map[string]any{"timezone": tz}); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditSettingsSaved, t.target(), map[string]any{"timezone": t.Timezone}, map[string]any{"timezone": tz})
	})
}

// updateTenant writes only mutable columns; the hook and the trigger refuse the rest.
func (s *Store) updateTenant(ctx context.Context, tenantID int64, changes map[string]any) error {
	changes["updated_at"] = s.db.NowFunc()
	res := s.conn(ctx).Model(&Tenant{ID: tenantID}).Where("id = ?", tenantID).Updates(changes)
	if refusedAsImmutable(res.Error) || errors.Is(res.Error, ErrImmutableField) {
		return ErrImmutableField
	}
	if res.Error != nil {
		return fmt.Errorf("update tenant: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("update tenant: %w", ErrNotFound)
	}
	return nil
}

// HasTenants tells whether any tenant exists yet, i.e. whether setup has run.
func (s *Store) HasTenants(ctx context.Context) (bool, error) {
	var n int64
	if err := s.conn(ctx).Model(&Tenant{}).Limit(1).Count(&n).Error; err != nil {
		return false, fmt.Errorf("count tenants: %w", err)
	}
	return n > 0, nil
}
