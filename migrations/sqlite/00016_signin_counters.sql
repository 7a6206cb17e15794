-- +goose Up
-- Sign-in attempt counters: one row per account (attempts from browsers it
-- has not signed in with), per client address, and per device cookie (a
-- browser the account signed in with). A subject is "account:<keyed hash
-- of the email>" (so the table lists no emails), "user:<id>" (a signed-in
-- person proving their password), "address:<ip or IPv6 /64>" or
-- "device:<nonce>". Rows of subjects with no attempt for an hour are
-- swept. They belong to no tenant.
CREATE TABLE signin_counters (
    subject         TEXT PRIMARY KEY CHECK (length(subject) <= 300),
    failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until    DATETIME,
    last_attempt_at DATETIME NOT NULL
);
CREATE INDEX signin_counters_last_attempt_idx ON signin_counters (last_attempt_at);

-- +goose Down
DROP TABLE signin_counters;
