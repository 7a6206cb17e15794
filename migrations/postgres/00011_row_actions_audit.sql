-- +goose Up
-- Templates are edited and deleted, a member's available templates are
-- changed, and a device's model is edited: the audit log records each, so
-- the list of actions it accepts grows by four.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'member.added', 'member.removed', 'member.role_changed', 'member.templates_changed', 'ownership.transferred',
    'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
    'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
    'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed', 'device.model_changed',
    'template.created', 'template.updated', 'template.deleted', 'order.created',
    'company.entered', 'auth.signin', 'auth.signin_failed'));

-- +goose Down
-- NOT VALID keeps the events already recorded with the newer actions; only
-- new rows are held to the older list.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'member.added', 'member.removed', 'member.role_changed', 'ownership.transferred',
    'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
    'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
    'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed',
    'template.created', 'order.created', 'company.entered', 'auth.signin', 'auth.signin_failed')) NOT VALID;
