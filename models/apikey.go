package models

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm/clause"
)

// APIEnvironment is where an API key works: the sandbox, whose orders are
// test data, or production.
type APIEnvironment string

// The environments.
const (
	APISandbox    APIEnvironment = "sandbox"
	APIProduction APIEnvironment = "production"
)

// Label is the environment as people read it.
func (e APIEnvironment) Label() string {
	if e == APIProduction {
		return "Production"
	}
	return "Sandbox"
}

// OrderEnvironment is the orders an environment makes: a sandbox key's
// are test data, never billed.
func (e APIEnvironment) OrderEnvironment() OrderEnvironment {
	if e == APIProduction {
		return OrderLive
	}
	return OrderTest
}

// APIScope is one thing a key may do.
type APIScope string

// The scopes a key can be given.
const (
	ScopeOrdersRead   APIScope = "orders:read"
	ScopeOrdersWrite  APIScope = "orders:write"
	ScopeDevicesRead  APIScope = "devices:read"
	ScopeDevicesWrite APIScope = "devices:write"
	ScopeMembersRead  APIScope = "members:read"
)

// APIScopes lists every scope, in the order forms show them.
var APIScopes = []APIScope{ScopeOrdersRead, ScopeOrdersWrite, ScopeDevicesRead, ScopeDevicesWrite, ScopeMembersRead}

// Describe says what the scope lets a key do.
func (s APIScope) Describe() string {
	switch s {
	case ScopeOrdersRead:
		return "List and read orders"
	case ScopeOrdersWrite:
		return "Create and cancel orders"
	case ScopeDevicesRead:
		return "List and read devices"
	case ScopeDevicesWrite:
		return "Add devices and change their status"
	case ScopeMembersRead:
		return "List the company's members"
	}
	return ""
}

// MaxActiveAPIKeys is how many active keys a company may have per
// environment: keys that work and were not rolled. A rolled key, working
// until its grace ends, is not counted: its replacement is.
const MaxActiveAPIKeys = 10

// APIKey is a company's key, as Canopy keeps it: never the key itself,
// only its keyed hash, its prefix and its last four characters.
type APIKey struct {
	ID              int64
	TenantID        int64
	Environment     APIEnvironment
	Name            string
	Prefix          string
	Last4           string
	SecretHash      string
	Scopes          string // space-separated APIScopes
	CreatedByUserID *int64
	CreatedAt       time.Time
	LastUsedAt      *time.Time
	ExpiresAt       *time.Time // set when the key was rolled
	RevokedAt       *time.Time
	RolledToID      *int64
}

// Masked is all a page shows of the key: cnp_live_…abcd.
func (k APIKey) Masked() string { return k.Prefix + "…" + k.Last4 }

// ScopeList is the key's scopes, in APIScopes order.
func (k APIKey) ScopeList() []APIScope {
	var out []APIScope
	have := strings.Fields(k.Scopes)
	for _, s := range APIScopes {
		if slices.Contains(have, string(s)) {
			out = append(out, s)
		}
	}
	return out
}

// Allows tells whether the key was given scope.
func (k APIKey) Allows(scope APIScope) bool {
	return slices.Contains(strings.Fields(k.Scopes), string(scope))
}

// WorksAt tells whether the key authenticates at now: not revoked, and not
// past the expiry a roll gave it.
func (k APIKey) WorksAt(now time.Time) bool {
	return k.RevokedAt == nil && (k.ExpiresAt == nil || now.Before(*k.ExpiresAt))
}

// HashedAPIKey is what the store keeps of a new key; the handler makes the
// key (internal/apikey) and shows it once.
type HashedAPIKey struct {
	Hash   string
	Prefix string
	Last4  string
}

// NewAPIKey describes a key to create.
type NewAPIKey struct {
	Name        string
	Environment APIEnvironment
	Scopes      []APIScope
}

