-- +goose Up
-- Forgotten passwords, and the profile: a person's own email change and
-- time zone.

-- A time zone a person prefers for dates, over their company's ('': the
-- company's). The application may already update its own row (00017).
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '' CHECK (length(time_zone) <= 64);

-- Password resets. A request writes one row whether or not the address has
-- an account, so the form does the same work either way and its rows are
-- also the rate limit's counts: user_id is NULL when no mail was sent (no
-- active account, or too many requests). The email is kept only as a keyed
-- hash (email_key), the token only as its SHA-256. password_mark is the
-- SHA-256 of the password hash when the link was sent: any password change
-- since voids the link. Rows older than a day are swept by the next request.
CREATE TABLE password_resets (
    id            BIGSERIAL PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    user_id       BIGINT REFERENCES users (id) ON DELETE CASCADE,
    email_key     TEXT NOT NULL CHECK (length(email_key) <= 128),
    address       TEXT NOT NULL CHECK (length(address) <= 300),
    password_mark TEXT NOT NULL DEFAULT '',
    created_at    TIMESTAMPTZ NOT NULL,
    expires_at    TIMESTAMPTZ NOT NULL,
    used_at       TIMESTAMPTZ
);
CREATE INDEX password_resets_email_idx ON password_resets (email_key, created_at);
CREATE INDEX password_resets_address_idx ON password_resets (address, created_at);
CREATE INDEX password_resets_created_idx ON password_resets (created_at);
CREATE INDEX password_resets_open_idx ON password_resets (user_id) WHERE used_at IS NULL;
-- Like user_passwords: canopy_app neither reads nor writes it (the default
-- privileges of 00007 granted everything), and no policy admits it were a
-- grant ever given back. Only the owner's functions below reach it; not
-- FORCEd, so they can.
REVOKE ALL ON password_resets FROM canopy_app;
REVOKE ALL ON SEQUENCE password_resets_id_seq FROM canopy_app;
ALTER TABLE password_resets ENABLE ROW LEVEL SECURITY;

-- The forgot-password form: the active account with exactly this email, if
-- any, when neither the email (p_max_email mails an hour) nor the client
-- address (p_max_address requests an hour) has asked too often; its older
-- links are voided. Either way one row is written, with the token's hash.
-- Returns that account, or nothing: then no mail is sent.
-- +goose StatementBegin
CREATE FUNCTION canopy_request_password_reset(p_email TEXT, p_email_key TEXT, p_address TEXT, p_token_hash TEXT,
    p_now TIMESTAMPTZ, p_expires_at TIMESTAMPTZ, p_max_email INTEGER, p_max_address INTEGER) RETURNS SETOF users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    target  public.users;
    mark    TEXT := '';
    limited BOOLEAN;
BEGIN
    -- Requests for one email take turns, so its count cannot be overrun.
    PERFORM pg_advisory_xact_lock(hashtext('password_reset:' || p_email_key));
    DELETE FROM public.password_resets WHERE created_at < p_now - interval '1 day';
    SELECT * INTO target FROM public.users WHERE lower(email) = lower(p_email) AND status = 'active';
    SELECT (SELECT count(*) FROM public.password_resets
            WHERE email_key = p_email_key AND user_id IS NOT NULL AND created_at > p_now - interval '1 hour') >= p_max_email
        OR (SELECT count(*) FROM public.password_resets
            WHERE address = p_address AND created_at > p_now - interval '1 hour') >= p_max_address
        INTO limited;
    IF target.id IS NOT NULL AND NOT limited THEN
        SELECT encode(sha256(convert_to(p.hash, 'UTF8')), 'hex') INTO mark FROM public.user_passwords AS p WHERE p.user_id = target.id;
        UPDATE public.password_resets SET used_at = p_now WHERE user_id = target.id AND used_at IS NULL;
    ELSE
        target := NULL;
    END IF;
    INSERT INTO public.password_resets (token_hash, user_id, email_key, address, password_mark, created_at, expires_at)
        VALUES (p_token_hash, target.id, p_email_key, p_address, coalesce(mark, ''), p_now, p_expires_at);
    IF target.id IS NOT NULL THEN
        RETURN NEXT target;
    END IF;
END;
$$;
-- +goose StatementEnd

-- Whether a reset link still works: unused, not expired, not voided by a
-- newer link or a password change, for an active account.
-- +goose StatementBegin
CREATE FUNCTION canopy_password_reset_valid(p_token_hash TEXT, p_now TIMESTAMPTZ) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT EXISTS (SELECT 1 FROM public.password_resets AS r
        JOIN public.users AS u ON u.id = r.user_id AND u.status = 'active'
        LEFT JOIN public.user_passwords AS p ON p.user_id = r.user_id
        WHERE r.token_hash = p_token_hash AND r.used_at IS NULL AND r.expires_at > p_now
          AND r.password_mark = coalesce(encode(sha256(convert_to(p.hash, 'UTF8')), 'hex'), ''))
