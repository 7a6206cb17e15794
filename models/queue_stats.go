package models

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// QueueStats is where one background queue stands: how many jobs are due
// (pending, their time come, whether a worker holds them or not) and how
// long the longest-waiting of them has been due. A growing age says the
// workers are stuck or too few, whatever the count.
type QueueStats struct {
	Due          int64
	OldestDueAge time.Duration // zero when nothing is due
}

// Queues are the mail outbox and the webhook deliveries, as the metrics
// report them.
type Queues struct {
	Outbox   QueueStats
	Webhooks QueueStats
}

// QueueStatsAt reads both queues across every tenant, as their workers do
// (under the mail worker's and the webhook worker's scopes), from the
// partial indexes of pending jobs the workers poll.
func (s *Store) QueueStatsAt(ctx context.Context, now time.Time) (Queues, error) {
	now = now.UTC()
	var q Queues
	err := s.asMailer(ctx, func(ctx context.Context, tx *Store) error {
		return queueStats(tx.conn(ctx).Model(&OutboxEmail{}).Where("status = ?", EmailPending), now, &q.Outbox)
	})
	if err != nil {
		return q, fmt.Errorf("read the outbox's queue: %w", err)
	}
	err = s.asWebhookWorker(ctx, func(ctx context.Context, tx *Store) error {
		return queueStats(tx.conn(ctx).Model(&WebhookDelivery{}).Where("status = ?", DeliveryPending), now, &q.Webhooks)
	})
	if err != nil {
		return q, fmt.Errorf("read the webhook deliveries' queue: %w", err)
	}
	return q, nil
}

// queueStats counts pending's due jobs and finds the oldest due one. The
// oldest is read as a column, not as min(), so that SQLite returns it as a
// time too.
func queueStats(pending *gorm.DB, now time.Time, out *QueueStats) error {
	due := pending.Where("next_attempt_at <= ?", now)
	if err := due.Session(&gorm.Session{}).Count(&out.Due).Error; err != nil {
		return err
	}
	if out.Due == 0 {
		return nil
	}
	var oldest sql.Null[time.Time]
	if err := due.Session(&gorm.Session{}).Select("next_attempt_at").Order("next_attempt_at").Limit(1).Scan(&oldest).Error; err != nil {
		return err
	}
	if oldest.Valid && oldest.V.Before(now) {
		out.OldestDueAge = now.Sub(oldest.V)
	}
	return nil
}
