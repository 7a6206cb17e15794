-- +goose Up
-- A person's own security: the record of what changed in their account,
-- their second factors (an authenticator app's sealed secret, passkeys,
-- one-time recovery codes), and a company's rule that its members use one.
-- The same shape as on PostgreSQL, without its row-level security.

CREATE TABLE account_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    action     TEXT NOT NULL CHECK (action GLOB '[a-z]*.[a-z]*'),
    detail     TEXT NOT NULL DEFAULT '' CHECK (length(detail) <= 300),
    ip         TEXT NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    user_agent TEXT NOT NULL DEFAULT '' CHECK (length(user_agent) <= 300),
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX account_events_user_idx ON account_events (user_id, id DESC);
-- +goose StatementBegin
CREATE TRIGGER account_events_insert_only BEFORE UPDATE ON account_events
BEGIN
    SELECT RAISE(ABORT, 'the account record is never changed');
END;
-- +goose StatementEnd

ALTER TABLE users ADD COLUMN two_factor_enabled BOOLEAN NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN require_two_factor BOOLEAN NOT NULL DEFAULT 0;

CREATE TABLE user_totp (
    user_id        INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    secret_sealed  TEXT NOT NULL,
    confirmed_at   DATETIME,
    last_used_step INTEGER NOT NULL DEFAULT 0,
    created_at     DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE user_recovery_codes (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    code_hash  TEXT NOT NULL,
    used_at    DATETIME,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    UNIQUE (user_id, code_hash)
);

CREATE TABLE user_passkeys (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id          INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id    BLOB NOT NULL UNIQUE CHECK (length(credential_id) BETWEEN 1 AND 1023),
    public_key       BLOB NOT NULL,
    attestation_type TEXT NOT NULL DEFAULT '',
    aaguid           BLOB,
    sign_count       INTEGER NOT NULL DEFAULT 0,
    transports       TEXT NOT NULL DEFAULT '',
    backup_eligible  BOOLEAN NOT NULL DEFAULT 0,
    backup_state     BOOLEAN NOT NULL DEFAULT 0,
    name             TEXT NOT NULL CHECK (length(trim(name)) BETWEEN 1 AND 60),
    last_used_at     DATETIME,
    created_at       DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX user_passkeys_user_idx ON user_passkeys (user_id);

-- +goose Down
DROP TABLE user_passkeys;
DROP TABLE user_recovery_codes;
DROP TABLE user_totp;
ALTER TABLE tenants DROP COLUMN require_two_factor;
ALTER TABLE users DROP COLUMN two_factor_enabled;
DROP TRIGGER account_events_insert_only;
DROP TABLE account_events;
