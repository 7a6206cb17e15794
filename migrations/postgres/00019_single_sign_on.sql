-- +goose Up
-- Single sign-on: each company may have one OpenID Connect connection, the
-- email domains it covers (each proven by a DNS TXT record or approved by
-- platform staff before it signs anyone in), and the identities people
-- signed in with, linked to their accounts by (issuer, subject).

CREATE TABLE sso_connections (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     BIGINT NOT NULL UNIQUE REFERENCES tenants (id) ON DELETE CASCADE,
    issuer        TEXT NOT NULL CHECK (issuer <> ''),
    client_id     TEXT NOT NULL CHECK (client_id <> ''),
    -- AES-GCM, with a key derived from the server's secret; the database
    -- never holds the client secret in the clear.
    client_secret_sealed TEXT NOT NULL CHECK (client_secret_sealed <> ''),
    secret_set_at TIMESTAMPTZ NOT NULL,
    join_role     TEXT NOT NULL DEFAULT 'viewer' CHECK (join_role IN ('viewer', 'editor', 'admin')),
    required      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (id, tenant_id)
);

CREATE TABLE sso_domains (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     BIGINT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    connection_id BIGINT NOT NULL,
    domain        TEXT NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
    -- The value the TXT record must hold; random per domain and connection.
    verification_token TEXT NOT NULL CHECK (verification_token <> ''),
    -- none: claimed only; dns: its TXT record was seen; staff: platform
    -- staff approved it; refused: platform staff declined it.
    proof         TEXT NOT NULL DEFAULT 'none' CHECK (proof IN ('none', 'dns', 'staff', 'refused')),
    proof_note    TEXT NOT NULL DEFAULT '',
    proven_at     TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (connection_id, domain),
    FOREIGN KEY (connection_id, tenant_id) REFERENCES sso_connections (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX sso_domains_pending_idx ON sso_domains (created_at) WHERE proof = 'none';

-- Who signed in through which provider. Not a company's row: one identity
-- signs its person in wherever the provider's connection is in force.
CREATE TABLE user_identities (
    id           BIGSERIAL PRIMARY KEY,
    user_id      BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    issuer       TEXT NOT NULL,
    subject      TEXT NOT NULL,
    email        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (issuer, subject)
);
CREATE INDEX user_identities_user_idx ON user_identities (user_id);

-- The company tables under the policy every tenant table has, and the
-- trigger that keeps their rows in their tenant.
-- +goose StatementBegin
DO $$
DECLARE t TEXT;
BEGIN
    FOREACH t IN ARRAY ARRAY['sso_connections', 'sso_domains'] LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I
            USING (tenant_id = (SELECT app_tenant_id()) OR tenant_id IN (SELECT app_tenant_tree()))
            WITH CHECK (tenant_id = (SELECT app_tenant_id()) OR tenant_id IN (SELECT app_tenant_tree()))', t);
        EXECUTE format('CREATE TRIGGER %I BEFORE UPDATE OF tenant_id ON %I FOR EACH ROW
            WHEN (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) EXECUTE FUNCTION refuse_tenant_move()', t || '_tenant_fixed', t);
    END LOOP;
END
$$;
-- +goose StatementEnd

-- FORCE holds the tables' owner to the policies too, and the functions
-- below run as the owner: without these, canopy_sso_connection would see
-- only what the caller's scope sees (nothing from a descendant's, or from a
-- sign-in page's, which has none), wherever migrations run as an owner who
-- is not a superuser, as in production. Reading only, as 00013 does for
-- memberships; canopy_app is not the owner and gains nothing.
CREATE POLICY owner_functions_read ON sso_connections FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_functions_read ON sso_domains FOR SELECT TO CURRENT_USER USING (true);

-- Identities are reached only through the functions below: the default
-- privileges gave canopy_app everything on the new table.
REVOKE ALL ON user_identities FROM canopy_app;
ALTER TABLE user_identities ENABLE ROW LEVEL SECURITY;

-- The connection in force at a tenant that inherits it, read from the
-- tenant that owns it, whom the request's scope cannot see: what a sign-in
-- page and a descendant's settings show, and never the client secret. Only
-- proven domains (DNS or staff) are listed; the others sign nobody in.
-- +goose StatementBegin
CREATE FUNCTION canopy_sso_connection(p_tenant_id BIGINT)
RETURNS TABLE (id BIGINT, tenant_id BIGINT, issuer TEXT, client_id TEXT, join_role TEXT, required BOOLEAN,
               secret_set_at TIMESTAMPTZ, updated_at TIMESTAMPTZ, domains TEXT[], dns_proven TEXT[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT c.id, c.tenant_id, c.issuer, c.client_id, c.join_role, c.required, c.secret_set_at, c.updated_at,
        coalesce((SELECT array_agg(d.domain ORDER BY d.domain) FROM public.sso_domains AS d
            WHERE d.connection_id = c.id AND d.proof IN ('dns', 'staff')), '{}'),
        coalesce((SELECT array_agg(d.domain ORDER BY d.domain) FROM public.sso_domains AS d
            WHERE d.connection_id = c.id AND d.proof = 'dns'), '{}')
    FROM public.sso_connections AS c WHERE c.tenant_id = p_tenant_id
$$;
-- +goose StatementEnd

-- The account an identity is linked to, if any: the callback's first
-- question, asked before anyone is signed in.
-- +goose StatementBegin
CREATE FUNCTION canopy_identity_user(p_issuer TEXT, p_subject TEXT) RETURNS BIGINT
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT user_id FROM public.user_identities WHERE issuer = p_issuer AND subject = p_subject
$$;
-- +goose StatementEnd

-- Link an identity to the scope's own user (the sign-in has just proved
-- who they are), or note its latest use and email. The caller names the
-- user too, and anyone but the scope's is refused, so a caller that means
-- someone else fails rather than links the wrong person. An identity
-- already linked to someone else is never moved: the unique key refuses it.
-- +goose StatementBegin
CREATE FUNCTION canopy_link_identity(p_user_id BIGINT, p_issuer TEXT, p_subject TEXT, p_email TEXT) RETURNS BOOLEAN
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    me BIGINT := public.app_user_id();
BEGIN
    IF me IS NULL OR p_user_id IS DISTINCT FROM me THEN
        RAISE EXCEPTION 'an identity is linked only to the user in scope' USING ERRCODE = 'insufficient_privilege';
    END IF;
    UPDATE public.user_identities SET email = p_email, last_used_at = now()
        WHERE issuer = p_issuer AND subject = p_subject AND user_id = me;
    IF FOUND THEN
        RETURN false;
    END IF;
    INSERT INTO public.user_identities (user_id, issuer, subject, email) VALUES (me, p_issuer, p_subject, p_email);
    RETURN true;
END;
$$;
-- +goose StatementEnd

-- How each member of a tenant signs in, for the Team page and a
-- sub-tenant's people: the tenant must be one whose memberships the scope
-- reads (its own, or one below it for its Super Admins); any other has none.
-- +goose StatementBegin
CREATE FUNCTION canopy_sign_in_methods(p_tenant_id BIGINT, p_user_ids BIGINT[]) RETURNS TABLE (user_id BIGINT, has_password BOOLEAN, has_identity BOOLEAN)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT m.user_id,
        EXISTS (SELECT 1 FROM public.user_passwords AS p WHERE p.user_id = m.user_id),
        EXISTS (SELECT 1 FROM public.user_identities AS i WHERE i.user_id = m.user_id)
    FROM public.memberships AS m
    WHERE m.tenant_id = p_tenant_id AND m.user_id = ANY (p_user_ids)
      AND (p_tenant_id = public.app_tenant_id() OR p_tenant_id IN (SELECT public.app_tenant_tree()))
$$;
-- +goose StatementEnd

-- Whether the scope's own user has a password: linking their account to an
-- identity the first time asks for it, unless the domain is DNS-proven.
-- +goose StatementBegin
CREATE FUNCTION canopy_has_password(p_user_id BIGINT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT EXISTS (SELECT 1 FROM public.user_passwords WHERE user_id = p_user_id AND user_id = public.app_user_id())
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION canopy_sso_connection(BIGINT), canopy_identity_user(TEXT, TEXT), canopy_link_identity(BIGINT, TEXT, TEXT, TEXT),
    canopy_sign_in_methods(BIGINT, BIGINT[]), canopy_has_password(BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION canopy_sso_connection(BIGINT), canopy_identity_user(TEXT, TEXT), canopy_link_identity(BIGINT, TEXT, TEXT, TEXT),
    canopy_sign_in_methods(BIGINT, BIGINT[]), canopy_has_password(BIGINT) TO canopy_app;

ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'member.added', 'member.removed', 'member.left', 'member.role_changed', 'member.templates_changed', 'ownership.transferred',
    'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
    'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
    'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed', 'device.model_changed',
    'template.created', 'template.updated', 'template.deleted', 'order.created',
    'company.entered', 'auth.signin', 'auth.signin_failed',
    'sso.connection_saved', 'sso.connection_deleted', 'sso.inheritance_changed',
    'sso.domain_verified', 'sso.domain_approved', 'sso.domain_refused',
    'sso.identity_linked'));

-- +goose Down
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'member.added', 'member.removed', 'member.left', 'member.role_changed', 'member.templates_changed', 'ownership.transferred',
    'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
    'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
    'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed', 'device.model_changed',
    'template.created', 'template.updated', 'template.deleted', 'order.created',
    'company.entered', 'auth.signin', 'auth.signin_failed')) NOT VALID;
DROP FUNCTION canopy_has_password(BIGINT);
DROP FUNCTION canopy_sign_in_methods(BIGINT, BIGINT[]);
DROP FUNCTION canopy_link_identity(BIGINT, TEXT, TEXT, TEXT);
DROP FUNCTION canopy_identity_user(TEXT, TEXT);
DROP FUNCTION canopy_sso_connection(BIGINT);
DROP TABLE user_identities;
DROP TABLE sso_domains;
DROP TABLE sso_connections;
