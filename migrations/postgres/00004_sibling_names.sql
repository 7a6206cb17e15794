-- +goose Up
-- Sub-tenants of one parent have distinct names (case-insensitive).
CREATE UNIQUE INDEX tenants_parent_name_key ON tenants (parent_id, lower(name));

-- +goose Down
DROP INDEX tenants_parent_name_key;
