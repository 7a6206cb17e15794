-- +goose Up
-- Sign-in attempt counters, shared by every server instance: one row per
-- account (attempts from browsers it has not signed in with), per client
-- address, and per device cookie (a browser the account signed in with).
-- A subject is "account:<keyed hash of the email>" (so the table lists no
-- emails), "user:<id>" (a signed-in person proving their password),
-- "address:<ip or IPv6 /64>" or "device:<nonce>". Rows of subjects with no
-- attempt for an hour are swept.
--
-- No row-level security: the rows belong to no tenant (a sign-in happens
-- before any company is known, on the base domain), and they say nothing a
-- tenant could leak: how often someone failed to sign in. canopy_app needs
-- to read and change them on every sign-in; its default privileges
-- (00007) would grant this, and the grant says so here too.
CREATE TABLE signin_counters (
    subject         TEXT PRIMARY KEY CHECK (length(subject) <= 300),
    failures        INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    locked_until    TIMESTAMPTZ,
    last_attempt_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX signin_counters_last_attempt_idx ON signin_counters (last_attempt_at);
GRANT SELECT, INSERT, UPDATE, DELETE ON signin_counters TO canopy_app;

-- +goose Down
DROP TABLE signin_counters;