func (n *NewAPIKey) validate() FieldErrors {
	errs := FieldErrors{}
	cleanLines(errs, map[string]*string{"name": &n.Name})
	switch l := len([]rune(n.Name)); {
	case l == 0:
		errs["name"] = "Name the key, e.g. after the system that will use it."
	case l > 100:
		errs["name"] = "Use at most 100 characters."
	}
	if n.Environment != APISandbox && n.Environment != APIProduction {
		errs["environment"] = "Choose Sandbox or Production."
	}
	if len(n.Scopes) == 0 {
		errs["scopes"] = "Choose at least one scope."
	}
	for _, s := range n.Scopes {
		if !slices.Contains(APIScopes, s) {
			errs["scopes"] = "Choose scopes from the list."
		}
	}
	return errs
}

// scopesText is scopes in APIScopes order, space-separated, each once.
func scopesText(scopes []APIScope) string {
	var out []string
	for _, s := range APIScopes {
		if slices.Contains(scopes, s) {
			out = append(out, string(s))
		}
	}
	return strings.Join(out, " ")
}

// ErrTooManyAPIKeys refuses an eleventh working key in one environment.
var ErrTooManyAPIKeys = FieldErrors{"name": fmt.Sprintf("This environment already has %d keys that work. Revoke one first.", MaxActiveAPIKeys)}

// ErrNoProductionAccess refuses a production key before platform staff
// approved the company's request for production access.
var ErrNoProductionAccess = FieldErrors{"environment": "Production keys need production access. Request it first."}

// CreateAPIKey stores a new key of the tenant, made by the signed-in
// person (the context's actor). Production keys need approved production
// access; each environment holds at most MaxActiveAPIKeys working keys.
func (s *Store) CreateAPIKey(ctx context.Context, tenantID int64, n NewAPIKey, hashed HashedAPIKey) (*APIKey, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	if err := n.validate().Err(); err != nil {
		return nil, err
	}
	var key *APIKey
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		key, err = tx.insertAPIKey(ctx, tenantID, n.Name, n.Environment, scopesText(n.Scopes), hashed)
		if err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditAPIKeyCreated, key.auditTarget(), nil,
			map[string]any{"name": key.Name, "environment": key.Environment, "scopes": key.Scopes, "key": key.Masked()})
	})
	return key, err
}

// insertAPIKey checks the environment's limits under the tenant's lock and
// writes the key.
func (s *Store) insertAPIKey(ctx context.Context, tenantID int64, name string, env APIEnvironment, scopes string, hashed HashedAPIKey) (*APIKey, error) {
	if err := s.lockTenantRow(ctx, tenantID); err != nil {
		return nil, err
	}
	if env == APIProduction {
		ok, err := s.HasProductionAccess(ctx, tenantID)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, ErrNoProductionAccess
		}
	}
	now := s.db.NowFunc()
	var working int64
	err := s.scoped(ctx, tenantID).Model(&APIKey{}).
		Where("environment = ? AND revoked_at IS NULL AND rolled_to_id IS NULL AND (expires_at IS NULL OR expires_at > ?)", env, now).
		Count(&working).Error
	if err != nil {
		return nil, fmt.Errorf("count api keys: %w", err)
	}
	if working >= MaxActiveAPIKeys {
		return nil, ErrTooManyAPIKeys
	}
	actor := ActorFrom(ctx)
	key := &APIKey{TenantID: tenantID, Environment: env, Name: name, Prefix: hashed.Prefix, Last4: hashed.Last4,
		SecretHash: hashed.Hash, Scopes: scopes, CreatedAt: now}
	if actor.UserID > 0 {
		key.CreatedByUserID = &actor.UserID
	}
	if err := s.conn(ctx).Create(key).Error; err != nil {
		return nil, fmt.Errorf("create api key: %w", err)
	}
	return key, nil
}

func (k *APIKey) auditTarget() AuditTarget {
	return AuditTarget{Type: "api_key", ID: k.ID, Label: k.Name + " (" + k.Masked() + ")"}
}

