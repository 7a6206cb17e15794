package models

// How the PostgreSQL schema spreads over a Citus cluster (docs/scaling.md,
// "Distributing PostgreSQL with Citus"). Every table with a tenant_id is
// distributed by it; every other table is named below, once, with why it
// has no tenant. A test reads the catalog after all migrations and fails
// when a table is in neither group, or when a tenant's table could not be
// distributed (tenant_id nullable or missing from a unique key, a foreign
// key that crosses tenants).

// DistributionColumn is the column every tenant-owned table is distributed by.
const DistributionColumn = "tenant_id"

// ColocationAnchor is the tenant-owned table the others are co-located
// with: every tenant has members, and it references no other tenant-owned
// table, so it can be distributed first.
const ColocationAnchor = "memberships"

// UndistributedTable is a table without tenant_id and why it has none.
type UndistributedTable struct {
	Name   string
	Reason string
}

// ReferenceTables are copied whole to every node: they belong to no tenant,
// and tenant-owned rows refer to them or the policies read them beside a
// tenant's rows. No table here may have tenant_id or refer to a
// tenant-owned table.
var ReferenceTables = []UndistributedTable{
	{"tenants", "the tenant tree itself; every policy and the ancestors/subtree functions read it beside each tenant's rows"},
	{"users", "a person belongs to many tenants; memberships and authored rows of every tenant refer to them"},
	{"user_passwords", "a person's password hash, whichever tenants they belong to"},
	{"user_totp", "a person's second factor, not a tenant's"},
	{"user_recovery_codes", "a person's recovery codes, not a tenant's"},
	{"user_passkeys", "a person's passkeys, used before any tenant is chosen"},
	{"user_passkey_handles", "a person's WebAuthn user handle, one per person"},
	{"user_identities", "a person's single sign-on identities (issuer, subject), global by nature"},
	{"user_sessions", "a person's sessions, which span the tenants they switch between"},
	{"account_events", "a person's own security history (sign-ins, password changes)"},
	{"password_resets", "a reset is asked for by email address, before any tenant is known"},
	{"email_changes", "a person's pending change of address, not a tenant's"},
	{"handoff_redemptions", "sign-in hand-off tokens, redeemed on a tenant's subdomain before the request has a tenant scope"},
	{"signin_counters", "sign-in throttling per address and per email, before any tenant is known"},
	{"scope_key", "the signed scope's key, read by app_verified_scope() in every policy on every node"},
	{"billing_plans", "the platform's price list; every company's terms refer to it"},
}

// CoordinatorTables stay plain tables on the coordinator: nothing else
// refers to them and no query joins them with distributed tables.
var CoordinatorTables = []UndistributedTable{
	{"goose_db_version", "the migrator's bookkeeping, read and written by migrations only, which run on the coordinator"},
}
