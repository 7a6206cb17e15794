-- +goose Up
-- Each tenant carries its owner's email, which every list of companies
-- shows (the Postgres migration of the same number says why). Kept by
-- triggers: a tenant's owner set or changed copies the owner's address, an
-- owner's address changed is copied to the tenant they own. SQLite's
-- triggers cannot set NEW, so the row is completed right after it is written.
ALTER TABLE tenants ADD COLUMN owner_email TEXT NOT NULL DEFAULT '';
UPDATE tenants SET owner_email = COALESCE((SELECT email FROM users WHERE users.id = tenants.owner_user_id), '');

-- +goose StatementBegin
CREATE TRIGGER tenants_owner_email_on_insert AFTER INSERT ON tenants
BEGIN
    UPDATE tenants SET owner_email = COALESCE((SELECT email FROM users WHERE users.id = NEW.owner_user_id), '')
     WHERE id = NEW.id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tenants_owner_email_on_update AFTER UPDATE OF owner_user_id, owner_email ON tenants
WHEN NEW.owner_email IS NOT COALESCE((SELECT email FROM users WHERE users.id = NEW.owner_user_id), '')
BEGIN
    UPDATE tenants SET owner_email = COALESCE((SELECT email FROM users WHERE users.id = NEW.owner_user_id), '')
     WHERE id = NEW.id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_email_to_owned AFTER UPDATE OF email ON users
WHEN NEW.email IS NOT OLD.email
BEGIN
    UPDATE tenants SET owner_email = NEW.email WHERE owner_user_id = NEW.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_email_to_owned;
DROP TRIGGER tenants_owner_email_on_update;
DROP TRIGGER tenants_owner_email_on_insert;
ALTER TABLE tenants DROP COLUMN owner_email;
