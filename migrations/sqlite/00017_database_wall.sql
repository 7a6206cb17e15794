-- +goose Up
-- The rules of PostgreSQL's database wall that SQLite can hold (it has one
-- process and no roles, so nothing of row-level security): the audit log
-- and hand-off redemptions are insert-only, and password hashes live in a
-- table of their own, the same shape on both databases.

-- The log is never changed or pruned by the application; maintenance drops
-- the triggers for its work and puts them back.
-- +goose StatementBegin
CREATE TRIGGER audit_events_insert_only_update BEFORE UPDATE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'the audit log is insert-only');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_insert_only_delete BEFORE DELETE ON audit_events
BEGIN
  SELECT RAISE(ABORT, 'the audit log is insert-only');
END;
-- +goose StatementEnd

-- A redemption is what makes a hand-off token single-use: while the token
-- could still be presented, its row must stay. Once expired it may go.
-- +goose StatementBegin
CREATE TRIGGER handoff_redemptions_insert_only_update BEFORE UPDATE ON handoff_redemptions
BEGIN
  SELECT RAISE(ABORT, 'hand-off redemptions are insert-only until they expire');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER handoff_redemptions_insert_only_delete BEFORE DELETE ON handoff_redemptions
WHEN julianday(OLD.expires_at) >= julianday('now')
BEGIN
  SELECT RAISE(ABORT, 'hand-off redemptions are insert-only until they expire');
END;
-- +goose StatementEnd

CREATE TABLE user_passwords (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    hash       TEXT NOT NULL CHECK (hash <> ''),
    updated_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO user_passwords (user_id, hash, updated_at)
    SELECT id, password_hash, updated_at FROM users WHERE password_hash <> '';
ALTER TABLE users DROP COLUMN password_hash;

-- +goose Down
ALTER TABLE users ADD COLUMN password_hash TEXT NOT NULL DEFAULT '';
UPDATE users SET password_hash = (SELECT hash FROM user_passwords WHERE user_passwords.user_id = users.id)
    WHERE id IN (SELECT user_id FROM user_passwords);
DROP TABLE user_passwords;
DROP TRIGGER handoff_redemptions_insert_only_delete;
DROP TRIGGER handoff_redemptions_insert_only_update;
DROP TRIGGER audit_events_insert_only_delete;
DROP TRIGGER audit_events_insert_only_update;