// APIKeyListItem is a key with the name of the person who created it.
type APIKeyListItem struct {
	APIKey
	CreatorFirstName string
	CreatorLastName  string
	CreatorEmail     string
}

// CreatorName is who created the key; empty when that person is gone.
func (k APIKeyListItem) CreatorName() string {
	if name := strings.TrimSpace(k.CreatorFirstName + " " + k.CreatorLastName); name != "" {
		return name
	}
	return k.CreatorEmail
}

// ListAPIKeys is the tenant's keys that work, then those revoked or
// expired in the last 30 days, newest first, in one statement. Every key
// that works is listed (at most MaxActiveAPIKeys, and as many again in a
// roll's grace), however many stopped recently.
func (s *Store) ListAPIKeys(ctx context.Context, tenantID int64) ([]APIKeyListItem, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	since := s.db.NowFunc().Add(-30 * 24 * time.Hour)
	var out []APIKeyListItem
	err := s.conn(ctx).Table("(?) AS k", s.scoped(ctx, tenantID).Model(&APIKey{}).
		Where("(revoked_at IS NULL OR revoked_at > ?) AND (expires_at IS NULL OR expires_at > ?)", since, since)).
		Select("k.*, u.first_name AS creator_first_name, u.last_name AS creator_last_name, u.email AS creator_email").
		Joins("LEFT JOIN users AS u ON u.id = k.created_by_user_id").
		Order(clause.OrderBy{Expression: clause.Expr{SQL: "CASE WHEN k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > ?) THEN 0 ELSE 1 END, k.created_at DESC, k.id DESC", Vars: []any{s.db.NowFunc()}}}).
		Limit(200).
		Scan(&out).Error
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// APIKeyOf is one key of the tenant, or ErrNotFound.
func (s *Store) APIKeyOf(ctx context.Context, tenantID, keyID int64) (*APIKey, error) {
	var k APIKey
	err := s.scoped(ctx, tenantID).Where("id = ?", keyID).Take(&k).Error
	return &k, notFound(err, "load api key")
}

// RevokeAPIKey stops a key of the tenant at once.
func (s *Store) RevokeAPIKey(ctx context.Context, tenantID, keyID int64) (*APIKey, error) {
	var key *APIKey
	err := s.Tx(ctx, func(tx *Store) error {
		var err error
		if key, err = tx.lockAPIKey(ctx, tenantID, keyID); err != nil {
			return err
		}
		now := tx.db.NowFunc()
		res := tx.scoped(ctx, tenantID).Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", keyID).Update("revoked_at", now)
		if err := changed(res, "revoke api key"); err != nil {
			return err
		}
		key.RevokedAt = &now
		return tx.audit(ctx, tenantID, AuditAPIKeyRevoked, key.auditTarget(), nil, nil)
	})
	return key, err
}

// lockAPIKey locks and reads a key of the tenant that still works.
func (s *Store) lockAPIKey(ctx context.Context, tenantID, keyID int64) (*APIKey, error) {
	if err := s.lockTenantRow(ctx, tenantID); err != nil {
		return nil, err
	}
	var k APIKey
	if err := s.forUpdate(s.scoped(ctx, tenantID)).Where("id = ?", keyID).Take(&k).Error; err != nil {
		return nil, notFound(err, "lock api key")
	}
	if !k.WorksAt(s.db.NowFunc()) {
		return nil, ErrAPIKeyRevoked
	}
	return &k, nil
}

// RollGraces are the choices of how long a rolled key keeps working.
var RollGraces = []time.Duration{0, time.Hour, 24 * time.Hour, 7 * 24 * time.Hour}

// RollAPIKey issues a new key with the old one's name, environment and
// scopes; the old one keeps working for grace (one of RollGraces), then
// stops. The new key counts towards the limit only once the old one stops.
func (s *Store) RollAPIKey(ctx context.Context, tenantID, keyID int64, grace time.Duration, hashed HashedAPIKey) (old, rolled *APIKey, err error) {
	if !slices.Contains(RollGraces, grace) {
		return nil, nil, FieldErrors{"expires_in": "Choose when the old key stops working."}
	}
	err = s.Tx(ctx, func(tx *Store) error {
		if old, err = tx.lockAPIKey(ctx, tenantID, keyID); err != nil {
			return err
		}
		// A key is rolled once: rolling it again while its grace runs
		// would issue keys past the limit and stretch the grace.
		if old.RolledToID != nil || old.ExpiresAt != nil {
			return ErrAPIKeyRolled
		}
		if old.Environment == APIProduction {
			ok, err := tx.HasProductionAccess(ctx, tenantID)
			if err != nil {
				return err
			}
			if !ok {
				return ErrNoProductionAccess
			}
		}
		now := tx.db.NowFunc()
		rolled = &APIKey{TenantID: tenantID, Environment: old.Environment, Name: old.Name, Prefix: hashed.Prefix,
			Last4: hashed.Last4, SecretHash: hashed.Hash, Scopes: old.Scopes, CreatedAt: now}
		if actor := ActorFrom(ctx); actor.UserID > 0 {
			rolled.CreatedByUserID = &actor.UserID
		}
		if err := tx.conn(ctx).Create(rolled).Error; err != nil {
			return fmt.Errorf("create rolled api key: %w", err)
		}
		expires := now.Add(grace)
		res := tx.scoped(ctx, tenantID).Model(&APIKey{}).Where("id = ? AND revoked_at IS NULL", old.ID).
			Updates(map[string]any{"expires_at": expires, "rolled_to_id": rolled.ID})
		if err := changed(res, "expire rolled api key"); err != nil {
			return err
		}
		old.ExpiresAt, old.RolledToID = &expires, &rolled.ID
		return tx.audit(ctx, tenantID, AuditAPIKeyRolled, old.auditTarget(),
			map[string]any{"key": old.Masked()},
			map[string]any{"key": rolled.Masked(), "old_key_expires_at": expires.UTC().Format(time.RFC3339)})
	})
	return old, rolled, err
}

// APIKeyByHash finds the key with this keyed hash among the tenant's; a
// key of another tenant, revoked, or past its expiry is ErrNotFound, just
// like an unknown one.
func (s *Store) APIKeyByHash(ctx context.Context, tenantID int64, hash string) (*APIKey, error) {
	var k APIKey
	if err := s.scoped(ctx, tenantID).Where("secret_hash = ?", hash).Take(&k).Error; err != nil {
		return nil, notFound(err, "find api key")
	}
	if !k.WorksAt(s.db.NowFunc()) {
		return nil, fmt.Errorf("find api key: %w", ErrNotFound)
	}
	return &k, nil
}

// apiKeyUseResolution is how stale last_used_at may be: a key's use is
// written at most once a minute, not on every call.
const apiKeyUseResolution = time.Minute

// NoteAPIKeyUsed records that the key was used now, when what is recorded
// is more than a minute old.
func (s *Store) NoteAPIKeyUsed(ctx context.Context, k *APIKey) error {
	now := s.db.NowFunc()
	if k.LastUsedAt != nil && now.Sub(*k.LastUsedAt) < apiKeyUseResolution {
		return nil
	}
	err := s.scoped(ctx, k.TenantID).Model(&APIKey{}).
		Where("id = ? AND (last_used_at IS NULL OR last_used_at < ?)", k.ID, now.Add(-apiKeyUseResolution)).
		Update("last_used_at", now).Error
	if err != nil {
		return fmt.Errorf("note api key used: %w", err)
	}
	k.LastUsedAt = &now
	return nil
}

// HasProductionAccess tells whether platform staff approved a request of
// the tenant for production access.
func (s *Store) HasProductionAccess(ctx context.Context, tenantID int64) (bool, error) {
	var n int64
	err := s.scoped(ctx, tenantID).Table("production_access_requests").Where("status = ?", "approved").Limit(1).Count(&n).Error
	if err != nil {
		return false, fmt.Errorf("read production access: %w", err)
	}
	return n > 0, nil
}
