// Package handlers is Canopy's HTTP layer: the router, its middleware and one
// file of handlers per area (team_handlers.go, device_handlers.go, …).
// Handlers get everything they need from the Handlers struct; there are no
// globals.
//
// New in handlers.go is the only place routes are declared, each with who
// may call it: public (the handler decides, e.g. sign-in), the signed-in
// person's own account, or a tenant route naming the Permission a member
// needs. Every request to a tenant's host passes the same middleware
// (middleware.go, access.go, session.go, transaction.go), which finds the
// tenant from the Host header, loads the session, the user and their
// membership into the request's state, sets the database scope, checks the
// CSRF token, and authorizes the route before its handler runs.
//
// Handlers render pages with render, the one response builder, and return
// errors rather than writing error pages: errors.go turns a pageError, a
// refusal of the models package or anything else into the page a person
// sees, with the right status.
package handlers
