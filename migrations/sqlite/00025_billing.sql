-- +goose Up
-- Billing: the platform's plans, each company's billing terms by month, the
-- usage metered as it happens (per tenant and local day), the intervals it
-- is derived from, and the statements closed at month end. The same shape
-- as on PostgreSQL, without its row-level security. Days are 'YYYY-MM-DD'
-- and months 'YYYY-MM' as text, in the company's own timezone.

ALTER TABLE templates ADD COLUMN category TEXT NOT NULL DEFAULT 'standard'
    CHECK (category IN ('standard', 'premium'));

CREATE TABLE billing_plans (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    name                   TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 2 AND 60),
    description            TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 300),
    currency               TEXT NOT NULL CHECK (length(currency) = 3 AND currency = upper(currency)),
    base_fee               INTEGER NOT NULL DEFAULT 0 CHECK (base_fee BETWEEN 0 AND 100000000000),
    order_price            INTEGER NOT NULL DEFAULT 0 CHECK (order_price BETWEEN 0 AND 100000000000),
    premium_order_price    INTEGER CHECK (premium_order_price BETWEEN 0 AND 100000000000),
    included_orders        INTEGER NOT NULL DEFAULT 0 CHECK (included_orders BETWEEN 0 AND 1000000000),
    device_month_price     INTEGER NOT NULL DEFAULT 0 CHECK (device_month_price BETWEEN 0 AND 100000000000),
    included_device_months INTEGER NOT NULL DEFAULT 0 CHECK (included_device_months BETWEEN 0 AND 1000000000),
    seat_price             INTEGER NOT NULL DEFAULT 0 CHECK (seat_price BETWEEN 0 AND 100000000000),
    included_seats         INTEGER NOT NULL DEFAULT 0 CHECK (included_seats BETWEEN 0 AND 1000000000),
    is_default             BOOLEAN NOT NULL DEFAULT 0,
    archived_at            DATETIME,
    created_at             DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at             DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (NOT (is_default AND archived_at IS NOT NULL))
);
CREATE UNIQUE INDEX billing_plans_name_key ON billing_plans (lower(name));
CREATE UNIQUE INDEX billing_plans_one_default ON billing_plans (is_default) WHERE is_default;

-- Prices, once a plan exists, do not change: a new price is a new plan.
-- +goose StatementBegin
CREATE TRIGGER billing_plans_prices_fixed BEFORE UPDATE ON billing_plans
WHEN NEW.currency IS NOT OLD.currency OR NEW.base_fee IS NOT OLD.base_fee OR NEW.order_price IS NOT OLD.order_price
  OR NEW.premium_order_price IS NOT OLD.premium_order_price OR NEW.included_orders IS NOT OLD.included_orders
  OR NEW.device_month_price IS NOT OLD.device_month_price OR NEW.included_device_months IS NOT OLD.included_device_months
  OR NEW.seat_price IS NOT OLD.seat_price OR NEW.included_seats IS NOT OLD.included_seats
BEGIN
  SELECT RAISE(ABORT, 'a plan''s prices cannot change');
END;
-- +goose StatementEnd

INSERT INTO billing_plans (name, description, currency, base_fee, order_price, included_orders,
                           device_month_price, included_device_months, seat_price, included_seats, is_default)
VALUES ('Standard', 'Base fee with usage beyond what is included.', 'USD', 4900, 250, 20, 100, 10, 800, 5, 1);

