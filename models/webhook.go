package models

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"

	"canopy/internal/sealbox"
	"canopy/internal/webhook"
)

// Webhooks, as the Developers → Webhooks pages use them. Every method takes
// the tenant (the host's) and starts from s.scoped; another tenant's
// endpoint or delivery is ErrNotFound. The pages need no more than this:
//
//   - endpoints: ListWebhookEndpoints, WebhookEndpointOf,
//     CreateWebhookEndpoint, UpdateWebhookEndpoint, SetWebhookEndpointEnabled,
//     DeleteWebhookEndpoint;
//   - the secret: RotateWebhookSecret, RevealWebhookSecret (audited);
//   - the form: WebhookEventTypes, WebhookObjects, DefaultWebhookFields,
//     WebhookPreview (the live preview), ValidateWebhookURL;
//   - the log: ListWebhookDeliveries, ListWebhookAttempts, WebhookDeliveryOf;
//   - actions: ReplayWebhookDelivery, ResendFailedWebhookDeliveries,
//     SendWebhookTestEvent.
//
// The delivery worker's own methods are in webhook_worker.go.

// WebhookEnvironment is the API environment an endpoint belongs to: the
// same sandbox and production as API keys'. Sandbox endpoints receive test
// orders, production endpoints live ones; both receive devices', members'
// and sub-tenants' events, which have no test version.
type WebhookEnvironment = APIEnvironment

// The environments, by their webhook names.
const (
	WebhookSandbox    = APISandbox
	WebhookProduction = APIProduction
)

// ParseWebhookEnvironment accepts only the two environments.
func ParseWebhookEnvironment(s string) (WebhookEnvironment, bool) {
	switch WebhookEnvironment(s) {
	case WebhookSandbox, WebhookProduction:
		return WebhookEnvironment(s), true
	}
	return "", false
}

// MaxWebhookEndpoints bounds a company's endpoints per environment.
const MaxWebhookEndpoints = 20

// WebhookSecretRotationGrace is how long a rotated secret keeps signing
// beside the new one, so receivers can switch without missing a delivery.
const WebhookSecretRotationGrace = 24 * time.Hour

