package models

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// The delivery worker's methods. They run under webhookWorkerScope, which
// on PostgreSQL sees the webhook tables of every tenant and nothing else of
// theirs (migrations/postgres/00024): the worker never reads an order, a
// device or a person, only the bodies shaped when the events happened.

// WebhookRetrySchedule is the wait before each retry after a failed
// attempt, as the Standard Webhooks specification suggests: the first
// attempt is immediate, then 5 seconds, 5 minutes, 30 minutes, 2, 5, 10,
// 14, 20 and 24 hours; after the last the delivery has failed.
var WebhookRetrySchedule = []time.Duration{
	5 * time.Second, 5 * time.Minute, 30 * time.Minute, 2 * time.Hour, 5 * time.Hour,
	10 * time.Hour, 14 * time.Hour, 20 * time.Hour, 24 * time.Hour,
}

// WebhookFailingLimit is how long an endpoint may fail without a single
// success before it is disabled and its company's Admins are emailed.
const WebhookFailingLimit = 5 * 24 * time.Hour

// WebhookLogRetention is how long attempts (and finished events) are kept.
const WebhookLogRetention = 30 * 24 * time.Hour

// WebhookJob is a claimed delivery and what sending it needs.
type WebhookJob struct {
	DeliveryID  int64
	TenantID    int64
	EndpointID  int64
	URL         string
	MsgID       string // webhook-id
	EventType   string
	Body        string
	Attempts    int      // made before this one
	Secrets     []string // the signing secrets in the clear, newest first
	ClaimedBy   string
	Environment WebhookEnvironment
}

// asWebhookWorker runs fn under webhookWorkerScope. On SQLite, without
// row-level security, reads run as they are: a transaction there would take
// the one write lock on every poll.
func (s *Store) asWebhookWorker(ctx context.Context, fn func(ctx context.Context, tx *Store) error) error {
	if s.Dialect() != Postgres {
		return fn(ctx, s)
	}
	return s.Within(ctx, webhookWorkerScope, fn)
}

