-- +goose Up
-- Forgotten passwords, and the profile: a person's own email change and
-- time zone. The same shape as on PostgreSQL (see its 00028 for the why);
-- SQLite has no roles, so models/password_reset.go does there what the
-- owner's functions do.
ALTER TABLE users ADD COLUMN time_zone TEXT NOT NULL DEFAULT '' CHECK (length(time_zone) <= 64);

CREATE TABLE password_resets (
    id            INTEGER PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    user_id       INTEGER REFERENCES users (id) ON DELETE CASCADE,
    email_key     TEXT NOT NULL CHECK (length(email_key) <= 128),
    address       TEXT NOT NULL CHECK (length(address) <= 300),
    password_mark TEXT NOT NULL DEFAULT '',
    created_at    DATETIME NOT NULL,
    expires_at    DATETIME NOT NULL,
    used_at       DATETIME
);
CREATE INDEX password_resets_email_idx ON password_resets (email_key, created_at);
CREATE INDEX password_resets_address_idx ON password_resets (address, created_at);
CREATE INDEX password_resets_created_idx ON password_resets (created_at);
CREATE INDEX password_resets_open_idx ON password_resets (user_id) WHERE used_at IS NULL;

CREATE TABLE email_changes (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    new_email  TEXT NOT NULL CHECK (new_email <> '' AND length(new_email) <= 254),
    token_hash TEXT NOT NULL UNIQUE CHECK (length(token_hash) = 64),
    created_at DATETIME NOT NULL,
    expires_at DATETIME NOT NULL
);

-- +goose Down
DROP TABLE email_changes;
DROP TABLE password_resets;
ALTER TABLE users DROP COLUMN time_zone;
