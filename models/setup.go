package models

import (
	"context"
	"fmt"
)

// Setup is how far a company is through finishing its setup, read from its
// data. Of the four steps (its team, production keys, branded templates,
// webhooks) only the team and the templates can be taken today: Canopy has
// no API keys or webhooks yet.
type Setup struct {
	Members            int64
	Templates          int64
	UnbrandedTemplates int64 // templates without a branding company name
}

// TeamAdded tells whether someone besides the owner has joined.
func (s Setup) TeamAdded() bool { return s.Members > 1 }

// TemplatesBranded tells whether there are templates, and each names the
// company it brands.
func (s Setup) TemplatesBranded() bool { return s.Templates > 0 && s.UnbrandedTemplates == 0 }

// DoneForNow tells whether every step that can be taken today is done.
func (s Setup) DoneForNow() bool { return s.TeamAdded() && s.TemplatesBranded() }

// SetupOf reads a tenant's setup progress, in one statement.
func (s *Store) SetupOf(ctx context.Context, tenantID int64) (Setup, error) {
	var st Setup
	err := s.scoped(ctx, tenantID).Model(&Template{}).
		Select(`(SELECT member_count FROM tenants WHERE id = ?) AS members, COUNT(*) AS templates,
			COALESCE(SUM(CASE WHEN branding_company_name = '' THEN 1 ELSE 0 END), 0) AS unbranded_templates`, tenantID).
		Scan(&st).Error
	if err != nil {
		return st, fmt.Errorf("read setup progress: %w", err)
	}
	return st, nil
}
