-- +goose Up
-- The scope is signed. Until now the application role set app.tenant_id
-- (and the other settings of 00007) itself, so one statement injected through
-- the application could name any tenant and read it. Now the server also sets
-- app.scope_sig, an HMAC-SHA256 of all the settings together, made with a key
-- it holds in memory (derived from CANOPY_SESSION_KEY); the database holds the
-- same key in scope_key, which the application role cannot read or write.
-- The policies read the settings only through accessors that check the
-- signature first, in a SECURITY DEFINER function, and see no scope at all
-- (NULL: nothing matches) when it is missing or does not fit the values.
-- models/scope.go signs; `canopy migrate` (and serve, seed) write the key
-- over the owner's connection (models.ProvisionScopeKey).

-- One row: the key as HMAC-SHA256 uses it (RFC 2104), zero-padded to
-- SHA-256's 64-byte block and XORed with 0x36 (inner) and 0x5c (outer), so
-- the built-in sha256() computes the HMAC: no extension needed, and
-- pgcrypto's hmac(), which looks its digest up by name on every call, cost
-- about 14 µs more per statement. Default privileges of 00007 grant
-- canopy_app every new table, so this one is revoked explicitly.
CREATE TABLE scope_key (
    id BOOLEAN PRIMARY KEY DEFAULT true CHECK (id),
    inner_pad BYTEA NOT NULL CHECK (octet_length(inner_pad) = 64),
    outer_pad BYTEA NOT NULL CHECK (octet_length(outer_pad) = 64)
);
REVOKE ALL ON scope_key FROM PUBLIC, canopy_app;

CREATE TYPE app_scope AS (
    tenant_id        BIGINT,
    subtree          BOOLEAN,
    user_id          BIGINT,
    invitation_token TEXT,
    mailer           BOOLEAN
);

-- The transaction's scope as the server signed it, or NULL. Each value is
-- length-prefixed, so no value can pose as another; they are parsed only
-- once the signature holds, so a forged value cannot even raise an error.
-- SECURITY DEFINER to read the key; the fixed search_path keeps a caller's
-- temporary objects from standing in for scope_key.
-- +goose StatementBegin
CREATE FUNCTION app_verified_scope() RETURNS app_scope
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
DECLARE
    tenant    TEXT := coalesce(current_setting('app.tenant_id', true), '');
    subtree   TEXT := coalesce(current_setting('app.subtree', true), '');
    usr       TEXT := coalesce(current_setting('app.user_id', true), '');
    token     TEXT := coalesce(current_setting('app.invitation_token', true), '');
    mailer    TEXT := coalesce(current_setting('app.mailer', true), '');
    signature TEXT := coalesce(current_setting('app.scope_sig', true), '');
    message   TEXT;
    signed    BOOLEAN;
BEGIN
    IF signature = '' THEN
        RETURN NULL;
    END IF;
    message := concat_ws(E'\n', 'canopy-scope-v1',
        octet_length(tenant) || ':' || tenant,
        octet_length(subtree) || ':' || subtree,
        octet_length(usr) || ':' || usr,
        octet_length(token) || ':' || token,
        octet_length(mailer) || ':' || mailer);
    SELECT encode(sha256(outer_pad || sha256(inner_pad || convert_to(message, 'UTF8'))), 'hex') = signature
        INTO signed FROM scope_key;
    IF signed IS NOT TRUE THEN
        RETURN NULL;
    END IF;
    RETURN ROW(NULLIF(tenant, '')::BIGINT, subtree = 'on', NULLIF(usr, '')::BIGINT, NULLIF(token, ''), mailer = 'on')::app_scope;
END
$$;
-- +goose StatementEnd

-- The accessors the policies use, by the names 00007 gave them. Policies
-- call them as scalar subqueries, `(SELECT app_tenant_id())`, which
-- PostgreSQL runs once per statement (an InitPlan), not once per row.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_tenant_id() RETURNS BIGINT AS $$
    SELECT (app_verified_scope()).tenant_id
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_user_id() RETURNS BIGINT AS $$
    SELECT (app_verified_scope()).user_id
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_subtree() RETURNS BOOLEAN AS $$
    SELECT coalesce((app_verified_scope()).subtree, false)
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_invitation_token() RETURNS TEXT AS $$
    SELECT (app_verified_scope()).invitation_token
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_mailer() RETURNS BOOLEAN AS $$
    SELECT coalesce((app_verified_scope()).mailer, false)
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- The tree of 00009, checking the signature once for both values it reads
-- (a MATERIALIZED CTE is computed once per statement).
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_tenant_tree() RETURNS SETOF BIGINT AS $$
    WITH RECURSIVE scope AS MATERIALIZED (
        SELECT app_verified_scope() AS verified
    ), tree (id) AS (
        SELECT id FROM tenants WHERE id = (SELECT (verified).tenant_id FROM scope)
        UNION
        SELECT child.id FROM tenants AS child JOIN tree ON child.parent_id = tree.id
        WHERE (SELECT (verified).subtree FROM scope)
    )
    SELECT id FROM tree
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd

