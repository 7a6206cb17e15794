-- +goose Up
-- Webhooks: a company's endpoints per environment, the events it emitted
-- (written in the transaction of the change that caused them), one delivery
-- per endpoint and event with its lease, and each attempt's record. The same
-- shape as on PostgreSQL, without its row-level security.

CREATE TABLE webhook_endpoints (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id                  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment                TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    url                        TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description                TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- Space-separated event types, e.g. "order.created order.completed".
    events                     TEXT NOT NULL CHECK (trim(events) <> ''),
    -- JSON: per object type, the payload fields chosen, e.g.
    -- {"order": ["id", "status"], "device": ["id"]}.
    fields                     TEXT NOT NULL DEFAULT '{}',
    enabled                    BOOLEAN NOT NULL DEFAULT 1,
    disabled_reason            TEXT NOT NULL DEFAULT '' CHECK (length(disabled_reason) <= 500),
    -- The signing secret, sealed (internal/sealbox) with a key derived from
    -- the server's secret and bound to the endpoint: never in the clear.
    secret_sealed              TEXT NOT NULL,
    -- The secret before the last rotation, which keeps signing alongside
    -- the new one until previous_secret_expires_at.
    previous_secret_sealed     TEXT,
    previous_secret_expires_at DATETIME,
    -- When deliveries to it began failing without a success since: after
    -- five days of that the worker disables it.
    failing_since              DATETIME,
    created_by_user_id         INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at                 DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at                 DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (id, tenant_id),
    CHECK (enabled OR trim(disabled_reason) <> '')
);
-- Emitting an event reads the enabled endpoints of one tenant and environment.
CREATE INDEX webhook_endpoints_tenant_env_idx ON webhook_endpoints (tenant_id, environment) WHERE enabled;

CREATE TABLE webhook_messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    event_type  TEXT NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    -- msg_ and random characters: the webhook-id header, the same for every
    -- attempt, so receivers can de-duplicate.
    msg_id      TEXT NOT NULL UNIQUE CHECK (substr(msg_id, 1, 4) = 'msg_'),
    -- A test event sent from the endpoint's page, with sample data.
    test        BOOLEAN NOT NULL DEFAULT 0,
    created_at  DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (id, tenant_id)
);
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id     INTEGER NOT NULL,
    message_id      INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    -- The request body, shaped by the endpoint's field choice when the
    -- event happened: every attempt sends (and signs) the same bytes.
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'disabled')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- The lease: a worker sending it holds it until claimed_until; one that
    -- dies mid-send lets it lapse, and the delivery is sent again.
    claimed_until   DATETIME,
    claimed_by      TEXT NOT NULL DEFAULT '',
    last_status_code INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    DATETIME,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (endpoint_id, message_id),
    UNIQUE (id, tenant_id),
    FOREIGN KEY (endpoint_id, tenant_id) REFERENCES webhook_endpoints (id, tenant_id) ON DELETE CASCADE,
    FOREIGN KEY (message_id, tenant_id) REFERENCES webhook_messages (id, tenant_id) ON DELETE CASCADE
);
-- The worker's claim: pending deliveries in the order they fall due.
CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending';
-- The delivery log of one endpoint, newest first.
CREATE INDEX webhook_deliveries_endpoint_idx ON webhook_deliveries (tenant_id, endpoint_id, created_at DESC, id DESC);
CREATE INDEX webhook_deliveries_message_idx ON webhook_deliveries (message_id);

CREATE TABLE webhook_attempts (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    delivery_id     INTEGER NOT NULL,
    endpoint_id     INTEGER NOT NULL,
    attempted_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    succeeded       BOOLEAN NOT NULL,
    -- NULL when no response came (refused address, timeout, connection error).
    status_code     INTEGER,
    duration_ms     INTEGER NOT NULL CHECK (duration_ms >= 0),
    -- JSON object of the headers sent; the body sent.
    request_headers TEXT NOT NULL,
    request_body    TEXT NOT NULL,
    -- The first 4 KB of the response.
    response_body   TEXT NOT NULL DEFAULT '' CHECK (length(CAST(response_body AS BLOB)) <= 4096),
    error           TEXT NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    FOREIGN KEY (delivery_id, tenant_id) REFERENCES webhook_deliveries (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (tenant_id, endpoint_id, attempted_at DESC, id DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
CREATE INDEX webhook_attempts_attempted_idx ON webhook_attempts (attempted_at);

-- +goose StatementBegin
CREATE TRIGGER webhook_endpoints_tenant_fixed BEFORE UPDATE OF tenant_id ON webhook_endpoints
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER webhook_messages_tenant_fixed BEFORE UPDATE OF tenant_id ON webhook_messages
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER webhook_deliveries_tenant_fixed BEFORE UPDATE OF tenant_id ON webhook_deliveries
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER webhook_attempts_tenant_fixed BEFORE UPDATE OF tenant_id ON webhook_attempts
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd

-- SQLite cannot alter a CHECK constraint, so the audit table is rebuilt with
-- its rows, indexes and triggers, as in 00020.
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
    'production_access.requested', 'production_access.approved', 'production_access.declined',
    'webhook_endpoint.created', 'webhook_endpoint.updated', 'webhook_endpoint.deleted',
    'webhook_endpoint.enabled', 'webhook_endpoint.disabled',
    'webhook_endpoint.secret_rotated', 'webhook_endpoint.secret_revealed',
    'webhook_delivery.replayed')),
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
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
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
    SELECT id, tenant_id, actor_user_id, actor_email, action, target_type, target_id, target_label, before, after, ip, created_at FROM audit_events
    WHERE action NOT LIKE 'webhook\_%' ESCAPE '\';
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

