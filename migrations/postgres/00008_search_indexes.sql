-- +goose Up
-- Substring search ("contains", in any case) backed by trigram indexes, so a
-- search of a tenant with 200,000 devices reads the matches, not the tenant.
-- pg_trgm is a trusted extension: a database owner may create it.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Under row-level security Postgres uses an index for a condition only when
-- its operator is LEAKPROOF, and ILIKE's function is not marked so: it can
-- fail on a malformed pattern, and a pattern built from another row's text
-- could turn that error into a one-bit oracle about that row. Canopy's
-- patterns are always literal user text escaped by models.LikePattern, so
-- the app cannot be led there; someone running their own SQL as the app
-- role could. We accept that for the index. Marking it needs a superuser;
-- without one the searches stay correct and scan the tenant's rows.
-- +goose StatementBegin
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION texticlike(text, text) LEAKPROOF;
    ELSE
        RAISE NOTICE 'not a superuser: ILIKE stays non-leakproof, so searches under row-level security scan the tenant''s rows';
    END IF;
END
$$;
-- +goose StatementEnd

CREATE INDEX devices_identifier_trgm_idx ON devices USING gin (identifier gin_trgm_ops);
CREATE INDEX devices_model_trgm_idx ON devices USING gin (model gin_trgm_ops);
CREATE INDEX tenants_name_trgm_idx ON tenants USING gin (name gin_trgm_ops);
CREATE INDEX tenants_subdomain_trgm_idx ON tenants USING gin (subdomain gin_trgm_ops);
CREATE INDEX orders_reference_trgm_idx ON orders USING gin (reference gin_trgm_ops);
CREATE INDEX orders_applicant_trgm_idx ON orders USING gin (applicant_name gin_trgm_ops);

-- +goose Down
DROP INDEX orders_applicant_trgm_idx;
DROP INDEX orders_reference_trgm_idx;
DROP INDEX tenants_subdomain_trgm_idx;
DROP INDEX tenants_name_trgm_idx;
DROP INDEX devices_model_trgm_idx;
DROP INDEX devices_identifier_trgm_idx;
-- texticlike keeps its LEAKPROOF mark: other databases of the cluster share
-- nothing of it, and marking it again is harmless.