-- Every policy through the accessors, none through current_setting.
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'membership_templates', 'templates', 'orders', 'invitations',
                             'devices', 'tenant_solutions', 'audit_events'] LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON %I
            USING (tenant_id = (SELECT app_tenant_id()) OR tenant_id IN (SELECT app_tenant_tree()))
            WITH CHECK (tenant_id = (SELECT app_tenant_id()) OR tenant_id IN (SELECT app_tenant_tree()))', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
ALTER POLICY own_memberships ON memberships
    USING (user_id = (SELECT app_user_id()));
ALTER POLICY invitation_by_token ON invitations
    USING (token_hash = (SELECT app_invitation_token()));
ALTER POLICY mail_delivery ON outbox_emails
    USING ((SELECT app_mailer()))
    WITH CHECK ((SELECT app_mailer()));
ALTER POLICY enqueue_in_tree ON outbox_emails
    WITH CHECK (tenant_id IS NULL OR tenant_id = (SELECT app_tenant_id()) OR tenant_id IN (SELECT app_tenant_tree()));
ALTER POLICY create_in_tree ON tenants
    WITH CHECK (parent_id IS NULL OR parent_id = (SELECT app_tenant_id()) OR parent_id IN (SELECT app_tenant_tree()));
ALTER POLICY change_in_tree ON tenants
    USING (id = (SELECT app_tenant_id()) OR id IN (SELECT app_tenant_tree()))
    WITH CHECK (id = (SELECT app_tenant_id()) OR id IN (SELECT app_tenant_tree()));
-- The users policies of 00017, the same, each accessor a scalar subquery
-- (inside the correlated EXISTS too: it does not depend on the row, so it
-- still runs once).
ALTER POLICY own_account ON users
    USING (id = (SELECT app_user_id()));
ALTER POLICY fellow_members ON users
    USING (EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id
        AND (m.tenant_id = (SELECT app_tenant_id()) OR m.tenant_id IN (SELECT app_tenant_tree()))));
ALTER POLICY owners_of_my_companies ON users
    USING (id IN (SELECT t.owner_user_id FROM tenants AS t JOIN memberships AS mine ON mine.tenant_id = t.id
        WHERE mine.user_id = (SELECT app_user_id())));
ALTER POLICY own_account_changes ON users
    USING (id = (SELECT app_user_id()))
    WITH CHECK (id = (SELECT app_user_id()));

-- +goose Down
ALTER POLICY own_account_changes ON users
    USING (id = app_user_id())
    WITH CHECK (id = app_user_id());
ALTER POLICY owners_of_my_companies ON users
    USING (id IN (SELECT t.owner_user_id FROM tenants AS t JOIN memberships AS mine ON mine.tenant_id = t.id
        WHERE mine.user_id = app_user_id()));
ALTER POLICY fellow_members ON users
    USING (EXISTS (SELECT 1 FROM memberships AS m WHERE m.user_id = users.id
        AND (m.tenant_id = app_tenant_id() OR m.tenant_id IN (SELECT app_tenant_tree()))));
ALTER POLICY own_account ON users
    USING (id = app_user_id());
ALTER POLICY change_in_tree ON tenants
    USING (id = app_tenant_id() OR id IN (SELECT app_tenant_tree()))
    WITH CHECK (id = app_tenant_id() OR id IN (SELECT app_tenant_tree()));
ALTER POLICY create_in_tree ON tenants
    WITH CHECK (parent_id IS NULL OR parent_id = app_tenant_id() OR parent_id IN (SELECT app_tenant_tree()));
ALTER POLICY enqueue_in_tree ON outbox_emails
    WITH CHECK (tenant_id IS NULL OR tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()));
ALTER POLICY mail_delivery ON outbox_emails
    USING (current_setting('app.mailer', true) = 'on')
    WITH CHECK (current_setting('app.mailer', true) = 'on');
ALTER POLICY invitation_by_token ON invitations
    USING (token_hash = NULLIF(current_setting('app.invitation_token', true), ''));
ALTER POLICY own_memberships ON memberships
    USING (user_id = NULLIF(current_setting('app.user_id', true), '')::BIGINT);
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['memberships', 'membership_templates', 'templates', 'orders', 'invitations',
                             'devices', 'tenant_solutions', 'audit_events'] LOOP
        EXECUTE format('ALTER POLICY tenant_isolation ON %I
            USING (tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()))
            WITH CHECK (tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_tenant_tree()))', t);
    END LOOP;
END
$$;
-- +goose StatementEnd
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
CREATE OR REPLACE FUNCTION app_tenant_id() RETURNS BIGINT AS $$
    SELECT NULLIF(current_setting('app.tenant_id', true), '')::BIGINT
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
DROP FUNCTION app_mailer();
DROP FUNCTION app_invitation_token();
DROP FUNCTION app_subtree();
-- app_user_id() is 00017's: back to its form there.
-- +goose StatementBegin
CREATE OR REPLACE FUNCTION app_user_id() RETURNS BIGINT AS $$
    SELECT NULLIF(current_setting('app.user_id', true), '')::BIGINT
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
DROP FUNCTION app_verified_scope();
DROP TYPE app_scope;
DROP TABLE scope_key;
