-- +goose Up
-- Two lists count what they show on every view: a tenant's Sub-Tenants (its
-- children) and its Devices. The counts are kept on the tenant instead, by
-- the database, in the transaction that adds or removes a row, as
-- member_count is (00007): the unfiltered lists read their total from one
-- row. Tenants never move (parent_id is fixed) and devices never change
-- tenant (00009), so inserts and deletes are all that change a count.
ALTER TABLE tenants ADD COLUMN child_count INTEGER NOT NULL DEFAULT 0 CHECK (child_count >= 0);
ALTER TABLE tenants ADD COLUMN device_count INTEGER NOT NULL DEFAULT 0 CHECK (device_count >= 0);
UPDATE tenants SET child_count = (SELECT count(*) FROM tenants AS child WHERE child.parent_id = tenants.id);
UPDATE tenants SET device_count = (SELECT count(*) FROM devices WHERE devices.tenant_id = tenants.id);
-- +goose StatementBegin
CREATE TRIGGER tenants_count_children_added AFTER INSERT ON tenants WHEN NEW.parent_id IS NOT NULL
BEGIN
    UPDATE tenants SET child_count = child_count + 1 WHERE id = NEW.parent_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tenants_count_children_removed AFTER DELETE ON tenants WHEN OLD.parent_id IS NOT NULL
BEGIN
    UPDATE tenants SET child_count = child_count - 1 WHERE id = OLD.parent_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_count_added AFTER INSERT ON devices
BEGIN
    UPDATE tenants SET device_count = device_count + 1 WHERE id = NEW.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_count_removed AFTER DELETE ON devices
BEGIN
    UPDATE tenants SET device_count = device_count - 1 WHERE id = OLD.tenant_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER devices_count_removed;
DROP TRIGGER devices_count_added;
DROP TRIGGER tenants_count_children_removed;
DROP TRIGGER tenants_count_children_added;
ALTER TABLE tenants DROP COLUMN device_count;
ALTER TABLE tenants DROP COLUMN child_count;
