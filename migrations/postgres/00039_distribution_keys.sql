-- +goose Up
-- Every key of a tenant's table carries tenant_id, so the schema can be
-- distributed by it with Citus (docs/scaling.md), which enforces a primary
-- key, a unique key or a foreign key between two distributed tables only
-- within one tenant's shard. models/distribution_test.go checks the catalog
-- against that rule after all migrations.
--
-- Primary keys become (id, tenant_id): the index still leads with id, so a
-- lookup by id alone stays one index probe. That key makes the UNIQUE
-- (id, tenant_id) or (tenant_id, id) constraints the foreign keys between a
-- tenant's tables were made on redundant: they go, and those foreign keys are
-- made again on the new primary keys, with the same columns and ON DELETE
-- actions (PostgreSQL matches referenced columns in any order).

ALTER TABLE membership_templates DROP CONSTRAINT membership_templates_membership_fk,
    DROP CONSTRAINT membership_templates_template_fk;
ALTER TABLE orders DROP CONSTRAINT orders_template_fk, DROP CONSTRAINT orders_api_key_fk;
ALTER TABLE order_events DROP CONSTRAINT order_events_order_id_tenant_id_fkey,
    DROP CONSTRAINT order_events_api_key_id_tenant_id_fkey;
ALTER TABLE sso_domains DROP CONSTRAINT sso_domains_connection_id_tenant_id_fkey;
ALTER TABLE api_idempotency_keys DROP CONSTRAINT api_idempotency_keys_api_key_id_tenant_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_tenant_id_fkey,
    DROP CONSTRAINT webhook_deliveries_message_id_tenant_id_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_tenant_id_fkey;
ALTER TABLE api_rate_buckets DROP CONSTRAINT api_rate_buckets_api_key_id_tenant_id_fkey;

-- A statement's sections are each company's part of it: tenant_id is the
-- company whose usage it is, the statement is its payer's (payer_tenant_id).
-- Under Citus the two rows live in different tenants' shards, where no
-- foreign key can join them; (payer_tenant_id, statement_id) would be
-- enforceable only if the sections were distributed by payer, and then a
-- company's own section held in its payer's statement would be in another
-- tenant's shard from its usage and its policies, and the rule that a
-- company's month is in one statement (its primary key) would no longer be
-- enforceable at all. So the key goes and the closing job keeps it: it
-- writes a statement and its sections in one transaction, nothing else
-- writes or changes either, sections go with their payer (payer_tenant_id
-- cascades from tenants), and a statement deleted by hand has its leftover
-- sections replaced when the month is closed again
-- (models.Store.closeStatement, tested in models/billing_test.go).
ALTER TABLE billing_statement_sections DROP CONSTRAINT billing_statement_sections_statement_id_fkey;

-- Mail about no tenant (password resets, address changes, account notices)
-- is filed under the platform's own tenant, the root: a row of the outbox
-- always has a tenant to be distributed by. Deleting a tenant deletes its
-- mail with it, as every tenant's table does (SET NULL cannot apply to a
-- NOT NULL column, nor, under Citus, to the distribution column).
-- +goose StatementBegin
CREATE FUNCTION app_platform_tenant_id() RETURNS BIGINT AS $$
    SELECT id FROM tenants WHERE parent_id IS NULL
$$ LANGUAGE sql STABLE;
-- +goose StatementEnd
-- Migrations run as the owner, whom FORCE would hold to the policies too:
-- with no mailer scope, the UPDATE would see no message.
ALTER TABLE outbox_emails NO FORCE ROW LEVEL SECURITY;
-- +goose StatementBegin
DO $$
BEGIN
    IF app_platform_tenant_id() IS NULL AND EXISTS (SELECT 1 FROM outbox_emails WHERE tenant_id IS NULL) THEN
        RAISE EXCEPTION 'outbox_emails holds mail of no tenant and there is no platform tenant to file it under';
    END IF;