// WebhookEndpoint is a URL that receives a company's events.
type WebhookEndpoint struct {
	ID          int64
	TenantID    int64
	Environment WebhookEnvironment
	URL         string `gorm:"column:url"`
	Description string
	// Events is the event types it receives, space-separated (EventTypes).
	Events string
	// Fields is the payload fields chosen, JSON (FieldChoice).
	Fields         string
	Enabled        bool
	DisabledReason string
	// The secrets, sealed: RevealWebhookSecret opens them.
	SecretSealed            string  `json:"-"`
	PreviousSecretSealed    *string `json:"-"`
	PreviousSecretExpiresAt *time.Time
	// FailingSince is when deliveries began failing without a success
	// since; nil while it is healthy.
	FailingSince    *time.Time
	CreatedByUserID *int64
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// EventTypes is the events the endpoint receives.
func (e *WebhookEndpoint) EventTypes() []string { return strings.Fields(e.Events) }

// Receives tells whether the endpoint is subscribed to eventType.
func (e *WebhookEndpoint) Receives(eventType string) bool {
	return slices.Contains(e.EventTypes(), eventType)
}

// FieldChoice is the payload fields the endpoint chose.
func (e *WebhookEndpoint) FieldChoice() WebhookFields { return decodeWebhookFields(e.Fields) }

// Rotating tells whether a rotated secret still signs beside the new one at now.
func (e *WebhookEndpoint) Rotating(now time.Time) bool {
	return e.PreviousSecretSealed != nil && e.PreviousSecretExpiresAt != nil && now.Before(*e.PreviousSecretExpiresAt)
}

func (e *WebhookEndpoint) target() AuditTarget {
	return AuditTarget{Type: "webhook_endpoint", ID: e.ID, Label: e.URL}
}

// secretBinding ties a sealed secret to its endpoint, so a sealed value
// copied onto another row does not open there.
func (e *WebhookEndpoint) secretBinding() string {
	return "webhook-endpoint:" + strconv.FormatInt(e.TenantID, 10) + ":" + strconv.FormatInt(e.ID, 10)
}

// WebhookMessage is one event, as emitted.
type WebhookMessage struct {
	ID          int64
	TenantID    int64
	Environment WebhookEnvironment
	EventType   string
	MsgID       string // the webhook-id header
	Test        bool   // sent from the page with sample data
	CreatedAt   time.Time
}

// Delivery statuses.
const (
	DeliveryPending   = "pending"   // waiting for its next attempt
	DeliverySucceeded = "succeeded" // a 2xx answer
	DeliveryFailed    = "failed"    // every attempt failed
	DeliveryDisabled  = "disabled"  // its endpoint was disabled before it got through
)

// WebhookDelivery is one event's delivery to one endpoint.
type WebhookDelivery struct {
	ID             int64
	TenantID       int64
	EndpointID     int64
	MessageID      int64
	EventType      string
	Body           string // the request body, the same for every attempt
	Status         string
	Attempts       int
	NextAttemptAt  time.Time
	ClaimedUntil   *time.Time
	ClaimedBy      string
	LastStatusCode *int
	LastError      string
	DeliveredAt    *time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// WebhookAttempt is one try at a delivery, as the log shows it.
type WebhookAttempt struct {
	ID          int64
	TenantID    int64
	DeliveryID  int64
	EndpointID  int64
	AttemptedAt time.Time
	Succeeded   bool
	StatusCode  *int // nil when no answer came
	DurationMS  int  `gorm:"column:duration_ms"`
	// RequestHeaders is the headers sent, a JSON object of strings.
	RequestHeaders string
	RequestBody    string
	ResponseBody   string // its first 4 KB
	Error          string
}

// WebhookSettings configure the store's webhooks: the key that seals
// endpoint secrets (config Secrets.WebhookSecret) and the hosts production
// endpoints may reach over http (CANOPY_WEBHOOK_HTTP_HOSTS).
type WebhookSettings struct {
	SecretKey []byte
	HTTPHosts []string
}

type webhookSettings struct {
	box       *sealbox.Box
	httpHosts []string
}

// WithWebhooks returns a store that can create webhook endpoints and open
// their secrets. Without it those methods are ErrWebhooksNotConfigured.
func (s *Store) WithWebhooks(settings WebhookSettings) (*Store, error) {
	box, err := sealbox.New(settings.SecretKey)
	if err != nil {
		return nil, fmt.Errorf("webhooks: %w", err)
	}
	configured := *s
	configured.webhooks = &webhookSettings{box: box, httpHosts: settings.HTTPHosts}
	return &configured, nil
}

// ErrWebhooksNotConfigured is the answer of a store made without WithWebhooks.
var ErrWebhooksNotConfigured = errors.New("webhooks: the store has no key for endpoint secrets")

// ErrWebhookEndpointDisabled refuses sending to a disabled endpoint, a test
// event and a replay included; enable it first.
var ErrWebhookEndpointDisabled = errors.New("this webhook endpoint is disabled; enable it first")

// ErrWebhookDeliveryInFlight refuses replaying a delivery a worker is
// sending at this moment: it would go out twice at once.
var ErrWebhookDeliveryInFlight = errors.New("this delivery is being sent right now; its outcome shows in a moment")

func (s *Store) webhookBox() (*sealbox.Box, error) {
	if s.webhooks == nil {
		return nil, ErrWebhooksNotConfigured
	}
	return s.webhooks.box, nil
}

// WebhookEndpointInput is the endpoint form.
type WebhookEndpointInput struct {
	// Environment is chosen at creation and fixed after (UpdateWebhookEndpoint ignores it).
	Environment WebhookEnvironment
	URL         string
	Description string
	Events      []string
	// Fields is the payload fields chosen; nil means the defaults (no personal data).
	Fields WebhookFields
	// Secret, when set, is the signing secret to use instead of a fresh
	// one (the demo data's published one); the pages never set it.
	Secret string
}

func (s *Store) validateEndpointInput(in *WebhookEndpointInput) (events string, fields string, errs FieldErrors) {
	errs = FieldErrors{}
	if _, ok := ParseWebhookEnvironment(string(in.Environment)); !ok {
		errs["environment"] = "Choose sandbox or production."
	}
	var httpHosts []string
	if s.webhooks != nil {
		httpHosts = s.webhooks.httpHosts
	}
	url, problem := ValidateWebhookURL(in.URL, in.Environment, httpHosts)
	if problem != "" {
		errs["url"] = problem
	}
	in.URL = url
	in.Description = strings.TrimSpace(in.Description)
	if len([]rune(in.Description)) > 500 {
		errs["description"] = "Use at most 500 characters."
	}
	var chosen []string
	for _, e := range WebhookEventTypes {
		if slices.Contains(in.Events, e.Type) {
			chosen = append(chosen, e.Type)
		}
	}
	for _, e := range in.Events {
		if WebhookEventObject(e) == "" {
			errs["events"] = "Choose events from the list."
		}
	}
	if len(chosen) == 0 && errs["events"] == "" {
		errs["events"] = "Choose at least one event."
	}
	if in.Fields == nil {
		in.Fields = DefaultWebhookFields()
	}
	normalized, fieldErrs := in.Fields.normalized()
	for k, v := range fieldErrs {
		errs[k] = v
	}
	if len(errs) > 0 {
		return "", "", errs
	}
	return strings.Join(chosen, " "), normalized.encode(), nil
}

// ListWebhookEndpoints lists a company's endpoints of env ("" for both),
// oldest first.
func (s *Store) ListWebhookEndpoints(ctx context.Context, tenantID int64, env WebhookEnvironment) ([]WebhookEndpoint, error) {
	q := s.scoped(ctx, tenantID)
	if env != "" {
		q = q.Where("environment = ?", env)
	}
	var out []WebhookEndpoint
	if err := q.Order("created_at, id").Find(&out).Error; err != nil {
		return nil, fmt.Errorf("list webhook endpoints: %w", err)
	}
	return out, nil
}

// WebhookEndpointOf loads one of the company's endpoints, or ErrNotFound.
func (s *Store) WebhookEndpointOf(ctx context.Context, tenantID, endpointID int64) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := s.scoped(ctx, tenantID).Where("id = ?", endpointID).Take(&e).Error
	return &e, notFound(err, "load webhook endpoint")
}

// CreateWebhookEndpoint adds an endpoint, enabled, with a fresh secret,
// which it returns in the clear (RevealWebhookSecret shows it again).
// Problems with the form are FieldErrors; more than MaxWebhookEndpoints in
// the environment is refused beside the URL.
func (s *Store) CreateWebhookEndpoint(ctx context.Context, tenantID int64, in WebhookEndpointInput) (*WebhookEndpoint, string, error) {
	if tenantID <= 0 {
		return nil, "", ErrNoTenant
	}
	box, err := s.webhookBox()
	if err != nil {
		return nil, "", err
	}
	events, fields, errs := s.validateEndpointInput(&in)
	if err := errs.Err(); err != nil {
		return nil, "", err
	}
	secret := in.Secret
	if secret == "" {
		secret = webhook.NewSecret()
	} else if _, err := webhook.ParseSecret(secret); err != nil {
		return nil, "", FieldErrors{"secret": "Use whsec_ and the base64 of at least 24 random bytes."} //nolint:gosec // G101: a message, not a secret
	}
	actor := ActorFrom(ctx)
	now := s.db.NowFunc()
	e := &WebhookEndpoint{TenantID: tenantID, Environment: in.Environment, URL: in.URL, Description: in.Description,
		Events: events, Fields: fields, Enabled: true, SecretSealed: "-", CreatedAt: now, UpdatedAt: now}
	if actor.UserID > 0 {
		e.CreatedByUserID = &actor.UserID
	}
	err = s.Tx(ctx, func(tx *Store) error {
		var n int64
		if err := tx.scoped(ctx, tenantID).Model(&WebhookEndpoint{}).Where("environment = ?", in.Environment).Count(&n).Error; err != nil {
			return fmt.Errorf("count webhook endpoints: %w", err)
		}
		if n >= MaxWebhookEndpoints {
			return FieldErrors{"url": fmt.Sprintf("A company has at most %d endpoints per environment. Delete one first.", MaxWebhookEndpoints)}
		}
		if err := tx.conn(ctx).Create(e).Error; err != nil {
			return fmt.Errorf("create webhook endpoint: %w", err)
		}
		// Sealed once the id is known: the seal is bound to it.
		e.SecretSealed = box.Seal(secret, e.secretBinding())
		if err := tx.scoped(ctx, tenantID).Model(&WebhookEndpoint{}).Where("id = ?", e.ID).
			Update("secret_sealed", e.SecretSealed).Error; err != nil {
			return fmt.Errorf("seal webhook secret: %w", err)
		}
		return tx.audit(ctx, tenantID, AuditWebhookEndpointCreated, e.target(), nil,
			map[string]any{"environment": e.Environment, "url": e.URL, "events": e.Events, "fields": e.Fields})
	})
	if err != nil {
		return nil, "", err
	}
	return e, secret, nil
}

// UpdateWebhookEndpoint saves the form for an existing endpoint: URL,
// description, events and fields (its environment stays). Events already
// emitted keep the body they were shaped with.
func (s *Store) UpdateWebhookEndpoint(ctx context.Context, tenantID, endpointID int64, in WebhookEndpointInput) (*WebhookEndpoint, error) {
	var e *WebhookEndpoint
	err := s.Tx(ctx, func(tx *Store) error {
		was, err := tx.lockWebhookEndpoint(ctx, tenantID, endpointID)
		if err != nil {
			return err
		}
		in.Environment = was.Environment
		events, fields, errs := tx.validateEndpointInput(&in)
		if err := errs.Err(); err != nil {
			return err
		}
		before, after := map[string]any{}, map[string]any{}
		for name, pair := range map[string][2]string{"url": {was.URL, in.URL}, "description": {was.Description, in.Description},
			"events": {was.Events, events}, "fields": {was.Fields, fields}} {
			if pair[0] != pair[1] {
				before[name], after[name] = pair[0], pair[1]
			}
		}
		e = was
		if len(after) == 0 {
			return nil
		}
		now := tx.db.NowFunc()
		res := tx.scoped(ctx, tenantID).Model(&WebhookEndpoint{}).Where("id = ?", endpointID).
			Updates(map[string]any{"url": in.URL, "description": in.Description, "events": events, "fields": fields, "updated_at": now})
		if err := changed(res, "update webhook endpoint"); err != nil {
			return err
		}
		e.URL, e.Description, e.Events, e.Fields, e.UpdatedAt = in.URL, in.Description, events, fields, now
		return tx.audit(ctx, tenantID, AuditWebhookEndpointUpdated, e.target(), before, after)
	})
	if err != nil {
		return nil, err
	}
	return e, nil
}

func (s *Store) lockWebhookEndpoint(ctx context.Context, tenantID, endpointID int64) (*WebhookEndpoint, error) {
	var e WebhookEndpoint
	err := s.forUpdate(s.scoped(ctx, tenantID)).Where("id = ?", endpointID).Take(&e).Error
	return &e, notFound(err, "lock webhook endpoint")
}

// SetWebhookEndpointEnabled enables or disables an endpoint by hand.
// Disabling marks its pending deliveries disabled (Resend failed since…
// sends them later); enabling clears the reason and the failing streak.
// Setting what it already is changes nothing and records nothing.
func (s *Store) SetWebhookEndpointEnabled(ctx context.Context, tenantID, endpointID int64, enabled bool) error {
	return s.Tx(ctx, func(tx *Store) error {
		e, err := tx.lockWebhookEndpoint(ctx, tenantID, endpointID)
		if err != nil || e.Enabled == enabled {
			return err
		}
		if enabled {
			res := tx.scoped(ctx, tenantID).Model(&WebhookEndpoint{}).Where("id = ?", endpointID).
				Updates(map[string]any{"enabled": true, "disabled_reason": "", "failing_since": nil, "updated_at": tx.db.NowFunc()})
			if err := changed(res, "enable webhook endpoint"); err != nil {
				return err
			}
			return tx.audit(ctx, tenantID, AuditWebhookEndpointEnabled, e.target(),
				map[string]any{"enabled": false, "reason": e.DisabledReason}, map[string]any{"enabled": true})
		}
		reason := "Disabled by " + ActorFrom(ctx).Email
		if ActorFrom(ctx).Email == "" {
			reason = "Disabled by hand"
		}
		return tx.disableWebhookEndpoint(ctx, e, reason)
	})
}

// disableWebhookEndpoint disables e with reason, marks its pending
// deliveries disabled, and records it: by hand, or by the worker (410 Gone,
// five days of failures).
func (s *Store) disableWebhookEndpoint(ctx context.Context, e *WebhookEndpoint, reason string) error {
	now := s.db.NowFunc()
	res := s.scoped(ctx, e.TenantID).Model(&WebhookEndpoint{}).Where("id = ? AND enabled", e.ID).
		Updates(map[string]any{"enabled": false, "disabled_reason": truncateText(reason, 500), "updated_at": now})
	if err := changed(res, "disable webhook endpoint"); err != nil {
		return err
	}
	if err := s.scoped(ctx, e.TenantID).Model(&WebhookDelivery{}).Where("endpoint_id = ? AND status = ?", e.ID, DeliveryPending).
		Updates(map[string]any{"status": DeliveryDisabled, "claimed_until": nil, "claimed_by": "", "updated_at": now}).Error; err != nil {
		return fmt.Errorf("stop deliveries: %w", err)
	}
	e.Enabled, e.DisabledReason = false, reason
	return s.auditWithoutReadingBack(ctx, e.TenantID, AuditWebhookEndpointDisabled, e.target(), map[string]any{"enabled": true},
		map[string]any{"enabled": false, "reason": reason})
}

// auditWithoutReadingBack is audit as a plain INSERT, without the RETURNING
// a GORM Create adds: the webhook worker may record that it disabled an
// endpoint, but under row-level security it cannot read the log back.
func (s *Store) auditWithoutReadingBack(ctx context.Context, tenantID int64, action string, target AuditTarget, before, after any) error {
	actor := ActorFrom(ctx)
	var actorID *int64
	if actor.UserID > 0 {
		actorID = &actor.UserID
	}
	b, err := auditJSON(before)
	if err != nil {
		return err
	}
	a, err := auditJSON(after)
	if err != nil {
		return err
	}
	err = s.conn(ctx).Exec(`INSERT INTO audit_events (tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, tenantID, actorID, actor.Email, action, target.Type, strconv.FormatInt(target.ID, 10),
		target.Label, b, a, actor.IP, s.db.NowFunc()).Error
	if err != nil {
		return fmt.Errorf("record %s: %w", action, err)
	}
	return nil
}

// DeleteWebhookEndpoint deletes an endpoint with its deliveries and their
// attempts.
func (s *Store) DeleteWebhookEndpoint(ctx context.Context, tenantID, endpointID int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		e, err := tx.lockWebhookEndpoint(ctx, tenantID, endpointID)
		if err != nil {
			return err
		}
		res := tx.scoped(ctx, tenantID).Where("id = ?", endpointID).Delete(&WebhookEndpoint{})
		if err := changed(res, "delete webhook endpoint"); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditWebhookEndpointDeleted, e.target(),
			map[string]any{"environment": e.Environment, "url": e.URL, "events": e.Events}, nil)
	})
}

// RotateWebhookSecret gives an endpoint a new secret, which it returns in
// the clear. The one it replaces keeps signing beside it (both signatures
// in webhook-signature) for WebhookSecretRotationGrace; a secret rotated
// before that ended stops at once.
func (s *Store) RotateWebhookSecret(ctx context.Context, tenantID, endpointID int64) (string, error) {
	box, err := s.webhookBox()
	if err != nil {
		return "", err
	}
	secret := webhook.NewSecret()
	err = s.Tx(ctx, func(tx *Store) error {
		e, err := tx.lockWebhookEndpoint(ctx, tenantID, endpointID)
		if err != nil {
			return err
		}
		now := tx.db.NowFunc()
		expires := now.Add(WebhookSecretRotationGrace)
		res := tx.scoped(ctx, tenantID).Model(&WebhookEndpoint{}).Where("id = ? AND secret_sealed = ?", endpointID, e.SecretSealed).
			Updates(map[string]any{"secret_sealed": box.Seal(secret, e.secretBinding()), "previous_secret_sealed": e.SecretSealed,
				"previous_secret_expires_at": expires, "updated_at": now})
		if err := changed(res, "rotate webhook secret"); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditWebhookSecretRotated, e.target(), nil, map[string]any{"previous_secret_expires_at": expires})
	})
	if err != nil {
		return "", err
	}
	return secret, nil
}

// WebhookSecrets are an endpoint's secrets in the clear.
type WebhookSecrets struct {
	Current string
	// Previous still signs until PreviousExpiresAt; "" when none does.
	Previous          string
	PreviousExpiresAt *time.Time
}

// RevealWebhookSecret opens an endpoint's secret (and the previous one
// while it still signs) for the person asking, and records that they saw
// it in the audit log.
func (s *Store) RevealWebhookSecret(ctx context.Context, tenantID, endpointID int64) (*WebhookSecrets, error) {
	var out *WebhookSecrets
	err := s.Tx(ctx, func(tx *Store) error {
		e, err := tx.WebhookEndpointOf(ctx, tenantID, endpointID)
		if err != nil {
			return err
		}
		if out, err = tx.openWebhookSecrets(e, tx.db.NowFunc()); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditWebhookSecretRevealed, e.target(), nil, nil)
	})
	return out, err
}

// openWebhookSecrets opens e's secrets, the previous one only while it signs.
func (s *Store) openWebhookSecrets(e *WebhookEndpoint, now time.Time) (*WebhookSecrets, error) {
	box, err := s.webhookBox()
	if err != nil {
		return nil, err
	}
	current, err := box.Open(e.SecretSealed, e.secretBinding())
	if err != nil {
		return nil, fmt.Errorf("open the secret of webhook endpoint %d: %w", e.ID, err)
	}
	out := &WebhookSecrets{Current: current}
	if e.Rotating(now) {
		if out.Previous, err = box.Open(*e.PreviousSecretSealed, e.secretBinding()); err != nil {
			return nil, fmt.Errorf("open the previous secret of webhook endpoint %d: %w", e.ID, err)
		}
		out.PreviousExpiresAt = e.PreviousSecretExpiresAt
	}
	return out, nil
}

// Signing is the secrets that sign a request now: the current one, then
// the previous one while it still signs.
func (w *WebhookSecrets) Signing() []string {
	if w.Previous == "" {
		return []string{w.Current}
	}
	return []string{w.Current, w.Previous}
}

// WebhookLogPageSize is how many rows a page of the delivery log shows.
const WebhookLogPageSize = 50

// WebhookDeliveryFilter narrows an endpoint's deliveries.
type WebhookDeliveryFilter struct {
	EventType string // "" for every event
	Status    string // one of the Delivery… statuses; "" for all
}

// WebhookDeliveryRow is one line of the deliveries list.
type WebhookDeliveryRow struct {
	WebhookDelivery
	MsgID string
	Test  bool
}

// ListWebhookDeliveries is one page of an endpoint's deliveries, newest
// first; another tenant's endpoint is ErrNotFound.
func (s *Store) ListWebhookDeliveries(ctx context.Context, tenantID, endpointID int64, f WebhookDeliveryFilter, page PageRequest) (Page[WebhookDeliveryRow], error) {
	if _, err := s.WebhookEndpointOf(ctx, tenantID, endpointID); err != nil {
		return Page[WebhookDeliveryRow]{PageRequest: page}, err
	}
	return s.listWebhookDeliveries(ctx, tenantID, endpointID, f, page)
}

// WebhookEndpointWithDeliveries is an endpoint and one page of its
// deliveries, as its page shows them: the endpoint read once.
func (s *Store) WebhookEndpointWithDeliveries(ctx context.Context, tenantID, endpointID int64, f WebhookDeliveryFilter, page PageRequest) (*WebhookEndpoint, Page[WebhookDeliveryRow], error) {
	e, err := s.WebhookEndpointOf(ctx, tenantID, endpointID)
	if err != nil {
		return nil, Page[WebhookDeliveryRow]{PageRequest: page}, err
	}
	out, err := s.listWebhookDeliveries(ctx, tenantID, endpointID, f, page)
	return e, out, err
}

func (s *Store) listWebhookDeliveries(ctx context.Context, tenantID, endpointID int64, f WebhookDeliveryFilter, page PageRequest) (Page[WebhookDeliveryRow], error) {
	out := Page[WebhookDeliveryRow]{PageRequest: page}
	q := s.scoped(ctx, tenantID).Model(&WebhookDelivery{}).Where("endpoint_id = ?", endpointID)
	if f.EventType != "" {
		q = q.Where("event_type = ?", f.EventType)
	}
	if f.Status != "" {
		q = q.Where("status = ?", f.Status)
	}
	if err := countCapped(s.conn(ctx), q.Session(&gorm.Session{}), &out); err != nil {
		return out, fmt.Errorf("count webhook deliveries: %w", err)
	}
	err := s.conn(ctx).Table("(?) AS d", q.Session(&gorm.Session{}).Select("*")).
		Select("d.*, m.msg_id, m.test").
		Joins("JOIN (?) AS m ON m.id = d.message_id", s.scoped(ctx, tenantID).Model(&WebhookMessage{}).Select("id, msg_id, test")).
		Order("d.created_at DESC, d.id DESC").Offset(page.Offset()).Limit(page.Size).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list webhook deliveries: %w", err)
	}
	return out, nil
}

// Attempt outcomes, for the log's filter.
const (
	AttemptSucceeded = "succeeded"
	AttemptFailed    = "failed"
)

// WebhookAttemptFilter narrows an endpoint's attempts.
type WebhookAttemptFilter struct {
	EventType string // "" for every event
	Outcome   string // AttemptSucceeded, AttemptFailed, or "" for both
}

// WebhookAttemptRow is one line of the attempts log: the attempt, its
// delivery's event and message id.
type WebhookAttemptRow struct {
	WebhookAttempt
	EventType string
	MsgID     string
}

// ListWebhookAttempts is one page of an endpoint's attempts, newest first,
// with what each sent and received; another tenant's endpoint is ErrNotFound.
func (s *Store) ListWebhookAttempts(ctx context.Context, tenantID, endpointID int64, f WebhookAttemptFilter, page PageRequest) (Page[WebhookAttemptRow], error) {
	out := Page[WebhookAttemptRow]{PageRequest: page}
	if _, err := s.WebhookEndpointOf(ctx, tenantID, endpointID); err != nil {
		return out, err
	}
	q := s.scoped(ctx, tenantID).Model(&WebhookAttempt{}).Where("endpoint_id = ?", endpointID)
	switch f.Outcome {
	case AttemptSucceeded:
		q = q.Where("succeeded")
	case AttemptFailed:
		q = q.Where("NOT succeeded")
	}
	if f.EventType != "" {
		q = q.Where("delivery_id IN (?)", s.scoped(ctx, tenantID).Model(&WebhookDelivery{}).Select("id").
			Where("endpoint_id = ? AND event_type = ?", endpointID, f.EventType))
	}
	if err := countCapped(s.conn(ctx), q.Session(&gorm.Session{}), &out); err != nil {
		return out, fmt.Errorf("count webhook attempts: %w", err)
	}
	err := s.conn(ctx).Table("(?) AS a", q.Session(&gorm.Session{}).Select("*")).
		Select("a.*, d.event_type, m.msg_id").
		Joins("JOIN (?) AS d ON d.id = a.delivery_id", s.scoped(ctx, tenantID).Model(&WebhookDelivery{}).Select("id, message_id, event_type")).
		Joins("JOIN (?) AS m ON m.id = d.message_id", s.scoped(ctx, tenantID).Model(&WebhookMessage{}).Select("id, msg_id")).
		Order("a.attempted_at DESC, a.id DESC").Offset(page.Offset()).Limit(page.Size).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list webhook attempts: %w", err)
	}
	return out, nil
}

// WebhookDeliveryDetail is one delivery with its message and every attempt.
type WebhookDeliveryDetail struct {
	WebhookDelivery
	Message  WebhookMessage
	Attempts []WebhookAttempt // oldest first
}

// WebhookDeliveryOf loads one of the company's deliveries with its
// attempts, or ErrNotFound.
func (s *Store) WebhookDeliveryOf(ctx context.Context, tenantID, deliveryID int64) (*WebhookDeliveryDetail, error) {
	var d WebhookDeliveryDetail
	if err := s.scoped(ctx, tenantID).Where("id = ?", deliveryID).Take(&d.WebhookDelivery).Error; err != nil {
		return nil, notFound(err, "load webhook delivery")
	}
	if err := s.scoped(ctx, tenantID).Where("id = ?", d.MessageID).Take(&d.Message).Error; err != nil {
		return nil, notFound(err, "load webhook message")
	}
	if err := s.scoped(ctx, tenantID).Where("delivery_id = ?", deliveryID).Order("id").Find(&d.Attempts).Error; err != nil {
		return nil, fmt.Errorf("load webhook attempts: %w", err)
	}
	return &d, nil
}

// ReplayWebhookDelivery sends a delivery again, now, whatever its status:
// the same body and webhook-id (receivers may de-duplicate on it), its
// attempts counted afresh. Its endpoint must be enabled.
func (s *Store) ReplayWebhookDelivery(ctx context.Context, tenantID, deliveryID int64) error {
	return s.Tx(ctx, func(tx *Store) error {
		var d WebhookDelivery
		if err := tx.scoped(ctx, tenantID).Where("id = ?", deliveryID).Take(&d).Error; err != nil {
			return notFound(err, "load webhook delivery")
		}
		e, err := tx.lockWebhookEndpoint(ctx, tenantID, d.EndpointID)
		if err != nil {
			return err
		}
		if !e.Enabled {
			return ErrWebhookEndpointDisabled
		}
		now := tx.db.NowFunc()
		if d.Status == DeliveryPending && d.ClaimedUntil != nil && d.ClaimedUntil.After(now) {
			return ErrWebhookDeliveryInFlight
		}
		// The lease is part of the condition: a worker that claimed it
		// since it was read keeps it.
		if err := tx.requeueDeliveries(ctx, tenantID, "id = ? AND (claimed_until IS NULL OR claimed_until < ?)", deliveryID, now); err != nil {
			return err
		}
		return tx.audit(ctx, tenantID, AuditWebhookDeliveryReplayed, AuditTarget{Type: "webhook_delivery", ID: d.ID, Label: d.EventType},
			map[string]any{"status": d.Status}, map[string]any{"status": DeliveryPending})
	})
}

// ResendFailedWebhookDeliveries sends again every delivery of an endpoint
// created since then that did not get through (failed, or stopped when the
// endpoint was disabled), and returns how many. Its endpoint must be enabled.
func (s *Store) ResendFailedWebhookDeliveries(ctx context.Context, tenantID, endpointID int64, since time.Time) (int64, error) {
	var n int64
	err := s.Tx(ctx, func(tx *Store) error {
		e, err := tx.lockWebhookEndpoint(ctx, tenantID, endpointID)
		if err != nil {
			return err
		}
		if !e.Enabled {
			return ErrWebhookEndpointDisabled
		}
		res := tx.scoped(ctx, tenantID).Model(&WebhookDelivery{}).
			Where("endpoint_id = ? AND status IN ? AND created_at >= ?", endpointID, []string{DeliveryFailed, DeliveryDisabled}, since.UTC()).
			Updates(requeued(tx.db.NowFunc()))
		if res.Error != nil {
			return fmt.Errorf("resend failed deliveries: %w", res.Error)
		}
		if n = res.RowsAffected; n == 0 {
			return nil
		}
		return tx.audit(ctx, tenantID, AuditWebhookDeliveryReplayed, e.target(), nil,
			map[string]any{"resent": n, "since": since.UTC().Format(time.RFC3339)})
	})
	return n, err
}

func (s *Store) requeueDeliveries(ctx context.Context, tenantID int64, where string, args ...any) error {
	res := s.scoped(ctx, tenantID).Model(&WebhookDelivery{}).Where(where, args...).Updates(requeued(s.db.NowFunc()))
	return changed(res, "requeue webhook delivery")
}

func requeued(now time.Time) map[string]any {
	return map[string]any{"status": DeliveryPending, "attempts": 0, "next_attempt_at": now,
		"claimed_until": nil, "claimed_by": "", "updated_at": now}
}

// SendWebhookTestEvent queues a test event of eventType (order.created when
// empty) to one endpoint, whatever it subscribes to: sample data shaped by
// its fields, marked as a test in the log. Its endpoint must be enabled.
func (s *Store) SendWebhookTestEvent(ctx context.Context, tenantID, endpointID int64, eventType string) (*WebhookDelivery, error) {
	if eventType == "" {
		eventType = EventOrderCreated
	}
	if WebhookEventObject(eventType) == "" {
		return nil, FieldErrors{"event": "Choose an event from the list."}
	}
	var out *WebhookDelivery
	err := s.Tx(ctx, func(tx *Store) error {
		e, err := tx.WebhookEndpointOf(ctx, tenantID, endpointID)
		if err != nil {
			return err
		}
		if !e.Enabled {
			return ErrWebhookEndpointDisabled
		}
		deliveries, err := tx.writeWebhookEvent(ctx, tenantID, e.Environment, eventType, tx.db.NowFunc(),
			SampleWebhookObject(eventType), []WebhookEndpoint{*e}, true)
		if err != nil {
			return err
		}
		out = &deliveries[0]
		return nil
	})
	return out, err
}

// truncateText keeps the first max characters of s.
func truncateText(s string, limit int) string {
	r := []rune(s)
	if len(r) <= limit {
		return s
	}
	return string(r[:limit])
}

// LastWebhookDeliveries is each of the company's endpoints' newest
// delivery, by endpoint id, for the endpoints list: one query, whatever the
// number of endpoints. An endpoint that never had one is missing.
func (s *Store) LastWebhookDeliveries(ctx context.Context, tenantID int64) (map[int64]WebhookDelivery, error) {
	newest := s.scoped(ctx, tenantID).Model(&WebhookDelivery{}).Select("MAX(id)").Group("endpoint_id")
	var rows []WebhookDelivery
	if err := s.scoped(ctx, tenantID).Where("id IN (?)", newest).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("last webhook deliveries: %w", err)
	}
	out := make(map[int64]WebhookDelivery, len(rows))
	for _, d := range rows {
		out[d.EndpointID] = d
	}
	return out, nil
}
