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
	Environment     OrderEnvironment
	CreatedByUserID *int64
	// CreatedByAPIKeyID is the key an order made through the API was made with.
	CreatedByAPIKeyID *int64
	CreatedAt         time.Time
	UpdatedAt         time.Time
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
		ApplicantEmail: n.ApplicantEmail, Reference: n.Reference, Status: OrderPending, Environment: OrderLive,
	}
	err := s.Tx(ctx, func(tx *Store) error {
		inserted, err := tx.insertOrder(ctx, o, membershipID)
		if err != nil {
			return err
		}
		if err := tx.recordOrderEvent(ctx, o, nil); err != nil {
			return err
		}
		if err := tx.audit(ctx, tenantID, AuditOrderCreated, AuditTarget{Type: "order", ID: o.ID, Label: o.Reference}, nil, map[string]any{"template_id": o.TemplateID, "applicant_email": o.ApplicantEmail, "reference": o.Reference}); err != nil {
			return err
		}
		// A company without an endpoint the event could reach has nothing
		// to emit, which the insert already found out.
		if inserted.webhookEndpoints {
			if err := tx.emitOrderEvent(ctx, o, EventOrderCreated); err != nil {
				return err
			}
		}
		if mail == nil || o.ApplicantEmail == "" {
			return nil
		}
		e := mail(o, inserted.template)
		e.TenantID, e.To = tenantID, o.ApplicantEmail
		return tx.EnqueueEmail(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// insertedOrder is what insertOrder learns beside the order's id.
type insertedOrder struct {
	template *Template // what the applicant's email needs of it
	// webhookEndpoints tells whether the company has an enabled webhook
	// endpoint the order's events could reach (emitWebhookEvent decides
	// which of them receive one).
	webhookEndpoints bool
}

// insertOrder writes o on behalf of a membership, in one statement (an
// order page has a budget of statements): the row is inserted only if the
// membership may order from o's template, its creator is the membership's
// user, and it returns what the applicant's email needs of the template
// (its branding company name and what it collects) and whether any webhook
// endpoint could want the order's event. Nothing inserted means the
// membership may not use the template, or is not the tenant's.
func (s *Store) insertOrder(ctx context.Context, o *Order, membershipID int64) (insertedOrder, error) {
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
		WebhookEndpoints    bool
	}
	err := s.conn(ctx).Raw(`INSERT INTO orders (tenant_id, template_id, applicant_name, applicant_email, reference, status, environment, created_by_user_id, created_at, updated_at)
		SELECT ?, ?, ?, ?, ?, ?, ?, m.user_id, ?, ? FROM (?) AS m
		RETURNING id, created_by_user_id, (?) AS branding_company_name, (?) AS collects, EXISTS (?) AS webhook_endpoints`,
		o.TenantID, o.TemplateID, o.ApplicantName, o.ApplicantEmail, o.Reference, o.Status, o.Environment, now, now, creator,
		ofTemplate("branding_company_name"), ofTemplate("collects"), s.webhookEndpointsFor(ctx, o.TenantID, webhookEnvironmentsOf(o))).
		Scan(&created).Error
	switch {
	case violatesUnique(err, "orders_tenant_reference_key"):
		return insertedOrder{}, errReferenceTaken
	case err != nil:
		return insertedOrder{}, fmt.Errorf("create order: %w", err)
	case len(created) == 0:
		return insertedOrder{}, s.whyNotOrderable(ctx, o.TenantID, membershipID)
	}
	c := created[0]
	o.ID, o.CreatedByUserID, o.CreatedAt, o.UpdatedAt = c.ID, &c.CreatedByUserID, now, now
	return insertedOrder{
		template:         &Template{ID: o.TemplateID, TenantID: o.TenantID, BrandingCompanyName: c.BrandingCompanyName, Collects: c.Collects},
		webhookEndpoints: c.WebhookEndpoints,
	}, nil
}

// OrderEnvironment tells live orders from test data: orders made with a
// sandbox API key are test orders, shown under the Test data switch and
// never billed.
type OrderEnvironment string

// The order environments.
const (
	OrderLive OrderEnvironment = "live"
	OrderTest OrderEnvironment = "test"
)

// nextStatuses is where an order may go from each status; completed and
// cancelled are final.
var nextStatuses = map[OrderStatus][]OrderStatus{
	OrderPending:    {OrderInProgress, OrderCancelled},
	OrderInProgress: {OrderCompleted, OrderCancelled},
}

// NextStatuses lists the statuses an order may move to from s.
func (s OrderStatus) NextStatuses() []OrderStatus { return nextStatuses[s] }

// CanMoveTo tells whether an order may go from s to next in one step.
func (s OrderStatus) CanMoveTo(next OrderStatus) bool {
	for _, n := range nextStatuses[s] {
		if n == next {
			return true
		}
	}
	return false
}

// PathTo is the steps from s to target (target last), or nil when target
// cannot be reached: pending to completed passes through in progress.
func (s OrderStatus) PathTo(target OrderStatus) []OrderStatus {
	if s.CanMoveTo(target) {
		return []OrderStatus{target}
	}
	for _, n := range nextStatuses[s] {
		if rest := n.PathTo(target); rest != nil {
			return append([]OrderStatus{n}, rest...)
		}
	}
	return nil
}

// ParseOrderStatus accepts only the known statuses.
func ParseOrderStatus(s string) (OrderStatus, error) {
	for _, st := range OrderStatuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", FieldErrors{"status": "Choose a status from the list."}
}

// OrderEvent is one status an order took, by whom and when.
type OrderEvent struct {
	ID          int64
	TenantID    int64
	OrderID     int64
	FromStatus  *OrderStatus // nil for the order's creation
	ToStatus    OrderStatus
	ActorUserID *int64
	APIKeyID    *int64
	ActorLabel  string
	CreatedAt   time.Time
}

// recordOrderEvent writes the order's step to its history, by the
// context's actor: a person, or an API key.
func (s *Store) recordOrderEvent(ctx context.Context, o *Order, from *OrderStatus) error {
	actor := ActorFrom(ctx)
	e := &OrderEvent{TenantID: o.TenantID, OrderID: o.ID, FromStatus: from, ToStatus: o.Status,
		ActorLabel: actor.Email, CreatedAt: s.db.NowFunc()}
	if actor.UserID > 0 {
		e.ActorUserID = &actor.UserID
	}
	if actor.APIKeyID > 0 {
		e.APIKeyID = &actor.APIKeyID
	}
	if err := s.conn(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("record order event: %w", err)
	}
	return nil
}

// ChangeOrderStatus moves an order of the tenant to its next status, by
// the context's actor, recording the step in the order's history and the
// audit log. A step the order cannot take (see NextStatuses) is
// ErrOrderTransition; another tenant's order is ErrNotFound.
func (s *Store) ChangeOrderStatus(ctx context.Context, tenantID, orderID int64, to OrderStatus) (*Order, error) {
	if _, err := ParseOrderStatus(string(to)); err != nil {
		return nil, err
	}
	var o Order
	err := s.Tx(ctx, func(tx *Store) error {
		if err := tx.forUpdate(tx.scoped(ctx, tenantID)).Where("id = ?", orderID).Take(&o).Error; err != nil {
			return notFound(err, "lock order")
		}
		from := o.Status
		if !from.CanMoveTo(to) {
			return ErrOrderTransition
		}
		now := tx.db.NowFunc()
		res := tx.scoped(ctx, tenantID).Model(&Order{}).Where("id = ? AND status = ?", orderID, from).
			Updates(map[string]any{"status": to, "updated_at": now})
		if err := changed(res, "change order status"); err != nil {
			return err
		}
		o.Status, o.UpdatedAt = to, now
		if err := tx.recordOrderEvent(ctx, &o, &from); err != nil {
			return err
		}
		if to == OrderCompleted {
			if err := tx.meterOrderCompleted(ctx, &o, now); err != nil {
				return err
			}
		}
		if err := tx.audit(ctx, tenantID, AuditOrderStatusChanged, o.auditTarget(),
			map[string]any{"status": from}, map[string]any{"status": to}); err != nil {
			return err
		}
		return tx.emitOrderStatusEvents(ctx, &o, from)
	})
	if err != nil {
		return nil, err
	}
	return &o, nil
}

// auditTarget names the order in the audit log by its reference, or its
// applicant when it has none.
func (o *Order) auditTarget() AuditTarget {
	label := o.Reference
	if label == "" {
		label = o.ApplicantName
	}
	return AuditTarget{Type: "order", ID: o.ID, Label: label}
}

// OrderEvents is an order's history, oldest first.
func (s *Store) OrderEvents(ctx context.Context, tenantID, orderID int64) ([]OrderEvent, error) {
	var out []OrderEvent
	err := s.scoped(ctx, tenantID).Where("order_id = ?", orderID).Order("id").Find(&out).Error
	if err != nil {
		return nil, fmt.Errorf("load order events: %w", err)
	}
	return out, nil
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
	APIKeyName       string // the key an order made through the API was made with
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
	Query       string           // part of the applicant's name or the reference, any case
	Environment OrderEnvironment // live orders unless test data is asked for
}

// ListOrders is one page of a tenant's orders, newest first, each with its
// template's and creator's names. The page is one query (plus one count)
// however many orders, templates and people there are.
func (s *Store) ListOrders(ctx context.Context, tenantID int64, f OrderFilter, page PageRequest) (Page[OrderListItem], error) {
	out := Page[OrderListItem]{PageRequest: page}
	if tenantID <= 0 {
		return out, ErrNoTenant
	}
	env := f.Environment
	if env != OrderTest {
		env = OrderLive
	}
	orders := s.scoped(ctx, tenantID).Model(&Order{}).Where("environment = ?", env)
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
			o.status, o.environment, o.created_by_user_id, o.created_by_api_key_id, o.created_at, o.updated_at,
			t.name AS template_name, u.first_name AS creator_first_name,
			u.last_name AS creator_last_name, u.email AS creator_email, k.name AS api_key_name`).
		Joins("JOIN (?) AS t ON t.id = o.template_id AND t.tenant_id = o.tenant_id", s.scoped(ctx, tenantID).Model(&Template{}).Select("id, tenant_id, name")).
		Joins("LEFT JOIN users AS u ON u.id = o.created_by_user_id").
		Joins("LEFT JOIN (?) AS k ON k.id = o.created_by_api_key_id", s.scoped(ctx, tenantID).Model(&APIKey{}).Select("id, name")).
		Order("o.created_at DESC, o.id DESC").
		Offset(page.Offset()).Limit(page.Size).
		Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list orders: %w", err)
	}
	return out, nil
}
