-- +goose Up
-- Webhooks: a company's endpoints per environment, the events it emitted
-- (written in the transaction of the change that caused them), one delivery
-- per endpoint and event with its lease, and each attempt's record. All
-- four tables are tenant-owned under the usual policy; the delivery worker
-- reaches them across tenants through a scope of its own (app_webhook_worker),
-- which sees these tables and nothing else of a tenant's.

CREATE TABLE webhook_endpoints (
    id                         BIGSERIAL PRIMARY KEY,
    tenant_id                  BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment                TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    url                        TEXT NOT NULL CHECK (length(url) BETWEEN 1 AND 2000),
    description                TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    -- Space-separated event types, e.g. "order.created order.completed".
    events                     TEXT NOT NULL CHECK (btrim(events) <> ''),
    -- JSON: per object type, the payload fields chosen, e.g.
    -- {"order": ["id", "status"], "device": ["id"]}.
    fields                     TEXT NOT NULL DEFAULT '{}',
    enabled                    BOOLEAN NOT NULL DEFAULT true,
    disabled_reason            TEXT NOT NULL DEFAULT '' CHECK (length(disabled_reason) <= 500),
    -- The signing secret, sealed (internal/sealbox) with a key derived from
    -- the server's secret and bound to the endpoint: never in the clear.
    secret_sealed              TEXT NOT NULL,
    -- The secret before the last rotation, which keeps signing alongside
    -- the new one until previous_secret_expires_at.
    previous_secret_sealed     TEXT,
    previous_secret_expires_at TIMESTAMPTZ,
    -- When deliveries to it began failing without a success since: after
    -- five days of that the worker disables it.
    failing_since              TIMESTAMPTZ,
    created_by_user_id         BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at                 TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id),
    CHECK (enabled OR btrim(disabled_reason) <> '')
);
-- Emitting an event reads the enabled endpoints of one tenant and environment.
CREATE INDEX webhook_endpoints_tenant_env_idx ON webhook_endpoints (tenant_id, environment) WHERE enabled;

CREATE TABLE webhook_messages (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    event_type  TEXT NOT NULL CHECK (length(event_type) BETWEEN 1 AND 100),
    -- msg_ and random characters: the webhook-id header, the same for every
    -- attempt, so receivers can de-duplicate.
    msg_id      TEXT NOT NULL UNIQUE CHECK (msg_id LIKE 'msg\_%'),
    -- A test event sent from the endpoint's page, with sample data.
    test        BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id)
);
CREATE INDEX webhook_messages_created_idx ON webhook_messages (created_at);

