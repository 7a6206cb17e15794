-- +goose Up
-- A tenant's owner is always its Super Admin: whatever statements a
-- transaction runs, it cannot commit a tenant whose owner_user_id names
-- someone who is not a member of it with the role super_admin. The check is
-- deferred to the commit, so a transfer may change the owner and the
-- membership in either order; it runs when the owner changes and when a
-- membership that belongs to the owner is changed or deleted (so a company
-- whose data predates the check can still change its other members until
-- platform staff repair it).
--
-- The check must see the tenant's memberships whatever scope the committing
-- transaction was left in (an invitation accepted on the base domain sees
-- only its own rows), so the function runs as the schema's owner, and the
-- owner, which could switch row-level security off anyway, may read every
-- membership. The application role gains nothing: a trigger function cannot
-- be called on its own.

CREATE POLICY owner_invariant_check ON memberships FOR SELECT TO CURRENT_USER USING (true);

-- +goose StatementBegin
CREATE FUNCTION tenants_check_owner_membership() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    tenant BIGINT;
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        tenant := NEW.id;
    ELSE
        tenant := OLD.tenant_id;
        -- Only a change to the owner's own membership can break the rule.
        IF NOT EXISTS (SELECT 1 FROM public.tenants WHERE id = tenant AND owner_user_id = OLD.user_id) THEN
            RETURN NULL;
        END IF;
    END IF;
    IF EXISTS (
        SELECT 1 FROM public.tenants AS t
        WHERE t.id = tenant AND t.owner_user_id IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM public.memberships AS m
                          WHERE m.tenant_id = t.id AND m.user_id = t.owner_user_id AND m.role = 'super_admin')
    ) THEN
        RAISE EXCEPTION 'the owner of tenant % must be its member with the role super_admin', tenant
            USING ERRCODE = 'check_violation', CONSTRAINT = 'tenants_owner_is_super_admin';
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE CONSTRAINT TRIGGER tenants_owner_is_super_admin
    AFTER INSERT OR UPDATE OF owner_user_id ON tenants
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW WHEN (NEW.owner_user_id IS NOT NULL)
    EXECUTE FUNCTION tenants_check_owner_membership();

CREATE CONSTRAINT TRIGGER memberships_owner_is_super_admin
    AFTER UPDATE OF tenant_id, user_id, role OR DELETE ON memberships
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW
    EXECUTE FUNCTION tenants_check_owner_membership();

-- +goose Down
DROP TRIGGER memberships_owner_is_super_admin ON memberships;
DROP TRIGGER tenants_owner_is_super_admin ON tenants;
DROP FUNCTION tenants_check_owner_membership();
DROP POLICY owner_invariant_check ON memberships;
