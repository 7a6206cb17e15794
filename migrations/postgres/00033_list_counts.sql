-- +goose Up
-- Two lists count what they show on every view: a tenant's Sub-Tenants (its
-- children; 9,000 under the platform) and its Devices (200,000 for a large
-- fleet). Counting them, even only up to the 10,000 a pager shows, read
-- 10,000 index entries a page view. The counts are kept on the tenant
-- instead, by the database, in the transaction that adds or removes a row,
-- as member_count is (00007): the unfiltered lists read their total from
-- one row. Tenants never move (parent_id is fixed) and devices never change
-- tenant (00009), so inserts and deletes are all that change a count.
ALTER TABLE tenants ADD COLUMN child_count BIGINT NOT NULL DEFAULT 0 CHECK (child_count >= 0);
ALTER TABLE tenants ADD COLUMN device_count BIGINT NOT NULL DEFAULT 0 CHECK (device_count >= 0);

-- Migrations run as the owner, whom FORCE would hold to the policies too.
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
UPDATE tenants SET child_count = children.n
FROM (SELECT parent_id, count(*) AS n FROM tenants WHERE parent_id IS NOT NULL GROUP BY parent_id) AS children
WHERE tenants.id = children.parent_id;
UPDATE tenants SET device_count = owned.n
FROM (SELECT tenant_id, count(*) AS n FROM devices GROUP BY tenant_id) AS owned
WHERE tenants.id = owned.tenant_id;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;

-- The triggers run once per statement, over the rows it inserted or
-- deleted, so an import of thousands of devices updates its tenant once.
-- They run as the application (row-level security applies): the policies
-- that let a scope insert a tenant or a device let it update the tenant
-- counted, since both are "in the scope's tree". Should that ever differ,
-- an insert whose count cannot be written is refused rather than leaving
-- the count wrong. A delete may find its tenant gone (the owner deleting a
-- tenant, which deletes its devices with it): nothing is left to count.

-- +goose StatementBegin
CREATE FUNCTION tenants_count_added_children() RETURNS trigger AS $$
DECLARE
    parents BIGINT;
    counted BIGINT;
BEGIN
    SELECT count(DISTINCT parent_id) INTO parents FROM added_tenants WHERE parent_id IS NOT NULL;
    UPDATE tenants SET child_count = child_count + added.n
    FROM (SELECT parent_id, count(*) AS n FROM added_tenants WHERE parent_id IS NOT NULL GROUP BY parent_id) AS added
    WHERE tenants.id = added.parent_id;
    GET DIAGNOSTICS counted = ROW_COUNT;
    IF counted <> parents THEN
        RAISE EXCEPTION 'tenants.child_count: a parent of a new tenant cannot be updated in this scope'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION tenants_count_removed_children() RETURNS trigger AS $$
BEGIN
    UPDATE tenants SET child_count = child_count - removed.n
    FROM (SELECT parent_id, count(*) AS n FROM removed_tenants WHERE parent_id IS NOT NULL GROUP BY parent_id) AS removed
    WHERE tenants.id = removed.parent_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER tenants_count_children_added AFTER INSERT ON tenants
    REFERENCING NEW TABLE AS added_tenants FOR EACH STATEMENT EXECUTE FUNCTION tenants_count_added_children();
CREATE TRIGGER tenants_count_children_removed AFTER DELETE ON tenants
    REFERENCING OLD TABLE AS removed_tenants FOR EACH STATEMENT EXECUTE FUNCTION tenants_count_removed_children();

-- +goose StatementBegin
CREATE FUNCTION devices_count_added() RETURNS trigger AS $$
DECLARE
    owners  BIGINT;
    counted BIGINT;
BEGIN
    SELECT count(DISTINCT tenant_id) INTO owners FROM added_devices;
    UPDATE tenants SET device_count = device_count + added.n
    FROM (SELECT tenant_id, count(*) AS n FROM added_devices GROUP BY tenant_id) AS added
    WHERE tenants.id = added.tenant_id;
    GET DIAGNOSTICS counted = ROW_COUNT;
    IF counted <> owners THEN
        RAISE EXCEPTION 'tenants.device_count: the tenant of a new device cannot be updated in this scope'
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE FUNCTION devices_count_removed() RETURNS trigger AS $$
BEGIN
    UPDATE tenants SET device_count = device_count - removed.n
    FROM (SELECT tenant_id, count(*) AS n FROM removed_devices GROUP BY tenant_id) AS removed
    WHERE tenants.id = removed.tenant_id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER devices_count_added AFTER INSERT ON devices
    REFERENCING NEW TABLE AS added_devices FOR EACH STATEMENT EXECUTE FUNCTION devices_count_added();
CREATE TRIGGER devices_count_removed AFTER DELETE ON devices
    REFERENCING OLD TABLE AS removed_devices FOR EACH STATEMENT EXECUTE FUNCTION devices_count_removed();

-- +goose Down
DROP TRIGGER devices_count_removed ON devices;
DROP TRIGGER devices_count_added ON devices;
DROP FUNCTION devices_count_removed();
DROP FUNCTION devices_count_added();
DROP TRIGGER tenants_count_children_removed ON tenants;
DROP TRIGGER tenants_count_children_added ON tenants;
DROP FUNCTION tenants_count_removed_children();
DROP FUNCTION tenants_count_added_children();
ALTER TABLE tenants DROP COLUMN device_count;
ALTER TABLE tenants DROP COLUMN child_count;
