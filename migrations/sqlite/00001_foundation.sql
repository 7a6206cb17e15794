-- +goose Up
-- Users sign in once and may belong to many tenants.
CREATE TABLE users (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    email           TEXT NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254 AND instr(email, '@') > 1),
    first_name      TEXT NOT NULL DEFAULT '' CHECK (length(first_name) <= 100),
    last_name       TEXT NOT NULL DEFAULT '' CHECK (length(last_name) <= 100),
    password_hash   TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'invited', 'disabled')),
    -- Bumped to end every session of the user at once (sign-out, password change).
    session_version INTEGER NOT NULL DEFAULT 1 CHECK (session_version > 0),
    last_tenant_id  INTEGER REFERENCES tenants (id) ON DELETE SET NULL,
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE UNIQUE INDEX users_email_key ON users (lower(email));

-- Tenants form one tree: the platform tenant is the root.
CREATE TABLE tenants (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    parent_id        INTEGER REFERENCES tenants (id) ON DELETE RESTRICT,
    name             TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 2 AND 100),
    subdomain        TEXT NOT NULL CHECK (
        length(subdomain) BETWEEN 3 AND 63
        AND subdomain NOT GLOB '*[^a-z0-9-]*'
        AND subdomain NOT GLOB '-*'
        AND subdomain NOT GLOB '*-'),
    description      TEXT NOT NULL DEFAULT '' CHECK (length(description) <= 500),
    contact_email    TEXT NOT NULL DEFAULT '' CHECK (contact_email = lower(contact_email)),
    timezone         TEXT NOT NULL DEFAULT 'UTC' CHECK (timezone <> ''),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive')),
    owner_user_id    INTEGER REFERENCES users (id) ON DELETE RESTRICT,
    billing_rolls_up BOOLEAN NOT NULL DEFAULT 0 CHECK (billing_rolls_up IN (0, 1)),
    created_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CHECK (parent_id IS NULL OR parent_id <> id)
);
CREATE UNIQUE INDEX tenants_subdomain_key ON tenants (lower(subdomain));
-- Each user owns at most one tenant.
CREATE UNIQUE INDEX tenants_owner_key ON tenants (owner_user_id);
CREATE INDEX tenants_parent_idx ON tenants (parent_id);

-- Name, subdomain, description and contact email cannot change after creation,
-- whatever statement tries it.
-- +goose StatementBegin
CREATE TRIGGER tenants_immutable BEFORE UPDATE OF name, subdomain, description, contact_email ON tenants
WHEN NEW.name IS NOT OLD.name
  OR NEW.subdomain IS NOT OLD.subdomain
  OR NEW.description IS NOT OLD.description
  OR NEW.contact_email IS NOT OLD.contact_email
BEGIN
    SELECT RAISE(ABORT, 'tenant details are immutable');
END;
-- +goose StatementEnd

-- A role per user per tenant.
CREATE TABLE memberships (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role       TEXT NOT NULL CHECK (role IN ('viewer', 'editor', 'admin', 'super_admin')),
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT memberships_tenant_user_key UNIQUE (tenant_id, user_id)
);
CREATE INDEX memberships_user_idx ON memberships (user_id);

-- Hand-off tokens are stateless and signed; redeeming one records its id here
-- so it cannot be used twice.
CREATE TABLE handoff_redemptions (
    token_id   TEXT PRIMARY KEY,
    expires_at DATETIME NOT NULL
);
CREATE INDEX handoff_redemptions_expires_idx ON handoff_redemptions (expires_at);

-- +goose Down
DROP TABLE handoff_redemptions;
DROP TABLE memberships;
DROP TRIGGER tenants_immutable;
DROP TABLE tenants;
DROP TABLE users;