END
$$;
-- +goose StatementEnd
UPDATE outbox_emails SET tenant_id = app_platform_tenant_id() WHERE tenant_id IS NULL;
ALTER TABLE outbox_emails FORCE ROW LEVEL SECURITY;
ALTER TABLE outbox_emails ALTER COLUMN tenant_id SET NOT NULL,
    DROP CONSTRAINT outbox_emails_tenant_id_fkey,
    ADD CONSTRAINT outbox_emails_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE CASCADE;
-- Anyone may still queue mail about no tenant, now filed under the root,
-- as they could queue it with no tenant before.
ALTER POLICY enqueue_in_tree ON outbox_emails WITH CHECK (tenant_id = (SELECT app_platform_tenant_id())
    OR tenant_id = (SELECT app_tenant_id()) OR app_below(tenant_id, (SELECT app_subtree_root())));

ALTER TABLE memberships DROP CONSTRAINT memberships_pkey, DROP CONSTRAINT memberships_tenant_id_key,
    ADD CONSTRAINT memberships_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE templates DROP CONSTRAINT templates_pkey, DROP CONSTRAINT templates_tenant_id_key,
    ADD CONSTRAINT templates_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE orders DROP CONSTRAINT orders_pkey, DROP CONSTRAINT orders_id_tenant_key,
    ADD CONSTRAINT orders_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE invitations DROP CONSTRAINT invitations_pkey, DROP CONSTRAINT invitations_tenant_id_key,
    ADD CONSTRAINT invitations_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE devices DROP CONSTRAINT devices_pkey, DROP CONSTRAINT devices_tenant_id_key,
    ADD CONSTRAINT devices_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE sso_connections DROP CONSTRAINT sso_connections_pkey, DROP CONSTRAINT sso_connections_id_tenant_id_key,
    ADD CONSTRAINT sso_connections_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey, DROP CONSTRAINT api_keys_id_tenant_id_key,
    ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey, DROP CONSTRAINT webhook_endpoints_id_tenant_id_key,
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE webhook_messages DROP CONSTRAINT webhook_messages_pkey, DROP CONSTRAINT webhook_messages_id_tenant_id_key,
    ADD CONSTRAINT webhook_messages_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, DROP CONSTRAINT webhook_deliveries_id_tenant_id_key,
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE billing_statements DROP CONSTRAINT billing_statements_pkey, DROP CONSTRAINT billing_statements_id_tenant_id_key,
    ADD CONSTRAINT billing_statements_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE api_idempotency_keys DROP CONSTRAINT api_idempotency_keys_pkey,
    ADD CONSTRAINT api_idempotency_keys_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey,
    ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE billing_presence_periods DROP CONSTRAINT billing_presence_periods_pkey,
    ADD CONSTRAINT billing_presence_periods_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE order_events DROP CONSTRAINT order_events_pkey,
    ADD CONSTRAINT order_events_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_pkey,
    ADD CONSTRAINT outbox_emails_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE production_access_requests DROP CONSTRAINT production_access_requests_pkey,
    ADD CONSTRAINT production_access_requests_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE sso_domains DROP CONSTRAINT sso_domains_pkey,
    ADD CONSTRAINT sso_domains_pkey PRIMARY KEY (id, tenant_id);
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey,
    ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (id, tenant_id);

-- Unique keys gain tenant_id. Each of these values already belongs to one
-- tenant (an API key, an endpoint, a connection, a random secret or
-- message id), so per tenant they stay as unique as they were.
ALTER TABLE api_idempotency_keys DROP CONSTRAINT api_idempotency_keys_api_key_id_idempotency_key_key,
    ADD CONSTRAINT api_idempotency_keys_tenant_key_idempotency_key UNIQUE (tenant_id, api_key_id, idempotency_key);
-- A request's key is looked up within its tenant (models.Store.APIKeyByHash).
ALTER TABLE api_keys DROP CONSTRAINT api_keys_secret_hash_key,
    ADD CONSTRAINT api_keys_tenant_secret_hash_key UNIQUE (tenant_id, secret_hash);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_message_id_key,
    ADD CONSTRAINT webhook_deliveries_tenant_endpoint_message_key UNIQUE (tenant_id, endpoint_id, message_id);
