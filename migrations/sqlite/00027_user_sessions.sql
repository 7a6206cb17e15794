-- +goose Up
-- One row per signed-in browser, shared by every company address it
-- entered. The same shape as on PostgreSQL, without its row-level security.

CREATE TABLE user_sessions (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id         INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    session_version INTEGER NOT NULL,
    method          TEXT NOT NULL CHECK (method <> '' AND length(method) <= 32),
    ip              TEXT NOT NULL DEFAULT '' CHECK (length(ip) <= 45),
    user_agent      TEXT NOT NULL DEFAULT '' CHECK (length(user_agent) <= 512),
    created_at      DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    last_seen_at    DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX user_sessions_user_idx ON user_sessions (user_id, last_seen_at DESC);
CREATE INDEX user_sessions_last_seen_idx ON user_sessions (last_seen_at);

-- +goose Down
DROP TABLE user_sessions;
