-- +goose Up
-- Someone with an account is added to a company at once, without being
-- asked. Their membership records who added them (and that person's name as
-- it was then, so the notice never has to read another person's row from
-- outside the company they share) and when they saw the notice saying so;
-- until then every page they open shows it, with a way to leave.
-- Memberships from before, and those that come from accepting an
-- invitation or creating one's own company, have no adder: no notice.
ALTER TABLE memberships ADD COLUMN added_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE memberships ADD COLUMN added_by_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN acknowledged_at DATETIME;
-- Every page asks whether its person has a notice waiting: one lookup in a
-- small index, which holds only the notices not yet seen.
CREATE INDEX memberships_unacknowledged_idx ON memberships (user_id)
    WHERE added_by_user_id IS NOT NULL AND acknowledged_at IS NULL;

-- A member who leaves a company of their own accord is recorded as such.
-- SQLite cannot alter a CHECK constraint, so the audit table is rebuilt with
-- its rows, indexes and trigger, as in 00011.
CREATE TABLE audit_events_rebuilt (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    actor_email   TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL CHECK (action IN (
        'member.added', 'member.removed', 'member.left', 'member.role_changed', 'member.templates_changed', 'ownership.transferred',
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
-- The older list cannot hold the member.left events; going down leaves them out.
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
    SELECT id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at FROM audit_events
    WHERE action <> 'member.left';
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
DROP INDEX memberships_unacknowledged_idx;
ALTER TABLE memberships DROP COLUMN acknowledged_at;
ALTER TABLE memberships DROP COLUMN added_by_name;
ALTER TABLE memberships DROP COLUMN added_by_user_id;