ALTER TABLE webhook_messages DROP CONSTRAINT webhook_messages_msg_id_key,
    ADD CONSTRAINT webhook_messages_tenant_msg_id_key UNIQUE (tenant_id, msg_id);
-- A connection's domains are listed by the connection alone (staff's
-- review, the settings page): a plain index keeps that one lookup.
ALTER TABLE sso_domains DROP CONSTRAINT sso_domains_connection_id_domain_key,
    ADD CONSTRAINT sso_domains_tenant_connection_domain_key UNIQUE (tenant_id, connection_id, domain);
CREATE INDEX sso_domains_connection_idx ON sso_domains (connection_id, domain);
-- An invitation link is opened before anyone knows its company: its token
-- is looked up alone (models.Store.InvitationByToken).
DROP INDEX invitations_token_key;
CREATE UNIQUE INDEX invitations_tenant_token_key ON invitations (tenant_id, token_hash);
CREATE INDEX invitations_token_idx ON invitations (token_hash);

ALTER TABLE membership_templates
    ADD CONSTRAINT membership_templates_membership_fk FOREIGN KEY (tenant_id, membership_id)
        REFERENCES memberships (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT membership_templates_template_fk FOREIGN KEY (tenant_id, template_id)
        REFERENCES templates (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE orders
    ADD CONSTRAINT orders_template_fk FOREIGN KEY (tenant_id, template_id) REFERENCES templates (tenant_id, id) ON DELETE RESTRICT,
    ADD CONSTRAINT orders_api_key_fk FOREIGN KEY (created_by_api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id);
ALTER TABLE order_events
    ADD CONSTRAINT order_events_order_id_tenant_id_fkey FOREIGN KEY (order_id, tenant_id)
        REFERENCES orders (id, tenant_id) ON DELETE CASCADE,
    ADD CONSTRAINT order_events_api_key_id_tenant_id_fkey FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id);
ALTER TABLE sso_domains ADD CONSTRAINT sso_domains_connection_id_tenant_id_fkey FOREIGN KEY (connection_id, tenant_id)
    REFERENCES sso_connections (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE api_idempotency_keys ADD CONSTRAINT api_idempotency_keys_api_key_id_tenant_id_fkey FOREIGN KEY (api_key_id, tenant_id)
    REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_tenant_id_fkey FOREIGN KEY (endpoint_id, tenant_id)
        REFERENCES webhook_endpoints (id, tenant_id) ON DELETE CASCADE,
    ADD CONSTRAINT webhook_deliveries_message_id_tenant_id_fkey FOREIGN KEY (message_id, tenant_id)
        REFERENCES webhook_messages (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_id_tenant_id_fkey FOREIGN KEY (delivery_id, tenant_id)
    REFERENCES webhook_deliveries (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE api_rate_buckets ADD CONSTRAINT api_rate_buckets_api_key_id_tenant_id_fkey FOREIGN KEY (api_key_id, tenant_id)
    REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE;

-- +goose Down
-- Mail filed under the root stays there: which of it had no tenant is not kept.
ALTER TABLE membership_templates DROP CONSTRAINT membership_templates_membership_fk,
    DROP CONSTRAINT membership_templates_template_fk;
ALTER TABLE orders DROP CONSTRAINT orders_template_fk, DROP CONSTRAINT orders_api_key_fk;
ALTER TABLE order_events DROP CONSTRAINT order_events_order_id_tenant_id_fkey,
    DROP CONSTRAINT order_events_api_key_id_tenant_id_fkey;
ALTER TABLE sso_domains DROP CONSTRAINT sso_domains_connection_id_tenant_id_fkey;
ALTER TABLE api_idempotency_keys DROP CONSTRAINT api_idempotency_keys_api_key_id_tenant_id_fkey;
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_endpoint_id_tenant_id_fkey,
    DROP CONSTRAINT webhook_deliveries_message_id_tenant_id_fkey;
ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_delivery_id_tenant_id_fkey;
ALTER TABLE api_rate_buckets DROP CONSTRAINT api_rate_buckets_api_key_id_tenant_id_fkey;

DROP INDEX invitations_token_idx;
DROP INDEX invitations_tenant_token_key;
CREATE UNIQUE INDEX invitations_token_key ON invitations (token_hash);
DROP INDEX sso_domains_connection_idx;
ALTER TABLE sso_domains DROP CONSTRAINT sso_domains_tenant_connection_domain_key,
    ADD CONSTRAINT sso_domains_connection_id_domain_key UNIQUE (connection_id, domain);
ALTER TABLE webhook_messages DROP CONSTRAINT webhook_messages_tenant_msg_id_key,
    ADD CONSTRAINT webhook_messages_msg_id_key UNIQUE (msg_id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_tenant_endpoint_message_key,
    ADD CONSTRAINT webhook_deliveries_endpoint_id_message_id_key UNIQUE (endpoint_id, message_id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_tenant_secret_hash_key,
    ADD CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash);
ALTER TABLE api_idempotency_keys DROP CONSTRAINT api_idempotency_keys_tenant_key_idempotency_key,
    ADD CONSTRAINT api_idempotency_keys_api_key_id_idempotency_key_key UNIQUE (api_key_id, idempotency_key);

ALTER TABLE webhook_attempts DROP CONSTRAINT webhook_attempts_pkey, ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (id);
ALTER TABLE sso_domains DROP CONSTRAINT sso_domains_pkey, ADD CONSTRAINT sso_domains_pkey PRIMARY KEY (id);
ALTER TABLE production_access_requests DROP CONSTRAINT production_access_requests_pkey,
    ADD CONSTRAINT production_access_requests_pkey PRIMARY KEY (id);
ALTER TABLE outbox_emails DROP CONSTRAINT outbox_emails_pkey, ADD CONSTRAINT outbox_emails_pkey PRIMARY KEY (id);
ALTER TABLE order_events DROP CONSTRAINT order_events_pkey, ADD CONSTRAINT order_events_pkey PRIMARY KEY (id);
ALTER TABLE billing_presence_periods DROP CONSTRAINT billing_presence_periods_pkey,
    ADD CONSTRAINT billing_presence_periods_pkey PRIMARY KEY (id);
ALTER TABLE audit_events DROP CONSTRAINT audit_events_pkey, ADD CONSTRAINT audit_events_pkey PRIMARY KEY (id);
ALTER TABLE api_idempotency_keys DROP CONSTRAINT api_idempotency_keys_pkey, ADD CONSTRAINT api_idempotency_keys_pkey PRIMARY KEY (id);
ALTER TABLE billing_statements DROP CONSTRAINT billing_statements_pkey, ADD CONSTRAINT billing_statements_pkey PRIMARY KEY (id),
    ADD CONSTRAINT billing_statements_id_tenant_id_key UNIQUE (id, tenant_id);
ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_pkey, ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id),
    ADD CONSTRAINT webhook_deliveries_id_tenant_id_key UNIQUE (id, tenant_id);
ALTER TABLE webhook_messages DROP CONSTRAINT webhook_messages_pkey, ADD CONSTRAINT webhook_messages_pkey PRIMARY KEY (id),
    ADD CONSTRAINT webhook_messages_id_tenant_id_key UNIQUE (id, tenant_id);
ALTER TABLE webhook_endpoints DROP CONSTRAINT webhook_endpoints_pkey, ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id),
    ADD CONSTRAINT webhook_endpoints_id_tenant_id_key UNIQUE (id, tenant_id);
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey, ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id),
    ADD CONSTRAINT api_keys_id_tenant_id_key UNIQUE (id, tenant_id);
ALTER TABLE sso_connections DROP CONSTRAINT sso_connections_pkey, ADD CONSTRAINT sso_connections_pkey PRIMARY KEY (id),
    ADD CONSTRAINT sso_connections_id_tenant_id_key UNIQUE (id, tenant_id);
ALTER TABLE devices DROP CONSTRAINT devices_pkey, ADD CONSTRAINT devices_pkey PRIMARY KEY (id),
    ADD CONSTRAINT devices_tenant_id_key UNIQUE (tenant_id, id);
ALTER TABLE invitations DROP CONSTRAINT invitations_pkey, ADD CONSTRAINT invitations_pkey PRIMARY KEY (id),
    ADD CONSTRAINT invitations_tenant_id_key UNIQUE (tenant_id, id);
ALTER TABLE orders DROP CONSTRAINT orders_pkey, ADD CONSTRAINT orders_pkey PRIMARY KEY (id),
    ADD CONSTRAINT orders_id_tenant_key UNIQUE (id, tenant_id);
ALTER TABLE templates DROP CONSTRAINT templates_pkey, ADD CONSTRAINT templates_pkey PRIMARY KEY (id),
    ADD CONSTRAINT templates_tenant_id_key UNIQUE (tenant_id, id);
ALTER TABLE memberships DROP CONSTRAINT memberships_pkey, ADD CONSTRAINT memberships_pkey PRIMARY KEY (id),
    ADD CONSTRAINT memberships_tenant_id_key UNIQUE (tenant_id, id);

ALTER POLICY enqueue_in_tree ON outbox_emails WITH CHECK (tenant_id IS NULL
    OR tenant_id = (SELECT app_tenant_id()) OR app_below(tenant_id, (SELECT app_subtree_root())));
ALTER TABLE outbox_emails ALTER COLUMN tenant_id DROP NOT NULL,
    DROP CONSTRAINT outbox_emails_tenant_id_fkey,
    ADD CONSTRAINT outbox_emails_tenant_id_fkey FOREIGN KEY (tenant_id) REFERENCES tenants (id) ON DELETE SET NULL;
DROP FUNCTION app_platform_tenant_id();

ALTER TABLE billing_statement_sections ADD CONSTRAINT billing_statement_sections_statement_id_fkey FOREIGN KEY (statement_id)
    REFERENCES billing_statements (id) ON DELETE CASCADE;
ALTER TABLE membership_templates
    ADD CONSTRAINT membership_templates_membership_fk FOREIGN KEY (tenant_id, membership_id)
        REFERENCES memberships (tenant_id, id) ON DELETE CASCADE,
    ADD CONSTRAINT membership_templates_template_fk FOREIGN KEY (tenant_id, template_id)
        REFERENCES templates (tenant_id, id) ON DELETE CASCADE;
ALTER TABLE orders
    ADD CONSTRAINT orders_template_fk FOREIGN KEY (tenant_id, template_id) REFERENCES templates (tenant_id, id) ON DELETE RESTRICT,
    ADD CONSTRAINT orders_api_key_fk FOREIGN KEY (created_by_api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id);
ALTER TABLE order_events
    ADD CONSTRAINT order_events_order_id_tenant_id_fkey FOREIGN KEY (order_id, tenant_id)
        REFERENCES orders (id, tenant_id) ON DELETE CASCADE,
    ADD CONSTRAINT order_events_api_key_id_tenant_id_fkey FOREIGN KEY (api_key_id, tenant_id) REFERENCES api_keys (id, tenant_id);
ALTER TABLE sso_domains ADD CONSTRAINT sso_domains_connection_id_tenant_id_fkey FOREIGN KEY (connection_id, tenant_id)
    REFERENCES sso_connections (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE api_idempotency_keys ADD CONSTRAINT api_idempotency_keys_api_key_id_tenant_id_fkey FOREIGN KEY (api_key_id, tenant_id)
    REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_tenant_id_fkey FOREIGN KEY (endpoint_id, tenant_id)
        REFERENCES webhook_endpoints (id, tenant_id) ON DELETE CASCADE,
    ADD CONSTRAINT webhook_deliveries_message_id_tenant_id_fkey FOREIGN KEY (message_id, tenant_id)
        REFERENCES webhook_messages (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE webhook_attempts ADD CONSTRAINT webhook_attempts_delivery_id_tenant_id_fkey FOREIGN KEY (delivery_id, tenant_id)
    REFERENCES webhook_deliveries (id, tenant_id) ON DELETE CASCADE;
ALTER TABLE api_rate_buckets ADD CONSTRAINT api_rate_buckets_api_key_id_tenant_id_fkey FOREIGN KEY (api_key_id, tenant_id)
    REFERENCES api_keys (id, tenant_id) ON DELETE CASCADE;
