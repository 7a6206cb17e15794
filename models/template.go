package models

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Template is how a tenant's orders look and what they collect: the company
// name and colour an applicant sees, and which order data is gathered.
type Template struct {
	ID                  int64
	TenantID            int64
	Name                string
	BrandingCompanyName string
	BrandColor          string // #rrggbb, lowercase
	Collects            string // comma-separated OrderData keys, in OrderDataKinds order
	CreatedByUserID     *int64
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// OrderData is one kind of data a template can collect.
type OrderData struct {
	Key   string
	Label string
}

// OrderDataKinds is the fixed set of data a template may collect, in the
// order forms and lists show them.
var OrderDataKinds = []OrderData{
	{"employment", "Employment"},
	{"income", "Income"},
	{"identity", "Identity"},
	{"assets", "Assets"},
}

// DefaultBrandColor is Canopy's own teal, offered to a new template.
const DefaultBrandColor = "#0f766e"

// CollectKeys lists the keys of the data the template collects.
func (t *Template) CollectKeys() []string {
	if t.Collects == "" {
		return nil
	}
	return strings.Split(t.Collects, ",")
}

// CollectLabels lists what the template collects as people read it.
func (t *Template) CollectLabels() []string {
	keys := t.CollectKeys()
	out := make([]string, 0, len(keys))
	for _, k := range OrderDataKinds {
		if slices.Contains(keys, k.Key) {
			out = append(out, k.Label)
		}
	}
	return out
}

// MembershipTemplate lets one membership order from one template. A
// membership without any row may order from every template of its tenant.
type MembershipTemplate struct {
	TenantID     int64
	MembershipID int64
	TemplateID   int64
}

// NewTemplate describes a template to create.
type NewTemplate struct {
	Name                string
	BrandingCompanyName string
	BrandColor          string   // #rrggbb in any case; empty means DefaultBrandColor
	Collects            []string // OrderData keys
}

var hexColor = regexp.MustCompile(`^#[0-9a-f]{6}$`)

func (n *NewTemplate) validate() FieldErrors {
	errs := FieldErrors{}
	cleanLines(errs, map[string]*string{"name": &n.Name, "branding_company_name": &n.BrandingCompanyName})
	n.BrandColor = strings.ToLower(strings.TrimSpace(n.BrandColor))
	if n.BrandColor == "" {
		n.BrandColor = DefaultBrandColor
	}
	switch l := len([]rune(n.Name)); {
	case l == 0:
		errs["name"] = "Enter a name."
	case l < 2:
		errs["name"] = "Use at least 2 characters."
	case l > 100:
		errs["name"] = "Use at most 100 characters."
	}
	switch l := len([]rune(n.BrandingCompanyName)); {
	case l == 0:
		errs["branding_company_name"] = "Enter the company name applicants will see."
	case l > 100:
		errs["branding_company_name"] = "Use at most 100 characters."
	}
	if !hexColor.MatchString(n.BrandColor) {
		errs["brand_color"] = "Enter a colour as #rrggbb, like #0f766e."
	}
	var keys []string
	for _, k := range OrderDataKinds {
		if slices.Contains(n.Collects, k.Key) {
			keys = append(keys, k.Key)
		}
	}
	for _, c := range n.Collects {
		if !slices.ContainsFunc(OrderDataKinds, func(k OrderData) bool { return k.Key == c }) {
			errs["collects"] = "Choose order data from the list."
		}
	}
	if len(keys) == 0 && errs["collects"] == "" {
		errs["collects"] = "Choose at least one kind of order data."
	}
	n.Collects = keys
	return errs
}

// CreateTemplate adds a template to a tenant. A name the tenant already uses,
// in any case, is reported beside the name field; the unique index decides,
// also when two requests race.
func (s *Store) CreateTemplate(ctx context.Context, tenantID, createdByUserID int64, n NewTemplate) (*Template, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	t := &Template{
		TenantID: tenantID, Name: n.Name, BrandingCompanyName: n.BrandingCompanyName,
		BrandColor: n.BrandColor, Collects: strings.Join(n.Collects, ","),
	}
	if createdByUserID > 0 {
		t.CreatedByUserID = &createdByUserID
	}
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.conn(ctx).Create(t).Error; err != nil {
			if violatesUnique(err, "templates_tenant_name_key") {
				return FieldErrors{"name": "A template with this name already exists. Choose another name."}
			}
			return fmt.Errorf("create template: %w", err)
		}
		return tx.audit(ctx, tenantID, AuditTemplateCreated, AuditTarget{Type: "template", ID: t.ID, Label: t.Name}, nil, map[string]any{"name": t.Name, "collects": t.Collects})
	})
	if err != nil {
		return nil, err
	}
	return t, nil
}

