package models

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm"
)

// Platform staff's side of billing: how many companies each plan has, the
// companies a bill may be sent to, and the terms a company they create
// starts on (billing.go changes them later).

// BillingPlanCompanies counts, plan by plan, the companies whose terms in
// force in month name it: one grouped statement however many plans. Staff
// read it for the whole tree; anyone else's scope would count only theirs.
func (s *Store) BillingPlanCompanies(ctx context.Context, month BillingMonth) (map[int64]int64, error) {
	var rows []struct {
		PlanID    int64
		Companies int64
	}
	err := s.conn(ctx).Raw(`SELECT terms.plan_id, count(*) AS companies FROM (`+termsInForceSQL+`) AS terms GROUP BY terms.plan_id`,
		string(month)).Scan(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("count companies by billing plan: %w", err)
	}
	out := make(map[int64]int64, len(rows))
	for _, r := range rows {
		out[r.PlanID] = r.Companies
	}
	return out, nil
}

// BillToSearchLimit is how many companies a search for one to bill to
// offers at most.
const BillToSearchLimit = 20

// BillToCandidate is a company a bill may be sent to, as a picker shows it:
// its parent named when it is not a top-level company, since names are
// unique among siblings only.
type BillToCandidate struct {
	ID         int64
	Name       string
	Subdomain  string
	ParentID   int64
	ParentName string
	TopLevel   bool // directly under the platform
}

// BillToCandidates are the companies of the platform's tree matching query
// by name or subdomain (every company when it is empty), but exceptID,
// by name, at most BillToSearchLimit. platformID must be the platform: the
// candidates are the whole tree below it.
func (s *Store) BillToCandidates(ctx context.Context, platformID, exceptID int64, query string) ([]BillToCandidate, error) {
	q, err := s.billToCandidates(ctx, platformID)
	if err != nil {
		return nil, err
	}
	if query = strings.TrimSpace(query); query != "" {
		if err := s.planSearch(ctx); err != nil {
			return nil, err
		}
		q = s.containsAny(q, query, "tenants.name", "tenants.subdomain")
	}
	var out []BillToCandidate
	err = q.Where("tenants.id <> ?", exceptID).Order("lower(tenants.name), tenants.id").Limit(BillToSearchLimit).Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("search companies to bill: %w", err)
	}
	return out, nil
}

// BillToCandidateByID is one company of the platform's tree as
// BillToCandidates shows it; the platform itself, or an unknown id, is
// ErrNotFound.
func (s *Store) BillToCandidateByID(ctx context.Context, platformID, id int64) (*BillToCandidate, error) {
	q, err := s.billToCandidates(ctx, platformID)
	if err != nil {
		return nil, err
	}
	var out BillToCandidate
	err = q.Where("tenants.id = ?", id).Take(&out).Error
	return &out, notFound(err, "load company to bill")
}

// billToCandidates selects the companies below the platform with their
// parents; a tenant other than the platform has none to offer.
func (s *Store) billToCandidates(ctx context.Context, platformID int64) (*gorm.DB, error) {
	platform, err := s.TenantByID(ctx, platformID)
	if err != nil {
		return nil, err
	}
	if !platform.IsPlatform() {
		return nil, fmt.Errorf("companies to bill from a customer's tenant: %w", ErrNotFound)
	}
	return s.conn(ctx).Table("tenants").
		Select("tenants.id, tenants.name, tenants.subdomain, tenants.parent_id, parents.name AS parent_name, parents.parent_id IS NULL AS top_level").
		Joins("JOIN tenants AS parents ON parents.id = tenants.parent_id"), nil
}

// checkStartingTerms checks platform staff's choices for a company they
// create, beside the fields that hold them: a plan still offered, and a
// company of the tree to bill it to.
func (s *Store) checkStartingTerms(ctx context.Context, n *NewSubTenant, errs FieldErrors) error {
	if n.PlanID != 0 {
		plan, err := s.BillingPlanByID(ctx, n.PlanID)
		switch {
		case errors.Is(err, ErrNotFound):
			errs["plan_id"] = "Choose a plan from the list."
		case err != nil:
			return err
		case plan.Archived():
			errs["plan_id"] = "This plan is archived. Choose another."
		}
	}
	if n.BillToTenantID != 0 {
		payer, err := s.TenantByID(ctx, n.BillToTenantID)
		switch {
		case errors.Is(err, ErrNotFound):
			errs["bill_to"] = "Choose a company from the list."
		case err != nil:
			return err
		case payer.IsPlatform():
			errs["bill_to"] = "The platform itself is billed to nobody. Choose a company."
		}
	}
	return nil
}

// ValidateBillingPlan checks a plan's details as CreateBillingPlan does,
// without writing anything, so that a form can show every problem at once
// with those of its own reading (amounts it could not parse).
func ValidateBillingPlan(n NewBillingPlan) FieldErrors { return n.validate() }
