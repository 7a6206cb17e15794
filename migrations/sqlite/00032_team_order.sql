-- +goose Up
-- Each membership carries a copy of its person's name, email and whether
-- they sign in with a second factor, indexed in the Team page's order
-- (lower(first_name), lower(last_name), email), so the page reads its rows
-- from one index in order without reading users, and finds "is this
-- invitee already a member" by one lookup (see the PostgreSQL migration).
-- The same triggers keep the copy: a membership takes it from its person
-- when it is made, pointed at someone else or its copy is written; a
-- change of name, email or second factor is copied to every membership of
-- the person.

ALTER TABLE memberships ADD COLUMN person_first_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN person_last_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN person_email TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN person_two_factor BOOLEAN NOT NULL DEFAULT 0;

UPDATE memberships SET (person_first_name, person_last_name, person_email, person_two_factor) =
    (SELECT u.first_name, u.last_name, u.email, u.two_factor_enabled FROM users AS u WHERE u.id = memberships.user_id);

CREATE INDEX memberships_team_order_idx ON memberships (tenant_id, lower(person_first_name), lower(person_last_name), person_email);
CREATE INDEX memberships_tenant_email_idx ON memberships (tenant_id, person_email);
CREATE INDEX invitations_tenant_email_idx ON invitations (tenant_id, email);

-- A trigger's own UPDATE does not fire it again (recursive_triggers is
-- off), so these do not loop.
-- +goose StatementBegin
CREATE TRIGGER memberships_person_copy_insert AFTER INSERT ON memberships
BEGIN
    UPDATE memberships SET (person_first_name, person_last_name, person_email, person_two_factor) =
        (SELECT u.first_name, u.last_name, u.email, u.two_factor_enabled FROM users AS u WHERE u.id = NEW.user_id)
    WHERE id = NEW.id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER memberships_person_copy_update
AFTER UPDATE OF user_id, person_first_name, person_last_name, person_email, person_two_factor ON memberships
BEGIN
    UPDATE memberships SET (person_first_name, person_last_name, person_email, person_two_factor) =
        (SELECT u.first_name, u.last_name, u.email, u.two_factor_enabled FROM users AS u WHERE u.id = NEW.user_id)
    WHERE id = NEW.id;
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER users_person_copy AFTER UPDATE OF first_name, last_name, email, two_factor_enabled ON users
WHEN OLD.first_name IS NOT NEW.first_name OR OLD.last_name IS NOT NEW.last_name
    OR OLD.email IS NOT NEW.email OR OLD.two_factor_enabled IS NOT NEW.two_factor_enabled
BEGIN
    UPDATE memberships SET person_first_name = NEW.first_name, person_last_name = NEW.last_name,
        person_email = NEW.email, person_two_factor = NEW.two_factor_enabled
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
ALTER TABLE memberships DROP COLUMN person_email;
ALTER TABLE memberships DROP COLUMN person_last_name;
ALTER TABLE memberships DROP COLUMN person_first_name;