$$;
-- +goose StatementEnd

-- A reset link used: the new hash set, every link of the account spent,
-- every session ended (session_version), in one step. Returns the account,
-- or nothing when the link does not work.
-- +goose StatementBegin
CREATE FUNCTION canopy_reset_password(p_token_hash TEXT, p_new_hash TEXT, p_now TIMESTAMPTZ) RETURNS SETOF users
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    reset_user BIGINT;
    changed    public.users;
BEGIN
    SELECT r.user_id INTO reset_user FROM public.password_resets AS r
        JOIN public.users AS u ON u.id = r.user_id AND u.status = 'active'
        LEFT JOIN public.user_passwords AS p ON p.user_id = r.user_id
        WHERE r.token_hash = p_token_hash AND r.used_at IS NULL AND r.expires_at > p_now
          AND r.password_mark = coalesce(encode(sha256(convert_to(p.hash, 'UTF8')), 'hex'), '')
        FOR UPDATE OF r;
    IF reset_user IS NULL OR p_new_hash = '' THEN
        RETURN;
    END IF;
    UPDATE public.password_resets SET used_at = p_now WHERE user_id = reset_user AND used_at IS NULL;
    INSERT INTO public.user_passwords (user_id, hash, updated_at) VALUES (reset_user, p_new_hash, now())
        ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, updated_at = excluded.updated_at;
    UPDATE public.users SET session_version = session_version + 1, updated_at = now()
        WHERE id = reset_user RETURNING * INTO changed;
    RETURN NEXT changed;
END;
$$;
-- +goose StatementEnd

-- Whether a required single sign-on covers an email domain, at any
-- company: the profile refuses such an address (docs/product.md).
-- +goose StatementBegin
CREATE FUNCTION canopy_sso_requires_domain(p_domain TEXT) RETURNS BOOLEAN
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public AS $$
    SELECT EXISTS (SELECT 1 FROM public.sso_domains AS d JOIN public.sso_connections AS c ON c.id = d.connection_id
        WHERE d.domain = lower(p_domain) AND d.proof IN ('dns', 'staff') AND c.required)
$$;
-- +goose StatementEnd

REVOKE ALL ON FUNCTION canopy_request_password_reset(TEXT, TEXT, TEXT, TEXT, TIMESTAMPTZ, TIMESTAMPTZ, INTEGER, INTEGER),
    canopy_password_reset_valid(TEXT, TIMESTAMPTZ), canopy_reset_password(TEXT, TEXT, TIMESTAMPTZ),
    canopy_sso_requires_domain(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION canopy_request_password_reset(TEXT, TEXT, TEXT, TEXT, TIMESTAMPTZ, TIMESTAMPTZ, INTEGER, INTEGER),
    canopy_password_reset_valid(TEXT, TIMESTAMPTZ), canopy_reset_password(TEXT, TEXT, TIMESTAMPTZ),
    canopy_sso_requires_domain(TEXT) TO canopy_app;

-- A change of email waiting for the new address to confirm it: one per
-- person (a newer request replaces it), the token only as its SHA-256.
-- Only the person's own row, whoever asks.
CREATE TABLE email_changes (
    user_id    BIGINT PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    new_email  TEXT NOT NULL CHECK (new_email <> '' AND length(new_email) <= 254),
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
ALTER TABLE email_changes ENABLE ROW LEVEL SECURITY;
ALTER TABLE email_changes FORCE ROW LEVEL SECURITY;
CREATE POLICY own_email_change ON email_changes
    USING (user_id = (SELECT app_user_id()))
    WITH CHECK (user_id = (SELECT app_user_id()));
GRANT SELECT, INSERT, UPDATE, DELETE ON email_changes TO canopy_app;

-- +goose Down
DROP TABLE email_changes;
DROP FUNCTION canopy_sso_requires_domain(TEXT);
DROP FUNCTION canopy_reset_password(TEXT, TEXT, TIMESTAMPTZ);
DROP FUNCTION canopy_password_reset_valid(TEXT, TIMESTAMPTZ);
DROP FUNCTION canopy_request_password_reset(TEXT, TEXT, TEXT, TEXT, TIMESTAMPTZ, TIMESTAMPTZ, INTEGER, INTEGER);
DROP TABLE password_resets;
ALTER TABLE users DROP COLUMN time_zone;
