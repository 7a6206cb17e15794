-- +goose Up
-- Someone with an account is added to a company at once, without being
-- asked. Their membership records who added them (and that person's name as
-- it was then, so the notice never has to read another person's row from
-- outside the company they share) and when they saw the notice saying so;
-- until then every page they open shows it, with a way to leave.
-- Memberships from before, and those that come from accepting an
-- invitation or creating one's own company, have no adder: no notice.
ALTER TABLE memberships ADD COLUMN added_by_user_id BIGINT REFERENCES users (id) ON DELETE SET NULL;
ALTER TABLE memberships ADD COLUMN added_by_name TEXT NOT NULL DEFAULT '';
ALTER TABLE memberships ADD COLUMN acknowledged_at TIMESTAMPTZ;
-- Every page asks whether its person has a notice waiting: one lookup in a
-- small index, which holds only the notices not yet seen.
CREATE INDEX memberships_unacknowledged_idx ON memberships (user_id)
    WHERE added_by_user_id IS NOT NULL AND acknowledged_at IS NULL;

-- A member who leaves a company of their own accord is recorded as such.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'member.added', 'member.removed', 'member.left', 'member.role_changed', 'member.templates_changed', 'ownership.transferred',
    'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
    'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
    'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed', 'device.model_changed',
    'template.created', 'template.updated', 'template.deleted', 'order.created',
    'company.entered', 'auth.signin', 'auth.signin_failed'));

-- +goose Down
-- NOT VALID keeps the events already recorded as member.left; only new rows
-- are held to the older list.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_action_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_action_check CHECK (action IN (
    'member.added', 'member.removed', 'member.role_changed', 'member.templates_changed', 'ownership.transferred',
    'invitation.sent', 'invitation.resent', 'invitation.accepted', 'invitation.declined', 'invitation.revoked',
    'tenant.created', 'tenant.activated', 'tenant.deactivated', 'settings.saved',
    'device.added', 'device.imported', 'device.deprovisioned', 'device.status_changed', 'device.model_changed',
    'template.created', 'template.updated', 'template.deleted', 'order.created',
    'company.entered', 'auth.signin', 'auth.signin_failed')) NOT VALID;
DROP INDEX memberships_unacknowledged_idx;
ALTER TABLE memberships DROP COLUMN acknowledged_at;
ALTER TABLE memberships DROP COLUMN added_by_name;
ALTER TABLE memberships DROP COLUMN added_by_user_id;
