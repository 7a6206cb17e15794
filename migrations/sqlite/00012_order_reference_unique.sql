-- +goose Up
-- An order's reference, when one is given, is unique within its company,
-- whatever its case. Orders that already share a reference keep the oldest
-- one as it is; each later one gets " #<its id>" appended, so that the
-- index can be built and no reference is lost.
UPDATE orders SET reference = substr(reference, 1, 100 - length(' #' || id)) || ' #' || id
WHERE reference <> '' AND EXISTS (
    SELECT 1 FROM orders AS earlier
    WHERE earlier.tenant_id = orders.tenant_id AND lower(earlier.reference) = lower(orders.reference) AND earlier.id < orders.id);
CREATE UNIQUE INDEX orders_tenant_reference_key ON orders (tenant_id, lower(reference)) WHERE reference <> '';

-- +goose Down
DROP INDEX orders_tenant_reference_key;
