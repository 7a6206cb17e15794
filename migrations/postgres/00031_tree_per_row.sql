-- +goose Up
-- The tenant tree in the policies, per row instead of per statement.
--
-- Until now a policy let a Super Admin's scope see the tenants below its
-- own with `tenant_id IN (SELECT app_tenant_tree())`: the recursive walk
-- down the whole subtree, once per statement that touched a row of another
-- tenant — 10,000 tenants, about 9 ms, for a platform's Super Admin, even on
-- a page showing 25 of them. Tenants never move (parent_id is immutable, 00009),
-- so each tenant can carry the ids of every tenant above it, written once
-- when it is created; "below the scope's tenant" is then one primary-key
-- lookup of the row's tenant: app_below(tenant_id, scope).
--
-- Every policy keeps its shape: `x = scope OR x IN tree` becomes
-- `x = scope OR app_below(x, subtree root)`, rewritten below from the
-- catalog so that no policy is missed, and the rewrite fails if one is.
-- The tenant's own rows are decided by the first arm alone: the tree is
-- never looked at for them.

ALTER TABLE tenants ADD COLUMN ancestor_ids BIGINT[] NOT NULL DEFAULT '{}';

-- Migrations run as the owner, whom FORCE would hold to the policies too
-- (with no scope: not a row).
ALTER TABLE tenants NO FORCE ROW LEVEL SECURITY;
WITH RECURSIVE walk (id, ancestors) AS (
    SELECT id, ARRAY[]::BIGINT[] FROM tenants WHERE parent_id IS NULL
    UNION ALL
    SELECT child.id, walk.ancestors || walk.id FROM tenants AS child JOIN walk ON child.parent_id = walk.id
)
UPDATE tenants SET ancestor_ids = walk.ancestors FROM walk WHERE tenants.id = walk.id;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;

-- Written by the database as a tenant is created, from its parent's row,
-- whatever the insert says; never changed afterwards.
-- +goose StatementBegin
CREATE FUNCTION tenants_keep_ancestors() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.ancestor_ids := coalesce((SELECT parent.ancestor_ids || parent.id FROM tenants AS parent WHERE parent.id = NEW.parent_id), '{}');
    ELSIF NEW.ancestor_ids IS DISTINCT FROM OLD.ancestor_ids THEN
        RAISE EXCEPTION 'tenant ancestors are immutable' USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER tenants_keep_ancestors BEFORE INSERT OR UPDATE ON tenants
    FOR EACH ROW EXECUTE FUNCTION tenants_keep_ancestors();

-- The scope's tenant when the scope manages the tenants below it, else
-- NULL: the one value the tree arm needs, so that a statement checks the
-- signature at most twice (this, and app_tenant_id() for the first arm).
-- +goose StatementBegin
CREATE FUNCTION app_subtree_root() RETURNS BIGINT LANGUAGE plpgsql STABLE AS $$
DECLARE
    scope app_scope := app_verified_scope();
BEGIN
    RETURN CASE WHEN scope.subtree THEN scope.tenant_id END;
END
$$;
-- +goose StatementEnd

-- Whether tenant is strictly below root. STRICT: without a root (a scope
-- that does not manage a subtree) it is not even called. The policies pass
-- the root from an InitPlan, so the signature is checked once per
-- statement, never per row.
-- +goose StatementBegin
CREATE FUNCTION app_below(p_tenant BIGINT, p_root BIGINT) RETURNS BOOLEAN AS $$
    SELECT EXISTS (SELECT 1 FROM tenants WHERE id = p_tenant AND p_root = ANY (ancestor_ids))
$$ LANGUAGE sql STABLE STRICT;
-- +goose StatementEnd

-- +goose StatementBegin
DO $$
DECLARE
    p RECORD;
    tree CONSTANT TEXT := '\(([a-z_.]+) IN \( SELECT app_tenant_tree\(\) AS app_tenant_tree\)\)';
    below CONSTANT TEXT := 'app_below(\1, (SELECT app_subtree_root()))';