// TemplatesOf lists every template of a tenant by name.
func (s *Store) TemplatesOf(ctx context.Context, tenantID int64) ([]Template, error) {
	var ts []Template
	err := s.scoped(ctx, tenantID).Order("lower(name), id").Find(&ts).Error
	if err != nil {
		return nil, fmt.Errorf("list templates: %w", err)
	}
	return ts, nil
}

// ListTemplates is one page of a tenant's templates by name.
func (s *Store) ListTemplates(ctx context.Context, tenantID int64, page PageRequest) (Page[Template], error) {
	out := Page[Template]{PageRequest: page}
	if err := countCapped(s.conn(ctx), s.scoped(ctx, tenantID).Model(&Template{}), &out); err != nil {
		return out, fmt.Errorf("count templates: %w", err)
	}
	err := s.scoped(ctx, tenantID).Order("lower(name), id").
		Offset(page.Offset()).Limit(page.Size).Find(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list templates: %w", err)
	}
	return out, nil
}

// TemplateByName finds a tenant's template by name in any case, or ErrNotFound.
func (s *Store) TemplateByName(ctx context.Context, tenantID int64, name string) (*Template, error) {
	var t Template
	err := s.scoped(ctx, tenantID).Where("lower(name) = ?", strings.ToLower(strings.TrimSpace(name))).Take(&t).Error
	return &t, notFound(err, "load template")
}

// TemplateDetails is a template with who created it and how many orders
// were made from it.
type TemplateDetails struct {
	Template
	CreatorFirstName string
	CreatorLastName  string
	CreatorEmail     string // "" when the creator's account is gone or unknown
	Orders           int64  // counted up to CountCap
	OrdersCapped     bool   // more than CountCap orders
}

// CreatorName is the creator's name as people read it, or "".
func (d *TemplateDetails) CreatorName() string {
	return strings.TrimSpace(d.CreatorFirstName + " " + d.CreatorLastName)
}

// TemplateByID loads a tenant's template with its creator and how many
// orders use it; a template of another tenant is ErrNotFound.
func (s *Store) TemplateByID(ctx context.Context, tenantID, id int64) (*TemplateDetails, error) {
	var d TemplateDetails
	err := s.scoped(ctx, tenantID).Model(&Template{}).
		Select("templates.*, u.first_name AS creator_first_name, u.last_name AS creator_last_name, u.email AS creator_email").
		Joins("LEFT JOIN users AS u ON u.id = templates.created_by_user_id").
		Where("templates.id = ?", id).Take(&d).Error
	if err != nil {
		return nil, notFound(err, "load template")
	}
	used := Page[Order]{}
	if err := countCapped(s.conn(ctx), s.scoped(ctx, tenantID).Model(&Order{}).Where("template_id = ?", id), &used); err != nil {
		return nil, fmt.Errorf("count the template's orders: %w", err)
	}
	d.Orders, d.OrdersCapped = used.Total, used.Capped
	return &d, nil
}

