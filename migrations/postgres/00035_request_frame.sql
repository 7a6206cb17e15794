-- +goose Up
-- A page request's frame in one statement: the scope it will see the rest
-- of the request with, the host's tenant with the tenants above it, the
-- signed-in user with their session record, and their membership of the
-- host's tenant (models.Store.LoadFrame, which sends it in one round trip
-- with BEGIN). It sets the scope exactly as the server's own set_config
-- would, signature included, so the policies believe it only when the
-- server signed it; SECURITY INVOKER, so every read below is under the
-- caller's row-level security: a user's own row, their own session, their
-- own membership (own_memberships), and the tenant directory.
--
-- Arguments: the normalized subdomain ('' on the base domain), the user and
-- session record the signed cookie names (0: none), the session lifetimes'
-- bounds (last seen after, created after), and the scope's five settings
-- (models.Scope.settings) with their signature.
-- +goose StatementBegin
CREATE FUNCTION canopy_request_frame(p_subdomain TEXT, p_user_id BIGINT, p_session_id BIGINT,
    p_seen_after TIMESTAMPTZ, p_created_after TIMESTAMPTZ,
    p_tenant TEXT, p_subtree TEXT, p_user TEXT, p_invitation_token TEXT, p_worker TEXT, p_scope_sig TEXT) RETURNS JSON
LANGUAGE plpgsql AS $$
DECLARE
    v_tenant_id BIGINT;
    v_lineage JSON;
    v_user JSON;
    v_session JSON;
    v_membership JSON;
BEGIN
    PERFORM set_config('app.tenant_id', p_tenant, true), set_config('app.subtree', p_subtree, true),
        set_config('app.user_id', p_user, true), set_config('app.invitation_token', p_invitation_token, true),
        set_config('app.mailer', p_worker, true), set_config('app.scope_sig', p_scope_sig, true);
    IF p_subdomain <> '' THEN
        SELECT id INTO v_tenant_id FROM tenants WHERE lower(subdomain) = p_subdomain;
    END IF;
    IF v_tenant_id IS NOT NULL THEN
        WITH RECURSIVE lineage AS (
            SELECT tenants.*, 0 AS depth FROM tenants WHERE id = v_tenant_id
            UNION ALL
            SELECT above.*, lineage.depth + 1 FROM tenants AS above JOIN lineage ON above.id = lineage.parent_id
        )
        SELECT json_agg(lineage ORDER BY depth) INTO v_lineage FROM lineage;
    END IF;
    IF p_user_id > 0 AND p_session_id > 0 THEN
        SELECT to_json(users), to_json(user_sessions) INTO v_user, v_session
        FROM users JOIN user_sessions ON user_sessions.user_id = users.id AND user_sessions.session_version = users.session_version
        WHERE users.id = p_user_id AND user_sessions.id = p_session_id
            AND user_sessions.last_seen_at > p_seen_after AND user_sessions.created_at > p_created_after;
    END IF;
    IF v_user IS NOT NULL AND v_tenant_id IS NOT NULL THEN
        SELECT to_json(memberships) INTO v_membership FROM memberships
        WHERE tenant_id = v_tenant_id AND user_id = p_user_id;
    END IF;
    RETURN json_build_object('lineage', v_lineage, 'user', v_user, 'session', v_session, 'membership', v_membership);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION canopy_request_frame(TEXT, BIGINT, BIGINT, TIMESTAMPTZ, TIMESTAMPTZ, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT);
