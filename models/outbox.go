package models

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// Email statuses in the outbox.
const (
	EmailPending = "pending"
	EmailSent    = "sent"
	EmailFailed  = "failed" // gave up after too many attempts
)

// MaxEmailAttempts is how many times delivery is tried before a message is
// marked failed. With EmailRetryDelay's schedule the last attempt comes about
// 13 hours after the first, so an SMTP outage of an afternoon loses nothing.
const MaxEmailAttempts = 20

// maxLastErrorLen bounds last_error: SMTP servers can answer with whole
// paragraphs, and only the gist is useful to an operator.
const maxLastErrorLen = 1000

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
	TenantID int64 // the tenant the message is about; 0 for none, filed under the platform's tenant
	To       string
	Subject  string
	Body     string
}

// EnqueueEmail writes a message to the outbox. Called inside the transaction
// of the change that causes it, the message exists exactly when the change
// does; the mail worker delivers it later, retrying until it gets through.
//
// It is a plain INSERT, without the RETURNING a GORM Create adds: under
// row-level security a tenant may queue mail but not read the outbox back.
//
// Mail about no tenant (a password reset, an address change) is filed under
// the platform's tenant, the root of the tree, so that every message has a
// tenant, as distributing the outbox by tenant needs (docs/scaling.md). The
// root is found by the INSERT itself (the tree is readable by every scope,
// and the policy lets any scope file mail there); before it exists there is
// nowhere to file such mail: ErrNotFound.
func (s *Store) EnqueueEmail(ctx context.Context, e NewEmail) error {
	const insert = `INSERT INTO outbox_emails (tenant_id, to_address, subject, body_text, status, next_attempt_at, created_at, updated_at) `
	now := s.db.NowFunc()
	if e.TenantID != 0 {
		err := s.conn(ctx).Exec(insert+`VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			e.TenantID, e.To, e.Subject, e.Body, EmailPending, now, now, now).Error
		if err != nil {
			return fmt.Errorf("enqueue email: %w", err)
		}
		return nil
	}
	res := s.conn(ctx).Exec(insert+`SELECT id, ?, ?, ?, ?, ?, ?, ? FROM tenants WHERE parent_id IS NULL`,
		e.To, e.Subject, e.Body, EmailPending, now, now, now)
	switch {
	case res.Error != nil:
		return fmt.Errorf("enqueue email about no tenant: %w", res.Error)
	case res.RowsAffected == 0:
		return fmt.Errorf("enqueue email about no tenant: no platform tenant to file it under: %w", ErrNotFound)
	}
	return nil
}

// EmailRetryDelay is how long to wait after the attempt-th failed delivery
// (1-based) before trying again: 30s, 1m, 2m, 4m … doubling up to an hour.
// Doubling spares a struggling mail server; the cap keeps a long outage from
// delaying mail by more than an hour once the server is back.
func EmailRetryDelay(attempt int) time.Duration {
	const first, ceiling = 30 * time.Second, time.Hour
	if attempt < 1 {
		attempt = 1
	}
	delay := first
	for i := 1; i < attempt && delay < ceiling; i++ {
		delay *= 2
	}
	return min(delay, ceiling)
}

// The worker's methods below read and write the outbox under mailerScope:
// messages carry invitation links, so nothing else may read them all.

// asMailer runs fn under mailerScope. On SQLite, which has no row-level
// security, it runs fn as it is: a transaction there would take the one
// write lock on every poll of the worker.
func (s *Store) asMailer(ctx context.Context, fn func(ctx context.Context, tx *Store) error) error {
	if s.Dialect() != Postgres {
		return fn(ctx, s)
	}
	return s.Within(ctx, mailerScope, fn)
}

// ClaimDueEmails leases up to limit messages that are due, so this caller
// alone sends them until the lease ends. A worker that dies mid-send leaves
// its messages locked only until then; another worker picks them up after.
// The lease must outlast sending the whole batch.
func (s *Store) ClaimDueEmails(ctx context.Context, limit int, lease time.Duration) ([]OutboxEmail, error) {
	// The worker polls every second and there is usually nothing to send: a
	// plain read first spares the database a write transaction (on SQLite,
	// the one write lock) for each empty poll.
	var anyDue []int64
	err := s.asMailer(ctx, func(ctx context.Context, tx *Store) error {
		return tx.dueEmails(ctx, tx.db.NowFunc()).Limit(1).Pluck("id", &anyDue).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim due emails: %w", err)
	}
	if len(anyDue) == 0 {
		return nil, nil
	}
	var claimed []OutboxEmail
	err = s.Within(ctx, mailerScope, func(ctx context.Context, tx *Store) error {
		now := tx.db.NowFunc()
		due := tx.dueEmails(ctx, now).Limit(limit)
		if tx.Dialect() == Postgres {
			// Rows another worker is claiming right now are skipped, not
			// waited for; SQLite needs nothing here because its
			// transactions are IMMEDIATE and so run one at a time.
			due = due.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var ids []int64
		if err := due.Pluck("id", &ids).Error; err != nil {
			return err
		}
		if len(ids) == 0 {
			return nil
		}
		lockedUntil := now.Add(lease)
		if err := tx.conn(ctx).Model(&OutboxEmail{}).Where("id IN ?", ids).
			Updates(map[string]any{"locked_until": lockedUntil, "updated_at": now}).Error; err != nil {
			return err
		}
		return tx.conn(ctx).Where("id IN ?", ids).Order("next_attempt_at, id").Find(&claimed).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim due emails: %w", err)
	}
	return claimed, nil
}

// dueEmails selects the messages a worker may claim at now, oldest first.
func (s *Store) dueEmails(ctx context.Context, now time.Time) *gorm.DB {
	return s.conn(ctx).Model(&OutboxEmail{}).
		Where("status = ? AND next_attempt_at <= ? AND (locked_until IS NULL OR locked_until < ?)", EmailPending, now, now).
		Order("next_attempt_at, id")
}

// ReleaseEmail gives up the lease on a message that was claimed but not
// attempted (the worker is stopping), so it is sent without waiting for the
// lease to run out. It does not count as an attempt.
func (s *Store) ReleaseEmail(ctx context.Context, id int64) error {
	err := s.asMailer(ctx, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Model(&OutboxEmail{}).Where("id = ? AND status = ?", id, EmailPending).
			Updates(map[string]any{"locked_until": nil, "updated_at": tx.db.NowFunc()}).Error
	})
	if err != nil {
		return fmt.Errorf("release email %d: %w", id, err)
	}
	return nil
}

// MarkEmailSent records a delivery. Sent is final: the worker never claims
// the message again. The body goes in the same step — it holds invitation
// links, as good as passwords until used — and the recipient, subject and
// status stay as the record of what was sent.
func (s *Store) MarkEmailSent(ctx context.Context, id int64) error {
	now := s.db.NowFunc()
	err := s.asMailer(ctx, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Model(&OutboxEmail{}).Where("id = ? AND status = ?", id, EmailPending).
			Updates(map[string]any{
				"status":       EmailSent,
				"body_text":    "",
				"sent_at":      now,
				"attempts":     clause.Expr{SQL: "attempts + 1"},
				"locked_until": nil,
				"last_error":   "",
				"updated_at":   now,
			}).Error
	})
	if err != nil {
		return fmt.Errorf("mark email %d sent: %w", id, err)
	}
	return nil
}

// MarkEmailFailed records a failed delivery attempt: the message is tried
// again after retryIn (normally EmailRetryDelay of the attempt number), or,
// once it has had MaxEmailAttempts, given up on as failed. gaveUp tells which.
func (s *Store) MarkEmailFailed(ctx context.Context, id int64, reason string, retryIn time.Duration) (gaveUp bool, err error) {
	err = s.Within(ctx, mailerScope, func(ctx context.Context, tx *Store) error {
		var m OutboxEmail
		if err := tx.conn(ctx).Where("id = ? AND status = ?", id, EmailPending).Take(&m).Error; err != nil {
			return notFound(err, "pending email")
		}
		now := tx.db.NowFunc()
		attempts := m.Attempts + 1
		status := EmailPending
		if attempts >= MaxEmailAttempts {
			status, gaveUp = EmailFailed, true
		}
		return tx.conn(ctx).Model(&OutboxEmail{}).Where("id = ?", id).
			Updates(map[string]any{
				"status":          status,
				"attempts":        attempts,
				"next_attempt_at": now.Add(retryIn),
				"locked_until":    nil,
				"last_error":      truncateError(reason),
				"updated_at":      now,
			}).Error
	})
	if err != nil {
		return false, fmt.Errorf("mark email %d failed: %w", id, err)
	}
	return gaveUp, nil
}

// OutboxFor lists the messages ever queued for an address, oldest first, so
// tests and developers can see what someone was sent.
func (s *Store) OutboxFor(ctx context.Context, to string) ([]OutboxEmail, error) {
	var emails []OutboxEmail
	err := s.asMailer(ctx, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Where("lower(to_address) = ?", strings.ToLower(strings.TrimSpace(to))).
			Order("id").Find(&emails).Error
	})
	if err != nil {
		return nil, fmt.Errorf("outbox for %s: %w", to, err)
	}
	return emails, nil
}

// truncateError keeps the first maxLastErrorLen bytes of reason without
// cutting a UTF-8 character in half (Postgres refuses invalid UTF-8).
func truncateError(reason string) string {
	if len(reason) <= maxLastErrorLen {
		return reason
	}
	cut := maxLastErrorLen
	for cut > 0 && !utf8.RuneStart(reason[cut]) {
		cut--
	}
	return reason[:cut]
}
