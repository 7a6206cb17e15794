-- +goose Up
-- An order's reference, when one is given, is unique within its company,
-- whatever its case. Orders that already share a reference keep the oldest
-- one as it is; each later one gets " #<its id>" appended, so that the
-- index can be built and no reference is lost. (FORCE ROW LEVEL SECURITY
-- is lifted for the owner while it does so: a migration sets no tenant.)
ALTER TABLE orders NO FORCE ROW LEVEL SECURITY;
UPDATE orders SET reference = left(reference, 100 - length(' #' || id)) || ' #' || id
WHERE reference <> '' AND EXISTS (
    SELECT 1 FROM orders AS earlier
    WHERE earlier.tenant_id = orders.tenant_id AND lower(earlier.reference) = lower(orders.reference) AND earlier.id < orders.id);
ALTER TABLE orders FORCE ROW LEVEL SECURITY;
CREATE UNIQUE INDEX orders_tenant_reference_key ON orders (tenant_id, lower(reference)) WHERE reference <> '';

-- +goose Down
DROP INDEX orders_tenant_reference_key;
