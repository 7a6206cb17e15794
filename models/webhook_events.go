package models

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"gorm.io/gorm"
)

// Webhook event types: what happened, named as the payload's "type".
const (
	EventOrderCreated        = "order.created"
	EventOrderStatusChanged  = "order.status_changed"
	EventOrderCompleted      = "order.completed"
	EventOrderCancelled      = "order.cancelled"
	EventDeviceCreated       = "device.created"
	EventDeviceStatusChanged = "device.status_changed"
	EventMemberAdded         = "member.added"
	EventMemberRemoved       = "member.removed"
	EventMemberRoleChanged   = "member.role_changed"
	EventSubtenantCreated    = "subtenant.created"
)

// Webhook object types: what an event's "data" describes.
const (
	WebhookObjectOrder     = "order"
	WebhookObjectDevice    = "device"
	WebhookObjectMember    = "member"
	WebhookObjectSubtenant = "subtenant"
)

// WebhookEventType is one event an endpoint may receive, for the form.
type WebhookEventType struct {
	Type        string
	Object      string // one of the WebhookObject… types: the fields its data carries
	Description string
}

// WebhookEventTypes lists every event, in the order the form shows them.
var WebhookEventTypes = []WebhookEventType{
	{EventOrderCreated, WebhookObjectOrder, "An order was created."},
	{EventOrderStatusChanged, WebhookObjectOrder, "An order moved to another status (also sent with order.completed and order.cancelled)."},
	{EventOrderCompleted, WebhookObjectOrder, "An order was completed."},
	{EventOrderCancelled, WebhookObjectOrder, "An order was cancelled."},
	{EventDeviceCreated, WebhookObjectDevice, "A device was added or imported."},
	{EventDeviceStatusChanged, WebhookObjectDevice, "A device became active or inactive, or was deprovisioned."},
	{EventMemberAdded, WebhookObjectMember, "Someone joined the company."},
	{EventMemberRemoved, WebhookObjectMember, "Someone was removed from the company, or left it."},
	{EventMemberRoleChanged, WebhookObjectMember, "A member's role changed."},
	{EventSubtenantCreated, WebhookObjectSubtenant, "A sub-tenant was created below the company."},
}

// WebhookEventObject is the object type an event's data describes, or ""
// for an unknown event.
func WebhookEventObject(eventType string) string {
	for _, e := range WebhookEventTypes {
		if e.Type == eventType {
			return e.Object
		}
	}
	return ""
}

// WebhookField is one field an object's data may carry.
type WebhookField struct {
	Name  string
	Label string
	// Personal marks data about a person: off unless an Admin chooses it.
	Personal bool
	// Example is its value in a preview and in a test event.
	Example any
}

// WebhookObject is an object type and the fields its data may carry.
type WebhookObject struct {
	Type   string
	Label  string
	Fields []WebhookField
}

// WebhookObjects lists every object type with its fields, in the order
// the form shows them. Fields marked only for some events (previous_status,
// previous_role) are left out of the data of the others.
var WebhookObjects = []WebhookObject{
	{WebhookObjectOrder, "Order", []WebhookField{
		{"id", "ID", false, 1042},
		{"reference", "Reference", false, "PO-2026-0042"},
		{"status", "Status", false, string(OrderPending)},
		{"previous_status", "Previous status (status changes)", false, nil},
		{"template_id", "Template ID", false, 7},
		{"template_name", "Template name", false, "Background check"},
		{"environment", "Environment (live or test)", false, string(OrderTest)},
		{"created_at", "Created at", false, "2026-01-15T09:30:00Z"},
		{"updated_at", "Updated at", false, "2026-01-15T09:30:00Z"},
		{"applicant_name", "Applicant's name", true, "Jordan Example"},
		{"applicant_email", "Applicant's email", true, "jordan@example.com"},
	}},
	{WebhookObjectDevice, "Device", []WebhookField{
		{"id", "ID", false, 311},
		{"identifier", "Identifier", false, "GATE-0042"},
		{"status", "Status", false, string(DeviceActive)},
		{"previous_status", "Previous status (status changes)", false, nil},
		{"model", "Model", false, "Canopy Gate 2"},
		{"created_at", "Created at", false, "2026-01-15T09:30:00Z"},
		{"updated_at", "Updated at", false, "2026-01-15T09:30:00Z"},
	}},
	{WebhookObjectMember, "Member", []WebhookField{
		{"user_id", "User ID", false, 58},
		{"role", "Role", false, string(RoleEditor)},
		{"previous_role", "Previous role (role changes)", false, nil},
		{"joined_at", "Joined at", false, "2026-01-15T09:30:00Z"},
		{"email", "Email", true, "sam@example.com"},
		{"first_name", "First name", true, "Sam"},
		{"last_name", "Last name", true, "Example"},
	}},
	{WebhookObjectSubtenant, "Sub-tenant", []WebhookField{
		{"id", "ID", false, 23},
		{"name", "Name", false, "Example Branch"},
		{"subdomain", "Subdomain", false, "example-branch"},
		{"parent_id", "Parent ID", false, 2},
		{"created_at", "Created at", false, "2026-01-15T09:30:00Z"},
	}},
}

