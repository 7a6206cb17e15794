-- +goose Up
-- API keys and what they reach: a company's keys per environment (stored
-- only as a keyed hash), its requests for production access, the answers
-- kept for repeated Idempotency-Keys, and orders that are test data or live
-- data, with the history of their statuses. The same shape as on
-- PostgreSQL, without its row-level security.

CREATE TABLE api_keys (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment        TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    name               TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 100),
    prefix             TEXT NOT NULL CHECK (prefix IN ('cnp_test_', 'cnp_live_')),
    last4              TEXT NOT NULL CHECK (length(last4) = 4),
    secret_hash        TEXT NOT NULL UNIQUE CHECK (length(secret_hash) = 64),
    scopes             TEXT NOT NULL CHECK (scopes <> ''),
    created_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_used_at       DATETIME,
    expires_at         DATETIME,
    revoked_at         DATETIME,
    rolled_to_id       INTEGER,
    UNIQUE (id, tenant_id)
);
CREATE INDEX api_keys_tenant_env_idx ON api_keys (tenant_id, environment, created_at DESC) WHERE revoked_at IS NULL;

CREATE TABLE production_access_requests (
    id                   INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id            INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    requested_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    intended_use         TEXT NOT NULL CHECK (length(trim(intended_use)) BETWEEN 1 AND 2000),
    monthly_volume       INTEGER NOT NULL CHECK (monthly_volume > 0),
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'declined')),
    decided_by_user_id   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    decision_reason      TEXT NOT NULL DEFAULT '' CHECK (length(decision_reason) <= 2000),
    decided_at           DATETIME,
    created_at           DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (status <> 'declined' OR trim(decision_reason) <> '')
);
CREATE UNIQUE INDEX production_access_requests_one_pending ON production_access_requests (tenant_id) WHERE status = 'pending';
CREATE INDEX production_access_requests_pending_idx ON production_access_requests (created_at) WHERE status = 'pending';
CREATE INDEX production_access_requests_tenant_idx ON production_access_requests (tenant_id, created_at DESC);

CREATE TABLE api_idempotency_keys (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    api_key_id      INTEGER NOT NULL,
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (api_key_id, idempotency_key),
    FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX api_idempotency_keys_created_idx ON api_idempotency_keys (created_at);

ALTER TABLE orders ADD COLUMN environment TEXT NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'test'));
ALTER TABLE orders ADD COLUMN created_by_api_key_id INTEGER REFERENCES api_keys (id);
CREATE UNIQUE INDEX orders_id_tenant_key ON orders (id, tenant_id);
DROP INDEX orders_tenant_created_idx;
CREATE INDEX orders_tenant_env_created_idx ON orders (tenant_id, environment, created_at DESC, id DESC);

CREATE TABLE order_events (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    order_id      INTEGER NOT NULL,
    from_status   TEXT CHECK (from_status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    to_status     TEXT NOT NULL CHECK (to_status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    actor_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    api_key_id    INTEGER,
    actor_label   TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (order_id, tenant_id) REFERENCES orders (id, tenant_id) ON DELETE CASCADE,
    FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id)
);
CREATE INDEX order_events_order_idx ON order_events (tenant_id, order_id, id);

-- +goose StatementBegin
CREATE TRIGGER api_keys_tenant_fixed BEFORE UPDATE OF tenant_id ON api_keys
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER production_access_requests_tenant_fixed BEFORE UPDATE OF tenant_id ON production_access_requests
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER api_idempotency_keys_tenant_fixed BEFORE UPDATE OF tenant_id ON api_idempotency_keys
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER order_events_tenant_fixed BEFORE UPDATE OF tenant_id ON order_events
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd

-- SQLite cannot alter a CHECK constraint, so the audit table is rebuilt with
-- its rows, indexes and triggers, as in 00019.
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
    'sso.identity_linked',
    'order.status_changed',
    'api_key.created', 'api_key.revoked', 'api_key.rolled',
    'production_access.requested', 'production_access.approved', 'production_access.declined')),
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
    SELECT id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at FROM audit_events
    WHERE action NOT IN ('order.status_changed', 'api_key.created', 'api_key.revoked', 'api_key.rolled', 'production_access.requested', 'production_access.approved', 'production_access.declined');
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
DROP TABLE order_events;
DROP INDEX orders_tenant_env_created_idx;
CREATE INDEX orders_tenant_created_idx ON orders (tenant_id, created_at DESC, id DESC);
DROP INDEX orders_id_tenant_key;
ALTER TABLE orders DROP COLUMN created_by_api_key_id;
ALTER TABLE orders DROP COLUMN environment;
DROP TABLE api_idempotency_keys;
DROP TABLE production_access_requests;
DROP TABLE api_keys;
