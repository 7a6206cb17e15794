-- +goose Up
-- Each membership carries its person's sort keys — lower(first_name),
-- lower(last_name), email — and whether they sign in with a second factor,
-- so the Team page reads a page from one index in name order and finds
-- "is this invitee already a member" by one lookup (see the PostgreSQL
-- migration for the why). The same triggers keep the copy: a membership
-- takes it from its person when it is made, pointed at someone else or its
-- copy is written; a change of name, email or second factor is copied to
-- every membership of the person.

ALTER TABLE memberships ADD COLUMN sort_first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN sort_last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN sort_email TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN person_two_factor BOOLEAN NOT NULL DEFAULT 0;

UPDATE memberships SET
    sort_first_name = (SELECT lower(u.first_name) FROM users AS u WHERE u.id = memberships.user_id),
    sort_last_name = (SELECT lower(u.last_name) FROM users AS u WHERE u.id = memberships.user_id),
    sort_email = (SELECT lower(u.email) FROM users AS u WHERE u.id = memberships.user_id),
    person_two_factor = (SELECT u.two_factor_enabled FROM users AS u WHERE u.id = memberships.user_id);

CREATE INDEX memberships_team_order_idx ON memberships (tenant_id, sort_first_name, sort_last_name, sort_email);
CREATE INDEX memberships_tenant_email_idx ON memberships (tenant_id, sort_email);
CREATE INDEX invitations_tenant_email_idx ON invitations (tenant_id, email);

-- SQLite's triggers do not fire themselves again (recursive_triggers is
-- off), so the UPDATE below does not loop.
-- +goose StatementBegin
CREATE TRIGGER memberships_person_copy_insert AFTER INSERT ON memberships
BEGIN
    UPDATE memberships SET
        sort_first_name = (SELECT lower(u.first_name) FROM users AS u WHERE u.id = NEW.user_id),
        sort_last_name = (SELECT lower(u.last_name) FROM users AS u WHERE u.id = NEW.user_id),
        sort_email = (SELECT lower(u.email) FROM users AS u WHERE u.id = NEW.user_id),
        person_two_factor = (SELECT u.two_factor_enabled FROM users AS u WHERE u.id = NEW.user_id)
    WHERE id = NEW.id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER memberships_person_copy_update
AFTER UPDATE OF user_id, sort_first_name, sort_last_name, sort_email, person_two_factor ON memberships
BEGIN
    UPDATE memberships SET
        sort_first_name = (SELECT lower(u.first_name) FROM users AS u WHERE u.id = NEW.user_id),
        sort_last_name = (SELECT lower(u.last_name) FROM users AS u WHERE u.id = NEW.user_id),
        sort_email = (SELECT lower(u.email) FROM users AS u WHERE u.id = NEW.user_id),
        person_two_factor = (SELECT u.two_factor_enabled FROM users AS u WHERE u.id = NEW.user_id)
    WHERE id = NEW.id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_person_copy AFTER UPDATE OF first_name, last_name, email, two_factor_enabled ON users
WHEN OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name
    OR OLD.email IS NOT NEW.email OR OLD.two_factor_enabled IS NOT NEW.two_factor_enabled
BEGIN
    UPDATE memberships SET
        sort_first_name = lower(NEW.first_name), sort_last_name = lower(NEW.last_name), sort_email = lower(NEW.email),
        person_two_factor = NEW.two_factor_enabled
    WHERE user_id = NEW.id;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER users_person_copy;
DROP TRIGGER memberships_person_copy_update;
DROP TRIGGER memberships_person_copy_insert;
DROP INDEX invitations_tenant_email_idx;
DROP INDEX memberships_tenant_email_idx;
DROP INDEX memberships_team_order_idx;
ALTER TABLE memberships DROP COLUMN person_two_factor;
ALTER TABLE memberships DROP COLUMN sort_email;
ALTER TABLE memberships DROP COLUMN sort_last_name;
ALTER TABLE memberships DROP COLUMN sort_first_name;
