-- +goose Up
-- A wall that a statement injected through the application cannot cross.
-- The server connects as a member of canopy_app; these take from that role
-- what no page needs:
-- * the audit log and hand-off redemptions are insert-only: no UPDATE or
--   DELETE grant, and a trigger refusing them, so history cannot be
--   rewritten and a spent hand-off token cannot be made spendable again;
-- * users are under row-level security: a person's own row, the people
--   sharing the request's tenant (or the tree its Super Admins manage), and
--   the owners of the person's own companies;
-- * password hashes live in user_passwords, which canopy_app cannot read or
--   write at all; sign-in reads one hash at a time, by exact email, through
--   canopy_password_hash, and the other doors are functions as narrow.
-- Policies read the request's scope only through the app_* accessors, never
-- current_setting itself, so the accessors alone decide what a scope is.

-- The scope's user, or NULL (matching nothing) when none is set.
-- +goose StatementBegin
CREATE FUNCTION app_user_id() RETURNS BIGINT AS $$
    SELECT NULLIF(current_setting('app.user_id', true), '')::BIGINT
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- Insert-only records ---------------------------------------------------

REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, handoff_redemptions FROM canopy_app;
-- The application never deletes a user or a tenant; their foreign keys'
-- actions are the only way left to change audit rows (below).
REVOKE DELETE, TRUNCATE ON users, tenants FROM canopy_app;

-- The log is never changed or pruned from the application. A foreign key's
-- own action (the owner deleting a user or a whole tenant, which cascades
-- here) runs one trigger deeper and is let through; other maintenance by
-- the owner disables the trigger for its transaction:
--   ALTER TABLE audit_events DISABLE TRIGGER audit_events_insert_only
-- +goose StatementBegin
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger AS $$
BEGIN
    IF pg_trigger_depth() > 1 THEN
        RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
    END IF;
    RAISE EXCEPTION 'the audit log is insert-only' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER audit_events_insert_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
-- TRUNCATE fires no row trigger.
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();

-- A redemption is what makes a hand-off token single-use: while the token
-- could still be presented, its row must stay. Once expired it is useless,
-- and may go.
-- +goose StatementBegin
CREATE FUNCTION handoff_redemptions_refuse_change() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.expires_at < now() THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'hand-off redemptions are insert-only until they expire' USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
-- +goose StatementEnd
CREATE TRIGGER handoff_redemptions_insert_only BEFORE UPDATE OR DELETE ON handoff_redemptions
    FOR EACH ROW EXECUTE FUNCTION handoff_redemptions_refuse_change();

-- The server's sweep (models.Store.SweepHandoffs) forgets expired
-- redemptions through this, as the owner: it deletes nothing else.
-- +goose StatementBegin
CREATE FUNCTION canopy_sweep_handoffs() RETURNS BIGINT
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH swept AS (DELETE FROM public.handoff_redemptions WHERE expires_at < now() RETURNING 1)
    SELECT count(*) FROM swept
$$;
-- +goose StatementEnd

-- Password hashes, apart ------------------------------------------------

