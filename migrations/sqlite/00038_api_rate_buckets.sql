-- +goose Up
-- Each API key's rate limit, shared by every server process: the same
-- shape as on PostgreSQL (where the comments are), without its row-level
-- security.

CREATE TABLE api_rate_buckets (
    tenant_id    INTEGER NOT NULL,
    api_key_id   INTEGER NOT NULL,
    full_at_us   INTEGER NOT NULL,
    last_refused BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (tenant_id, api_key_id),
    FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE
);

-- +goose StatementBegin
CREATE TRIGGER api_rate_buckets_tenant_fixed BEFORE UPDATE OF tenant_id ON api_rate_buckets
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd

-- +goose Down
DROP TABLE api_rate_buckets;
