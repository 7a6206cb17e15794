-- +goose Up
-- Passkeys (user_passkeys, 00026) need two more things: each person's
-- WebAuthn user handle, which their authenticators keep beside the key and
-- return at sign-in — random, so that it tells nothing of who they are, and
-- stable, so that every passkey of theirs names them the same — and a way
-- to find whose passkey signs in before anyone is signed in.

CREATE TABLE user_passkey_handles (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle     BYTEA NOT NULL UNIQUE CHECK (length(handle) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
ALTER TABLE user_passkey_handles ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_passkey_handles FORCE ROW LEVEL SECURITY;
CREATE POLICY own_factors ON user_passkey_handles
    USING (user_id = (SELECT app_user_id())) WITH CHECK (user_id = (SELECT app_user_id()));
-- A handle is made once and never changes: the passkeys made with it would
-- no longer name their person.
REVOKE UPDATE ON user_passkey_handles FROM canopy_app;

-- FORCE holds the owner to the policies too, and the function below runs as
-- the owner (as 00025 does for billing terms). canopy_app gains nothing.
CREATE POLICY owner_functions_read ON user_passkeys FOR SELECT TO CURRENT_USER USING (true);
CREATE POLICY owner_functions_read ON user_passkey_handles FOR SELECT TO CURRENT_USER USING (true);

-- Sign-in with a passkey: the person whose passkey has exactly this
-- credential id, and their user handle, which the authenticator's answer
-- must repeat. One row per call, for an id the caller already holds (the
-- browser sent it); nothing can be listed, and the key itself is read only
-- once the request is scoped as that person.
-- +goose StatementBegin
CREATE FUNCTION canopy_passkey_owner(p_credential_id BYTEA) RETURNS TABLE (user_id BIGINT, handle BYTEA)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT k.user_id, h.handle FROM public.user_passkeys AS k JOIN public.user_passkey_handles AS h ON h.user_id = k.user_id
    WHERE k.credential_id = p_credential_id
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION canopy_passkey_owner(BYTEA) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION canopy_passkey_owner(BYTEA) TO canopy_app;

-- +goose Down
DROP FUNCTION canopy_passkey_owner(BYTEA);
DROP POLICY owner_functions_read ON user_passkeys;
DROP TABLE user_passkey_handles;
