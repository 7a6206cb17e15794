-- +goose Up
-- The company toggle's member counts, kept on the tenant by the database (on
-- Postgres, row-level security also arrives in this migration; SQLite has no
-- such thing, so it gets only the count).
ALTER TABLE tenants ADD COLUMN member_count INTEGER NOT NULL DEFAULT 0 CHECK (member_count >= 0);
UPDATE tenants SET member_count = (SELECT count(*) FROM memberships WHERE memberships.tenant_id = tenants.id);
-- +goose StatementBegin
CREATE TRIGGER memberships_count_insert AFTER INSERT ON memberships
BEGIN
    UPDATE tenants SET member_count = member_count + 1 WHERE id = NEW.tenant_id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER memberships_count_delete AFTER DELETE ON memberships
BEGIN
    UPDATE tenants SET member_count = member_count - 1 WHERE id = OLD.tenant_id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER memberships_count_delete;
DROP TRIGGER memberships_count_insert;
ALTER TABLE tenants DROP COLUMN member_count;