CREATE TABLE user_passwords (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL CHECK (hash <> ''),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
INSERT INTO user_passwords (user_id, hash, updated_at)
    SELECT id, password_hash, updated_at FROM users WHERE password_hash <> '';
ALTER TABLE users DROP COLUMN password_hash;
-- The default privileges granted canopy_app everything on the new table.
REVOKE ALL ON user_passwords FROM canopy_app;
-- And no policy: were a grant ever given back, canopy_app would still see
-- no row. Not FORCEd, so the owner's functions below read it.
ALTER TABLE user_passwords ENABLE ROW LEVEL SECURITY;

-- Sign-in: the one account with exactly this email (any case), and its hash.
-- An injected statement must already know an address to learn its hash,
-- and learns one per call; it cannot list them.
-- +goose StatementBegin
CREATE FUNCTION canopy_password_hash(p_email TEXT) RETURNS TABLE (user_id BIGINT, hash TEXT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT u.id, p.hash FROM public.users AS u JOIN public.user_passwords AS p ON p.user_id = u.id
    WHERE lower(u.email) = lower(p_email)
$$;
-- +goose StatementEnd

-- A new account (an invitation accepted by someone new, the demo data): the
-- user and their hash in one step, returning the user's row, which the
-- request creating it could not otherwise read back.
-- +goose StatementBegin
CREATE FUNCTION canopy_create_user(p_email TEXT, p_first_name TEXT, p_last_name TEXT, p_hash TEXT) RETURNS SETOF users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    created public.users;
BEGIN
    INSERT INTO public.users (email, first_name, last_name, status, session_version)
        VALUES (p_email, p_first_name, p_last_name, 'active', 1)
        RETURNING * INTO created;
    IF p_hash <> '' THEN
        INSERT INTO public.user_passwords (user_id, hash) VALUES (created.id, p_hash);
    END IF;
    RETURN NEXT created;
END;
$$;
-- +goose StatementEnd

-- A password change (the person's own, or a hash upgraded at sign-in): only
-- the scope's own user, and only from the hash just checked, so a change
-- that landed meanwhile makes this one fail instead of being overwritten.
-- +goose StatementBegin
CREATE FUNCTION canopy_change_password(p_user_id BIGINT, p_old_hash TEXT, p_new_hash TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
BEGIN
    UPDATE public.user_passwords SET hash = p_new_hash, updated_at = now()
        WHERE user_id = p_user_id AND user_id = public.app_user_id() AND hash = p_old_hash;
    RETURN FOUND;
END;
$$;
-- +goose StatementEnd

-- A person named by their exact email, for the few flows that start from an
-- address: inviting someone who may already have an account, making them a
-- company's owner, answering an invitation, and finding who signed in once
-- their password has been checked. One row per call, for an address the
-- caller already knows; no listing.
-- +goose StatementBegin
CREATE FUNCTION canopy_user_by_email(p_email TEXT) RETURNS SETOF users
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT * FROM public.users WHERE lower(email) = lower(p_email)
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION canopy_sweep_handoffs(), canopy_password_hash(TEXT), canopy_create_user(TEXT, TEXT, TEXT, TEXT),
    canopy_change_password(BIGINT, TEXT, TEXT), canopy_user_by_email(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION canopy_sweep_handoffs(), canopy_password_hash(TEXT), canopy_create_user(TEXT, TEXT, TEXT, TEXT),
    canopy_change_password(BIGINT, TEXT, TEXT), canopy_user_by_email(TEXT) TO canopy_app;

-- Users under row-level security ---------------------------------------

-- New accounts come only through canopy_create_user.
REVOKE INSERT ON users FROM canopy_app;
-- Not FORCEd: the owner's functions above read past these policies (FORCE
-- would hold them, as the owner, to the caller's scope).
ALTER TABLE users ENABLE ROW LEVEL SECURITY;

-- Who is signed in: their session names them (loadSession), a hand-off
-- token or a checked password has just proved who they are.
CREATE POLICY own_account ON users FOR SELECT
    USING (id = app_user_id());

-- The people of the request's tenant, and of the tenants below it for its
-- Super Admins (the Sub-Tenants pages, and platform staff over every
-- company): the Team page, who made an order or a template, a sub-tenant's
-- owner. Someone who left is not among them, and pages call them a former
-- member.
CREATE POLICY fellow_members ON users FOR SELECT
    USING (EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id
        AND (m.tenant_id = app_tenant_id() OR m.tenant_id IN (SELECT app_tenant_tree()))));

-- The owner of each company the signed-in person belongs to: the company
-- toggle and the Companies page name them, in companies other than the
-- one the request is in.
CREATE POLICY owners_of_my_companies ON users FOR SELECT
    USING (id IN (SELECT t.owner_user_id FROM tenants AS t JOIN memberships AS mine ON mine.tenant_id = t.id
        WHERE mine.user_id = app_user_id()));

-- A person changes only their own row: the company they last entered,
-- signing out everywhere, the session version a password change bumps.
CREATE POLICY own_account_changes ON users FOR UPDATE
    USING (id = app_user_id())
    WITH CHECK (id = app_user_id());

-- +goose Down
DROP POLICY own_account_changes ON users;
DROP POLICY owners_of_my_companies ON users;
DROP POLICY fellow_members ON users;
DROP POLICY own_account ON users;
ALTER TABLE users DISABLE ROW LEVEL SECURITY;
GRANT INSERT, DELETE ON users TO canopy_app;
GRANT DELETE ON tenants TO canopy_app;
DROP FUNCTION canopy_user_by_email(TEXT);
DROP FUNCTION canopy_change_password(BIGINT, TEXT, TEXT);
DROP FUNCTION canopy_create_user(TEXT, TEXT, TEXT, TEXT);
DROP FUNCTION canopy_password_hash(TEXT);
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
UPDATE users SET password_hash = p.hash FROM user_passwords AS p WHERE p.user_id = users.id;
DROP TABLE user_passwords;
DROP FUNCTION canopy_sweep_handoffs();
DROP TRIGGER handoff_redemptions_insert_only ON handoff_redemptions;
DROP FUNCTION handoff_redemptions_refuse_change();
DROP TRIGGER audit_events_no_truncate ON audit_events;
DROP TRIGGER audit_events_insert_only ON audit_events;
DROP FUNCTION audit_events_refuse_change();
GRANT UPDATE, DELETE ON audit_events, handoff_redemptions TO canopy_app;
DROP FUNCTION app_user_id();
