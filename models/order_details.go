package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// OrderHistoryLimit is the most steps of an order's history its page shows:
// the latest ones. The statuses allow three steps (created, in progress,
// completed or cancelled), so only an order whose history was written some
// other way reaches it; the page says when it does.
const OrderHistoryLimit = 100

// OrderDetails is one order as its page shows it: the order with its
// template's and creator's names, the API key it was made with (if it was
// made through the API), and its history.
type OrderDetails struct {
	OrderListItem
	APIKeyName   string // "" when a person made the order
	APIKeyPrefix string
	APIKeyLast4  string
	// History is the order's latest steps (at most OrderHistoryLimit),
	// oldest first; HistoryCut tells whether older ones were left out.
	History    []OrderStep `gorm:"-"`
	HistoryCut bool        `gorm:"-"`
}

// MadeByAPIKey tells whether the order was made through the API.
func (d *OrderDetails) MadeByAPIKey() bool { return d.CreatedByAPIKeyID != nil }

// APIKeyMasked is all the page shows of the key the order was made with.
func (d *OrderDetails) APIKeyMasked() string {
	return APIKey{Prefix: d.APIKeyPrefix, Last4: d.APIKeyLast4}.Masked()
}

// OrderStep is one step of an order's history, with who took it: a person
// (by their current name), an API key (by its name), or what was recorded
// of them at the time.
type OrderStep struct {
	OrderEvent
	ActorFirstName string
	ActorLastName  string
	ActorEmail     string
	KeyName        string
	KeyPrefix      string
	KeyLast4       string
}

// Created tells whether the step is the order's creation.
func (e OrderStep) Created() bool { return e.FromStatus == nil }

// Who is who took the step, as people read it: the person's current name
// (or email), the API key's name and masked key, or the label recorded at
// the time when neither remains; "" when nothing was recorded.
func (e OrderStep) Who() string {
	if name := strings.TrimSpace(e.ActorFirstName + " " + e.ActorLastName); name != "" {
		return name
	}
	if e.ActorEmail != "" {
		return e.ActorEmail
	}
	if e.KeyPrefix != "" {
		return "API key “" + e.KeyName + "” (" + APIKey{Prefix: e.KeyPrefix, Last4: e.KeyLast4}.Masked() + ")"
	}
	return e.ActorLabel
}

// StepBy is who took a step of the order's history: as OrderStep.Who, or
// for a creation that recorded nobody (orders made before history named
// its actors), the order's creator.
func (d *OrderDetails) StepBy(e OrderStep) string {
	if who := e.Who(); who != "" || !e.Created() {
		return who
	}
	if d.MadeByAPIKey() && d.APIKeyPrefix != "" {
		return "API key “" + d.APIKeyName + "” (" + d.APIKeyMasked() + ")"
	}
	return d.CreatorName()
}

// OrderDetailsOf loads one order of the tenant for its page, in two
// statements whatever the length of its history: the order with its
// template, creator and API key, then its latest steps with who took
// them. Another tenant's order is ErrNotFound.
func (s *Store) OrderDetailsOf(ctx context.Context, tenantID, orderID int64) (*OrderDetails, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	var found []OrderDetails
	// The tenant scope applies inside the derived tables, where tenant_id
	// is not ambiguous; the joins also match on tenant.
	err := s.conn(ctx).Table("(?) AS o", s.scoped(ctx, tenantID).Model(&Order{}).Where("id = ?", orderID)).
		Select(`o.*, t.name AS template_name,
			u.first_name AS creator_first_name, u.last_name AS creator_last_name, u.email AS creator_email,
			k.name AS api_key_name, k.prefix AS api_key_prefix, k.last4 AS api_key_last4`).
		Joins("JOIN (?) AS t ON t.id = o.template_id AND t.tenant_id = o.tenant_id", s.scoped(ctx, tenantID).Model(&Template{}).Select("id, tenant_id, name")).
		Joins("LEFT JOIN users AS u ON u.id = o.created_by_user_id").
		Joins("LEFT JOIN (?) AS k ON k.id = o.created_by_api_key_id AND k.tenant_id = o.tenant_id",
			s.scoped(ctx, tenantID).Model(&APIKey{}).Select("id, tenant_id, name, prefix, last4")).
		Limit(1).Scan(&found).Error
	if err != nil {
		return nil, fmt.Errorf("load order: %w", err)
	}
	if len(found) == 0 {
		return nil, fmt.Errorf("load order: %w", ErrNotFound)
	}
	d := &found[0]
	var steps []OrderStep
	err = s.conn(ctx).Table("(?) AS e", s.scoped(ctx, tenantID).Model(&OrderEvent{}).Where("order_id = ?", orderID)).
		Select(`e.*, u.first_name AS actor_first_name, u.last_name AS actor_last_name, u.email AS actor_email,
			k.name AS key_name, k.prefix AS key_prefix, k.last4 AS key_last4`).
		Joins("LEFT JOIN users AS u ON u.id = e.actor_user_id").
		Joins("LEFT JOIN (?) AS k ON k.id = e.api_key_id AND k.tenant_id = e.tenant_id",
			s.scoped(ctx, tenantID).Model(&APIKey{}).Select("id, tenant_id, name, prefix, last4")).
		Order("e.id DESC").Limit(OrderHistoryLimit + 1).
		Scan(&steps).Error
	if err != nil {
		return nil, fmt.Errorf("load order history: %w", err)
	}
	if len(steps) > OrderHistoryLimit {
		steps, d.HistoryCut = steps[:OrderHistoryLimit], true
	}
	slices.Reverse(steps)
	d.History = steps
	return d, nil
}
