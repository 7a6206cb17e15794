-- +goose Up
-- The company toggle (on every page), the Companies page and the landing
-- company list a person's companies they can enter, by name. Read from the
-- tenants, that meant visiting every membership of the person, and its
-- tenant, to keep twenty: 500 of each for someone in 500 companies. Each
-- membership now carries what the lists sort and filter on, kept by the
-- database from its tenant, so one index holds a person's companies in
-- the order shown and the lists read only the rows they show:
--   tenant_sort_name   lower(tenants.name); ties go by tenant_id
--   tenant_reachable   tenants.status = 'active' AND tenants.inactive_above
--                      IS NULL: the company can be entered (models.reachableTenant)
-- Nothing else writes them: the triggers below fill them in when a
-- membership is made, and rewrite a tenant's memberships when its name,
-- status or inactive_above changes.
ALTER TABLE memberships ADD COLUMN tenant_sort_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN tenant_reachable BOOLEAN NOT NULL DEFAULT false;

-- Migrations run as the owner, whom FORCE would hold to the policies too.
ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY;
UPDATE memberships SET tenant_sort_name = lower(t.name), tenant_reachable = (t.status = 'active' AND t.inactive_above IS NULL)
FROM tenants AS t WHERE t.id = memberships.tenant_id;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;

-- A person's companies they can enter, in the lists' order; counting them
-- (the toggle's total) is an index-only scan of the same entries.
CREATE INDEX memberships_reachable_by_name_idx ON memberships (user_id, tenant_sort_name, tenant_id)
    WHERE tenant_reachable;

-- A new membership takes its tenant's values. The tenant's row is locked
-- first, as the member count's trigger (memberships_count) is about to do
-- anyway: a status change of the tenant committing meanwhile would
-- otherwise rewrite the tenant's other memberships without seeing this one,
-- and leave it with the values from before. Once the lock is held, the read
-- below sees the tenant as last committed.
-- +goose StatementBegin
CREATE FUNCTION memberships_copy_tenant_order() RETURNS trigger AS $$
BEGIN
    PERFORM 1 FROM tenants WHERE id = NEW.tenant_id FOR NO KEY UPDATE;
    SELECT lower(t.name), t.status = 'active' AND t.inactive_above IS NULL
      INTO NEW.tenant_sort_name, NEW.tenant_reachable
      FROM tenants AS t WHERE t.id = NEW.tenant_id;
    IF NOT FOUND THEN
        -- The foreign key refuses the row next; fill in what NOT NULL needs
        -- so that its error, not this one, is the one reported.
        NEW.tenant_sort_name := '';
        NEW.tenant_reachable := false;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
-- The same on every write of the copy, so that no statement can set it to
-- anything but its tenant's values (the tenant's own trigger below writes
-- what this computes anyway).
CREATE TRIGGER memberships_tenant_order BEFORE INSERT OR UPDATE OF tenant_sort_name, tenant_reachable ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_copy_tenant_order();

-- A tenant renamed, deactivated or reactivated, or shut or freed by a
-- tenant above it (inactive_above, which models.Store.markSubtree writes),
-- rewrites its memberships. It runs as the statement's own role, under
-- row-level security: a transaction that may change a tenant sees all of
-- its memberships (the same tree), and the count below proves it did, so a
-- membership left behind fails the change instead of leaving a list wrong.
-- +goose StatementBegin
CREATE FUNCTION tenants_copy_order_to_memberships() RETURNS trigger AS $$
DECLARE
    rewritten BIGINT;
BEGIN
    UPDATE memberships
       SET tenant_sort_name = lower(NEW.name),
           tenant_reachable = (NEW.status = 'active' AND NEW.inactive_above IS NULL)
     WHERE tenant_id = NEW.id;
    GET DIAGNOSTICS rewritten = ROW_COUNT;
    IF rewritten <> NEW.member_count THEN
        RAISE EXCEPTION 'tenant %: rewrote % of its % memberships; the others are not visible to this transaction',
            NEW.id, rewritten, NEW.member_count USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER tenants_memberships_order AFTER UPDATE OF name, status, inactive_above ON tenants
    FOR EACH ROW
    WHEN (lower(NEW.name) IS DISTINCT FROM lower(OLD.name)
          OR (NEW.status = 'active' AND NEW.inactive_above IS NULL) IS DISTINCT FROM (OLD.status = 'active' AND OLD.inactive_above IS NULL))
    EXECUTE FUNCTION tenants_copy_order_to_memberships();

-- +goose Down
DROP TRIGGER tenants_memberships_order ON tenants;
DROP FUNCTION tenants_copy_order_to_memberships();
DROP TRIGGER memberships_tenant_order ON memberships;
DROP FUNCTION memberships_copy_tenant_order();
DROP INDEX memberships_reachable_by_name_idx;
ALTER TABLE memberships DROP COLUMN tenant_reachable;
ALTER TABLE memberships DROP COLUMN tenant_sort_name;
