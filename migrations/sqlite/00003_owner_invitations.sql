-- +goose Up
-- An invitation can make its recipient the tenant's owner on acceptance
-- (a company created for someone who has no account yet).
ALTER TABLE invitations ADD COLUMN makes_owner BOOLEAN NOT NULL DEFAULT 0 CHECK (makes_owner IN (0, 1));

-- +goose Down
ALTER TABLE invitations DROP COLUMN makes_owner;
