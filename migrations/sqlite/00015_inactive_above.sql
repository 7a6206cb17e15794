-- +goose Up
-- A tenant below an inactive one cannot be entered, whatever its own status
-- (docs/product.md, Tenants: Status). The request pipeline checks each
-- host's ancestors as it resolves it; lists of a person's companies (the
-- company toggle on every page, the Companies page, the landing company)
-- read this column instead of walking up from every row: the highest
-- inactive tenant above each tenant, NULL when there is none. Only the
-- store writes it (models.Store.SetTenantStatus and CreateTenant, in the
-- transaction of the change); a tenant's own status is never overwritten.
ALTER TABLE tenants ADD COLUMN inactive_above INTEGER;
WITH RECURSIVE below (id, status, shut) AS (
    SELECT id, status, CAST(NULL AS INTEGER) FROM tenants WHERE parent_id IS NULL
    UNION ALL
    SELECT child.id, child.status, COALESCE(below.shut, CASE WHEN below.status = 'inactive' THEN below.id END)
    FROM tenants AS child JOIN below ON child.parent_id = below.id
)
UPDATE tenants SET inactive_above = below.shut FROM below WHERE tenants.id = below.id AND below.shut IS NOT NULL;

-- +goose Down
ALTER TABLE tenants DROP COLUMN inactive_above;
