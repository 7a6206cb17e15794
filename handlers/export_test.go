package handlers

import (
	"time"

	"canopy/models"
)

// AccessRules lists who may call each route, for the authorization tests.
func (h *Handlers) AccessRules() map[string]accessRule { return h.access }

// SetClock makes the handlers read the time from now, for tests that need
// it to pass (sign-in delays). Call it before serving.
func (h *Handlers) SetClock(now func() time.Time) { h.now = now }

// SetAPIRateLimit makes each API key's allowance burst calls per period,
// for the rate-limit tests. Call it before serving.
func (h *Handlers) SetAPIRateLimit(burst int, period time.Duration) {
	h.apiLimit = models.APIRateLimit{Burst: burst, Period: period}
}

// APIScope is the scope an API route needs; "" for any other route.
func (r accessRule) APIScope() string { return string(r.apiScope) }

// SessionSerializerForTest is how a session's values are written into its cookie.
type SessionSerializerForTest = sessionSerializer
