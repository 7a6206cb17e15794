-- +goose Up
-- A template's page counts the orders made from it.
CREATE INDEX orders_tenant_template_idx ON orders (tenant_id, template_id);

-- +goose Down
DROP INDEX orders_tenant_template_idx;
