package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Solution is a product line a tenant can be given.
type Solution string

// The solutions Canopy offers.
const (
	SolutionColdChain        Solution = "cold_chain"
	SolutionShipmentTracking Solution = "shipment_tracking"
	SolutionAirCargo         Solution = "air_cargo"
)

// Solutions lists every solution, in the order forms show them.
var Solutions = []Solution{SolutionColdChain, SolutionShipmentTracking, SolutionAirCargo}

// Label is the solution's name as people read it.
func (s Solution) Label() string {
	switch s {
	case SolutionColdChain:
		return "Cold Chain Monitoring"
	case SolutionShipmentTracking:
		return "Shipment Tracking"
	case SolutionAirCargo:
		return "Air Cargo"
	}
	return string(s)
}

type tenantSolution struct {
	TenantID int64
	Solution Solution
}

func (tenantSolution) TableName() string { return "tenant_solutions" }

// SolutionsOf lists the solutions enabled for a tenant, in display order.
func (s *Store) SolutionsOf(ctx context.Context, tenantID int64) ([]Solution, error) {
	var rows []tenantSolution
	if err := s.scoped(ctx, tenantID).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("list solutions: %w", err)
	}
	var out []Solution
	for _, sol := range Solutions {
		if slices.ContainsFunc(rows, func(r tenantSolution) bool { return r.Solution == sol }) {
			out = append(out, sol)
		}
	}
	return out, nil
}

// EnableSolutions sets a tenant's solutions without consulting its parent:
// for setup (demo data, the platform tenant). Sub-tenants' solutions change
// through SaveSubTenantSettings, which enforces the parent's.
func (s *Store) EnableSolutions(ctx context.Context, tenantID int64, solutions []Solution) error {
	return s.Tx(ctx, func(tx *Store) error { return tx.setSolutions(ctx, tenantID, solutions) })
}

// setSolutions replaces a tenant's solutions. A solution taken away is taken
// from every tenant below it too: a child may only have what its parent has.
func (s *Store) setSolutions(ctx context.Context, tenantID int64, solutions []Solution) error {
	if err := s.scoped(ctx, tenantID).Delete(&tenantSolution{}).Error; err != nil {
		return fmt.Errorf("clear solutions: %w", err)
	}
	for _, sol := range solutions {
		if err := s.conn(ctx).Create(&tenantSolution{TenantID: tenantID, Solution: sol}).Error; err != nil {
			return fmt.Errorf("enable solution: %w", err)
		}
	}
	return s.trimDescendantSolutions(ctx, tenantID, solutions)
}

// trimDescendantSolutions removes, below tenantID at any depth, every
// solution not in kept.
func (s *Store) trimDescendantSolutions(ctx context.Context, tenantID int64, kept []Solution) error {
	descendants := `WITH RECURSIVE below(id) AS (
		SELECT id FROM tenants WHERE parent_id = ?
		UNION ALL SELECT tenants.id FROM tenants JOIN below ON tenants.parent_id = below.id)
		SELECT id FROM below`
	q := s.conn(ctx).Where("tenant_id IN (?)", s.conn(ctx).Raw(descendants, tenantID))
	if len(kept) > 0 {
		q = q.Where("solution NOT IN ?", kept)
	}
	if err := q.Delete(&tenantSolution{}).Error; err != nil {
		return fmt.Errorf("remove solutions from sub-tenants: %w", err)
	}
	return nil
}

// SubTenantSettings is the Settings tab of a sub-tenant: what its parent's
// Super Admins may change after creation.
type SubTenantSettings struct {
	Solutions  []Solution
	SSOInherit bool
	Timezone   string
}

// SaveSubTenantSettings changes the solutions, SSO inheritance and timezone
// of a tenant below ancestorID (at any depth) in one transaction. A tenant
// may only get solutions its own parent has. Name, subdomain, description
// and email are not part of it: they cannot change after creation.
func (s *Store) SaveSubTenantSettings(ctx context.Context, ancestorID, childID int64, set SubTenantSettings) error {
	return s.Tx(ctx, func(tx *Store) error {
		path, err := tx.SubTenantPath(ctx, ancestorID, childID)
		if err != nil {
			return err
		}
		child := path.Target()
		allowed, err := tx.SolutionsOf(ctx, path.Parent().ID)
		if err != nil {
			return err
		}
		errs := FieldErrors{}
		var chosen []Solution
		for _, sol := range Solutions {
			if !slices.Contains(set.Solutions, sol) {
				continue
			}
			if !slices.Contains(allowed, sol) {
				errs["solutions"] = sol.Label() + " is not enabled for the parent, so it cannot be given to a sub-tenant."
			}
			chosen = append(chosen, sol)
		}
		for _, sol := range set.Solutions {
			if !slices.Contains(Solutions, sol) {
				errs["solutions"] = "Choose solutions from the list."
			}
		}
		set.Timezone = strings.TrimSpace(set.Timezone)
		if msg := ValidateTimezone(set.Timezone); msg != "" {
			errs["timezone"] = msg
		}
		if err := errs.Err(); err != nil {
			return err
		}
		had, err := tx.SolutionsOf(ctx, child.ID)
		if err != nil {
			return err
		}
		if err := tx.setSolutions(ctx, child.ID, chosen); err != nil {
			return err
		}
		if err := tx.updateTenant(ctx, child.ID, map[string]any{"sso_inherit": set.SSOInherit, "timezone": set.Timezone}); err != nil {
			return err
		}
		return tx.audit(ctx, child.ID, AuditSettingsSaved, child.target(),
			map[string]any{"solutions": had, "sso_inherit": child.SSOInherit, "timezone": child.Timezone},
			map[string]any{"solutions": chosen, "sso_inherit": set.SSOInherit, "timezone": set.Timezone})
	})
}

// ParseSolutions reads solution keys from a form; unknown keys are kept so
// validation can refuse them.
func ParseSolutions(keys []string) []Solution {
	out := make([]Solution, 0, len(keys))
	for _, k := range keys {
		out = append(out, Solution(k))
	}
	return out
}

// SetSubTenantStatus activates or deactivates a tenant below ancestorID (at
// any depth). Members cannot enter an inactive tenant, nor any tenant below
// it; the Super Admins above it still manage them. Only this tenant's own
// status changes: those below keep theirs, and are back as they were when
// it is reactivated (docs/product.md, Tenants: Status).
func (s *Store) SetSubTenantStatus(ctx context.Context, ancestorID, childID int64, status TenantStatus) (*Tenant, error) {
	if status != TenantActive && status != TenantInactive {
		return nil, ErrInvalidStatus
	}
	var child *Tenant
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if child, err = tx.SubTenantOf(ctx, ancestorID, childID); err != nil {
			return err
		}
		was := child.Status
		child.Status = status
		if err := tx.SetTenantStatus(ctx, child.ID, status); err != nil {
			return err
		}
		action := AuditTenantActivated
		if status == TenantInactive {
			action = AuditTenantDeactivated
		}
		return tx.audit(ctx, child.ID, action, child.target(), map[string]any{"status": was}, map[string]any{"status": status})
	})
	return child, err
}
