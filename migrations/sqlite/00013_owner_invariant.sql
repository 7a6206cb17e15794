-- +goose Up
-- A tenant's owner is always its Super Admin: no transaction can commit a
-- tenant whose owner_user_id names someone who is not a member of it with
-- the role super_admin. SQLite has no constraint triggers, but it checks a
-- DEFERRABLE INITIALLY DEFERRED foreign key at the commit, so the owner is
-- mirrored into tenant_owners (kept by the triggers below; nothing else
-- writes it), whose (tenant_id, user_id, role) must name a membership. A
-- transfer may then change the owner and the membership in either order,
-- and deleting or demoting the owner's membership fails the commit, as
-- changing the owner to a non-member does. (A foreign key on tenants itself
-- would mean rebuilding the table every other table refers to.)
CREATE UNIQUE INDEX memberships_tenant_user_role_key ON memberships (tenant_id, user_id, role);

CREATE TABLE tenant_owners (
    tenant_id INTEGER PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL,
    role      TEXT NOT NULL DEFAULT 'super_admin' CHECK (role = 'super_admin'),
    CONSTRAINT tenant_owners_membership_fk FOREIGN KEY (tenant_id, user_id, role)
        REFERENCES memberships (tenant_id, user_id, role) DEFERRABLE INITIALLY DEFERRED
);

-- Companies whose owner is already not their Super Admin (data from before
-- this rule) are left out until their owner is set again, which platform
-- staff's repair does; the others are held to the rule from now on.
INSERT INTO tenant_owners (tenant_id, user_id)
    SELECT tenants.id, tenants.owner_user_id FROM tenants
    JOIN memberships ON memberships.tenant_id = tenants.id AND memberships.user_id = tenants.owner_user_id
        AND memberships.role = 'super_admin';

-- +goose StatementBegin
CREATE TRIGGER tenants_owner_insert AFTER INSERT ON tenants WHEN NEW.owner_user_id IS NOT NULL
BEGIN
    INSERT INTO tenant_owners (tenant_id, user_id) VALUES (NEW.id, NEW.owner_user_id);
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tenants_owner_update AFTER UPDATE OF owner_user_id ON tenants
BEGIN
    DELETE FROM tenant_owners WHERE tenant_id = NEW.id;
    INSERT INTO tenant_owners (tenant_id, user_id) SELECT NEW.id, NEW.owner_user_id WHERE NEW.owner_user_id IS NOT NULL;
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER tenants_owner_update;
DROP TRIGGER tenants_owner_insert;
DROP TABLE tenant_owners;
DROP INDEX memberships_tenant_user_role_key;
