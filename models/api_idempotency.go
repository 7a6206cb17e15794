package models

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// IdempotencyKeyTTL is how long the answer to a POST with an
// Idempotency-Key is kept: a repeat within it gets the same answer.
const IdempotencyKeyTTL = 24 * time.Hour

// Refusals of a repeated Idempotency-Key.
var (
	// ErrIdempotencyKeyReused: the key came with a different request
	// (method, path or body) than the one it was first used for.
	ErrIdempotencyKeyReused = errors.New("this Idempotency-Key was used with a different request")
	// ErrIdempotencyKeyInUse: the first request with the key has not
	// answered yet.
	ErrIdempotencyKeyInUse = errors.New("a request with this Idempotency-Key is still being processed")
)

// IdempotentResponse is the answer kept for an Idempotency-Key.
type IdempotentResponse struct {
	Status int
	Body   string
}

// apiIdempotencyKey is a row of api_idempotency_keys. A row whose
// ResponseStatus is 0 is reserved by a request still running.
type apiIdempotencyKey struct {
	ID             int64
	TenantID       int64
	APIKeyID       int64
	IdempotencyKey string
	RequestHash    string
	ResponseStatus int
	ResponseBody   string
	CreatedAt      time.Time
}

func (apiIdempotencyKey) TableName() string { return "api_idempotency_keys" }

// ReserveIdempotencyKey claims idempotencyKey of the tenant's API key for a
// request whose method, path and body hash to requestHash. A first use
// reserves it and answers nil, nil: the request goes on and its answer is
// kept with SaveIdempotentResponse. A repeat of the same request answers
// the kept response; a repeat with a different request is
// ErrIdempotencyKeyReused; a repeat while the first still runs is
// ErrIdempotencyKeyInUse. The unique key decides between simultaneous
// requests: the one that loses waits for the winner's transaction and then
// gets its answer. Answers older than IdempotencyKeyTTL are swept first.
func (s *Store) ReserveIdempotencyKey(ctx context.Context, tenantID, apiKeyID int64, idempotencyKey, requestHash string) (*IdempotentResponse, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	now := s.db.NowFunc()
	// Opportunistic sweep: the key's own expired answers (so the key can
	// be used afresh) and its tenant's, each an index range.
	err := s.scoped(ctx, tenantID).Where("created_at < ?", now.Add(-IdempotencyKeyTTL)).Delete(&apiIdempotencyKey{}).Error
	if err != nil {
		return nil, fmt.Errorf("sweep idempotency keys: %w", err)
	}
	row := &apiIdempotencyKey{TenantID: tenantID, APIKeyID: apiKeyID, IdempotencyKey: idempotencyKey,
		RequestHash: requestHash, CreatedAt: now}
	err = s.Tx(ctx, func(tx *Store) error { return tx.conn(ctx).Create(row).Error })
	switch {
	case err == nil:
		return nil, nil
	case !violatesUnique(err, "api_idempotency_keys_tenant_key_idempotency_key"):
		return nil, fmt.Errorf("reserve idempotency key: %w", err)
	}
	var kept apiIdempotencyKey
	err = s.scoped(ctx, tenantID).Where("api_key_id = ? AND idempotency_key = ?", apiKeyID, idempotencyKey).Take(&kept).Error
	switch {
	case errors.Is(err, gorm.ErrRecordNotFound):
		return nil, ErrIdempotencyKeyInUse // swept or rolled back meanwhile: let the client retry
	case err != nil:
		return nil, fmt.Errorf("load idempotency key: %w", err)
	case kept.RequestHash != requestHash:
		return nil, ErrIdempotencyKeyReused
	case kept.ResponseStatus == 0:
		return nil, ErrIdempotencyKeyInUse
	}
	return &IdempotentResponse{Status: kept.ResponseStatus, Body: kept.ResponseBody}, nil
}

// SaveIdempotentResponse keeps the answer of the request that reserved
// idempotencyKey, for its repeats.
func (s *Store) SaveIdempotentResponse(ctx context.Context, tenantID, apiKeyID int64, idempotencyKey string, r IdempotentResponse) error {
	err := s.scoped(ctx, tenantID).Model(&apiIdempotencyKey{}).
		Where("api_key_id = ? AND idempotency_key = ?", apiKeyID, idempotencyKey).
		Updates(map[string]any{"response_status": r.Status, "response_body": r.Body}).Error
	if err != nil {
		return fmt.Errorf("save idempotent response: %w", err)
	}
	return nil
}

// ReleaseIdempotencyKey gives up a reservation whose request failed on the
// server's side, so a retry with the same key runs afresh. (On PostgreSQL
// the request's rollback has already done it; SQLite has no request
// transaction.)
func (s *Store) ReleaseIdempotencyKey(ctx context.Context, tenantID, apiKeyID int64, idempotencyKey string) error {
	err := s.scoped(ctx, tenantID).
		Where("api_key_id = ? AND idempotency_key = ? AND response_status = 0", apiKeyID, idempotencyKey).
		Delete(&apiIdempotencyKey{}).Error
	if err != nil {
		return fmt.Errorf("release idempotency key: %w", err)
	}
	return nil
}
