package models

import (
	"context"
	"fmt"
	"time"
)

// Email statuses in the outbox.
const (
	EmailPending = "pending"
	EmailSent    = "sent"
	EmailFailed  = "failed" // gave up after too many attempts
)

// OutboxEmail is one message waiting to be, or already, delivered.
type OutboxEmail struct {
	ID            int64
	TenantID      *int64
	ToAddress     string
	Subject       string
	BodyText      string
	Status        string
	Attempts      int
	NextAttemptAt time.Time
	LockedUntil   *time.Time
	LastError     string
	SentAt        *time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// NewEmail is a message to send.
type NewEmail struct {
	TenantID int64 // the tenant the message is about; 0 for none
	To       string
	Subject  string
	Body     string
}

// EnqueueEmail writes a message to the outbox. Called inside the transaction
// of the change that causes it, the message exists exactly when the change
// does; the mail worker delivers it later, retrying until it gets through.
func (s *Store) EnqueueEmail(ctx context.Context, e NewEmail) error {
	m := &OutboxEmail{ToAddress: e.To, Subject: e.Subject, BodyText: e.Body, Status: EmailPending, NextAttemptAt: s.db.NowFunc()}
	if e.TenantID != 0 {
		m.TenantID = &e.TenantID
	}
	if err := s.conn(ctx).Create(m).Error; err != nil {
		return fmt.Errorf("enqueue email: %w", err)
	}
	return nil
}
