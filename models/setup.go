package models

import (
	"context"
	"fmt"
)

// Setup is how far a company is through finishing its setup, read from its
// data. Of the four steps (its team, production keys, branded templates,
// webhooks) three can be taken today: Canopy has no webhooks yet.
type Setup struct {
	Members              int64
	HasTemplates         bool
	HasUnbrandedTemplate bool // a template without a branding company name
	// HasProductionKeys tells whether the company created a production API
	// key, revoked ones included: it asked for production access, was
	// approved, and made one.
	HasProductionKeys  bool
	ProductionApproved bool // platform staff approved its production access
	ProductionPending  bool // a request for production access waits for platform staff
}

// TeamAdded tells whether someone besides the owner has joined.
func (s Setup) TeamAdded() bool { return s.Members > 1 }

// TemplatesBranded tells whether there are templates, and each names the
// company it brands.
func (s Setup) TemplatesBranded() bool { return s.HasTemplates && !s.HasUnbrandedTemplate }

// DoneForNow tells whether every step that can be taken today is done.
func (s Setup) DoneForNow() bool {
	return s.TeamAdded() && s.TemplatesBranded() && s.HasProductionKeys
}

// SetupOf reads a tenant's setup progress, in one statement that reads the
// tenant's row and at most one row of each kind, however many templates or
// keys it has: each step asks whether something exists, never how many.
func (s *Store) SetupOf(ctx context.Context, tenantID int64) (Setup, error) {
	var st Setup
	if tenantID <= 0 {
		return st, ErrNoTenant
	}
	err := s.conn(ctx).Model(&Tenant{}).Where("id = ?", tenantID).
		Select(`member_count AS members,
			EXISTS (SELECT 1 FROM templates WHERE tenant_id = tenants.id) AS has_templates,
			EXISTS (SELECT 1 FROM templates WHERE tenant_id = tenants.id AND branding_company_name = '') AS has_unbranded_template,
			EXISTS (SELECT 1 FROM api_keys WHERE tenant_id = tenants.id AND environment = ?) AS has_production_keys,
			EXISTS (SELECT 1 FROM production_access_requests WHERE tenant_id = tenants.id AND status = ?) AS production_approved,
			EXISTS (SELECT 1 FROM production_access_requests WHERE tenant_id = tenants.id AND status = ?) AS production_pending`,
			APIProduction, AccessApproved, AccessPending).
		Scan(&st).Error
	if err != nil {
		return st, fmt.Errorf("read setup progress: %w", err)
	}
	return st, nil
}
