package models

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"gorm.io/gorm/clause"
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
		sql.Named("month", string(month))).Scan(&rows).Error
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

// BillToChoices are, in one statement, the company chosen to bill (nil
// when chosenID is 0 or no company of the platform's tree) and, when
// search, the companies of the tree matching query by name or subdomain
// (every one when it is empty) but exceptID, the one chosen first, then by
// name, at most BillToSearchLimit. platformID must be the platform's: a customer's
// tenant finds nothing.
func (s *Store) BillToChoices(ctx context.Context, platformID, exceptID, chosenID int64, query string, search bool) (*BillToCandidate, []BillToCandidate, error) {
	match, args := "1 = 0", []any{}
	// Not planned afresh (planSearch): the matches are at most a page,
	// and a staff page keeps within its statement budget.
	if search {
		if query = strings.TrimSpace(query); query != "" {
			match, args = s.containsCondition(query, "tenants.name", "tenants.subdomain")
		} else {
			match = "1 = 1"
		}
	}
	var rows []struct {
		BillToCandidate
		Matched bool
	}
	err := s.conn(ctx).Table("tenants").
		Select("tenants.id, tenants.name, tenants.subdomain, tenants.parent_id, parents.name AS parent_name, parents.parent_id IS NULL AS top_level, "+
			"CASE WHEN "+match+" THEN 1 ELSE 0 END AS matched", args...).
		Joins("JOIN tenants AS parents ON parents.id = tenants.parent_id").
		Joins("JOIN tenants AS root ON root.id = ? AND root.parent_id IS NULL", platformID).
		Where("tenants.id = ? OR (tenants.id <> ? AND "+match+")", append([]any{chosenID, exceptID}, args...)...).
		Order(clause.OrderBy{Expression: clause.Expr{SQL: "CASE WHEN tenants.id = ? THEN 0 ELSE 1 END, lower(tenants.name), tenants.id",
			Vars: []any{chosenID}, WithoutParentheses: true}}).
		Limit(BillToSearchLimit + 1).Scan(&rows).Error
	if err != nil {
		return nil, nil, fmt.Errorf("find companies to bill: %w", err)
	}
	var chosen *BillToCandidate
	matches := make([]BillToCandidate, 0, len(rows))
	for i, r := range rows {
		if i == 0 && chosenID != 0 && r.ID == chosenID {
			chosen = &rows[0].BillToCandidate
		}
		if r.Matched && r.ID != exceptID && len(matches) < BillToSearchLimit {
			matches = append(matches, r.BillToCandidate)
		}
	}
	return chosen, matches, nil
}

// TermsFrom are terms with the company they are billed to (when one), as
// a bill-to picker shows it, and the name of the company that one is
// billed to in the same month (when it is), so a page can say where a bill
// goes on to.
type TermsFrom struct {
	BillingTerms
	BillToName       string
	BillToSubdomain  string
	BillToParentName string
	BillToTopLevel   bool
	OnwardName       string
}

// BillTo is the company the terms are billed to, as a bill-to picker shows
// it; nil when it pays for itself.
func (t *TermsFrom) BillTo() *BillToCandidate {
	if t.BillToTenantID == nil {
		return nil
	}
	return &BillToCandidate{ID: *t.BillToTenantID, Name: t.BillToName, Subdomain: t.BillToSubdomain,
		ParentName: t.BillToParentName, TopLevel: t.BillToTopLevel}
}

// BillingTermsFrom are a company's terms in force in month, then any
// change scheduled after it, by month, in one statement.
func (s *Store) BillingTermsFrom(ctx context.Context, tenantID int64, month BillingMonth) ([]TermsFrom, error) {
	var out []TermsFrom
	err := s.scoped(ctx, tenantID).Table("billing_terms").
		Select(`billing_terms.*, COALESCE(payee.name, '') AS bill_to_name, COALESCE(payee.subdomain, '') AS bill_to_subdomain,
			COALESCE(payee_parent.name, '') AS bill_to_parent_name, COALESCE(payee_parent.parent_id IS NULL, false) AS bill_to_top_level,
			COALESCE(onward.name, '') AS onward_name`).
		Joins("LEFT JOIN tenants AS payee ON payee.id = billing_terms.bill_to_tenant_id").
		Joins("LEFT JOIN tenants AS payee_parent ON payee_parent.id = payee.parent_id").
		Joins(`LEFT JOIN tenants AS onward ON onward.id = (SELECT x.bill_to_tenant_id FROM billing_terms AS x
			WHERE x.tenant_id = billing_terms.bill_to_tenant_id AND x.effective_month <= billing_terms.effective_month
			ORDER BY x.effective_month DESC LIMIT 1)`).
		Where(`billing_terms.effective_month >= COALESCE((SELECT max(y.effective_month) FROM billing_terms AS y
			WHERE y.tenant_id = ? AND y.effective_month <= ?), '')`, tenantID, string(month)).
		Order("billing_terms.effective_month").Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("load billing terms: %w", err)
	}
	return out, nil
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
