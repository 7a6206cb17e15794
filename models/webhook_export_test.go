package models

import "context"

// WebhookWorkerScopeForTest is the delivery worker's scope, for the
// row-level security tests.
func WebhookWorkerScopeForTest() Scope { return webhookWorkerScope }

// CountWebhookMessagesForTest counts every tenant's webhook events, as the
// tables' owner sees them.
func (s *Store) CountWebhookMessagesForTest(ctx context.Context) (n int64, err error) {
	err = s.conn(ctx).Model(&WebhookMessage{}).Count(&n).Error
	return n, err
}
