// Package models is Canopy's data layer: the GORM models, their validation,
// the role matrix, and every query and write, as methods of Store.
// Handlers reach the database only through a Store.
//
// Three things live here, each in exactly one place:
//
//   - Tenant scoping. Every query of a tenant's rows starts from
//     Store.scoped, which adds "tenant_id = ?" and refuses a zero tenant
//     (ErrNoTenant) rather than run unscoped. On PostgreSQL, row-level
//     security is a second wall behind it: each transaction carries a Scope
//     (scope.go), and the policies of migrations/postgres admit only the
//     rows that scope allows.
//   - Transactions. Store.Request runs one HTTP request in one transaction
//     (on PostgreSQL), Store.Tx makes one unit of writes (a savepoint inside
//     a request's transaction), and Store.Within runs a few statements with
//     another scope, for the moments a request acts beyond its host's
//     tenant (an invitation link, the company a sign-in lands in).
//   - Authorization rules. roles.go holds the role matrix: which Role holds
//     which Permission, and who may give whom which role.
//
// Refusals are the errors of errors.go (compare with errors.Is) and
// FieldErrors, whose messages are shown beside a form's fields. Audit
// events and outgoing mail are written in the same transaction as the
// change that causes them (audit.go, outbox.go).
package models