func webhookObject(objectType string) (WebhookObject, bool) {
	for _, o := range WebhookObjects {
		if o.Type == objectType {
			return o, true
		}
	}
	return WebhookObject{}, false
}

// WebhookFields is an endpoint's choice of payload fields: per object
// type, the names of the fields its data carries. An object type missing
// from it gets its defaults.
type WebhookFields map[string][]string

// DefaultWebhookFields is every field that is not personal data.
func DefaultWebhookFields() WebhookFields {
	out := WebhookFields{}
	for _, o := range WebhookObjects {
		out[o.Type] = defaultFieldsOf(o)
	}
	return out
}

func defaultFieldsOf(o WebhookObject) []string {
	var names []string
	for _, f := range o.Fields {
		if !f.Personal {
			names = append(names, f.Name)
		}
	}
	return names
}

// For is the fields chosen for an object type: its defaults when none
// were chosen for it, in the catalog's order.
func (f WebhookFields) For(objectType string) []string {
	o, ok := webhookObject(objectType)
	if !ok {
		return nil
	}
	chosen, ok := f[objectType]
	if !ok {
		return defaultFieldsOf(o)
	}
	var names []string
	for _, field := range o.Fields {
		if slices.Contains(chosen, field.Name) {
			names = append(names, field.Name)
		}
	}
	return names
}

// Chosen tells whether a field of an object type is in the choice.
func (f WebhookFields) Chosen(objectType, field string) bool {
	return slices.Contains(f.For(objectType), field)
}

// normalized is the choice with every object type present, fields in the
// catalog's order, unknown object types and fields refused.
func (f WebhookFields) normalized() (WebhookFields, FieldErrors) {
	out := WebhookFields{}
	for objectType, names := range f {
		o, ok := webhookObject(objectType)
		if !ok {
			return nil, FieldErrors{"fields": "Choose fields from the list."}
		}
		for _, n := range names {
			if !slices.ContainsFunc(o.Fields, func(field WebhookField) bool { return field.Name == n }) {
				return nil, FieldErrors{"fields": "Choose fields from the list."}
			}
		}
	}
	for _, o := range WebhookObjects {
		out[o.Type] = f.For(o.Type)
		if out[o.Type] == nil {
			out[o.Type] = []string{}
		}
	}
	return out, nil
}

func (f WebhookFields) encode() string {
	b, err := json.Marshal(f)
	if err != nil {
		panic(err) // a map of string slices always encodes
	}
	return string(b)
}

func decodeWebhookFields(raw string) WebhookFields {
	var f WebhookFields
	if err := json.Unmarshal([]byte(raw), &f); err != nil || f == nil {
		return DefaultWebhookFields()
	}
	return f
}

// webhookPayload is the request body of an event, to the Standard Webhooks
// shape: its type, when it happened, and the object's chosen fields.
type webhookPayload struct {
	Type      string         `json:"type"`
	Timestamp string         `json:"timestamp"`
	Data      map[string]any `json:"data"`
}

