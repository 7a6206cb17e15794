-- +goose Up
-- Each person's WebAuthn user handle: random, so that it tells nothing of
-- who they are, and stable, so that every passkey of theirs names them the
-- same. The same shape as on PostgreSQL, without its row-level security
-- and its owner's function.

CREATE TABLE user_passkey_handles (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    handle     BLOB NOT NULL UNIQUE CHECK (length(handle) = 32),
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
-- +goose StatementBegin
CREATE TRIGGER user_passkey_handles_fixed BEFORE UPDATE ON user_passkey_handles
BEGIN
    SELECT RAISE(ABORT, 'a passkey user handle never changes');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER user_passkey_handles_fixed;
DROP TABLE user_passkey_handles;
