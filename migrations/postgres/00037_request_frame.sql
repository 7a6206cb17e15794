-- +goose Up
-- The company toggle as a function: the person's companies they can enter,
-- the current one first, then by name (memberships' copy of it, 00034), at
-- most p_size, each with its owner's email, its member count (kept on the
-- tenant) and whether the person owns it; with how many there are
-- and how many additions they have not acknowledged yet. One pass over the
-- person's entries of memberships_reachable_by_name_idx, from the index
-- alone; the tenants and their owners by primary key for the rows shown. PL/pgSQL, whose
-- plan a connection keeps: a SQL function called from another is planned
-- again on every call (0.4 ms of the frame's 0.6). The frame below
-- reads it, and so does models.Store.CompanyToggle on PostgreSQL (SQLite
-- runs the same query, models/company.go's toggleSQL).
-- +goose StatementBegin
CREATE FUNCTION canopy_company_toggle(p_user BIGINT, p_current BIGINT, p_size INT)
RETURNS TABLE (id BIGINT, name TEXT, subdomain TEXT, owner_email TEXT, member_count BIGINT, owned BOOLEAN, total BIGINT, additions BIGINT)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT tenants.id, tenants.name, tenants.subdomain, coalesce(owners.email, ''), tenants.member_count,
        tenants.owner_user_id IS NOT DISTINCT FROM memberships.user_id, memberships.total,
        (SELECT count(*) FROM memberships AS waiting
            WHERE waiting.user_id = p_user AND waiting.added_by_user_id IS NOT NULL AND waiting.acknowledged_at IS NULL)
    FROM (
        SELECT memberships.user_id, memberships.tenant_id, memberships.tenant_sort_name,
            CASE WHEN memberships.tenant_id = p_current THEN 0 ELSE 1 END AS shown_first,
            count(*) OVER () AS total
        FROM memberships WHERE memberships.user_id = p_user AND memberships.tenant_reachable
        ORDER BY shown_first, memberships.tenant_sort_name, memberships.tenant_id LIMIT p_size
    ) AS memberships
    JOIN tenants ON tenants.id = memberships.tenant_id
    LEFT JOIN users AS owners ON owners.id = tenants.owner_user_id
    ORDER BY memberships.shown_first, memberships.tenant_sort_name, memberships.tenant_id;
END
$$;
-- +goose StatementEnd

-- A page request's frame in one statement: the scope it will see the rest
-- of the request with, the host's tenant with the tenants above it, the
-- signed-in user with their session record, their membership of the
-- host's tenant and, when asked (p_toggle_size > 0) and they are a member,
-- the company toggle every page of theirs shows (models.Store.LoadFrame,
-- which sends it in one round trip with BEGIN). It sets the scope exactly as the server's own set_config
-- would, signature included, so the policies believe it only when the
-- server signed it; SECURITY INVOKER, so every read below is under the
-- caller's row-level security: a user's own row, their own session, their
-- own membership (own_memberships), and the tenant directory.
--
-- Arguments: the normalized subdomain ('' on the base domain), the user and
-- session record the signed cookie names (0: none), the session lifetimes'
-- bounds (last seen after, created after), the scope's five settings
-- (models.Scope.settings) with their signature, and the toggle's size.
-- +goose StatementBegin
CREATE FUNCTION canopy_request_frame(p_subdomain TEXT, p_user_id BIGINT, p_session_id BIGINT,
    p_seen_after TIMESTAMPTZ, p_created_after TIMESTAMPTZ,
    p_tenant TEXT, p_subtree TEXT, p_user TEXT, p_invitation_token TEXT, p_worker TEXT, p_scope_sig TEXT,
    p_toggle_size INT) RETURNS JSON
LANGUAGE plpgsql AS $$
DECLARE
    v_tenant_id BIGINT;
    v_lineage JSON;
    v_user JSON;
    v_session JSON;
    v_membership JSON;
    v_toggle JSON;
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
    IF v_membership IS NOT NULL AND p_toggle_size > 0 THEN
        SELECT json_build_object('companies', coalesce(json_agg(json_build_object('id', t.id, 'name', t.name, 'subdomain', t.subdomain,
                    'owner_email', t.owner_email, 'member_count', t.member_count, 'owned', t.owned) ORDER BY t.shown), '[]'),
                'total', coalesce(max(t.total), 0), 'additions', coalesce(max(t.additions), 0))
            INTO v_toggle FROM canopy_company_toggle(p_user_id, v_tenant_id, p_toggle_size) WITH ORDINALITY
                AS t (id, name, subdomain, owner_email, member_count, owned, total, additions, shown);
    END IF;
    RETURN json_build_object('lineage', v_lineage, 'user', v_user, 'session', v_session, 'membership', v_membership,
        'toggle', v_toggle);
END
$$;
-- +goose StatementEnd

-- +goose Down
DROP FUNCTION canopy_request_frame(TEXT, BIGINT, BIGINT, TIMESTAMPTZ, TIMESTAMPTZ, TEXT, TEXT, TEXT, TEXT, TEXT, TEXT, INT);
DROP FUNCTION canopy_company_toggle(BIGINT, BIGINT, INT);