// ShapeWebhookPayload is the body an endpoint with fields receives for an
// event about object (every field of it, by name) at at: the chosen
// fields only, a field the object does not have (previous_status outside
// status changes) left out.
func ShapeWebhookPayload(eventType string, at time.Time, object map[string]any, fields WebhookFields) ([]byte, error) {
	data := map[string]any{}
	for _, name := range fields.For(WebhookEventObject(eventType)) {
		if v, ok := object[name]; ok && v != nil {
			data[name] = v
		}
	}
	body, err := json.Marshal(webhookPayload{Type: eventType, Timestamp: at.UTC().Format(time.RFC3339), Data: data})
	if err != nil {
		return nil, fmt.Errorf("shape %s payload: %w", eventType, err)
	}
	return body, nil
}

// SampleWebhookObject is an example object of the type an event
// describes, from the catalog's examples: what previews and test events show.
func SampleWebhookObject(eventType string) map[string]any {
	o, _ := webhookObject(WebhookEventObject(eventType))
	out := map[string]any{}
	for _, f := range o.Fields {
		out[f.Name] = f.Example
	}
	switch eventType {
	case EventOrderStatusChanged:
		out["status"], out["previous_status"] = string(OrderInProgress), string(OrderPending)
	case EventOrderCompleted:
		out["status"], out["previous_status"] = string(OrderCompleted), string(OrderInProgress)
	case EventOrderCancelled:
		out["status"], out["previous_status"] = string(OrderCancelled), string(OrderPending)
	case EventDeviceStatusChanged:
		out["status"], out["previous_status"] = string(DeviceInactive), string(DeviceActive)
	case EventMemberRoleChanged:
		out["role"], out["previous_role"] = string(RoleAdmin), string(RoleEditor)
	}
	return out
}

// WebhookPreview is the JSON, indented, that an endpoint with fields would
// receive for an event of eventType, with sample data: the form's live
// preview. An unknown event type is ErrNotFound.
func WebhookPreview(eventType string, fields WebhookFields) ([]byte, error) {
	if WebhookEventObject(eventType) == "" {
		return nil, fmt.Errorf("event %q: %w", eventType, ErrNotFound)
	}
	body, err := ShapeWebhookPayload(eventType, time.Date(2026, 1, 15, 9, 30, 0, 0, time.UTC), SampleWebhookObject(eventType), fields)
	if err != nil {
		return nil, err
	}
	var pretty map[string]any
	_ = json.Unmarshal(body, &pretty)
	return json.MarshalIndent(pretty, "", "  ")
}

// newWebhookMessageID is a message's webhook-id: msg_ and 26 random
// base32 characters (130 bits).
func newWebhookMessageID() string { return "msg_" + strings.ToLower(rand.Text()) }

// webhookEnvironmentsOf are the endpoints' environments an event reaches:
// a live order production endpoints, a test order sandbox endpoints, and
// what has no test version (devices, members, sub-tenants) both, so that
// integrators can try those events on a sandbox endpoint too.
func webhookEnvironmentsOf(order *Order) []WebhookEnvironment {
	switch {
	case order == nil:
		return []WebhookEnvironment{WebhookSandbox, WebhookProduction}
	case order.Environment == OrderTest:
		return []WebhookEnvironment{WebhookSandbox}
	}
	return []WebhookEnvironment{WebhookProduction}
}

// emitWebhookEvent writes an event, in the transaction of the change that
// caused it, for every enabled endpoint of the tenant in envs subscribed
// to eventType: one message per environment and one delivery per endpoint,
// whose body is shaped now by the endpoint's chosen fields. object builds
// the object's every field; it runs only when some endpoint wants the
// event, so a company without webhooks pays one indexed read per change.
// The delivery worker sends the rest after the commit; a rolled-back
// change leaves no event.
func (s *Store) emitWebhookEvent(ctx context.Context, tenantID int64, envs []WebhookEnvironment, eventType string, object func() (map[string]any, error)) error {
	return s.emitWebhookEvents(ctx, tenantID, envs, eventType, func() ([]map[string]any, error) {
		o, err := object()
		return []map[string]any{o}, err
	})
}

