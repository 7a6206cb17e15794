package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// ErrOrderNotTest refuses simulating a live order: only test orders, made
// with a sandbox key, can be moved through their statuses for trying an
// integration out.
var ErrOrderNotTest = errors.New("only test orders can be simulated")

// NewAPIOrder describes an order an API key creates.
type NewAPIOrder struct {
	NewOrder
	APIKeyID    int64
	Environment OrderEnvironment // the key's: test for a sandbox key, live for a production key
}

// CreateOrderByAPIKey creates a pending order of the tenant with one of its
// API keys, in the key's environment. A key acts as an Admin of its company
// with no list of templates would: any template of the company will do;
// another tenant's, or an unknown one, is refused beside template_id. The
// creation is recorded in the order's history and the audit log by the
// context's actor (the key), and the applicant's email, when there is one,
// goes through the outbox in the same transaction, as for an order made in
// the dashboard — for a live order only: a test order emails nobody.
func (s *Store) CreateOrderByAPIKey(ctx context.Context, tenantID int64, n NewAPIOrder, mail OrderMailFor) (*Order, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if n.Environment != OrderLive && n.Environment != OrderTest {
		return nil, fmt.Errorf("create order: unknown environment %q", n.Environment)
	}
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	now := s.db.NowFunc()
	o := &Order{
		TenantID: tenantID, TemplateID: n.TemplateID, ApplicantName: n.ApplicantName, ApplicantEmail: n.ApplicantEmail,
		Reference: n.Reference, Status: OrderPending, Environment: n.Environment, CreatedByAPIKeyID: &n.APIKeyID,
		CreatedAt: now, UpdatedAt: now,
	}
	err := s.Tx(ctx, func(tx *Store) error {
		var tpl Template
		if err := tx.scoped(ctx, tenantID).Where("id = ?", n.TemplateID).Take(&tpl).Error; err != nil {
			if errors.Is(err, gorm.ErrRecordNotFound) {
				return errTemplateNotAvailable
			}
			return fmt.Errorf("load template: %w", err)
		}
		if err := tx.conn(ctx).Create(o).Error; err != nil {
			if violatesUnique(err, "orders_tenant_reference_key") {
				return errReferenceTaken
			}
			return fmt.Errorf("create order: %w", err)
		}
		if err := tx.recordOrderEvent(ctx, o, nil); err != nil {
			return err
		}
		if err := tx.emitOrderEvent(ctx, o, EventOrderCreated); err != nil {
			return err
		}
		err := tx.audit(ctx, tenantID, AuditOrderCreated, o.auditTarget(), nil, map[string]any{
			"template_id": o.TemplateID, "applicant_email": o.ApplicantEmail, "reference": o.Reference, "environment": o.Environment})
		if err != nil {
			return err
		}
		// A test order never reaches a person: trying an integration out
		// must not email the applicants it names.
		if mail == nil || o.ApplicantEmail == "" || o.Environment == OrderTest {
			return nil
		}
		e := mail(o, &tpl)
		e.TenantID, e.To = tenantID, o.ApplicantEmail
		return tx.EnqueueEmail(ctx, e)
	})
	if err != nil {
		return nil, err
	}
	return o, nil
}

// APIOrderFilter narrows the API's list of orders. Environment is always
// set: a key sees only the orders of its own environment.
type APIOrderFilter struct {
	Environment   OrderEnvironment
	Status        OrderStatus // "" for any
	TemplateID    int64       // 0 for any
	CreatedAfter  *time.Time  // inclusive
	CreatedBefore *time.Time  // exclusive
}

// APIOrders is one page of the tenant's orders of one environment, newest
// first (by id), narrowed by the filter: one statement.
func (s *Store) APIOrders(ctx context.Context, tenantID int64, f APIOrderFilter, page APIListRequest) (APIPage[Order], error) {
	if tenantID <= 0 {
		return APIPage[Order]{}, ErrNoTenant
	}
	q := s.scoped(ctx, tenantID).Where("environment = ?", f.Environment)
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if f.TemplateID != 0 {
		q = q.Where("template_id = ?", f.TemplateID)
	}
	if f.CreatedAfter != nil {
		q = q.Where("created_at >= ?", f.CreatedAfter.UTC())
	}
	if f.CreatedBefore != nil {
		q = q.Where("created_at < ?", f.CreatedBefore.UTC())
	}
	if page.After > 0 {
		q = q.Where("id < ?", page.After)
	}
	var rows []Order
	if err := q.Order("id DESC").Limit(page.limit() + 1).Find(&rows).Error; err != nil {
		return APIPage[Order]{}, fmt.Errorf("list orders: %w", err)
	}
	return trimPage(rows, page.limit()), nil
}

// APIOrder is one order of the tenant in the environment; an order of
// another environment or tenant is ErrNotFound.
func (s *Store) APIOrder(ctx context.Context, tenantID int64, env OrderEnvironment, orderID int64) (*Order, error) {
	var o Order
	err := s.scoped(ctx, tenantID).Where("id = ? AND environment = ?", orderID, env).Take(&o).Error
	return &o, notFound(err, "load order")
}

// ChangeAPIOrderStatus moves an order of the tenant in the environment one
// step, as ChangeOrderStatus does; an order of another environment is
// ErrNotFound, as it is to the key's listing.
func (s *Store) ChangeAPIOrderStatus(ctx context.Context, tenantID int64, env OrderEnvironment, orderID int64, to OrderStatus) (*Order, error) {
	var o *Order
	err := s.Tx(ctx, func(tx *Store) error {
		if _, err := tx.APIOrder(ctx, tenantID, env, orderID); err != nil {
			return err
		}
		var err error
		o, err = tx.ChangeOrderStatus(ctx, tenantID, orderID, to)
		return err
	})
	return o, err
}

// SimulateOrder walks a test order of the tenant to target, one recorded
// step at a time (pending to completed passes through in progress), so an
// integration can be tried through the whole flow. A live order is
// ErrOrderNotTest and stays as it is; a target it cannot reach (its own
// status, or any after a final one) is ErrOrderTransition.
func (s *Store) SimulateOrder(ctx context.Context, tenantID, orderID int64, target OrderStatus) (*Order, error) {
	if _, err := ParseOrderStatus(string(target)); err != nil {
		return nil, err
	}
	var o *Order
	err := s.Tx(ctx, func(tx *Store) error {
		var current Order
		if err := tx.forUpdate(tx.scoped(ctx, tenantID)).Where("id = ?", orderID).Take(&current).Error; err != nil {
			return notFound(err, "lock order")
		}
		if current.Environment != OrderTest {
			return ErrOrderNotTest
		}
		steps := current.Status.PathTo(target)
		if steps == nil {
			return ErrOrderTransition
		}
		o = &current
		for _, step := range steps {
			var err error
			if o, err = tx.ChangeOrderStatus(ctx, tenantID, orderID, step); err != nil {
				return err
			}
		}
		return nil
	})
	return o, err
}
