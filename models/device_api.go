package models

import (
	"context"
	"fmt"
	"strings"
)

// APIDevices is one page of the tenant's devices for the JSON API, newest
// first (by id), optionally narrowed to those whose identifier or model
// contains query in any case: one statement.
func (s *Store) APIDevices(ctx context.Context, tenantID int64, query string, page APIListRequest) (APIPage[Device], error) {
	if tenantID <= 0 {
		return APIPage[Device]{}, ErrNoTenant
	}
	q := s.scoped(ctx, tenantID).Model(&Device{})
	if typed := strings.TrimSpace(query); typed != "" {
		if err := s.planSearch(ctx); err != nil {
			return APIPage[Device]{}, err
		}
		q = s.containsAny(q, typed, "identifier", "model")
	}
	if page.After > 0 {
		q = q.Where("id < ?", page.After)
	}
	var rows []Device
	if err := q.Order("id DESC").Limit(page.limit() + 1).Find(&rows).Error; err != nil {
		return APIPage[Device]{}, fmt.Errorf("list devices: %w", err)
	}
	return trimPage(rows, page.limit()), nil
}
