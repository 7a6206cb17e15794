-- +goose Up
-- Each API key's rate limit, shared by every server instance: a token
-- bucket kept as the moment it will be full again (full_at_us). A call is
-- allowed when one more token's worth of refill time still fits in the
-- period, and then pushes that moment one token later. Times are integer
-- microseconds since the Unix epoch, as the servers' clocks read them, so
-- the one upsert computing the refill (models.Store.TakeAPICall) is the
-- same arithmetic on PostgreSQL and SQLite.
--
-- One row per key that was ever used, removed with its key: the table is
-- never larger than api_keys, so nothing sweeps it. tenant_id leads the
-- primary key so the table can be distributed by tenant.

CREATE TABLE api_rate_buckets (
    tenant_id    BIGINT NOT NULL,
    api_key_id   BIGINT NOT NULL,
    full_at_us   BIGINT NOT NULL,
    -- Whether the last call was refused: the upsert's RETURNING sees only
    -- the row as it left it, and a refusal leaves full_at_us unchanged.
    last_refused BOOLEAN NOT NULL DEFAULT false,
    PRIMARY KEY (tenant_id, api_key_id),
    FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE
);

-- A key's bucket is its company's, like the key: the request's scope is the
-- key's tenant (models.Scope{TenantID}), and canopy_app's default
-- privileges give the grants. The policy has the shape every tenant table's
-- has since the tenants carry their ancestors (app_below).
ALTER TABLE api_rate_buckets ENABLE ROW LEVEL SECURITY;
ALTER TABLE api_rate_buckets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON api_rate_buckets
    USING (tenant_id = (SELECT app_tenant_id()) OR app_below(tenant_id, (SELECT app_subtree_root())))
    WITH CHECK (tenant_id = (SELECT app_tenant_id()) OR app_below(tenant_id, (SELECT app_subtree_root())));
CREATE TRIGGER api_rate_buckets_tenant_fixed BEFORE UPDATE OF tenant_id ON api_rate_buckets FOR EACH ROW
    WHEN (NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) EXECUTE FUNCTION refuse_tenant_move();

-- +goose Down
DROP TABLE api_rate_buckets;
