package handlers

import "time"

// AccessRules lists who may call each route, for the authorization tests.
func (h *Handlers) AccessRules() map[string]accessRule { return h.access }

// SetClock makes the handlers read the time from now, for tests that need
// it to pass (sign-in delays). Call it before serving.
func (h *Handlers) SetClock(now func() time.Time) { h.now = now }
