package models

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
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
	// Category decides which order price of the company's billing plan
	// applies to the template's orders.
	Category        TemplateCategory
	CreatedByUserID *int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
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

// NewTemplate describes a template to create, or what UpdateTemplate makes
// an existing one.
type NewTemplate struct {
	Name                string
	BrandingCompanyName string
	BrandColor          string   // #rrggbb in any case; empty means DefaultBrandColor
	Collects            []string // OrderData keys
	// Category is standard or premium; empty means standard.
	Category TemplateCategory
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
	category, err := ParseTemplateCategory(string(n.Category))
	if err != nil {
		errs["category"] = "Choose a category from the list."
	}
	n.Category = category
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
		BrandColor: n.BrandColor, Collects: strings.Join(n.Collects, ","), Category: n.Category,
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
		return tx.audit(ctx, tenantID, AuditTemplateCreated, AuditTarget{Type: "template", ID: t.ID, Label: t.Name}, nil, map[string]any{"name": t.Name, "collects": t.Collects, "category": string(t.Category)})
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

// TemplateUse is what keeps a template from being deleted: the orders made
// from it, which keep the template they came from, and the people for whom
// it is the only template they may order from — members whose list holds
// it alone, and pending invitations that would give such a list. Deleting
// it would leave those lists empty, and an empty list means every template.
//
// Orders counts live orders only, as every count people read does; test
// orders (made with sandbox API keys) keep their template all the same.
type TemplateUse struct {
	Orders       int64 // live orders, counted up to CountCap
	OrdersCapped bool  // more than CountCap live orders
	TestOrders   bool  // test orders were made from it
	OnlyChoice   int64 // members and pending invitations whose only template it is
}

// Deletable tells whether nothing keeps the template.
func (u TemplateUse) Deletable() bool { return u.Orders == 0 && !u.TestOrders && u.OnlyChoice == 0 }

// TemplateDetails is a template with who created it and what uses it.
type TemplateDetails struct {
	Template
	CreatorFirstName string
	CreatorLastName  string
	CreatorEmail     string // "" when the creator's account is gone or unknown
	TemplateUse
}

// CreatorName is the creator's name as people read it, or "".
func (d *TemplateDetails) CreatorName() string {
	return strings.TrimSpace(d.CreatorFirstName + " " + d.CreatorLastName)
}

// TemplateByID loads a tenant's template with its creator and what uses it,
// in two statements; a template of another tenant is ErrNotFound.
func (s *Store) TemplateByID(ctx context.Context, tenantID, id int64) (*TemplateDetails, error) {
	var d TemplateDetails
	only, args := s.onlyChoice(ctx, tenantID, id)
	err := s.scoped(ctx, tenantID).Model(&Template{}).
		Select("templates.*, u.first_name AS creator_first_name, u.last_name AS creator_last_name, u.email AS creator_email, "+only+" AS only_choice", args...).
		Joins("LEFT JOIN users AS u ON u.id = templates.created_by_user_id").
		Where("templates.id = ?", id).Take(&d).Error
	if err != nil {
		return nil, notFound(err, "load template")
	}
	if err := s.countOrdersOf(ctx, tenantID, id, &d.TemplateUse); err != nil {
		return nil, err
	}
	return &d, nil
}

// countOrdersOf counts, up to CountCap, the live orders made from a
// template, and tells whether test orders were, in one statement.
func (s *Store) countOrdersOf(ctx context.Context, tenantID, templateID int64, use *TemplateUse) error {
	ofTemplate := func(env OrderEnvironment) *gorm.DB {
		return s.scoped(ctx, tenantID).Model(&Order{}).Select("1").Where("template_id = ? AND environment = ?", templateID, env)
	}
	live := ofTemplate(OrderLive).Limit(CountCap + 1)
	if live.Error != nil { // e.g. ErrNoTenant, which a subquery would drop
		return live.Error
	}
	var counted struct {
		Live int64
		Test int64
	}
	err := s.conn(ctx).Raw("SELECT (SELECT COUNT(*) FROM (?) AS counted) AS live, CASE WHEN EXISTS (?) THEN 1 ELSE 0 END AS test",
		live, ofTemplate(OrderTest)).Scan(&counted).Error
	if err != nil {
		return fmt.Errorf("count the template's orders: %w", err)
	}
	use.Orders, use.OrdersCapped, use.TestOrders = min(counted.Live, CountCap), counted.Live > CountCap, counted.Test > 0
	return nil
}

// onlyChoice is an SQL expression, with its arguments, counting the members
// of the tenant whose list of templates holds templateID alone, and its
// pending invitations that would give such a list (their template_ids are
// written by joinIDs, so a list of one is the id alone).
func (s *Store) onlyChoice(ctx context.Context, tenantID, templateID int64) (string, []any) {
	members := s.scoped(ctx, tenantID).Table("membership_templates AS mt").Select("count(*)").
		Where("mt.template_id = ?", templateID).
		Where("NOT EXISTS (SELECT 1 FROM membership_templates AS other WHERE other.tenant_id = mt.tenant_id" +
			" AND other.membership_id = mt.membership_id AND other.template_id <> mt.template_id)")
	invited := s.scoped(ctx, tenantID).Table("invitations").Select("count(*)").
		Where("status = ? AND template_ids = ?", InvitationPending, strconv.FormatInt(templateID, 10))
	return "((?) + (?))", []any{members, invited}
}

// UpdateTemplate changes a tenant's template: its name, branding and the
// data it collects, checked as at creation; a name the tenant already uses,
// in any case, is reported beside the name field (the unique index decides).
// Only what changed is written and audited; a template of another tenant is
// ErrNotFound.
func (s *Store) UpdateTemplate(ctx context.Context, tenantID, id int64, n NewTemplate) (*Template, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	var t Template
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.scoped(ctx, tenantID).Where("id = ?", id).Take(&t).Error; err != nil {
			return notFound(err, "load template")
		}
		before, after, changes := map[string]any{}, map[string]any{}, map[string]any{}
		for _, f := range []struct {
			column string
			field  *string
			value  string
		}{
			{"name", &t.Name, n.Name},
			{"branding_company_name", &t.BrandingCompanyName, n.BrandingCompanyName},
			{"brand_color", &t.BrandColor, n.BrandColor},
			{"collects", &t.Collects, strings.Join(n.Collects, ",")},
			{"category", (*string)(&t.Category), string(n.Category)},
		} {
			if *f.field != f.value {
				before[f.column], after[f.column], changes[f.column] = *f.field, f.value, f.value
				*f.field = f.value
			}
		}
		if len(changes) == 0 {
			return nil
		}
		t.UpdatedAt = tx.db.NowFunc()
		changes["updated_at"] = t.UpdatedAt
		res := tx.scoped(ctx, tenantID).Model(&Template{}).Where("id = ?", id).Updates(changes)
		if violatesUnique(res.Error, "templates_tenant_name_key") {
			return FieldErrors{"name": "A template with this name already exists. Choose another name."}
		}
		if res.Error != nil {
			return fmt.Errorf("update template: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			return fmt.Errorf("update template: %w", ErrNotFound) // deleted meanwhile
		}
		return tx.audit(ctx, tenantID, AuditTemplateUpdated, AuditTarget{Type: "template", ID: t.ID, Label: t.Name}, before, after)
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// TemplateInUseError refuses to delete a template that orders were made
// from, or that is the only template someone may order from. It is
// ErrTemplateInUse to errors.Is; Use says how many of each.
type TemplateInUseError struct {
	Name string
	Use  TemplateUse
}

func (e *TemplateInUseError) Error() string {
	return fmt.Sprintf("delete template %q (%d orders, only choice of %d): %v", e.Name, e.Use.Orders, e.Use.OnlyChoice, ErrTemplateInUse)
}

// Is makes the error ErrTemplateInUse.
func (e *TemplateInUseError) Is(target error) bool { return target == ErrTemplateInUse }

// DeleteTemplate deletes a tenant's template that nothing keeps (see
// TemplateUse), and in the same transaction takes it off every member's
// list of available templates and every pending invitation's; a template
// that is kept is a *TemplateInUseError and nothing changes. On Postgres
// the template's row is locked first, so that nothing naming it can slip in
// between the check and the delete: orders and members' lists lock it
// through their foreign keys, invitations (whose list is text) through
// checkTemplateIDs. A template of another tenant is ErrNotFound.
func (s *Store) DeleteTemplate(ctx context.Context, tenantID, id int64) (*Template, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	var t Template
	err := s.Tx(ctx, func(tx *Store) error {
		// Two deletes at once could each see the other template still on a
		// member's list and empty it between them, which would mean "every
		// template": one tenant's deletes take turns. (SQLite writes one
		// transaction at a time anyway.)
		if err := tx.lockTenantFor(ctx, lockTemplateDeletes, tenantID); err != nil {
			return err
		}
		q := tx.scoped(ctx, tenantID).Where("id = ?", id)
		if tx.Dialect() == Postgres {
			q = q.Clauses(clause.Locking{Strength: "UPDATE"})
		}
		if err := q.Take(&t).Error; err != nil {
			return notFound(err, "load template")
		}
		var use TemplateUse
		only, args := tx.onlyChoice(ctx, tenantID, id)
		if err := tx.conn(ctx).Raw("SELECT "+only, args...).Scan(&use.OnlyChoice).Error; err != nil {
			return fmt.Errorf("count who may order only from the template: %w", err)
		}
		if err := tx.countOrdersOf(ctx, tenantID, id, &use); err != nil {
			return err
		}
		if !use.Deletable() {
			return &TemplateInUseError{Name: t.Name, Use: use}
		}
		unlisted := tx.scoped(ctx, tenantID).Where("template_id = ?", id).Delete(&MembershipTemplate{})
		if unlisted.Error != nil {
			return fmt.Errorf("take the template off members' lists: %w", unlisted.Error)
		}
		invited, err := tx.dropFromInvitations(ctx, tenantID, id)
		if err != nil {
			return err
		}
		if err := tx.scoped(ctx, tenantID).Where("id = ?", id).Delete(&Template{}).Error; err != nil {
			return fmt.Errorf("delete template: %w", err)
		}
		return tx.audit(ctx, tenantID, AuditTemplateDeleted, AuditTarget{Type: "template", ID: t.ID, Label: t.Name},
			map[string]any{"name": t.Name, "branding_company_name": t.BrandingCompanyName, "brand_color": t.BrandColor, "collects": t.Collects,
				"on_members_lists": unlisted.RowsAffected, "on_invitations": invited}, nil)
	})
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// dropFromInvitations takes a template off the lists of the tenant's
// pending invitations and says how many it was on.
func (s *Store) dropFromInvitations(ctx context.Context, tenantID, templateID int64) (int, error) {
	var invs []Invitation
	err := s.scoped(ctx, tenantID).Select("id", "template_ids").
		Where("status = ? AND ',' || template_ids || ',' LIKE ?", InvitationPending, "%,"+strconv.FormatInt(templateID, 10)+",%").
		Find(&invs).Error
	if err != nil {
		return 0, fmt.Errorf("find invitations listing the template: %w", err)
	}
	for _, inv := range invs {
		ids := slices.DeleteFunc(splitIDs(inv.TemplateIDs), func(id int64) bool { return id == templateID })
		err := s.scoped(ctx, tenantID).Model(&Invitation{}).Where("id = ?", inv.ID).
			UpdateColumn("template_ids", joinIDs(ids)).Error
		if err != nil {
			return 0, fmt.Errorf("take the template off an invitation: %w", err)
		}
	}
	return len(invs), nil
}

// lockTemplates makes q, a query of templates, hold them until the
// transaction ends (Postgres: FOR KEY SHARE, which waits for
// DeleteTemplate's lock and which it waits for), so a template being
// deleted cannot be named meanwhile. SQLite runs one writing transaction at
// a time already.
func (s *Store) lockTemplates(q *gorm.DB) *gorm.DB {
	if s.Dialect() != Postgres {
		return q
	}
	return q.Clauses(clause.Locking{Strength: "KEY SHARE"})
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
