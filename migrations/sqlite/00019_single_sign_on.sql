-- +goose Up
-- Single sign-on: each company may have one OpenID Connect connection, the
-- email domains it covers (each proven by a DNS TXT record or approved by
-- platform staff before it signs anyone in), and the identities people
-- signed in with, linked to their accounts by (issuer, subject). The same
-- shape as on PostgreSQL, without its row-level security.

CREATE TABLE sso_connections (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    issuer        TEXT NOT NULL CHECK (issuer <> ''),
    client_id     TEXT NOT NULL CHECK (client_id <> ''),
    client_secret_sealed TEXT NOT NULL CHECK (client_secret_sealed <> ''),
    secret_set_at DATETIME NOT NULL,
    join_role     TEXT NOT NULL DEFAULT 'viewer' CHECK (join_role IN ('viewer', 'editor', 'admin')),
    required      BOOLEAN NOT NULL DEFAULT 0 CHECK (required IN (0, 1)),
    created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (id, tenant_id)
);

CREATE TABLE sso_domains (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connection_id INTEGER NOT NULL,
    domain        TEXT NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
    verification_token TEXT NOT NULL CHECK (verification_token <> ''),
    proof         TEXT NOT NULL DEFAULT 'none' CHECK (proof IN ('none', 'dns', 'staff', 'refused')),
    proof_note    TEXT NOT NULL DEFAULT '',
    proven_at     DATETIME,
    created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (connection_id, domain),
    FOREIGN KEY (connection_id, tenant_id) REFERENCES sso_connections (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX sso_domains_pending_idx ON sso_domains (created_at) WHERE proof = 'none';

CREATE TABLE user_identities (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id      INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    email        TEXT NOT NULL,
    created_at   DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

-- +goose StatementBegin
CREATE TRIGGER sso_connections_tenant_fixed BEFORE UPDATE OF tenant_id ON sso_connections
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER sso_domains_tenant_fixed BEFORE UPDATE OF tenant_id ON sso_domains
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd

-- SQLite cannot alter a CHECK constraint, so the audit table is rebuilt with
-- its rows, indexes and triggers, as in 00014.
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
        'company.entered', 'auth.signin', 'auth.signin_failed',
        'sso.connection_saved', 'sso.connection_deleted', 'sso.inheritance_changed',
        'sso.domain_verified', 'sso.domain_approved', 'sso.domain_refused',
        'sso.identity_linked')),
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
-- +goose StatementBegin
CREATE TRIGGER audit_events_insert_only_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'the audit log is insert-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_insert_only_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'the audit log is insert-only');
END;
-- +goose StatementEnd

-- +goose Down
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
    SELECT id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at FROM audit_events
    WHERE action NOT LIKE 'sso.%';
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
-- +goose StatementBegin
CREATE TRIGGER audit_events_insert_only_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'the audit log is insert-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_insert_only_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'the audit log is insert-only');
END;
-- +goose StatementEnd
DROP TABLE user_identities;
DROP TABLE sso_domains;
DROP TABLE sso_connections;