CREATE TABLE billing_terms (
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    effective_month    TEXT NOT NULL CHECK (effective_month GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    plan_id            INTEGER NOT NULL REFERENCES billing_plans (id) ON DELETE RESTRICT,
    bill_to_tenant_id  INTEGER REFERENCES tenants (id) ON DELETE RESTRICT,
    changed_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (tenant_id, effective_month),
    CHECK (bill_to_tenant_id IS NULL OR bill_to_tenant_id <> tenant_id)
);
CREATE INDEX billing_terms_bill_to_idx ON billing_terms (bill_to_tenant_id, effective_month) WHERE bill_to_tenant_id IS NOT NULL;

-- Every company's latest terms, and where each one's bill-to chain leads:
-- a trigger cannot hold a recursive query itself, but it can read a view.
CREATE VIEW billing_latest_chains AS
WITH RECURSIVE latest AS (
    SELECT tenant_id, bill_to_tenant_id FROM billing_terms AS bt
    WHERE effective_month = (SELECT max(effective_month) FROM billing_terms WHERE tenant_id = bt.tenant_id)
), chain (start_id, reached_id, depth) AS (
    SELECT tenant_id, bill_to_tenant_id, 1 FROM latest WHERE bill_to_tenant_id IS NOT NULL
    UNION ALL
    SELECT chain.start_id, latest.bill_to_tenant_id, chain.depth + 1 FROM chain JOIN latest ON latest.tenant_id = chain.reached_id
    WHERE latest.bill_to_tenant_id IS NOT NULL AND chain.depth < 64
)
SELECT start_id, reached_id FROM chain;

-- +goose StatementBegin
CREATE TRIGGER billing_terms_no_cycle_insert AFTER INSERT ON billing_terms
WHEN NEW.bill_to_tenant_id IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'billing: the platform is billed to nobody')
  WHERE (SELECT parent_id FROM tenants WHERE id = NEW.bill_to_tenant_id) IS NULL;
  SELECT RAISE(ABORT, 'billing cycle: the bill-to chain would return to this company')
  WHERE EXISTS (SELECT 1 FROM billing_latest_chains WHERE start_id = NEW.tenant_id AND reached_id = NEW.tenant_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER billing_terms_no_cycle_update AFTER UPDATE ON billing_terms
WHEN NEW.bill_to_tenant_id IS NOT NULL
BEGIN
  SELECT RAISE(ABORT, 'billing: the platform is billed to nobody')
  WHERE (SELECT parent_id FROM tenants WHERE id = NEW.bill_to_tenant_id) IS NULL;
  SELECT RAISE(ABORT, 'billing cycle: the bill-to chain would return to this company')
  WHERE EXISTS (SELECT 1 FROM billing_latest_chains WHERE start_id = NEW.tenant_id AND reached_id = NEW.tenant_id);
END;
-- +goose StatementEnd

CREATE TABLE billing_order_days (
    tenant_id     INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    day           TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    template_id   INTEGER NOT NULL,
    category      TEXT NOT NULL CHECK (category IN ('standard', 'premium')),
    late          BOOLEAN NOT NULL DEFAULT 0,
    template_name TEXT NOT NULL DEFAULT '',
    completed     INTEGER NOT NULL CHECK (completed >= 0),
    PRIMARY KEY (tenant_id, day, template_id, category, late)
);

CREATE TABLE billing_presence_periods (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    meter      TEXT NOT NULL CHECK (meter IN ('devices', 'seats')),
    subject_id INTEGER NOT NULL,
    started_at DATETIME NOT NULL,
    ended_at   DATETIME,
    CHECK (ended_at IS NULL OR ended_at >= started_at)
);
CREATE UNIQUE INDEX billing_presence_periods_open_key ON billing_presence_periods (tenant_id, meter, subject_id) WHERE ended_at IS NULL;
CREATE INDEX billing_presence_periods_tenant_idx ON billing_presence_periods (tenant_id, meter, started_at);

CREATE TABLE billing_presence_days (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    meter     TEXT NOT NULL CHECK (meter IN ('devices', 'seats')),
    day       TEXT NOT NULL CHECK (day GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]'),
    starts    INTEGER NOT NULL DEFAULT 0 CHECK (starts >= 0),
    ends      INTEGER NOT NULL DEFAULT 0 CHECK (ends >= 0),
    PRIMARY KEY (tenant_id, meter, day)
);

CREATE TABLE billing_statements (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month     TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]'),
    closed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (tenant_id, month),
    UNIQUE (id, tenant_id)
);
CREATE INDEX billing_statements_month_idx ON billing_statements (month);

CREATE TABLE billing_statement_sections (
    tenant_id       INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month           TEXT NOT NULL,
    statement_id    INTEGER NOT NULL REFERENCES billing_statements (id) ON DELETE CASCADE,
    payer_tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    closed_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    company_name    TEXT NOT NULL,
    position        INTEGER NOT NULL DEFAULT 0,
    plan_name       TEXT NOT NULL,
    currency        TEXT NOT NULL,
    subtotal        INTEGER NOT NULL,
    usage           TEXT NOT NULL,
    lines           TEXT NOT NULL,
    PRIMARY KEY (tenant_id, month)
);
CREATE INDEX billing_statement_sections_statement_idx ON billing_statement_sections (statement_id, position);

