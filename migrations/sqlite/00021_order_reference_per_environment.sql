-- +goose Up
-- An order's reference is unique among the company's orders of its own
-- environment: test orders (a sandbox key's) and live orders are apart, so
-- a sandbox key can neither learn that a live reference exists nor take one
-- a live order will need.
DROP INDEX orders_tenant_reference_key;
CREATE UNIQUE INDEX orders_tenant_reference_key ON orders (tenant_id, environment, lower(reference)) WHERE reference <> '';

-- +goose Down
DROP INDEX orders_tenant_reference_key;
CREATE UNIQUE INDEX orders_tenant_reference_key ON orders (tenant_id, lower(reference)) WHERE reference <> '';
