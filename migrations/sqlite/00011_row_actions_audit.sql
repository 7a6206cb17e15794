-- +goose Up
-- Templates are edited and deleted, a member's available templates are
-- changed, and a device's model is edited: the audit log records each, so
-- the list of actions it accepts grows by four. SQLite cannot alter a CHECK
-- constraint, so the table is rebuilt with its rows, indexes and trigger.
CREATE TABLE audit_events_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor_email   TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL CHECK (action IN (
        'member.added', 'member.removed', 'member.role_changed', 'member.templates_changed', 'ownership.transferred',
        'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
        'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
        'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed', 'device.model_changed',
        'template.created', 'template.updated', 'template.deleted', 'order.created',
        'company.entered', 'auth.signin', 'auth.signin_failed')),
    target_type   TEXT NOT NULL DEFAULT '',
    target_id     TEXT NOT NULL DEFAULT '',
    target_label  TEXT NOT NULL DEFAULT '',
    before        TEXT,
    after         TEXT,
    ip            TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO audit_events_rebuilt (id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at)
    SELECT id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at FROM audit_events;
DROP TABLE audit_events;
ALTER TABLE audit_events_rebuilt RENAME TO audit_events;
CREATE INDEX audit_events_tenant_created_idx ON audit_events (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_events_tenant_action_idx ON audit_events (tenant_id, action);
-- +goose StatementBegin
CREATE TRIGGER audit_events_tenant_fixed BEFORE UPDATE OF tenant_id ON audit_events
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd

-- +goose Down
-- The older list cannot hold the events recorded with the newer actions;
-- going down leaves them out.
CREATE TABLE audit_events_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor_email   TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL CHECK (action IN (
        'member.added', 'member.removed', 'member.role_changed', 'ownership.transferred',
        'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
        'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
        'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed',
        'template.created', 'order.created', 'company.entered', 'auth.signin', 'auth.signin_failed')),
    target_type   TEXT NOT NULL DEFAULT '',
    target_id     TEXT NOT NULL DEFAULT '',
    target_label  TEXT NOT NULL DEFAULT '',
    before        TEXT,
    after         TEXT,
    ip            TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO audit_events_rebuilt (id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at)
    SELECT id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at FROM audit_events
    WHERE action NOT IN ('member.templates_changed', 'device.model_changed', 'template.updated', 'template.deleted');
DROP TABLE audit_events;
ALTER TABLE audit_events_rebuilt RENAME TO audit_events;
CREATE INDEX audit_events_tenant_created_idx ON audit_events (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_events_tenant_action_idx ON audit_events (tenant_id, action);
-- +goose StatementBegin
CREATE TRIGGER audit_events_tenant_fixed BEFORE UPDATE OF tenant_id ON audit_events
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
