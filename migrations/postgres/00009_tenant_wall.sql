-- +goose Up
-- The wall around the tenant tree itself, after review:
-- * a scope sees the tenants below its own only when it manages them
--   (app.subtree, set for Super Admins), so a Viewer's forgotten filter on a
--   parent's page still shows nothing of its sub-tenants;
-- * the tree cannot be rearranged (parent_id is fixed, like the name), and
--   tenants can only be created under, or changed within, the scope's tree;
-- * rows never move between tenants;
-- * a tenant may queue mail but not read it back: messages carry links.

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_tenant_tree() RETURNS SETOF BIGINT AS $$
    WITH RECURSIVE tree (id) AS (
        SELECT id FROM tenants WHERE id = app_tenant_id()
        UNION
        SELECT child.id FROM tenants AS child JOIN tree ON child.parent_id = tree.id
        WHERE current_setting('app.subtree', true) = 'on'
    )
    SELECT id FROM tree
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenants_refuse_immutable_update() RETURNS trigger AS $$
BEGIN
    IF NEW.name IS DISTINCT FROM OLD.name
       OR NEW.subdomain IS DISTINCT FROM OLD.subdomain
       OR NEW.description IS DISTINCT FROM OLD.description
       OR NEW.contact_email IS DISTINCT FROM OLD.contact_email
       OR NEW.parent_id IS DISTINCT FROM OLD.parent_id THEN
        RAISE EXCEPTION 'tenant details are immutable' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd

-- One root, whoever inserts it.
CREATE UNIQUE INDEX tenants_one_root_key ON tenants ((true)) WHERE parent_id IS NULL;

-- Every tenant is readable (hosts resolve against the directory, and it
-- holds names, not data); writing needs the tree.
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY directory ON tenants FOR SELECT USING (true);
CREATE POLICY create_in_tree ON tenants FOR INSERT
    WITH CHECK (parent_id IS NULL OR parent_id = app_tenant_id() OR parent_id IN (SELECT app_tenant_tree()));
CREATE POLICY change_in_tree ON tenants FOR UPDATE
    USING (id = app_tenant_id() OR id IN (SELECT app_tenant_tree()))
    WITH CHECK (id = app_tenant_id() OR id IN (SELECT app_tenant_tree()));

-- +goose StatementBegin
CREATE FUNCTION refuse_tenant_move() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'rows cannot move between tenants' USING ERRCODE = 'check_violation';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    -- Not outbox_emails: deleting a tenant sets its messages' tenant to NULL.
    FOREACH t IN ARRAY ARRAY['memberships', 'membership_templates', 'templates', 'orders', 'invitations',
                             'devices', 'tenant_solutions', 'audit_events'] LOOP
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF tenant_id ON %I FOR EACH ROW
            WHEN (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) EXECUTE FUNCTION refuse_tenant_move()', t || '_tenant_fixed', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

DROP POLICY tenant_isolation ON outbox_emails;
CREATE POLICY enqueue_in_tree ON outbox_emails FOR INSERT
    WITH CHECK (tenant_id IS NULL OR tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()));

-- +goose Down
DROP POLICY enqueue_in_tree ON outbox_emails;
CREATE POLICY tenant_isolation ON outbox_emails
    USING (tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()))
    WITH CHECK (tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()));
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'membership_templates', 'templates', 'orders', 'invitations',
                             'devices', 'tenant_solutions', 'audit_events'] LOOP
        EXECUTE format('DROP TRIGGER %I ON %I', t || '_tenant_fixed', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP FUNCTION refuse_tenant_move();
DROP POLICY change_in_tree ON tenants;
DROP POLICY create_in_tree ON tenants;
DROP POLICY directory ON tenants;
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
ALTER TABLE tenants DISABLE ROW LEVEL SECURITY;
DROP INDEX tenants_one_root_key;
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION tenants_refuse_immutable_update() RETURNS trigger AS $$
BEGIN
    IF NEW.name IS DISTINCT FROM OLD.name
       OR NEW.subdomain IS DISTINCT FROM OLD.subdomain
       OR NEW.description IS DISTINCT FROM OLD.description
       OR NEW.contact_email IS DISTINCT FROM OLD.contact_email THEN
        RAISE EXCEPTION 'tenant details are immutable' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_tenant_tree() RETURNS SETOF BIGINT AS $$
    WITH RECURSIVE tree (id) AS (
        SELECT id FROM tenants WHERE id = app_tenant_id()
        UNION ALL
        SELECT child.id FROM tenants AS child JOIN tree ON child.parent_id = tree.id
    )
    SELECT id FROM tree
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