-- This month's figures of every company that pays, by currency, as the
-- closing job last computed them: what platform staff's billing list
-- sorts and searches without pricing every company on every visit.
CREATE TABLE billing_projections (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    month       TEXT NOT NULL,
    currency    TEXT NOT NULL,
    to_date     INTEGER NOT NULL,
    projected   INTEGER NOT NULL,
    companies   INTEGER NOT NULL,
    -- The names of the companies billed to it, one per line.
    rolled_up   TEXT NOT NULL DEFAULT '',
    computed_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    PRIMARY KEY (tenant_id, month, currency)
);
CREATE INDEX billing_projections_month_idx ON billing_projections (month, projected DESC);

-- +goose StatementBegin
CREATE TRIGGER billing_terms_tenant_fixed BEFORE UPDATE OF tenant_id ON billing_terms
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER billing_order_days_tenant_fixed BEFORE UPDATE OF tenant_id ON billing_order_days
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER billing_presence_periods_tenant_fixed BEFORE UPDATE OF tenant_id ON billing_presence_periods
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER billing_presence_days_tenant_fixed BEFORE UPDATE OF tenant_id ON billing_presence_days
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER billing_statements_tenant_fixed BEFORE UPDATE OF tenant_id ON billing_statements
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER billing_statement_sections_tenant_fixed BEFORE UPDATE OF tenant_id ON billing_statement_sections
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER billing_projections_tenant_fixed BEFORE UPDATE OF tenant_id ON billing_projections
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd

-- Terms for the companies that exist (see the PostgreSQL migration). SQLite
-- knows no timezones: the months and days of what existed before are UTC's.
INSERT INTO billing_terms (tenant_id, effective_month, plan_id, bill_to_tenant_id)
SELECT t.id, strftime('%Y-%m', t.created_at), (SELECT id FROM billing_plans WHERE is_default),
       CASE WHEN t.billing_rolls_up AND p.parent_id IS NOT NULL THEN p.id END
FROM tenants AS t JOIN tenants AS p ON p.id = t.parent_id;
ALTER TABLE tenants DROP COLUMN billing_rolls_up;

INSERT INTO billing_presence_periods (tenant_id, meter, subject_id, started_at)
SELECT tenant_id, 'devices', id, created_at FROM devices WHERE status = 'active';
INSERT INTO billing_presence_periods (tenant_id, meter, subject_id, started_at)
SELECT tenant_id, 'seats', user_id, created_at FROM memberships;
INSERT INTO billing_presence_days (tenant_id, meter, day, starts)
SELECT tenant_id, meter, strftime('%Y-%m-%d', started_at), count(*) FROM billing_presence_periods GROUP BY 1, 2, 3;

INSERT INTO billing_order_days (tenant_id, day, template_id, category, template_name, completed)
SELECT o.tenant_id, strftime('%Y-%m-%d', e.created_at), o.template_id, 'standard', max(tp.name), count(*)
FROM order_events AS e
JOIN orders AS o ON o.id = e.order_id AND o.tenant_id = e.tenant_id
JOIN templates AS tp ON tp.id = o.template_id
WHERE e.to_status = 'completed' AND o.environment = 'live'
GROUP BY 1, 2, 3;

-- SQLite cannot alter a CHECK constraint, so the audit table is rebuilt with
-- its rows, indexes and triggers, as in 00024.
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
    'webhook_delivery.replayed',
    'billing_plan.created', 'billing_plan.updated', 'billing_plan.archived',
    'billing_terms.changed')),
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
DROP VIEW billing_latest_chains;
DROP TABLE billing_projections;
DROP TABLE billing_statement_sections;
DROP TABLE billing_statements;
DROP TABLE billing_presence_days;
DROP TABLE billing_presence_periods;
DROP TABLE billing_order_days;
DROP TABLE billing_terms;
DROP TABLE billing_plans;
ALTER TABLE tenants ADD COLUMN billing_rolls_up BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE templates DROP COLUMN category;
-- SQLite cannot alter a CHECK constraint, so the audit table is rebuilt with
-- its rows, indexes and triggers, as in 00024.
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

