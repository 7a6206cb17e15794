-- +goose Up
-- The tree cannot be rearranged, and rows never move between tenants (on
-- Postgres the same migration also puts the tenant tree under row-level
-- security).
DROP TRIGGER tenants_immutable;
-- +goose StatementBegin
CREATE TRIGGER tenants_immutable BEFORE UPDATE OF name, subdomain, description, contact_email, parent_id ON tenants
WHEN NEW.name IS NOT OLD.name
  OR NEW.subdomain IS NOT OLD.subdomain
  OR NEW.description IS NOT OLD.description
  OR NEW.contact_email IS NOT OLD.contact_email
  OR NEW.parent_id IS NOT OLD.parent_id
BEGIN
  SELECT RAISE(ABORT, 'tenant details are immutable');
END;
-- +goose StatementEnd
CREATE UNIQUE INDEX tenants_one_root_key ON tenants ((1)) WHERE parent_id IS NULL;
-- +goose StatementBegin
CREATE TRIGGER memberships_tenant_fixed BEFORE UPDATE OF tenant_id ON memberships
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER membership_templates_tenant_fixed BEFORE UPDATE OF tenant_id ON membership_templates
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER templates_tenant_fixed BEFORE UPDATE OF tenant_id ON templates
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER orders_tenant_fixed BEFORE UPDATE OF tenant_id ON orders
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER invitations_tenant_fixed BEFORE UPDATE OF tenant_id ON invitations
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER devices_tenant_fixed BEFORE UPDATE OF tenant_id ON devices
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER tenant_solutions_tenant_fixed BEFORE UPDATE OF tenant_id ON tenant_solutions
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd
-- +goose StatementBegin
CREATE TRIGGER audit_events_tenant_fixed BEFORE UPDATE OF tenant_id ON audit_events
WHEN NEW.tenant_id IS NOT OLD.tenant_id
BEGIN
  SELECT RAISE(ABORT, 'rows cannot move between tenants');
END;
-- +goose StatementEnd

-- +goose Down
DROP TRIGGER memberships_tenant_fixed;
DROP TRIGGER membership_templates_tenant_fixed;
DROP TRIGGER templates_tenant_fixed;
DROP TRIGGER orders_tenant_fixed;
DROP TRIGGER invitations_tenant_fixed;
DROP TRIGGER devices_tenant_fixed;
DROP TRIGGER tenant_solutions_tenant_fixed;
DROP TRIGGER audit_events_tenant_fixed;
DROP INDEX tenants_one_root_key;
DROP TRIGGER tenants_immutable;
-- +goose StatementBegin
CREATE TRIGGER tenants_immutable BEFORE UPDATE OF name, subdomain, description, contact_email ON tenants
WHEN NEW.name IS NOT OLD.name
  OR NEW.subdomain IS NOT OLD.subdomain
  OR NEW.description IS NOT OLD.description
  OR NEW.contact_email IS NOT OLD.contact_email
BEGIN
  SELECT RAISE(ABORT, 'tenant details are immutable');
END;
-- +goose StatementEnd
