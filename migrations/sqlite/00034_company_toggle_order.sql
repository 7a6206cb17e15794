-- +goose Up
-- The company toggle (on every page), the Companies page and the landing
-- company list a person's companies they can enter, by name. Each
-- membership carries what those lists sort and filter on, kept by the
-- database from its tenant, so one index holds a person's companies in the
-- order shown (the Postgres migration of the same number says more):
--   tenant_sort_name   lower(tenants.name); ties go by tenant_id
--   tenant_reachable   tenants.status = 'active' AND tenants.inactive_above IS NULL
-- Nothing else writes them. SQLite runs one writing transaction at a time,
-- so a membership made while its tenant changes cannot miss the change.
ALTER TABLE memberships ADD COLUMN tenant_sort_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN tenant_reachable BOOLEAN NOT NULL DEFAULT 0;

UPDATE memberships SET tenant_sort_name = lower(t.name), tenant_reachable = (t.status = 'active' AND t.inactive_above IS NULL)
FROM tenants AS t WHERE t.id = memberships.tenant_id;

CREATE INDEX memberships_reachable_by_name_idx ON memberships (user_id, tenant_sort_name, tenant_id)
    WHERE tenant_reachable;

-- A new membership takes its tenant's values (SQLite's triggers cannot set
-- NEW, so the row is completed right after it is written).
-- +goose StatementBegin
CREATE TRIGGER memberships_tenant_order AFTER INSERT ON memberships
BEGIN
    UPDATE memberships
       SET tenant_sort_name = (SELECT lower(t.name) FROM tenants AS t WHERE t.id = NEW.tenant_id),
           tenant_reachable = (SELECT t.status = 'active' AND t.inactive_above IS NULL FROM tenants AS t WHERE t.id = NEW.tenant_id)
     WHERE id = NEW.id;
END;
-- +goose StatementEnd

-- A tenant renamed, deactivated or reactivated, or shut or freed by a
-- tenant above it (inactive_above), rewrites its memberships.
-- +goose StatementBegin
CREATE TRIGGER tenants_memberships_order AFTER UPDATE OF name, status, inactive_above ON tenants
WHEN lower(NEW.name) IS NOT lower(OLD.name)
  OR (NEW.status = 'active' AND NEW.inactive_above IS NULL) IS NOT (OLD.status = 'active' AND OLD.inactive_above IS NULL)
BEGIN
    UPDATE memberships
       SET tenant_sort_name = lower(NEW.name),
           tenant_reachable = (NEW.status = 'active' AND NEW.inactive_above IS NULL)
     WHERE tenant_id = NEW.id;
END;
-- +goose StatementEnd

-- A write of the copy itself is put back to its tenant's values.
-- +goose StatementBegin
CREATE TRIGGER memberships_tenant_order_fixed AFTER UPDATE OF tenant_sort_name, tenant_reachable ON memberships
WHEN NEW.tenant_sort_name IS NOT (SELECT lower(t.name) FROM tenants AS t WHERE t.id = NEW.tenant_id)
  OR NEW.tenant_reachable IS NOT (SELECT t.status = 'active' AND t.inactive_above IS NULL FROM tenants AS t WHERE t.id = NEW.tenant_id)
BEGIN
    UPDATE memberships
       SET tenant_sort_name = (SELECT lower(t.name) FROM tenants AS t WHERE t.id = NEW.tenant_id),
           tenant_reachable = (SELECT t.status = 'active' AND t.inactive_above IS NULL FROM tenants AS t WHERE t.id = NEW.tenant_id)
     WHERE id = NEW.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER memberships_tenant_order_fixed;
DROP TRIGGER tenants_memberships_order;
DROP TRIGGER memberships_tenant_order;
DROP INDEX memberships_reachable_by_name_idx;
ALTER TABLE memberships DROP COLUMN tenant_reachable;
ALTER TABLE memberships DROP COLUMN tenant_sort_name;
