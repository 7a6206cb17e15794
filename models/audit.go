package models

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Actor is who is making the request: the signed-in user (zero for nobody)
// and the client's IP. Handlers put it in the request's context once; every
// audit event written during the request names it.
type Actor struct {
	UserID   int64
	Email    string // for an API key, its name and masked key
	IP       string
	APIKeyID int64 // the key a call of the API used; zero for a person
}

type actorKey struct{}

// WithActor returns ctx carrying actor.
func WithActor(ctx context.Context, actor Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom is the actor ctx carries; the zero Actor when none.
func ActorFrom(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// Audit actions: what an event records. The database refuses any other.
const (
	AuditMemberAdded          = "member.added"
	AuditMemberRemoved        = "member.removed"
	AuditMemberLeft           = "member.left"
	AuditMemberRoleChanged    = "member.role_changed"
	AuditMemberTemplates      = "member.templates_changed"
	AuditOwnershipTransferred = "ownership.transferred"
	AuditInvitationSent       = "invitation.sent"
	AuditInvitationResent     = "invitation.resent"
	AuditInvitationAccepted   = "invitation.accepted"
	AuditInvitationDeclined   = "invitation.declined"
	AuditInvitationRevoked    = "invitation.revoked"
	AuditTenantCreated        = "tenant.created"
	AuditTenantActivated      = "tenant.activated"
	AuditTenantDeactivated    = "tenant.deactivated"
	AuditSettingsSaved        = "settings.saved"
	AuditDeviceAdded          = "device.added"
	AuditDeviceImported       = "device.imported"
	AuditDeviceDeprovisioned  = "device.deprovisioned"
	AuditDeviceStatusChanged  = "device.status_changed"
	AuditDeviceModelChanged   = "device.model_changed"
	AuditTemplateCreated      = "template.created"
	AuditTemplateUpdated      = "template.updated"
	AuditTemplateDeleted      = "template.deleted"
	AuditOrderCreated         = "order.created"
	AuditCompanyEntered       = "company.entered"
	AuditSignIn               = "auth.signin"
	AuditSignInFailed         = "auth.signin_failed"

	AuditSSOConnectionSaved    = "sso.connection_saved"
	AuditSSOConnectionDeleted  = "sso.connection_deleted"
	AuditSSOInheritanceChanged = "sso.inheritance_changed"
	AuditSSODomainVerified     = "sso.domain_verified"
	AuditSSODomainApproved     = "sso.domain_approved"
	AuditSSODomainRefused      = "sso.domain_refused"
	AuditSSOIdentityLinked     = "sso.identity_linked"

	AuditOrderStatusChanged = "order.status_changed"

	AuditAPIKeyCreated             = "api_key.created"
	AuditAPIKeyRevoked             = "api_key.revoked"
	AuditAPIKeyRolled              = "api_key.rolled" //nolint:gosec // an audit action's name, not a credential
	AuditProductionAccessRequested = "production_access.requested"
	AuditProductionAccessApproved  = "production_access.approved"
	AuditProductionAccessDeclined  = "production_access.declined"

	AuditWebhookEndpointCreated  = "webhook_endpoint.created"
	AuditWebhookEndpointUpdated  = "webhook_endpoint.updated"
	AuditWebhookEndpointDeleted  = "webhook_endpoint.deleted"
	AuditWebhookEndpointEnabled  = "webhook_endpoint.enabled"
	AuditWebhookEndpointDisabled = "webhook_endpoint.disabled"
	AuditWebhookSecretRotated    = "webhook_endpoint.secret_rotated"
	AuditWebhookSecretRevealed   = "webhook_endpoint.secret_revealed"
	AuditWebhookDeliveryReplayed = "webhook_delivery.replayed"

	AuditBillingPlanCreated  = "billing_plan.created"
	AuditBillingPlanUpdated  = "billing_plan.updated"
	AuditBillingPlanArchived = "billing_plan.archived"
	AuditBillingTermsChanged = "billing_terms.changed"
)

// AuditAction is one known action and how people read it.
type AuditAction struct {
	Key   string
	Label string
}

// AuditActions lists every action, for the filter's dropdown.
var AuditActions = []AuditAction{
	{AuditMemberAdded, "Member added"},
	{AuditMemberRemoved, "Member removed"},
	{AuditMemberLeft, "Member left"},
	{AuditMemberRoleChanged, "Member role changed"},
	{AuditMemberTemplates, "Member's templates changed"},
	{AuditOwnershipTransferred, "Ownership transferred"},
	{AuditInvitationSent, "Invitation sent"},
	{AuditInvitationResent, "Invitation resent"},
	{AuditInvitationAccepted, "Invitation accepted"},
	{AuditInvitationDeclined, "Invitation declined"},
	{AuditInvitationRevoked, "Invitation revoked"},
	{AuditTenantCreated, "Company created"},
	{AuditTenantActivated, "Company activated"},
	{AuditTenantDeactivated, "Company deactivated"},
	{AuditSettingsSaved, "Settings saved"},
	{AuditDeviceAdded, "Device added"},
	{AuditDeviceImported, "Devices imported"},
	{AuditDeviceDeprovisioned, "Device deprovisioned"},
	{AuditDeviceStatusChanged, "Device status changed"},
	{AuditDeviceModelChanged, "Device model changed"},
	{AuditTemplateCreated, "Template created"},
	{AuditTemplateUpdated, "Template edited"},
	{AuditTemplateDeleted, "Template deleted"},
	{AuditOrderCreated, "Order created"},
	{AuditCompanyEntered, "Company entered"},
	{AuditSignIn, "Signed in"},
	{AuditSignInFailed, "Sign-in failed"},
	{AuditSSOConnectionSaved, "Single sign-on saved"},
	{AuditSSOConnectionDeleted, "Single sign-on removed"},
	{AuditSSOInheritanceChanged, "Single sign-on inheritance changed"},
	{AuditSSODomainVerified, "SSO domain verified"},
	{AuditSSODomainApproved, "SSO domain approved"},
	{AuditSSODomainRefused, "SSO domain refused"},
	{AuditSSOIdentityLinked, "SSO identity linked"},
	{AuditOrderStatusChanged, "Order status changed"},
	{AuditAPIKeyCreated, "API key created"},
	{AuditAPIKeyRevoked, "API key revoked"},
	{AuditAPIKeyRolled, "API key rolled"},
	{AuditProductionAccessRequested, "Production access requested"},
	{AuditProductionAccessApproved, "Production access approved"},
	{AuditProductionAccessDeclined, "Production access declined"},
	{AuditWebhookEndpointCreated, "Webhook endpoint created"},
	{AuditWebhookEndpointUpdated, "Webhook endpoint edited"},
	{AuditWebhookEndpointDeleted, "Webhook endpoint deleted"},
	{AuditWebhookEndpointEnabled, "Webhook endpoint enabled"},
	{AuditWebhookEndpointDisabled, "Webhook endpoint disabled"},
	{AuditWebhookSecretRotated, "Webhook secret rotated"},
	{AuditWebhookSecretRevealed, "Webhook secret revealed"},
	{AuditWebhookDeliveryReplayed, "Webhook delivery replayed"},
	{AuditBillingPlanCreated, "Billing plan created"},
	{AuditBillingPlanUpdated, "Billing plan edited"},
	{AuditBillingPlanArchived, "Billing plan archived"},
	{AuditBillingTermsChanged, "Billing terms changed"},
}

// AuditActionLabel is how people read an action key.
func AuditActionLabel(key string) string {
	for _, a := range AuditActions {
		if a.Key == key {
			return a.Label
		}
	}
	return key
}

// AuditTarget is what an event is about.
type AuditTarget struct {
	Type  string // "user", "invitation", "tenant", "device", "template", "order"
	ID    int64
	Label string // an email, a name, an identifier: readable after the row is gone
}

// AuditEvent is one row of the audit log.
type AuditEvent struct {
	ID          int64
	TenantID    int64
	ActorUserID *int64
	ActorEmail  string
	Action      string
	TargetType  string
	TargetID    string
	TargetLabel string
	Before      *string
	After       *string
	IP          string `gorm:"column:ip"`
	CreatedAt   time.Time
}

// ActionLabel is the event's action as people read it.
func (e AuditEvent) ActionLabel() string { return AuditActionLabel(e.Action) }

// auditTargetLabels are the kinds of target whose key does not read as
// words; the others ("user", "device"…) read as they are.
var auditTargetLabels = map[string]string{"sso_connection": "single sign-on", "sso_domain": "SSO domain"}

// TargetTypeLabel is the kind of thing the event is about, as people read it.
func (e AuditEvent) TargetTypeLabel() string {
	if label, ok := auditTargetLabels[e.TargetType]; ok {
		return label
	}
	return strings.ReplaceAll(e.TargetType, "_", " ")
}

// AuditChange is one field of an event's before and after, as text.
type AuditChange struct {
	Field  string
	Before string // "" when the field had no earlier value
	After  string // "" when the field has no value any more
}

// Changes lists the fields the event's before and after name, in order,
// each value as text (strings bare, anything else as JSON).
func (e AuditEvent) Changes() []AuditChange {
	before, after := auditFields(e.Before), auditFields(e.After)
	keys := make([]string, 0, len(before)+len(after))
	for k := range before {
		keys = append(keys, k)
	}
	for k := range after {
		if _, dup := before[k]; !dup {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	out := make([]AuditChange, 0, len(keys))
	for _, k := range keys {
		out = append(out, AuditChange{Field: strings.ReplaceAll(k, "_", " "), Before: before[k], After: after[k]})
	}
	return out
}

func auditFields(raw *string) map[string]string {
	out := map[string]string{}
	if raw == nil {
		return out
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(*raw), &m); err != nil {
		out["value"] = *raw
		return out
	}
	for k, v := range m {
		var s string
		if json.Unmarshal(v, &s) == nil {
			out[k] = s
		} else {
			out[k] = string(v)
		}
	}
	return out
}

// audit records one event on tenantID, through s: called on the transaction
// (tx) that makes the change, it commits or rolls back with it. The actor
// comes from ctx; before and after are JSON-encoded (nil stays NULL).
func (s *Store) audit(ctx context.Context, tenantID int64, action string, target AuditTarget, before, after any) error {
	if tenantID <= 0 {
		return ErrNoTenant
	}
	actor := ActorFrom(ctx)
	e := &AuditEvent{
		TenantID: tenantID, ActorEmail: actor.Email, Action: action, IP: actor.IP,
		TargetType: target.Type, TargetLabel: target.Label,
	}
	if actor.UserID > 0 {
		e.ActorUserID = &actor.UserID
	}
	if target.ID != 0 {
		e.TargetID = strconv.FormatInt(target.ID, 10)
	}
	var err error
	if e.Before, err = auditJSON(before); err != nil {
		return err
	}
	if e.After, err = auditJSON(after); err != nil {
		return err
	}
	if err := s.conn(ctx).Create(e).Error; err != nil {
		return fmt.Errorf("record %s: %w", action, err)
	}
	return nil
}

func auditJSON(v any) (*string, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode audit value: %w", err)
	}
	s := string(b)
	return &s, nil
}

// auditUser records an event about a user (a member), labelled by their email.
func (s *Store) auditUser(ctx context.Context, tenantID int64, action string, userID int64, before, after any) error {
	u, err := s.UserByID(ctx, userID)
	if err != nil {
		return err
	}
	return s.audit(ctx, tenantID, action, AuditTarget{Type: "user", ID: userID, Label: u.Email}, before, after)
}

// asPerson is ctx with the actor replaced by someone acting without being
// signed in (an invitee answering), keeping the request's IP.
func asPerson(ctx context.Context, userID int64, email string) context.Context {
	return WithActor(ctx, Actor{UserID: userID, Email: email, IP: ActorFrom(ctx).IP})
}

// Audit records an event, for what handlers observe rather than change:
// signing in, a failed sign-in, entering a company. It is one statement, so
// the transaction already open suffices; without one it opens its own, where
// the row-level security scope applies.
func (s *Store) Audit(ctx context.Context, tenantID int64, action string, target AuditTarget, before, after any) error {
	if s.inTx || requestTx(ctx) != nil {
		return s.audit(ctx, tenantID, action, target, before, after)
	}
	return s.Tx(ctx, func(tx *Store) error { return tx.audit(ctx, tenantID, action, target, before, after) })
}

// AuditFilter narrows the audit log. From and To are instants: events at or
// after From and before To; zero means no bound.
type AuditFilter struct {
	ActorEmail string
	Action     string
	From, To   time.Time
}

// AuditRow is one line of the audit log, with the company it happened in.
type AuditRow struct {
	AuditEvent
	TenantName string
}

// AuditPageSize is how many events a page of the audit log shows.
const AuditPageSize = 50

// MaxAuditExport bounds one CSV export.
const MaxAuditExport = 100000

// auditEvents is the one place that decides whose events a viewer sees:
// those of tenantID, plus, when withChildren (the parent's Super Admins),
// those of its direct sub-tenants — never any other tenant's.
func (s *Store) auditEvents(ctx context.Context, tenantID int64, withChildren bool, f AuditFilter) *gorm.DB {
	var q *gorm.DB
	if withChildren && tenantID > 0 {
		q = s.conn(ctx).Table("audit_events").
			Where("audit_events.tenant_id IN (SELECT id FROM tenants WHERE id = ? OR parent_id = ?)", tenantID, tenantID)
	} else {
		q = s.scoped(ctx, tenantID).Table("audit_events")
	}
	if email := strings.TrimSpace(f.ActorEmail); email != "" {
		q = q.Where(`lower(audit_events.actor_email) LIKE ? ESCAPE '\'`, LikePattern(email))
	}
	if f.Action != "" {
		q = q.Where("audit_events.action = ?", f.Action)
	}
	if !f.From.IsZero() {
		q = q.Where("audit_events.created_at >= ?", f.From.UTC())
	}
	if !f.To.IsZero() {
		q = q.Where("audit_events.created_at < ?", f.To.UTC())
	}
	return q
}

// AuditLog is one page of the audit log, newest first: two queries however
// long the log is, in the order the (tenant_id, created_at DESC, id DESC)
// index keeps.
func (s *Store) AuditLog(ctx context.Context, tenantID int64, withChildren bool, f AuditFilter, page PageRequest) (Page[AuditRow], error) {
	out := Page[AuditRow]{PageRequest: page}
	if tenantID <= 0 {
		return out, ErrNoTenant
	}
	if err := countCapped(s.conn(ctx), s.auditEvents(ctx, tenantID, withChildren, f), &out); err != nil {
		return out, fmt.Errorf("count audit events: %w", err)
	}
	err := s.auditRows(ctx, tenantID, withChildren, f).Offset(page.Offset()).Limit(page.Size).Scan(&out.Items).Error
	if err != nil {
		return out, fmt.Errorf("list audit events: %w", err)
	}
	return out, nil
}

// AuditExport is every event the filter matches, newest first, up to
// MaxAuditExport, for the CSV download.
func (s *Store) AuditExport(ctx context.Context, tenantID int64, withChildren bool, f AuditFilter) ([]AuditRow, error) {
	if tenantID <= 0 {
		return nil, ErrNoTenant
	}
	var rows []AuditRow
	if err := s.auditRows(ctx, tenantID, withChildren, f).Limit(MaxAuditExport).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("export audit events: %w", err)
	}
	return rows, nil
}

func (s *Store) auditRows(ctx context.Context, tenantID int64, withChildren bool, f AuditFilter) *gorm.DB {
	return s.auditEvents(ctx, tenantID, withChildren, f).
		Select("audit_events.*, tenants.name AS tenant_name").
		Joins("JOIN tenants ON tenants.id = audit_events.tenant_id").
		Order("audit_events.created_at DESC, audit_events.id DESC")
}
