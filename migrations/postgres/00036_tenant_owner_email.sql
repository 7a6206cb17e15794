-- +goose Up
-- Each tenant carries its owner's email, which every list of companies
-- shows: the company toggle on every page, the Companies page, a parent's
-- Sub-Tenants. Read through users, each row's owner passed that table's
-- row-level security (is the owner a fellow member, the owner of one of my
-- companies?), a few lookups per row on every page. Kept by the database:
-- a tenant's owner set or changed copies the owner's address, an owner's
-- address changed is copied to the tenant they own. Nothing else writes it.
ALTER TABLE tenants ADD COLUMN owner_email TEXT NOT NULL DEFAULT '';
UPDATE tenants SET owner_email = users.email FROM users WHERE users.id = tenants.owner_user_id;

-- The address comes from the owner's row whatever the writer may see of
-- users (SECURITY DEFINER: users is not FORCEd for its owner), and
-- whatever the statement wrote into the column itself.
-- +goose StatementBegin
CREATE FUNCTION tenants_copy_owner_email() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    NEW.owner_email := coalesce((SELECT email FROM users WHERE id = NEW.owner_user_id), '');
    RETURN NEW;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER tenants_copy_owner_email BEFORE INSERT OR UPDATE OF owner_user_id, owner_email ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_copy_owner_email();

-- A person's new address reaches the company they own, whichever scope the
-- change is made in (their profile, on the base domain, sees no company):
-- the owner's function writes it, past the tree policy, through a policy
-- of its own that the application role does not have.
CREATE POLICY owner_functions_write ON tenants FOR UPDATE TO CURRENT_USER USING (true) WITH CHECK (true);
-- +goose StatementBegin
CREATE FUNCTION users_copy_email_to_owned() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
BEGIN
    UPDATE tenants SET owner_email = NEW.email WHERE owner_user_id = NEW.id;
    RETURN NULL;
END
$$;
-- +goose StatementEnd
CREATE TRIGGER users_copy_email_to_owned AFTER UPDATE OF email ON users
    FOR EACH ROW WHEN (OLD.email IS DISTINCT FROM NEW.email) EXECUTE FUNCTION users_copy_email_to_owned();

-- +goose Down
DROP TRIGGER users_copy_email_to_owned ON users;
DROP FUNCTION users_copy_email_to_owned();
DROP POLICY owner_functions_write ON tenants;
DROP TRIGGER tenants_copy_owner_email ON tenants;
DROP FUNCTION tenants_copy_owner_email();
ALTER TABLE tenants DROP COLUMN owner_email;
