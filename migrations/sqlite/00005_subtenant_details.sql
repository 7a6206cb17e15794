-- +goose Up
-- Devices registered in a tenant.
CREATE TABLE devices (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id        INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    identifier       TEXT NOT NULL CHECK (length(identifier) BETWEEN 1 AND 64 AND identifier = trim(identifier)),
    model            TEXT NOT NULL CHECK (length(trim(model)) BETWEEN 1 AND 100),
    status           TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'deprovisioned')),
    deprovisioned_at DATETIME,
    created_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    updated_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT devices_tenant_id_key UNIQUE (tenant_id, id),
    -- Deprovisioning is final and dated.
    CHECK ((status = 'deprovisioned') = (deprovisioned_at IS NOT NULL))
);
CREATE UNIQUE INDEX devices_tenant_identifier_key ON devices (tenant_id, lower(identifier));
CREATE INDEX devices_tenant_created_idx ON devices (tenant_id, created_at DESC, id DESC);

-- Solutions enabled for a tenant; a child may only have its parent's.
CREATE TABLE tenant_solutions (
    tenant_id INTEGER NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    solution  TEXT NOT NULL CHECK (solution IN ('cold_chain', 'shipment_tracking', 'air_cargo')),
    PRIMARY KEY (tenant_id, solution)
);

-- "Inherit SSO login settings from parent tenant".
ALTER TABLE tenants ADD COLUMN sso_inherit BOOLEAN NOT NULL DEFAULT 1 CHECK (sso_inherit IN (0, 1));

-- +goose Down
ALTER TABLE tenants DROP COLUMN sso_inherit;
DROP TABLE tenant_solutions;
DROP TABLE devices;
