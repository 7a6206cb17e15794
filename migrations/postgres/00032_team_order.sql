-- +goose Up
-- The Team page lists a company's people in name order, 25 at a time. The
-- names are the users', so ordering by them meant joining every member's
-- users row (and running its row-level security policy) and sorting them
-- all on every view. Each membership now carries a copy of its person's
-- name, email and whether they sign in with a second factor, indexed in the
-- list's order (lower(first_name), lower(last_name), email), so a page is
-- read from one index in order and never reads users; the same copy
-- answers "is this invitee already a member" by one index lookup. It shows
-- nobody more than before: whoever sees a membership (its company's scope,
-- or its own person) sees its person's users row already (fellow_members,
-- own_account).
--
-- The copy is kept by the database, whoever writes: a membership takes it
-- from its person when it is made (or pointed at someone else), and a
-- change of name, email or second factor is copied to every membership of
-- the person, in the same statement. A membership's copy cannot be set to
-- anything else: the trigger recomputes it whenever it is written.
--
-- The functions run as the schema's owner, like the owner-invariant check
-- of 00013: a person changing their own name (own_account_changes) must
-- update their memberships in every company, which their scope cannot see,
-- and a membership made for someone who is not yet a fellow member must
-- read their users row. So the owner, which could switch row-level
-- security off anyway, may update every membership (users is not FORCEd:
-- the owner reads it already). The application role gains nothing: a
-- trigger function cannot be called on its own.

ALTER TABLE memberships
    ADD COLUMN person_first_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN person_last_name TEXT NOT NULL DEFAULT '',
    ADD COLUMN person_email TEXT NOT NULL DEFAULT '',
    ADD COLUMN person_two_factor BOOLEAN NOT NULL DEFAULT false;

-- Migrations run as the owner, whom FORCE would hold to the policies too
-- (with no scope: not a row).
ALTER TABLE memberships NO FORCE ROW LEVEL SECURITY;
UPDATE memberships AS m
SET person_first_name = u.first_name, person_last_name = u.last_name, person_email = u.email,
    person_two_factor = u.two_factor_enabled
FROM users AS u WHERE u.id = m.user_id;
ALTER TABLE memberships FORCE ROW LEVEL SECURITY;

CREATE INDEX memberships_team_order_idx ON memberships (tenant_id, lower(person_first_name), lower(person_last_name), person_email);
CREATE INDEX memberships_tenant_email_idx ON memberships (tenant_id, person_email);

-- "Has this declined invitation been followed by a newer one": one lookup
-- of the invitee's invitations instead of a walk through the company's.
CREATE INDEX invitations_tenant_email_idx ON invitations (tenant_id, email);

CREATE POLICY owner_functions_write ON memberships FOR UPDATE TO CURRENT_USER USING (true) WITH CHECK (true);

-- +goose StatementBegin
CREATE FUNCTION memberships_copy_person() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    SELECT u.first_name, u.last_name, u.email, u.two_factor_enabled
        INTO NEW.person_first_name, NEW.person_last_name, NEW.person_email, NEW.person_two_factor
        FROM public.users AS u WHERE u.id = NEW.user_id;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION users_copy_to_memberships() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    UPDATE public.memberships
    SET person_first_name = NEW.first_name, person_last_name = NEW.last_name, person_email = NEW.email,
        person_two_factor = NEW.two_factor_enabled
    WHERE user_id = NEW.id;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER memberships_person_copy
    BEFORE INSERT OR UPDATE OF user_id, person_first_name, person_last_name, person_email, person_two_factor ON memberships
    FOR EACH ROW EXECUTE FUNCTION memberships_copy_person();

CREATE TRIGGER users_person_copy
    AFTER UPDATE OF first_name, last_name, email, two_factor_enabled ON users
    FOR EACH ROW
    WHEN (OLD.first_name IS DISTINCT FROM NEW.first_name OR OLD.last_name IS DISTINCT FROM NEW.last_name
          OR OLD.email IS DISTINCT FROM NEW.email OR OLD.two_factor_enabled IS DISTINCT FROM NEW.two_factor_enabled)
    EXECUTE FUNCTION users_copy_to_memberships();

REVOKE ALL ON FUNCTION memberships_copy_person(), users_copy_to_memberships() FROM PUBLIC;

-- How each member of a Team page signs in (00019), now read in the page's
-- own statement: the same query, in PL/pgSQL so that its plan is kept by the
-- session. As a SQL function with SET it was planned again on every call,
-- which cost more than running it (0.16 ms against 0.07 ms a page).
-- It replaces the body 00019 wrote; if a migration since has changed it,
-- this stops rather than undo that change.
-- +goose StatementBegin
DO $$
BEGIN
    IF (SELECT md5(prosrc) FROM pg_proc WHERE oid = 'canopy_sign_in_methods(bigint, bigint[])'::regprocedure)
        <> 'adc9b727f2cf359a77da6e7f555e1ee0' THEN
        RAISE EXCEPTION 'canopy_sign_in_methods changed since 00019: carry the change into 00032';
    END IF;
END;
$$;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION canopy_sign_in_methods(p_tenant_id BIGINT, p_user_ids BIGINT[])
RETURNS TABLE (user_id BIGINT, has_password BOOLEAN, has_identity BOOLEAN)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    RETURN QUERY SELECT m.user_id,
        EXISTS (SELECT 1 FROM public.user_passwords AS p WHERE p.user_id = m.user_id),
        EXISTS (SELECT 1 FROM public.user_identities AS i WHERE i.user_id = m.user_id)
    FROM public.memberships AS m
    WHERE m.tenant_id = p_tenant_id AND m.user_id = ANY (p_user_ids)
      AND (p_tenant_id = public.app_tenant_id() OR p_tenant_id IN (SELECT public.app_tenant_tree()));
END;
$$;
-- +goose StatementEnd

-- +goose Down
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION canopy_sign_in_methods(p_tenant_id BIGINT, p_user_ids BIGINT[])
RETURNS TABLE (user_id BIGINT, has_password BOOLEAN, has_identity BOOLEAN)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.user_id,
        EXISTS (SELECT 1 FROM public.user_passwords AS p WHERE p.user_id = m.user_id),
        EXISTS (SELECT 1 FROM public.user_identities AS i WHERE i.user_id = m.user_id)
    FROM public.memberships AS m
    WHERE m.tenant_id = p_tenant_id AND m.user_id = ANY (p_user_ids)
      AND (p_tenant_id = public.app_tenant_id() OR p_tenant_id IN (SELECT public.app_tenant_tree()))
$$;
-- +goose StatementEnd
DROP TRIGGER users_person_copy ON users;
DROP TRIGGER memberships_person_copy ON memberships;
DROP FUNCTION users_copy_to_memberships();
DROP FUNCTION memberships_copy_person();
DROP POLICY owner_functions_write ON memberships;
DROP INDEX invitations_tenant_email_idx;
DROP INDEX memberships_tenant_email_idx;
DROP INDEX memberships_team_order_idx;
ALTER TABLE memberships
    DROP COLUMN person_two_factor,
    DROP COLUMN person_email,
    DROP COLUMN person_last_name,
    DROP COLUMN person_first_name;
