-- +goose Up
-- Who changed what, where and when: one row per change, written in the same
-- transaction as the change itself.
CREATE TABLE audit_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- Kept when the user is deleted, so the log still says who it was.
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
CREATE INDEX audit_events_tenant_created_idx ON audit_events (tenant_id, created_at DESC, id DESC);
CREATE INDEX audit_events_tenant_action_idx ON audit_events (tenant_id, action);

-- +goose Down
DROP TABLE audit_events;
