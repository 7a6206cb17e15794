package models

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// OrderStatus is where an order is in its life.
type OrderStatus string

// The order statuses.
const (
	OrderPending    OrderStatus = "pending"
	OrderInProgress OrderStatus = "in_progress"
	OrderCompleted  OrderStatus = "completed"
	OrderCancelled  OrderStatus = "cancelled"
)

// OrderStatuses lists every status in the order an order passes through them.
var OrderStatuses = []OrderStatus{OrderPending, OrderInProgress, OrderCompleted, OrderCancelled}

// Label is the status as people read it.
func (s OrderStatus) Label() string {
	switch s {
	case OrderPending:
		return "Pending"
	case OrderInProgress:
		return "In progress"
	case OrderCompleted:
		return "Completed"
	case OrderCancelled:
		return "Cancelled"
	}
	return "Unknown"
}

// Order asks an applicant for the data its template collects.
type Order struct {
	ID              int64
	TenantID        int64
	TemplateID      int64
	ApplicantName   string
	ApplicantEmail  string
	Reference       string
	Status          OrderStatus
	CreatedByUserID *int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// NewOrder describes an order to create.
type NewOrder struct {
	TemplateID     int64
	ApplicantName  string
	ApplicantEmail string // optional: without it, nobody is emailed
	Reference      string // optional: the customer's own reference, unique within the company
}

// OrderMailFor writes the email that tells an order's applicant about it,
// in the name of the company its template brands. It is given the
// template's branding company name and what it collects.
type OrderMailFor func(o *Order, t *Template) NewEmail

func (n *NewOrder) validate() FieldErrors {
	errs := FieldErrors{}
	cleanLines(errs, map[string]*string{"applicant_name": &n.ApplicantName, "reference": &n.Reference})
	n.ApplicantEmail = NormalizeEmail(n.ApplicantEmail)
	if n.TemplateID <= 0 {
		errs["template_id"] = "Choose a template."
	}
	switch l := len([]rune(n.ApplicantName)); {
	case l == 0:
		errs["applicant_name"] = "Enter the applicant's name."
	case l > 200:
		errs["applicant_name"] = "Use at most 200 characters."
	}
	if n.ApplicantEmail != "" {
		if msg := ValidateEmail(n.ApplicantEmail); msg != "" {
			errs["applicant_email"] = msg
		}
	}
	if len([]rune(n.Reference)) > 100 {
		errs["reference"] = "Use at most 100 characters."
	}
	return errs
}

// whyNotOrderable tells a missing membership from a template it may not use.
func (s *Store) whyNotOrderable(ctx context.Context, tenantID, membershipID int64) error {
	if _, err := s.membershipByID(ctx, tenantID, membershipID); err != nil {
		return err
	}
	return errTemplateNotAvailable
}

// errTemplateNotAvailable is shown beside the template field when a member
// picks a template they may not use, or one of another tenant.
var errTemplateNotAvailable = FieldErrors{"template_id": "Choose one of the templates available to you."}

// errReferenceTaken is shown beside the reference of an order whose
// reference another order of the company has (orders_tenant_reference_key).
var errReferenceTaken = FieldErrors{"reference": "Another order already has this reference. Use a different one."}

// CreateOrder creates a pending order on behalf of a membership of the
// tenant. The template must be one the membership may order from (see
// AvailableTemplates); any other — restricted, unknown or another tenant's —
// is refused beside the template field and nothing is written. A reference
// another order of the company has is refused beside the reference.
//
// An order with an applicant email sends the applicant mail's email through
// the outbox, in the same transaction: it exists exactly when the order
// does. A nil mail sends nothing (the demo's orders, made long ago).
func (s *Store) CreateOrder(ctx context.Context, tenantID, membershipID int64, n NewOrder, mail OrderMailFor) (*Order, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	o := &Order{
		TenantID: tenantID, TemplateID: n.TemplateID, ApplicantName: n.ApplicantName,
		ApplicantEmail: n.ApplicantEmail, Reference: n.Reference, Status: OrderPending,
	}
	err := s.Tx(ctx, func(tx *Store) error {
		tpl, err := tx.insertOrder(ctx, o, membershipID)
		if err != nil {
			return err
		}
		if err := tx.audit(ctx, tenantID, AuditOrderCreated, AuditTarget{Type: "order", ID: o.ID, Label: o.Reference}, nil, map[string]any{"template_id": o.TemplateID, "applicant_email": o.ApplicantEmail, "reference": o.Reference}); err != nil {
			return err
		}
		if mail == nil || o.ApplicantEmail == "" {
			return nil
		}
		e := mail(o, tpl)
		e.TenantID, e.To = tenantID, o.ApplicantEmail
		return tx.EnqueueEmail(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// insertOrder writes o on behalf of a membership, in one statement (an
// order page has a budget of statements): the row is inserted only if the
// membership may order from o's template, its creator is the membership's
// user, and it returns what the applicant's email needs of the template
// (its branding company name and what it collects). Nothing inserted means
// the membership may not use the template, or is not the tenant's.
func (s *Store) insertOrder(ctx context.Context, o *Order, membershipID int64) (*Template, error) {
	cond, args := s.availableTo(ctx, o.TenantID, membershipID)
	usable := s.scoped(ctx, o.TenantID).Model(&Template{}).Select("1").Where("id = ?", o.TemplateID).Where(cond, args...)
	creator := s.scoped(ctx, o.TenantID).Model(&Membership{}).Select("user_id").Where("id = ? AND EXISTS (?)", membershipID, usable)
	ofTemplate := func(column string) *gorm.DB {
		return s.scoped(ctx, o.TenantID).Model(&Template{}).Select(column).Where("id = orders.template_id")
	}
	now := s.db.NowFunc()
	var created []struct {
		ID                  int64
		CreatedByUserID     int64
		BrandingCompanyName string
		Collects            string
	}
	err := s.conn(ctx).Raw(`INSERT INTO orders (tenant_id, template_id, applicant_name, applicant_email, reference, status, created_by_user_id, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, ?, m.user_id, ?, ? FROM (?) AS m
		RETURNING id, created_by_user_id, (?) AS branding_company_name, (?) AS collects`,
		o.TenantID, o.TemplateID, o.ApplicantName, o.ApplicantEmail, o.Reference, o.Status, now, now, creator,
		ofTemplate("branding_company_name"), ofTemplate("collects")).Scan(&created).Error
	switch {
	case violatesUnique(err, "orders_tenant_reference_key"):
		return nil, errReferenceTaken
	case err != nil:
		return nil, fmt.Errorf("create order: %w", err)
	case len(created) == 0:
		return nil, s.whyNotOrderable(ctx, o.TenantID, membershipID)
	}
	c := created[0]
	o.ID, o.CreatedByUserID, o.CreatedAt, o.UpdatedAt = c.ID, &c.CreatedByUserID, now, now
	return &Template{ID: o.TemplateID, TenantID: o.TenantID, BrandingCompanyName: c.BrandingCompanyName, Collects: c.Collects}, nil
}

// SetOrderStatus moves an order of the tenant to another status.
func (s *Store) SetOrderStatus(ctx context.Context, tenantID, orderID int64, status OrderStatus) error {
	known := false
	for _, st := range OrderStatuses {
		known = known || st == status
	}
	if !known {
		return FieldErrors{"status": "Choose a status from the list."}
	}
	res := s.scoped(ctx, tenantID).Model(&Order{}).Where("id = ?", orderID).
		Updates(map[string]any{"status": status, "updated_at": s.db.NowFunc()})
	if res.Error != nil {
		return fmt.Errorf("set order status: %w", res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("set order status: %w", ErrNotFound)
	}
	return nil
}

// OrderByReference finds a tenant's order by its reference, or ErrNotFound.
func (s *Store) OrderByReference(ctx context.Context, tenantID int64, reference string) (*Order, error) {
	var o Order
	err := s.scoped(ctx, tenantID).Where("reference = ?", strings.TrimSpace(reference)).Order("id").Take(&o).Error
	return &o, notFound(err, "load order")
}

// OrderListItem is one row of the orders list: the order with its
// template's name and the name of the person who created it.
type OrderListItem struct {
	Order
	TemplateName     string
	CreatorFirstName string
	CreatorLastName  string
	CreatorEmail     string
}

// CreatorName is who created the order, as the interface addresses them;
// empty when that person no longer exists.
func (o OrderListItem) CreatorName() string {
	if name := strings.TrimSpace(o.CreatorFirstName + " " + o.CreatorLastName); name != "" {
		return name
	}
	return o.CreatorEmail
}

// OrderFilter narrows the orders list.
type OrderFilter struct {
	Query string // part of the applicant's name or the reference, any case
}

// ListOrders is one page of a tenant's orders, newest first, each with its
// template's and creator's names. The page is one query (plus one count)
// however many orders, templates and people there are.
func (s *Store) ListOrders(ctx context.Context, tenantID int64, f OrderFilter, page PageRequest) (Page[OrderListItem], error) {
	out := Page[OrderListItem]{PageRequest: page}
	if tenantID <= 0 {
		return out, ErrNoTenant
	}
	orders := s.scoped(ctx, tenantID).Model(&Order{})
	if q := strings.TrimSpace(f.Query); q != "" {
		if err := s.planSearch(ctx); err != nil {
			return out, err
		}
		orders = s.containsAny(orders, q, "applicant_name", "reference")
	}
	if err := countCapped(s.conn(ctx), orders.Session(&gorm.Session{}), &out); err != nil {
		return out, fmt.Errorf("count orders: %w", err)
	}
	// The tenant scope applies inside the derived tables, where tenant_id
	// is not ambiguous; the template join also matches on tenant.
	err := s.conn(ctx).Table("(?) AS o", orders.Session(&gorm.Session{}).Select("*")).
		Select(`o.id, o.tenant_id, o.template_id, o.applicant_name, o.applicant_email, o.reference,
			o.status, o.created_by_user_id, o.created_at, o.updated_at,
			t.name AS template_name, u.first_name AS creator_first_name,
			u.last_name AS creator_last_name, u.email AS creator_email`).
		Joins("JOIN (?) AS t ON t.id = o.template_id AND t.tenant_id = o.tenant_id", s.scoped(ctx, tenantID).Model(&Template{}).Select("id, tenant_id, name")).
		Joins("LEFT JOIN users AS u ON u.id = o.created_by_user_id").
		Order("o.created_at DESC, o.id DESC").
		Offset(page.Offset()).Limit(page.Size).
		Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list orders: %w", err)
	}
	return out, nil
}
