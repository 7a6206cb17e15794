-- +goose Up
-- Templates: what an order collects and how it is branded.
CREATE TABLE templates (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id             INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name                  TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 2 AND 100),
    branding_company_name TEXT NOT NULL DEFAULT '' CHECK (length(branding_company_name) <= 100),
    brand_color           TEXT NOT NULL DEFAULT '#0f766e' CHECK (length(brand_color) = 7 AND brand_color GLOB '#[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'),
    collects              TEXT NOT NULL DEFAULT '',  -- comma-separated order data keys
    created_by_user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at            DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at            DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT templates_tenant_id_key UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX templates_tenant_name_key ON templates (tenant_id, lower(name));

-- Orders are created from a template the member may use.
CREATE TABLE orders (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    template_id        INTEGER NOT NULL,
    applicant_name     TEXT NOT NULL CHECK (length(trim(applicant_name)) BETWEEN 1 AND 200),
    applicant_email    TEXT NOT NULL DEFAULT '',
    reference          TEXT NOT NULL DEFAULT '' CHECK (length(reference) <= 100),
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    created_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    created_at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    -- The template must belong to the same tenant as the order.
    CONSTRAINT orders_template_fk FOREIGN KEY (tenant_id, template_id) REFERENCES templates (tenant_id, id) ON DELETE RESTRICT
);
CREATE INDEX orders_tenant_created_idx ON orders (tenant_id, created_at DESC, id DESC);

-- Which templates a member may order from. No rows means every template.
CREATE UNIQUE INDEX memberships_tenant_id_key ON memberships (tenant_id, id);
CREATE TABLE membership_templates (
    tenant_id     INTEGER NOT NULL,
    membership_id INTEGER NOT NULL,
    template_id   INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, membership_id, template_id),
    CONSTRAINT membership_templates_membership_fk FOREIGN KEY (tenant_id, membership_id) REFERENCES memberships (tenant_id, id) ON DELETE CASCADE,
    CONSTRAINT membership_templates_template_fk FOREIGN KEY (tenant_id, template_id) REFERENCES templates (tenant_id, id) ON DELETE CASCADE
);

-- Invitations to join a tenant. The token is stored only as a hash.
CREATE TABLE invitations (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id          INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    email              TEXT NOT NULL CHECK (email = lower(email) AND instr(email, '@') > 1),
    first_name         TEXT NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
    last_name          TEXT NOT NULL DEFAULT '' CHECK (length(last_name) <= 100),
    role               TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'super_admin')),
    template_ids       TEXT NOT NULL DEFAULT '', -- comma-separated; copied to the membership on acceptance
    token_hash         TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'revoked')),
    invited_by_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    expires_at         DATETIME NOT NULL,
    responded_at       DATETIME,
    created_at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at         DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT invitations_tenant_id_key UNIQUE (tenant_id, id)
);
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
-- At most one open invitation per person per tenant, even under a double submit.
CREATE UNIQUE INDEX invitations_pending_key ON invitations (tenant_id, email) WHERE status = 'pending';
CREATE INDEX invitations_tenant_idx ON invitations (tenant_id, status);

-- Outgoing email, written in the same transaction as the change that causes
-- it and delivered by a background worker with retries.
CREATE TABLE outbox_emails (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id       INTEGER REFERENCES tenants (id) ON DELETE SET NULL,
    to_address      TEXT NOT NULL,
    subject         TEXT NOT NULL,
    body_text       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    locked_until    DATETIME,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         DATETIME,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX outbox_emails_due_idx ON outbox_emails (next_attempt_at) WHERE status = 'pending';

-- +goose Down
DROP TABLE outbox_emails;
DROP TABLE invitations;
DROP TABLE membership_templates;
DROP INDEX memberships_tenant_id_key;
DROP TABLE orders;
DROP TABLE templates;