// ClaimDueWebhookDeliveries leases up to limit due deliveries to worker
// until lease ends, at most perEndpoint in flight per endpoint counting
// those other workers hold, so one slow endpoint cannot take every slot.
// On PostgreSQL rows another worker is claiming are skipped (FOR UPDATE
// SKIP LOCKED), so no delivery is sent by two workers at once; a worker
// that dies mid-send lets its lease lapse and the delivery is sent again
// (at least once, with the same webhook-id). now is the worker's clock.
func (s *Store) ClaimDueWebhookDeliveries(ctx context.Context, worker string, now time.Time, limit, perEndpoint int, lease time.Duration) ([]WebhookJob, error) {
	if limit <= 0 {
		return nil, nil
	}
	var anyDue []int64
	err := s.asWebhookWorker(ctx, func(ctx context.Context, tx *Store) error {
		return tx.dueDeliveries(ctx, now).Limit(1).Pluck("id", &anyDue).Error
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	if len(anyDue) == 0 {
		return nil, nil
	}
	var jobs []WebhookJob
	err = s.Within(ctx, webhookWorkerScope, func(ctx context.Context, tx *Store) error {
		jobs = jobs[:0]
		// Endpoints that already hold their share of slots are left out in
		// the query itself: read first and skipped afterwards, one slow
		// endpoint's backlog would fill every candidate and starve the rest.
		saturated := tx.conn(ctx).Model(&WebhookDelivery{}).Select("endpoint_id").
			Where("status = ? AND claimed_until >= ?", DeliveryPending, now).
			Group("endpoint_id").Having("count(*) >= ?", perEndpoint)
		due := tx.dueDeliveries(ctx, now).Where("endpoint_id NOT IN (?)", saturated).Limit(limit * 4)
		if tx.Dialect() == Postgres {
			due = due.Clauses(clause.Locking{Strength: "UPDATE", Options: "SKIP LOCKED"})
		}
		var candidates []struct{ ID, EndpointID int64 }
		if err := due.Select("id, endpoint_id").Scan(&candidates).Error; err != nil {
			return err
		}
		if len(candidates) == 0 {
			return nil
		}
		endpointIDs := make([]int64, 0, len(candidates))
		for _, c := range candidates {
			endpointIDs = append(endpointIDs, c.EndpointID)
		}
		var busy []struct {
			EndpointID int64
			N          int
		}
		if err := tx.conn(ctx).Model(&WebhookDelivery{}).Select("endpoint_id, count(*) AS n").
			Where("status = ? AND claimed_until >= ? AND endpoint_id IN ?", DeliveryPending, now, endpointIDs).
			Group("endpoint_id").Scan(&busy).Error; err != nil {
			return err
		}
		inFlight := map[int64]int{}
		for _, b := range busy {
			inFlight[b.EndpointID] = b.N
		}
		var picked []int64
		for _, c := range candidates {
			if len(picked) < limit && inFlight[c.EndpointID] < perEndpoint {
				picked = append(picked, c.ID)
				inFlight[c.EndpointID]++
			}
		}
		if len(picked) == 0 {
			return nil
		}
		if err := tx.conn(ctx).Model(&WebhookDelivery{}).Where("id IN ?", picked).
			Updates(map[string]any{"claimed_until": now.Add(lease), "claimed_by": worker, "updated_at": now}).Error; err != nil {
			return err
		}
		return tx.loadJobs(ctx, picked, worker, now, &jobs)
	})
	if err != nil {
		return nil, fmt.Errorf("claim webhook deliveries: %w", err)
	}
	return jobs, nil
}

// dueDeliveries selects the deliveries a worker may claim at now, in the
// order they fell due (webhook_deliveries_due_idx).
func (s *Store) dueDeliveries(ctx context.Context, now time.Time) *gorm.DB {
	return s.conn(ctx).Model(&WebhookDelivery{}).
		Where("status = ? AND next_attempt_at <= ? AND (claimed_until IS NULL OR claimed_until < ?)", DeliveryPending, now, now).
		Order("next_attempt_at, id")
}

// loadJobs reads what sending the claimed deliveries needs and opens their
// endpoints' secrets.
func (s *Store) loadJobs(ctx context.Context, ids []int64, worker string, now time.Time, jobs *[]WebhookJob) error {
	var rows []struct {
		WebhookDelivery
		MsgID string
	}
	if err := s.conn(ctx).Table("webhook_deliveries AS d").Select("d.*, m.msg_id").
		Joins("JOIN webhook_messages AS m ON m.id = d.message_id").Where("d.id IN ?", ids).
		Order("d.next_attempt_at, d.id").Scan(&rows).Error; err != nil {
		return err
	}
	endpointIDs := make([]int64, 0, len(rows))
	for _, r := range rows {
		endpointIDs = append(endpointIDs, r.EndpointID)
	}
	var endpoints []WebhookEndpoint
	if err := s.conn(ctx).Where("id IN ?", endpointIDs).Find(&endpoints).Error; err != nil {
		return err
	}
	byID := map[int64]*WebhookEndpoint{}
	for i := range endpoints {
		byID[endpoints[i].ID] = &endpoints[i]
	}
	// An endpoint whose secret does not open (the server's key changed)
	// keeps its deliveries leased, and so out of the way until the lease
	// lapses, while the others go out: failing the claim instead would
	// stop every company's webhooks behind it.
	for _, r := range rows {
		e := byID[r.EndpointID]
		if e == nil || !e.Enabled {
			continue // disabled since it was queued: disabling marked it
		}
		secrets, err := s.openWebhookSecrets(e, now)
		if err != nil {
			continue
		}
		*jobs = append(*jobs, WebhookJob{DeliveryID: r.ID, TenantID: r.TenantID, EndpointID: r.EndpointID, URL: e.URL,
			MsgID: r.MsgID, EventType: r.EventType, Body: r.Body, Attempts: r.Attempts, Secrets: secrets.Signing(),
			ClaimedBy: worker, Environment: e.Environment})
	}
	return nil
}

// ReleaseWebhookDelivery gives back a claimed delivery that was not
// attempted (the worker is stopping), so it goes out without waiting for
// the lease to lapse. It does not count as an attempt.
func (s *Store) ReleaseWebhookDelivery(ctx context.Context, job WebhookJob) error {
	err := s.Within(ctx, webhookWorkerScope, func(ctx context.Context, tx *Store) error {
		return tx.conn(ctx).Model(&WebhookDelivery{}).Where("id = ? AND claimed_by = ? AND status = ?", job.DeliveryID, job.ClaimedBy, DeliveryPending).
			Updates(map[string]any{"claimed_until": nil, "claimed_by": ""}).Error
	})
	if err != nil {
		return fmt.Errorf("release webhook delivery %d: %w", job.DeliveryID, err)
	}
	return nil
}

// WebhookAttemptResult is what one attempt did, as the worker saw it.
type WebhookAttemptResult struct {
	At         time.Time
	Duration   time.Duration
	StatusCode int // 0 when no answer came
	// RequestHeaders and RequestBody are what was sent.
	RequestHeaders map[string]string
	RequestBody    string
	ResponseBody   string // at most its first 4 KB
	Error          string // why it failed, in words; "" on success
	Succeeded      bool
	// Gone is a 410 answer: the receiver asks never to be sent more, so
	// the endpoint is disabled.
	Gone bool
	// RetryIn is the wait before the next attempt after a failure;
	// negative gives up, and the delivery has failed.
	RetryIn time.Duration
}

// WebhookAttemptOutcome is what recording an attempt decided.
type WebhookAttemptOutcome struct {
	Status           string // the delivery's status now
	EndpointDisabled bool
	DisabledReason   string
}

// WebhookDisabledNotice is what the email to one Admin says when the worker
// disabled an endpoint of their company.
type WebhookDisabledNotice struct {
	AdminEmail      string
	AdminFirstName  string
	TenantName      string
	TenantSubdomain string
	EndpointID      int64
	URL             string
	Environment     WebhookEnvironment
	Reason          string
}

// WebhookDisabledMail writes that email; nil sends none.
type WebhookDisabledMail func(n WebhookDisabledNotice) NewEmail

// maxResponseKept is how much of a response the log keeps.
const maxResponseKept = 4096

// RecordWebhookAttempt records an attempt and its consequences in one
// transaction: the delivery succeeded, waits for its next attempt, or has
// failed; the endpoint's failing streak starts or ends; an endpoint that
// answered 410 Gone, or has failed for WebhookFailingLimit without a
// success, is disabled, which its company's Admins are emailed about
// through the outbox. A delivery whose lease another worker has taken
// meanwhile keeps that worker's state; the attempt is logged all the same.
func (s *Store) RecordWebhookAttempt(ctx context.Context, job WebhookJob, r WebhookAttemptResult, mail WebhookDisabledMail) (WebhookAttemptOutcome, error) {
	var out WebhookAttemptOutcome
	headers, err := json.Marshal(r.RequestHeaders)
	if err != nil {
		return out, fmt.Errorf("encode request headers: %w", err)
	}
	at := r.At.UTC()
	err = s.Within(ctx, webhookWorkerScope, func(ctx context.Context, tx *Store) error {
		out = WebhookAttemptOutcome{}
		attempt := &WebhookAttempt{TenantID: job.TenantID, DeliveryID: job.DeliveryID, EndpointID: job.EndpointID, AttemptedAt: at,
			Succeeded: r.Succeeded, DurationMS: int(max(r.Duration, 0) / time.Millisecond), RequestHeaders: string(headers),
			RequestBody: r.RequestBody, ResponseBody: truncateBytes(storableText(r.ResponseBody), maxResponseKept), Error: truncateError(r.Error)}
		if r.StatusCode > 0 {
			attempt.StatusCode = &r.StatusCode
		}
		if err := tx.conn(ctx).Create(attempt).Error; err != nil {
			return fmt.Errorf("record attempt: %w", err)
		}
		update := map[string]any{"attempts": job.Attempts + 1, "claimed_until": nil, "claimed_by": "", "updated_at": at,
			"last_status_code": attempt.StatusCode, "last_error": attempt.Error}
		switch {
		case r.Succeeded:
			out.Status = DeliverySucceeded
			update["delivered_at"] = at
		case r.RetryIn < 0 || r.Gone:
			out.Status = DeliveryFailed
		default:
			out.Status = DeliveryPending
			update["next_attempt_at"] = at.Add(r.RetryIn)
		}
		update["status"] = out.Status
		res := tx.conn(ctx).Model(&WebhookDelivery{}).Where("id = ? AND claimed_by = ? AND status = ?", job.DeliveryID, job.ClaimedBy, DeliveryPending).
			Updates(update)
		if res.Error != nil {
			return fmt.Errorf("record delivery: %w", res.Error)
		}
		if res.RowsAffected == 0 {
			out.Status = "" // another worker holds it now, or it was disabled meanwhile
		}
		return tx.afterAttempt(ctx, job, r, at, mail, &out)
	})
	if err != nil {
		return out, fmt.Errorf("record webhook attempt on delivery %d: %w", job.DeliveryID, err)
	}
	return out, nil
}

// afterAttempt keeps the endpoint's failing streak and disables it when
// the attempt says so.
func (s *Store) afterAttempt(ctx context.Context, job WebhookJob, r WebhookAttemptResult, at time.Time, mail WebhookDisabledMail, out *WebhookAttemptOutcome) error {
	endpoint := s.conn(ctx).Model(&WebhookEndpoint{}).Where("id = ?", job.EndpointID)
	if r.Succeeded {
		return endpoint.Where("failing_since IS NOT NULL").Update("failing_since", nil).Error
	}
	if err := endpoint.Where("failing_since IS NULL").Update("failing_since", at).Error; err != nil {
		return err
	}
	var e WebhookEndpoint
	if err := s.conn(ctx).Where("id = ?", job.EndpointID).Take(&e).Error; err != nil {
		return notFound(err, "load webhook endpoint")
	}
	var reason string
	switch {
	case !e.Enabled:
		return nil
	case r.Gone:
		reason = "The endpoint answered 410 Gone, which asks for no more deliveries."
	case e.FailingSince != nil && !at.Before(e.FailingSince.Add(WebhookFailingLimit)):
		reason = fmt.Sprintf("Every delivery failed for %d days.", int(WebhookFailingLimit/(24*time.Hour)))
	default:
		return nil
	}
	if err := s.disableWebhookEndpoint(ctx, &e, reason); err != nil {
		return err
	}
	out.EndpointDisabled, out.DisabledReason = true, reason
	return s.mailWebhookAdmins(ctx, &e, reason, mail)
}

// mailWebhookAdmins emails the Admins and Super Admins of e's company that
// e was disabled and why.
func (s *Store) mailWebhookAdmins(ctx context.Context, e *WebhookEndpoint, reason string, mail WebhookDisabledMail) error {
	if mail == nil {
		return nil
	}
	var admins []struct {
		Email           string
		FirstName       string
		TenantName      string
		TenantSubdomain string
	}
	var err error
	if s.Dialect() == Postgres {
		err = s.conn(ctx).Raw("SELECT * FROM canopy_webhook_admins(?)", e.TenantID).Scan(&admins).Error
	} else {
		err = s.conn(ctx).Raw(`SELECT u.email, u.first_name, t.name AS tenant_name, t.subdomain AS tenant_subdomain
			FROM memberships AS m JOIN users AS u ON u.id = m.user_id JOIN tenants AS t ON t.id = m.tenant_id
			WHERE m.tenant_id = ? AND m.role IN ? ORDER BY u.email`, e.TenantID, []Role{RoleAdmin, RoleSuperAdmin}).Scan(&admins).Error
	}
	if err != nil {
		return fmt.Errorf("find the company's admins: %w", err)
	}
	for _, a := range admins {
		email := mail(WebhookDisabledNotice{AdminEmail: a.Email, AdminFirstName: a.FirstName, TenantName: a.TenantName,
			TenantSubdomain: a.TenantSubdomain, EndpointID: e.ID, URL: e.URL, Environment: e.Environment, Reason: reason})
		email.TenantID, email.To = e.TenantID, a.Email
		if err := s.EnqueueEmail(ctx, email); err != nil {
			return err
		}
	}
	return nil
}

// PruneWebhookLog forgets attempts made before before, and events emitted
// before it none of whose deliveries is still pending (with their
// deliveries), and returns how many attempts went.
func (s *Store) PruneWebhookLog(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := s.Within(ctx, webhookWorkerScope, func(ctx context.Context, tx *Store) error {
		res := tx.conn(ctx).Where("attempted_at < ?", before.UTC()).Delete(&WebhookAttempt{})
		if res.Error != nil {
			return res.Error
		}
		n = res.RowsAffected
		return tx.conn(ctx).Where("created_at < ? AND NOT EXISTS (SELECT 1 FROM webhook_deliveries AS d WHERE d.message_id = webhook_messages.id AND d.status = ?)",
			before.UTC(), DeliveryPending).Delete(&WebhookMessage{}).Error
	})
	if err != nil {
		return 0, fmt.Errorf("prune the webhook log: %w", err)
	}
	return n, nil
}

// storableText is s as a text column takes it: valid UTF-8 without NUL
// bytes (a response may be anything).
func storableText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// truncateBytes keeps at most limit bytes of s, whole UTF-8 characters
// only (PostgreSQL refuses invalid UTF-8).
func truncateBytes(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && cut < len(s) && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut]
}
