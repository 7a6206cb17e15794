-- +goose Up
-- Row-level security: the database's own wall between tenants, behind the
-- application's tenant filter (models.Store.scoped). The server connects as a
-- member of canopy_app, which owns nothing, so every policy applies to it;
-- FORCE makes them apply to the tables' owner too. Each transaction says
-- what it may see with set_config(..., true) (models/scope.go):
--   app.tenant_id          the request's tenant: its rows and its descendants'
--   app.user_id            the signed-in user: their own memberships anywhere
--   app.invitation_token   a link's token hash: that one invitation
--   app.mailer             'on' for the mail worker: the outbox
-- Unset or empty settings match nothing, so a forgotten scope fails closed.

-- +goose StatementBegin
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'canopy_app') THEN
        CREATE ROLE canopy_app NOLOGIN;
    END IF;
EXCEPTION
    -- Another database of this cluster created it at the same moment.
    WHEN duplicate_object OR unique_violation THEN NULL;
    WHEN insufficient_privilege THEN
        RAISE EXCEPTION 'role canopy_app does not exist and % may not create it; as an administrator run: CREATE ROLE canopy_app NOLOGIN', current_user;
END
$$;
-- +goose StatementEnd

GRANT USAGE ON SCHEMA public TO canopy_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO canopy_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO canopy_app;
-- Only migrations, run as the owner, touch the schema's version table.
REVOKE ALL ON goose_db_version FROM canopy_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO canopy_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO canopy_app;

-- The company toggle shows each company's member count, but a user may not
-- read other members' rows of a company they are not acting in; the count is
-- kept on the tenant instead, by the database, in the same transaction.
ALTER TABLE tenants ADD COLUMN member_count BIGINT NOT NULL DEFAULT 0 CHECK (member_count >= 0);
UPDATE tenants SET member_count = (SELECT count(*) FROM memberships WHERE memberships.tenant_id = tenants.id);
-- +goose StatementBegin
CREATE FUNCTION memberships_count_members() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        UPDATE tenants SET member_count = member_count + 1 WHERE id = NEW.tenant_id;
    ELSE
        UPDATE tenants SET member_count = member_count - 1 WHERE id = OLD.tenant_id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER memberships_count AFTER INSERT OR DELETE ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_count_members();

-- The request's tenant, or NULL (matching nothing) when none is set.
-- +goose StatementBegin
CREATE FUNCTION app_tenant_id() RETURNS BIGINT AS $$
    SELECT NULLIF(current_setting('app.tenant_id', true), '')::BIGINT
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- The tenants a transaction may see: the request's tenant and everything
-- below it, so a parent's Super Admins reach their sub-tenants and nothing
-- beside or above them. Policies test `tenant_id = app_tenant_id()` first:
-- the tree, a recursive query Postgres runs once per statement, is only
-- built when a row of another tenant (a sub-tenant's) is looked at, which at
-- the top of a tree of ten thousand saves milliseconds on every query.
-- +goose StatementBegin
CREATE FUNCTION app_tenant_tree() RETURNS SETOF BIGINT AS $$
    WITH RECURSIVE tree (id) AS (
        SELECT id FROM tenants WHERE id = app_tenant_id()
        UNION ALL
        SELECT child.id FROM tenants AS child JOIN tree ON child.parent_id = tree.id
    )
    SELECT id FROM tree
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- The same wall around every table of a tenant's rows, from one list that
-- the Down section repeats, so taking it down misses none.
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'membership_templates', 'templates', 'orders', 'invitations',
                             'devices', 'tenant_solutions', 'audit_events', 'outbox_emails'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()))
            WITH CHECK (tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()))', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- The company toggle and the landing company read the user's own rows.
CREATE POLICY own_memberships ON memberships FOR SELECT
    USING (user_id = NULLIF(current_setting('app.user_id', true), '')::BIGINT);

-- An invitation link's holder may read that one invitation, and nothing else,
-- before anyone knows which company it is for.
CREATE POLICY invitation_by_token ON invitations FOR SELECT
    USING (token_hash = NULLIF(current_setting('app.invitation_token', true), ''));

-- Messages carry invitation links, so only the mail worker reads them all.
CREATE POLICY mail_delivery ON outbox_emails
    USING (current_setting('app.mailer', true) = 'on')
    WITH CHECK (current_setting('app.mailer', true) = 'on');

-- +goose Down
DROP POLICY mail_delivery ON outbox_emails;
DROP POLICY invitation_by_token ON invitations;
DROP POLICY own_memberships ON memberships;
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'membership_templates', 'templates', 'orders', 'invitations',
                             'devices', 'tenant_solutions', 'audit_events', 'outbox_emails'] LOOP
        EXECUTE format('DROP POLICY tenant_isolation ON %I', t);
        EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
DROP FUNCTION app_tenant_tree();
DROP FUNCTION app_tenant_id();
DROP TRIGGER memberships_count ON memberships;
DROP FUNCTION memberships_count_members();
ALTER TABLE tenants DROP COLUMN member_count;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM canopy_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM canopy_app;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM canopy_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM canopy_app;
REVOKE USAGE ON SCHEMA public FROM canopy_app;