// emitWebhookEvents is emitWebhookEvent for several objects at once (a
// device import): one event each, the endpoints read once.
func (s *Store) emitWebhookEvents(ctx context.Context, tenantID int64, envs []WebhookEnvironment, eventType string, objects func() ([]map[string]any, error)) error {
	var endpoints []WebhookEndpoint
	err := s.webhookEndpointsFor(ctx, tenantID, envs).Select("id, tenant_id, environment, events, fields").
		Order("id").Find(&endpoints).Error
	if err != nil {
		return fmt.Errorf("emit %s: %w", eventType, err)
	}
	endpoints = slices.DeleteFunc(endpoints, func(e WebhookEndpoint) bool { return !e.Receives(eventType) })
	if len(endpoints) == 0 {
		return nil
	}
	all, err := objects()
	if err != nil {
		return fmt.Errorf("emit %s: %w", eventType, err)
	}
	now := s.db.NowFunc()
	for _, env := range envs {
		var mine []WebhookEndpoint
		for _, e := range endpoints {
			if e.Environment == env {
				mine = append(mine, e)
			}
		}
		if len(mine) == 0 {
			continue
		}
		for _, object := range all {
			if _, err := s.writeWebhookEvent(ctx, tenantID, env, eventType, now, object, mine, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// webhookEndpointsFor is the tenant's enabled endpoints in envs, those an
// event there may reach: as a subquery, whether there are any tells a
// change, in a statement it sends anyway, whether it has an event to emit.
func (s *Store) webhookEndpointsFor(ctx context.Context, tenantID int64, envs []WebhookEnvironment) *gorm.DB {
	return s.scoped(ctx, tenantID).Model(&WebhookEndpoint{}).Where("enabled AND environment IN ?", envs)
}

// writeWebhookEvent writes one message and its deliveries to endpoints.
func (s *Store) writeWebhookEvent(ctx context.Context, tenantID int64, env WebhookEnvironment, eventType string, at time.Time,
	object map[string]any, endpoints []WebhookEndpoint, test bool) ([]WebhookDelivery, error) {
	msg := &WebhookMessage{TenantID: tenantID, Environment: env, EventType: eventType, MsgID: newWebhookMessageID(), Test: test, CreatedAt: at}
	if err := s.conn(ctx).Create(msg).Error; err != nil {
		return nil, fmt.Errorf("write %s event: %w", eventType, err)
	}
	deliveries := make([]WebhookDelivery, 0, len(endpoints))
	for _, e := range endpoints {
		body, err := ShapeWebhookPayload(eventType, at, object, decodeWebhookFields(e.Fields))
		if err != nil {
			return nil, err
		}
		deliveries = append(deliveries, WebhookDelivery{TenantID: tenantID, EndpointID: e.ID, MessageID: msg.ID, EventType: eventType,
			Body: string(body), Status: DeliveryPending, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at})
	}
	if err := s.conn(ctx).Create(&deliveries).Error; err != nil {
		return nil, fmt.Errorf("write %s deliveries: %w", eventType, err)
	}
	return deliveries, nil
}

// The events of each kind of object: one small function each, which the
// changes call in their transaction.

// emitOrderEvent announces an order event (order.created, …) in the
// transaction that made it: a live order to production endpoints, a test
// order to sandbox ones. Every way of creating an order calls it with
// EventOrderCreated; status changes go through emitOrderStatusEvents.
func (s *Store) emitOrderEvent(ctx context.Context, o *Order, eventType string) error {
	return s.orderEvent(ctx, o, eventType, nil)
}

// orderEvent is emitOrderEvent with the status the order left, for status
// changes (the data's previous_status).
func (s *Store) orderEvent(ctx context.Context, o *Order, eventType string, from *OrderStatus) error {
	return s.emitWebhookEvent(ctx, o.TenantID, webhookEnvironmentsOf(o), eventType, func() (map[string]any, error) {
		var names []string
		if err := s.scoped(ctx, o.TenantID).Model(&Template{}).Where("id = ?", o.TemplateID).Pluck("name", &names).Error; err != nil {
			return nil, fmt.Errorf("load the order's template: %w", err)
		}
		data := map[string]any{
			"id": o.ID, "reference": o.Reference, "status": string(o.Status), "template_id": o.TemplateID,
			"environment": string(o.Environment), "created_at": o.CreatedAt.UTC().Format(time.RFC3339),
			"updated_at": o.UpdatedAt.UTC().Format(time.RFC3339), "applicant_name": o.ApplicantName, "applicant_email": o.ApplicantEmail,
		}
		if len(names) > 0 {
			data["template_name"] = names[0]
		}
		if from != nil {
			data["previous_status"] = string(*from)
		}
		return data, nil
	})
}

// emitOrderStatusEvents announces a status change: order.status_changed,
// and order.completed or order.cancelled when it reached one of those.
func (s *Store) emitOrderStatusEvents(ctx context.Context, o *Order, from OrderStatus) error {
	if err := s.orderEvent(ctx, o, EventOrderStatusChanged, &from); err != nil {
		return err
	}
	switch o.Status {
	case OrderCompleted:
		return s.orderEvent(ctx, o, EventOrderCompleted, &from)
	case OrderCancelled:
		return s.orderEvent(ctx, o, EventOrderCancelled, &from)
	}
	return nil
}

func deviceWebhookData(d *Device) map[string]any {
	return map[string]any{"id": d.ID, "identifier": d.Identifier, "status": string(d.Status), "model": d.Model,
		"created_at": d.CreatedAt.UTC().Format(time.RFC3339), "updated_at": d.UpdatedAt.UTC().Format(time.RFC3339)}
}

// emitDeviceCreated announces new devices (one added, or an import's).
func (s *Store) emitDeviceCreated(ctx context.Context, tenantID int64, devices ...Device) error {
	return s.emitWebhookEvents(ctx, tenantID, webhookEnvironmentsOf(nil), EventDeviceCreated, func() ([]map[string]any, error) {
		out := make([]map[string]any, len(devices))
		for i := range devices {
			out[i] = deviceWebhookData(&devices[i])
		}
		return out, nil
	})
}

// emitDeviceChange announces a device's change of status (deprovisioning
// too); a change of its model is no event.
func (s *Store) emitDeviceChange(ctx context.Context, was, d *Device) error {
	if was.Status == d.Status {
		return nil
	}
	return s.emitWebhookEvent(ctx, d.TenantID, webhookEnvironmentsOf(nil), EventDeviceStatusChanged, func() (map[string]any, error) {
		data := deviceWebhookData(d)
		data["previous_status"] = string(was.Status)
		return data, nil
	})
}

func memberWebhookData(m *Membership, u *User) map[string]any {
	return map[string]any{"user_id": m.UserID, "role": string(m.Role), "joined_at": m.CreatedAt.UTC().Format(time.RFC3339),
		"email": u.Email, "first_name": u.FirstName, "last_name": u.LastName}
}

// emitMemberEvent announces member.added or member.removed. user is the
// person if already loaded (a removal must read them before the membership
// goes, while row-level security still shows them); nil loads them.
func (s *Store) emitMemberEvent(ctx context.Context, eventType string, m *Membership, user *User) error {
	return s.emitWebhookEvent(ctx, m.TenantID, webhookEnvironmentsOf(nil), eventType, func() (map[string]any, error) {
		u := user
		if u == nil {
			var err error
			if u, err = s.UserByID(ctx, m.UserID); err != nil {
				return nil, err
			}
		}
		return memberWebhookData(m, u), nil
	})
}

// emitMemberRoleChanged announces a member's new role.
func (s *Store) emitMemberRoleChanged(ctx context.Context, m *Membership, from, to Role) error {
	if from == to {
		return nil
	}
	return s.emitWebhookEvent(ctx, m.TenantID, webhookEnvironmentsOf(nil), EventMemberRoleChanged, func() (map[string]any, error) {
		u, err := s.UserByID(ctx, m.UserID)
		if err != nil {
			return nil, err
		}
		changed := *m
		changed.Role = to
		data := memberWebhookData(&changed, u)
		data["previous_role"] = string(from)
		return data, nil
	})
}

// emitSubtenantCreated announces a new sub-tenant to its parent's endpoints.
func (s *Store) emitSubtenantCreated(ctx context.Context, t *Tenant) error {
	if t.ParentID == nil {
		return nil
	}
	return s.emitWebhookEvent(ctx, *t.ParentID, webhookEnvironmentsOf(nil), EventSubtenantCreated, func() (map[string]any, error) {
		return map[string]any{"id": t.ID, "name": t.Name, "subdomain": t.Subdomain, "parent_id": *t.ParentID,
			"created_at": t.CreatedAt.UTC().Format(time.RFC3339)}, nil
	})
}