CREATE TABLE webhook_deliveries (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    endpoint_id     BIGINT NOT NULL,
    message_id      BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    -- The request body, shaped by the endpoint's field choice when the
    -- event happened: every attempt sends (and signs) the same bytes.
    body            TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed', 'disabled')),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    -- The lease: a worker sending it holds it until claimed_until; one that
    -- dies mid-send lets it lapse, and the delivery is sent again.
    claimed_until   TIMESTAMPTZ,
    claimed_by      TEXT NOT NULL DEFAULT '',
    last_status_code INTEGER,
    last_error      TEXT NOT NULL DEFAULT '',
    delivered_at    TIMESTAMPTZ,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
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
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    delivery_id     BIGINT NOT NULL,
    endpoint_id     BIGINT NOT NULL,
    attempted_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    succeeded       BOOLEAN NOT NULL,
    -- NULL when no response came (refused address, timeout, connection error).
    status_code     INTEGER,
    duration_ms     INTEGER NOT NULL CHECK (duration_ms >= 0),
    -- JSON object of the headers sent; the body sent.
    request_headers TEXT NOT NULL,
    request_body    TEXT NOT NULL,
    -- The first 4 KB of the response.
    response_body   TEXT NOT NULL DEFAULT '' CHECK (octet_length(response_body) <= 4096),
    error           TEXT NOT NULL DEFAULT '' CHECK (length(error) <= 1000),
    FOREIGN KEY (delivery_id, tenant_id) REFERENCES webhook_deliveries (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX webhook_attempts_endpoint_idx ON webhook_attempts (tenant_id, endpoint_id, attempted_at DESC, id DESC);
CREATE INDEX webhook_attempts_delivery_idx ON webhook_attempts (delivery_id, id);
CREATE INDEX webhook_attempts_attempted_idx ON webhook_attempts (attempted_at);

-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_messages', 'webhook_deliveries', 'webhook_attempts'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = (SELECT app_tenant_id()) OR tenant_id IN (SELECT app_tenant_tree()))
            WITH CHECK (tenant_id = (SELECT app_tenant_id()) OR tenant_id IN (SELECT app_tenant_tree()))', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF tenant_id ON %I FOR EACH ROW
            WHEN (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) EXECUTE FUNCTION refuse_tenant_move()', t || '_tenant_fixed', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The webhook worker's scope. It is signed like every scope: the setting
-- app.mailer names which worker a scope is ('on' the mail worker, as
-- before; 'webhooks' the webhook worker), so the signed message of 00018
-- keeps its shape and the mail worker's scope is unchanged.
ALTER TYPE app_scope ADD ATTRIBUTE webhook_worker BOOLEAN;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_verified_scope() RETURNS app_scope
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    tenant    TEXT := coalesce(current_setting('app.tenant_id', true), '');
    subtree   TEXT := coalesce(current_setting('app.subtree', true), '');
    usr       TEXT := coalesce(current_setting('app.user_id', true), '');
    token     TEXT := coalesce(current_setting('app.invitation_token', true), '');
    mailer    TEXT := coalesce(current_setting('app.mailer', true), '');
    signature TEXT := coalesce(current_setting('app.scope_sig', true), '');
    message   TEXT;
    signed    BOOLEAN;
BEGIN
    IF signature = '' THEN
        RETURN NULL;
    END IF;
    message := concat_ws(E'\n', 'canopy-scope-v1',
        octet_length(tenant) || ':' || tenant,
        octet_length(subtree) || ':' || subtree,
        octet_length(usr) || ':' || usr,
        octet_length(token) || ':' || token,
        octet_length(mailer) || ':' || mailer);
    SELECT encode(sha256(outer_pad || sha256(inner_pad || convert_to(message, 'UTF8'))), 'hex') = signature
        INTO signed FROM scope_key;
    IF signed IS NOT TRUE THEN
        RETURN NULL;
    END IF;
    RETURN ROW(NULLIF(tenant, '')::BIGINT, subtree = 'on', NULLIF(usr, '')::BIGINT, NULLIF(token, ''),
        mailer = 'on', mailer = 'webhooks')::app_scope;
END
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION app_webhook_worker() RETURNS BOOLEAN AS $$
    SELECT coalesce((app_verified_scope()).webhook_worker, false)
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- What the worker may do: everything with the four webhook tables (claim,
-- record, disable an endpoint, prune), queue the email telling a company's
-- Admins an endpoint was disabled, and record that in the audit log.
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_messages', 'webhook_deliveries', 'webhook_attempts'] LOOP
        EXECUTE format('CREATE POLICY webhook_worker ON %I
            USING ((SELECT app_webhook_worker())) WITH CHECK ((SELECT app_webhook_worker()))', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
CREATE POLICY webhook_worker_mail ON outbox_emails FOR INSERT
    WITH CHECK ((SELECT app_webhook_worker()));
CREATE POLICY webhook_worker_audit ON audit_events FOR INSERT
    WITH CHECK ((SELECT app_webhook_worker()) AND action = 'webhook_endpoint.disabled');

-- The Admins (and Super Admins) of a tenant, with its name, for the email
-- the worker sends when it disables an endpoint: the worker's scope reads
-- no memberships or users, so the owner's function answers, for that
-- scope alone, one tenant at a time.
-- +goose StatementBegin
CREATE FUNCTION canopy_webhook_admins(p_tenant_id BIGINT)
RETURNS TABLE (email TEXT, first_name TEXT, tenant_name TEXT, tenant_subdomain TEXT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
    SELECT u.email, u.first_name, t.name, t.subdomain
    FROM memberships AS m JOIN users AS u ON u.id = m.user_id JOIN tenants AS t ON t.id = m.tenant_id
    WHERE (SELECT app_webhook_worker()) AND m.tenant_id = p_tenant_id AND m.role IN ('admin', 'super_admin')
    ORDER BY u.email
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION canopy_webhook_admins(BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION canopy_webhook_admins(BIGINT) TO canopy_app;

ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
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
    'webhook_delivery.replayed'));

-- +goose Down
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
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
    'production_access.requested', 'production_access.approved', 'production_access.declined')) NOT VALID;
DROP FUNCTION canopy_webhook_admins(BIGINT);
DROP POLICY webhook_worker_audit ON audit_events;
DROP POLICY webhook_worker_mail ON outbox_emails;
DROP TABLE webhook_attempts;
DROP TABLE webhook_deliveries;
DROP TABLE webhook_messages;
DROP TABLE webhook_endpoints;
DROP FUNCTION app_webhook_worker();
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_verified_scope() RETURNS app_scope
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    tenant    TEXT := coalesce(current_setting('app.tenant_id', true), '');
    subtree   TEXT := coalesce(current_setting('app.subtree', true), '');
    usr       TEXT := coalesce(current_setting('app.user_id', true), '');
    token     TEXT := coalesce(current_setting('app.invitation_token', true), '');
    mailer    TEXT := coalesce(current_setting('app.mailer', true), '');
    signature TEXT := coalesce(current_setting('app.scope_sig', true), '');
    message   TEXT;
    signed    BOOLEAN;
BEGIN
    IF signature = '' THEN
        RETURN NULL;
    END IF;
    message := concat_ws(E'\n', 'canopy-scope-v1',
        octet_length(tenant) || ':' || tenant,
        octet_length(subtree) || ':' || subtree,
        octet_length(usr) || ':' || usr,
        octet_length(token) || ':' || token,
        octet_length(mailer) || ':' || mailer);
    SELECT encode(sha256(outer_pad || sha256(inner_pad || convert_to(message, 'UTF8'))), 'hex') = signature
        INTO signed FROM scope_key;
    IF signed IS NOT TRUE THEN
        RETURN NULL;
    END IF;
    RETURN ROW(NULLIF(tenant, '')::BIGINT, subtree = 'on', NULLIF(usr, '')::BIGINT, NULLIF(token, ''), mailer = 'on')::app_scope;
END
$$;
-- +goose StatementEnd
ALTER TYPE app_scope DROP ATTRIBUTE webhook_worker;