// availableTo keeps, in a query on templates, those a membership may order
// from: the ones listed for it, or every one when none is listed.
func (s *Store) availableTo(ctx context.Context, tenantID, membershipID int64) (string, []any) {
	listed := func() any {
		return s.scoped(ctx, tenantID).Model(&MembershipTemplate{}).Select("template_id").Where("membership_id = ?", membershipID)
	}
	return "(NOT EXISTS (?) OR id IN (?))", []any{listed(), listed()}
}

// MayOrderFrom tells whether a membership of the tenant may create orders
// from one of its templates: the template is listed for it, or none is. A
// membership or template of another tenant may not.
func (s *Store) MayOrderFrom(ctx context.Context, tenantID, membershipID, templateID int64) (bool, error) {
	available, args := s.availableTo(ctx, tenantID, membershipID)
	member := s.scoped(ctx, tenantID).Model(&Membership{}).Select("1").Where("id = ?", membershipID)
	var n int64
	err := s.scoped(ctx, tenantID).Model(&Template{}).Where("id = ?", templateID).
		Where(available, args...).Where("EXISTS (?)", member).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("may order from template: %w", err)
	}
	return n > 0, nil
}

// AvailableTemplates lists, by name, the templates a membership may order
// from: those listed for it in membership_templates, or all of the tenant's
// when none is listed. A membership of another tenant is ErrNotFound.
func (s *Store) AvailableTemplates(ctx context.Context, tenantID, membershipID int64) ([]Template, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if _, err := s.membershipByID(ctx, tenantID, membershipID); err != nil {
		return nil, err
	}
	cond, args := s.availableTo(ctx, tenantID, membershipID)
	var ts []Template
	if err := s.scoped(ctx, tenantID).Where(cond, args...).Order("lower(name), id").Find(&ts).Error; err != nil {
		return nil, fmt.Errorf("list available templates: %w", err)
	}
	return ts, nil
}

// MemberTemplateIDs lists the templates a membership is restricted to; an
// empty list means it may use every template.
func (s *Store) MemberTemplateIDs(ctx context.Context, tenantID, membershipID int64) ([]int64, error) {
	var ids []int64
	err := s.scoped(ctx, tenantID).Model(&MembershipTemplate{}).
		Where("membership_id = ?", membershipID).Order("template_id").Pluck("template_id", &ids).Error
	if err != nil {
		return nil, fmt.Errorf("list member templates: %w", err)
	}
	return ids, nil
}

// SetMemberTemplates replaces the templates a membership may order from. An
// empty list lifts the restriction: the member may use every template. Ids
// that are not templates of the tenant are refused beside the "templates"
// field and nothing changes.
func (s *Store) SetMemberTemplates(ctx context.Context, tenantID, membershipID int64, templateIDs []int64) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	ids := slices.Clone(templateIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	return s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.membershipByID(ctx, tenantID, membershipID); err != nil {
			return err
		}
		if err := tx.checkTemplateIDs(ctx, tenantID, ids); err != nil {
			return err
		}
		if err := tx.scoped(ctx, tenantID).Where("membership_id = ?", membershipID).Delete(&MembershipTemplate{}).Error; err != nil {
			return fmt.Errorf("clear member templates: %w", err)
		}
		if len(ids) == 0 {
			return nil
		}
		rows := make([]MembershipTemplate, len(ids))
		for i, id := range ids {
			rows[i] = MembershipTemplate{TenantID: tenantID, MembershipID: membershipID, TemplateID: id}
		}
		if err := tx.conn(ctx).Create(&rows).Error; err != nil {
			return fmt.Errorf("set member templates: %w", err)
		}
		return nil
	})
}

// membershipByID loads one membership of a tenant, or ErrNotFound.
func (s *Store) membershipByID(ctx context.Context, tenantID, membershipID int64) (*Membership, error) {
	var m Membership
	err := s.scoped(ctx, tenantID).Where("id = ?", membershipID).Take(&m).Error
	return &m, notFound(err, "load membership")
}
