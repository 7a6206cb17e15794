-- +goose Up
-- API keys and what they reach: a company's keys per environment (stored
-- only as a keyed hash), its requests for production access, the answers
-- kept for repeated Idempotency-Keys, and orders that are test data or live
-- data, with the history of their statuses.

CREATE TABLE api_keys (
    id                 BIGSERIAL PRIMARY KEY,
    tenant_id          BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    environment        TEXT NOT NULL CHECK (environment IN ('sandbox', 'production')),
    name               TEXT NOT NULL CHECK (length(btrim(name)) BETWEEN 1 AND 100),
    -- cnp_test_ or cnp_live_, and the key's last four characters: all a
    -- page ever shows of it.
    prefix             TEXT NOT NULL CHECK (prefix IN ('cnp_test_', 'cnp_live_')),
    last4              TEXT NOT NULL CHECK (length(last4) = 4),
    -- HMAC-SHA256 of the whole key with a key derived from the server's
    -- secret, hex: the database never holds a key itself.
    secret_hash        TEXT NOT NULL UNIQUE CHECK (length(secret_hash) = 64),
    -- Space-separated, from orders:read orders:write devices:read
    -- devices:write members:read.
    scopes             TEXT NOT NULL CHECK (scopes <> ''),
    created_by_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    created_at         TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at       TIMESTAMPTZ,
    -- Set when the key was rolled: it works until then.
    expires_at         TIMESTAMPTZ,
    revoked_at         TIMESTAMPTZ,
    rolled_to_id       BIGINT,
    UNIQUE (id, tenant_id)
);
CREATE INDEX api_keys_tenant_env_idx ON api_keys (tenant_id, environment, created_at DESC) WHERE revoked_at IS NULL;

CREATE TABLE production_access_requests (
    id                   BIGSERIAL PRIMARY KEY,
    tenant_id            BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    requested_by_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    intended_use         TEXT NOT NULL CHECK (length(btrim(intended_use)) BETWEEN 1 AND 2000),
    monthly_volume       BIGINT NOT NULL CHECK (monthly_volume > 0),
    status               TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'declined')),
    decided_by_user_id   BIGINT REFERENCES users (id) ON DELETE SET NULL,
    decision_reason      TEXT NOT NULL DEFAULT '' CHECK (length(decision_reason) <= 2000),
    decided_at           TIMESTAMPTZ,
    created_at           TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (status <> 'declined' OR btrim(decision_reason) <> '')
);
-- One open request per company at a time.
CREATE UNIQUE INDEX production_access_requests_one_pending ON production_access_requests (tenant_id) WHERE status = 'pending';
CREATE INDEX production_access_requests_pending_idx ON production_access_requests (created_at) WHERE status = 'pending';
CREATE INDEX production_access_requests_tenant_idx ON production_access_requests (tenant_id, created_at DESC);

-- What a POST with an Idempotency-Key answered, so that the same key and
-- body get the same answer and a different body is refused.
CREATE TABLE api_idempotency_keys (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    api_key_id      BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL CHECK (length(idempotency_key) BETWEEN 1 AND 255),
    request_hash    TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (api_key_id, idempotency_key),
    FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX api_idempotency_keys_created_idx ON api_idempotency_keys (created_at);

-- Orders made with a sandbox key are test data, never billed, and shown
-- only under the dashboard's Test data switch.
ALTER TABLE orders ADD COLUMN environment TEXT NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'test'));
ALTER TABLE orders ADD COLUMN created_by_api_key_id BIGINT;
ALTER TABLE orders ADD CONSTRAINT orders_id_tenant_key UNIQUE (id, tenant_id);
ALTER TABLE orders ADD CONSTRAINT orders_api_key_fk FOREIGN KEY (created_by_api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id);
DROP INDEX orders_tenant_created_idx;
CREATE INDEX orders_tenant_env_created_idx ON orders (tenant_id, environment, created_at DESC, id DESC);

-- Each status an order took, by whom (a person or an API key) and when.
CREATE TABLE order_events (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    order_id      BIGINT NOT NULL,
    from_status   TEXT CHECK (from_status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    to_status     TEXT NOT NULL CHECK (to_status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    actor_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL,
    api_key_id    BIGINT,
    -- Who it was, as shown then: a person's name or an API key's name.
    actor_label   TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    FOREIGN KEY (order_id, tenant_id) REFERENCES orders (id, tenant_id) ON DELETE CASCADE,
    FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id)
);
CREATE INDEX order_events_order_idx ON order_events (tenant_id, order_id, id);

-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys', 'production_access_requests', 'api_idempotency_keys', 'order_events'] LOOP
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
    'production_access.requested', 'production_access.approved', 'production_access.declined'));

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
    'sso.identity_linked')) NOT VALID;
DROP TABLE order_events;
DROP INDEX orders_tenant_env_created_idx;
CREATE INDEX orders_tenant_created_idx ON orders (tenant_id, created_at DESC, id DESC);
ALTER TABLE orders DROP CONSTRAINT orders_api_key_fk;
ALTER TABLE orders DROP CONSTRAINT orders_id_tenant_key;
ALTER TABLE orders DROP COLUMN created_by_api_key_id;
ALTER TABLE orders DROP COLUMN environment;
DROP TABLE api_idempotency_keys;
DROP TABLE production_access_requests;
DROP TABLE api_keys;
