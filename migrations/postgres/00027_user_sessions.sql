-- +goose Up
-- One row per signed-in browser: a sign-in makes it, every company address
-- the browser enters through a hand-off shares it (each address's cookie
-- names it), and ending it signs that browser out everywhere at once. A
-- row counts only while its session version is its user's and it was seen
-- within the idle lifetime (7 days, the cookie's) and made within the
-- absolute one (30 days: then the person signs in again, however active);
-- the server sweeps older rows through canopy_sweep_user_sessions.

CREATE TABLE user_sessions (
    id              BIGSERIAL PRIMARY KEY,
    user_id         BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- The user's session version when the row was made (or adopted, when
    -- this browser changed the password): an older one counts as ended.
    session_version BIGINT NOT NULL,
    -- How the browser signed in: password, sso, or a later method.
    method          TEXT NOT NULL CHECK (method <> '' AND length(method) <= 32),
    -- The client's address when last seen (IPv6 text is at most 45 bytes).
    ip              TEXT NOT NULL DEFAULT '' CHECK (length(ip) <= 45),
    -- The User-Agent at sign-in, cut to 512 bytes, for naming the device.
    user_agent      TEXT NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    created_at      TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, last_seen_at DESC);
CREATE INDEX user_sessions_last_seen_idx ON user_sessions (last_seen_at);

-- A request reads and ends only its own user's sessions: the scope's user
-- is the one the signed cookie (or hand-off token) names.
ALTER TABLE user_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY own_sessions ON user_sessions
    USING (user_id = (SELECT app_user_id()))
    WITH CHECK (user_id = (SELECT app_user_id()));

-- The server's sweep (models.Store.SweepSessions) forgets sessions idle
-- past their lifetime, anyone's, as the owner, at most 10,000 a call: it
-- deletes nothing a cookie could still use.
-- +goose StatementBegin
CREATE FUNCTION canopy_sweep_user_sessions() RETURNS BIGINT
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    WITH swept AS (
        DELETE FROM public.user_sessions WHERE id IN (
            SELECT id FROM public.user_sessions
            WHERE last_seen_at < now() - interval '7 days' OR created_at < now() - interval '30 days'
            LIMIT 10000)
        RETURNING 1)
    SELECT count(*) FROM swept
$$;
-- +goose StatementEnd
REVOKE ALL ON FUNCTION canopy_sweep_user_sessions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION canopy_sweep_user_sessions() TO canopy_app;

-- +goose Down
DROP FUNCTION canopy_sweep_user_sessions();
DROP TABLE user_sessions;