BEGIN
    FOR p IN SELECT tablename, policyname, qual, with_check FROM pg_policies
             WHERE schemaname = 'public' AND (qual LIKE '%app_tenant_tree()%' OR with_check LIKE '%app_tenant_tree()%') LOOP
        EXECUTE format('ALTER POLICY %I ON %I', p.policyname, p.tablename)
            || coalesce(' USING (' || regexp_replace(p.qual, tree, below, 'g') || ')', '')
            || coalesce(' WITH CHECK (' || regexp_replace(p.with_check, tree, below, 'g') || ')', '');
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'public'
               AND (qual LIKE '%app_tenant_tree()%' OR with_check LIKE '%app_tenant_tree()%')) THEN
        RAISE EXCEPTION 'a policy still walks the tenant tree';
    END IF;
END
$$;
-- +goose StatementEnd

-- The people a request may read, as one policy whose arms run in the order
-- written, cheapest first: the signed-in person, then the members of the
-- scope's tenants (the Team page, who made an order), then the owner of a
-- company the person belongs to (the company toggle). As three policies,
-- PostgreSQL tried the owners first, a pass over all of the person's
-- memberships on every statement reading their own row. The owner's company
-- is found by a scalar subquery (a person owns one at most): written as a
-- join, the planner hashed the whole arm, the same pass over all of the
-- person's memberships, where a page reads the owners of 20 of them.
DROP POLICY own_account ON users;
DROP POLICY fellow_members ON users;
DROP POLICY owners_of_my_companies ON users;
CREATE POLICY people_in_view ON users FOR SELECT USING (
    id = (SELECT app_user_id())
    OR EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id
        AND (m.tenant_id = (SELECT app_tenant_id()) OR app_below(m.tenant_id, (SELECT app_subtree_root()))))
    OR EXISTS (SELECT 1 FROM memberships AS mine WHERE mine.user_id = (SELECT app_user_id())
        AND mine.tenant_id = (SELECT owned.id FROM tenants AS owned WHERE owned.owner_user_id = users.id)));

-- +goose Down
DROP POLICY people_in_view ON users;
CREATE POLICY own_account ON users FOR SELECT
    USING (id = (SELECT app_user_id()));
CREATE POLICY fellow_members ON users FOR SELECT
    USING (EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id
        AND (m.tenant_id = (SELECT app_tenant_id()) OR m.tenant_id IN (SELECT app_tenant_tree()))));
CREATE POLICY owners_of_my_companies ON users FOR SELECT
    USING (id IN (SELECT t.owner_user_id FROM tenants AS t JOIN memberships AS mine ON mine.tenant_id = t.id
        WHERE mine.user_id = (SELECT app_user_id())));

-- +goose StatementBegin
DO $$
DECLARE
    p RECORD;
    below CONSTANT TEXT := 'app_below\(([a-z_.]+), \( SELECT app_subtree_root\(\) AS app_subtree_root\)\)';
    tree CONSTANT TEXT := '(\1 IN (SELECT app_tenant_tree()))';
BEGIN
    FOR p IN SELECT tablename, policyname, qual, with_check FROM pg_policies
             WHERE schemaname = 'public' AND (qual LIKE '%app_below(%' OR with_check LIKE '%app_below(%') LOOP
        EXECUTE format('ALTER POLICY %I ON %I', p.policyname, p.tablename)
            || coalesce(' USING (' || regexp_replace(p.qual, below, tree, 'g') || ')', '')
            || coalesce(' WITH CHECK (' || regexp_replace(p.with_check, below, tree, 'g') || ')', '');
    END LOOP;
    IF EXISTS (SELECT 1 FROM pg_policies WHERE schemaname = 'public'
               AND (qual LIKE '%app_below(%' OR with_check LIKE '%app_below(%')) THEN
        RAISE EXCEPTION 'a policy still calls app_below';
    END IF;
END
$$;
-- +goose StatementEnd
DROP FUNCTION app_below(BIGINT, BIGINT);
DROP FUNCTION app_subtree_root();
DROP TRIGGER tenants_keep_ancestors ON tenants;
DROP FUNCTION tenants_keep_ancestors();
ALTER TABLE tenants DROP COLUMN ancestor_ids;
