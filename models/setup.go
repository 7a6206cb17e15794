package models

import (
	"context"
	"fmt"
)

// Setup is how far a company is through finishing its setup, read from its
// data. Of the four steps (its team, production keys, branded templates,
// webhooks) three can be taken today: Canopy has no webhooks yet.
type Setup struct {
	Members            int64
	Templates          int64
	UnbrandedTemplates int64 // templates without a branding company name
	ProductionKeys     int64 // production API keys ever created, revoked ones too
	ProductionApproved bool  // platform staff approved its production access
	ProductionPending  bool  // a request for production access waits for platform staff
}

// HasProductionKeys tells whether the company created its first production
// key: it asked for production access, was approved, and made one.
func (s Setup) HasProductionKeys() bool { return s.ProductionKeys > 0 }

// TeamAdded tells whether someone besides the owner has joined.
func (s Setup) TeamAdded() bool { return s.Members > 1 }

// TemplatesBranded tells whether there are templates, and each names the
// company it brands.
func (s Setup) TemplatesBranded() bool { return s.Templates > 0 && s.UnbrandedTemplates == 0 }

// DoneForNow tells whether every step that can be taken today is done.
func (s Setup) DoneForNow() bool {
	return s.TeamAdded() && s.TemplatesBranded() && s.HasProductionKeys()
}

// SetupOf reads a tenant's setup progress, in one statement.
func (s *Store) SetupOf(ctx context.Context, tenantID int64) (Setup, error) {
	var st Setup
	err := s.scoped(ctx, tenantID).Model(&Template{}).
		Select(`(SELECT member_count FROM tenants WHERE id = ?) AS members, COUNT(*) AS templates,
			COALESCE(SUM(CASE WHEN branding_company_name = '' THEN 1 ELSE 0 END), 0) AS unbranded_templates,
			(SELECT COUNT(*) FROM api_keys WHERE tenant_id = ? AND environment = ?) AS production_keys,
			EXISTS (SELECT 1 FROM production_access_requests WHERE tenant_id = ? AND status = ?) AS production_approved,
			EXISTS (SELECT 1 FROM production_access_requests WHERE tenant_id = ? AND status = ?) AS production_pending`,
			tenantID, tenantID, APIProduction, tenantID, AccessApproved, tenantID, AccessPending).
		Scan(&st).Error
	if err != nil {
		return st, fmt.Errorf("read setup progress: %w", err)
	}
	return st, nil
}
