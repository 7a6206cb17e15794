package models

import (
	"context"
	"fmt"
)

// Setup is how far a company is through "Finishing new company setup"
// (seed 000), read from its data.
type Setup struct {
	Members            int64
	Templates          int64
	UnbrandedTemplates int64 // templates without a branding company name
}

// TeamAdded: someone besides the owner has joined.
func (s Setup) TeamAdded() bool { return s.Members > 1 }

// TemplatesBranded: there are templates, and each names the company it brands.
func (s Setup) TemplatesBranded() bool { return s.Templates > 0 && s.UnbrandedTemplates == 0 }

// SetupOf reads a tenant's setup progress.
func (s *Store) SetupOf(ctx context.Context, tenantID int64) (Setup, error) {
	var st Setup
	if err := s.scoped(ctx, tenantID).Model(&Membership{}).Count(&st.Members).Error; err != nil {
		return st, fmt.Errorf("count members: %w", err)
	}
	if err := s.scoped(ctx, tenantID).Model(&Template{}).Count(&st.Templates).Error; err != nil {
		return st, fmt.Errorf("count templates: %w", err)
	}
	err := s.scoped(ctx, tenantID).Model(&Template{}).Where("branding_company_name = ''").Count(&st.UnbrandedTemplates).Error
	if err != nil {
		return st, fmt.Errorf("count unbranded templates: %w", err)
	}
	return st, nil
}
